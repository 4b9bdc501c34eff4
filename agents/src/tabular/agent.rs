//! The agent: [`TabularAgent`], its interleaved rollout-and-update loop
//! ([`Agent::learn`]) and acting ([`Agent::act`]).

use crate::agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
use cadenza_env::vector::{VecEnv, VecEnvError};
use cadenza_env::Environment;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::time::Instant;

use super::checkpoint::{
    self, checkpoint_error, write_atomic, CheckpointHeader, CHECKPOINT_FILE, FORMAT, VERSION,
};
use super::config::{
    check_range, config_error, epsilon_at, learning_rate_at, Algorithm, Exploration,
    LearningRateSchedule, TabularConfig,
};
use super::selection::{
    argmax_from, epsilon_boltzmann_with, epsilon_greedy, epsilon_threshold, max_allowed,
    softmax_probs, softmax_sample, uniform_allowed, RowWeights,
};
use super::table::QTable;

/// The number of sub-envs that tabular training steps by default. [`Agent::learn`] interleaves
/// them to hide the table's cache misses (see there): one is about a third slower on this
/// task, and beyond eight nothing more is gained.
pub const TABULAR_LANES: usize = 8;

/// Visit counts below this use a precomputed step size instead of a `powf` per update
/// (256 KiB: the states near a melody's start are visited tens of thousands of times).
const LR_CACHE: usize = 1 << 16;
/// ε is recomputed every this many steps (a power of two), not on every step: it moves by
/// less than 1e-3 in between for any budget above a few million steps.
const EPSILON_REFRESH: u64 = 1024;

/// A tabular agent: one of the [`Algorithm`]s with its [`QTable`]. See the module docs.
#[derive(Debug, Clone)]
pub struct TabularAgent {
    pub(super) algorithm: Algorithm,
    pub(super) config: TabularConfig,
    pub(super) task: String,
    pub(super) table: QTable,
    /// Env steps learned from so far (drives the ε schedule).
    pub(super) steps_done: u64,
    /// The budget the ε schedule decays over.
    pub(super) schedule_steps: u64,
    pub(super) episodes_done: u64,
    /// Per sub-env return of the episode in progress.
    running_returns: Vec<f64>,
    lr_cache: Vec<f32>,
    /// The sampled clock of the env steps in the current [`Agent::learn`] call.
    env_clock: EnvClock,
}

/// Env steps between two timed ones. Reading the clock around every step would cost a tenth
/// of a step; one in 31 costs nothing measurable, and 31 is odd so that the timed steps fall
/// on every lane in turn.
const ENV_CLOCK_PERIOD: u32 = 31;

/// Times every [`ENV_CLOCK_PERIOD`]-th env step, and within it the reward's prior terms, so
/// that `learn` can report the envs' and the prior's shares of its time (`env_s`, which
/// leaves the prior out, and `prior_s`).
#[derive(Debug, Clone, Copy, Default)]
struct EnvClock {
    countdown: u32,
    /// Seconds of the timed steps, their prior terms included.
    seconds: f64,
    /// Seconds of the timed steps' prior terms; `None` when the reward has none.
    prior_seconds: Option<f64>,
    timed: u64,
}

impl EnvClock {
    /// The envs' seconds (without the prior) and the prior's over `steps` steps,
    /// extrapolated from the timed ones.
    fn estimate(&self, steps: u64) -> Option<(f64, Option<f64>)> {
        (self.timed > 0).then(|| {
            let scale = steps as f64 / self.timed as f64;
            let prior = self.prior_seconds.map(|s| s * scale);
            (
                (self.seconds * scale - prior.unwrap_or(0.0)).max(0.0),
                prior,
            )
        })
    }
}

