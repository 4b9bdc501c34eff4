//! The session engine: propose, react, adapt. See the crate docs.

use crate::log::{Record, SessionLog};
use crate::SessionError;
#[cfg(feature = "tch")]
use cadenza_agents::pg::{self, AdaptConfig, DeviceChoice, PolicyAdapter};
use cadenza_agents::tabular::{
    self, Algorithm, QTable, TabularAgent, TabularConfig, CHECKPOINT_FILE,
};
use cadenza_agents::{Agent, TrainEnv};
use cadenza_env::improv::ImprovConfig as TaskConfig;
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment, Event, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use cadenza_reward::listener::{
    self, FeatureExtractor, ListenerConfig, ListenerModel, NUM_FEATURES,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Streams of the session's random numbers: each round and purpose draws from its own
/// stream of the seed, so a resumed session proposes exactly what the killed one would have.
const STREAM_PRETRAIN: u64 = 1;
const STREAM_CALIBRATION: u64 = 2;
const STREAM_HELD_OUT: u64 = 3;
const STREAM_ROUNDS: u64 = 1 << 32;

/// Plain-data configuration of a [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// The `improv` task: key, progression, tempo, phrase length (default: its defaults, a
    /// four-bar ii–V–I in C).
    pub task: TaskConfig,
    /// Seed of every random choice (default 0).
    pub seed: u64,
    /// Q-learning steps on the `improv` reward at session start, 1..=100,000,000 (default
    /// 300,000).
    pub pretrain_steps: u64,
    /// Candidate phrases sampled per round, 2..=64 (default 16).
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

/// A trained agent on disk: a checkpoint directory (holding `tabular.ckpt`, as `cadenza train
/// --agent q` writes it, or `policy.json` and `policy.safetensors`, as `cadenza train --agent
/// ppo` (or `a2c`, `reinforce`) writes them) and the checksum of the checkpoint, so that a
/// resumed session refuses a checkpoint that changed since the session started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSource {
    /// The checkpoint directory.
    pub dir: String,
    /// FNV-1a 64 of the checkpoint file (of a policy checkpoint: its header then its
    /// weights), in hex.
    pub checksum: String,
}

/// The files of a policy-gradient checkpoint (`cadenza_agents::pg::HEADER_FILE` and
/// `WEIGHTS_FILE`, named here so that a build without the `tch` feature recognises one).
const PG_HEADER_FILE: &str = "policy.json";
const PG_WEIGHTS_FILE: &str = "policy.safetensors";

/// The agent a session samples from and adapts (one per session: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum SessionAgent {
    Tabular(TabularAgent),
    #[cfg(feature = "tch")]
    Policy(Box<PolicyAdapter>),
}

