//! Errors of corpus models, and the file reads and writes that report them.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Errors of corpus models: bad settings, bad melodies and bad model files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// A setting is out of range; `field` names it.
    #[error("invalid corpus model setting `{field}`: {message}")]
    InvalidConfig {
        /// The offending setting.
        field: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Training needs at least one event.
    #[error("empty training set: {melodies} melodies with no events in total; a corpus model needs at least one event to learn from")]
    EmptyTrainingSet {
        /// Number of melodies given (all empty, or none).
        melodies: usize,
    },
    /// Evaluation needs at least one event.
    #[error("nothing to evaluate: {melodies} melodies with no events in total")]
    NoEvents {
        /// Number of melodies given.
        melodies: usize,
    },
    /// A melody holds an event that the model's encoding does not have.
    #[error("melody {melody}, step {step}: event {event} is outside the encoding {encoding} (valid events: 0..={max})")]
    EventOutOfRange {
        /// Index of the melody in the slice given.
        melody: usize,
        /// Index of the event in the melody.
        step: usize,
        /// The offending event.
        event: u8,
        /// The encoding's name.
        encoding: String,
        /// The largest valid event.
        max: u8,
    },
    /// An output buffer of the wrong length.
    #[error("output buffer holds {found} values, but the model has {expected} events")]
    OutputLength {
        /// The number of events of the model.
        expected: usize,
        /// The length of the buffer given.
        found: usize,
    },
    /// Reading or writing a model file failed.
    #[error("cannot {action} corpus model file {}: {source}", path.display())]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file that holds another kind of model.
    #[error("{} holds a corpus model of kind '{found}', expected '{expected}'", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind in the file.
        found: String,
        /// The kind asked for.
        expected: &'static str,
    },
    /// A model file written by another version of the format.
    #[error("{} has corpus model format version {found}, but this build reads version {supported}; refit the model or convert the file", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A model file that is not valid JSON or holds inconsistent data.
    #[error("{} is not a valid corpus model file: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A reward setting that does not match the model.
    #[error("the environment does not match the corpus model: {0}")]
    SettingMismatch(String),
}

impl CorpusError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field,
            message: message.into(),
        }
    }
}

/// Reads a whole text file; the error names it.
pub(crate) fn read_text(path: &Path) -> Result<String, CorpusError> {
    std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `value` as compact JSON; the error names the file.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CorpusError> {
    let io = |source| CorpusError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_string(value).map_err(|e| io(std::io::Error::other(e)))?;
    // Atomic and durable: a full disk leaves the previous file (or none), never a truncated
    // or empty one.
    cadenza_env::io::write_atomic(path, text.as_bytes()).map_err(io)
}

impl From<crate::prior::InvalidFloor> for CorpusError {
    fn from(e: crate::prior::InvalidFloor) -> Self {
        CorpusError::config("floor", format!("must be a finite number, got {}", e.0))
    }
}
