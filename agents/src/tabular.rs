//! Tabular agents: Q-learning, SARSA and Expected SARSA over the env's compact discrete state.
//!
//! References: Watkins (1989), *Learning from Delayed Rewards* (Q-learning); Rummery & Niranjan
//! (1994), *On-line Q-learning using connectionist systems* (SARSA); van Seijen, van Hasselt,
//! Whiteson & Wiering (2009), *A theoretical and empirical analysis of Expected Sarsa*; Sutton &
//! Barto (2018), *Reinforcement Learning: An Introduction*, chapter 6.
//!
//! The file reads top to bottom: the algorithms and their [`TabularConfig`], the schedules, the
//! sparse [`QTable`], the agent with its rollout-and-update loop ([`Agent::learn`]), acting
//! ([`Agent::act`]), and checkpoints.
//!
//! The state is [`Environment::discrete_state`]: for the `rl-tuner` task the last two events,
//! the step index and the melodic context (the distinct pitches of the motif window, capped
//! at 3, and the direction of a pending leap), about 100,000 states visited in 5 million
//! steps. A third event of history instead would visit a million states about five times
//! each, and both the learned return and the speed suffer. The context costs far less: it
//! is what RL Tuner's motif and leap terms remember, and without it they look like noise to
//! the agent. Rows of the table are created on first visit. The inner loop steps the
//! sub-envs of the vector env in turn, one step each per round, without writing observations
//! ([`ComposeEnv::step_state`](cadenza_env::ComposeEnv::step_state)). It does one hash lookup
//! per step (the current row is carried over from the previous step), prefetches what the
//! next round reads so that one sub-env's cache misses overlap with the others' work, and
//! allocates nothing: training runs at millions of steps per second on one core.
//!
//! ```
//! use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
//! use cadenza_agents::{Agent, TrainEnv};
//! use cadenza_env::{vector::VecEnv, ComposeEnv, InScaleReward, TaskSpec};
//! use rand::SeedableRng;
//!
//! let env: TrainEnv = ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(InScaleReward));
//! let mut envs = VecEnv::new(vec![env], 1).unwrap();
//! envs.reset(Some(0)).unwrap();
//! let config = TabularConfig::default();
//! let mut agent = TabularAgent::new(Algorithm::QLearning, config, "rl-tuner", 38, 10_000).unwrap();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let stats = agent.learn(&mut envs, 10_000, &mut rng).unwrap();
//! assert_eq!(stats.steps, 10_000);
//! assert!(agent.table().len() > 100);
//! ```

use crate::agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
use cadenza_env::vector::{VecEnv, VecEnvError};
use cadenza_env::Environment;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Algorithms and configuration
// ---------------------------------------------------------------------------------------------

/// Which temporal-difference target the agent learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Off-policy: `r + γ max_a' Q(s', a')`.
    QLearning,
    /// On-policy: `r + γ Q(s', a')` with `a'` the action the ε-greedy policy takes next.
    Sarsa,
    /// On-policy in expectation: `r + γ Σ_a' π(a'|s') Q(s', a')` under the ε-greedy policy.
    ExpectedSarsa,
    /// Soft (maximum-entropy) Q-learning: `r + γ α log Σ_a' exp(Q(s', a') / α)` with α the
    /// sampling `temperature`. Its values are those of the Boltzmann policy `softmax(Q / α)`
    /// that `generate` samples from, so it learns to stay random where randomness is cheap
    /// and certain where it is not. With a corpus log-probability term in the reward this is
    /// the Ψ-learning of Jaques et al. (2017).
    SoftQ,
}

/// The agent names of the tabular algorithms, as given to `--agent`.
pub const KINDS: &[&str] = &["q", "sarsa", "expected-sarsa", "soft-q"];

impl Algorithm {
    /// The agent's name on the command line and in checkpoints.
    pub fn kind(self) -> &'static str {
        match self {
            Algorithm::QLearning => "q",
            Algorithm::Sarsa => "sarsa",
            Algorithm::ExpectedSarsa => "expected-sarsa",
            Algorithm::SoftQ => "soft-q",
        }
    }

    /// The algorithm of a kind name (`q`, `sarsa`, `expected-sarsa`).
    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "q" | "q-learning" => Some(Algorithm::QLearning),
            "sarsa" => Some(Algorithm::Sarsa),
            "expected-sarsa" => Some(Algorithm::ExpectedSarsa),
            "soft-q" => Some(Algorithm::SoftQ),
            _ => None,
        }
    }
}

/// How ε falls from `epsilon_start` to `epsilon_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsilonDecay {
    /// Linearly over the decay window.
    Linear,
    /// Geometrically over the decay window (`start * (end/start)^fraction`).
    Exponential,
}

/// How the agent explores while it learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exploration {
    /// With probability ε a uniform allowed action, otherwise the best one.
    EpsilonGreedy,
    /// With probability ε a uniform allowed action, otherwise a sample of the softmax over
    /// the row at `temperature`: the policy that `generate` samples from, so the states it
    /// visits are the states that training visited.
    Boltzmann,
}

/// How the step size changes with experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LearningRateSchedule {
    /// `learning_rate` on every update.
    Constant,
    /// `learning_rate / n^learning_rate_power`, with `n` the visits of the state-action pair
    /// (a Robbins-Monro schedule for power in (0.5, 1]).
    Visits,
}

/// Hyperparameters of the tabular agents. Plain data: build, then [`TabularConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TabularConfig {
    /// Discount factor, in [0, 1] (default 0.9).
    pub gamma: f64,
    /// Step size, in (0, 1] (default 0.1); the scale of the visits schedule.
    pub learning_rate: f64,
    /// `constant` or `visits` (default `constant`).
    pub learning_rate_schedule: LearningRateSchedule,
    /// Exponent of the visits schedule, in (0, 1] (default 0.6).
    pub learning_rate_power: f64,
    /// Exploration rate at the start, in [0, 1] (default 0.3).
    pub epsilon_start: f64,
    /// Exploration rate at the end of the decay, in [0, 1] (default 0.01).
    pub epsilon_end: f64,
    /// `linear` or `exponential` (default `linear`); exponential needs a positive end.
    pub epsilon_decay: EpsilonDecay,
    /// Fraction of the training budget over which ε decays, in (0, 1] (default 0.5).
    pub epsilon_fraction: f64,
    /// Value of a new row's entries, in [-1e6, 1e6]; above the achievable returns it makes
    /// exploration systematic (default 20.0, optimistic for the `rl-tuner` reward).
    pub initial_value: f64,
    /// Softmax temperature over Q-values when sampling melodies, in [0, 1000]; 0 is greedy
    /// (default 0.5).
    pub temperature: f64,
    /// When sampling, only actions whose value is within this margin of the best allowed
    /// action's take part in the softmax, in [0, 1e6] (default 1e6: all of them). Like top-p
    /// sampling for language models, a margin cuts off the tail of clearly worse actions
    /// (a note out of key, an unresolved leap) while the temperature keeps the choice among
    /// near-equal ones random.
    pub sample_margin: f64,
    /// `epsilon-greedy` or `boltzmann` (default `epsilon-greedy`).
    pub exploration: Exploration,
}

impl Default for TabularConfig {
    fn default() -> Self {
        Self {
            gamma: 0.9,
            learning_rate: 0.1,
            learning_rate_schedule: LearningRateSchedule::Constant,
            learning_rate_power: 0.6,
            epsilon_start: 0.3,
            epsilon_end: 0.01,
            epsilon_decay: EpsilonDecay::Linear,
            epsilon_fraction: 0.5,
            initial_value: 20.0,
            temperature: 0.5,
            sample_margin: 1e6,
            exploration: Exploration::EpsilonGreedy,
        }
    }
}

fn config_error(field: &str, message: impl Into<String>) -> AgentError {
    AgentError::Config {
        field: field.to_string(),
        message: message.into(),
    }
}

fn check_range(field: &str, value: f64, lo: f64, hi: f64, lo_open: bool) -> Result<(), AgentError> {
    let above = if lo_open { value > lo } else { value >= lo };
    if value.is_finite() && above && value <= hi {
        Ok(())
    } else {
        let open = if lo_open { "(" } else { "[" };
        Err(config_error(
            field,
            format!("{value} is outside the allowed range {open}{lo}, {hi}]"),
        ))
    }
}

