//! Tasks: named, fully specified composition problems, created like `gym.make`.
//!
//! - `rl-tuner`: Magenta RL Tuner's setting, exactly: 38 events (rest, hold, MIDI 48..=83),
//!   32 sixteenth-note steps in 4/4, C major, terminated after step 32, every action legal
//!   at every step (the reward, not the mask, teaches what is musical), and the 184-float
//!   observation described in [`crate::compose`].
//! - `improv`: a melody improvised over a chord progression; see [`crate::improv::ImprovConfig`].

use crate::compose::ObservationLayout;
use crate::reward::Setting;

/// Names of the built-in tasks.
pub const TASK_NAMES: &[&str] = &["rl-tuner", "improv"];

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

/// One chord of the backing track, for MIDI export and playback.
#[derive(Debug, Clone, PartialEq)]
pub struct BackingChord {
    /// First step.
    pub start: u32,
    /// Number of steps.
    pub steps: u32,
    /// Chord symbol, e.g. `Dm7`.
    pub symbol: String,
    /// MIDI pitches of a close voicing.
    pub pitches: Vec<u8>,
}

/// Everything that defines a task. Build one by name with [`TaskSpec::by_name`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The task's name.
    pub name: String,
    /// The musical frame rewards see.
    pub setting: Setting,
    /// What the observation holds.
    pub layout: ObservationLayout,
    /// How many recent events the compact discrete state keeps (at most 4). `rl-tuner` keeps
    /// two: with the step index that is few enough states for a tabular agent to visit each
    /// often within a few million steps.
    pub state_history: usize,
    /// Whether the compact state also holds the melodic context that RL Tuner-style rewards
    /// remember beyond the last events: the number of distinct pitches among the last seven
    /// events (capped at 3: an eighth event makes a motif with three) and the direction of a
    /// pending leap (a leap of a fifth or more not yet answered by a step back past its
    /// origin or a leap the other way). `rl-tuner` keeps it: it lets a tabular agent learn
    /// the motif and leap terms, and about doubles the states visited (99k instead of 43k in
    /// 5 million steps).
    pub state_melodic_context: bool,
    /// Tempo in quarter notes per minute (for MIDI and playback).
    pub tempo_qpm: f64,
    /// Time signature (numerator, denominator).
    pub meter: (u8, u8),
    /// MIDI key signature: sharps (negative = flats) and whether minor.
    pub key_signature: (i8, bool),
    /// Human-readable key, e.g. `C major`.
    pub key_name: String,
    /// The backing chords (empty without a progression).
    pub backing: Vec<BackingChord>,
    /// Mask out pitches outside the key's scale and the chord-scale of the current chord.
    pub mask_out_of_scale: bool,
    /// The configuration a configurable task was built from.
    pub improv: Option<crate::improv::ImprovConfig>,
}

impl TaskSpec {
    /// Magenta RL Tuner's task (see the module docs).
    pub fn rl_tuner() -> Self {
        Self {
            name: "rl-tuner".to_string(),
            setting: Setting::rl_tuner(),
            layout: ObservationLayout {
                history: 4,
                step_index: true,
                bar_position: false,
                chords: false,
                progress: false,
            },
            state_history: 2,
            state_melodic_context: true,
            tempo_qpm: 120.0,
            meter: (4, 4),
            key_signature: (0, false),
            key_name: "C major".to_string(),
            backing: Vec::new(),
            mask_out_of_scale: false,
            improv: None,
        }
    }

    /// The same task with another melody length (configurable tasks only).
    pub fn with_length(&self, length: usize) -> Result<Self, TaskError> {
        match &self.improv {
            Some(config) => {
                let mut config = config.clone();
                config.length = length;
                config.to_task()
            }
            None => Err(TaskError::NotConfigurable(self.name.clone())),
        }
    }

    /// A task by name; `config` is TOML text for configurable tasks.
    pub fn by_name(name: &str, config: Option<&str>) -> Result<Self, TaskError> {
        match name {
            "rl-tuner" => match config {
                None => Ok(Self::rl_tuner()),
                Some(_) => Err(TaskError::NotConfigurable(name.to_string())),
            },
            "improv" => {
                let config = match config {
                    Some(text) => crate::improv::ImprovConfig::from_toml(text)?,
                    None => crate::improv::ImprovConfig::default(),
                };
                config.to_task()
            }
            _ => Err(TaskError::UnknownTask {
                name: name.to_string(),
            }),
        }
    }

    /// The action masks: one per step (`length * num_events` flags, `true`) or a single
    /// shared one (`false`).
    pub fn masks(&self) -> (Vec<bool>, bool) {
        let encoding = self.setting.encoding;
        let ne = encoding.num_events();
        if !self.mask_out_of_scale {
            return (vec![true; ne], false);
        }
        let mut masks = vec![true; ne * self.setting.length];
        for step in 0..self.setting.length {
            let allowed = self.setting.scale | self.setting.chord_at(step).map_or(0, |c| c.scale);
            for event in 0..ne {
                if let Some(pitch) = encoding.pitch_of(event as u8) {
                    masks[step * ne + event] = allowed & (1 << (pitch % 12)) != 0;
                }
            }
        }
        (masks, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_task_lists_names() {
        let err = TaskSpec::by_name("rl-tunr", None).unwrap_err();
        assert!(err.to_string().contains("rl-tuner, improv"), "{err}");
    }

    #[test]
    fn rl_tuner_is_not_configurable() {
        assert!(matches!(
            TaskSpec::by_name("rl-tuner", Some("length = 64")),
            Err(TaskError::NotConfigurable(_))
        ));
    }
}