impl TabularAgent {
    /// The actions a choice in the state of row `index` is among: values never updated are
    /// only the initial guess (optimistic by design), so the tried allowed actions when there
    /// are any, else every allowed one. `tried` is the scratch the first case is written to.
    fn choice_mask<'a>(
        &self,
        index: usize,
        allowed: &'a [bool],
        tried: &'a mut [bool; 256],
    ) -> &'a [bool] {
        let n = allowed.len();
        if n > tried.len() {
            return allowed;
        }
        let mut any = false;
        for (a, slot) in tried.iter_mut().enumerate().take(n) {
            *slot = allowed[a] && self.table.is_tried(index, a);
            any |= *slot;
        }
        if any {
            &tried[..n]
        } else {
            allowed
        }
    }

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
            env_clock: EnvClock::default(),
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

    /// The behaviour policy's action in `row`: ε-greedy or ε-Boltzmann (from `weights` when
    /// they hold this row's softmax already).
    #[inline]
    fn behave(
        &self,
        row: usize,
        mask: Option<&[bool]>,
        epsilon_bits: u64,
        weights: &mut RowWeights,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let values = self.table.row(row);
        match self.config.exploration {
            Exploration::EpsilonGreedy => epsilon_greedy(values, mask, epsilon_bits, rng),
            Exploration::Boltzmann => epsilon_boltzmann_with(
                weights,
                row,
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
    ///
    /// Soft Q-learning exploring by its own softmax reads one set of weights twice: the
    /// exponentials of its backup are those of the next draw in that row, so they are
    /// computed once here and left in `weights` for [`TabularAgent::behave`].
    #[inline]
    fn bootstrap(
        &self,
        next: usize,
        mask: Option<&[bool]>,
        epsilon: f64,
        epsilon_bits: u64,
        weights: &mut RowWeights,
        rng: &mut ChaCha8Rng,
    ) -> Option<(f32, Option<usize>)> {
        let values = self.table.row(next);
        Some(match self.algorithm {
            Algorithm::QLearning => (max_allowed(values, mask), None),
            Algorithm::Sarsa => {
                let a = self.behave(next, mask, epsilon_bits, weights, rng)?;
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
            Algorithm::SoftQ => {
                let alpha = self.config.temperature as f32;
                let shared = self.config.exploration == Exploration::Boltzmann
                    && weights.compute(
                        values,
                        mask,
                        self.table.tried_bits(next),
                        self.config.temperature.max(1e-6),
                        self.config.sample_margin,
                    );
                if shared {
                    weights.row = Some(next);
                }
                let value = match shared.then(|| weights.soft_value(alpha)).flatten() {
                    Some(value) => value,
                    None => self.table.soft_value(next, mask, alpha),
                };
                (value, None)
            }
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
        let env_error = |source| AgentError::Env(VecEnvError::Env { index, source });
        let t = if self.env_clock.countdown == 0 {
            let clock = &mut self.env_clock;
            let started = Instant::now();
            let t = env
                .step_state_timing_priors(lane.action, &mut clock.prior_seconds)
                .map_err(env_error)?;
            clock.seconds += started.elapsed().as_secs_f64();
            clock.timed += 1;
            clock.countdown = ENV_CLOCK_PERIOD - 1;
            t
        } else {
            self.env_clock.countdown -= 1;
            env.step_state(lane.action).map_err(env_error)?
        };
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
        self.env_clock = EnvClock::default();
        let mut lanes = vec![Lane::default(); n];
        // The softmax of the row a lane acts in next, when its backup computed it already.
        let mut weights = RowWeights::default();
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
                .behave(
                    lane.row,
                    masked.then_some(&*mask_buf),
                    epsilon_bits,
                    &mut weights,
                    rng,
                )
                .ok_or_else(|| no_action(index))?;
            self.take_step(env, index, lane)?;
            lane.steps_left = quota - 1;
            lane.active = true;
        }

        // --- rounds ----------------------------------------------------------------------------
        let mut active = lanes.iter().filter(|l| l.active).count();
        while active > 0 {
            // What each lane's turn reads, loaded while the turns before it run.
            for (env, lane) in envs.envs().iter().zip(&mut lanes) {
                if lane.active && !lane.terminated {
                    lane.next_row = self.table.row_index(lane.next_key);
                    self.table.prefetch_row(lane.next_row);
                    env.prefetch();
                }
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
                // Weights are shared within a lane's turn only (its mask may differ).
                weights.row = None;
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
                        .bootstrap(
                            lane.next_row,
                            mask,
                            epsilon,
                            epsilon_bits,
                            &mut weights,
                            rng,
                        )
                        .ok_or_else(|| no_action(index))?;
                    next_action = action;
                    lane.reward + gamma * value
                };

                // The update.
                let visits = self.table.visit(lane.row, lane.action);
                let lr = self.step_size(visits);
                let q = &mut self.table.row_mut(lane.row)[lane.action];
                *q += lr * (target - *q);
                if weights.row == Some(lane.row) {
                    weights.row = None;
                }

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
                        .behave(
                            lane.row,
                            masked.then_some(&*mask_buf),
                            epsilon_bits,
                            &mut weights,
                            rng,
                        )
                        .ok_or_else(|| no_action(index))?,
                };
                self.take_step(env, index, lane)?;
                lane.steps_left -= 1;
            }
        }
        stats.steps = steps;
        if let Some((env_s, prior_s)) = self.env_clock.estimate(steps) {
            stats.scalars.insert("env_s".into(), env_s);
            if let Some(prior_s) = prior_s {
                stats.scalars.insert("prior_s".into(), prior_s);
            }
        }
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
        let mut tried = [false; 256];
        let mask = self.choice_mask(index, &obs.mask[..n], &mut tried);
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

    fn action_probs(
        &mut self,
        obs: &Observation<'_>,
        temperature: f64,
        probs: &mut [f64],
    ) -> Result<(), AgentError> {
        let n = self.table.num_actions().min(obs.mask.len());
        if probs.len() < n {
            return Err(AgentError::Other(format!(
                "action_probs: {} slots for {n} actions",
                probs.len()
            )));
        }
        probs.fill(0.0);
        let none_allowed = || AgentError::Other("action_probs: every action is masked out".into());
        let Some(index) = self.table.find(obs.state) else {
            // An unseen state: `act` draws uniformly among the allowed actions.
            let allowed = obs.mask[..n].iter().filter(|&&ok| ok).count();
            if allowed == 0 {
                return Err(none_allowed());
            }
            for (p, _) in probs.iter_mut().zip(&obs.mask[..n]).filter(|(_, &ok)| ok) {
                *p = 1.0 / allowed as f64;
            }
            return Ok(());
        };
        let row = &self.table.row(index)[..n];
        let mut tried = [false; 256];
        let mask = self.choice_mask(index, &obs.mask[..n], &mut tried);
        if temperature <= 0.0 || !temperature.is_finite() {
            let best = argmax_from(row, Some(mask), 0).ok_or_else(none_allowed)?;
            probs[best] = 1.0;
            return Ok(());
        }
        if softmax_probs(row, mask, temperature, self.config.sample_margin, probs) {
            Ok(())
        } else {
            Err(none_allowed())
        }
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

// --- checkpoints ------------------------------------------------------------------------

/// Encodes an agent as checkpoint bytes.
pub fn encode_checkpoint(agent: &TabularAgent) -> Vec<u8> {
    let header = CheckpointHeader {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: agent.algorithm.kind().to_string(),
        config: agent.config.clone(),
        task: agent.task.clone(),
        steps_done: agent.steps_done,
        schedule_steps: agent.schedule_steps,
        episodes_done: agent.episodes_done,
        table: checkpoint::layout_of(&agent.table),
    };
    checkpoint::encode(&header, &agent.table)
}

/// Writes an agent's checkpoint to `path` atomically.
pub fn save_checkpoint(agent: &TabularAgent, path: &Path) -> Result<(), AgentError> {
    write_atomic(path, &encode_checkpoint(agent))
}

/// Decodes checkpoint bytes read from `path` (named in errors). With `expected_kind`, a
/// checkpoint of another kind is an error.
pub fn decode_checkpoint(
    path: &Path,
    bytes: &[u8],
    expected_kind: Option<&str>,
) -> Result<TabularAgent, AgentError> {
    let (header, algorithm, data) = checkpoint::decode_header(path, bytes, expected_kind)?;
    let layout = &header.table;
    let mut agent = TabularAgent::new(
        algorithm,
        header.config.clone(),
        &header.task,
        layout.num_actions as usize,
        header.schedule_steps,
    )
    .map_err(|e| checkpoint_error(path, format!("invalid config: {e}")))?;
    checkpoint::read_table(path, layout, data, &mut agent.table)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::reward::{Reward, Setting, StepContext};
    use cadenza_env::{ComposeEnv, TaskSpec};
    use rand::SeedableRng;

    /// An agent for the `rl-tuner` task's 38 actions.
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

    /// `action_probs` is the distribution `act` samples from: at temperature 1 the draws'
    /// frequencies follow it, at 0 it is the greedy choice, and it sums to 1 over the
    /// allowed actions only.
    #[test]
    fn action_probs_are_what_act_samples() {
        let config = TabularConfig {
            exploration: Exploration::Boltzmann,
            temperature: 1.0,
            initial_value: 0.0,
            ..TabularConfig::default()
        };
        let mut agent =
            TabularAgent::new(Algorithm::QLearning, config, "rl-tuner", 38, 20_000).unwrap();
        let mut envs = five_envs(2);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        agent.learn(&mut envs, 20_000, &mut rng).unwrap();
        let env = &envs.envs()[0];
        let state = cadenza_env::Environment::discrete_state(env);
        let dense = vec![0.0; cadenza_env::Environment::observation_space(env).dim()];
        let mut mask = vec![true; 38];
        mask[7] = false;
        let obs = Observation {
            dense: &dense,
            state,
            mask: &mask,
        };
        let mut probs = vec![0.0; 38];
        agent.action_probs(&obs, 1.0, &mut probs).unwrap();
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{probs:?}");
        assert_eq!(probs[7], 0.0);
        let draws = 20_000;
        let mut counts = vec![0usize; 38];
        for _ in 0..draws {
            counts[agent.act(&obs, ActMode::Sample { temperature: 1.0 }, &mut rng)] += 1;
        }
        for (a, &c) in counts.iter().enumerate() {
            let share = c as f64 / draws as f64;
            assert!(
                (share - probs[a]).abs() < 0.02,
                "action {a}: {share} drawn, {} told",
                probs[a]
            );
        }
        agent.action_probs(&obs, 0.0, &mut probs).unwrap();
        let greedy = agent.act(&obs, ActMode::Greedy, &mut rng);
        assert_eq!(probs[greedy], 1.0);
        assert_eq!(probs.iter().sum::<f64>(), 1.0);
        assert!(agent.action_probs(&obs, 1.0, &mut [0.0; 3]).is_err());
    }

    /// Greedy (ε = 0) at step size `learning_rate`, every new value at `init`.
    fn greedy(learning_rate: f64, init: f64) -> TabularConfig {
        TabularConfig {
            epsilon_start: 0.0,
            epsilon_end: 0.0,
            learning_rate,
            initial_value: init,
            ..TabularConfig::default()
        }
    }

    /// Exploring at random at first (ε from 1 to 0.05), every new value at 0.
    fn exploring() -> TabularConfig {
        TabularConfig {
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            initial_value: 0.0,
            ..TabularConfig::default()
        }
    }

    /// One step from a fresh env with `config`: the states before and after.
    fn one_step(algorithm: Algorithm, config: TabularConfig) -> (TabularAgent, u64, u64) {
        let mut a = agent(algorithm, config);
        let mut envs = five_envs(1);
        let s0 = envs.envs()[0].discrete_state();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        a.learn(&mut envs, 1, &mut rng).unwrap();
        let s1 = envs.envs()[0].discrete_state();
        (a, s0, s1)
    }

    /// Every algorithm's first update with all values at `init`, step size 0.5 and γ = 0.9,
    /// checked by hand: greedy picks some action a0 (reward 1 only if a0 == 5), and
    /// Q(s0, a0) = init + 0.5 (r + 0.9 init - init) when the next row's bootstrap is `init`.
    fn assert_first_update(algorithm: Algorithm, config: TabularConfig) -> (TabularAgent, u64) {
        let init = config.initial_value as f32;
        assert_eq!((config.learning_rate, config.gamma), (0.5, 0.9));
        let (a, s0, s1) = one_step(algorithm, config);
        let row = a.table().values_of(s0).unwrap();
        let (a0, &q) = row.iter().enumerate().find(|(_, &v)| v != init).unwrap();
        let r = if a0 == 5 { 1.0 } else { 0.0 };
        assert!(
            (q - (init + 0.5 * (r + 0.9 * init - init))).abs() < 1e-6,
            "{algorithm:?}: {q}"
        );
        (a, s1)
    }

    #[test]
    fn q_learning_first_update_by_hand() {
        let (a, s1) = assert_first_update(Algorithm::QLearning, greedy(0.5, 2.0));
        assert!(a.table().values_of(s1).is_some(), "next row created");
        assert_eq!(a.table().len(), 2);
    }

    #[test]
    fn sarsa_and_expected_sarsa_first_update_by_hand() {
        for algorithm in [Algorithm::Sarsa, Algorithm::ExpectedSarsa] {
            // Next row is all 4s: any next action and any expectation give 4.
            assert_first_update(algorithm, greedy(0.5, 4.0));
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
            learning_rate: 0.5,
            ..exploring()
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
    fn soft_q_first_update_by_hand() {
        // The next row has no tried action, so the soft value is the initial 2.
        let config = TabularConfig {
            temperature: 1.0,
            ..greedy(0.5, 2.0)
        };
        assert_first_update(Algorithm::SoftQ, config);
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
            .filter(|_| {
                let mut weights = RowWeights::default();
                epsilon_boltzmann_with(&mut weights, 0, &row, None, 0, 1.0, 1e6, &mut rng)
                    == Some(1)
            })
            .count();
        let p = 1f64.exp() / (2.0 + 1f64.exp());
        assert!((ones as f64 / n as f64 - p).abs() < 0.02, "{ones}");
    }

    #[test]
    fn learn_reports_the_envs_share_of_its_time() {
        let mut a = agent(Algorithm::QLearning, TabularConfig::default());
        let mut envs = five_envs(3);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let started = Instant::now();
        let stats = a.learn(&mut envs, 10_000, &mut rng).unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        let env_s = stats.scalars["env_s"];
        // Extrapolated from one step in 31: positive, and of the order of the whole call.
        assert!(
            env_s > 0.0 && env_s < 10.0 * elapsed,
            "{env_s} of {elapsed}"
        );
        // No prior term, no prior time.
        assert!(!stats.scalars.contains_key("prior_s"));
        // A call that takes no step times none.
        assert!(!a
            .learn(&mut envs, 0, &mut rng)
            .unwrap()
            .scalars
            .contains_key("env_s"));
    }

    #[test]
    fn learn_reports_the_prior_s_share_apart_from_the_envs() {
        use cadenza_reward::combine::WeightedSum;
        use cadenza_reward::corpus::{CorpusReward, NgramConfig, NgramModel};
        let setting = Setting::rl_tuner();
        let melodies: Vec<Vec<u8>> = (0..8u8)
            .map(|t| (0..32u8).map(|i| 2 + (i * 3 + t) % 30).collect())
            .collect();
        let model = std::sync::Arc::new(
            NgramModel::fit(
                NgramConfig::default(),
                setting.encoding,
                setting.steps_per_bar(),
                &melodies,
            )
            .unwrap(),
        );
        let envs: Vec<TrainEnv> = (0..3)
            .map(|_| {
                let mut sum = WeightedSum::new();
                sum.push("five", 1.0, Box::new(Five)).unwrap();
                sum.push("corpus", 1.0, Box::new(CorpusReward::new(model.clone())))
                    .unwrap();
                ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(sum) as Box<dyn Reward>)
            })
            .collect();
        let mut envs = VecEnv::new(envs, 1).unwrap();
        envs.reset(Some(0)).unwrap();
        let mut a = agent(Algorithm::SoftQ, TabularConfig::default());
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let stats = a.learn(&mut envs, 10_000, &mut rng).unwrap();
        let (env_s, prior_s) = (stats.scalars["env_s"], stats.scalars["prior_s"]);
        assert!(env_s > 0.0 && prior_s > 0.0, "env {env_s}, prior {prior_s}");
    }

    #[test]
    fn terminal_step_does_not_bootstrap() {
        // Play 31 steps, then check the last update used the reward only.
        let mut a = agent(Algorithm::QLearning, greedy(1.0, 10.0));
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
        for lanes in [1, 8] {
            let mut a = agent(Algorithm::QLearning, exploring());
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
