//! # cadenza-env
//!
//! The composition environment of Cadenza: composing a melody is a sequence of step-wise
//! choices (a new pitch, a hold or a rest on each step of a grid, usually sixteenth notes),
//! made over a key, a meter and optionally a chord progression.
//!
//! This crate holds everything an agent interacts with and nothing about how melodies are
//! judged: the [`reward::Reward`] *trait* lives here so that environments can be generic over
//! it, while the reward terms themselves live in `cadenza-reward`.
//!
//! ```
//! use cadenza_env::{ComposeEnv, Environment, TaskSpec, ZeroReward};
//! let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward);
//! let (obs, info) = env.reset(Some(7)).unwrap();
//! assert_eq!(obs.len(), 184);
//! assert!(info.action_mask.iter().all(|&ok| ok));
//! let mut steps = 0;
//! loop {
//!     let step = env.step(14).unwrap(); // C4, again and again
//!     steps += 1;
//!     if step.terminated { break; }
//! }
//! assert_eq!(steps, 32);
//! assert!(env.step(14).is_err()); // stepping past the end is an error, not a panic
//! ```

#![warn(missing_docs)]

pub mod abc;
pub mod check;
pub mod compact_state;
pub mod compose;
pub mod encoding;
pub mod env;
pub mod formats;
pub mod hash;
pub mod io;
pub mod limits;
pub mod midi;
pub mod music;
pub mod musicxml;
mod notation;
pub mod prefetch;
pub mod reward;
pub mod space;
mod spin_pool;
pub mod task;
pub mod vector;

pub use compact_state::CompactState;
pub use compose::ComposeEnv;
pub use encoding::{Event, EventEncoding, Note, HOLD, REST};
pub use env::{EnvError, Environment, Info, Step, Transition};
pub use reward::{ChordFrame, InScaleReward, Reward, Setting, StepContext, ZeroReward};
pub use space::{BoxSpace, Discrete};
pub use task::{call_dim, ObservationLayout, TaskError, TaskSpec, CALL_EVENT_DIM, TASK_NAMES};
pub use task::{duet, improv};
pub use vector::{ThreadMode, VecEnv};
