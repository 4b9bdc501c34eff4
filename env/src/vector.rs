//! [`VecEnv`]: N environments stepped together into flat, reused buffers.
//!
//! Semantics follow Gymnasium's vector envs:
//! - `reset(Some(seed))` seeds sub-env `i` with `seed + i`;
//! - **next-step autoreset**: after a sub-env's episode ends, the *next* call to `step` resets
//!   it instead of stepping it: its action is ignored, and it reports reward 0 with both flags
//!   false and the first observation of the new episode;
//! - `reset_mask` resets only the chosen sub-envs.
//!
//! With `threads > 1` the sub-envs are split into contiguous parts, and the parts into one
//! lane per thread, so that each thread steps the same sub-envs from one step to the next
//! and their state stays in its core's cache. A step of 64 cheap envs takes microseconds,
//! less than a general-purpose pool needs to wake its threads, so the parts run on a few
//! dedicated workers that spin briefly between steps (see `spin_pool`). The parts stage their
//! rewards and flags in cache-line-aligned blocks that the calling thread gathers, so that
//! no two cores write the same cache line. Whether the threads pay is decided step by step
//! from timings ([`ThreadMode::Adaptive`]).

use crate::env::{EnvError, Environment};
use crate::spin_pool::SpinPool;
use std::sync::Mutex;

/// A sub-env's error, with its index.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VecEnvError {
    /// A sub-env failed.
    #[error("sub-env {index}: {source}")]
    Env {
        /// Index of the sub-env.
        index: usize,
        /// Its error.
        source: EnvError,
    },
    /// A vector env needs at least one sub-env.
    #[error("a vector env needs at least one sub-env")]
    Empty,
    /// Sub-envs disagree on their spaces.
    #[error("sub-env {index} has different spaces from sub-env 0")]
    MismatchedSpaces {
        /// Index of the odd sub-env.
        index: usize,
    },
    /// A buffer given by the caller has the wrong length.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// Which input.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// The thread pool could not be built.
    #[error("could not start {threads} threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// Why not.
        message: String,
    },
}

/// N environments stepped together. See the module docs.
pub struct VecEnv<E> {
    envs: Vec<E>,
    obs_dim: usize,
    num_actions: usize,
    observations: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    masks: Vec<bool>,
    needs_reset: Vec<bool>,
    pool: Option<SpinPool>,
    threads: usize,
    /// Sub-envs per part of a threaded step.
    chunk: usize,
    /// Whether `blocks` hold the current results (nothing but a threaded step has changed
    /// the flat buffers since the last gather), so a threaded step need not reload them.
    slots_fresh: bool,
    /// Where the parts of a threaded step stage their results: one slot per block of up to
    /// `STAGE` sub-envs.
    blocks: Vec<BlockResults>,
    first_error: Mutex<Option<VecEnvError>>,
    chooser: ThreadChooser,
}

/// How a vector env with worker threads uses them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThreadMode {
    /// Each step goes to the threads or stays on the calling thread, whichever has been
    /// faster lately.
    #[default]
    Adaptive,
    /// Every step uses the threads.
    Always,
    /// Every step runs on the calling thread.
    Never,
}

/// Decides, step by step, whether the worker threads pay: it times the steps taken each way
/// and takes the faster way, trying the other one now and then in case the work changed
/// (longer melodies, a busier machine). Stepping 64 cheap envs takes a few microseconds,
/// less than handing half of them to another core costs; 64 costly ones, or 1024 cheap
/// ones, gain nearly 2x from two threads. Both ways give exactly the same buffers.
#[derive(Debug, Default)]
struct ThreadChooser {
    mode: ThreadMode,
    /// Typical nanoseconds of a step (a slowly rising lower envelope of the timings): serial,
    /// then threaded (0 = no sample yet).
    average_ns: [f64; 2],
    steps: u64,
}

