//! Run directories: the one way to create, open and read what `cadenza train` writes.
//!
//! A run directory holds
//!
//! | path | what |
//! |---|---|
//! | `run.json` | [`RunInfo`]: the task, reward, agent kind and its *effective* config, the training protocol, the steps trained |
//! | `checkpoint/` | the agent, as [`Agent::save`] wrote it |
//! | `metrics.jsonl` | one evaluation per line ([`crate::train::EvalRecord`]) |
//! | `summary.json` | the run's final report |
//! | `samples/` | sample melodies as MIDI |
//!
//! The command line, sessions and examples open runs through [`RunDir`] alone, so the layout
//! lives here once. A session may also be handed a bare checkpoint directory:
//! [`RunDir::resolve`] accepts both.

use crate::agent::{Agent, AgentError, DeviceChoice};
use crate::registry::{self, AgentKind};
use crate::train::{TrainConfig, CHECKPOINT_DIR, METRICS_FILE};
use cadenza_env::TaskSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the run description inside a run directory.
pub const RUN_FILE: &str = "run.json";
/// Name of the final report inside a run directory.
pub const SUMMARY_FILE: &str = "summary.json";
/// Name of the sample melodies' directory inside a run directory.
pub const SAMPLES_DIR: &str = "samples";
/// The `format` field of `run.json`.
pub const RUN_FORMAT: &str = "cadenza-run";

/// Errors of run directories; each names the directory or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// `run.json` is missing or unreadable.
    #[error("{dir} is not a run directory (cannot read {file}: {source})")]
    NotARun {
        /// The directory.
        dir: PathBuf,
        /// Its `run.json`.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `run.json` is not what `cadenza train` writes.
    #[error("{path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The directory already holds another run.
    #[error(
        "{} already holds a run ({RUN_FILE}); pass --resume {} to continue it, or choose another --out",
        dir.display(),
        dir.display()
    )]
    Occupied {
        /// The directory.
        dir: PathBuf,
    },
    /// A file or directory could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The agent failed to load.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// What `run.json` records: enough to rebuild the env and the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Always `cadenza-run`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Task name.
    pub task: String,
    /// The task's TOML config text, for configurable tasks.
    pub task_config: Option<String>,
    /// The reward preset name or TOML path given.
    pub reward: String,
    /// The TOML text of the reward when it was a file.
    pub reward_toml: Option<String>,
    /// Agent kind.
    pub agent: String,
    /// The agent's whole config, defaults filled in.
    pub agent_config: serde_json::Value,
    /// The training protocol.
    pub train: TrainConfig,
    /// Default sampling temperature for `generate`.
    pub temperature: f64,
    /// Training seed of the last invocation.
    pub seed: u64,
    /// Env steps trained in total.
    pub steps_done: u64,
    /// The checkpoint directory, relative to the run directory.
    pub checkpoint: String,
    /// The behaviour-cloned prior of a KL-controlled run (its directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
    /// c of a KL-controlled run's reward r_theory + c * log p_prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_coef: Option<f64>,
}

impl RunInfo {
    /// The agent kind this run trained.
    pub fn kind(&self) -> Result<&'static AgentKind, AgentError> {
        registry::lookup(&self.agent)
    }

    /// Rebuilds the task.
    pub fn task(&self) -> Result<TaskSpec, AgentError> {
        TaskSpec::by_name(&self.task, self.task_config.as_deref()).map_err(|e| AgentError::Config {
            field: "task".to_string(),
            message: format!("task '{}' recorded in {RUN_FILE}: {e}", self.task),
        })
    }
}

