//! # cadenza-reward
//!
//! The reward terms of Cadenza's composition environments: what a melody is paid for, step
//! by step. Every reward implements [`cadenza_env::Reward`] (the contract lives in
//! `cadenza-env`, so environments do not depend on this crate): it names its terms once and
//! then, on each step, writes one value per term and returns their total, with no allocation
//! and without rescanning the melody.
//!
//! - [`rl_tuner`]: Magenta RL Tuner's music-theory reward, reproduced exactly (checked
//!   against Magenta's own vectors), and [`metrics`], its evaluation metrics.
//! - [`improv`]: harmony-aware improvisation terms for the `improv` task, one per musical
//!   habit, and the `improv` preset that weighs them ([`improv::ImprovWeights`]).
//! - [`corpus`]: n-gram corpus models and the reward of how likely a melody is under one.
//! - [`prior`]: one interface for the priors paid per step (n-gram, style, and the
//!   behaviour-cloned network in `cadenza-agents`) and the term that turns any of them into a
//!   reward.
//! - [`listener`]: a model of one person's taste, learnt online from their ratings.
//! - [`combine`]: weighted sums of rewards that still report every term.
//! - [`registry`]: rewards by name (presets) and reward definitions in TOML.
//! - [`musicianship`]: what a musician hears in finished melodies (harmony, line, rhythm,
//!   variety), per melody and for a set, with calibrated thresholds.
//! - [`score`]: scoring whole melodies; [`diversity`]: how varied a set of melodies is.
//! - [`bench`](mod@bench): benchmarking terms for speed, for telling real melodies from spoiled ones,
//!   and for agreement with each other.
//!
//! ```
//! use cadenza_env::{Reward, TaskSpec};
//! use cadenza_reward::{registry, score::score_melody};
//!
//! let task = TaskSpec::rl_tuner();
//! let mut reward = registry::load(None, "rl-tuner")?; // the task's default preset
//! assert_eq!(reward.term_names().len(), 9);
//! // C major up and back down in eighth notes (event 14 is C4; 1 holds the note).
//! let scale = [14u8, 16, 18, 19, 21, 23, 25, 26, 25, 23, 21, 19, 18, 16, 14, 14];
//! let melody: Vec<u8> = scale.iter().flat_map(|&e| [e, 1]).collect();
//! let scored = score_melody(&mut reward, &task.setting, &melody);
//! assert_eq!(scored.steps.len(), 32);
//! let sum: f64 = scored.steps.iter().map(|s| s.reward).sum();
//! assert_eq!(scored.total, sum);
//! # Ok::<(), cadenza_reward::registry::RegistryError>(())
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod combine;
pub mod corpus;
pub mod diversity;
pub mod duet;
pub mod improv;
pub mod listener;
pub mod metrics;
pub mod musicianship;
pub mod prior;
pub mod registry;
pub mod rl_tuner;
pub mod score;
pub mod style;
