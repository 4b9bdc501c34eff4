//! Building environments and rewards from the names and texts Python passes, and reading
//! the actions it sends.

use crate::error::Error;
use cadenza_env::{ComposeEnv, Reward, TaskSpec, TASK_NAMES};
use pyo3::prelude::*;

/// The environment type behind every Python env: any task, any reward.
pub(crate) type DynEnv = ComposeEnv<Box<dyn Reward>>;

/// The task `name` with its optional TOML `config`.
pub(crate) fn task(name: &str, config: Option<&str>) -> Result<TaskSpec, Error> {
    Ok(TaskSpec::by_name(name, config)?)
}

/// The reward `spec` (a preset name or a `.toml` path; `None` = the task's default).
pub(crate) fn reward(spec: Option<&str>, task: &TaskSpec) -> Result<Box<dyn Reward>, Error> {
    Ok(cadenza_reward::registry::load(spec, &task.name)?)
}

/// An environment for the task and reward.
pub(crate) fn env(task: &str, config: Option<&str>, reward: Option<&str>) -> Result<DynEnv, Error> {
    let task = self::task(task, config)?;
    let reward = self::reward(reward, &task)?;
    Ok(ComposeEnv::new(task, reward))
}

/// Names of the built-in tasks.
#[pyfunction]
pub(crate) fn task_names() -> Vec<&'static str> {
    TASK_NAMES.to_vec()
}

/// `action` as an index into an action space of `n` actions, or an error on `argument` that
/// names the action by `label` (built only when the action is refused, so that the stepping
/// loop formats nothing).
#[inline]
pub(crate) fn action_index(
    action: i64,
    n: usize,
    argument: &'static str,
    label: impl FnOnce() -> String,
) -> Result<usize, Error> {
    usize::try_from(action)
        .ok()
        .filter(|&a| a < n)
        .ok_or_else(|| {
            Error::argument(
                argument,
                format!("{} is outside the action space (valid: 0..{n})", label()),
            )
        })
}