/// The checkpoint's bytes (a policy's header then weights) and whether it is a policy.
fn checkpoint_bytes(dir: &Path) -> Result<(Vec<u8>, bool), SessionError> {
    let read = |path: std::path::PathBuf| {
        std::fs::read(&path).map_err(|source| SessionError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    if !dir.join(CHECKPOINT_FILE).is_file() && dir.join(PG_HEADER_FILE).is_file() {
        let mut bytes = read(dir.join(PG_HEADER_FILE))?;
        bytes.extend(read(dir.join(PG_WEIGHTS_FILE))?);
        return Ok((bytes, true));
    }
    Ok((read(dir.join(CHECKPOINT_FILE))?, false))
}

fn fnv1a_hex(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{hash:016x}")
}

impl AgentSource {
    /// The checkpoint in `dir` (a checkpoint directory), with its current checksum.
    pub fn from_dir(dir: &Path) -> Result<Self, SessionError> {
        let (bytes, _) = checkpoint_bytes(dir)?;
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        Ok(Self {
            dir: dir.display().to_string(),
            checksum: fnv1a_hex(&bytes),
        })
    }

    /// Whether the checkpoint is a policy-gradient agent's (else a tabular agent's).
    pub fn is_policy(&self) -> bool {
        let dir = Path::new(&self.dir);
        !dir.join(CHECKPOINT_FILE).is_file() && dir.join(PG_HEADER_FILE).is_file()
    }

    /// Loads the agent, checking the checksum and that it fits `task`.
    fn load(&self, task: &TaskSpec, config: &SessionConfig) -> Result<SessionAgent, SessionError> {
        let (bytes, policy) = checkpoint_bytes(Path::new(&self.dir))?;
        let path = Path::new(&self.dir).join(if policy {
            PG_HEADER_FILE
        } else {
            CHECKPOINT_FILE
        });
        let checksum = fnv1a_hex(&bytes);
        if checksum != self.checksum {
            return Err(config_error(
                "agent",
                format!(
                    "{}: checksum {checksum}, but the session started with {}: the checkpoint changed since",
                    path.display(),
                    self.checksum
                ),
            ));
        }
        if policy {
            return load_policy(Path::new(&self.dir), task, config);
        }
        let agent = tabular::decode_checkpoint(&path, &bytes, None)?;
        if agent.task() != task.name {
            return Err(config_error(
                "agent",
                format!(
                    "{}: trained on the '{}' task, expected '{}'",
                    path.display(),
                    agent.task(),
                    task.name
                ),
            ));
        }
        let expected = task.setting.encoding.num_events();
        if agent.table().num_actions() != expected {
            return Err(config_error(
                "agent",
                format!(
                    "{}: {} actions, but the session's task has {expected} (another pitch range?)",
                    path.display(),
                    agent.table().num_actions()
                ),
            ));
        }
        Ok(SessionAgent::Tabular(agent))
    }
}

/// Adam's learning rate of policy-gradient adaptation per unit of `adapt_rate`.
#[cfg(feature = "tch")]
const PG_RATE_PER_ADAPT_RATE: f64 = 0.01;

/// A policy-gradient checkpoint, on the CPU (the networks are small, and the CPU replays the
/// updates bit for bit), checked against the session's task.
#[cfg(feature = "tch")]
fn load_policy(
    dir: &Path,
    task: &TaskSpec,
    config: &SessionConfig,
) -> Result<SessionAgent, SessionError> {
    let adapt = AdaptConfig {
        learning_rate: PG_RATE_PER_ADAPT_RATE * config.adapt_rate,
        ..AdaptConfig::default()
    };
    let policy = PolicyAdapter::load(dir, DeviceChoice::Cpu, adapt)?;
    let env = ComposeEnv::new(task.clone(), ImprovReward::preset());
    let (obs_dim, actions) = (
        env.observation_space().dim(),
        task.setting.encoding.num_events(),
    );
    if policy.obs_dim() != obs_dim || policy.num_actions() != actions {
        return Err(config_error(
            "agent",
            format!(
                "{}: a policy of {} observations and {} actions, but the session's task has {obs_dim} and {actions} (another task or pitch range?)",
                dir.display(),
                policy.obs_dim(),
                policy.num_actions()
            ),
        ));
    }
    Ok(SessionAgent::Policy(Box::new(policy)))
}

#[cfg(not(feature = "tch"))]
fn load_policy(
    dir: &Path,
    _task: &TaskSpec,
    _config: &SessionConfig,
) -> Result<SessionAgent, SessionError> {
    Err(config_error(
        "agent",
        format!(
            "{} holds a policy-gradient agent: this build has no libtorch; rebuild with `--features tch`",
            dir.display()
        ),
    ))
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            task: TaskConfig::default(),
            seed: 0,
            pretrain_steps: 300_000,
            candidates: 16,
            temperature: 0.5,
            listener_weight: 2.0,
            calibration_phrases: 64,
            adapt_rate: 0.3,
            prior_variance: 1.0,
            adaptation: Adaptation::Preference,
            agent: None,
        }
    }
}

fn config_error(field: &str, message: String) -> SessionError {
    SessionError::Config {
        field: field.to_string(),
        message,
    }
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
        let policy = self.agent.as_ref().is_some_and(AgentSource::is_policy);
        match (self.adaptation, policy) {
            (Adaptation::PolicyGradient, false) => Err(config_error(
                "adaptation",
                "policy-gradient adapts a policy-gradient agent: start from one (a run of `cadenza train --task improv --agent ppo`)".into(),
            )),
            (Adaptation::Preference | Adaptation::QLearning, true) => Err(config_error(
                "adaptation",
                format!(
                    "{}: a policy-gradient agent adapts by policy-gradient, not {}",
                    self.agent.as_ref().map_or("", |a| a.dir.as_str()),
                    serde_json::to_string(&self.adaptation)
                        .unwrap_or_default()
                        .trim_matches('"')
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// How features and theory scores are standardised, fixed at session start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean of each feature over the calibration phrases.
    pub center: Vec<f64>,
    /// Standard deviation of each feature (1 where it does not vary).
    pub scale: Vec<f64>,
    /// Mean theory score (per-step `improv` reward).
    pub theory_mean: f64,
    /// Standard deviation of the theory score.
    pub theory_std: f64,
}

/// One candidate phrase, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The events.
    pub events: Vec<Event>,
    /// Its phrase features ([`listener::FEATURE_NAMES`]).
    pub features: Vec<f64>,
    /// Mean per-step `improv` reward: the theory floor.
    pub theory: f64,
    /// The listener model's posterior mean utility when proposed.
    pub utility: f64,
    /// Combined score: standardised theory + λ · utility.
    pub score: f64,
    states: Vec<u64>,
    /// Per-step `improv` rewards (empty for rounds rebuilt for replay).
    rewards: Vec<f64>,
}

/// A proposal: the candidates, the one played, and an A/B pair to ask about.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Round number, from 0.
    pub index: u64,
    /// The candidates, in sampling order.
    pub candidates: Vec<Candidate>,
    /// Index of the candidate played (the best score).
    pub played: usize,
    /// The most informative pair of candidates (A, B), if any.
    pub pair: Option<(usize, usize)>,
}

impl Round {
    /// The phrase played.
    pub fn played(&self) -> &Candidate {
        &self.candidates[self.played]
    }
}

/// An answer to "A or B?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// A was preferred.
    A,
    /// B was preferred.
    B,
}

/// A listener's reaction to a round: a rating of the played phrase and/or an A/B answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Feedback {
    /// Rating of the played phrase, 1..=5.
    pub rating: Option<u8>,
    /// Answer to the round's A/B question.
    pub preference: Option<Choice>,
}

