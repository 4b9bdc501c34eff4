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
//! 5. the fraction of the melody written so far (1 float);
//! 6. in a duet, the partner's call (see [`crate::task::call_dim`]): the call's
//!    event at the same place in the call as the next step is in the answer (its echo
//!    position), then the call's last `history` events, most recent first, each as 14 floats
//!    (rest, hold, or the pitch class relative to the root of the chord under it, so that a
//!    call over C and an answer over F compare by function); the call's rhythm (for each
//!    position in the bar, the share of the call's bars with an onset there); and a summary
//!    of 4 floats: onsets per step, net direction (0.5 + semitones from first to last note /
//!    48, clamped), range (semitones / 24, clamped) and the share of rising moves.
//!
//! In a duet the episode starts after the call: [`Environment::reset`] draws the call from
//! the task's partner, feeds it through the reward (its values are discarded) and returns
//! the observation of the answer's first step; [`ComposeEnv::melody`] holds the call and the
//! answer, and [`Environment::elapsed_steps`] counts the agent's steps only.
//!
//! The `rl-tuner` task uses parts 1 and 2 with four history blocks: 38 * 4 + 32 = 184 floats,
//! the layout of the Python baseline.

use crate::compact_state::StateTracker;
use crate::encoding::Event;
use crate::encoding::{HOLD, REST};
use crate::env::{EnvError, Environment, Transition};
use crate::reward::{ChordFrame, Reward, StepContext};
use crate::space::{BoxSpace, Discrete};
use crate::task::{call_dim, TaskSpec, CALL_EVENT_DIM};
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
    /// The call of the current duet episode (`call_steps` events; empty outside duets).
    call: Vec<Event>,
    /// The parts of the call's observation block fixed for an episode (its last events,
    /// rhythm and summary), computed on reset.
    call_features: Vec<f32>,
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
        let call_steps = setting.call_steps.min(setting.length);
        let call_features = if task.layout.call {
            vec![0.0; call_dim(task.layout.history, setting.steps_per_bar()) - CALL_EVENT_DIM]
        } else {
            Vec::new()
        };
        Self {
            call: vec![REST; call_steps],
            call_features,
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
        self.step_state_with(action, None)
    }

    /// [`ComposeEnv::step_state`], adding the seconds the reward's prior terms took to
    /// `prior_seconds` (see [`Reward::step_timing_priors`]): what a trainer calls on the
    /// steps it times.
    pub fn step_state_timing_priors(
        &mut self,
        action: usize,
        prior_seconds: &mut Option<f64>,
    ) -> Result<Transition, EnvError> {
        self.step_state_with(action, Some(prior_seconds))
    }

    #[inline(always)]
    fn step_state_with(
        &mut self,
        action: usize,
        prior_seconds: Option<&mut Option<f64>>,
    ) -> Result<Transition, EnvError> {
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
        let reward = match prior_seconds {
            None => self.reward.step(&ctx, &mut self.terms),
            Some(seconds) => self
                .reward
                .step_timing_priors(&ctx, &mut self.terms, seconds),
        };
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
            offset += 1;
        }
        if layout.call {
            let calls = self.call.len();
            if running && calls > 0 && step >= calls {
                let at = (step - calls) % calls;
                write_call_event(
                    &mut obs[offset..offset + CALL_EVENT_DIM],
                    setting,
                    at,
                    self.call[at],
                );
            }
            offset += CALL_EVENT_DIM;
            obs[offset..offset + self.call_features.len()].copy_from_slice(&self.call_features);
        }
    }

    /// Draws the episode's call from the task's partner, feeds it through the reward and
    /// into the melody, and computes the call's fixed observation features.
    fn play_call(&mut self) {
        if self.call.is_empty() {
            return;
        }
        if let Some(duet) = &self.task.duet {
            duet.partner
                .call(&mut self.rng, &self.task.setting, &mut self.call);
        }
        let setting = &self.task.setting;
        for event in &mut self.call {
            // A partner's event outside the encoding is read as a rest.
            if !setting.encoding.contains(usize::from(*event)) {
                *event = REST;
            }
        }
        for (step, &action) in self.call.iter().enumerate() {
            let ctx = StepContext {
                setting,
                step,
                history: &self.melody,
                action,
            };
            self.reward.step(&ctx, &mut self.terms);
            self.melody.push(action);
        }
        self.terms.fill(0.0);
        if !self.call_features.is_empty() {
            call_features(
                &mut self.call_features,
                setting,
                &self.call,
                self.task.layout.history,
            );
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

/// One call event as [`CALL_EVENT_DIM`] floats: rest, hold, or its pitch class relative to
/// the root of the chord under it (the key's tonic without chords).
fn write_call_event(out: &mut [f32], setting: &crate::reward::Setting, step: usize, event: Event) {
    match event {
        REST => out[0] = 1.0,
        HOLD => out[1] = 1.0,
        _ => match setting.encoding.pitch_of(event) {
            Some(pitch) => {
                let root = setting.chord_at(step).map_or(setting.tonic, |c| c.root);
                out[2 + (usize::from(pitch) + 12 - usize::from(root % 12)) % 12] = 1.0;
            }
            None => out[1] = 1.0,
        },
    }
}

/// The call's fixed observation features (see the module docs): its last `history` events,
/// its rhythm by bar position and its summary.
fn call_features(
    out: &mut [f32],
    setting: &crate::reward::Setting,
    call: &[Event],
    history: usize,
) {
    out.fill(0.0);
    let mut offset = 0;
    for k in 0..history {
        if let Some(at) = call.len().checked_sub(k + 1) {
            write_call_event(
                &mut out[offset..offset + CALL_EVENT_DIM],
                setting,
                at,
                call[at],
            );
        }
        offset += CALL_EVENT_DIM;
    }
    let per_bar = setting.steps_per_bar().max(1);
    let bars = call.len().div_ceil(per_bar).max(1) as f32;
    let (mut onsets, mut ups, mut moves) = (0usize, 0usize, 0usize);
    let (mut first, mut last, mut low, mut high) = (None, None::<u8>, u8::MAX, 0u8);
    for (step, &event) in call.iter().enumerate() {
        if let Some(pitch) = setting.encoding.pitch_of(event) {
            onsets += 1;
            out[offset + step % per_bar] += 1.0 / bars;
            first.get_or_insert(pitch);
            if let Some(previous) = last {
                if pitch != previous {
                    moves += 1;
                    ups += usize::from(pitch > previous);
                }
            }
            last = Some(pitch);
            low = low.min(pitch);
            high = high.max(pitch);
        }
    }
    offset += per_bar;
    let summary = &mut out[offset..offset + crate::task::CALL_SUMMARY_DIM];
    summary[0] = onsets as f32 / call.len().max(1) as f32;
    if let (Some(first), Some(last)) = (first, last) {
        let net = f32::from(last) - f32::from(first);
        summary[1] = (0.5 + net / 48.0).clamp(0.0, 1.0);
        summary[2] = (f32::from(high - low) / 24.0).clamp(0.0, 1.0);
    } else {
        summary[1] = 0.5;
    }
    summary[3] = if moves == 0 {
        0.5
    } else {
        ups as f32 / moves as f32
    };
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
        self.play_call();
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
        self.melody.len().saturating_sub(self.call.len())
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

    #[inline]
    fn prefetch(&self) {
        self.reward.prefetch();
    }
}