impl ThreadChooser {
    /// Steps that alternate between the two ways before the averages are trusted.
    const WARM_UP: u64 = 16;
    /// One step in this many takes the slower way, to keep its average current.
    const PROBE_EVERY: u64 = 32;

    fn use_threads(&mut self) -> bool {
        self.steps += 1;
        match self.mode {
            ThreadMode::Always => return true,
            ThreadMode::Never => return false,
            ThreadMode::Adaptive => {}
        }
        if self.steps <= Self::WARM_UP {
            return self.steps.is_multiple_of(2);
        }
        let threads_faster = self.average_ns[1] < self.average_ns[0];
        if self.steps.is_multiple_of(Self::PROBE_EVERY) {
            !threads_faster
        } else {
            threads_faster
        }
    }

    fn record(&mut self, threads: bool, elapsed: std::time::Duration) {
        let average = &mut self.average_ns[usize::from(threads)];
        let ns = elapsed.as_nanos() as f64;
        // A lower envelope rather than a mean: a step that another process interrupted is
        // far slower than the way it took deserves, and would otherwise tip the choice.
        *average = if *average == 0.0 || ns < *average {
            ns
        } else {
            *average + (ns - *average) / 32.0
        };
    }
}

/// Raw views of the buffers, shared with the worker threads for one step.
struct SharedBuffers<E> {
    envs: *mut E,
    observations: *mut f32,
    masks: *mut bool,
    blocks: *mut BlockResults,
}

// SAFETY: the pointers are only dereferenced at disjoint indices by the parts of one job,
// and `E: Send` lets each sub-env be stepped on another thread.
unsafe impl<E: Send> Sync for SharedBuffers<E> {}

impl<E> std::fmt::Debug for VecEnv<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VecEnv")
            .field("num_envs", &self.envs.len())
            .field("obs_dim", &self.obs_dim)
            .field("num_actions", &self.num_actions)
            .field("threads", &self.threads)
            .finish()
    }
}

/// Envs whose one- and eight-byte results a worker stages before writing them out.
const STAGE: usize = 64;

/// The results of one block of up to [`STAGE`] sub-envs, staged during a threaded step.
///
/// The rewards and flags of neighbouring sub-envs share cache lines: 64 sub-envs' `terminated`
/// flags are one line. Written in place from two cores, such a line moves between the cores
/// on every write, and with cheap envs those moves cost more than the steps. Each block
/// writes its own cache-line-aligned slot instead; the calling thread gathers the slots into
/// the flat buffers once the step is done.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct BlockResults {
    rewards: [f64; STAGE],
    /// Bit 0: terminated, bit 1: truncated, bit 2: needs a reset.
    flags: [u8; STAGE],
}

impl BlockResults {
    const EMPTY: Self = Self {
        rewards: [0.0; STAGE],
        flags: [0; STAGE],
    };
}

const TERMINATED: u8 = 1;
const TRUNCATED: u8 = 2;
const NEEDS_RESET: u8 = 4;

/// A sub-env's three flags in one byte.
#[inline]
fn pack_flags(terminated: bool, truncated: bool, needs_reset: bool) -> u8 {
    (u8::from(terminated) * TERMINATED)
        | (u8::from(truncated) * TRUNCATED)
        | (u8::from(needs_reset) * NEEDS_RESET)
}

/// Sub-envs per part of a threaded step: several parts per thread, so that a busy or late
/// worker leaves little to wait for.
fn chunk_size(num_envs: usize, threads: usize) -> usize {
    num_envs.div_ceil(threads * 4).max(1)
}