impl TabularConfig {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), AgentError> {
        check_range("gamma", self.gamma, 0.0, 1.0, false)?;
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        check_range(
            "learning_rate_power",
            self.learning_rate_power,
            0.0,
            1.0,
            true,
        )?;
        check_range("epsilon_start", self.epsilon_start, 0.0, 1.0, false)?;
        check_range("epsilon_end", self.epsilon_end, 0.0, 1.0, false)?;
        check_range("epsilon_fraction", self.epsilon_fraction, 0.0, 1.0, true)?;
        check_range("temperature", self.temperature, 0.0, 1000.0, false)?;
        check_range("sample_margin", self.sample_margin, 0.0, 1e6, false)?;
        if !self.initial_value.is_finite() || self.initial_value.abs() > 1e6 {
            return Err(config_error(
                "initial_value",
                format!(
                    "{} is outside the allowed range [-1e6, 1e6]",
                    self.initial_value
                ),
            ));
        }
        if self.epsilon_decay == EpsilonDecay::Exponential
            && (self.epsilon_end <= 0.0 || self.epsilon_start <= 0.0)
        {
            return Err(config_error(
                "epsilon_end",
                "exponential decay needs epsilon_start and epsilon_end in (0, 1]",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// ε after `step` of a budget of `budget` steps.
pub fn epsilon_at(config: &TabularConfig, step: u64, budget: u64) -> f64 {
    let window = (config.epsilon_fraction * budget as f64).max(1.0);
    let progress = (step as f64 / window).min(1.0);
    let (start, end) = (config.epsilon_start, config.epsilon_end);
    match config.epsilon_decay {
        EpsilonDecay::Linear => start + (end - start) * progress,
        EpsilonDecay::Exponential => start * (end / start).powf(progress),
    }
}

/// The step size of the `visits`-th update of a state-action pair (visits counted from 1).
pub fn learning_rate_at(config: &TabularConfig, visits: u32) -> f64 {
    match config.learning_rate_schedule {
        LearningRateSchedule::Constant => config.learning_rate,
        LearningRateSchedule::Visits => {
            config.learning_rate / (visits.max(1) as f64).powf(config.learning_rate_power)
        }
    }
}

/// The number of sub-envs that tabular training steps by default. [`Agent::learn`] interleaves
/// them to hide the table's cache misses (see there): one is about a third slower on this
/// task, and beyond eight nothing more is gained.
pub const TABULAR_LANES: usize = 8;

/// Visit counts below this use a precomputed step size instead of a `powf` per update.
const LR_CACHE: usize = 4096;
/// ε is recomputed every this many steps (a power of two), not on every step: it moves by
/// less than 1e-3 in between for any budget above a few million steps.
const EPSILON_REFRESH: u64 = 1024;

// ---------------------------------------------------------------------------------------------
// The sparse Q-table
// ---------------------------------------------------------------------------------------------

const EMPTY: u32 = u32::MAX;

/// One slot of the open-addressing index: a state and its row, or empty.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    row: u32,
}

/// A sparse Q-table: one row of `num_actions` values per visited state, in visit order.
///
/// An open-addressing hash index (linear probing, load at most 1/2) maps states to rows; the
/// rows live in one flat `Vec<f32>`, so a row is a contiguous slice and a state's index stays
/// valid when the table grows.
#[derive(Debug, Clone)]
pub struct QTable {
    num_actions: usize,
    initial: f32,
    slots: Vec<Slot>,
    shift: u32,
    keys: Vec<u64>,
    values: Vec<f32>,
    /// Per state-action visit counts (saturating); empty unless a schedule needs them.
    visits: Vec<u32>,
    track_visits: bool,
    /// One bit per state-action pair that has been updated at least once; sampling ignores
    /// the others, whose values are only the initial guess.
    tried: Vec<u64>,
    words: usize,
}

/// Asks the kernel to back a large buffer with transparent huge pages. The table is read at
/// random, and with 4 KiB pages nearly every lookup in a table of tens of MiB also misses
/// the TLB; 2 MiB pages take most of those misses away. The advice only counts for pages not
/// yet touched, so it is given on fresh allocations before they are written (see
/// [`extend_huge`]). Only advice: without it (or off Linux) everything works the same, a
/// little slower.
fn advise_huge_pages<T>(buffer: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = buffer.capacity() * std::mem::size_of::<T>();
        let start = buffer.as_ptr() as usize;
        let first = (start + HUGE - 1) & !(HUGE - 1);
        let end = (start + bytes) & !(HUGE - 1);
        if end > first {
            // SAFETY: madvise only changes how the kernel backs these pages, never their
            // contents, and the range lies inside the vector's allocation.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// `len` copies of `value` in a buffer advised for huge pages before its first write.
fn filled_huge<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut buffer = Vec::with_capacity(len);
    advise_huge_pages(&buffer);
    buffer.resize(len, value);
    buffer
}

/// Appends `count` copies of `value`. When the capacity runs out the contents move to a fresh
/// allocation of twice the size, advised for huge pages before the copy touches it: growing
/// in place (`realloc`, which moves the old pages) would keep them at 4 KiB.
fn extend_huge<T: Clone>(buffer: &mut Vec<T>, count: usize, value: T) {
    let needed = buffer.len() + count;
    if needed > buffer.capacity() {
        let mut fresh = Vec::with_capacity(needed.max(2 * buffer.capacity()).max(1024));
        advise_huge_pages(&fresh);
        fresh.extend_from_slice(buffer);
        *buffer = fresh;
    }
    buffer.extend(std::iter::repeat_n(value, count));
}

/// Hints the CPU to start loading `items[index]` into the cache. Does nothing when the index
/// is out of bounds (an untracked visit count, say) or off x86-64.
#[inline(always)]
fn prefetch<T>(items: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = items.get(index) {
        // SAFETY: a prefetch is only a hint to the cache and never faults; the address is an
        // element of a live slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (item as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, index);
}

#[inline]
fn hash(key: u64, shift: u32) -> usize {
    // Fibonacci hashing: the high bits of a multiply mix every input bit.
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl QTable {
    /// An empty table; new rows start at `initial`. `track_visits` keeps visit counts.
    pub fn new(num_actions: usize, initial: f32, track_visits: bool) -> Self {
        let capacity = 1024usize;
        Self {
            num_actions,
            initial,
            slots: vec![Slot { key: 0, row: EMPTY }; capacity],
            shift: 64 - capacity.trailing_zeros(),
            keys: Vec::new(),
            values: Vec::new(),
            visits: Vec::new(),
            track_visits,
            tried: Vec::new(),
            words: num_actions.div_ceil(64),
        }
    }

    /// Number of rows (visited states).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no state has been visited.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of actions per row.
    pub fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// Approximate memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
            + self.keys.capacity() * 8
            + self.values.capacity() * 4
            + self.visits.capacity() * 4
            + self.tried.capacity() * 8
    }

    /// The row index of `state`, if visited.
    #[inline]
    pub fn find(&self, state: u64) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = hash(state, self.shift);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY {
                return None;
            }
            if slot.key == state {
                return Some(slot.row as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// The row index of `state`, creating the row on first visit.
    #[inline]
    pub fn row_index(&mut self, state: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = hash(state, self.shift);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY {
                break;
            }
            if slot.key == state {
                return slot.row as usize;
            }
            i = (i + 1) & mask;
        }
        self.insert_at(i, state)
    }

    #[cold]
    fn insert_at(&mut self, slot: usize, state: u64) -> usize {
        let row = self.keys.len();
        self.slots[slot] = Slot {
            key: state,
            row: row as u32,
        };
        self.keys.push(state);
        extend_huge(&mut self.values, self.num_actions, self.initial);
        if self.track_visits {
            extend_huge(&mut self.visits, self.num_actions, 0);
        }
        extend_huge(&mut self.tried, self.words, 0);
        if 2 * self.keys.len() > self.slots.len() {
            self.grow();
        }
        row
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        self.slots = filled_huge(capacity, Slot { key: 0, row: EMPTY });
        self.shift = 64 - capacity.trailing_zeros();
        let mask = capacity - 1;
        for (row, &key) in self.keys.iter().enumerate() {
            let mut i = hash(key, self.shift);
            while self.slots[i].row != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = Slot {
                key,
                row: row as u32,
            };
        }
    }

    /// Starts loading the hash slot where a lookup of `state` begins.
    #[inline]
    pub fn prefetch_slot(&self, state: u64) {
        prefetch(&self.slots, hash(state, self.shift));
    }

    /// Starts loading a row's values and tried bits, which the next target reads.
    #[inline]
    pub fn prefetch_row(&self, index: usize) {
        let start = index * self.num_actions;
        // One touch per cache line the row spans (16 floats to a 64-byte line), and its end.
        for i in (start..start + self.num_actions).step_by(16) {
            prefetch(&self.values, i);
        }
        prefetch(&self.values, start + self.num_actions - 1);
        prefetch(&self.tried, index * self.words);
    }

    /// Starts loading what an update of `(row, action)` writes besides the value itself,
    /// which acting has just read: the visit count and the tried bit.
    #[inline]
    pub fn prefetch_update(&self, row: usize, action: usize) {
        prefetch(&self.visits, row * self.num_actions + action);
        prefetch(&self.tried, row * self.words + action / 64);
    }

    /// The values of a row.
    #[inline]
    pub fn row(&self, index: usize) -> &[f32] {
        &self.values[index * self.num_actions..(index + 1) * self.num_actions]
    }

    /// The values of a row, mutably.
    #[inline]
    pub fn row_mut(&mut self, index: usize) -> &mut [f32] {
        &mut self.values[index * self.num_actions..(index + 1) * self.num_actions]
    }

    /// The state of a row.
    pub fn state(&self, index: usize) -> u64 {
        self.keys[index]
    }

    /// The values of a state, if visited.
    pub fn values_of(&self, state: u64) -> Option<&[f32]> {
        self.find(state).map(|i| self.row(i))
    }

    /// Whether the value of (row, action) has been updated at least once.
    #[inline]
    pub fn is_tried(&self, row: usize, action: usize) -> bool {
        self.tried[row * self.words + action / 64] & (1 << (action % 64)) != 0
    }

    /// Marks (row, action) as updated, so that sampling considers it (for code that updates
    /// a table outside [`Agent::learn`], such as a session adapting to a listener).
    #[inline]
    pub fn mark_tried(&mut self, row: usize, action: usize) {
        self.tried[row * self.words + action / 64] |= 1 << (action % 64);
    }

    /// The soft value `α log Σ exp(Q / α)` of a row over its allowed, tried actions (the
    /// others hold only the initial guess, which would swamp the sum); the initial value
    /// when none is tried.
    #[inline]
    fn soft_value(&self, row: usize, mask: Option<&[bool]>, alpha: f32) -> f32 {
        let values = self.row(row);
        let bits = &self.tried[row * self.words..(row + 1) * self.words];
        let counts = |a: usize| bits[a / 64] & (1 << (a % 64)) != 0 && mask.is_none_or(|m| m[a]);
        let mut max = f32::NEG_INFINITY;
        for (a, &v) in values.iter().enumerate() {
            if counts(a) && v > max {
                max = v;
            }
        }
        if max == f32::NEG_INFINITY {
            return self.initial;
        }
        let mut sum = 0.0f32;
        for (a, &v) in values.iter().enumerate() {
            if counts(a) {
                sum += ((v - max) / alpha).exp();
            }
        }
        max + alpha * sum.ln()
    }

    /// Counts one more visit of (row, action), returning the new count (0 when not tracked).
    #[inline]
    fn visit(&mut self, row: usize, action: usize) -> u32 {
        self.tried[row * self.words + action / 64] |= 1 << (action % 64);
        match self.visits.get_mut(row * self.num_actions + action) {
            Some(count) => {
                *count = count.saturating_add(1);
                *count
            }
            None => 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Action selection
// ---------------------------------------------------------------------------------------------

/// The largest value of a row (NaNs ignored), four places to one SSE instruction: a running
/// maximum in scalar code is a chain of dependent compares as long as the row.
#[inline]
fn row_max(row: &[f32]) -> f32 {
    let pick = |m: f32, v: f32| if v > m { v } else { m };
    let mut max = f32::NEG_INFINITY;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_max_ps, _mm_set1_ps, _mm_storeu_ps};
        let mut lanes = [f32::NEG_INFINITY; 4];
        // SAFETY: SSE is part of the x86-64 baseline, each load reads the four floats of one
        // chunk and the store writes the four of `lanes` (unaligned loads and store).
        // `maxps` returns its second operand when either is NaN: the running maximum.
        unsafe {
            let mut acc = _mm_set1_ps(f32::NEG_INFINITY);
            for chunk in row.chunks_exact(4) {
                acc = _mm_max_ps(_mm_loadu_ps(chunk.as_ptr()), acc);
                done += 4;
            }
            _mm_storeu_ps(lanes.as_mut_ptr(), acc);
        }
        max = lanes.into_iter().fold(max, pick);
    }
    row[done..].iter().fold(max, |m, &v| pick(m, v))
}

/// A bit set of the places of a row (at most 64 long) that hold `value`, so that a tie-break
/// needs no scan: four compares to one SSE instruction, whose sign bits make a nibble.
#[inline]
fn equal_bits(row: &[f32], value: f32) -> u64 {
    let mut bits = 0u64;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_set1_ps};
        // SAFETY: SSE is part of the x86-64 baseline, and each load reads the four floats of
        // one chunk (unaligned loads).
        unsafe {
            let target = _mm_set1_ps(value);
            for chunk in row.chunks_exact(4) {
                let lanes = _mm_loadu_ps(chunk.as_ptr());
                bits |= (_mm_movemask_ps(_mm_cmpeq_ps(lanes, target)) as u64) << done;
                done += 4;
            }
        }
    }
    for (j, &v) in row[done..].iter().enumerate() {
        bits |= u64::from(v == value) << (done + j);
    }
    bits
}

/// The highest-valued allowed action, ties going to the first at or after `start` (cyclically),
/// so that ties between untried actions are broken by the caller's randomness.
#[inline]
fn argmax_from(row: &[f32], mask: Option<&[bool]>, start: usize) -> Option<usize> {
    let n = row.len();
    if mask.is_none() && start < n {
        // The hot path of unmasked tasks: the maximum in one branch-free pass, then the first
        // place at or after `start` that holds it (the same choice as the loop below): from
        // a bit set of the places that hold it where the row fits in 64 bits.
        let max = row_max(row);
        if max > f32::NEG_INFINITY {
            if n <= 64 {
                let hits = equal_bits(row, max);
                let after = hits >> start;
                return Some(if after != 0 {
                    start + after.trailing_zeros() as usize
                } else {
                    hits.trailing_zeros() as usize
                });
            }
            let hit = |v: &f32| *v == max;
            return row[start..]
                .iter()
                .position(hit)
                .map(|i| start + i)
                .or_else(|| row[..start].iter().position(hit));
        }
    }
    let mut best = None;
    let mut best_value = f32::NEG_INFINITY;
    for k in 0..n {
        let a = if start + k >= n {
            start + k - n
        } else {
            start + k
        };
        if mask.is_some_and(|m| !m[a]) {
            continue;
        }
        let v = row[a];
        if best.is_none() || v > best_value {
            best = Some(a);
            best_value = v;
        }
    }
    best
}

/// The largest allowed value of a row.
#[inline]
fn max_allowed(row: &[f32], mask: Option<&[bool]>) -> f32 {
    match mask {
        None => row_max(row),
        Some(m) => row
            .iter()
            .zip(m)
            .filter(|(_, &ok)| ok)
            .map(|(&v, _)| v)
            .fold(f32::NEG_INFINITY, f32::max),
    }
}

/// A uniformly random allowed action from 32 random bits.
#[inline]
fn uniform_allowed(bits: u32, mask: Option<&[bool]>, n: usize) -> Option<usize> {
    let pick = |count: usize| ((bits as u64 * count as u64) >> 32) as usize;
    match mask {
        None => Some(pick(n)),
        Some(m) => {
            let allowed = m.iter().filter(|&&ok| ok).count();
            if allowed == 0 {
                return None;
            }
            m.iter()
                .enumerate()
                .filter(|(_, &ok)| ok)
                .nth(pick(allowed))
                .map(|(a, _)| a)
        }
    }
}

/// ε-greedy: one 64-bit draw decides explore-or-exploit (high half) and which action or which
/// tie-break offset (low half).
#[inline]
fn epsilon_greedy(
    row: &[f32],
    mask: Option<&[bool]>,
    epsilon_bits: u64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let x = rng.next_u64();
    let n = row.len();
    if (x >> 32) < epsilon_bits {
        uniform_allowed(x as u32, mask, n)
    } else {
        argmax_from(row, mask, (((x as u32) as u64 * n as u64) >> 32) as usize)
    }
}

/// The behaviour policy of [`Exploration::Boltzmann`]: ε-uniform, else the softmax.
fn epsilon_boltzmann(
    row: &[f32],
    mask: Option<&[bool]>,
    epsilon_bits: u64,
    temperature: f64,
    margin: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let x = rng.next_u64();
    let n = row.len();
    if (x >> 32) < epsilon_bits {
        return uniform_allowed(x as u32, mask, n);
    }
    match mask {
        Some(m) => softmax_sample(row, m, temperature, margin, rng),
        None => softmax_sample(row, &ALL_ALLOWED[..n], temperature, margin, rng),
    }
}

/// A mask that allows every action, for tasks without masks.
static ALL_ALLOWED: [bool; 256] = [true; 256];

/// ε as a threshold on 32 random bits.
fn epsilon_threshold(epsilon: f64) -> u64 {
    (epsilon.clamp(0.0, 1.0) * 4_294_967_296.0) as u64
}

/// Softmax sampling at `temperature` (> 0) over the allowed actions whose value is within
/// `margin` of the best.
fn softmax_sample(
    row: &[f32],
    mask: &[bool],
    temperature: f64,
    margin: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    let max = max_allowed(row, Some(mask)) as f64;
    if !max.is_finite() {
        return None;
    }
    let weight = |a: usize| {
        if mask[a] && row[a] as f64 >= max - margin {
            ((row[a] as f64 - max) / temperature).exp()
        } else {
            0.0
        }
    };
    let total: f64 = (0..row.len()).map(weight).sum();
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    let mut acc = 0.0;
    let mut last = None;
    for a in 0..row.len() {
        let w = weight(a);
        if w > 0.0 {
            acc += w;
            last = Some(a);
            if u < acc {
                return Some(a);
            }
        }
    }
    last
}

// ---------------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------------

/// A tabular agent: one of the [`Algorithm`]s with its [`QTable`]. See the module docs.
#[derive(Debug, Clone)]
pub struct TabularAgent {
    algorithm: Algorithm,
    config: TabularConfig,
    task: String,
    table: QTable,
    /// Env steps learned from so far (drives the ε schedule).
    steps_done: u64,
    /// The budget the ε schedule decays over.
    schedule_steps: u64,
    episodes_done: u64,
    /// Per sub-env return of the episode in progress.
    running_returns: Vec<f64>,
    lr_cache: Vec<f32>,
}

impl TabularAgent {
    /// A fresh agent for a task with `num_actions` actions whose ε schedule spans
    /// `schedule_steps` env steps (the training budget).
    pub fn new(
        algorithm: Algorithm,
        config: TabularConfig,
        task: &str,
        num_actions: usize,
        schedule_steps: u64,
    ) -> Result<Self, AgentError> {
        config.validate()?;
        if algorithm == Algorithm::SoftQ && config.temperature <= 0.0 {
            return Err(config_error(
                "temperature",
                "soft-q needs a temperature above 0 (it is the entropy weight α)",
            ));
        }
        if num_actions == 0 {
            return Err(config_error(
                "num_actions",
                "a task needs at least one action",
            ));
        }
        let track = config.learning_rate_schedule == LearningRateSchedule::Visits;
        let table = QTable::new(num_actions, config.initial_value as f32, track);
        let lr_cache = (0..LR_CACHE)
            .map(|n| learning_rate_at(&config, n as u32) as f32)
            .collect();
        Ok(Self {
            algorithm,
            config,
            task: task.to_string(),
            table,
            steps_done: 0,
            schedule_steps: schedule_steps.max(1),
            episodes_done: 0,
            running_returns: Vec::new(),
            lr_cache,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hyperparameters.
    pub fn config(&self) -> &TabularConfig {
        &self.config
    }

    /// The task the agent was trained on.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// The Q-table.
    pub fn table(&self) -> &QTable {
        &self.table
    }

    /// The Q-table, to update it from outside the training loop (e.g. from a listener's
    /// reactions in a session).
    pub fn table_mut(&mut self) -> &mut QTable {
        &mut self.table
    }

    /// Env steps learned from so far.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    /// Sets the budget the ε schedule spans (e.g. the new total when resuming).
    pub fn set_schedule_steps(&mut self, steps: u64) {
        self.schedule_steps = steps.max(1);
    }

    /// Sets the sampling temperature used by [`ActMode::Sample`] callers that defer to the
    /// agent's own default.
    pub fn set_temperature(&mut self, temperature: f64) -> Result<(), AgentError> {
        check_range("temperature", temperature, 0.0, 1000.0, false)?;
        self.config.temperature = temperature;
        Ok(())
    }

    /// ε at the current step.
    pub fn epsilon(&self) -> f64 {
        epsilon_at(&self.config, self.steps_done, self.schedule_steps)
    }

    /// The step size of an update after `visits` visits.
    #[inline]
    fn step_size(&self, visits: u32) -> f32 {
        match self.lr_cache.get(visits as usize) {
            Some(&lr) => lr,
            None => learning_rate_at(&self.config, visits) as f32,
        }
    }

    /// The behaviour policy's action in `row`: ε-greedy or ε-Boltzmann.
    #[inline]
    fn behave(
        &self,
        row: usize,
        mask: Option<&[bool]>,
        epsilon_bits: u64,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let values = self.table.row(row);
        match self.config.exploration {
            Exploration::EpsilonGreedy => epsilon_greedy(values, mask, epsilon_bits, rng),
            Exploration::Boltzmann => epsilon_boltzmann(
                values,
                mask,
                epsilon_bits,
                self.config.temperature.max(1e-6),
                self.config.sample_margin,
                rng,
            ),
        }
    }

    /// The bootstrap value of the next state's row under the algorithm's target, and for
    /// SARSA the next action it commits to.
    #[inline]
    fn bootstrap(
        &self,
        next: usize,
        mask: Option<&[bool]>,
        epsilon: f64,
        epsilon_bits: u64,
        rng: &mut ChaCha8Rng,
    ) -> Option<(f32, Option<usize>)> {
        let values = self.table.row(next);
        Some(match self.algorithm {
            Algorithm::QLearning => (max_allowed(values, mask), None),
            Algorithm::Sarsa => {
                let a = self.behave(next, mask, epsilon_bits, rng)?;
                (values[a], Some(a))
            }
            Algorithm::ExpectedSarsa => {
                let e = epsilon as f32;
                let (sum, count) = match mask {
                    None => (values.iter().sum::<f32>(), values.len()),
                    Some(m) => values
                        .iter()
                        .zip(m)
                        .filter(|(_, &ok)| ok)
                        .fold((0.0, 0), |(s, c), (&v, _)| (s + v, c + 1)),
                };
                let mean = sum / count.max(1) as f32;
                ((1.0 - e) * max_allowed(values, mask) + e * mean, None)
            }
            Algorithm::SoftQ => (
                self.table
                    .soft_value(next, mask, self.config.temperature as f32),
                None,
            ),
        })
    }

    /// Steps one lane's env with `action` from `row`, and starts fetching the memory the
    /// lane's next turn reads: the hash slot of the state reached, and the entries of
    /// `(row, action)` that its update writes.
    #[inline]
    fn take_step(
        &mut self,
        env: &mut TrainEnv,
        index: usize,
        lane: &mut Lane,
    ) -> Result<(), AgentError> {
        let t = env
            .step_state(lane.action)
            .map_err(|source| AgentError::Env(VecEnvError::Env { index, source }))?;
        self.steps_done += 1;
        self.running_returns[index] += t.reward;
        lane.reward = t.reward as f32;
        lane.terminated = t.terminated;
        lane.finished = t.terminated || t.truncated;
        if !t.terminated {
            lane.next_key = env.discrete_state();
            self.table.prefetch_slot(lane.next_key);
        }
        self.table.prefetch_update(lane.row, lane.action);
        Ok(())
    }
}

/// One sub-env's place in the interleaved learn loop: the transition it took and has not yet
/// learned from.
#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    /// Row of the state the action was taken from.
    row: usize,
    action: usize,
    reward: f32,
    terminated: bool,
    /// Terminated or truncated: the env resets after the update.
    finished: bool,
    /// The state reached (unless terminated), and its row once looked up.
    next_key: u64,
    next_row: usize,
    /// Steps the lane still takes in this call; a lane with none left only learns from its
    /// last transition.
    steps_left: u64,
    active: bool,
}

impl Agent for TabularAgent {
    fn kind(&self) -> &'static str {
        self.algorithm.kind()
    }

    /// Steps the sub-envs in turn, one step each per round, updating after every step.
    ///
    /// The loop is software-pipelined across sub-envs, because the table outgrows the caches
    /// and every step would otherwise wait twice on main memory: once for the hash slot of
    /// the state reached, once for its row. Each round first looks up every lane's new state
    /// (its slot was prefetched when the lane stepped) and prefetches the row, then learns,
    /// acts and steps each lane in turn. With several sub-envs those waits overlap with the
    /// other lanes' work; with one they do not, which is why tabular training defaults to
    /// several.
    fn learn(
        &mut self,
        envs: &mut VecEnv<TrainEnv>,
        steps: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<LearnStats, AgentError> {
        let n = envs.num_envs();
        if self.running_returns.len() != n {
            self.running_returns = vec![0.0; n];
        }
        let mut obs = vec![0.0f32; envs.obs_dim()];
        let mut mask_buf = vec![true; envs.num_actions()];
        let mut stats = LearnStats::default();
        let share = steps / n as u64;
        let extra = steps % n as u64;
        let gamma = self.config.gamma as f32;
        let mut epsilon = self.epsilon();
        let mut epsilon_bits = epsilon_threshold(epsilon);
        let no_action = |index: usize| {
            AgentError::Other(format!("sub-env {index}: every action is masked out"))
        };
        let env_error =
            |index: usize| move |source| AgentError::Env(VecEnvError::Env { index, source });

        // --- the first action of every lane --------------------------------------------------
        let mut lanes = vec![Lane::default(); n];
        for (index, (env, lane)) in envs.envs_mut().iter_mut().zip(&mut lanes).enumerate() {
            let quota = share + u64::from((index as u64) < extra);
            if quota == 0 {
                continue;
            }
            // Tasks without masking have all-ones masks: skip the copies and checks.
            let masked = env.task().mask_out_of_scale;
            if masked {
                mask_buf.copy_from_slice(env.action_mask());
            }
            lane.row = self.table.row_index(env.discrete_state());
            lane.action = self
                .behave(lane.row, masked.then_some(&*mask_buf), epsilon_bits, rng)
                .ok_or_else(|| no_action(index))?;
            self.take_step(env, index, lane)?;
            lane.steps_left = quota - 1;
            lane.active = true;
        }

        // --- rounds ----------------------------------------------------------------------------
        let mut active = lanes.iter().filter(|l| l.active).count();
        while active > 0 {
            for lane in lanes.iter_mut().filter(|l| l.active && !l.terminated) {
                lane.next_row = self.table.row_index(lane.next_key);
                self.table.prefetch_row(lane.next_row);
            }
            for (index, (env, lane)) in envs.envs_mut().iter_mut().zip(&mut lanes).enumerate() {
                if !lane.active {
                    continue;
                }
                if self.steps_done & (EPSILON_REFRESH - 1) == 0 {
                    epsilon = self.epsilon();
                    epsilon_bits = epsilon_threshold(epsilon);
                }
                let masked = env.task().mask_out_of_scale;
                // The target. SARSA commits to its next action here; the others pick it
                // after the update.
                let mut next_action = None;
                let target = if lane.terminated {
                    lane.reward
                } else {
                    if masked {
                        mask_buf.copy_from_slice(env.action_mask());
                    }
                    let mask = masked.then_some(&*mask_buf);
                    let (value, action) = self
                        .bootstrap(lane.next_row, mask, epsilon, epsilon_bits, rng)
                        .ok_or_else(|| no_action(index))?;
                    next_action = action;
                    lane.reward + gamma * value
                };

                // The update.
                let visits = self.table.visit(lane.row, lane.action);
                let lr = self.step_size(visits);
                let q = &mut self.table.row_mut(lane.row)[lane.action];
                *q += lr * (target - *q);

                // The next state.
                if lane.finished {
                    stats.episode_returns.push(self.running_returns[index]);
                    self.running_returns[index] = 0.0;
                    self.episodes_done += 1;
                    env.reset_into(None, &mut obs).map_err(env_error(index))?;
                    if masked {
                        mask_buf.copy_from_slice(env.action_mask());
                    }
                    lane.row = self.table.row_index(env.discrete_state());
                    next_action = None;
                } else {
                    lane.row = lane.next_row;
                }
                if lane.steps_left == 0 {
                    lane.active = false;
                    active -= 1;
                    continue;
                }

                // The next step.
                lane.action = match next_action {
                    Some(a) => a,
                    None => self
                        .behave(lane.row, masked.then_some(&*mask_buf), epsilon_bits, rng)
                        .ok_or_else(|| no_action(index))?,
                };
                self.take_step(env, index, lane)?;
                lane.steps_left -= 1;
            }
        }
        stats.steps = steps;
        stats.scalars.insert("epsilon".into(), self.epsilon());
        stats
            .scalars
            .insert("states".into(), self.table.len() as f64);
        stats.scalars.insert(
            "table_mib".into(),
            self.table.memory_bytes() as f64 / (1 << 20) as f64,
        );
        stats
            .scalars
            .insert("episodes".into(), self.episodes_done as f64);
        if self.config.learning_rate_schedule == LearningRateSchedule::Constant {
            stats
                .scalars
                .insert("learning_rate".into(), self.config.learning_rate);
        }
        Ok(stats)
    }

    /// Greedy: the best allowed action. Sample: a softmax over the row at the given
    /// temperature (0 = greedy). An unvisited state: uniform over the allowed actions.
    fn act(&mut self, obs: &Observation<'_>, mode: ActMode, rng: &mut ChaCha8Rng) -> usize {
        let n = self.table.num_actions().min(obs.mask.len());
        let fallback = || obs.mask.iter().position(|&ok| ok).unwrap_or(0);
        let Some(index) = self.table.find(obs.state) else {
            return uniform_allowed(rng.next_u32(), Some(&obs.mask[..n]), n)
                .unwrap_or_else(fallback);
        };
        let row = &self.table.row(index)[..n];
        // Values never updated are only the initial guess (optimistic by design): choose
        // among the tried actions when there are any.
        let mut tried = [false; 256];
        let mask: &[bool] = if n <= tried.len() {
            let mut any = false;
            for (a, slot) in tried.iter_mut().enumerate().take(n) {
                *slot = obs.mask[a] && self.table.is_tried(index, a);
                any |= *slot;
            }
            if any {
                &tried[..n]
            } else {
                &obs.mask[..n]
            }
        } else {
            &obs.mask[..n]
        };
        let chosen = match mode {
            ActMode::Greedy => argmax_from(row, Some(mask), 0),
            ActMode::Sample { temperature } if temperature <= 0.0 || !temperature.is_finite() => {
                argmax_from(row, Some(mask), 0)
            }
            ActMode::Sample { temperature } => {
                softmax_sample(row, mask, temperature, self.config.sample_margin, rng)
            }
        };
        chosen.unwrap_or_else(fallback)
    }

    /// The table has no per-episode state: each observation is simply looked up in turn.
    fn act_batch(
        &mut self,
        observations: &[Observation<'_>],
        mode: ActMode,
        rngs: &mut [ChaCha8Rng],
        actions: &mut [usize],
    ) -> bool {
        if rngs.len() < observations.len() || actions.len() < observations.len() {
            return false;
        }
        for ((obs, rng), action) in observations.iter().zip(rngs).zip(actions) {
            *action = self.act(obs, mode, rng);
        }
        true
    }

    fn save(&self, dir: &Path) -> Result<(), AgentError> {
        save_checkpoint(self, &dir.join(CHECKPOINT_FILE))
    }

    fn set_total_steps(&mut self, total_steps: u64) {
        self.set_schedule_steps(total_steps);
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/// File name of a tabular checkpoint inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "tabular.ckpt";
/// The `format` field of tabular checkpoints.
pub const FORMAT: &str = "cadenza-tabular";
/// The current checkpoint version. Version 2: `rl-tuner`'s compact state gained the melodic
/// context, so a version-1 table's rows belong to other states.
pub const VERSION: u32 = 2;

/// The checkpoint header: one line of JSON, followed by the table in binary (see
/// [`TableLayout`]) and an 8-byte FNV-1a checksum of that binary part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    /// The agent kind (`q`, `sarsa`, `expected-sarsa`).
    pub kind: String,
    /// The hyperparameters.
    pub config: TabularConfig,
    /// The task's name.
    pub task: String,
    /// Env steps learned from.
    pub steps_done: u64,
    /// The budget of the ε schedule.
    pub schedule_steps: u64,
    /// Episodes finished in training.
    pub episodes_done: u64,
    /// How the table follows the header.
    pub table: TableLayout,
}

/// The binary table after the header, little-endian: `rows` states (u64), then
/// `rows * num_actions` values (f32, row-major), then as many visit counts (u32) if `visits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableLayout {
    /// Always `binary-le`.
    pub encoding: String,
    /// Number of rows.
    pub rows: u64,
    /// Values per row.
    pub num_actions: u64,
    /// Whether visit counts follow the values.
    pub visits: bool,
    /// Words (u64) per row of the tried-action bits that follow.
    pub tried_words: u64,
}

impl TableLayout {
    fn bytes(&self) -> Option<u64> {
        let cells = self.rows.checked_mul(self.num_actions)?;
        let per_cell = if self.visits { 8 } else { 4 };
        let tried = self.rows.checked_mul(self.tried_words)?.checked_mul(8)?;
        self.rows
            .checked_mul(8)?
            .checked_add(cells.checked_mul(per_cell)?)?
            .checked_add(tried)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn checkpoint_error(path: &Path, message: impl Into<String>) -> AgentError {
    AgentError::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`, so a crash never leaves a half-written file in its place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| checkpoint_error(path, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp: PathBuf = dir.join(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        checkpoint_error(path, format!("cannot write: {e}"))
    })
}

/// Encodes an agent as checkpoint bytes.
pub fn encode_checkpoint(agent: &TabularAgent) -> Vec<u8> {
    let table = &agent.table;
    let header = CheckpointHeader {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: agent.algorithm.kind().to_string(),
        config: agent.config.clone(),
        task: agent.task.clone(),
        steps_done: agent.steps_done,
        schedule_steps: agent.schedule_steps,
        episodes_done: agent.episodes_done,
        table: TableLayout {
            encoding: "binary-le".to_string(),
            rows: table.len() as u64,
            num_actions: table.num_actions as u64,
            visits: table.track_visits,
            tried_words: table.words as u64,
        },
    };
    // Serialising plain data with string keys cannot fail.
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    let start = out.len();
    out.reserve(header.table.bytes().unwrap_or(0) as usize + 8);
    for &key in &table.keys {
        out.extend_from_slice(&key.to_le_bytes());
    }
    for &v in &table.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if table.track_visits {
        for &c in &table.visits {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    for &w in &table.tried {
        out.extend_from_slice(&w.to_le_bytes());
    }
    let checksum = fnv1a(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Writes an agent's checkpoint to `path` atomically.
pub fn save_checkpoint(agent: &TabularAgent, path: &Path) -> Result<(), AgentError> {
    write_atomic(path, &encode_checkpoint(agent))
}

/// Reads only the header of a checkpoint file (to learn its kind).
pub fn read_header(path: &Path) -> Result<CheckpointHeader, AgentError> {
    let bytes =
        std::fs::read(path).map_err(|e| checkpoint_error(path, format!("cannot read: {e}")))?;
    parse_header(path, &bytes).map(|(h, _)| h)
}

fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(CheckpointHeader, &'a [u8]), AgentError> {
    let newline = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| {
        checkpoint_error(
            path,
            "not a Cadenza tabular checkpoint (no header line; truncated or corrupt)",
        )
    })?;
    let value: serde_json::Value = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| checkpoint_error(path, format!("corrupt header: {e}")))?;
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != FORMAT {
        return Err(checkpoint_error(
            path,
            format!("format is '{format}', expected '{FORMAT}' (not a tabular checkpoint)"),
        ));
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != VERSION as u64 {
        return Err(checkpoint_error(
            path,
            format!(
                "version {version} is not supported (this build reads version {VERSION}; \
                 version 2 changed the compact state, so retrain the agent)"
            ),
        ));
    }
    let header: CheckpointHeader = serde_json::from_value(value)
        .map_err(|e| checkpoint_error(path, format!("corrupt header: {e}")))?;
    Ok((header, &bytes[newline + 1..]))
}

/// Decodes checkpoint bytes read from `path` (named in errors). With `expected_kind`, a
/// checkpoint of another kind is an error.
pub fn decode_checkpoint(
    path: &Path,
    bytes: &[u8],
    expected_kind: Option<&str>,
) -> Result<TabularAgent, AgentError> {
    let (header, body) = parse_header(path, bytes)?;
    let algorithm = Algorithm::from_kind(&header.kind).ok_or_else(|| {
        checkpoint_error(
            path,
            format!("unknown tabular agent kind '{}'", header.kind),
        )
    })?;
    if let Some(kind) = expected_kind {
        if kind != header.kind {
            return Err(checkpoint_error(
                path,
                format!("holds a '{}' agent, not a '{kind}' agent", header.kind),
            ));
        }
    }
    let layout = &header.table;
    if layout.encoding != "binary-le" {
        return Err(checkpoint_error(
            path,
            format!("unknown table encoding '{}'", layout.encoding),
        ));
    }
    let expected = layout
        .bytes()
        .and_then(|b| b.checked_add(8))
        .ok_or_else(|| checkpoint_error(path, "corrupt header: table size overflows"))?;
    if (body.len() as u64) < expected {
        return Err(checkpoint_error(
            path,
            format!(
                "truncated: the table needs {expected} bytes, the file has {}",
                body.len()
            ),
        ));
    }
    if body.len() as u64 != expected {
        return Err(checkpoint_error(
            path,
            format!(
                "corrupt: {} bytes after the table",
                body.len() as u64 - expected
            ),
        ));
    }
    let (data, tail) = body.split_at(body.len() - 8);
    let stored = u64::from_le_bytes(tail.try_into().unwrap_or([0; 8]));
    if fnv1a(data) != stored {
        return Err(checkpoint_error(path, "corrupt: checksum mismatch"));
    }
    let mut agent = TabularAgent::new(
        algorithm,
        header.config.clone(),
        &header.task,
        layout.num_actions as usize,
        header.schedule_steps,
    )
    .map_err(|e| checkpoint_error(path, format!("invalid config: {e}")))?;
    if layout.visits != agent.table.track_visits || layout.tried_words != agent.table.words as u64 {
        return Err(checkpoint_error(
            path,
            "corrupt: the table layout disagrees with the config",
        ));
    }
    let rows = layout.rows as usize;
    let cells = rows * layout.num_actions as usize;
    let (keys, rest) = data.split_at(rows * 8);
    let (values, rest) = rest.split_at(cells * 4);
    let visit_bytes = if layout.visits { cells * 4 } else { 0 };
    let (visits, tried) = rest.split_at(visit_bytes);
    let table = &mut agent.table;
    for chunk in keys.chunks_exact(8) {
        let key = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let before = table.len();
        table.row_index(key);
        if table.len() == before {
            return Err(checkpoint_error(path, "corrupt: a state appears twice"));
        }
    }
    for (slot, chunk) in table.values.iter_mut().zip(values.chunks_exact(4)) {
        *slot = f32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
    }
    for (slot, chunk) in table.visits.iter_mut().zip(visits.chunks_exact(4)) {
        *slot = u32::from_le_bytes(chunk.try_into().unwrap_or([0; 4]));
    }
    for (slot, chunk) in table.tried.iter_mut().zip(tried.chunks_exact(8)) {
        *slot = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    }
    agent.steps_done = header.steps_done;
    agent.episodes_done = header.episodes_done;
    Ok(agent)
}

/// Loads a tabular agent from a checkpoint directory (as written by [`Agent::save`]).
pub fn load(dir: &Path, expected_kind: Option<&str>) -> Result<TabularAgent, AgentError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes =
        std::fs::read(&path).map_err(|e| checkpoint_error(&path, format!("cannot read: {e}")))?;
    decode_checkpoint(&path, &bytes, expected_kind)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::reward::{Reward, Setting, StepContext};
    use cadenza_env::{ComposeEnv, TaskSpec};
    use rand::SeedableRng;

    fn agent(algorithm: Algorithm, config: TabularConfig) -> TabularAgent {
        TabularAgent::new(algorithm, config, "rl-tuner", 38, 1000).unwrap()
    }

    /// +1 for event 5, else 0.
    struct Five;
    impl Reward for Five {
        fn term_names(&self) -> Vec<String> {
            vec!["five".into()]
        }
        fn reset(&mut self, _setting: &Setting) {}
        fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
            terms[0] = f64::from(ctx.action == 5);
            terms[0]
        }
    }

    /// `n` rl-tuner envs whose reward is 1 for action 5, reset with seed 0.
    fn five_envs(n: usize) -> VecEnv<TrainEnv> {
        let envs: Vec<TrainEnv> = (0..n)
            .map(|_| ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(Five) as Box<dyn Reward>))
            .collect();
        let mut envs = VecEnv::new(envs, 1).unwrap();
        envs.reset(Some(0)).unwrap();
        envs
    }

    /// One step from a fresh env with ε = 0 and all values at `init`: every algorithm's first
    /// update, checked by hand.
    fn one_step(algorithm: Algorithm, init: f64) -> (TabularAgent, u64, u64) {
        let config = TabularConfig {
            epsilon_start: 0.0,
            epsilon_end: 0.0,
            learning_rate: 0.5,
            gamma: 0.9,
            initial_value: init,
            ..TabularConfig::default()
        };
        let mut a = agent(algorithm, config);
        let mut envs = five_envs(1);
        let s0 = envs.envs()[0].discrete_state();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        a.learn(&mut envs, 1, &mut rng).unwrap();
        let s1 = envs.envs()[0].discrete_state();
        (a, s0, s1)
    }

    #[test]
    fn q_learning_first_update_by_hand() {
        // All values 2: greedy picks some action a0 (reward 1 only if a0 == 5).
        // Q(s0,a0) = 2 + 0.5 * (r + 0.9 * 2 - 2).
        let (a, s0, s1) = one_step(Algorithm::QLearning, 2.0);
        let row = a.table().values_of(s0).unwrap();
        let (a0, &q) = row.iter().enumerate().find(|(_, &v)| v != 2.0).unwrap();
        let r = if a0 == 5 { 1.0 } else { 0.0 };
        assert!(
            (q - (2.0 + 0.5 * (r + 0.9 * 2.0 - 2.0))).abs() < 1e-6,
            "{q}"
        );
        assert!(a.table().values_of(s1).is_some(), "next row created");
        assert_eq!(a.table().len(), 2);
    }

    #[test]
    fn sarsa_and_expected_sarsa_first_update_by_hand() {
        for algorithm in [Algorithm::Sarsa, Algorithm::ExpectedSarsa] {
            // Next row is all 4s: any next action and any expectation give 4.
            let (a, s0, _) = one_step(algorithm, 4.0);
            let row = a.table().values_of(s0).unwrap();
            let (a0, &q) = row.iter().enumerate().find(|(_, &v)| v != 4.0).unwrap();
            let r = if a0 == 5 { 1.0 } else { 0.0 };
            assert!(
                (q - (4.0 + 0.5 * (r + 0.9 * 4.0 - 4.0))).abs() < 1e-6,
                "{algorithm:?}: {q}"
            );
        }
    }

    #[test]
    fn unmasked_argmax_picks_the_first_maximum_from_start_cyclically() {
        // The unmasked fast paths (bit set up to 64 actions, scan above) against an all-true
        // mask, which takes the general loop; lengths around the vector widths and 64.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let all = [true; 80];
        for len in (1..=13).chain([31, 32, 33, 38, 63, 64, 65, 80]) {
            for _ in 0..300 {
                // Few distinct values, so that ties are common.
                let row: Vec<f32> = (0..len).map(|_| (rng.next_u32() % 4) as f32).collect();
                let start = rng.next_u32() as usize % len;
                assert_eq!(
                    argmax_from(&row, None, start),
                    argmax_from(&row, Some(&all[..len]), start),
                    "{row:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn row_max_and_equal_bits_match_plain_loops() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for len in 0..=64usize {
            for _ in 0..50 {
                let mut row: Vec<f32> = (0..len)
                    .map(|_| (rng.next_u32() % 5) as f32 - 2.0)
                    .collect();
                if len > 0 && rng.next_u32() % 4 == 0 {
                    // NaNs are ignored, wherever they sit.
                    row[rng.next_u32() as usize % len] = f32::NAN;
                }
                let expected = row
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(row_max(&row), expected, "{row:?}");
                let bits = row
                    .iter()
                    .enumerate()
                    .fold(0u64, |b, (i, &v)| b | (u64::from(v == expected) << i));
                assert_eq!(equal_bits(&row, expected), bits, "{row:?}");
            }
        }
    }

    #[test]
    fn lanes_share_the_budget() {
        // Fewer steps than envs: the first lanes take one step each, the others none.
        let mut a = agent(Algorithm::QLearning, TabularConfig::default());
        let mut envs = five_envs(8);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let stats = a.learn(&mut envs, 3, &mut rng).unwrap();
        assert_eq!((stats.steps, a.steps_done()), (3, 3));
        let taken: Vec<usize> = envs.envs().iter().map(|e| e.elapsed_steps()).collect();
        assert_eq!(taken, [1, 1, 1, 0, 0, 0, 0, 0]);
        // An uneven budget over several episodes: every lane ends mid-episode or reset, and
        // the steps add up.
        let stats = a.learn(&mut envs, 1_005, &mut rng).unwrap();
        assert_eq!((stats.steps, a.steps_done()), (1_005, 1_008));
        let episodes = stats.episode_returns.len();
        let in_progress: usize = envs.envs().iter().map(|e| e.elapsed_steps()).sum();
        assert_eq!(episodes * 32 + in_progress, 1_008);
    }

    #[test]
    fn several_lanes_learn_deterministically() {
        let config = TabularConfig {
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            initial_value: 0.0,
            learning_rate: 0.5,
            ..TabularConfig::default()
        };
        let run = || {
            let mut a = agent(Algorithm::QLearning, config.clone());
            a.set_schedule_steps(200_000);
            let mut envs = five_envs(8);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            for _ in 0..4 {
                a.learn(&mut envs, 50_000, &mut rng).unwrap();
            }
            (a, envs)
        };
        let (a, _) = run();
        let (b, _) = run();
        assert_eq!(encode_checkpoint(&a), encode_checkpoint(&b));
    }

    #[test]
    fn soft_value_by_hand() {
        // α log Σ exp(Q/α) over the tried, allowed actions only.
        let mut t = QTable::new(3, 20.0, false);
        let r = t.row_index(7);
        assert_eq!(
            t.soft_value(r, None, 0.5),
            20.0,
            "nothing tried: the initial value"
        );
        t.row_mut(r).copy_from_slice(&[1.0, 3.0, 2.0]);
        t.mark_tried(r, 0);
        t.mark_tried(r, 1);
        let expected = 0.5 * ((1.0f32 / 0.5).exp() + (3.0f32 / 0.5).exp()).ln();
        assert!((t.soft_value(r, None, 0.5) - expected).abs() < 1e-5);
        // A mask removes action 1; action 2 is untried: only action 0 is left.
        let v = t.soft_value(r, Some(&[true, false, true]), 0.5);
        assert!((v - 1.0).abs() < 1e-6, "{v}");
        // Above the max, approaching it as α shrinks.
        assert!(t.soft_value(r, None, 0.01) - 3.0 < 1e-3);
    }

    #[test]
    fn soft_q_first_update_by_hand() {
        let config = TabularConfig {
            epsilon_start: 0.0,
            epsilon_end: 0.0,
            learning_rate: 0.5,
            gamma: 0.9,
            initial_value: 2.0,
            temperature: 1.0,
            ..TabularConfig::default()
        };
        let mut a = agent(Algorithm::SoftQ, config);
        let mut envs = five_envs(1);
        let s0 = envs.envs()[0].discrete_state();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        a.learn(&mut envs, 1, &mut rng).unwrap();
        // The next row has no tried action, so the soft value is the initial 2.
        let row = a.table().values_of(s0).unwrap();
        let (a0, &q) = row.iter().enumerate().find(|(_, &v)| v != 2.0).unwrap();
        let r = if a0 == 5 { 1.0 } else { 0.0 };
        assert!(
            (q - (2.0 + 0.5 * (r + 0.9 * 2.0 - 2.0))).abs() < 1e-6,
            "{q}"
        );
        let zero_temperature = TabularConfig {
            temperature: 0.0,
            ..TabularConfig::default()
        };
        let err = TabularAgent::new(Algorithm::SoftQ, zero_temperature, "t", 5, 10).unwrap_err();
        assert!(err.to_string().contains("temperature"), "{err}");
    }

    #[test]
    fn boltzmann_exploration_learns_and_follows_the_softmax() {
        for algorithm in [Algorithm::QLearning, Algorithm::SoftQ] {
            let config = TabularConfig {
                exploration: Exploration::Boltzmann,
                temperature: 0.2,
                epsilon_start: 0.1,
                epsilon_end: 0.0,
                initial_value: 0.0,
                ..TabularConfig::default()
            };
            let mut a = agent(algorithm, config);
            let mut envs = five_envs(1);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            a.learn(&mut envs, 20_000, &mut rng).unwrap();
            let s0 = envs.envs()[0].discrete_state();
            let row = a.table().values_of(s0).unwrap();
            assert_eq!(argmax_from(row, None, 0), Some(5), "{algorithm:?}: {row:?}");
        }
        // The behaviour policy: ε = 0 is exactly the softmax.
        let row = [0.0f32, 1.0, 0.0];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| epsilon_boltzmann(&row, None, 0, 1.0, 1e6, &mut rng) == Some(1))
            .count();
        let p = 1f64.exp() / (2.0 + 1f64.exp());
        assert!((ones as f64 / n as f64 - p).abs() < 0.02, "{ones}");
    }

    #[test]
    fn sample_margin_cuts_off_worse_actions() {
        let row = [0.0f32, 1.0, 0.6, -3.0];
        let mask = [true; 4];
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = [0usize; 4];
        for _ in 0..5_000 {
            seen[softmax_sample(&row, &mask, 100.0, 0.5, &mut rng).unwrap()] += 1;
        }
        assert_eq!((seen[0], seen[3]), (0, 0), "{seen:?}");
        assert!(seen[1] > 2_000 && seen[2] > 2_000, "{seen:?}");
        let config = TabularConfig {
            sample_margin: -1.0,
            ..TabularConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sample_margin"));
    }

    #[test]
    fn targets_differ_as_the_algorithms_say() {
        // Hand-built next row: values [1, 3, 2] with ε = 0.3, γ = 0.5, reward 1.
        let row = [1.0f32, 3.0, 2.0];
        let q_target = 1.0 + 0.5 * max_allowed(&row, None);
        assert_eq!(q_target, 2.5);
        let e = 0.3f32;
        let expected = (1.0 - e) * 3.0 + e * (6.0 / 3.0);
        assert!((1.0 + 0.5 * expected - 2.35).abs() < 1e-6);
        // A mask hides the maximum.
        assert_eq!(max_allowed(&row, Some(&[true, false, true])), 2.0);
    }

    #[test]
    fn terminal_step_does_not_bootstrap() {
        // Play 31 steps, then check the last update used the reward only.
        let config = TabularConfig {
            epsilon_start: 0.0,
            epsilon_end: 0.0,
            learning_rate: 1.0,
            initial_value: 10.0,
            ..TabularConfig::default()
        };
        let mut a = agent(Algorithm::QLearning, config);
        let mut envs = five_envs(1);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        a.learn(&mut envs, 31, &mut rng).unwrap();
        let s_last = envs.envs()[0].discrete_state();
        a.learn(&mut envs, 1, &mut rng).unwrap();
        let row = a.table().values_of(s_last).unwrap();
        let changed: Vec<f32> = row.iter().copied().filter(|&v| v != 10.0).collect();
        assert_eq!(changed.len(), 1);
        assert!(changed[0] == 0.0 || changed[0] == 1.0, "{changed:?}");
    }

    #[test]
    fn learns_the_rewarded_action() {
        let config = TabularConfig {
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            initial_value: 0.0,
            ..TabularConfig::default()
        };
        for lanes in [1, 8] {
            let mut a = agent(Algorithm::QLearning, config.clone());
            a.set_schedule_steps(200_000);
            let mut envs = five_envs(lanes);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            a.learn(&mut envs, 200_000, &mut rng).unwrap();
            let s = envs.envs()[0].discrete_state();
            let mask = vec![true; 38];
            let obs = Observation {
                dense: &[],
                state: s,
                mask: &mask,
            };
            assert_eq!(a.act(&obs, ActMode::Greedy, &mut rng), 5, "{lanes} lanes");
        }
    }

    #[test]
    fn schedules() {
        let c = TabularConfig {
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            ..TabularConfig::default()
        };
        assert_eq!(epsilon_at(&c, 0, 100), 1.0);
        assert!((epsilon_at(&c, 25, 100) - 0.525).abs() < 1e-12);
        assert!((epsilon_at(&c, 50, 100) - 0.05).abs() < 1e-12);
        assert!((epsilon_at(&c, 99, 100) - 0.05).abs() < 1e-12);
        let e = TabularConfig {
            epsilon_decay: EpsilonDecay::Exponential,
            epsilon_start: 1.0,
            epsilon_end: 0.01,
            epsilon_fraction: 1.0,
            ..c.clone()
        };
        assert!((epsilon_at(&e, 50, 100) - 0.1).abs() < 1e-12);
        assert!((epsilon_at(&e, 100, 100) - 0.01).abs() < 1e-12);
        let v = TabularConfig {
            learning_rate_schedule: LearningRateSchedule::Visits,
            learning_rate: 1.0,
            learning_rate_power: 0.5,
            ..c.clone()
        };
        assert_eq!(learning_rate_at(&v, 4), 0.5);
        assert_eq!(learning_rate_at(&c, 4), 0.1);
    }

    #[test]
    fn validate_names_the_field() {
        let bad = TabularConfig {
            gamma: 1.5,
            ..TabularConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("gamma") && err.contains("[0, 1]"), "{err}");
        let bad = TabularConfig {
            epsilon_decay: EpsilonDecay::Exponential,
            epsilon_end: 0.0,
            ..TabularConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("epsilon_end"));
        let text = "gamma = 0.5\nlearning_rat = 0.1\n";
        let err = serde_json::from_value::<TabularConfig>(serde_json::json!({"learning_rat": 0.1}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("learning_rat"), "{err} ({text})");
    }

    #[test]
    fn table_grows_and_keeps_rows() {
        let mut t = QTable::new(3, 0.5, true);
        for s in 0..10_000u64 {
            let i = t.row_index(s * 7919);
            t.row_mut(i)[1] = s as f32;
        }
        assert_eq!(t.len(), 10_000);
        for s in (0..10_000u64).step_by(97) {
            let row = t.values_of(s * 7919).unwrap();
            assert_eq!(row, &[0.5, s as f32, 0.5]);
        }
        assert!(t.find(3).is_none());
        assert_eq!(t.visit(2, 1), 1);
        assert_eq!(t.visit(2, 1), 2);
    }

    #[test]
    fn masked_selection_never_picks_masked() {
        let row = [5.0f32, 1.0, 9.0, 2.0];
        let mask = [true, true, false, true];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..1000 {
            let a = epsilon_greedy(&row, Some(&mask), epsilon_threshold(0.5), &mut rng).unwrap();
            assert!(mask[a]);
            let b = softmax_sample(&row, &mask, 5.0, 1e6, &mut rng).unwrap();
            assert!(mask[b]);
        }
        assert_eq!(argmax_from(&row, Some(&mask), 3), Some(0));
        assert_eq!(uniform_allowed(7, Some(&[false; 4]), 4), None);
    }

    #[test]
    fn checkpoint_round_trip_and_bad_files() {
        let config = TabularConfig {
            learning_rate_schedule: LearningRateSchedule::Visits,
            ..TabularConfig::default()
        };
        let mut a = TabularAgent::new(Algorithm::Sarsa, config, "rl-tuner", 38, 5000).unwrap();
        let mut envs = five_envs(1);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        a.learn(&mut envs, 5000, &mut rng).unwrap();
        let dir = std::env::temp_dir().join(format!("cadenza-tabular-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        a.save(&dir).unwrap();
        let b = load(&dir, Some("sarsa")).unwrap();
        assert_eq!(b.table().len(), a.table().len());
        assert_eq!(b.table().values, a.table().values);
        assert_eq!(b.table().visits, a.table().visits);
        assert_eq!(b.table().tried, a.table().tried);
        assert_eq!(b.steps_done(), 5000);
        assert_eq!(encode_checkpoint(&b), encode_checkpoint(&a));

        let err = load(&dir, Some("q")).unwrap_err().to_string();
        assert!(
            err.contains("tabular.ckpt") && err.contains("'sarsa'"),
            "{err}"
        );

        let path = dir.join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path).unwrap();
        let err = decode_checkpoint(&path, &bytes[..bytes.len() - 100], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("truncated") && err.contains("tabular.ckpt"),
            "{err}"
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 20;
        flipped[last] ^= 0x40;
        let err = decode_checkpoint(&path, &flipped, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("checksum"), "{err}");
        let err = decode_checkpoint(&path, b"hello", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Cadenza tabular checkpoint"), "{err}");
        let err = decode_checkpoint(&path, b"{\"format\":\"cadenza-ppo\"}\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cadenza-ppo"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
