//! A trained agent on disk, opened to adapt it: the kind its checkpoint records (looked up in
//! the [`registry`]), a checksum of its files, and the family's [`Adapter`]
//! loaded from it.
//!
//! A checkpoint names its own kind in its header, so a checkpoint directory needs no
//! `run.json` beside it: [`TrainedCheckpoint::open`] reads the kind there and asks the
//! registry what it is. A policy-gradient checkpoint is read only by a build with libtorch;
//! without it, a directory without a tabular checkpoint is an error that says so.

use crate::adapt::Adapter;
use crate::agent::{AgentError, DeviceChoice};
use crate::checksum::fnv1a;
use crate::registry::{self, AgentKind, Family};
use crate::tabular::{self, TabularAdaptConfig, TabularAdapter};
use cadenza_env::TaskSpec;
use std::path::{Path, PathBuf};

/// How an agent loaded from a checkpoint adapts: its family's settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AdaptSettings {
    /// A tabular agent, as a [`TabularAdapter`].
    Tabular(TabularAdaptConfig),
    /// A policy-gradient agent, by REINFORCE steps (`pg::PolicyAdapter`, the other fields of
    /// its `AdaptConfig` at their defaults).
    PolicyGradient {
        /// Adam's learning rate, in (0, 1].
        learning_rate: f64,
        /// Where the network lives (the CPU replays updates bit for bit).
        device: DeviceChoice,
    },
}

/// A checkpoint directory of a trained agent. See the module docs.
#[derive(Debug, Clone)]
pub struct TrainedCheckpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// The file that records the kind (named in messages).
    pub file: PathBuf,
    /// The kind the checkpoint records.
    pub kind: &'static AgentKind,
    /// FNV-1a 64 of the checkpoint's files (a policy's header, then its weights).
    pub checksum: u64,
}