/// Steps or resets one sub-env, writing its slice of every buffer.
#[allow(clippy::too_many_arguments)]
#[inline]
fn advance<E: Environment>(
    env: &mut E,
    action: usize,
    obs: &mut [f32],
    reward: &mut f64,
    terminated: &mut bool,
    truncated: &mut bool,
    mask: &mut [bool],
    needs_reset: &mut bool,
) -> Result<(), EnvError> {
    if *needs_reset {
        env.reset_into(None, obs)?;
        *reward = 0.0;
        *terminated = false;
        *truncated = false;
        *needs_reset = false;
    } else {
        let t = env.step_into(action, obs)?;
        *reward = t.reward;
        *terminated = t.terminated;
        *truncated = t.truncated;
        *needs_reset = t.terminated || t.truncated;
    }
    mask.copy_from_slice(env.action_mask());
    Ok(())
}

impl<E: Environment> VecEnv<E> {
    /// Wraps `envs`; `threads` (at least 1) is the number of threads `step` uses.
    pub fn new(envs: Vec<E>, threads: usize) -> Result<Self, VecEnvError> {
        let first = envs.first().ok_or(VecEnvError::Empty)?;
        let obs_dim = first.observation_space().dim();
        let num_actions = first.action_space().n;
        for (index, env) in envs.iter().enumerate() {
            if env.observation_space().dim() != obs_dim || env.action_space().n != num_actions {
                return Err(VecEnvError::MismatchedSpaces { index });
            }
        }
        let threads = threads.max(1);
        let pool = if threads > 1 {
            Some(SpinPool::new(threads).map_err(|e| VecEnvError::Threads {
                threads,
                message: e.to_string(),
            })?)
        } else {
            None
        };
        let n = envs.len();
        let chunk = chunk_size(n, threads);
        let num_blocks = n.div_ceil(chunk) * chunk.div_ceil(STAGE);
        Ok(Self {
            envs,
            obs_dim,
            num_actions,
            observations: vec![0.0; n * obs_dim],
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            masks: vec![true; n * num_actions],
            needs_reset: vec![false; n],
            pool,
            threads,
            chunk,
            slots_fresh: false,
            blocks: if threads > 1 {
                vec![BlockResults::EMPTY; num_blocks]
            } else {
                Vec::new()
            },
            first_error: Mutex::new(None),
            chooser: ThreadChooser::default(),
        })
    }

    /// Number of sub-envs.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// Length of one observation.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Number of actions of each sub-env.
    pub fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// Observations, `num_envs * obs_dim`, sub-env-major.
    pub fn observations(&self) -> &[f32] {
        &self.observations
    }

    /// Rewards of the last step.
    pub fn rewards(&self) -> &[f64] {
        &self.rewards
    }

    /// Terminated flags of the last step.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    /// Truncated flags of the last step.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Action masks for the next step, `num_envs * num_actions`.
    pub fn action_masks(&self) -> &[bool] {
        &self.masks
    }

    /// The sub-envs.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// The sub-envs, mutably.
    pub fn envs_mut(&mut self) -> &mut [E] {
        &mut self.envs
    }

    /// Resets every sub-env; sub-env `i` gets `seed + i`.
    pub fn reset(&mut self, seed: Option<u64>) -> Result<(), VecEnvError> {
        let all = vec![true; self.envs.len()];
        self.reset_mask(&all, seed)
    }

    /// Resets the sub-envs whose flag is set; sub-env `i` gets `seed + i`.
    pub fn reset_mask(&mut self, which: &[bool], seed: Option<u64>) -> Result<(), VecEnvError> {
        self.check_len("reset mask", which.len(), self.envs.len())?;
        self.slots_fresh = false;
        for (index, env) in self.envs.iter_mut().enumerate() {
            if !which[index] {
                continue;
            }
            let obs = &mut self.observations[index * self.obs_dim..(index + 1) * self.obs_dim];
            env.reset_into(seed.map(|s| s.wrapping_add(index as u64)), obs)
                .map_err(|source| VecEnvError::Env { index, source })?;
            self.masks[index * self.num_actions..(index + 1) * self.num_actions]
                .copy_from_slice(env.action_mask());
            self.rewards[index] = 0.0;
            self.terminated[index] = false;
            self.truncated[index] = false;
            self.needs_reset[index] = false;
        }
        Ok(())
    }

