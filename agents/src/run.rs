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
//! | `.lock` | the lock of the process writing the run, naming it ([`LockFile`]) |
//!
//! The command line, sessions and examples open runs through [`RunDir`] alone, so the layout
//! lives here once. A session may also be handed a bare checkpoint directory:
//! [`RunDir::resolve`] accepts both.
//!
//! # Writing a run, and surviving a kill
//!
//! A writer ([`RunDir::create`], [`RunDir::open_to_resume`]) holds the run's lock for as long
//! as it lives: a second writer is refused with a message naming the holder. `run.json` and
//! the checkpoint are committed together by [`RunDir::commit`]: the agent is saved into
//! `checkpoint.next/`, the new `run.json` is written as `run.json.next` (the commit point),
//! then both are moved into place. A run killed at any moment therefore holds a checkpoint
//! and a `run.json` that agree; the next writer finishes a committed move, or drops an
//! uncommitted one, before it reads the run. `metrics.jsonl` may run ahead of the last
//! commit; a resumed run keeps only its lines up to `steps_done`.

use crate::agent::{Agent, AgentError, DeviceChoice};
use crate::registry::{self, AgentKind};
use crate::train::{CheckpointSink, TrainConfig, TrainError, CHECKPOINT_DIR, METRICS_FILE};
use crate::trained::TrainedCheckpoint;
use cadenza_env::io::{LockError, LockFile};
use cadenza_env::TaskSpec;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Name of the run description inside a run directory.
pub const RUN_FILE: &str = "run.json";
/// Name of the final report inside a run directory.
pub const SUMMARY_FILE: &str = "summary.json";
/// Name of the sample melodies' directory inside a run directory.
pub const SAMPLES_DIR: &str = "samples";
/// The `format` field of `run.json`.
pub const RUN_FORMAT: &str = "cadenza-run";
/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = ".lock";
/// A committed `run.json` not yet moved into place (see the module docs).
const NEXT_RUN_FILE: &str = "run.json.next";
/// A checkpoint being written, or committed and not yet moved into place.
const NEXT_CHECKPOINT_DIR: &str = "checkpoint.next";
/// The checkpoint a commit replaces, until it is removed.
const OLD_CHECKPOINT_DIR: &str = "checkpoint.old";

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
    /// The directory holds other files and no run.
    #[error(
        "{} is not empty and holds no run ({RUN_FILE}): a run gets a new or empty directory; choose another --out",
        dir.display()
    )]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Another process is writing the run.
    #[error(transparent)]
    Locked(#[from] LockError),
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
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    /// The run's lock, held by a writer (shared by its clones).
    lock: Option<Arc<LockFile>>,
}

impl PartialEq for RunDir {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for RunDir {}

/// Whether two paths name the same directory (as the file system resolves them).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes a directory and everything in it; one that is not there is fine.
fn remove_dir(path: &Path) -> Result<(), RunError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

impl RunDir {
    /// A run directory to write at `path`, created if missing, and locked for this process.
    /// It must be new or empty, unless it is the run being resumed (`resuming`, whose lock
    /// it then shares).
    pub fn create(path: &Path, resuming: Option<&RunDir>) -> Result<Self, RunError> {
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        let lock = match resuming {
            Some(run) if same_dir(run.path(), path) && run.lock.is_some() => run.lock.clone(),
            _ => Some(Arc::new(Self::lock(path)?)),
        };
        Self::check_free(path, resuming.map(RunDir::path))?;
        Ok(Self {
            path: path.to_path_buf(),
            lock,
        })
    }

    fn lock(path: &Path) -> Result<LockFile, RunError> {
        Ok(LockFile::acquire(
            &path.join(LOCK_FILE),
            path,
            "cadenza train",
        )?)
    }

