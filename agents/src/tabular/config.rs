//! The algorithms, their hyperparameters ([`TabularConfig`]) and the schedules of ε and of
//! the step size.

use crate::agent::AgentError;
use cadenza_env::CompactState;
use serde::{Deserialize, Serialize};

/// Which temporal-difference target the agent learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Off-policy: `r + γ max_a' Q(s', a')`.
    QLearning,
    /// On-policy: `r + γ Q(s', a')` with `a'` the action the ε-greedy policy takes next.
    Sarsa,
    /// On-policy in expectation: `r + γ Σ_a' π(a'|s') Q(s', a')` under the ε-greedy policy.
    ExpectedSarsa,
    /// Soft (maximum-entropy) Q-learning: `r + γ α log Σ_a' exp(Q(s', a') / α)` with α the
    /// sampling `temperature`. Its values are those of the Boltzmann policy `softmax(Q / α)`
    /// that `generate` samples from, so it learns to stay random where randomness is cheap
    /// and certain where it is not. With a corpus log-probability term in the reward this is
    /// the Ψ-learning of Jaques et al. (2017).
    SoftQ,
}

/// The agent names of the tabular algorithms, as given to `--agent`.
pub const KINDS: &[&str] = &["q", "sarsa", "expected-sarsa", "soft-q"];

impl Algorithm {
    /// The agent's name on the command line and in checkpoints.
    pub fn kind(self) -> &'static str {
        match self {
            Algorithm::QLearning => "q",
            Algorithm::Sarsa => "sarsa",
            Algorithm::ExpectedSarsa => "expected-sarsa",
            Algorithm::SoftQ => "soft-q",
        }
    }

    /// The algorithm of a kind name (`q`, `sarsa`, `expected-sarsa`).
    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "q" | "q-learning" => Some(Algorithm::QLearning),
            "sarsa" => Some(Algorithm::Sarsa),
            "expected-sarsa" => Some(Algorithm::ExpectedSarsa),
            "soft-q" => Some(Algorithm::SoftQ),
            _ => None,
        }
    }
}

/// How ε falls from `epsilon_start` to `epsilon_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsilonDecay {
    /// Linearly over the decay window.
    Linear,
    /// Geometrically over the decay window (`start * (end/start)^fraction`).
    Exponential,
}

/// How the agent explores while it learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exploration {
    /// With probability ε a uniform allowed action, otherwise the best one.
    EpsilonGreedy,
    /// With probability ε a uniform allowed action, otherwise a sample of the softmax over
    /// the row at `temperature`: the policy that `generate` samples from, so the states it
    /// visits are the states that training visited.
    Boltzmann,
}

/// How the step size changes with experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LearningRateSchedule {
    /// `learning_rate` on every update.
    Constant,
    /// `learning_rate / n^learning_rate_power`, with `n` the visits of the state-action pair
    /// (a Robbins-Monro schedule for power in (0.5, 1]).
    Visits,
}

/// Hyperparameters of the tabular agents. Plain data: build, then [`TabularConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TabularConfig {
    /// Discount factor, in [0, 1] (default 0.9).
    pub gamma: f64,
    /// Step size, in (0, 1] (default 0.1); the scale of the visits schedule.
    pub learning_rate: f64,
    /// `constant` or `visits` (default `constant`).
    pub learning_rate_schedule: LearningRateSchedule,
    /// Exponent of the visits schedule, in (0, 1] (default 0.6).
    pub learning_rate_power: f64,
    /// Exploration rate at the start, in [0, 1] (default 0.3).
    pub epsilon_start: f64,
    /// Exploration rate at the end of the decay, in [0, 1] (default 0.01).
    pub epsilon_end: f64,
    /// `linear` or `exponential` (default `linear`); exponential needs a positive end.
    pub epsilon_decay: EpsilonDecay,
    /// Fraction of the training budget over which ε decays, in (0, 1] (default 0.5).
    pub epsilon_fraction: f64,
    /// Value of a new row's entries, in [-1e6, 1e6]; above the achievable returns it makes
    /// exploration systematic (default 20.0, optimistic for the `rl-tuner` reward).
    pub initial_value: f64,
    /// Softmax temperature over Q-values when sampling melodies, in [0, 1000]; 0 is greedy
    /// (default 0.5).
    pub temperature: f64,
    /// When sampling, only actions whose value is within this margin of the best allowed
    /// action's take part in the softmax, in [0, 1e6] (default 1e6: all of them). Like top-p
    /// sampling for language models, a margin cuts off the tail of clearly worse actions
    /// (a note out of key, an unresolved leap) while the temperature keeps the choice among
    /// near-equal ones random.
    pub sample_margin: f64,
    /// `epsilon-greedy` or `boltzmann` (default `epsilon-greedy`).
    pub exploration: Exploration,
}

