//! [`AbcError`]: what can go wrong reading ABC, naming the file, the tune, the line and the
//! column.

use std::path::{Path, PathBuf};

/// Errors of ABC import and export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AbcError {
    /// The text does not follow the ABC standard where it matters for the notes.
    #[error("{}tune {tune}, line {line}, column {column}: {message}", in_file(.file))]
    Syntax {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The tune: `X:3 "The Kesh"`.
        tune: String,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was found and what was expected there.
        message: String,
    },
    /// A well-formed tune that uses a feature this importer does not read.
    #[error("{}tune {tune}, line {line}: unsupported: {what}", in_file(.file))]
    Unsupported {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The tune.
        tune: String,
        /// 1-based line where the feature appears.
        line: usize,
        /// The feature.
        what: String,
    },
    /// The tune has no notes (only rests, or nothing).
    #[error("{}tune {tune}: no notes", in_file(.file))]
    NoNotes {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The tune.
        tune: String,
    },
    /// The tune, with its repeats played, lasts longer than a melody may.
    #[error(
        "{}tune {tune}: with its repeats played it lasts more than {max} steps (see \"Limits\" in the README)",
        in_file(.file)
    )]
    TooLong {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The tune.
        tune: String,
        /// The limit, [`MAX_MELODY_STEPS`](crate::limits::MAX_MELODY_STEPS).
        max: usize,
    },
    /// A song cannot be written as ABC, or an import option is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field of the song.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn in_file(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => format!("{}: ", path.display()),
        None => String::new(),
    }
}

impl AbcError {
    /// Attaches the file the text came from, so that the message names it.
    pub fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            AbcError::Syntax { file, .. }
            | AbcError::Unsupported { file, .. }
            | AbcError::NoNotes { file, .. }
            | AbcError::TooLong { file, .. } => *file = Some(path.to_path_buf()),
            AbcError::Invalid { .. } => {}
        }
        self
    }

    /// A short name of what went wrong, for counting skipped tunes by reason: the kind of
    /// error and, for syntax errors, what was expected.
    pub fn category(&self) -> String {
        match self {
            AbcError::Syntax { message, .. } => {
                // "K: field ...: why" counts as a bad K: field; "unexpected '*': expected ..."
                // by what was found.
                let mut chars = message.chars();
                if let (Some(f), Some(':')) = (chars.next(), chars.next()) {
                    return format!("ABC syntax: bad {f}: field");
                }
                let head = message.split(": ").next().unwrap_or(message);
                format!("ABC syntax: {head}")
            }
            AbcError::Unsupported { what, .. } => {
                let head = what.split(':').next().unwrap_or(what);
                format!("unsupported ABC: {head}")
            }
            AbcError::NoNotes { .. } => "no notes".to_string(),
            AbcError::TooLong { .. } => "too long".to_string(),
            AbcError::Invalid { .. } => "invalid song".to_string(),
        }
    }
}
