//! [`ComposeEnv`]: a melody composed step by step, generic over its [`Reward`].
//!
//! On every step the agent picks one event (rest, hold or a pitch); the reward scores it
//! against the melody so far; the episode terminates when the melody has its full length.
//!
//! The observation concatenates, in this order (each part present when the task's
//! [`ObservationLayout`](crate::task::ObservationLayout) asks for it):
//! 1. `history` one-hot blocks of `num_events` floats, one per recent event, most recent
//!    first; a block is all zeros where no event exists yet;
//! 2. a one-hot of the index of the step about to be taken (`length` floats; all zeros in the
//!    observation returned with the final step);
//! 3. a one-hot of the position in the bar (`steps_per_bar` floats);
//! 4. the current and the next chord, each as a one-hot root (12 floats) and its chord tones
//!    (12 floats, one per pitch class);
//! 5. the fraction of the melody written so far (1 float).
//!
//! The `rl-tuner` task uses parts 1 and 2 with four history blocks: 38 * 4 + 32 = 184 floats,
//! the layout of the Python baseline.

use crate::compact_state::StateTracker;
use crate::encoding::Event;
use crate::env::{EnvError, Environment, Transition};
use crate::reward::{ChordFrame, Reward, StepContext};
use crate::space::{BoxSpace, Discrete};
use crate::task::TaskSpec;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NeedsReset,
    Running,
    Done,
}

/// The composition environment. Build one with [`ComposeEnv::new`] from a [`TaskSpec`].
#[derive(Debug)]
pub struct ComposeEnv<R> {
    task: TaskSpec,
    reward: R,
    melody: Vec<Event>,
    phase: Phase,
    term_names: Arc<[String]>,
    terms: Vec<f64>,
    /// One mask per step (`length * num_events`), or a single shared one.
    masks: Vec<bool>,
    masks_per_step: bool,
    /// The chord after the current one, per step (for the observation).
    next_chords: Vec<ChordFrame>,
    observation_space: BoxSpace,
    rng: ChaCha8Rng,
    num_events: usize,
    /// What the compact state has taken in of the melody, brought up to date when the state is read
    /// (tabular agents) and never on the step path, which most users of the env never pay.
    state: RefCell<StateTracker>,
}

impl<R: Reward> ComposeEnv<R> {
    /// An environment for `task`, scored by `reward`.
    pub fn new(task: TaskSpec, reward: R) -> Self {
        let setting = &task.setting;
        let num_events = setting.encoding.num_events();
        let dim = task.observation_dim();
        let term_names: Arc<[String]> = reward.term_names().into();
        let (masks, masks_per_step) = task.masks();
        let next_chords = next_chord_per_step(&setting.chords);
        Self {
            melody: Vec::with_capacity(setting.length),
            phase: Phase::NeedsReset,
            terms: vec![0.0; term_names.len()],
            term_names,
            masks,
            masks_per_step,
            next_chords,
            observation_space: BoxSpace::uniform(dim, 0.0, 1.0),
            rng: ChaCha8Rng::seed_from_u64(0),
            num_events,
            task,
            reward,
            state: RefCell::new(StateTracker::default()),
        }
    }

    /// The task this env runs.
    pub fn task(&self) -> &TaskSpec {
        &self.task
    }

    /// The reward.
    pub fn reward(&self) -> &R {
        &self.reward
    }

    /// The events chosen so far in this episode.
    pub fn melody(&self) -> &[Event] {
        &self.melody
    }

    /// The env's random number generator (for randomised task variants and samplers that
    /// should follow the env's seed).
    pub fn rng_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// [`Environment::step_into`] without the observation: for agents that read only
    /// [`Environment::discrete_state`] (the tabular ones), which would otherwise pay for
    /// clearing and writing a dense observation on every step. Same checks, reward, info and
    /// episode end.
    #[inline]
    pub fn step_state(&mut self, action: usize) -> Result<Transition, EnvError> {
        let length = self.task.setting.length;
        match self.phase {
            Phase::Running => {}
            Phase::NeedsReset => return Err(EnvError::NotReset),
            Phase::Done => {
                return Err(EnvError::EpisodeOver {
                    step: self.melody.len(),
                    length,
                })
            }
        }
        if action >= self.num_events {
            return Err(EnvError::ActionOutOfRange {
                action,
                n: self.num_events,
            });
        }
        let step = self.melody.len();
        if !self.action_mask()[action] {
            return Err(EnvError::ActionMasked { action, step });
        }
        let ctx = StepContext {
            setting: &self.task.setting,
            step,
            history: &self.melody,
            action: action as Event,
        };
        let reward = self.reward.step(&ctx, &mut self.terms);
        if !reward.is_finite() {
            // The reward's state has advanced past a broken value: the episode cannot go on.
            self.phase = Phase::NeedsReset;
            let term = self
                .terms
                .iter()
                .position(|v| !v.is_finite())
                .map_or_else(|| "total".to_string(), |i| self.term_names[i].clone());
            return Err(EnvError::NonFiniteReward {
                term,
                value: reward,
                step,
            });
        }
        self.melody.push(action as Event);
        let terminated = self.melody.len() == length;
        if terminated {
            self.phase = Phase::Done;
        }
        Ok(Transition {
            reward,
            terminated,
            truncated: false,
        })
    }

