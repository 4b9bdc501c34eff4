//! The crate's error type and its mapping onto Python exceptions.

use cadenza_env::encoding::EncodingError;
use cadenza_env::env::EnvError;
use cadenza_env::midi::MidiError;
use cadenza_env::TaskError;
use cadenza_reward::registry::RegistryError;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

/// Everything that can go wrong in a call from Python.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The task name or its configuration is invalid.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The reward name or definition is invalid.
    #[error(transparent)]
    Reward(#[from] RegistryError),
    /// An environment refused a call.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A sub-env of a vector env refused a call.
    #[error("sub-env {index}: {source}")]
    SubEnv {
        /// Index of the sub-env.
        index: usize,
        /// Its error.
        source: EnvError,
    },
    /// MIDI import or export failed.
    #[error(transparent)]
    Midi(#[from] MidiError),
    /// Events that the task's encoding cannot hold.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// An argument with a bad value, shape or type.
    #[error("{argument}: {message}")]
    Argument {
        /// The argument's name.
        argument: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A call out of order, e.g. `step` before `reset`.
    #[error("{0}")]
    Order(String),
}

impl Error {
    /// A bad argument.
    pub(crate) fn argument(argument: &'static str, message: impl Into<String>) -> Self {
        Self::Argument {
            argument,
            message: message.into(),
        }
    }
}

/// Whether an environment error means "called out of order or broke" rather than bad input.
fn is_state_error(error: &EnvError) -> bool {
    matches!(
        error,
        EnvError::NotReset | EnvError::EpisodeOver { .. } | EnvError::NonFiniteReward { .. }
    )
}

impl From<Error> for PyErr {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match &error {
            Error::Env(e) | Error::SubEnv { source: e, .. } if is_state_error(e) => {
                PyRuntimeError::new_err(message)
            }
            Error::Order(_) => PyRuntimeError::new_err(message),
            Error::Midi(MidiError::Io { .. }) | Error::Reward(RegistryError::Io { .. }) => {
                PyOSError::new_err(message)
            }
            _ => PyValueError::new_err(message),
        }
    }
}