impl Default for TabularConfig {
    fn default() -> Self {
        Self {
            gamma: 0.9,
            learning_rate: 0.1,
            learning_rate_schedule: LearningRateSchedule::Constant,
            learning_rate_power: 0.6,
            epsilon_start: 0.3,
            epsilon_end: 0.01,
            epsilon_decay: EpsilonDecay::Linear,
            epsilon_fraction: 0.5,
            initial_value: 20.0,
            temperature: 0.5,
            sample_margin: 1e6,
            exploration: Exploration::EpsilonGreedy,
        }
    }
}

impl TabularConfig {
    /// The defaults for a task whose compact state is `state`: [`TabularConfig::default`] for
    /// the recent-events state of `rl-tuner` (the settings its published figures were measured
    /// with), and for the harmonic state of `improv` the settings that learn it:
    ///
    /// - Boltzmann exploration at the sampling temperature 0.5 from values that start at 0,
    ///   so training visits the states the sampled melodies go through. ε-greedy from
    ///   optimistic values (20) leaves most actions of a state untried, still worth 20, and a
    ///   softmax over them plays random notes;
    /// - a step size that shrinks with each pair's visits (0.5 / n^0.6), so values settle
    ///   instead of following the last few sampled returns.
    ///
    /// Measured on `improv` (ii-V-I in C, 64 steps, 2 M steps, seed 0; `docs/q-learning.md`):
    /// Q-learning with these settings writes melodies whose musicianship passes every group
    /// (harmony 0.98, line 0.80, rhythm 0.59, variety 0.97); with the `rl-tuner` defaults it
    /// plays random notes (harmony 0.40, line 0.32, rhythm 0.18). The duet state extends the
    /// harmonic one and takes the same settings.
    pub fn defaults_for(state: CompactState) -> Self {
        match state {
            CompactState::RecentEvents { .. } => Self::default(),
            CompactState::Harmonic | CompactState::Duet => Self {
                learning_rate: 0.5,
                learning_rate_schedule: LearningRateSchedule::Visits,
                epsilon_start: 0.05,
                epsilon_end: 0.0,
                initial_value: 0.0,
                temperature: 0.5,
                exploration: Exploration::Boltzmann,
                ..Self::default()
            },
        }
    }

    /// `given` (a TOML table of fields) laid over [`TabularConfig::defaults_for`] `state`;
    /// unknown keys and wrong types are errors naming the key. Not yet validated.
    pub fn from_table(given: &toml::Table, state: CompactState) -> Result<Self, AgentError> {
        let defaults = toml::Table::try_from(Self::defaults_for(state))
            .map_err(|e| AgentError::Other(format!("tabular defaults as TOML: {e}")))?;
        let mut table = defaults;
        for (key, value) in given {
            table.insert(key.clone(), value.clone());
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| AgentError::Config {
                field: "config".to_string(),
                message: format!("tabular agent fields: {}", e.message()),
            })
    }
}

pub(super) fn config_error(field: &str, message: impl Into<String>) -> AgentError {
    AgentError::Config {
        field: field.to_string(),
        message: message.into(),
    }
}

pub(super) fn check_range(
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
    lo_open: bool,
) -> Result<(), AgentError> {
    let above = if lo_open { value > lo } else { value >= lo };
    if value.is_finite() && above && value <= hi {
        Ok(())
    } else {
        let open = if lo_open { "(" } else { "[" };
        Err(config_error(
            field,
            format!("{value} is outside the allowed range {open}{lo}, {hi}]"),
        ))
    }
}

