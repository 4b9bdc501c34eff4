//! Errors of the bench, and what it leaves out without failing.

use super::builtin::builtin_term_names;
use crate::registry::{self, RegistryError};
use serde::Serialize;
use std::path::PathBuf;

/// Errors of the bench.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A reward name that is neither a preset, a built-in term nor a TOML file.
    #[error("unknown reward or term '{name}': expected a preset ({}), a term ({}), or a .toml reward definition", registry::PRESET_NAMES.join(", "), builtin_term_names().join(", "))]
    UnknownReward {
        /// The name given.
        name: String,
    },
    /// A reward definition could not be loaded.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A term name that is already in the bench.
    #[error("a term named '{name}' is already in the bench")]
    DuplicateTerm {
        /// The name.
        name: String,
    },
    /// A reward's factory made something unusable.
    #[error("reward '{name}': {message}")]
    BadReward {
        /// The reward.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A melody that cannot be scored.
    #[error("melody '{name}': {message}")]
    BadMelody {
        /// The melody.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// No melody left to score.
    #[error("no usable melodies: {reason}")]
    NoMelodies {
        /// Why.
        reason: String,
    },
    /// No term to bench.
    #[error("no terms to bench: add a preset or a term first")]
    NoTerms,
    /// A configuration field is out of range.
    #[error("invalid bench config field '{field}': {message}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is expected.
        message: String,
    },
    /// A corpus directory that cannot be listed.
    #[error("cannot read corpus directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Something the bench left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The item (a file, a melody, a reward).
    pub item: String,
    /// Why.
    pub reason: String,
}
