//! The durable session log: one JSON object per line, appended and fsynced.
//!
//! A log starts with the session's configuration and calibration; then, per round, the
//! phrase record (every candidate, the one played, the A/B pair), the feedback record, and
//! the model record (the posterior mean after the update); in duet mode, a record per
//! answered call and per rating of an answer ([`crate::duet`]). Each line is flushed to disk
//! before the session goes on, so a process killed at any moment leaves at most one torn
//! last line, and only the phrase being rated is lost.
//!
//! # What a line carries
//!
//! ```text
//! {"seq":7,"sum":"5e0f3a1c9b2d4e68","type":"feedback","round":2,"rating":4,"preference":"a"}
//! ```
//!
//! `seq` numbers the records of a log from 0, in the order they were written; `sum` is the
//! FNV-1a 64 ([`fnv1a64`]) of the line without its `"sum":"...",` field, in hex. With them a
//! reader tells a damaged line (its checksum fails) from a good one, puts swapped lines back
//! in order, and names the records that are missing. Logs written before these fields
//! existed have records without them: they are read as before and counted as *unchecked*
//! ([`LogReport::unchecked`]).
//!
//! # Writing
//!
//! [`SessionLog::append`] writes a record as one line and fsyncs it; only then does it return
//! `Ok`, and only then does the session act on the record (a web client gets its answer
//! after that). A write or a flush that fails (a full disk) is an error, and the writer cuts
//! the file back to its last complete line, so the next record starts on a clean line of its
//! own (where even that fails, the next record begins with a newline and the half line is
//! reported as corrupt by readers). A retried record reuses its sequence number, and readers
//! keep the later of two lines with the same number. Where the log goes is a [`LogStorage`]:
//! a file, or in tests a storage that fails on purpose.
//!
//! One process writes a log at a time: a writer holds an exclusive lock on `LOG.lock` beside
//! it ([`LogLock`]) while it lives, taken before the log is read to be continued, and a second
//! writer (`session --resume LOG` twice) is refused with a message naming the process that
//! holds it.
//!
//! # Reading
//!
//! Reading is forgiving: a line that is not a valid record, or whose checksum fails, is
//! reported with its line number ([`CorruptLine`]) and the rest is still read. Records are
//! strict: an unknown or misspelt field makes the line corrupt rather than silently lose a
//! value. [`LogContents::timeline`] rebuilds the answered rounds around whatever is damaged:
//! a round whose feedback (or phrase) cannot be read is skipped and reported
//! ([`SkippedRound`]), and every later round is kept. What a log rebuilds without the agent
//! (the listener model, a MIDI file of the session) is in [`replay`](crate::replay).

use crate::config::SessionConfig;
use crate::controls::Controls;
use crate::error::SessionError;
use crate::round::{Calibration, Choice, Feedback};
use cadenza_env::hash::fnv1a64;
use cadenza_env::improv::ImprovConfig;
use cadenza_env::io::LockFile;
use cadenza_env::Event;
use serde::{Deserialize, Deserializer, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A field that must be present in a record even when its value is `null`: a misspelt key
/// is then an error instead of a value silently lost.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
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
        #[serde(deserialize_with = "present")]
        pair: Option<(usize, usize)>,
    },
    /// The listener's reaction.
    Feedback {
        /// Round number.
        round: u64,
        /// Rating of the played phrase.
        #[serde(deserialize_with = "present")]
        rating: Option<u8>,
        /// A/B answer.
        #[serde(deserialize_with = "present")]
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
    /// What the listener asked for in musical terms, from this round on (see
    /// [`Controls`]).
    Controls {
        /// The round about to be proposed.
        round: u64,
        /// The controls.
        controls: Controls,
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
    /// A call the listener played in duet mode and the answer it got
    /// ([`crate::duet`]).
    DuetCall {
        /// Exchange number, from 0.
        exchange: u64,
        /// The call's events (the duet task's encoding).
        call: Vec<Event>,
        /// The answer's events.
        answer: Vec<Event>,
    },
    /// The listener's rating of a duet answer.
    DuetRating {
        /// Exchange number.
        exchange: u64,
        /// Rating, 1..=5.
        rating: u8,
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

/// A round that a reader had to leave out, because a record it needs is damaged or missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRound {
    /// The round.
    pub round: u64,
    /// The line of the record that shows the round (from 1).
    pub line: usize,
    /// Why it was left out.
    pub reason: String,
}

/// Something a reader noticed and worked around without losing a record: lines out of
/// order, a record written twice, sequence numbers missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Line number, from 1.
    pub line: usize,
    /// What was noticed and what was done.
    pub message: String,
}

/// Everything a reader skipped or worked around in a log: what `session replay` and
/// `--resume` report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// Lines that could not be read (damaged, checksum failed, torn).
    pub corrupt: Vec<CorruptLine>,
    /// Rounds left out because a record they need is damaged or missing.
    pub skipped: Vec<SkippedRound>,
    /// Lines read out of order, written twice, or missing from the sequence.
    pub notices: Vec<Notice>,
    /// Records without sequence number and checksum (written before they existed): read as
    /// they are, without a check.
    pub unchecked: usize,
}