    /// Checks, before any work is done, that [`RunDir::create`] will accept `path`: it holds
    /// no run (unless it is `resuming`) and nothing else.
    pub fn check_free(path: &Path, resuming: Option<&Path>) -> Result<(), RunError> {
        if resuming.is_some_and(|r| same_dir(r, path)) {
            return Ok(());
        }
        if path.join(RUN_FILE).exists() || path.join(NEXT_RUN_FILE).exists() {
            return Err(RunError::Occupied {
                dir: path.to_path_buf(),
            });
        }
        let other = match std::fs::read_dir(path) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .any(|e| e.file_name() != LOCK_FILE),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => true,
            Err(e) => return Err(io_error(path)(e)),
        };
        if other || path.is_file() {
            return Err(RunError::NotEmpty {
                dir: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// An existing run to continue writing: locked for this process, a checkpoint commit
    /// that a killed writer left half done finished (or, uncommitted, dropped), and its
    /// `run.json` read.
    pub fn open_to_resume(path: &Path) -> Result<(Self, RunInfo), RunError> {
        if !(Self::is_run(path) || path.join(NEXT_RUN_FILE).is_file()) {
            // Reported as `open` reports it, without leaving a lock file in a stranger's
            // directory.
            return Self::open(path);
        }
        let lock = Arc::new(Self::lock(path)?);
        let run = Self {
            path: path.to_path_buf(),
            lock: Some(lock),
        };
        run.recover()?;
        let (_, info) = Self::open(path)?;
        Ok((run, info))
    }

    /// Finishes or drops the commit a killed writer left (see the module docs).
    fn recover(&self) -> Result<(), RunError> {
        let next_info = self.path.join(NEXT_RUN_FILE);
        let next = self.path.join(NEXT_CHECKPOINT_DIR);
        let current = self.path.join(CHECKPOINT_DIR);
        if next_info.is_file() {
            if next.is_dir() {
                remove_dir(&current)?;
                std::fs::rename(&next, &current).map_err(io_error(&next))?;
            }
            std::fs::rename(&next_info, self.path.join(RUN_FILE)).map_err(io_error(&next_info))?;
            cadenza_env::io::sync_dir(&next_info).map_err(io_error(&self.path))?;
        }
        remove_dir(&next)?;
        remove_dir(&self.path.join(OLD_CHECKPOINT_DIR))
    }

    /// Saves `agent` and writes `info` as one commit (see the module docs); `info` gets
    /// the checkpoint's place. A writer's call: the run must be locked by this process.
    pub fn commit(&self, agent: &dyn Agent, info: &mut RunInfo) -> Result<(), RunError> {
        debug_assert!(self.lock.is_some(), "commit without the run's lock");
        let next = self.path.join(NEXT_CHECKPOINT_DIR);
        let old = self.path.join(OLD_CHECKPOINT_DIR);
        let current = self.path.join(CHECKPOINT_DIR);
        remove_dir(&next)?;
        std::fs::create_dir_all(&next).map_err(io_error(&next))?;
        agent.save(&next)?;
        cadenza_env::io::sync_dir(&next).map_err(io_error(&self.path))?;
        info.checkpoint = CHECKPOINT_DIR.to_string();
        // The commit point: from here on the new checkpoint and run.json are the run.
        self.write_json(&self.path.join(NEXT_RUN_FILE), info)?;
        remove_dir(&old)?;
        if current.exists() {
            std::fs::rename(&current, &old).map_err(io_error(&current))?;
        }
        std::fs::rename(&next, &current).map_err(io_error(&next))?;
        let next_info = self.path.join(NEXT_RUN_FILE);
        std::fs::rename(&next_info, self.path.join(RUN_FILE)).map_err(io_error(&next_info))?;
        cadenza_env::io::sync_dir(&next_info).map_err(io_error(&self.path))?;
        remove_dir(&old)
    }

    /// Starts this run's `metrics.jsonl`: empty for a fresh run, else the lines of the run
    /// `from` up to its last commit (`steps_done`), so that no line outlives the checkpoint
    /// it belongs to. Lines that do not parse (a torn last line) are dropped.
    pub fn start_metrics(&self, from: Option<(&RunDir, u64)>) -> Result<(), RunError> {
        let mut kept = String::new();
        if let Some((from, steps_done)) = from {
            let source = from.metrics_path();
            let text = match std::fs::read_to_string(&source) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(io_error(&source)(e)),
            };
            for line in text.lines() {
                let step = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64));
                if step.is_some_and(|s| s <= steps_done) {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
        }
        let path = self.metrics_path();
        cadenza_env::io::write_atomic(&path, kept.as_bytes()).map_err(io_error(&path))
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
        let inside = Path::new(&info.checkpoint)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if info.checkpoint.is_empty() || !inside {
            return Err(RunError::Corrupt {
                path: file,
                message: format!(
                    "field 'checkpoint' = '{}': expected a directory inside the run (such as '{CHECKPOINT_DIR}')",
                    info.checkpoint
                ),
            });
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                lock: None,
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

    /// The trained agent, restored through the registry by the kind `run.json` names.
    ///
    /// The checkpoint must have been trained for the task `run.json` names (the file may have
    /// been edited): an error says the task differs, instead of the agent acting outside the
    /// task's actions later.
    pub fn load_agent(
        &self,
        info: &RunInfo,
        device: DeviceChoice,
    ) -> Result<Box<dyn Agent>, RunError> {
        let checkpoint = self.checkpoint_dir(info);
        let task = info.task()?;
        TrainedCheckpoint::open(&checkpoint)
            .and_then(|trained| trained.check_task(&task))
            .map_err(|e| RunError::Corrupt {
                path: self.path.join(RUN_FILE),
                message: format!(
                    "it names the task '{}', but the agent's checkpoint is not for it: {e}",
                    task.name
                ),
            })?;
        Ok(info.kind()?.load(&checkpoint, device)?)
    }
}

/// Commits the training loop's checkpoints into a run with its `run.json` (see
/// [`RunDir::commit`]).
#[derive(Debug)]
pub struct RunCheckpoints<'a> {
    /// The run, locked by this process.
    pub run: &'a RunDir,
    /// What `run.json` says; its `steps_done` follows each commit.
    pub info: &'a mut RunInfo,
}

impl CheckpointSink for RunCheckpoints<'_> {
    fn save(&mut self, agent: &dyn Agent, steps_done: u64) -> Result<(), TrainError> {
        self.info.steps_done = steps_done;
        self.run
            .commit(agent, self.info)
            .map_err(|e| TrainError::Checkpoint(Box::new(e)))
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

    fn scratch(name: &str) -> PathBuf {
        let tmp =
            std::env::temp_dir().join(format!("cadenza-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        tmp
    }

    #[test]
    fn a_run_is_written_opened_and_guarded() {
        let tmp = scratch("guard");
        let run = RunDir::create(&tmp, None).unwrap();
        run.write_info(&info()).unwrap();
        // A second writer is refused while the first holds the run, and told who has it.
        let err = RunDir::create(&tmp, None).unwrap_err().to_string();
        assert!(err.contains("is in use by cadenza train (pid"), "{err}");
        let err = RunDir::open_to_resume(&tmp).unwrap_err().to_string();
        assert!(err.contains("is in use by"), "{err}");
        drop(run);
        let (opened, read) = RunDir::open(&tmp).unwrap();
        assert_eq!(opened.path(), tmp);
        assert_eq!(read.agent, "q");
        assert_eq!(opened.checkpoint_dir(&read), tmp.join(CHECKPOINT_DIR));
        let err = RunDir::create(&tmp, None).unwrap_err().to_string();
        assert!(err.contains("already holds a run"), "{err}");
        let (resumed, _) = RunDir::open_to_resume(&tmp).unwrap();
        assert!(RunDir::create(&tmp, Some(&resumed)).is_ok());
        drop(resumed);
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
        let err = RunDir::open_to_resume(&bare).unwrap_err().to_string();
        assert!(err.contains("is not a run directory"), "{err}");
        assert!(!bare.join(LOCK_FILE).exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_checkpoint_outside_the_run_is_refused() {
        let tmp = scratch("outside");
        let run = RunDir::create(&tmp, None).unwrap();
        for bad in [
            "../other/checkpoint",
            "/tmp/checkpoint",
            "",
            "checkpoint/../../x",
        ] {
            let mut info = info();
            info.checkpoint = bad.to_string();
            run.write_info(&info).unwrap();
            let err = RunDir::open(&tmp).unwrap_err().to_string();
            assert!(err.contains("field 'checkpoint'"), "{bad}: {err}");
            assert!(err.contains("inside the run"), "{bad}: {err}");
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn only_a_new_or_empty_directory_takes_a_fresh_run() {
        let tmp = scratch("empty");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("notes.txt"), "mine").unwrap();
        let err = RunDir::create(&tmp, None).unwrap_err().to_string();
        assert!(err.contains("is not empty and holds no run"), "{err}");
        assert!(RunDir::check_free(&tmp, None).is_err());
        std::fs::remove_file(tmp.join("notes.txt")).unwrap();
        // A lock file left by an earlier attempt does not count.
        assert!(RunDir::create(&tmp, None).is_ok());
        assert!(RunDir::create(&tmp, None).is_ok());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// A saved "agent": one file holding a number, written atomically as agents do.
    fn save_marker(dir: &Path, value: &str) {
        std::fs::create_dir_all(dir).unwrap();
        cadenza_env::io::write_atomic(&dir.join("tabular.ckpt"), value.as_bytes()).unwrap();
    }

    fn state(dir: &Path) -> (u64, String) {
        let (run, info) = RunDir::open_to_resume(dir).unwrap();
        let ckpt = std::fs::read_to_string(run.checkpoint_dir(&info).join("tabular.ckpt"));
        let names = [NEXT_RUN_FILE, NEXT_CHECKPOINT_DIR, OLD_CHECKPOINT_DIR];
        assert!(names.iter().all(|n| !dir.join(n).exists()), "left over");
        (info.steps_done, ckpt.unwrap())
    }

    #[test]
    fn a_killed_commit_is_finished_or_dropped() {
        let tmp = scratch("commit");
        let write = |steps: u64, ckpt: &str| {
            let run = RunDir::create(&tmp, None).unwrap();
            run.write_info(&RunInfo {
                steps_done: steps,
                ..info()
            })
            .unwrap();
            save_marker(&tmp.join(CHECKPOINT_DIR), ckpt);
        };
        let next_info = |steps: u64| {
            let text = serde_json::to_string(&RunInfo {
                steps_done: steps,
                ..info()
            })
            .unwrap();
            std::fs::write(tmp.join(NEXT_RUN_FILE), text).unwrap();
        };
        // Killed while saving: the half-written checkpoint is dropped.
        write(10, "10");
        save_marker(&tmp.join(NEXT_CHECKPOINT_DIR), "2");
        assert_eq!(state(&tmp), (10, "10".into()));
        // Killed after the commit point, before anything moved.
        save_marker(&tmp.join(NEXT_CHECKPOINT_DIR), "20");
        next_info(20);
        assert_eq!(state(&tmp), (20, "20".into()));
        // ... between moving the old checkpoint away and the new one in.
        std::fs::rename(tmp.join(CHECKPOINT_DIR), tmp.join(OLD_CHECKPOINT_DIR)).unwrap();
        save_marker(&tmp.join(NEXT_CHECKPOINT_DIR), "30");
        next_info(30);
        assert_eq!(state(&tmp), (30, "30".into()));
        // ... after moving the checkpoint, before run.json.
        std::fs::rename(tmp.join(CHECKPOINT_DIR), tmp.join(OLD_CHECKPOINT_DIR)).unwrap();
        save_marker(&tmp.join(CHECKPOINT_DIR), "40");
        next_info(40);
        assert_eq!(state(&tmp), (40, "40".into()));
        // ... after run.json, before the old checkpoint was removed.
        save_marker(&tmp.join(OLD_CHECKPOINT_DIR), "40");
        assert_eq!(state(&tmp), (40, "40".into()));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn commits_and_metrics_agree() {
        use crate::tabular::{Algorithm, TabularAgent, TabularConfig};
        let tmp = scratch("metrics");
        let run = RunDir::create(&tmp, None).unwrap();
        let agent = TabularAgent::new(
            Algorithm::QLearning,
            TabularConfig::default(),
            "rl-tuner",
            38,
            100,
        )
        .unwrap();
        let mut info = info();
        let mut sink = RunCheckpoints {
            run: &run,
            info: &mut info,
        };
        sink.save(&agent, 7).unwrap();
        drop(run);
        let (run, read) = RunDir::open_to_resume(&tmp).unwrap();
        assert_eq!(read.steps_done, 7);
        assert!(run.checkpoint_dir(&read).join("tabular.ckpt").is_file());
        run.load_agent(&read, DeviceChoice::Cpu).unwrap();
        std::fs::write(
            run.metrics_path(),
            "{\"step\":5}\n{\"step\":7}\n{\"step\":9}\n{\"st",
        )
        .unwrap();
        run.start_metrics(Some((&run, 7))).unwrap();
        let text = std::fs::read_to_string(run.metrics_path()).unwrap();
        assert_eq!(text, "{\"step\":5}\n{\"step\":7}\n");
        run.start_metrics(None).unwrap();
        assert_eq!(std::fs::read_to_string(run.metrics_path()).unwrap(), "");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
