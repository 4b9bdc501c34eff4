//! Tasks: named, fully specified composition problems, created like `gym.make`.
//!
//! - `rl-tuner`: Magenta RL Tuner's setting, exactly (see [`rl_tuner`](TaskSpec::rl_tuner)):
//!   38 events (rest, hold, MIDI 48..=83), 32 sixteenth-note steps in 4/4, C major,
//!   terminated after step 32, every action legal at every step (the reward, not the mask,
//!   teaches what is musical), and the 184-float observation described in
//!   [`crate::compose`].
//! - `improv`: a melody improvised over a chord progression; see [`improv::ImprovConfig`].
//! - `duet`: call and response: a partner's call, then the agent's answer, over a backing
//!   progression; see [`duet`].
//!
//! A task is a [`TaskSpec`]: the musical frame rewards see, the [`ObservationLayout`], and
//! what MIDI export and playback need. The files of this module depend one way: `error` and
//! `layout` on nothing, `spec` on them and on the improv task's configuration, the tasks
//! (`rl_tuner`, `improv`) on `spec`, and this file, the registry, on all of them.

pub mod duet;
mod error;
pub mod improv;
mod layout;
mod rl_tuner;
mod spec;

pub use error::{TaskError, TASK_NAMES};
pub use layout::{call_dim, ObservationLayout, CALL_EVENT_DIM, CALL_SUMMARY_DIM};
pub use spec::{BackingChord, TaskSpec};

use duet::DuetConfig;
use improv::ImprovConfig;

impl TaskSpec {
    /// A task by name; `config` is TOML text for configurable tasks.
    pub fn by_name(name: &str, config: Option<&str>) -> Result<Self, TaskError> {
        match name {
            "rl-tuner" => match config {
                None => Ok(Self::rl_tuner()),
                Some(_) => Err(TaskError::NotConfigurable(name.to_string())),
            },
            "improv" => {
                let config = match config {
                    Some(text) => ImprovConfig::from_toml(text)?,
                    None => ImprovConfig::default(),
                };
                config.to_task()
            }
            "duet" => {
                let config = match config {
                    Some(text) => DuetConfig::from_toml(text)?,
                    None => DuetConfig::default(),
                };
                config.to_task()
            }
            _ => Err(TaskError::UnknownTask {
                name: name.to_string(),
            }),
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
            None if self.duet.is_some() => Err(TaskError::InvalidField {
                field: "length".to_string(),
                message: "a duet's length is its call_bars and answer_bars: set those instead"
                    .to_string(),
            }),
            None => Err(TaskError::NotConfigurable(self.name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_task_lists_names() {
        let err = TaskSpec::by_name("rl-tunr", None).unwrap_err();
        assert!(err.to_string().contains("rl-tuner, improv, duet"), "{err}");
    }

    #[test]
    fn rl_tuner_is_not_configurable() {
        assert!(matches!(
            TaskSpec::by_name("rl-tuner", Some("length = 64")),
            Err(TaskError::NotConfigurable(_))
        ));
    }
}