impl LogReport {
    /// One line per finding, each naming `path` and its line number, for a terminal.
    pub fn lines(&self, path: &Path) -> Vec<String> {
        let p = path.display();
        let mut out = Vec::new();
        for c in &self.corrupt {
            out.push(format!(
                "{p}:{}: skipped a corrupt line: {}",
                c.line, c.message
            ));
        }
        for s in &self.skipped {
            out.push(format!(
                "{p}:{}: skipped round {}: {}",
                s.line, s.round, s.reason
            ));
        }
        for n in &self.notices {
            out.push(format!("{p}:{}: {}", n.line, n.message));
        }
        if self.unchecked > 0 {
            out.push(format!(
                "{p}: {} records without sequence numbers and checksums (an older log): read unchecked",
                self.unchecked
            ));
        }
        out
    }
}

/// Where a log's bytes go: an append-only file, or in tests a storage that fails on purpose
/// (a full disk). The writer needs to append, flush to disk, and cut a half-written line off.
pub trait LogStorage: Write + Send + std::fmt::Debug {
    /// Waits until what was written is on disk.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the log back to `len` bytes (to drop a line whose write failed).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl LogStorage for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // Opened for appending: the next write goes to the new end.
        self.set_len(len)?;
        self.sync_data()
    }
}

/// The exclusive lock of a log file, held by its one writer (see the module docs).
#[derive(Debug)]
pub struct LogLock {
    // Only held: the lock lives as long as this handle.
    _file: LockFile,
}

impl LogLock {
    /// Locks the log at `path` for this process; the error names the process that holds it.
    /// A log that does not exist is reported as reading it reports it.
    pub fn acquire(path: &Path) -> Result<Self, SessionError> {
        if !path.is_file() {
            File::open(path).map_err(io_error(path))?;
        }
        Self::take(path)
    }

    fn take(path: &Path) -> Result<Self, SessionError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        LockFile::acquire(Path::new(&name), path, "cadenza session")
            .map(|file| Self { _file: file })
            .map_err(|e| SessionError::Log {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }
}

/// An open log, appending. See the module docs.
#[derive(Debug)]
pub struct SessionLog {
    /// The file's lock (none for other storage).
    _lock: Option<LogLock>,
    storage: Box<dyn LogStorage>,
    path: String,
    /// Bytes of complete, flushed lines.
    len: u64,
    /// The sequence number of the next record.
    next_seq: u64,
    /// A failed write may have left part of a line that could not be cut off.
    torn: bool,
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
        let lock = LogLock::take(path)?;
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err(SessionError::Log {
                path: path.display().to_string(),
                message: "exists and is not empty: resume it, or choose another file".into(),
            });
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        let mut log = Self::with_storage(Box::new(file), &path.display().to_string(), 0, 0);
        log._lock = Some(lock);
        Ok(log)
    }

