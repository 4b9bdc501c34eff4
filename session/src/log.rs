//! The durable session log: one JSON object per line, appended and fsynced.
//!
//! A log starts with the session's configuration and calibration; then, per round, the
//! phrase record (every candidate, the one played, the A/B pair), the feedback record, and
//! the model record (the posterior mean after the update). Each line is flushed to disk
//! before the session goes on, so a process killed at any moment leaves at most one torn
//! last line, and only the phrase being rated is lost.
//!
//! One process writes a log at a time: [`SessionLog`] holds an exclusive lock on
//! `LOG.lock` beside it while it lives, and a second writer (`session --resume LOG` twice) is
//! refused with a message naming the process that holds it.
//!
//! Reading is forgiving: a line that is not a valid record is reported with its line number
//! ([`CorruptLine`]) and the rest is still read. What a log rebuilds without the agent (the
//! listener model, a MIDI file of the session) is in [`replay`](crate::replay).

use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::round::{Calibration, Choice, Feedback};
use cadenza_env::improv::ImprovConfig;
use cadenza_env::io::LockFile;
use cadenza_env::Event;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The session's settings (first line).
    Session {
        /// The configuration.
        config: SessionConfig,
    },
    /// The standardisation fixed at session start.
    Calibration {
        /// Centers and scales.
        calibration: Calibration,
    },
    /// A proposal.
    Phrase {
        /// Round number.
        round: u64,
        /// Events of every candidate.
        candidates: Vec<Vec<Event>>,
        /// Index of the candidate played.
        played: usize,
        /// The A/B pair asked about.
        pair: Option<(usize, usize)>,
    },
    /// The listener's reaction.
    Feedback {
        /// Round number.
        round: u64,
        /// Rating of the played phrase.
        rating: Option<u8>,
        /// A/B answer.
        preference: Option<Choice>,
    },
    /// A change of task between rounds (key, progression, tempo): the rounds after it are
    /// played over the new task.
    Settings {
        /// The round about to be proposed.
        round: u64,
        /// The new task.
        task: ImprovConfig,
    },
    /// The listener model after the update (for reading; replay recomputes it).
    Model {
        /// Round number.
        round: u64,
        /// Observations learned from.
        observations: usize,
        /// Posterior mean of the weights.
        weights: Vec<f64>,
        /// Posterior mean of the bias.
        bias: f64,
        /// Checksum of a policy-gradient agent's weights after the round's update (FNV-1a 64
        /// of the little-endian `f32`s, in hex): a resumed session checks that replaying the
        /// logged updates gives the same weights. Absent for tabular agents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
}

/// A line that could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptLine {
    /// Line number, from 1.
    pub line: usize,
    /// Why.
    pub message: String,
}

/// An open log, appending; locked for this process while it lives.
#[derive(Debug)]
pub struct SessionLog {
    file: File,
    path: String,
    _lock: LockFile,
}

/// Locks the log at `path` for this process (see the module docs).
fn lock(path: &Path) -> Result<LockFile, SessionError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    LockFile::acquire(Path::new(&name), path, "cadenza session").map_err(|e| SessionError::Log {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SessionError + '_ {
    move |source| SessionError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl SessionLog {
    /// A new log at `path`; an existing non-empty file is an error (resume it instead).
    pub fn create(path: &Path) -> Result<Self, SessionError> {
        let lock = lock(path)?;
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err(SessionError::Log {
                path: path.display().to_string(),
                message: "exists and is not empty: resume it, or choose another file".into(),
            });
        }
        let file = File::create(path).map_err(io_error(path))?;
        Ok(Self {
            file,
            path: path.display().to_string(),
            _lock: lock,
        })
    }

    /// Opens an existing log for appending. A torn last line (no newline) is closed first,
    /// so that new records start on a line of their own. Take it before reading the log
    /// to continue it, so that no other writer adds to it in between.
    pub fn append_to(path: &Path) -> Result<Self, SessionError> {
        if !path.is_file() {
            // Reported as opening it reports it, without leaving a lock file behind.
            File::open(path).map_err(io_error(path))?;
        }
        let lock = lock(path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        if len > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))
                .map_err(io_error(path))?;
            file.read_exact(&mut last).map_err(io_error(path))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(io_error(path))?;
                file.sync_data().map_err(io_error(path))?;
            }
        }
        Ok(Self {
            file,
            path: path.display().to_string(),
            _lock: lock,
        })
    }

    /// Appends one record as one line and waits until it is on disk.
    pub fn append(&mut self, record: &Record) -> Result<(), SessionError> {
        let mut line = serde_json::to_string(record).map_err(|e| SessionError::Log {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        let err = |source| SessionError::Io {
            path: self.path.clone(),
            source,
        };
        // One write per record: a kill leaves a torn tail at worst, never interleaved lines.
        self.file.write_all(line.as_bytes()).map_err(err)?;
        self.file.sync_data().map_err(err)
    }
}

/// A round as logged: what was proposed.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRound {
    /// Round number.
    pub round: u64,
    /// Events of every candidate.
    pub candidates: Vec<Vec<Event>>,
    /// The candidate played.
    pub played: usize,
    /// The A/B pair.
    pub pair: Option<(usize, usize)>,
}

