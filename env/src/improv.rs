//! The `improv` task: a melody improvised over a chord progression (in progress).

use crate::task::{TaskError, TaskSpec};

/// Configuration of the `improv` task (in progress).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImprovConfig {
    /// Steps per melody.
    pub length: usize,
}

impl ImprovConfig {
    /// Parses TOML.
    pub fn from_toml(_text: &str) -> Result<Self, TaskError> {
        Ok(Self::default())
    }

    /// Builds the task.
    pub fn to_task(&self) -> Result<TaskSpec, TaskError> {
        Err(TaskError::UnknownTask {
            name: "improv".into(),
        })
    }
}