    /// A log written to `storage` (named `name` in errors) that already holds `len` bytes of
    /// complete lines and whose next record is number `next_seq`.
    pub fn with_storage(storage: Box<dyn LogStorage>, name: &str, len: u64, next_seq: u64) -> Self {
        Self {
            _lock: None,
            storage,
            path: name.to_string(),
            len,
            next_seq,
            torn: false,
        }
    }

    /// Opens an existing log for appending, its records numbered on from `contents` (the log
    /// as read, under `lock`, which the log then holds). A torn last line (no newline) is
    /// closed first, so that new records start on a line of their own.
    pub fn append_to(
        path: &Path,
        contents: &LogContents,
        lock: LogLock,
    ) -> Result<Self, SessionError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_error(path))?;
        let mut len = file.metadata().map_err(io_error(path))?.len();
        if len > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))
                .map_err(io_error(path))?;
            file.read_exact(&mut last).map_err(io_error(path))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(io_error(path))?;
                file.sync_data().map_err(io_error(path))?;
                len += 1;
            }
        }
        let mut log = Self::with_storage(
            Box::new(file),
            &path.display().to_string(),
            len,
            contents.next_seq,
        );
        log._lock = Some(lock);
        Ok(log)
    }

    /// The line of `record` with sequence number `seq` (see the module docs), newline
    /// included.
    pub fn line(record: &Record, seq: u64) -> Result<String, serde_json::Error> {
        let body = serde_json::to_string(record)?;
        // `body` is an object: "{...}". The checksum covers the line without its sum field.
        let covered = format!("{{\"seq\":{seq},{}", &body[1..]);
        let sum = fnv1a64(covered.as_bytes());
        Ok(format!(
            "{{\"seq\":{seq},\"sum\":\"{sum:016x}\",{}\n",
            &body[1..]
        ))
    }

    /// Appends one record as one line and waits until it is on disk. An error means the
    /// record is not in the log: the half-written line, if any, is cut off (see the module
    /// docs), and appending the record again is safe.
    pub fn append(&mut self, record: &Record) -> Result<(), SessionError> {
        let line = Self::line(record, self.next_seq).map_err(|e| SessionError::Log {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let err = |source| SessionError::Io {
            path: self.path.clone(),
            source,
        };
        if self.torn {
            // The last failure could not cut its half line off: try again, else start afresh
            // on a new line (the half line stays, and readers report it as corrupt).
            if self.storage.truncate(self.len).is_ok() {
                self.torn = false;
            }
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        if self.torn {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line.as_bytes());
        // One write per record: a kill leaves a torn tail at worst, never interleaved lines.
        let written = self
            .storage
            .write_all(&bytes)
            .and_then(|()| self.storage.flush())
            .and_then(|()| self.storage.sync());
        match written {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.next_seq += 1;
                self.torn = false;
                Ok(())
            }
            Err(e) => {
                // What was written may be part of a line, or a whole line that is not known
                // to be on disk: either way it was not acknowledged, so it goes.
                if !self.torn {
                    self.torn = self.storage.truncate(self.len).is_err();
                }
                Err(err(e))
            }
        }
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
    /// The musical controls changed.
    Controls(Controls),
    /// A round was answered.
    Answered(LoggedRound, Feedback),
    /// A duet call was answered.
    DuetCall {
        /// The exchange's number.
        exchange: u64,
        /// The answer played.
        answer: Vec<Event>,
    },
    /// A duet answer was rated.
    DuetRating {
        /// The exchange's number.
        exchange: u64,
        /// The rating, 1..=5.
        rating: u8,
    },
}

/// A session's history as [`LogContents::timeline`] rebuilds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The changes of task and controls, the answered rounds and the duet records, in the
    /// order they happened.
    pub entries: Vec<Entry>,
    /// The phrase proposed last and not answered (the one a resumed session proposes again).
    pub waiting: Option<LoggedRound>,
    /// Rounds left out, and why.
    pub skipped: Vec<SkippedRound>,
}

/// A log as read: its records in the order they were written, with line numbers, and what
/// could not be read.
#[derive(Debug, Clone, Default)]
pub struct LogContents {
    /// Valid records and their line numbers (from 1), in sequence order (see the module
    /// docs).
    pub records: Vec<(usize, Record)>,
    /// Lines that are not valid records.
    pub corrupt: Vec<CorruptLine>,
    /// Lines out of order, written twice, or missing from the sequence.
    pub notices: Vec<Notice>,
    /// Records without sequence number and checksum.
    pub unchecked: usize,
    /// The sequence number the next record gets (one past the highest read).
    pub next_seq: u64,
}

/// Reads a log. Only a file that cannot be read at all is an error.
pub fn read(path: &Path) -> Result<LogContents, SessionError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    Ok(parse(&bytes))
}