impl TabularConfig {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), AgentError> {
        check_range("gamma", self.gamma, 0.0, 1.0, false)?;
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        check_range(
            "learning_rate_power",
            self.learning_rate_power,
            0.0,
            1.0,
            true,
        )?;
        check_range("epsilon_start", self.epsilon_start, 0.0, 1.0, false)?;
        check_range("epsilon_end", self.epsilon_end, 0.0, 1.0, false)?;
        check_range("epsilon_fraction", self.epsilon_fraction, 0.0, 1.0, true)?;
        check_range("temperature", self.temperature, 0.0, 1000.0, false)?;
        check_range("sample_margin", self.sample_margin, 0.0, 1e6, false)?;
        if !self.initial_value.is_finite() || self.initial_value.abs() > 1e6 {
            return Err(config_error(
                "initial_value",
                format!(
                    "{} is outside the allowed range [-1e6, 1e6]",
                    self.initial_value
                ),
            ));
        }
        if self.epsilon_decay == EpsilonDecay::Exponential
            && (self.epsilon_end <= 0.0 || self.epsilon_start <= 0.0)
        {
            return Err(config_error(
                "epsilon_end",
                "exponential decay needs epsilon_start and epsilon_end in (0, 1]",
            ));
        }
        Ok(())
    }
}

/// ε after `step` of a budget of `budget` steps.
pub fn epsilon_at(config: &TabularConfig, step: u64, budget: u64) -> f64 {
    let window = (config.epsilon_fraction * budget as f64).max(1.0);
    let progress = (step as f64 / window).min(1.0);
    let (start, end) = (config.epsilon_start, config.epsilon_end);
    match config.epsilon_decay {
        EpsilonDecay::Linear => start + (end - start) * progress,
        EpsilonDecay::Exponential => start * (end / start).powf(progress),
    }
}

/// The step size of the `visits`-th update of a state-action pair (visits counted from 1).
pub fn learning_rate_at(config: &TabularConfig, visits: u32) -> f64 {
    match config.learning_rate_schedule {
        LearningRateSchedule::Constant => config.learning_rate,
        LearningRateSchedule::Visits => {
            config.learning_rate / (visits.max(1) as f64).powf(config.learning_rate_power)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = TabularConfig {
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            ..TabularConfig::default()
        };
        assert_eq!(epsilon_at(&c, 0, 100), 1.0);
        assert!((epsilon_at(&c, 25, 100) - 0.525).abs() < 1e-12);
        assert!((epsilon_at(&c, 50, 100) - 0.05).abs() < 1e-12);
        assert!((epsilon_at(&c, 99, 100) - 0.05).abs() < 1e-12);
        let e = TabularConfig {
            epsilon_decay: EpsilonDecay::Exponential,
            epsilon_start: 1.0,
            epsilon_end: 0.01,
            epsilon_fraction: 1.0,
            ..c.clone()
        };
        assert!((epsilon_at(&e, 50, 100) - 0.1).abs() < 1e-12);
        assert!((epsilon_at(&e, 100, 100) - 0.01).abs() < 1e-12);
        let v = TabularConfig {
            learning_rate_schedule: LearningRateSchedule::Visits,
            learning_rate: 1.0,
            learning_rate_power: 0.5,
            ..c.clone()
        };
        assert_eq!(learning_rate_at(&v, 4), 0.5);
        assert_eq!(learning_rate_at(&c, 4), 0.1);
    }

    #[test]
    fn validate_names_the_field() {
        let bad = TabularConfig {
            gamma: 1.5,
            ..TabularConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("gamma") && err.contains("[0, 1]"), "{err}");
        let exponential_to_zero = TabularConfig {
            epsilon_decay: EpsilonDecay::Exponential,
            epsilon_end: 0.0,
            ..TabularConfig::default()
        };
        let negative_margin = TabularConfig {
            sample_margin: -1.0,
            ..TabularConfig::default()
        };
        for (bad, field) in [
            (exponential_to_zero, "epsilon_end"),
            (negative_margin, "sample_margin"),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        let text = "gamma = 0.5\nlearning_rat = 0.1\n";
        let err = serde_json::from_value::<TabularConfig>(serde_json::json!({"learning_rat": 0.1}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("learning_rat"), "{err} ({text})");
    }
}
