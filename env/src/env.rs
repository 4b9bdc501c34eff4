//! The [`Environment`] contract: Gymnasium's `reset`/`step` in Rust.
//!
//! Two layers: a fast, allocation-free core (`reset_into`, `step_into`, which write the
//! observation into a caller's buffer and leave the per-term rewards and the action mask
//! readable through borrowing accessors), and the familiar Gymnasium forms (`reset`, `step`)
//! that return owned values, built on top of the core by provided methods.

use crate::space::{BoxSpace, Discrete};
use std::sync::Arc;

/// Errors an environment returns instead of panicking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `step` was called before the first `reset`.
    #[error("step called before reset: call reset(seed) first")]
    NotReset,
    /// `step` was called after the episode ended.
    #[error("step called after the episode ended (step {step} of {length}): call reset first")]
    EpisodeOver {
        /// Steps taken in the episode.
        step: usize,
        /// Episode length.
        length: usize,
    },
    /// The action is not in the action space.
    #[error("action {action} is outside the action space (valid: 0..{n})")]
    ActionOutOfRange {
        /// The action given.
        action: usize,
        /// Number of actions.
        n: usize,
    },
    /// The action is in the space but masked out at this step.
    #[error("action {action} is masked out at step {step}; consult the action mask")]
    ActionMasked {
        /// The action given.
        action: usize,
        /// The step it was given at.
        step: usize,
    },
    /// A caller's buffer has the wrong length.
    #[error("{what} buffer has length {got}, expected {expected}")]
    BufferSize {
        /// Which buffer.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The reward produced a NaN or infinite value.
    #[error("reward term '{term}' produced a non-finite value {value} at step {step}")]
    NonFiniteReward {
        /// The offending term (or "total").
        term: String,
        /// The value.
        value: f64,
        /// The step.
        step: usize,
    },
}

/// The outcome of one step, without the observation (written into the caller's buffer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// Total reward of the step.
    pub reward: f64,
    /// The episode reached its natural end (the melody is complete).
    pub terminated: bool,
    /// The episode was cut short from outside (a time limit); never set by a plain env.
    pub truncated: bool,
}

/// Gymnasium's `info`: the per-term reward breakdown and the action mask for the next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// Steps taken in the episode so far.
    pub step: usize,
    /// Names of the reward terms.
    pub term_names: Arc<[String]>,
    /// Values of the reward terms on the last step (zeros after a reset).
    pub terms: Vec<f64>,
    /// Which actions are allowed on the next step.
    pub action_mask: Vec<bool>,
}

impl Info {
    /// The value of one named term on the last step.
    pub fn term(&self, name: &str) -> Option<f64> {
        self.term_names
            .iter()
            .position(|n| n == name)
            .map(|i| self.terms[i])
    }
}

/// Gymnasium's step result, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step.
    pub observation: Vec<f32>,
    /// Total reward of the step.
    pub reward: f64,
    /// The episode reached its natural end.
    pub terminated: bool,
    /// The episode was cut short from outside.
    pub truncated: bool,
    /// Per-term rewards and the next action mask.
    pub info: Info,
}

/// An environment with Gymnasium's semantics. See the module docs.
pub trait Environment: Send {
    /// The actions.
    fn action_space(&self) -> Discrete;

    /// The observations (dense `f32` vectors).
    fn observation_space(&self) -> &BoxSpace;

    /// Starts an episode, writing the first observation. `Some(seed)` reseeds the env's RNG;
    /// `None` continues from its current state.
    fn reset_into(&mut self, seed: Option<u64>, observation: &mut [f32]) -> Result<(), EnvError>;

    /// Takes one action, writing the next observation.
    fn step_into(&mut self, action: usize, observation: &mut [f32])
        -> Result<Transition, EnvError>;

    /// Which actions are allowed on the next step.
    fn action_mask(&self) -> &[bool];

    /// Names of the reward terms.
    fn term_names(&self) -> &Arc<[String]>;

    /// Values of the reward terms on the last step.
    fn term_values(&self) -> &[f64];

    /// Steps taken in the current episode.
    fn elapsed_steps(&self) -> usize;

    /// A compact discrete state for tabular agents (see the env's docs for its abstraction).
    fn discrete_state(&self) -> u64;

    /// A fingerprint of the RNG state, for determinism checks: equal states give equal values.
    fn rng_fingerprint(&self) -> u64;

    /// Releases resources; may be called more than once.
    fn close(&mut self) {}

    /// Starts loading what the next step will read where its tables outgrow the caches (a
    /// prior's rows in the reward): a vector of envs calls it for every env before stepping
    /// them in turn, so that their memory waits overlap. Changes nothing; the default does
    /// nothing.
    #[inline]
    fn prefetch(&self) {}

    /// Gymnasium's `reset`: the first observation and the info, owned.
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info), EnvError> {
        let mut observation = vec![0.0; self.observation_space().dim()];
        self.reset_into(seed, &mut observation)?;
        Ok((observation, self.info()))
    }

    /// Gymnasium's `step`: everything owned.
    fn step(&mut self, action: usize) -> Result<Step, EnvError> {
        let mut observation = vec![0.0; self.observation_space().dim()];
        let t = self.step_into(action, &mut observation)?;
        Ok(Step {
            observation,
            reward: t.reward,
            terminated: t.terminated,
            truncated: t.truncated,
            info: self.info(),
        })
    }

    /// The current info, owned.
    fn info(&self) -> Info {
        Info {
            step: self.elapsed_steps(),
            term_names: Arc::clone(self.term_names()),
            terms: self.term_values().to_vec(),
            action_mask: self.action_mask().to_vec(),
        }
    }
}

impl<E: Environment + ?Sized> Environment for Box<E> {
    fn action_space(&self) -> Discrete {
        (**self).action_space()
    }
    fn observation_space(&self) -> &BoxSpace {
        (**self).observation_space()
    }
    fn reset_into(&mut self, seed: Option<u64>, observation: &mut [f32]) -> Result<(), EnvError> {
        (**self).reset_into(seed, observation)
    }
    #[inline]
    fn step_into(
        &mut self,
        action: usize,
        observation: &mut [f32],
    ) -> Result<Transition, EnvError> {
        (**self).step_into(action, observation)
    }
    fn action_mask(&self) -> &[bool] {
        (**self).action_mask()
    }
    fn term_names(&self) -> &Arc<[String]> {
        (**self).term_names()
    }
    fn term_values(&self) -> &[f64] {
        (**self).term_values()
    }
    fn elapsed_steps(&self) -> usize {
        (**self).elapsed_steps()
    }
    fn discrete_state(&self) -> u64 {
        (**self).discrete_state()
    }
    fn rng_fingerprint(&self) -> u64 {
        (**self).rng_fingerprint()
    }
    fn close(&mut self) {
        (**self).close()
    }
    #[inline]
    fn prefetch(&self) {
        (**self).prefetch()
    }
}