/// A run directory. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// A run directory to write at `path`, created if missing. It must not hold another
    /// run, unless it is the run being resumed (`resuming`).
    pub fn create(path: &Path, resuming: Option<&Path>) -> Result<Self, RunError> {
        Self::check_free(path, resuming)?;
        std::fs::create_dir_all(path).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Checks, before any work is done, that [`RunDir::create`] will accept `path`.
    pub fn check_free(path: &Path, resuming: Option<&Path>) -> Result<(), RunError> {
        if path.join(RUN_FILE).exists() && resuming != Some(path) {
            return Err(RunError::Occupied {
                dir: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// An existing run and its `run.json`.
    pub fn open(path: &Path) -> Result<(Self, RunInfo), RunError> {
        let file = path.join(RUN_FILE);
        let text = std::fs::read_to_string(&file).map_err(|source| RunError::NotARun {
            dir: path.to_path_buf(),
            file: file.clone(),
            source,
        })?;
        let info: RunInfo = serde_json::from_str(&text).map_err(|e| RunError::Corrupt {
            path: file.clone(),
            message: e.to_string(),
        })?;
        if info.format != RUN_FORMAT {
            return Err(RunError::Corrupt {
                path: file,
                message: format!("format '{}', expected '{RUN_FORMAT}'", info.format),
            });
        }
        Ok((
            Self {
                path: path.to_path_buf(),
            },
            info,
        ))
    }

    /// Whether `path` holds a `run.json`.
    pub fn is_run(path: &Path) -> bool {
        path.join(RUN_FILE).is_file()
    }

    /// A run directory or a bare checkpoint directory: the checkpoint directory, and the
    /// run's description where there is one.
    pub fn resolve(path: &Path) -> Result<(PathBuf, Option<RunInfo>), RunError> {
        if Self::is_run(path) {
            let (run, info) = Self::open(path)?;
            Ok((run.checkpoint_dir(&info), Some(info)))
        } else {
            Ok((path.to_path_buf(), None))
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the agent's checkpoint lives (as `run.json` says).
    pub fn checkpoint_dir(&self, info: &RunInfo) -> PathBuf {
        self.path.join(&info.checkpoint)
    }

    /// The metrics log.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join(METRICS_FILE)
    }

    /// The final report.
    pub fn summary_path(&self) -> PathBuf {
        self.path.join(SUMMARY_FILE)
    }

    /// The sample melodies' directory, created.
    pub fn samples_dir(&self) -> Result<PathBuf, RunError> {
        self.subdir(SAMPLES_DIR)
    }

    /// The checkpoint directory a fresh run saves into, created.
    pub fn new_checkpoint_dir(&self) -> Result<PathBuf, RunError> {
        self.subdir(CHECKPOINT_DIR)
    }

    fn subdir(&self, name: &str) -> Result<PathBuf, RunError> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Writes `run.json` (atomically).
    pub fn write_info(&self, info: &RunInfo) -> Result<(), RunError> {
        self.write_json(&self.path.join(RUN_FILE), info)
    }

    /// Writes `summary.json` (atomically).
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<(), RunError> {
        self.write_json(&self.summary_path(), summary)
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), RunError> {
        let mut text = serde_json::to_string_pretty(value).map_err(|e| RunError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        cadenza_env::io::write_atomic(path, text.as_bytes()).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Copies the metrics log of the run `from` into this one (a resume into a new
    /// directory carries its history along).
    pub fn copy_metrics_from(&self, from: &RunDir) -> Result<(), RunError> {
        let source = from.metrics_path();
        if from != self && source.exists() {
            std::fs::copy(&source, self.metrics_path()).map_err(|e| RunError::Io {
                path: source,
                source: e,
            })?;
        }
        Ok(())
    }

    /// The trained agent, restored through the registry by the kind `run.json` names.
    pub fn load_agent(
        &self,
        info: &RunInfo,
        device: DeviceChoice,
    ) -> Result<Box<dyn Agent>, RunError> {
        Ok(info.kind()?.load(&self.checkpoint_dir(info), device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            format: RUN_FORMAT.to_string(),
            version: 1,
            task: "rl-tuner".to_string(),
            task_config: None,
            reward: "rl-tuner".to_string(),
            reward_toml: None,
            agent: "q".to_string(),
            agent_config: serde_json::json!({}),
            train: TrainConfig::default(),
            temperature: 1.0,
            seed: 0,
            steps_done: 0,
            checkpoint: CHECKPOINT_DIR.to_string(),
            prior: None,
            kl_coef: None,
        }
    }

    #[test]
    fn a_run_is_written_opened_and_guarded() {
        let tmp = std::env::temp_dir().join(format!("cadenza-rundir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let run = RunDir::create(&tmp, None).unwrap();
        run.write_info(&info()).unwrap();
        let (opened, read) = RunDir::open(&tmp).unwrap();
        assert_eq!(opened, run);
        assert_eq!(read.agent, "q");
        assert_eq!(opened.checkpoint_dir(&read), tmp.join(CHECKPOINT_DIR));
        let err = RunDir::create(&tmp, None).unwrap_err().to_string();
        assert!(err.contains("already holds a run"), "{err}");
        assert!(RunDir::create(&tmp, Some(&tmp)).is_ok());
        let (checkpoint, found) = RunDir::resolve(&tmp).unwrap();
        assert_eq!(checkpoint, tmp.join(CHECKPOINT_DIR));
        assert!(found.is_some());
        let bare = tmp.join(CHECKPOINT_DIR);
        let (checkpoint, found) = RunDir::resolve(&bare).unwrap();
        assert_eq!(checkpoint, bare);
        assert!(found.is_none());
        std::fs::write(tmp.join(RUN_FILE), "{\"format\": \"x\"}").unwrap();
        let err = RunDir::open(&tmp).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
        let err = RunDir::open(&bare).unwrap_err().to_string();
        assert!(err.contains("is not a run directory"), "{err}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