/// A session: agent, listener model and log. See the crate docs.
pub struct Session {
    config: SessionConfig,
    task: TaskSpec,
    agent: SessionAgent,
    env: ComposeEnv<ImprovReward>,
    /// What this listener's reactions add to the agent's Q-values.
    preference: QTable,
    model: ListenerModel,
    extractor: FeatureExtractor,
    calibration: Calibration,
    round: u64,
    pending: Option<Round>,
    ratings: Vec<(u64, u8)>,
    obs: Vec<f32>,
    logits: Vec<f64>,
    log: Option<SessionLog>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("round", &self.round)
            .field("observations", &self.model.observations().len())
            .finish()
    }
}

fn round_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl Session {
    /// Starts a session: builds the task, pre-trains the agent, calibrates. With a `log`
    /// path, writes a new log there (an existing non-empty file is an error: resume it
    /// instead).
    pub fn new(config: SessionConfig, log: Option<&Path>) -> Result<Self, SessionError> {
        let log = match log {
            Some(path) => Some(SessionLog::create(path)?),
            None => None,
        };
        let mut session = Self::build(config, None)?;
        if let Some(mut log) = log {
            log.append(&Record::Session {
                config: session.config.clone(),
            })?;
            log.append(&Record::Calibration {
                calibration: session.calibration.clone(),
            })?;
            session.log = Some(log);
        }
        Ok(session)
    }

    /// The session without its log; `calibration` from a log, or computed.
    fn build(
        config: SessionConfig,
        calibration: Option<Calibration>,
    ) -> Result<Self, SessionError> {
        config.validate()?;
        let task = config.task.to_task()?;
        let num_actions = task.setting.encoding.num_events();

        let agent = match &config.agent {
            Some(source) => source.load(&task, &config)?,
            None => SessionAgent::Tabular(pretrained_agent(&config, &task)?),
        };

        let env = ComposeEnv::new(task.clone(), ImprovReward::preset());
        let obs = vec![0.0; env.observation_space().dim()];
        let model = ListenerModel::for_phrases(ListenerConfig {
            prior_variance: config.prior_variance,
        })?;
        let mut session = Self {
            preference: QTable::new(num_actions, 0.0, false),
            logits: vec![0.0; num_actions],
            calibration: Calibration {
                center: vec![0.0; NUM_FEATURES],
                scale: vec![1.0; NUM_FEATURES],
                theory_mean: 0.0,
                theory_std: 1.0,
            },
            extractor: FeatureExtractor::new(),
            round: 0,
            pending: None,
            ratings: Vec::new(),
            log: None,
            config,
            task,
            agent,
            env,
            model,
            obs,
        };

        // --- calibration: what the agent's phrases look like before any feedback ----------
        let calibration = match calibration {
            Some(c) => c,
            None => {
                let mut rng = round_rng(session.config.seed, STREAM_CALIBRATION);
                let mut features = Vec::new();
                let mut theory = Vec::new();
                for _ in 0..session.config.calibration_phrases {
                    let events = session.sample_events(&mut rng)?;
                    let c = session.evaluate(events)?;
                    features.push(c.features);
                    theory.push(c.theory);
                }
                let mut probe = session.model.clone();
                probe.calibrate(&features)?;
                let (center, scale) = probe.standardisation();
                let n = theory.len() as f64;
                let mean = theory.iter().sum::<f64>() / n;
                let std = (theory.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt();
                Calibration {
                    center: center.to_vec(),
                    scale: scale.to_vec(),
                    theory_mean: mean,
                    theory_std: if std > 1e-9 { std } else { 1.0 },
                }
            }
        };
        session
            .model
            .set_standardisation(&calibration.center, &calibration.scale)?;
        if !(calibration.theory_mean.is_finite()
            && calibration.theory_std.is_finite()
            && calibration.theory_std > 0.0)
        {
            return Err(SessionError::Feedback(
                "calibration: non-finite theory statistics".into(),
            ));
        }
        session.calibration = calibration;
        Ok(session)
    }

    /// Continues a session from its log: rebuilds the agent (same seed, same pre-training),
    /// replays every answered round into the listener model and the preference table, and
    /// appends to the log from there. A phrase that was proposed but not answered is
    /// proposed again. Corrupt lines are skipped; their line numbers are returned.
    pub fn resume(path: &Path) -> Result<(Self, Vec<crate::log::CorruptLine>), SessionError> {
        let contents = crate::log::read(path)?;
        let (config, calibration) = contents.header(path)?;
        let mut session = Self::build(config, Some(calibration))?;
        // The policy checksums logged after each round's update, to check the replay against.
        let logged_checksums: std::collections::HashMap<u64, String> = contents
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                Record::Model {
                    round,
                    agent: Some(sum),
                    ..
                } => Some((*round, sum.clone())),
                _ => None,
            })
            .collect();
        for entry in contents.timeline() {
            match entry {
                crate::log::Entry::Settings(task) => {
                    if task != session.config.task {
                        let (spec, agent) = session.prepare_task(&task)?;
                        session.switch_task(task, spec, agent);
                    }
                }
                crate::log::Entry::Answered(round, feedback) => {
                    let round = session.rebuild_round(round)?;
                    let index = round.index;
                    session.pending = Some(round);
                    session.apply(feedback)?;
                    if let (Some(logged), Some(now)) =
                        (logged_checksums.get(&index), session.agent_checksum())
                    {
                        if *logged != now {
                            return Err(SessionError::Log {
                                path: path.display().to_string(),
                                message: format!(
                                    "round {index}: replaying the logged updates gave agent weights {now}, the log recorded {logged}"
                                ),
                            });
                        }
                    }
                }
            }
        }
        session.log = Some(SessionLog::append_to(path)?);
        Ok((session, contents.corrupt))
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The task (setting, backing chords, tempo).
    pub fn task(&self) -> &TaskSpec {
        &self.task
    }

    /// The tabular agent (its Q-table is what [`Adaptation::QLearning`] updates); `None` for
    /// a policy-gradient agent.
    pub fn agent(&self) -> Option<&TabularAgent> {
        match &self.agent {
            SessionAgent::Tabular(agent) => Some(agent),
            #[cfg(feature = "tch")]
            SessionAgent::Policy(_) => None,
        }
    }

    /// The policy-gradient agent (what [`Adaptation::PolicyGradient`] updates); `None` for a
    /// tabular agent.
    #[cfg(feature = "tch")]
    pub fn policy(&self) -> Option<&PolicyAdapter> {
        match &self.agent {
            SessionAgent::Policy(policy) => Some(policy),
            SessionAgent::Tabular(_) => None,
        }
    }

    /// Checksum of a policy-gradient agent's weights (FNV-1a 64 of the little-endian `f32`s,
    /// in hex), as logged after each round; `None` for a tabular agent.
    pub fn agent_checksum(&self) -> Option<String> {
        match &self.agent {
            SessionAgent::Tabular(_) => None,
            #[cfg(feature = "tch")]
            SessionAgent::Policy(policy) => {
                let bytes: Vec<u8> = policy
                    .parameters()
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect();
                Some(fnv1a_hex(&bytes))
            }
        }
    }

    /// The round waiting for feedback, if one was proposed.
    pub fn pending(&self) -> Option<&Round> {
        self.pending.as_ref()
    }

    /// Changes the task between phrases: the key, the progression, the tempo (any field of
    /// the `improv` config). A tempo change only changes playback. Any other change
    /// pre-trains a fresh agent for the new task (same seed), drops the phrase waiting for
    /// feedback and the preference table (their states belong to the old task), and keeps
    /// the listener model and its calibration: the phrase features are relative to the key
    /// and the chords, so the listener's taste carries over. An agent loaded from a
    /// checkpoint is tied to its task: only the tempo may change. Logged, so that a resumed
    /// session changes task at the same point.
    pub fn retask(&mut self, task: TaskConfig) -> Result<(), SessionError> {
        if task == self.config.task {
            return Ok(());
        }
        let (spec, agent) = self.prepare_task(&task)?;
        if let Some(log) = &mut self.log {
            log.append(&Record::Settings {
                round: self.round,
                task: task.clone(),
            })?;
        }
        self.switch_task(task, spec, agent);
        Ok(())
    }

    /// The new task's spec, and the agent for it unless only the tempo changes.
    fn prepare_task(
        &self,
        task: &TaskConfig,
    ) -> Result<(TaskSpec, Option<TabularAgent>), SessionError> {
        let spec = task.to_task()?;
        let tempo_only = TaskConfig {
            tempo: self.config.task.tempo,
            ..task.clone()
        } == self.config.task;
        if tempo_only {
            return Ok((spec, None));
        }
        if let Some(source) = &self.config.agent {
            return Err(config_error(
                "task",
                format!(
                    "the agent in {} was trained for this key and progression: only the tempo can change",
                    source.dir
                ),
            ));
        }
        let mut config = self.config.clone();
        config.task = task.clone();
        let agent = pretrained_agent(&config, &spec)?;
        Ok((spec, Some(agent)))
    }

    fn switch_task(&mut self, task: TaskConfig, spec: TaskSpec, agent: Option<TabularAgent>) {
        self.config.task = task;
        let Some(agent) = agent else {
            self.task.tempo_qpm = spec.tempo_qpm;
            self.task.improv = spec.improv;
            return;
        };
        let num_actions = spec.setting.encoding.num_events();
        self.env = ComposeEnv::new(spec.clone(), ImprovReward::preset());
        self.obs = vec![0.0; self.env.observation_space().dim()];
        self.logits = vec![0.0; num_actions];
        self.preference = QTable::new(num_actions, 0.0, false);
        self.agent = SessionAgent::Tabular(agent);
        self.task = spec;
        self.pending = None;
    }

    /// Whether the session writes a log.
    pub fn is_logging(&self) -> bool {
        self.log.is_some()
    }

    /// The listener model.
    pub fn model(&self) -> &ListenerModel {
        &self.model
    }

    /// The calibration.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Rounds answered so far.
    pub fn rounds_done(&self) -> u64 {
        self.round
    }

    /// Ratings given so far, by round.
    pub fn ratings(&self) -> &[(u64, u8)] {
        &self.ratings
    }

    /// One phrase sampled from agent + preference table with the session temperature; from
    /// a policy-gradient agent, from its own distribution (temperature 1, so that its
    /// updates stay on-policy).
    fn sample_events(&mut self, rng: &mut ChaCha8Rng) -> Result<Vec<Event>, SessionError> {
        let length = self.task.setting.length;
        let mut events = Vec::with_capacity(length);
        self.env.reset_into(None, &mut self.obs)?;
        let agent = match &mut self.agent {
            SessionAgent::Tabular(agent) => agent,
            #[cfg(feature = "tch")]
            SessionAgent::Policy(policy) => {
                policy.begin_episode();
                for _ in 0..length {
                    let observation = cadenza_agents::Observation {
                        dense: &self.obs,
                        state: self.env.discrete_state(),
                        mask: self.env.action_mask(),
                    };
                    let action = policy.act(&observation, 1.0, rng);
                    if !self.env.action_mask().get(action).copied().unwrap_or(false) {
                        return Err(SessionError::Feedback("every action is masked out".into()));
                    }
                    self.env.step_into(action, &mut self.obs)?;
                    events.push(action as Event);
                }
                return Ok(events);
            }
        };
        let inv_t = 1.0 / self.config.temperature;
        for _ in 0..length {
            let state = self.env.discrete_state();
            let mask = self.env.action_mask();
            let table = agent.table();
            let row = table.find(state);
            let any_tried =
                row.is_some_and(|r| (0..mask.len()).any(|a| mask[a] && table.is_tried(r, a)));
            let extra = self.preference.values_of(state);
            let mut max = f64::NEG_INFINITY;
            for (a, logit) in self.logits.iter_mut().enumerate() {
                let allowed = mask[a] && (!any_tried || row.is_some_and(|r| table.is_tried(r, a)));
                *logit = if allowed {
                    let base = row.map_or(0.0, |r| f64::from(table.row(r)[a]));
                    let add = extra.map_or(0.0, |e| f64::from(e[a]));
                    (base + add) * inv_t
                } else {
                    f64::NEG_INFINITY
                };
                max = max.max(*logit);
            }
            if max == f64::NEG_INFINITY {
                return Err(SessionError::Feedback("every action is masked out".into()));
            }
            let mut total = 0.0;
            for logit in self.logits.iter_mut() {
                *logit = (*logit - max).exp();
                total += *logit;
            }
            let mut u = rng.random::<f64>() * total;
            let mut action = 0;
            for (a, &w) in self.logits.iter().enumerate() {
                if w > 0.0 {
                    action = a;
                    if u < w {
                        break;
                    }
                    u -= w;
                }
            }
            self.env.step_into(action, &mut self.obs)?;
            events.push(action as Event);
        }
        Ok(events)
    }

    /// Scores a phrase: states visited, theory floor, features, utility, combined score.
    fn evaluate(&mut self, events: Vec<Event>) -> Result<Candidate, SessionError> {
        if events.len() != self.task.setting.length {
            return Err(SessionError::Feedback(format!(
                "a phrase of {} events: expected {}",
                events.len(),
                self.task.setting.length
            )));
        }
        self.env.reset_into(None, &mut self.obs)?;
        let mut states = Vec::with_capacity(events.len());
        let mut rewards = Vec::with_capacity(events.len());
        for &e in &events {
            states.push(self.env.discrete_state());
            rewards.push(self.env.step_into(e as usize, &mut self.obs)?.reward);
        }
        let theory = rewards.iter().sum::<f64>() / events.len() as f64;
        let features = self.extractor.extract(&self.task.setting, &events)?;
        let utility = self.model.utility(&features)?;
        let score = (theory - self.calibration.theory_mean) / self.calibration.theory_std
            + self.config.listener_weight * utility;
        Ok(Candidate {
            events,
            features,
            theory,
            utility,
            score,
            states,
            rewards,
        })
    }

    /// The round's proposal: sampled and scored on the first call, then the same until
    /// feedback arrives. Logged before it is returned.
    pub fn propose(&mut self) -> Result<&Round, SessionError> {
        if self.pending.is_none() {
            let mut rng = round_rng(self.config.seed, STREAM_ROUNDS + self.round);
            let mut candidates = Vec::with_capacity(self.config.candidates);
            for _ in 0..self.config.candidates {
                let events = self.sample_events(&mut rng)?;
                candidates.push(self.evaluate(events)?);
            }
            let round = self.finish_round(self.round, candidates)?;
            if let Some(log) = &mut self.log {
                log.append(&Record::Phrase {
                    round: round.index,
                    candidates: round.candidates.iter().map(|c| c.events.clone()).collect(),
                    played: round.played,
                    pair: round.pair,
                })?;
            }
            self.pending = Some(round);
        }
        Ok(self.pending.as_ref().expect("set above"))
    }

    fn finish_round(&self, index: u64, candidates: Vec<Candidate>) -> Result<Round, SessionError> {
        let played = candidates
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
            .map_or(0, |(i, _)| i);
        let features: Vec<Vec<f64>> = candidates.iter().map(|c| c.features.clone()).collect();
        let pair = self.model.choose_pair(&features)?;
        Ok(Round {
            index,
            candidates,
            played,
            pair,
        })
    }

    fn rebuild_round(&mut self, logged: crate::log::LoggedRound) -> Result<Round, SessionError> {
        let mut candidates = Vec::with_capacity(logged.candidates.len());
        for events in logged.candidates {
            candidates.push(self.evaluate(events)?);
        }
        let mut round = self.finish_round(logged.round, candidates)?;
        // The log is the record of what was played and asked.
        if logged.played >= round.candidates.len()
            || logged
                .pair
                .is_some_and(|(a, b)| a >= round.candidates.len() || b >= round.candidates.len())
        {
            return Err(SessionError::Feedback(format!(
                "round {}: logged indices outside its candidates",
                logged.round
            )));
        }
        round.played = logged.played;
        round.pair = logged.pair;
        Ok(round)
    }

    /// The listener's reaction to the pending round: updates the model and the preference
    /// table, logs, and moves to the next round. Bad feedback (no pending round, a rating
    /// outside 1..=5, an A/B answer with no question) changes nothing.
    pub fn feedback(&mut self, feedback: Feedback) -> Result<(), SessionError> {
        let Some(round) = &self.pending else {
            return Err(SessionError::Feedback(
                "no phrase is waiting for feedback: call propose first".into(),
            ));
        };
        let index = round.index;
        if let Some(log) = &mut self.log {
            // Validate before logging, so that the log holds only feedback that was applied.
            check_feedback(round, feedback)?;
            log.append(&Record::Feedback {
                round: index,
                rating: feedback.rating,
                preference: feedback.preference,
            })?;
        }
        self.apply(feedback)?;
        let agent = self.agent_checksum();
        if let Some(log) = &mut self.log {
            log.append(&Record::Model {
                round: index,
                observations: self.model.observations().len(),
                weights: self.model.weights().to_vec(),
                bias: self.model.bias(),
                agent,
            })?;
        }
        Ok(())
    }

    fn apply(&mut self, feedback: Feedback) -> Result<(), SessionError> {
        let Some(round) = self.pending.take() else {
            return Err(SessionError::Feedback("no pending round".into()));
        };
        if let Err(e) = check_feedback(&round, feedback) {
            self.pending = Some(round);
            return Err(e);
        }
        apply_to_model(&mut self.model, &round, feedback)?;
        if let Some(rating) = feedback.rating {
            self.ratings.push((round.index, rating));
        }

        // --- adaptation: Monte-Carlo Q-updates of the preference table -------------------
        // Every candidate's (state, action) pairs move towards λ times its utility under the
        // updated model, centred on the round's mean: the states of phrases the listener
        // would like more than the agent's average get a lift, the others a push down,
        // while the agent's own Q-values keep the theory floor.
        let utilities: Vec<f64> = round
            .candidates
            .iter()
            .map(|c| self.model.utility(&c.features))
            .collect::<Result<_, _>>()?;
        let mean = utilities.iter().sum::<f64>() / utilities.len() as f64;
        match self.config.adaptation {
            Adaptation::QLearning => {
                self.q_updates(&round, &utilities, mean);
                self.round = round.index + 1;
                return Ok(());
            }
            Adaptation::PolicyGradient => {
                self.pg_updates(&round, &utilities, mean)?;
                self.round = round.index + 1;
                return Ok(());
            }
            Adaptation::Preference => {}
        }
        let alpha = self.config.adapt_rate as f32;
        for (candidate, u) in round.candidates.iter().zip(&utilities) {
            let target = (self.config.listener_weight * (u - mean)).clamp(-10.0, 10.0) as f32;
            for (&state, &action) in candidate.states.iter().zip(&candidate.events) {
                let row = self.preference.row_index(state);
                let q = &mut self.preference.row_mut(row)[action as usize];
                *q += alpha * (target - *q);
            }
        }
        self.round = round.index + 1;
        Ok(())
    }

    /// [`Adaptation::QLearning`]: Q-updates of the agent's own table over every candidate of
    /// the round, in one backward sweep, towards
    /// `r_theory(t) + γ · max_a Q(s_{t+1}, a) + L_t`. The first two terms are the one-step
    /// Q-learning target of the theory floor the agent was trained on (bootstrapped from the
    /// table as it was before the round, over learned entries only); `L_t` is the discounted
    /// return from step t of the listener reward `λ · (u − ū) · σ_theory` per step: the
    /// listener model's utility of the whole phrase (centred on the round's mean `ū`, in units
    /// of the theory score's spread σ_theory, as in the candidates' combined score), spread
    /// evenly over its steps. The listener part is taken as a Monte-Carlo return so that one
    /// round already reaches the early steps of a phrase, with the low-variance bootstrap
    /// kept for the theory part.
    #[cfg_attr(not(feature = "tch"), allow(irrefutable_let_patterns))]
    fn q_updates(&mut self, round: &Round, utilities: &[f64], mean: f64) {
        let alpha = self.config.adapt_rate as f32;
        let spread = self.calibration.theory_std;
        let weight = self.config.listener_weight;
        let SessionAgent::Tabular(agent) = &mut self.agent else {
            return;
        };
        let gamma = agent.config().gamma;
        let table = agent.table_mut();
        // The bootstrap values come from the table as it was before this round, so that the
        // round's own updates are not counted twice.
        let next_values: Vec<Vec<f64>> = round
            .candidates
            .iter()
            .map(|c| {
                (0..c.states.len())
                    .map(|t| c.states.get(t + 1).map_or(0.0, |&s| best_tried(table, s)))
                    .collect()
            })
            .collect();
        for ((candidate, u), next) in round.candidates.iter().zip(utilities).zip(&next_values) {
            let bonus = (weight * (u - mean)).clamp(-10.0, 10.0) * spread;
            let n = candidate.states.len().min(candidate.rewards.len());
            let mut listener_return = 0.0;
            for t in (0..n).rev() {
                listener_return = bonus + gamma * listener_return;
                let target = candidate.rewards[t] + gamma * next[t] + listener_return;
                let row = table.row_index(candidate.states[t]);
                let action = candidate.events[t] as usize;
                let q = &mut table.row_mut(row)[action];
                *q += alpha * (target as f32 - *q);
                table.mark_tried(row, action);
            }
        }
    }

    /// [`Adaptation::PolicyGradient`]: REINFORCE steps of the policy on every candidate of
    /// the round (all sampled from the policy as it was), with the per-step reward
    /// `r_theory(t) + λ · (u − ū) · σ_theory`: the theory floor the agent was trained on plus
    /// the listener reward of [`Session::q_updates`] (the listener model's utility of the
    /// whole phrase under the updated model, centred on the round's mean and spread evenly
    /// over its steps). See [`PolicyAdapter::reinforce_on_episodes`] for the update.
    #[cfg(feature = "tch")]
    fn pg_updates(
        &mut self,
        round: &Round,
        utilities: &[f64],
        mean: f64,
    ) -> Result<(), SessionError> {
        let spread = self.calibration.theory_std;
        let weight = self.config.listener_weight;
        let mut episodes = Vec::with_capacity(round.candidates.len());
        for (candidate, u) in round.candidates.iter().zip(utilities) {
            let bonus = (weight * (u - mean)).clamp(-10.0, 10.0) * spread;
            let mut episode = pg::Episode::default();
            self.env.reset_into(None, &mut self.obs)?;
            for &e in &candidate.events {
                episode.obs.extend_from_slice(&self.obs);
                episode.masks.extend_from_slice(self.env.action_mask());
                episode.actions.push(e as usize);
                let step = self.env.step_into(e as usize, &mut self.obs)?;
                episode.rewards.push(step.reward + bonus);
            }
            episodes.push(episode);
        }
        if let SessionAgent::Policy(policy) = &mut self.agent {
            policy.reinforce_on_episodes(&episodes)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "tch"))]
    fn pg_updates(&mut self, _: &Round, _: &[f64], _: f64) -> Result<(), SessionError> {
        Err(config_error(
            "adaptation",
            "policy-gradient adaptation needs a build with `--features tch`".into(),
        ))
    }

    /// Fresh phrases for held-out evaluation, from their own random stream (the session's
    /// rounds are unaffected).
    pub fn held_out(&mut self, count: usize) -> Result<Vec<Candidate>, SessionError> {
        let mut rng = round_rng(self.config.seed, STREAM_HELD_OUT);
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let events = self.sample_events(&mut rng)?;
            out.push(self.evaluate(events)?);
        }
        Ok(out)
    }
}

