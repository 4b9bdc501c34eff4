//! A session's configuration: plain data, logged as the first record of a session.

use crate::error::SessionError;
use cadenza_env::improv::ImprovConfig as TaskConfig;
use serde::{Deserialize, Serialize};

/// Plain-data configuration of a [`Session`](crate::Session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// The `improv` task: key, progression, tempo, phrase length (default: its defaults, a
    /// four-bar ii–V–I in C).
    pub task: TaskConfig,
    /// Seed of every random choice (default 0).
    pub seed: u64,
    /// Q-learning steps on the `improv` reward at session start, 1..=100,000,000 (default
    /// 2,000,000).
    pub pretrain_steps: u64,
    /// Candidate phrases sampled per round, 2..=64 (default 24).
    pub candidates: usize,
    /// Softmax temperature over Q-values when sampling, in (0, 100] (default 0.5).
    pub temperature: f64,
    /// Weight λ of the listener utility against the standardised theory floor, in [0, 100]
    /// (default 2).
    pub listener_weight: f64,
    /// Phrases sampled at the start to standardise features and theory scores, 4..=10,000
    /// (default 64).
    pub calibration_phrases: usize,
    /// Step size of the preference table's Monte-Carlo updates and of Q-learning updates, in
    /// (0, 1] (default 0.3); a hundredth of it is Adam's learning rate of policy-gradient
    /// updates.
    pub adapt_rate: f64,
    /// Prior variance of the listener model's weights, in (0, 100] (default 1).
    pub prior_variance: f64,
    /// How the agent adapts between phrases (default `preference`).
    #[serde(skip_serializing_if = "Adaptation::is_default")]
    pub adaptation: Adaptation,
    /// Gain of the listener model's learnt taste on the sampling of phrases, in [0, 100]
    /// (default 2; see [`crate::controls`]): each musical dimension is steered by `steering`
    /// times the model's preference along it (within ±1), and the candidates of a round
    /// spread around it. 0 samples the agent as it is. A log written before it existed
    /// reads 0, so that it replays as it was.
    #[serde(default = "zero")]
    pub steering: f64,
    /// Keep adaptation to music (default true): a round plays its best-scored candidate that
    /// passes every musicianship floor (the best of all only when none does), so that the
    /// listener hears, rates and teaches the model with music. A log written before it
    /// existed reads false.
    #[serde(default)]
    pub musicianship_guard: bool,
    /// A trained agent to start from instead of pre-training one (default none): tabular, or
    /// (feature `tch`) policy-gradient. Its task must be this config's `task`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSource>,
}

/// How a session moves its agent towards the listener between phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adaptation {
    /// Monte-Carlo updates of a per-session preference table added to the agent's Q-values;
    /// the agent's own table is left as trained.
    #[default]
    Preference,
    /// Q-learning updates of the agent's own table, on the theory reward plus the listener
    /// model's reward for every candidate of the round.
    QLearning,
    /// REINFORCE steps of a policy-gradient agent's own network on every candidate of the
    /// round (sampled from the policy), rewarded by the theory reward plus the listener
    /// model's reward; an entropy bonus and a KL penalty towards the loaded policy keep it
    /// from collapsing. Needs a policy-gradient [`AgentSource`] (feature `tch`).
    PolicyGradient,
}

impl Adaptation {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A trained agent on disk: a checkpoint directory as `cadenza train` writes it (of a tabular
/// agent, or with the `tch` feature a policy-gradient one; the kind its checkpoint records
/// decides, see [`TrainedCheckpoint`](cadenza_agents::trained::TrainedCheckpoint)) and the
/// checksum of the checkpoint, so that a resumed session refuses a checkpoint that changed
/// since the session started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSource {
    /// The checkpoint directory.
    pub dir: String,
    /// FNV-1a 64 of the checkpoint file (of a policy checkpoint: its header then its
    /// weights), in hex.
    pub checksum: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            task: TaskConfig::default(),
            seed: 0,
            pretrain_steps: 2_000_000,
            candidates: 24,
            temperature: 0.5,
            listener_weight: 2.0,
            calibration_phrases: 64,
            adapt_rate: 0.3,
            prior_variance: 1.0,
            adaptation: Adaptation::Preference,
            steering: DEFAULT_STEERING,
            musicianship_guard: true,
            agent: None,
        }
    }
}

/// The default [`SessionConfig::steering`].
pub const DEFAULT_STEERING: f64 = 2.0;

fn zero() -> f64 {
    0.0
}

pub(crate) fn config_error(field: &str, message: String) -> SessionError {
    SessionError::Config {
        field: field.to_string(),
        message,
    }
}

/// Most held-out A/B questions a simulated session asks ([`crate::sim::run`], `cadenza
/// session --held-out`): each is two fresh phrases, sampled and scored, so the limit bounds
/// the memory of the phrases and the time spent sampling them.
pub const MAX_HELD_OUT_PAIRS: usize = 100_000;

/// Checks a number of held-out questions against [`MAX_HELD_OUT_PAIRS`], before anything is
/// run; a session checks it before pre-training, so that a typo does not cost a wait.
pub fn check_held_out(pairs: usize) -> Result<(), SessionError> {
    if pairs > MAX_HELD_OUT_PAIRS {
        return Err(config_error(
            "held_out",
            format!(
                "{pairs} held-out A/B questions asked for; at most {MAX_HELD_OUT_PAIRS} are allowed"
            ),
        ));
    }
    Ok(())
}

impl SessionConfig {
    /// Checks every field, naming the first bad one and its range.
    pub fn validate(&self) -> Result<(), SessionError> {
        let real = |field: &str, v: f64, lo: f64, hi: f64, lo_open: bool| {
            let above = if lo_open { v > lo } else { v >= lo };
            if v.is_finite() && above && v <= hi {
                Ok(())
            } else {
                let open = if lo_open { "(" } else { "[" };
                Err(config_error(
                    field,
                    format!("{v}: expected {open}{lo}, {hi}]"),
                ))
            }
        };
        if !(1..=100_000_000).contains(&self.pretrain_steps) {
            return Err(config_error(
                "pretrain_steps",
                format!("{}: expected 1..=100000000", self.pretrain_steps),
            ));
        }
        if !(2..=64).contains(&self.candidates) {
            return Err(config_error(
                "candidates",
                format!("{}: expected 2..=64", self.candidates),
            ));
        }
        if !(4..=10_000).contains(&self.calibration_phrases) {
            return Err(config_error(
                "calibration_phrases",
                format!("{}: expected 4..=10000", self.calibration_phrases),
            ));
        }
        real("temperature", self.temperature, 0.0, 100.0, true)?;
        real("listener_weight", self.listener_weight, 0.0, 100.0, false)?;
        real("adapt_rate", self.adapt_rate, 0.0, 1.0, true)?;
        real("prior_variance", self.prior_variance, 0.0, 100.0, true)?;
        real("steering", self.steering, 0.0, 100.0, false)?;
        Ok(())
    }
}