fn checkpoint_error(path: &Path, message: impl Into<String>) -> AgentError {
    AgentError::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

impl TrainedCheckpoint {
    /// Reads the checkpoint in `dir`: a tabular one where `dir` holds one, else a policy.
    pub fn open(dir: &Path) -> Result<Self, AgentError> {
        let table = dir.join(tabular::CHECKPOINT_FILE);
        let (kind, file, bytes) = if table.is_file() {
            let bytes = std::fs::read(&table)
                .map_err(|e| checkpoint_error(&table, format!("cannot read: {e}")))?;
            let header = tabular::header_of(&table, &bytes)?;
            (header.kind, table, bytes)
        } else {
            policy_checkpoint(dir)?
        };
        let kind = registry::lookup(&kind).map_err(|e| checkpoint_error(&file, e.to_string()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            file,
            kind,
            checksum: fnv1a(&bytes),
        })
    }

    /// The agent, checked against `task`, ready to adapt as `settings` say (which must be
    /// its family's).
    pub fn adapter(
        &self,
        task: &TaskSpec,
        settings: &AdaptSettings,
    ) -> Result<Box<dyn Adapter>, AgentError> {
        self.kind.ensure_built()?;
        match (self.kind.family, settings) {
            (Family::Tabular(_), AdaptSettings::Tabular(config)) => {
                self.check_task(task)?;
                let agent = tabular::load(&self.dir, Some(self.kind.name))?;
                Ok(Box::new(TabularAdapter::new(agent, config.clone())?))
            }
            (
                Family::PolicyGradient,
                &AdaptSettings::PolicyGradient {
                    learning_rate,
                    device,
                },
            ) => self.policy_adapter(task, learning_rate, device),
            _ => Err(AgentError::Config {
                field: "adaptation".to_string(),
                message: format!(
                    "{}: a '{}' agent ({}) does not adapt that way",
                    self.dir.display(),
                    self.kind.name,
                    self.kind.summary
                ),
            }),
        }
    }

    /// Checks, from the checkpoint's header and without loading the agent, that it was
    /// trained for `task`: a tabular checkpoint records its task's name and its number of
    /// actions, a policy its observation size and number of actions. A `run.json` edited to
    /// name another task, or a task config with another pitch range, is refused here with a
    /// message that says the task differs, instead of failing (or worse, playing) later.
    pub fn check_task(&self, task: &TaskSpec) -> Result<(), AgentError> {
        let actions = task.setting.encoding.num_events();
        if let Family::Tabular(_) = self.kind.family {
            let bytes = std::fs::read(&self.file)
                .map_err(|e| checkpoint_error(&self.file, format!("cannot read: {e}")))?;
            let header = tabular::header_of(&self.file, &bytes)?;
            if header.task != task.name {
                return Err(checkpoint_error(
                    &self.file,
                    format!(
                        "trained on the '{}' task, expected '{}'",
                        header.task, task.name
                    ),
                ));
            }
            if header.table.num_actions != actions as u64 {
                return Err(checkpoint_error(
                    &self.file,
                    format!(
                        "{} actions, but the task '{}' has {actions} (another pitch range?)",
                        header.table.num_actions, task.name
                    ),
                ));
            }
            return Ok(());
        }
        let (recorded_obs, recorded_actions) = policy_dims(&self.dir)?;
        let obs_dim = task.observation_dim();
        if (recorded_obs, recorded_actions) != (obs_dim, actions) {
            return Err(checkpoint_error(
                &self.file,
                format!(
                    "a policy of {recorded_obs} observations and {recorded_actions} actions, but \
                     the task '{}' has {obs_dim} and {actions} (trained on another task or pitch range?)",
                    task.name
                ),
            ));
        }
        Ok(())
    }

    #[cfg(feature = "tch")]
    fn policy_adapter(
        &self,
        task: &TaskSpec,
        learning_rate: f64,
        device: DeviceChoice,
    ) -> Result<Box<dyn Adapter>, AgentError> {
        use crate::pg::{AdaptConfig, PolicyAdapter};
        self.check_task(task)?;
        let config = AdaptConfig {
            learning_rate,
            ..AdaptConfig::default()
        };
        Ok(Box::new(PolicyAdapter::load(&self.dir, device, config)?))
    }

    /// Unreachable: `adapter` asks the registry first, which refuses a libtorch kind here.
    #[cfg(not(feature = "tch"))]
    fn policy_adapter(
        &self,
        _task: &TaskSpec,
        _learning_rate: f64,
        _device: DeviceChoice,
    ) -> Result<Box<dyn Adapter>, AgentError> {
        self.kind.ensure_built()?;
        Err(AgentError::Other(format!(
            "agent '{}' is not built",
            self.kind.name
        )))
    }
}

/// The recorded kind, header file and checksummed bytes of a policy checkpoint.
#[cfg(feature = "tch")]
fn policy_checkpoint(dir: &Path) -> Result<(String, PathBuf, Vec<u8>), AgentError> {
    crate::pg::adapt::recorded_checkpoint(dir)
}

/// The observation size and number of actions a policy checkpoint records.
#[cfg(feature = "tch")]
fn policy_dims(dir: &Path) -> Result<(usize, usize), AgentError> {
    crate::pg::adapt::recorded_dims(dir)
}

/// Unreachable: `open` reads no policy checkpoint without libtorch.
#[cfg(not(feature = "tch"))]
fn policy_dims(dir: &Path) -> Result<(usize, usize), AgentError> {
    policy_checkpoint(dir).map(|_| (0, 0))
}

#[cfg(not(feature = "tch"))]
fn policy_checkpoint(dir: &Path) -> Result<(String, PathBuf, Vec<u8>), AgentError> {
    Err(checkpoint_error(
        dir,
        format!(
            "no tabular checkpoint ({}) here; a policy-gradient checkpoint is read only by a \
             build with `--features tch`",
            tabular::CHECKPOINT_FILE
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::tabular::{AdaptMode, Algorithm, TabularAgent, TabularConfig};

    #[test]
    fn a_tabular_checkpoint_names_its_kind_and_fits_its_task_only() {
        let dir = std::env::temp_dir().join(format!("cadenza-trained-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let task = TaskSpec::rl_tuner();
        let actions = task.setting.encoding.num_events();
        let agent = TabularAgent::new(
            Algorithm::SoftQ,
            TabularConfig::default(),
            &task.name,
            actions,
            10,
        )
        .unwrap();
        agent.save(&dir).unwrap();
        let trained = TrainedCheckpoint::open(&dir).unwrap();
        assert_eq!(trained.kind.name, "soft-q");
        let bytes = std::fs::read(dir.join(tabular::CHECKPOINT_FILE)).unwrap();
        assert_eq!(trained.checksum, fnv1a(&bytes));

        let settings = AdaptSettings::Tabular(TabularAdaptConfig {
            mode: AdaptMode::QLearning,
            ..TabularAdaptConfig::default()
        });
        let adapter = trained.adapter(&task, &settings).unwrap();
        assert_eq!(adapter.kind(), "soft-q");
        let improv = TaskSpec::by_name("improv", None).unwrap();
        let err = trained.adapter(&improv, &settings).unwrap_err().to_string();
        assert!(err.contains("trained on the 'rl-tuner' task"), "{err}");
        let policy = AdaptSettings::PolicyGradient {
            learning_rate: 1e-3,
            device: DeviceChoice::Cpu,
        };
        let err = trained.adapter(&task, &policy).unwrap_err().to_string();
        assert!(err.contains("does not adapt that way"), "{err}");

        std::fs::remove_dir_all(&dir).unwrap();
        let err = TrainedCheckpoint::open(&dir).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
    }
}