/// The agent pre-trained on the theory reward: Q-learning on the `improv` reward.
fn pretrained_agent(config: &SessionConfig, task: &TaskSpec) -> Result<TabularAgent, SessionError> {
    let tabular = TabularConfig {
        temperature: config.temperature,
        ..TabularConfig::default()
    };
    let mut agent = TabularAgent::new(
        Algorithm::QLearning,
        tabular,
        &task.name,
        task.setting.encoding.num_events(),
        config.pretrain_steps,
    )?;
    let train_env: TrainEnv = ComposeEnv::new(task.clone(), Box::new(ImprovReward::preset()));
    let mut envs =
        VecEnv::new(vec![train_env], 1).map_err(|e| SessionError::Feedback(e.to_string()))?;
    envs.reset(Some(config.seed))
        .map_err(|e| SessionError::Feedback(e.to_string()))?;
    let mut rng = round_rng(config.seed, STREAM_PRETRAIN);
    agent.learn(&mut envs, config.pretrain_steps, &mut rng)?;
    Ok(agent)
}

/// The largest learned value of a state's row: the Q-learning bootstrap. Untried entries
/// hold only the (optimistic) initial value, so they are left out; an unseen state is worth 0.
fn best_tried(table: &QTable, state: u64) -> f64 {
    let Some(row) = table.find(state) else {
        return 0.0;
    };
    let values = table.row(row);
    let best = (0..values.len())
        .filter(|&a| table.is_tried(row, a))
        .map(|a| values[a])
        .fold(f32::NEG_INFINITY, f32::max);
    if best.is_finite() {
        f64::from(best)
    } else {
        0.0
    }
}

