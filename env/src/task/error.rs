//! [`TaskError`], and the task names it offers when a name is unknown.

/// Names of the built-in tasks.
pub const TASK_NAMES: &[&str] = &["rl-tuner", "improv", "duet"];

/// Errors of task construction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A task name that is not registered.
    #[error("unknown task '{name}': expected one of {}", TASK_NAMES.join(", "))]
    UnknownTask {
        /// The name given.
        name: String,
    },
    /// A configuration field with a bad value.
    #[error("invalid task config: field '{field}': {message}")]
    InvalidField {
        /// The field.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A configuration that could not be parsed.
    #[error("invalid task config: {0}")]
    Parse(String),
    /// The task takes no configuration.
    #[error("task '{0}' takes no configuration: it reproduces a published setting exactly")]
    NotConfigurable(String),
}
