//! The `improv` task: a melody improvised over a chord progression (in progress).

use crate::task::{TaskError, TaskSpec};

/// Configuration of the `improv` task (in progress).
#[derive(Debug, Clone, Default)]
pub struct ImprovConfig {}

impl ImprovConfig {
    /// Parses TOML.
    pub fn from_toml(_text: &str) -> Result<Self, TaskError> {
        Ok(Self {})
    }

    /// Builds the task.
    pub fn to_task(&self) -> Result<TaskSpec, TaskError> {
        Err(TaskError::UnknownTask {
            name: "improv".into(),
        })
    }
}