/// A line's sequence number and record, checked against its checksum when it has one.
fn parse_line(line: &[u8]) -> Result<(Option<u64>, Record), String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    let seq = match (map.remove("seq"), map.remove("sum")) {
        (None, None) => None,
        (Some(_), Some(_)) => Some(check_sum(line)?),
        (Some(_), None) => return Err("a sequence number without a checksum".into()),
        (None, Some(_)) => return Err("a checksum without a sequence number".into()),
    };
    let record = Record::deserialize(serde_json::Value::Object(map)).map_err(|e| e.to_string())?;
    Ok((seq, record))
}

/// The sequence number of a checked line whose checksum holds (see the module docs).
fn check_sum(line: &[u8]) -> Result<u64, String> {
    let malformed = || "a malformed sequence number or checksum field".to_string();
    let rest = line.strip_prefix(b"{\"seq\":").ok_or_else(malformed)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq: u64 = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    let rest = rest[digits..]
        .strip_prefix(b",\"sum\":\"")
        .ok_or_else(malformed)?;
    if rest.len() < 18 || &rest[16..18] != b"\"," {
        return Err(malformed());
    }
    let sum = std::str::from_utf8(&rest[..16])
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(malformed)?;
    let mut covered = format!("{{\"seq\":{seq},").into_bytes();
    covered.extend_from_slice(&rest[18..]);
    if fnv1a64(&covered) != sum {
        return Err(format!(
            "checksum mismatch (record {seq}): the line was changed or damaged"
        ));
    }
    Ok(seq)
}