fn check_feedback(round: &Round, feedback: Feedback) -> Result<(), SessionError> {
    if let Some(r) = feedback.rating {
        if !(1..=5).contains(&r) {
            return Err(SessionError::Feedback(format!(
                "rating {r}: expected 1..=5"
            )));
        }
    }
    if feedback.preference.is_some() && round.pair.is_none() {
        return Err(SessionError::Feedback(
            "an A/B answer, but this round asked no A/B question".into(),
        ));
    }
    Ok(())
}

/// Feeds one round's feedback to a listener model (shared by live sessions and replay).
pub(crate) fn apply_to_model(
    model: &mut ListenerModel,
    round: &Round,
    feedback: Feedback,
) -> Result<(), SessionError> {
    if let Some(rating) = feedback.rating {
        model.observe(listener::Feedback::Rating {
            features: round.played().features.clone(),
            rating,
        })?;
    }
    if let (Some(choice), Some((a, b))) = (feedback.preference, round.pair) {
        model.observe(listener::Feedback::Preference {
            a: round.candidates[a].features.clone(),
            b: round.candidates[b].features.clone(),
            a_preferred: choice == Choice::A,
        })?;
    }
    Ok(())
}

/// The features of logged phrases without an agent: for replay.
pub(crate) fn features_of(
    task: &TaskSpec,
    extractor: &mut FeatureExtractor,
    events: &[Event],
) -> Result<Vec<f64>, SessionError> {
    Ok(extractor.extract(&task.setting, events)?)
}

/// A round rebuilt for the listener model only (features, no scores).
pub(crate) fn model_round(
    task: &TaskSpec,
    extractor: &mut FeatureExtractor,
    logged: &crate::log::LoggedRound,
) -> Result<Round, SessionError> {
    let mut candidates = Vec::new();
    for events in &logged.candidates {
        candidates.push(Candidate {
            features: features_of(task, extractor, events)?,
            events: events.clone(),
            theory: 0.0,
            utility: 0.0,
            score: 0.0,
            states: Vec::new(),
            rewards: Vec::new(),
        });
    }
    let n = candidates.len();
    if logged.played >= n || logged.pair.is_some_and(|(a, b)| a >= n || b >= n) {
        return Err(SessionError::Feedback(format!(
            "round {}: logged indices outside its candidates",
            logged.round
        )));
    }
    Ok(Round {
        index: logged.round,
        candidates,
        played: logged.played,
        pair: logged.pair,
    })
}