    fn write_observation(&self, obs: &mut [f32]) {
        obs.fill(0.0);
        let setting = &self.task.setting;
        let layout = &self.task.layout;
        let ne = self.num_events;
        let step = self.melody.len();
        let running = step < setting.length;
        for (k, &event) in self.melody.iter().rev().take(layout.history).enumerate() {
            obs[k * ne + event as usize] = 1.0;
        }
        let mut offset = layout.history * ne;
        if layout.step_index {
            if running {
                obs[offset + step] = 1.0;
            }
            offset += setting.length;
        }
        if layout.bar_position {
            let spb = setting.steps_per_bar();
            if running {
                obs[offset + step % spb] = 1.0;
            }
            offset += spb;
        }
        if layout.chords {
            if running {
                if let Some(chord) = setting.chord_at(step) {
                    write_chord(&mut obs[offset..offset + 24], chord);
                    let next = &self.next_chords[step % self.next_chords.len()];
                    write_chord(&mut obs[offset + 24..offset + 48], next);
                }
            }
            offset += 48;
        }
        if layout.progress {
            obs[offset] = step as f32 / setting.length as f32;
        }
    }

    fn check_buffer(&self, observation: &[f32]) -> Result<(), EnvError> {
        let expected = self.observation_space.dim();
        if observation.len() != expected {
            return Err(EnvError::BufferSize {
                what: "observation",
                expected,
                got: observation.len(),
            });
        }
        Ok(())
    }
}

fn write_chord(out: &mut [f32], chord: &ChordFrame) {
    out[chord.root as usize % 12] = 1.0;
    for pc in 0..12 {
        if chord.tones & (1 << pc) != 0 {
            out[12 + pc] = 1.0;
        }
    }
}

/// For each step, the next chord that differs from the one under it (looping).
fn next_chord_per_step(chords: &[ChordFrame]) -> Vec<ChordFrame> {
    let n = chords.len();
    let mut next = Vec::with_capacity(n);
    for i in 0..n {
        let found = (1..=n)
            .map(|d| chords[(i + d) % n])
            .find(|c| c.index != chords[i].index)
            .unwrap_or(chords[i]);
        next.push(found);
    }
    next
}

impl<R: Reward> Environment for ComposeEnv<R> {
    fn action_space(&self) -> Discrete {
        Discrete { n: self.num_events }
    }

    fn observation_space(&self) -> &BoxSpace {
        &self.observation_space
    }

    fn reset_into(&mut self, seed: Option<u64>, observation: &mut [f32]) -> Result<(), EnvError> {
        self.check_buffer(observation)?;
        if let Some(seed) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.melody.clear();
        self.state.get_mut().mark_stale();
        self.terms.fill(0.0);
        self.reward.reset(&self.task.setting);
        self.phase = Phase::Running;
        self.write_observation(observation);
        Ok(())
    }

    #[inline]
    fn step_into(
        &mut self,
        action: usize,
        observation: &mut [f32],
    ) -> Result<Transition, EnvError> {
        self.check_buffer(observation)?;
        let transition = self.step_state(action)?;
        self.write_observation(observation);
        Ok(transition)
    }

    #[inline]
    fn action_mask(&self) -> &[bool] {
        if self.masks_per_step {
            let step = self.melody.len().min(self.task.setting.length - 1);
            &self.masks[step * self.num_events..(step + 1) * self.num_events]
        } else {
            &self.masks
        }
    }

    fn term_names(&self) -> &Arc<[String]> {
        &self.term_names
    }

    fn term_values(&self) -> &[f64] {
        &self.terms
    }

    fn elapsed_steps(&self) -> usize {
        self.melody.len()
    }

    /// The task's compact state after the melody so far (see [`CompactState`]).
    ///
    /// [`CompactState`]: crate::compact_state::CompactState
    fn discrete_state(&self) -> u64 {
        self.state
            .borrow_mut()
            .state(self.task.state, &self.task.setting, &self.melody)
    }

    fn rng_fingerprint(&self) -> u64 {
        self.rng.clone().next_u64()
    }
}
