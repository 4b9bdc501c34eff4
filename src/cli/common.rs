//! Helpers shared by the commands: tasks and rewards by name.

use anyhow::{Context, Result};
use cadenza_env::{Reward, TaskSpec};
use std::path::Path;

/// A task by name, with an optional TOML config file.
pub fn task(name: &str, config: Option<&Path>, length: Option<usize>) -> Result<TaskSpec> {
    let text = match config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read task config {}", path.display()))?,
        ),
        None => None,
    };
    let mut spec = TaskSpec::by_name(name, text.as_deref()).with_context(|| match config {
        Some(path) => format!("task '{name}' with config {}", path.display()),
        None => format!("task '{name}'"),
    })?;
    if let Some(length) = length {
        if spec.name == "rl-tuner" {
            anyhow::bail!("--length: the rl-tuner task has a fixed length of 32 steps (Magenta's setting); use --task improv for other lengths");
        }
        if length == 0 {
            anyhow::bail!("--length must be at least 1");
        }
        spec = spec
            .with_length(length)
            .with_context(|| format!("--length {length}"))?;
    }
    Ok(spec)
}

/// A reward by preset name or TOML file, for a task; `None` picks the task's default.
pub fn reward(spec: Option<&str>, task: &TaskSpec) -> Result<Box<dyn Reward>> {
    cadenza_reward::registry::load(spec, &task.name)
        .with_context(|| format!("reward '{}'", spec.unwrap_or("(task default)")))
}

/// Parses a file format name for clap (`midi`, `abc`, `musicxml`).
pub fn parse_format(name: &str) -> Result<cadenza_env::formats::Format, String> {
    name.parse()
        .map_err(|e: cadenza_env::formats::FormatError| e.to_string())
}

/// Checks that a path's parent directory exists, so a long run does not fail at the end.
pub fn check_output_path(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            anyhow::bail!("output directory {} does not exist", parent.display());
        }
    }
    Ok(())
}
