//! # cadenza-env
//!
//! The composition environment of Cadenza: composing a melody is a sequence of step-wise
//! choices (a new pitch, a hold or a rest on each step of a grid, usually sixteenth notes),
//! made over a key, a meter and optionally a chord progression.
//!
//! This crate holds everything an agent interacts with and nothing about how melodies are
//! judged: the [`reward::Reward`] *trait* lives here so that environments can be generic over
//! it, while the reward terms themselves live in `cadenza-reward`.

#![warn(missing_docs)]

pub mod encoding;
pub mod reward;

pub use encoding::{Event, EventEncoding, Note, HOLD, REST};
pub use reward::{ChordFrame, InScaleReward, Reward, Setting, StepContext, ZeroReward};
pub mod midi;
pub mod music;