    fn check_len(
        &self,
        what: &'static str,
        got: usize,
        expected: usize,
    ) -> Result<(), VecEnvError> {
        if got == expected {
            Ok(())
        } else {
            Err(VecEnvError::Length {
                what,
                expected,
                got,
            })
        }
    }

    /// How steps use the worker threads (when there are any): [`ThreadMode::Adaptive`] by
    /// default; the others are for tests and measurements of one path.
    pub fn set_thread_mode(&mut self, mode: ThreadMode) {
        self.chooser.mode = mode;
    }

    /// Steps every sub-env with its action (autoresetting those whose episode ended). With
    /// worker threads, each step goes to the threads or stays on the calling thread, whichever
    /// has been faster (the buffers are the same either way).
    pub fn step(&mut self, actions: &[usize]) -> Result<(), VecEnvError> {
        self.check_len("actions", actions.len(), self.envs.len())?;
        if self.pool.is_none() {
            return self.step_on(false, actions);
        }
        let threads = self.chooser.use_threads();
        if self.chooser.mode != ThreadMode::Adaptive {
            return self.step_on(threads, actions);
        }
        let start = std::time::Instant::now();
        let result = self.step_on(threads, actions);
        self.chooser.record(threads, start.elapsed());
        result
    }

    /// Copies the results the parts of a threaded step staged into the flat buffers.
    fn gather_blocks(&mut self, parts: usize, blocks_per_part: usize) {
        let n = self.envs.len();
        for part in 0..parts {
            let end = ((part + 1) * self.chunk).min(n);
            for block in 0..blocks_per_part {
                let base = part * self.chunk + block * STAGE;
                if base >= end {
                    break;
                }
                let len = (end - base).min(STAGE);
                let slot = &self.blocks[part * blocks_per_part + block];
                self.rewards[base..base + len].copy_from_slice(&slot.rewards[..len]);
                for (k, &flags) in slot.flags[..len].iter().enumerate() {
                    self.terminated[base + k] = flags & TERMINATED != 0;
                    self.truncated[base + k] = flags & TRUNCATED != 0;
                    self.needs_reset[base + k] = flags & NEEDS_RESET != 0;
                }
            }
        }
    }