/// Parses log bytes (see [`read`]).
pub fn parse(bytes: &[u8]) -> LogContents {
    let mut contents = LogContents::default();
    // (line, seq, record) in file order.
    let mut lines: Vec<(usize, Option<u64>, Record)> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parse_line(line) {
            Ok((seq, record)) => {
                contents.unchecked += usize::from(seq.is_none());
                lines.push((i + 1, seq, record));
            }
            Err(message) => contents.corrupt.push(CorruptLine {
                line: i + 1,
                message,
            }),
        }
    }

    // A sequence number written twice: a record retried after a failed write, whose first
    // copy could not be cut off. The later line wins.
    let mut last_of: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (k, (_, seq, _)) in lines.iter().enumerate() {
        if let Some(seq) = seq {
            last_of.insert(*seq, k);
        }
    }
    let mut kept = Vec::with_capacity(lines.len());
    for (k, entry) in lines.into_iter().enumerate() {
        if let Some(seq) = entry.1 {
            let last = last_of[&seq];
            if last != k {
                contents.notices.push(Notice {
                    line: entry.0,
                    message: format!(
                        "record {seq} is written again later: this copy is replaced by the later one"
                    ),
                });
                continue;
            }
        }
        kept.push(entry);
    }

    // Checked records in sequence order, in the places checked records hold in the file;
    // unchecked records (an older log) keep their places.
    let slots: Vec<usize> = (0..kept.len()).filter(|&k| kept[k].1.is_some()).collect();
    let mut checked: Vec<(usize, u64)> = slots
        .iter()
        .map(|&k| (k, kept[k].1.unwrap_or_default()))
        .collect();
    let mut highest: Option<(u64, usize)> = None;
    for &(k, seq) in &checked {
        match highest {
            Some((h, line)) if seq < h => contents.notices.push(Notice {
                line: kept[k].0,
                message: format!(
                    "record {seq} comes after record {h} (line {line}): read in sequence order"
                ),
            }),
            _ => highest = Some((seq, kept[k].0)),
        }
    }
    checked.sort_by_key(|&(_, seq)| seq);
    for pair in checked.windows(2) {
        let (a, b) = (pair[0].1, pair[1].1);
        if b > a + 1 {
            contents.notices.push(Notice {
                line: kept[pair[1].0].0,
                message: if b == a + 2 {
                    format!("record {} is missing before this line", a + 1)
                } else {
                    format!(
                        "records {} to {} are missing before this line",
                        a + 1,
                        b - 1
                    )
                },
            });
        }
    }
    contents.next_seq = checked.last().map_or(0, |&(_, seq)| seq + 1);
    let order: Vec<usize> = {
        let mut order: Vec<usize> = (0..kept.len()).collect();
        for (slot, &(k, _)) in slots.iter().zip(&checked) {
            order[*slot] = k;
        }
        order
    };
    let mut kept: Vec<Option<(usize, Option<u64>, Record)>> = kept.into_iter().map(Some).collect();
    contents.records = order
        .into_iter()
        .filter_map(|k| kept[k].take())
        .map(|(line, _, record)| (line, record))
        .collect();
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

    /// Rounds that were answered, in order, each with its feedback (see
    /// [`LogContents::timeline`]).
    pub fn answered_rounds(&self) -> Vec<(LoggedRound, Feedback)> {
        self.timeline()
            .entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Answered(round, feedback) => Some((round, feedback)),
                _ => None,
            })
            .collect()
    }

    /// The answered rounds, the changes of task and controls, and the duet exchanges and
    /// their ratings between them, in the order they happened. A round counts when its phrase record is followed by its feedback record.
    /// A round whose feedback or phrase cannot be read (a corrupt or missing line) is skipped
    /// and reported, and the rounds after it are kept; a phrase proposed again (after a
    /// resume or a change of task) replaces the earlier proposal of its round.
    pub fn timeline(&self) -> Timeline {
        let mut out = Timeline::default();
        let mut pending: Option<(usize, LoggedRound)> = None;
        // The lowest round that may still be answered.
        let mut next = 0u64;
        let skip = |out: &mut Timeline, round: u64, line: usize, reason: String| {
            out.skipped.push(SkippedRound {
                round,
                line,
                reason,
            });
        };
        // Rounds from `next` to `upto` (excluded) that left no readable record at all.
        let gap = |out: &mut Timeline, next: u64, upto: u64, line: usize| {
            if upto > next {
                let reason = if upto == next + 1 {
                    "no readable record of this round (its lines are missing or corrupt)".into()
                } else {
                    format!(
                        "no readable record of rounds {next} to {} (their lines are missing or corrupt)",
                        upto - 1
                    )
                };
                skip(out, next, line, reason);
            }
        };
        for (line, record) in &self.records {
            let line = *line;
            match record {
                Record::Phrase {
                    round,
                    candidates,
                    played,
                    pair,
                } => {
                    let round = *round;
                    if round < next {
                        skip(
                            &mut out,
                            round,
                            line,
                            "a phrase for a round that was already answered or skipped: ignored"
                                .into(),
                        );
                        continue;
                    }
                    if let Some((at, p)) = pending.take() {
                        if p.round != round {
                            skip(
                                &mut out,
                                p.round,
                                at,
                                format!(
                                    "its feedback is missing or unreadable (the next phrase, of round {round}, is on line {line})"
                                ),
                            );
                            next = p.round + 1;
                        }
                    }
                    gap(&mut out, next, round, line);
                    next = round;
                    pending = Some((
                        line,
                        LoggedRound {
                            round,
                            candidates: candidates.clone(),
                            played: *played,
                            pair: *pair,
                        },
                    ));
                }
                Record::Feedback {
                    round,
                    rating,
                    preference,
                } => {
                    let round = *round;
                    match pending.take() {
                        Some((_, p)) if p.round == round => {
                            out.entries.push(Entry::Answered(
                                p,
                                Feedback {
                                    rating: *rating,
                                    preference: *preference,
                                },
                            ));
                            next = round + 1;
                        }
                        other => {
                            if round < next {
                                pending = other;
                                skip(
                                    &mut out,
                                    round,
                                    line,
                                    "a second feedback for a round already answered or skipped: ignored"
                                        .into(),
                                );
                                continue;
                            }
                            if let Some((at, p)) = other {
                                skip(
                                    &mut out,
                                    p.round,
                                    at,
                                    "its feedback is missing or unreadable".into(),
                                );
                                next = p.round + 1;
                            }
                            gap(&mut out, next, round, line);
                            skip(
                                &mut out,
                                round,
                                line,
                                "its phrase is missing or unreadable, so the feedback cannot be applied"
                                    .into(),
                            );
                            next = round + 1;
                        }
                    }
                }
                Record::Settings { task, .. } => out.entries.push(Entry::Settings(task.clone())),
                Record::Controls { controls, .. } => {
                    out.entries.push(Entry::Controls(controls.clone()))
                }
                Record::DuetCall {
                    exchange, answer, ..
                } => out.entries.push(Entry::DuetCall {
                    exchange: *exchange,
                    answer: answer.clone(),
                }),
                Record::DuetRating { exchange, rating } => out.entries.push(Entry::DuetRating {
                    exchange: *exchange,
                    rating: *rating,
                }),
                Record::Session { .. } | Record::Calibration { .. } | Record::Model { .. } => {}
            }
        }
        out.waiting = pending.map(|(_, p)| p);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback(round: u64, rating: u8) -> Record {
        Record::Feedback {
            round,
            rating: Some(rating),
            preference: Some(Choice::B),
        }
    }

    fn phrase(round: u64) -> Record {
        Record::Phrase {
            round,
            candidates: vec![vec![1, 2], vec![3, 4]],
            played: 0,
            pair: Some((0, 1)),
        }
    }

    #[test]
    fn a_log_has_one_writer_and_says_who() {
        let dir = std::env::temp_dir().join(format!("cadenza-log-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.jsonl");
        let first = SessionLog::create(&path).unwrap();
        let err = LogLock::acquire(&path).unwrap_err().to_string();
        assert!(err.contains("is in use by cadenza session (pid"), "{err}");
        assert!(SessionLog::create(&path).is_err());
        drop(first);
        let lock = LogLock::acquire(&path).unwrap();
        let contents = read(&path).unwrap();
        let again = SessionLog::append_to(&path, &contents, lock).unwrap();
        let err = LogLock::acquire(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(again);
        let missing = LogLock::acquire(&dir.join("none.jsonl")).unwrap_err();
        assert!(matches!(missing, SessionError::Io { .. }), "{missing}");
        assert!(!dir.join("none.jsonl.lock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_lines_are_reported_and_the_rest_is_read() {
        let good = serde_json::to_string(&feedback(0, 3)).unwrap();
        let text =
            format!("{good}\n{{\"type\":\"feedback\",\"rou\n\nnot json\n{good}\n{{\"type\":\"phr");
        let contents = parse(text.as_bytes());
        assert_eq!(contents.records.len(), 2);
        assert_eq!(contents.records[1].0, 5);
        assert_eq!(contents.unchecked, 2);
        let lines: Vec<usize> = contents.corrupt.iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 4, 6]);
    }

    #[test]
    fn a_checked_line_round_trips_and_any_changed_byte_is_caught() {
        let line = SessionLog::line(&feedback(2, 4), 7).unwrap();
        assert!(line.starts_with("{\"seq\":7,\"sum\":\""), "{line}");
        let contents = parse(line.as_bytes());
        assert_eq!(contents.records, vec![(1, feedback(2, 4))]);
        assert_eq!(contents.unchecked, 0);
        assert_eq!(contents.next_seq, 8);
        // A changed rating still parses as JSON, but not past the checksum.
        let changed = line.replace("\"rating\":4", "\"rating\":5");
        let contents = parse(changed.as_bytes());
        assert!(contents.records.is_empty());
        assert!(
            contents.corrupt[0].message.contains("checksum"),
            "{:?}",
            contents.corrupt
        );
    }

    #[test]
    fn a_misspelt_field_is_corrupt_not_a_lost_value() {
        for text in [
            r#"{"type":"feedback","round":0,"ratng":4,"preference":null}"#,
            r#"{"type":"feedback","round":0,"preference":null}"#,
            r#"{"type":"feedback","round":0,"rating":4,"preference":null,"extra":1}"#,
        ] {
            let contents = parse(text.as_bytes());
            assert!(contents.records.is_empty(), "{text}");
            assert_eq!(contents.corrupt.len(), 1, "{text}");
        }
        // The old form, with its nulls, still reads.
        let old = r#"{"type":"feedback","round":0,"rating":null,"preference":"a"}"#;
        assert_eq!(parse(old.as_bytes()).records.len(), 1);
    }

    /// Rounds 0..n as a checked log: phrase, feedback, per round (no header).
    fn rounds(n: u64) -> Vec<String> {
        let mut seq = 0;
        let mut out = Vec::new();
        for r in 0..n {
            for record in [phrase(r), feedback(r, (r % 5) as u8 + 1)] {
                out.push(SessionLog::line(&record, seq).unwrap());
                seq += 1;
            }
        }
        out
    }

    #[test]
    fn a_damaged_feedback_skips_its_round_only() {
        let mut lines = rounds(10);
        // Round 4's feedback is line 10.
        lines[9] = lines[9].replace("\"round\":4", "\"round\":\"x\"");
        let contents = parse(lines.concat().as_bytes());
        assert_eq!(contents.corrupt.len(), 1);
        assert_eq!(contents.corrupt[0].line, 10);
        let timeline = contents.timeline();
        let answered: Vec<u64> = contents
            .answered_rounds()
            .iter()
            .map(|(r, _)| r.round)
            .collect();
        assert_eq!(answered, [0, 1, 2, 3, 5, 6, 7, 8, 9]);
        assert_eq!(timeline.skipped.len(), 1, "{:?}", timeline.skipped);
        assert_eq!(timeline.skipped[0].round, 4);
        assert_eq!(timeline.skipped[0].line, 9);
        // The missing record is named too.
        assert!(contents
            .notices
            .iter()
            .any(|n| n.message.contains("record 9 is missing")));

        // The same damage in an old, unchecked log: the same rounds are kept.
        let old: String = (0..10u64)
            .flat_map(|r| [phrase(r), feedback(r, 3)])
            .map(|rec| serde_json::to_string(&rec).unwrap() + "\n")
            .collect::<Vec<_>>()
            .join("")
            .replacen(
                "{\"type\":\"feedback\",\"round\":4",
                "{\"type\":\"feedback\",\"round\":\"x\"",
                1,
            );
        let contents = parse(old.as_bytes());
        assert_eq!(contents.unchecked, 19);
        assert_eq!(contents.answered_rounds().len(), 9);
        assert_eq!(contents.timeline().skipped[0].round, 4);
    }

    #[test]
    fn a_damaged_phrase_skips_its_round_and_a_lost_round_is_named() {
        let mut lines = rounds(6);
        lines[4] = "garbage\n".into(); // round 2's phrase
        lines.remove(6); // round 3's phrase, gone
        lines.remove(6); // and its feedback
        let contents = parse(lines.concat().as_bytes());
        let timeline = contents.timeline();
        let answered: Vec<u64> = contents
            .answered_rounds()
            .iter()
            .map(|(r, _)| r.round)
            .collect();
        assert_eq!(answered, [0, 1, 4, 5]);
        let skipped: Vec<u64> = timeline.skipped.iter().map(|s| s.round).collect();
        assert_eq!(skipped, [2, 3], "{:?}", timeline.skipped);
        assert!(contents
            .notices
            .iter()
            .any(|n| n.message.contains("records 6 to 7 are missing")));
    }

    #[test]
    fn swapped_lines_are_put_back_in_order_with_a_notice() {
        let mut lines = rounds(5);
        lines.swap(4, 5); // round 2's phrase after its feedback
        let contents = parse(lines.concat().as_bytes());
        assert_eq!(contents.answered_rounds().len(), 5);
        assert!(contents.timeline().skipped.is_empty());
        assert_eq!(contents.notices.len(), 1, "{:?}", contents.notices);
        assert!(contents.notices[0].message.contains("sequence order"));
    }

    #[test]
    fn a_record_written_twice_keeps_the_later_copy() {
        let mut lines = rounds(3);
        // A retry of round 1's feedback after a failed write left a complete first copy.
        let retry = SessionLog::line(&feedback(1, 5), 3).unwrap();
        lines.insert(4, retry);
        let contents = parse(lines.concat().as_bytes());
        let answered = contents.answered_rounds();
        assert_eq!(answered.len(), 3);
        assert_eq!(answered[1].1.rating, Some(5));
        assert!(contents.notices[0].message.contains("written again"));
    }

    /// A storage that takes `room` more bytes, then fails like a full disk.
    #[derive(Debug, Clone)]
    struct Disk {
        bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        room: std::sync::Arc<std::sync::Mutex<usize>>,
        can_truncate: bool,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(*room);
            *room -= n;
            self.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl LogStorage for Disk {
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            if !self.can_truncate {
                return Err(io::Error::from_raw_os_error(5)); // EIO
            }
            let mut bytes = self.bytes.lock().unwrap();
            let freed = bytes.len() - len as usize;
            bytes.truncate(len as usize);
            *self.room.lock().unwrap() += freed;
            Ok(())
        }
    }

    #[test]
    fn after_a_full_disk_the_next_record_starts_a_clean_line() {
        for can_truncate in [true, false] {
            let disk = Disk {
                bytes: Default::default(),
                room: std::sync::Arc::new(std::sync::Mutex::new(usize::MAX)),
                can_truncate,
            };
            let mut log = SessionLog::with_storage(Box::new(disk.clone()), "test.jsonl", 0, 0);
            log.append(&phrase(0)).unwrap();
            log.append(&feedback(0, 2)).unwrap();
            log.append(&phrase(1)).unwrap();
            // The disk fills up half way through round 1's feedback.
            *disk.room.lock().unwrap() = 20;
            assert!(log.append(&feedback(1, 4)).is_err());
            assert!(log.append(&feedback(1, 4)).is_err(), "still full");
            *disk.room.lock().unwrap() = usize::MAX;
            log.append(&feedback(1, 4)).unwrap();
            log.append(&phrase(2)).unwrap();
            let contents = parse(&disk.bytes.lock().unwrap());
            let ratings: Vec<Option<u8>> = contents
                .answered_rounds()
                .iter()
                .map(|(_, f)| f.rating)
                .collect();
            assert_eq!(ratings, [Some(2), Some(4)], "truncate {can_truncate}");
            assert!(contents.notices.is_empty(), "{:?}", contents.notices);
            // A half line that could not be cut off is reported, alone on its line.
            assert_eq!(contents.corrupt.len(), usize::from(!can_truncate));
            assert_eq!(contents.next_seq, 5);
            assert_eq!(contents.timeline().waiting.map(|w| w.round), Some(2));
        }
    }
}
