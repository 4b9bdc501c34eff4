//! The session's agent: pre-trained on the `improv` reward at session start, or loaded from a
//! checkpoint ([`AgentSource`]) through the agents' registry, and handed to the session as
//! its family's [`Adapter`].

use crate::config::{config_error, Adaptation, AgentSource, SessionConfig};
use crate::error::SessionError;
use crate::rng::{self, STREAM_PRETRAIN};
use cadenza_agents::tabular::{
    AdaptMode, Algorithm, TabularAdaptConfig, TabularAdapter, TabularAgent, TabularConfig,
};
use cadenza_agents::trained::{AdaptSettings, TrainedCheckpoint};
use cadenza_agents::{Adapter, Agent, AgentError, DeviceChoice, Family, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use std::path::Path;

/// Adam's learning rate of policy-gradient adaptation per unit of `adapt_rate`.
const PG_RATE_PER_ADAPT_RATE: f64 = 0.01;

impl AgentSource {
    /// The checkpoint in `dir` (a checkpoint directory), with its current checksum.
    pub fn from_dir(dir: &Path) -> Result<Self, SessionError> {
        let checkpoint = TrainedCheckpoint::open(dir)?;
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        Ok(Self {
            dir: dir.display().to_string(),
            checksum: hex(checkpoint.checksum),
        })
    }

    /// Whether the checkpoint is a policy-gradient agent's (else a tabular agent's), by the
    /// kind it records.
    pub fn is_policy(&self) -> bool {
        TrainedCheckpoint::open(Path::new(&self.dir))
            .is_ok_and(|c| c.kind.family == Family::PolicyGradient)
    }

    /// Loads the agent, checking that it adapts as `config` says, the checksum, and that it
    /// fits `task`.
    fn load(
        &self,
        task: &TaskSpec,
        config: &SessionConfig,
    ) -> Result<Box<dyn Adapter>, SessionError> {
        let checkpoint = TrainedCheckpoint::open(Path::new(&self.dir))?;
        // An agent that cannot adapt as asked is refused before anything else is checked.
        let settings = match checkpoint.kind.family {
            Family::Tabular(_) => AdaptSettings::Tabular(tabular_settings(config)?),
            Family::PolicyGradient if config.adaptation == Adaptation::PolicyGradient => {
                AdaptSettings::PolicyGradient {
                    learning_rate: PG_RATE_PER_ADAPT_RATE * config.adapt_rate,
                    device: DeviceChoice::Cpu,
                }
            }
            Family::PolicyGradient => {
                return Err(config_error(
                    "adaptation",
                    format!(
                        "{}: a policy-gradient agent adapts by policy-gradient, not {}",
                        self.dir,
                        serde_json::to_string(&config.adaptation)
                            .unwrap_or_default()
                            .trim_matches('"')
                    ),
                ))
            }
            _ => {
                return Err(config_error(
                    "agent",
                    format!(
                        "{}: a '{}' agent ({}); sessions adapt agents trained on a reward",
                        self.dir, checkpoint.kind.name, checkpoint.kind.summary
                    ),
                ))
            }
        };
        let checksum = hex(checkpoint.checksum);
        if checksum != self.checksum {
            return Err(config_error(
                "agent",
                format!(
                    "{}: checksum {checksum}, but the session started with {}: the checkpoint changed since",
                    checkpoint.file.display(),
                    self.checksum
                ),
            ));
        }
        Ok(checkpoint.adapter(task, &settings)?)
    }
}

/// A checksum as logged: 16 hex digits.
fn hex(checksum: u64) -> String {
    format!("{checksum:016x}")
}

/// The session's agent for `task`: loaded from `config.agent`, or pre-trained.
pub(crate) fn load(
    config: &SessionConfig,
    task: &TaskSpec,
) -> Result<Box<dyn Adapter>, SessionError> {
    match &config.agent {
        Some(source) => source.load(task, config),
        None => {
            let settings = tabular_settings(config)?;
            let agent = pretrained(config, task)?;
            Ok(Box::new(TabularAdapter::new(agent, settings)?))
        }
    }
}

/// How a tabular agent samples and adapts under `config`.
fn tabular_settings(config: &SessionConfig) -> Result<TabularAdaptConfig, SessionError> {
    let mode = match config.adaptation {
        Adaptation::Preference => AdaptMode::Preference,
        Adaptation::QLearning => AdaptMode::QLearning,
        Adaptation::PolicyGradient => return Err(config_error(
            "adaptation",
            "policy-gradient adapts a policy-gradient agent: start from one (a run of `cadenza train --task improv --agent ppo`)".into(),
        )),
    };
    Ok(TabularAdaptConfig {
        mode,
        step_size: config.adapt_rate,
        temperature: config.temperature,
    })
}

/// The agent pre-trained on the theory reward: Q-learning on the `improv` reward, with the
/// stream [`STREAM_PRETRAIN`] of the session's seed.
fn pretrained(config: &SessionConfig, task: &TaskSpec) -> Result<TabularAgent, SessionError> {
    pretrain_q(
        config,
        task,
        Box::new(ImprovReward::preset()),
        STREAM_PRETRAIN,
    )
}

/// A Q-learner with the task's tabular defaults (at the session's temperature), trained for
/// the session's `pretrain_steps` on `reward` with the random stream `stream` of its seed:
/// how the session readies every agent it starts from.
pub(crate) fn pretrain_q(
    config: &SessionConfig,
    task: &TaskSpec,
    reward: Box<dyn cadenza_env::Reward>,
    stream: u64,
) -> Result<TabularAgent, SessionError> {
    let tabular = TabularConfig {
        temperature: config.temperature,
        ..TabularConfig::defaults_for(task.state)
    };
    let mut agent = TabularAgent::new(
        Algorithm::QLearning,
        tabular,
        &task.name,
        task.setting.encoding.num_events(),
        config.pretrain_steps,
    )?;
    let train_env: TrainEnv = ComposeEnv::new(task.clone(), reward);
    let mut envs = VecEnv::new(vec![train_env], 1).map_err(AgentError::from)?;
    envs.reset(Some(config.seed)).map_err(AgentError::from)?;
    let mut rng = rng::stream(config.seed, stream);
    agent.learn(&mut envs, config.pretrain_steps, &mut rng)?;
    Ok(agent)
}