impl LoggedRound {
    /// Whether the round fits its own candidates (`path`, the log, is named in errors): the
    /// indices played and asked about are candidates', and with `length` every candidate has
    /// that many events.
    pub(crate) fn check(&self, path: &Path, length: Option<usize>) -> Result<(), SessionError> {
        let corrupt = |message: String| SessionError::Log {
            path: path.display().to_string(),
            message: format!("round {}: {message}", self.round),
        };
        let n = self.candidates.len();
        if self.played >= n || self.pair.is_some_and(|(a, b)| a >= n || b >= n) {
            return Err(corrupt("logged indices outside its candidates".into()));
        }
        if let Some(length) = length {
            if let Some((i, c)) = self
                .candidates
                .iter()
                .enumerate()
                .find(|(_, c)| c.len() != length)
            {
                return Err(corrupt(format!(
                    "candidate {i} has {} events, expected {length}",
                    c.len()
                )));
            }
        }
        Ok(())
    }
}

/// One step of a session's history (see [`LogContents::timeline`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// The task changed.
    Settings(ImprovConfig),
    /// A round was answered.
    Answered(LoggedRound, Feedback),
}

/// A log as read: its records with line numbers, and the lines that could not be read.
#[derive(Debug, Clone, Default)]
pub struct LogContents {
    /// Valid records and their line numbers (from 1).
    pub records: Vec<(usize, Record)>,
    /// Lines that are not valid records.
    pub corrupt: Vec<CorruptLine>,
}

/// Reads a log. Only a file that cannot be read at all is an error.
pub fn read(path: &Path) -> Result<LogContents, SessionError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    Ok(parse(&bytes))
}

/// Parses log bytes (see [`read`]).
pub fn parse(bytes: &[u8]) -> LogContents {
    let mut contents = LogContents::default();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => contents.records.push((i + 1, record)),
            Err(e) => contents.corrupt.push(CorruptLine {
                line: i + 1,
                message: e.to_string(),
            }),
        }
    }
    contents
}

impl LogContents {
    /// The session's configuration and calibration (the first of each).
    pub fn header(&self, path: &Path) -> Result<(SessionConfig, Calibration), SessionError> {
        let config = self.records.iter().find_map(|(_, r)| match r {
            Record::Session { config } => Some(config.clone()),
            _ => None,
        });
        let calibration = self.records.iter().find_map(|(_, r)| match r {
            Record::Calibration { calibration } => Some(calibration.clone()),
            _ => None,
        });
        match (config, calibration) {
            (Some(c), Some(k)) => Ok((c, k)),
            _ => Err(SessionError::Log {
                path: path.display().to_string(),
                message: "no session and calibration records: not a session log".into(),
            }),
        }
    }

    /// Rounds that were answered, in order, each with its feedback. A round counts when its
    /// phrase record is followed by its feedback record; rounds are taken in sequence from
    /// 0, and anything out of sequence (a duplicate, a gap) ends the replay there.
    pub fn answered_rounds(&self) -> Vec<(LoggedRound, Feedback)> {
        self.timeline()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Answered(round, feedback) => Some((round, feedback)),
                Entry::Settings(_) => None,
            })
            .collect()
    }

    /// The answered rounds (as [`LogContents::answered_rounds`]) and the changes of task
    /// between them, in the order they happened.
    pub fn timeline(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut pending: Option<LoggedRound> = None;
        let mut next = 0u64;
        for (_, record) in &self.records {
            match record {
                Record::Phrase {
                    round,
                    candidates,
                    played,
                    pair,
                } if *round == next => {
                    pending = Some(LoggedRound {
                        round: *round,
                        candidates: candidates.clone(),
                        played: *played,
                        pair: *pair,
                    });
                }
                Record::Feedback {
                    round,
                    rating,
                    preference,
                } if pending.as_ref().is_some_and(|p| p.round == *round) => {
                    let logged = pending.take().expect("checked");
                    out.push(Entry::Answered(
                        logged,
                        Feedback {
                            rating: *rating,
                            preference: *preference,
                        },
                    ));
                    next += 1;
                }
                Record::Settings { task, .. } => out.push(Entry::Settings(task.clone())),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_has_one_writer_and_says_who() {
        let dir = std::env::temp_dir().join(format!("cadenza-log-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.jsonl");
        let first = SessionLog::create(&path).unwrap();
        let err = SessionLog::append_to(&path).unwrap_err().to_string();
        assert!(err.contains("is in use by cadenza session (pid"), "{err}");
        drop(first);
        let again = SessionLog::append_to(&path).unwrap();
        let err = SessionLog::append_to(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(again);
        let missing = SessionLog::append_to(&dir.join("none.jsonl")).unwrap_err();
        assert!(matches!(missing, SessionError::Io { .. }), "{missing}");
        assert!(!dir.join("none.jsonl.lock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_lines_are_reported_and_the_rest_is_read() {
        let good = serde_json::to_string(&Record::Feedback {
            round: 0,
            rating: Some(3),
            preference: Some(Choice::B),
        })
        .unwrap();
        let text =
            format!("{good}\n{{\"type\":\"feedback\",\"rou\n\nnot json\n{good}\n{{\"type\":\"phr");
        let contents = parse(text.as_bytes());
        assert_eq!(contents.records.len(), 2);
        assert_eq!(contents.records[1].0, 5);
        let lines: Vec<usize> = contents.corrupt.iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 4, 6]);
    }
}
