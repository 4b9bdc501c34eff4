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

use crate::encoding::{Event, NUM_SPECIAL_EVENTS};
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
    /// The melodic context of the compact state, brought up to date when the state is read
    /// (tabular agents) and never on the step path, which most users of the env never pay.
    context: RefCell<LazyContext>,
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
            context: RefCell::new(LazyContext::default()),
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
        self.context.get_mut().stale = true;
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

    /// The last `state_history` events (oldest dropped, most recent in the highest byte;
    /// bits 0..32), the melodic context where the task keeps it (bits 32..40: see
    /// [`TaskSpec::state_melodic_context`]), and from bit 40 the step index (tasks without
    /// chords) or the position in the bar and, from bit 48, the chord segment, in a `u64`.
    fn discrete_state(&self) -> u64 {
        let setting = &self.task.setting;
        let step = self.melody.len();
        let mut key = 0u64;
        for &event in self
            .melody
            .iter()
            .rev()
            .take(self.task.state_history.min(4))
        {
            key = (key << 8) | (event as u64 + 1);
        }
        let context = if self.task.state_melodic_context {
            self.context.borrow_mut().catch_up(&self.melody)
        } else {
            0
        };
        let position = if setting.chords.is_empty() {
            step as u64
        } else {
            let chord = setting.chord_at(step).map_or(0, |c| c.index as u64);
            ((step % setting.steps_per_bar()) as u64) | (chord << 8)
        };
        key | (context << 32) | (position << 40)
    }

    fn rng_fingerprint(&self) -> u64 {
        self.rng.clone().next_u64()
    }
}

/// The melodic context and how much of the melody it has taken in.
#[derive(Debug, Default)]
struct LazyContext {
    context: MelodicContext,
    /// Events of the melody taken in so far.
    seen: usize,
    /// Set by a reset: the context belongs to the previous episode.
    stale: bool,
}

impl LazyContext {
    /// Takes in the events of `melody` not seen yet (one per step for an agent that reads
    /// the state every step) and returns the context's code.
    #[inline]
    fn catch_up(&mut self, melody: &[Event]) -> u64 {
        if self.stale || self.seen > melody.len() {
            self.context = MelodicContext::default();
            self.seen = 0;
            self.stale = false;
        }
        while self.seen < melody.len() {
            self.context.push(&melody[..self.seen], melody[self.seen]);
            self.seen += 1;
        }
        self.context.code()
    }
}

/// The events a motif spans in RL Tuner's reward (half a 4/4 bar of sixteenths).
const MOTIF_WINDOW: usize = 8;

/// The smallest interval, in semitones, that counts as a leap (a fifth).
const LEAP: u8 = 7;

/// What the compact state keeps of the melody beyond its last events (see
/// [`TaskSpec::state_melodic_context`]), updated one event at a time.
///
/// The pending leap is followed as RL Tuner's leap detector follows it (pitch events are
/// ordered by pitch in every encoding, so intervals are event differences): a leap of a
/// fifth or more sets the direction, unless one is pending, in which case a leap the other
/// way clears it; a smaller step back to or past the leap's origin also clears it.
#[derive(Debug, Clone)]
struct MelodicContext {
    /// How often each event occurs among the last `MOTIF_WINDOW - 1` events.
    window_counts: [u8; 256],
    /// How many distinct pitch events (rests and holds excluded) those hold.
    window_pitches: u32,
    /// +1 up, -1 down, 0 none.
    direction: i8,
    leapt_from: Event,
    /// The last pitch event (0 before the first).
    last_pitch: Event,
}

impl Default for MelodicContext {
    fn default() -> Self {
        Self {
            window_counts: [0; 256],
            window_pitches: 0,
            direction: 0,
            leapt_from: 0,
            last_pitch: 0,
        }
    }
}

impl MelodicContext {
    /// Takes `event`, the next event after `melody`.
    #[inline]
    fn push(&mut self, melody: &[Event], event: Event) {
        let is_pitch = |e: Event| e >= NUM_SPECIAL_EVENTS;
        let added = usize::from(event);
        self.window_pitches += u32::from(is_pitch(event) && self.window_counts[added] == 0);
        self.window_counts[added] += 1;
        if melody.len() >= MOTIF_WINDOW - 1 {
            let dropped = melody[melody.len() + 1 - MOTIF_WINDOW];
            self.window_counts[usize::from(dropped)] -= 1;
            self.window_pitches -=
                u32::from(is_pitch(dropped) && self.window_counts[usize::from(dropped)] == 0);
        }
        if !is_pitch(event) {
            return;
        }
        let prev = self.last_pitch;
        self.last_pitch = event;
        if prev == 0 {
            return;
        }
        if event.abs_diff(prev) >= LEAP {
            let direction = if event > prev { 1 } else { -1 };
            if self.direction == 0 {
                self.direction = direction;
                self.leapt_from = prev;
            } else if self.direction != direction {
                self.direction = 0;
            }
        } else if (self.direction == 1 && event <= self.leapt_from)
            || (self.direction == -1 && event >= self.leapt_from)
        {
            self.direction = 0;
        }
    }

    /// Bits 0..2: the distinct pitches of the window, capped at 3; bits 2..4: the pending
    /// leap's direction (0 down, 1 none, 2 up).
    #[inline]
    fn code(&self) -> u64 {
        u64::from(self.window_pitches.min(3)) | (((self.direction + 1) as u64) << 2)
    }
}
