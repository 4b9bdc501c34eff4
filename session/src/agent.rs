//! The session's agent: pre-trained on the `improv` reward at session start, or loaded from a
//! checkpoint ([`AgentSource`]), and handed to the session as its family's [`Adapter`]
//! (a [`TabularAdapter`], or with the `tch` feature a policy-gradient agent's adapter).

use crate::config::{config_error, Adaptation, AgentSource, SessionConfig};
use crate::error::SessionError;
use crate::rng::{self, STREAM_PRETRAIN};
use cadenza_agents::tabular::{
    self, AdaptMode, Algorithm, TabularAdaptConfig, TabularAdapter, TabularAgent, TabularConfig,
    CHECKPOINT_FILE,
};
use cadenza_agents::{Adapter, Agent, AgentError, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use std::path::Path;

/// The files of a policy-gradient checkpoint (`cadenza_agents::pg::HEADER_FILE` and
/// `WEIGHTS_FILE`, named here so that a build without the `tch` feature recognises one).
const PG_HEADER_FILE: &str = "policy.json";
const PG_WEIGHTS_FILE: &str = "policy.safetensors";

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

    /// Loads the agent, checking the checksum, that it fits `task` and that it adapts as
    /// `config` says.
    fn load(
        &self,
        task: &TaskSpec,
        config: &SessionConfig,
    ) -> Result<Box<dyn Adapter>, SessionError> {
        let (bytes, policy) = checkpoint_bytes(Path::new(&self.dir))?;
        // An agent that cannot adapt as asked is refused before anything else is checked.
        let mode = if policy {
            if config.adaptation != Adaptation::PolicyGradient {
                return Err(config_error(
                    "adaptation",
                    format!(
                        "{}: a policy-gradient agent adapts by policy-gradient, not {}",
                        self.dir,
                        serde_json::to_string(&config.adaptation)
                            .unwrap_or_default()
                            .trim_matches('"')
                    ),
                ));
            }
            None
        } else {
            Some(adapt_mode(config)?)
        };
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
        let Some(mode) = mode else {
            return load_policy(Path::new(&self.dir), task, config);
        };
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
        tabular_adapter(agent, mode, config)
    }
}

/// The session's agent for `task`: loaded from `config.agent`, or pre-trained.
pub(crate) fn load(
    config: &SessionConfig,
    task: &TaskSpec,
) -> Result<Box<dyn Adapter>, SessionError> {
    match &config.agent {
        Some(source) => source.load(task, config),
        None => {
            let mode = adapt_mode(config)?;
            tabular_adapter(pretrained(config, task)?, mode, config)
        }
    }
}

/// How a tabular agent adapts under `config`.
fn adapt_mode(config: &SessionConfig) -> Result<AdaptMode, SessionError> {
    match config.adaptation {
        Adaptation::Preference => Ok(AdaptMode::Preference),
        Adaptation::QLearning => Ok(AdaptMode::QLearning),
        Adaptation::PolicyGradient => Err(config_error(
            "adaptation",
            "policy-gradient adapts a policy-gradient agent: start from one (a run of `cadenza train --task improv --agent ppo`)".into(),
        )),
    }
}

fn tabular_adapter(
    agent: TabularAgent,
    mode: AdaptMode,
    config: &SessionConfig,
) -> Result<Box<dyn Adapter>, SessionError> {
    let adapt = TabularAdaptConfig {
        mode,
        step_size: config.adapt_rate,
        temperature: config.temperature,
    };
    Ok(Box::new(TabularAdapter::new(agent, adapt)?))
}

/// The agent pre-trained on the theory reward: Q-learning on the `improv` reward, with the
/// stream [`STREAM_PRETRAIN`] of the session's seed.
fn pretrained(config: &SessionConfig, task: &TaskSpec) -> Result<TabularAgent, SessionError> {
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
    let mut envs = VecEnv::new(vec![train_env], 1).map_err(AgentError::from)?;
    envs.reset(Some(config.seed)).map_err(AgentError::from)?;
    let mut rng = rng::stream(config.seed, STREAM_PRETRAIN);
    agent.learn(&mut envs, config.pretrain_steps, &mut rng)?;
    Ok(agent)
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
) -> Result<Box<dyn Adapter>, SessionError> {
    use cadenza_agents::pg::{AdaptConfig, DeviceChoice, PolicyAdapter};
    use cadenza_env::Environment;
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
    Ok(Box::new(policy))
}

#[cfg(not(feature = "tch"))]
fn load_policy(
    dir: &Path,
    _task: &TaskSpec,
    _config: &SessionConfig,
) -> Result<Box<dyn Adapter>, SessionError> {
    Err(config_error(
        "agent",
        format!(
            "{} holds a policy-gradient agent: this build has no libtorch; rebuild with `--features tch`",
            dir.display()
        ),
    ))
}
