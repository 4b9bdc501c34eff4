//! Rewards by name: presets, and reward definitions in TOML.

use cadenza_env::{InScaleReward, Reward, ZeroReward};

/// Names of the built-in presets.
pub const PRESET_NAMES: &[&str] = &["zero", "in-scale"];

/// Errors of reward lookup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An unknown preset name.
    #[error("unknown reward preset '{name}': expected one of {}, or a path to a .toml reward definition", PRESET_NAMES.join(", "))]
    UnknownPreset {
        /// The name given.
        name: String,
    },
}

/// The default reward preset of a task.
pub fn default_preset(task: &str) -> &'static str {
    match task {
        _ => "in-scale",
    }
}

/// A reward by preset name (or the task's default when `None`).
pub fn load(spec: Option<&str>, task: &str) -> Result<Box<dyn Reward>, RegistryError> {
    let name = spec.unwrap_or_else(|| default_preset(task));
    match name {
        "zero" => Ok(Box::new(ZeroReward)),
        "in-scale" => Ok(Box::new(InScaleReward)),
        _ => Err(RegistryError::UnknownPreset {
            name: name.to_string(),
        }),
    }
}