    /// One step, on the worker threads or on the calling thread alone.
    fn step_on(&mut self, threads: bool, actions: &[usize]) -> Result<(), VecEnvError> {
        let (dim, na) = (self.obs_dim, self.num_actions);
        match self.pool.as_ref().filter(|_| threads) {
            None => {
                self.slots_fresh = false;
                // Every env starts loading what its step reads before the first one steps.
                for env in &self.envs {
                    env.prefetch();
                }
                for (index, env) in self.envs.iter_mut().enumerate() {
                    advance(
                        env,
                        actions[index],
                        &mut self.observations[index * dim..(index + 1) * dim],
                        &mut self.rewards[index],
                        &mut self.terminated[index],
                        &mut self.truncated[index],
                        &mut self.masks[index * na..(index + 1) * na],
                        &mut self.needs_reset[index],
                    )
                    .map_err(|source| VecEnvError::Env { index, source })?;
                }
                Ok(())
            }
            Some(pool) => {
                let n = self.envs.len();
                let chunk = self.chunk;
                let parts = n.div_ceil(chunk);
                let blocks_per_part = chunk.div_ceil(STAGE);
                let buffers = SharedBuffers {
                    envs: self.envs.as_mut_ptr(),
                    observations: self.observations.as_mut_ptr(),
                    masks: self.masks.as_mut_ptr(),
                    blocks: self.blocks.as_mut_ptr(),
                };
                let (rewards, terminated, truncated, needs_reset) = (
                    &self.rewards,
                    &self.terminated,
                    &self.truncated,
                    &self.needs_reset,
                );
                let first_error = &self.first_error;
                let slots_fresh = self.slots_fresh;
                let job = |part: usize| {
                    let buffers = &buffers;
                    let end = ((part + 1) * chunk).min(n);
                    let mut failed = false;
                    for block in 0..blocks_per_part {
                        let base = part * chunk + block * STAGE;
                        if base >= end {
                            break;
                        }
                        let len = (end - base).min(STAGE);
                        // SAFETY (all blocks below): parts cover disjoint index ranges and
                        // disjoint slots, every index is below `n` and every slot below
                        // `blocks.len()`, and the vectors are neither resized nor otherwise
                        // borrowed mutably while the pool runs (it returns only when all
                        // parts are done).
                        let slot =
                            unsafe { &mut *buffers.blocks.add(part * blocks_per_part + block) };
                        // Start from the current values, so that sub-envs after a failure
                        // keep theirs when the slot is gathered (and every slot of the part
                        // is loaded, even after a failure).
                        if !slots_fresh {
                            slot.rewards[..len].copy_from_slice(&rewards[base..base + len]);
                            for k in 0..len {
                                let i = base + k;
                                slot.flags[k] =
                                    pack_flags(terminated[i], truncated[i], needs_reset[i]);
                            }
                        }
                        if failed {
                            continue;
                        }
                        for k in 0..len {
                            let index = base + k;
                            let flags = slot.flags[k];
                            let (mut term, mut trunc, mut reset) = (
                                flags & TERMINATED != 0,
                                flags & TRUNCATED != 0,
                                flags & NEEDS_RESET != 0,
                            );
                            let result = unsafe {
                                advance(
                                    &mut *buffers.envs.add(index),
                                    actions[index],
                                    std::slice::from_raw_parts_mut(
                                        buffers.observations.add(index * dim),
                                        dim,
                                    ),
                                    &mut slot.rewards[k],
                                    &mut term,
                                    &mut trunc,
                                    std::slice::from_raw_parts_mut(
                                        buffers.masks.add(index * na),
                                        na,
                                    ),
                                    &mut reset,
                                )
                            };
                            slot.flags[k] = pack_flags(term, trunc, reset);
                            if let Err(source) = result {
                                let mut slot =
                                    first_error.lock().unwrap_or_else(|e| e.into_inner());
                                if slot.is_none() {
                                    *slot = Some(VecEnvError::Env { index, source });
                                }
                                failed = true;
                                break;
                            }
                        }
                    }
                };
                pool.run(parts, &job);
                self.gather_blocks(parts, blocks_per_part);
                self.slots_fresh = true;
                match self
                    .first_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                {
                    Some(err) => Err(err),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_chooser_alternates_then_takes_the_faster_way_and_probes_the_other() {
        let mut chooser = ThreadChooser::default();
        let warm: Vec<bool> = (0..ThreadChooser::WARM_UP)
            .map(|_| {
                let threads = chooser.use_threads();
                let ns = if threads { 900 } else { 3_000 };
                chooser.record(threads, Duration::from_nanos(ns));
                threads
            })
            .collect();
        assert!(warm.contains(&true) && warm.contains(&false));
        let later: Vec<bool> = (0..2 * ThreadChooser::PROBE_EVERY)
            .map(|_| chooser.use_threads())
            .collect();
        let serial = later.iter().filter(|&&t| !t).count();
        assert_eq!(
            serial, 2,
            "threads were faster: only the probes stay serial"
        );
        // The work changes: the threads become slower, and the chooser follows.
        for _ in 0..4 * ThreadChooser::PROBE_EVERY {
            let threads = chooser.use_threads();
            let ns = if threads { 9_000 } else { 3_000 };
            chooser.record(threads, Duration::from_nanos(ns));
        }
        let threaded = (0..ThreadChooser::PROBE_EVERY)
            .filter(|_| chooser.use_threads())
            .count();
        assert!(threaded <= 1, "{threaded}");
        chooser.mode = ThreadMode::Always;
        assert!((0..10).all(|_| chooser.use_threads()));
    }
}
