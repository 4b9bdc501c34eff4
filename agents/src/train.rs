//! The shared training loop: budget, evaluation on fixed seeds, metrics, progress, Ctrl-C.
//!
//! [`train`] calls [`Agent::learn`] in chunks of at most [`TrainConfig::chunk_steps`] env
//! steps. Every [`TrainConfig::eval_every`] steps (and at the end) it evaluates the agent on
//! [`TrainConfig::eval_episodes`] episodes whose env seeds are fixed, once greedily and once
//! sampling, and appends one JSON line to `DIR/metrics.jsonl` (see [`EvalRecord`]). A stop
//! flag (set by Ctrl-C, SIGTERM or SIGHUP through [`interrupt_flag`]) ends training at the
//! next chunk boundary; either way the agent's checkpoint is saved at the end.
//!
//! A run killed outright (SIGKILL, a power cut) loses at most the last
//! [`TrainConfig::checkpoint_secs`] seconds: at the first chunk boundary after that many
//! seconds the loop hands the agent and its step count to a [`CheckpointSink`]
//! ([`crate::run::RunDir`] commits the checkpoint and `run.json` together, so a resumed run
//! goes on from the last commit).
//!
//! Everything random is seeded from [`TrainConfig::seed`]: two runs with the same seed write
//! the same metrics (timings aside) and the same checkpoint.

use crate::agent::{ActMode, Agent, AgentError, Observation, TrainEnv};
use cadenza_env::encoding::Event;
use cadenza_env::limits::MAX_ENVS;
use cadenza_env::vector::VecEnv;
use cadenza_env::{EnvError, Environment};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Name of the metrics log inside a run directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Name of the checkpoint directory inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

/// Errors of the training loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// An evaluation env failed.
    #[error("evaluation env: {0}")]
    Env(#[from] EnvError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A checkpoint could not be committed.
    #[error(transparent)]
    Checkpoint(Box<dyn std::error::Error + Send + Sync>),
    /// A configuration value is out of range.
    #[error("invalid train config: field '{field}': {message}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is expected.
        message: String,
    },
}

/// The training budget and the evaluation protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Env steps to train for, at least 1 (default 1,000,000).
    pub steps: u64,
    /// Evaluate every this many env steps, at least 1 (default 100,000).
    pub eval_every: u64,
    /// Episodes per evaluation and mode, 1..=100,000 (default 100).
    pub eval_episodes: usize,
    /// Seed of the evaluation episodes; fixed across evaluations (default 1,000,000).
    pub eval_seed: u64,
    /// Seed of training: the envs get `seed + i`, the agent's RNG `seed` (default 0).
    pub seed: u64,
    /// Largest number of steps per call to `learn`, at least 1; bounds how late Ctrl-C and
    /// the progress bar react (default 65,536).
    pub chunk_steps: u64,
    /// Softmax temperature of the sampled evaluation, in [0, 1000] (default 1.0).
    pub temperature: f64,
    /// Number of environments trained on together, 1..=[`MAX_ENVS`]
    /// (default 1).
    pub num_envs: usize,
    /// Seconds between checkpoints during training, at least 0: the agent is saved at the
    /// first chunk boundary after this many seconds (0: every chunk), and always at the
    /// end. Bounds the work a killed run loses (default 10).
    pub checkpoint_secs: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 1_000_000,
            eval_every: 100_000,
            eval_episodes: 100,
            eval_seed: 1_000_000,
            seed: 0,
            chunk_steps: 65_536,
            temperature: 1.0,
            num_envs: 1,
            checkpoint_secs: 10.0,
        }
    }
}

impl TrainConfig {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |field, message: &str| {
            Err(TrainError::Config {
                field,
                message: message.to_string(),
            })
        };
        if self.steps == 0 {
            return bad("steps", "must be at least 1");
        }
        if self.eval_every == 0 {
            return bad("eval_every", "must be at least 1");
        }
        if !(1..=100_000).contains(&self.eval_episodes) {
            return bad("eval_episodes", "must be in 1..=100000");
        }
        if self.chunk_steps == 0 {
            return bad("chunk_steps", "must be at least 1");
        }
        if !(self.temperature.is_finite() && (0.0..=1000.0).contains(&self.temperature)) {
            return bad("temperature", "must be in [0, 1000]");
        }
        if !(1..=MAX_ENVS).contains(&self.num_envs) {
            return bad(
                "num_envs",
                &format!("must be in 1..={MAX_ENVS}, got {}", self.num_envs),
            );
        }
        if !(self.checkpoint_secs.is_finite() && self.checkpoint_secs >= 0.0) {
            return bad(
                "checkpoint_secs",
                "must be a finite number of seconds, at least 0",
            );
        }
        Ok(())
    }
}

/// Returns of one evaluation mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Mean episode return.
    pub mean: f64,
    /// Standard deviation of the episode returns (population).
    pub std: f64,
    /// Mean per-episode sum of each reward term.
    pub terms: BTreeMap<String, f64>,
    /// The melodies played.
    pub melodies: Vec<Vec<Event>>,
}

impl Evaluation {
    /// Number of distinct melodies.
    pub fn distinct(&self) -> usize {
        self.melodies.iter().collect::<HashSet<_>>().len()
    }
}

/// Plays `episodes` episodes on `env` (seeded `seed`, `seed + 1`, ...) choosing actions by
/// `mode`. Episode `i` draws its random choices from stream `i` of a generator seeded with
/// `seed`, so an evaluation is repeatable and agrees with [`evaluate_batch`].
pub fn evaluate(
    agent: &mut dyn Agent,
    env: &mut TrainEnv,
    episodes: usize,
    seed: u64,
    mode: ActMode,
) -> Result<Evaluation, EnvError> {
    evaluate_batch(agent, std::slice::from_mut(env), episodes, seed, mode)
}

/// [`evaluate`] on several envs at once: the episodes are played in waves of `envs.len()`,
/// all envs of a wave stepping together, so that a network picks the actions of a whole
/// wave in one forward pass ([`Agent::act_batch`]) instead of one pass per env step. Agents
/// that cannot act in batches (recurrent policies) play one episode at a time. The result
/// does not depend on the number of envs (up to the last bits of a batched matrix product).
pub fn evaluate_batch(
    agent: &mut dyn Agent,
    envs: &mut [TrainEnv],
    episodes: usize,
    seed: u64,
    mode: ActMode,
) -> Result<Evaluation, EnvError> {
    let Some(first) = envs.first() else {
        return Ok(Evaluation::default());
    };
    let dim = first.observation_space().dim();
    let names = first.term_names().clone();
    let mut term_sums = vec![0.0; names.len()];
    let mut returns = vec![0.0; episodes];
    let mut melodies = vec![Vec::new(); episodes];
    let episode_rng = |episode: usize| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(episode as u64);
        rng
    };
    let width = envs.len();
    let mut obs = vec![0.0f32; width * dim];
    let mut batched = width > 1;
    let mut wave_start = 0;
    while wave_start < episodes {
        let count = if batched {
            (episodes - wave_start).min(width)
        } else {
            1
        };
        // `active[j]` is the env (and episode `wave_start + active[j]`) of row j.
        let mut active: Vec<usize> = (0..count).collect();
        let mut rngs: Vec<ChaCha8Rng> = Vec::with_capacity(count);
        for k in 0..count {
            let episode = wave_start + k;
            envs[k].reset_into(
                Some(seed.wrapping_add(episode as u64)),
                &mut obs[k * dim..(k + 1) * dim],
            )?;
            rngs.push(episode_rng(episode));
        }
        if count == 1 {
            agent.begin_episode();
        }
        let mut actions = vec![0usize; count];
        let mut fell_back = false;
        let mut stepped = false;
        while !active.is_empty() {
            let acted = {
                let observations: Vec<Observation<'_>> = active
                    .iter()
                    .map(|&k| Observation {
                        dense: &obs[k * dim..(k + 1) * dim],
                        state: envs[k].discrete_state(),
                        mask: envs[k].action_mask(),
                    })
                    .collect();
                if count == 1 {
                    actions[0] = agent.act(&observations[0], mode, &mut rngs[0]);
                    true
                } else {
                    agent.act_batch(&observations, mode, &mut rngs, &mut actions)
                }
            };
            if !acted && !stepped {
                // The agent plays one episode at a time: redo this wave that way.
                fell_back = true;
                break;
            }
            if !acted {
                for (j, &k) in active.iter().enumerate() {
                    let observation = Observation {
                        dense: &obs[k * dim..(k + 1) * dim],
                        state: envs[k].discrete_state(),
                        mask: envs[k].action_mask(),
                    };
                    actions[j] = agent.act(&observation, mode, &mut rngs[j]);
                }
            }
            stepped = true;
            let mut j = 0;
            while j < active.len() {
                let k = active[j];
                let t = envs[k].step_into(actions[j], &mut obs[k * dim..(k + 1) * dim])?;
                let episode = wave_start + k;
                returns[episode] += t.reward;
                for (sum, v) in term_sums.iter_mut().zip(envs[k].term_values()) {
                    *sum += v;
                }
                if t.terminated || t.truncated {
                    melodies[episode] = envs[k].melody().to_vec();
                    active.remove(j);
                    rngs.remove(j);
                    actions.remove(j);
                } else {
                    j += 1;
                }
            }
        }
        if fell_back {
            batched = false;
            continue;
        }
        wave_start += count;
    }
    let n = episodes.max(1) as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let terms = names
        .iter()
        .zip(&term_sums)
        .map(|(name, sum)| (name.clone(), sum / n))
        .collect();
    Ok(Evaluation {
        mean,
        std,
        terms,
        melodies,
    })
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Env steps trained so far (including a resumed run's earlier steps).
    pub step: u64,
    /// Mean return of the sampled evaluation episodes.
    pub return_mean: f64,
    /// Standard deviation of the sampled returns.
    pub return_std: f64,
    /// Distinct melodies among the sampled evaluation episodes.
    pub distinct: usize,
    /// Mean return of the greedy evaluation episodes.
    pub greedy_return_mean: f64,
    /// Standard deviation of the greedy returns.
    pub greedy_return_std: f64,
    /// Distinct melodies among the greedy evaluation episodes.
    pub greedy_distinct: usize,
    /// Per-term mean episode sums of the sampled episodes.
    pub terms: BTreeMap<String, f64>,
    /// Mean return of the training episodes finished since the last evaluation (null if none).
    pub train_return_mean: Option<f64>,
    /// Training episodes finished since the last evaluation.
    pub train_episodes: usize,
    /// The agent's scalars from its last `learn` call (losses, ε, table size...).
    pub scalars: BTreeMap<String, f64>,
    /// Training steps per second since the last evaluation (evaluation time excluded).
    pub steps_per_sec: f64,
    /// Seconds since training started (this invocation).
    pub wall_s: f64,
}

/// What a training run did.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Steps trained in this invocation.
    pub steps: u64,
    /// Total steps including a resumed run's earlier ones.
    pub total_steps: u64,
    /// Whether the stop flag ended training early.
    pub interrupted: bool,
    /// The evaluation records, in order.
    pub records: Vec<EvalRecord>,
    /// The last sampled evaluation.
    pub last_sampled: Evaluation,
    /// Seconds spent.
    pub wall_s: f64,
    /// Where those seconds went.
    pub time: TimeSplit,
}

/// Where a run's seconds went: learning (split, where the agent reports it, into stepping
/// the envs, scoring a prior and the rest, the learner), evaluating and checkpointing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TimeSplit {
    /// Seconds inside [`Agent::learn`].
    pub learn_s: f64,
    /// Of those, seconds stepping the envs (their reward included, its prior terms not),
    /// where the agent times them: the policy-gradient agents time every step; tabular
    /// agents, whose steps take a few hundred nanoseconds, time one step in 31 and
    /// extrapolate.
    pub env_s: Option<f64>,
    /// Of those, seconds scoring a prior (`prior_s`), where there is one: a KL-controlled
    /// run's network, or a prior paid as a reward term (the corpus or style term of a
    /// tabular run, timed on the same sampled steps as the envs).
    pub prior_s: Option<f64>,
    /// Seconds of the evaluations.
    pub eval_s: f64,
    /// Seconds writing checkpoints.
    pub checkpoint_s: f64,
}

impl TimeSplit {
    /// The learner's seconds: learning minus the envs and the prior (all of learning where
    /// the agent does not time its envs).
    pub fn learner_s(&self) -> f64 {
        (self.learn_s - self.env_s.unwrap_or(0.0) - self.prior_s.unwrap_or(0.0)).max(0.0)
    }
}

/// A process-wide flag set by Ctrl-C, SIGTERM or SIGHUP (the handler is installed on the
/// first call). Training checks it at chunk boundaries.
pub fn interrupt_flag() -> &'static AtomicBool {
    static FLAG: OnceLock<&'static AtomicBool> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        // If another handler is already installed, Ctrl-C keeps its default meaning: the
        // process ends, and the last checkpoint on disk stays intact (writes are atomic).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
        flag
    })
}

/// Where the loop saves the agent during and at the end of training.
pub trait CheckpointSink: std::fmt::Debug {
    /// Saves `agent`, trained for `steps_done` env steps in all (a resumed run's earlier
    /// steps included), so that a run killed afterwards resumes from here.
    fn save(&mut self, agent: &dyn Agent, steps_done: u64) -> Result<(), TrainError>;
}

/// Where a run writes and how it reports.
#[derive(Debug)]
pub struct RunOptions<'a> {
    /// The run directory (exists).
    pub out: &'a Path,
    /// Steps already trained (when resuming), added to the logged step numbers.
    pub start_step: u64,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Set to stop at the next chunk boundary.
    pub stop: Option<&'a AtomicBool>,
    /// Where checkpoints go; without one the agent is saved into `out/checkpoint/` alone
    /// (a run directory's `run.json` would then not follow it).
    pub checkpoints: Option<&'a mut dyn CheckpointSink>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Trains `agent` on `envs` for `config.steps` steps, evaluating on `eval_envs` (one or more;
/// more let a network evaluate several episodes per forward pass). See the module docs.
pub fn train(
    agent: &mut dyn Agent,
    envs: &mut VecEnv<TrainEnv>,
    eval_envs: &mut [TrainEnv],
    config: &TrainConfig,
    options: RunOptions<'_>,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    let metrics_path = options.out.join(METRICS_FILE);
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .map_err(io_error(&metrics_path))?;
    let checkpoint_dir = options.out.join(CHECKPOINT_DIR);
    let mut sink = options.checkpoints;
    let mut save = |agent: &dyn Agent, steps_done: u64| match sink.as_deref_mut() {
        Some(sink) => sink.save(agent, steps_done),
        None => {
            std::fs::create_dir_all(&checkpoint_dir).map_err(io_error(&checkpoint_dir))?;
            Ok(agent.save(&checkpoint_dir)?)
        }
    };

    // --- setup -------------------------------------------------------------------------------
    envs.reset(Some(config.seed))
        .map_err(|e| TrainError::Agent(AgentError::Env(e)))?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ options.start_step);
    let bar = progress_bar(config.steps, options.progress);
    let started = Instant::now();
    let mut done = 0u64;
    let mut next_eval = config.eval_every.min(config.steps);
    let mut train_returns: Vec<f64> = Vec::new();
    let mut records = Vec::new();
    let mut last_sampled = Evaluation::default();
    let mut learn_secs = 0.0f64;
    let mut learn_steps = 0u64;
    let mut interrupted = false;
    let mut last_save = Instant::now();
    let mut time = TimeSplit::default();

    // --- the loop ------------------------------------------------------------------------------
    while done < config.steps {
        let chunk = config
            .chunk_steps
            .min(next_eval - done)
            .min(config.steps - done);
        let t0 = Instant::now();
        let mut stats = agent.learn(envs, chunk, &mut rng)?;
        let learned = t0.elapsed().as_secs_f64();
        learn_secs += learned;
        time.learn_s += learned;
        // Timings go to the time split only: the records' scalars stay the same under a seed.
        for (name, total) in [("env_s", &mut time.env_s), ("prior_s", &mut time.prior_s)] {
            if let Some(s) = stats.scalars.remove(name) {
                *total.get_or_insert(0.0) += s;
            }
        }
        if stats.steps == 0 {
            return Err(TrainError::Agent(AgentError::Other(format!(
                "agent '{}' took no steps when asked for {chunk}",
                agent.kind()
            ))));
        }
        done += stats.steps;
        learn_steps += stats.steps;
        train_returns.extend_from_slice(&stats.episode_returns);
        let scalars = stats.scalars;
        bar.set_position(done.min(config.steps));

        let stopping = options.stop.is_some_and(|s| s.load(Ordering::SeqCst));
        if done >= next_eval || done >= config.steps || stopping {
            // --- evaluate ------------------------------------------------------------------
            let evaluating = Instant::now();
            let sampled = evaluate_batch(
                agent,
                eval_envs,
                config.eval_episodes,
                config.eval_seed,
                ActMode::Sample {
                    temperature: config.temperature,
                },
            )?;
            let greedy = evaluate_batch(
                agent,
                eval_envs,
                config.eval_episodes,
                config.eval_seed,
                ActMode::Greedy,
            )?;
            time.eval_s += evaluating.elapsed().as_secs_f64();
            let steps_per_sec = learn_steps as f64 / learn_secs.max(1e-9);
            let record = EvalRecord {
                step: options.start_step + done,
                return_mean: sampled.mean,
                return_std: sampled.std,
                distinct: sampled.distinct(),
                greedy_return_mean: greedy.mean,
                greedy_return_std: greedy.std,
                greedy_distinct: greedy.distinct(),
                terms: sampled.terms.clone(),
                train_return_mean: (!train_returns.is_empty())
                    .then(|| train_returns.iter().sum::<f64>() / train_returns.len() as f64),
                train_episodes: train_returns.len(),
                scalars: scalars.clone(),
                steps_per_sec,
                wall_s: started.elapsed().as_secs_f64(),
            };
            let mut line = serde_json::to_string(&record).unwrap_or_default();
            line.push('\n');
            metrics
                .write_all(line.as_bytes())
                .and_then(|()| metrics.flush())
                .map_err(io_error(&metrics_path))?;
            bar.set_message(format!(
                "return {:.1} (greedy {:.1}) | {:.2} M steps/s",
                record.return_mean,
                record.greedy_return_mean,
                steps_per_sec / 1e6
            ));
            records.push(record);
            last_sampled = sampled;
            train_returns.clear();
            learn_secs = 0.0;
            learn_steps = 0;
            next_eval = ((done / config.eval_every + 1) * config.eval_every).min(config.steps);
        }
        if stopping {
            interrupted = true;
            break;
        }
        if done < config.steps && last_save.elapsed().as_secs_f64() >= config.checkpoint_secs {
            let saving = Instant::now();
            save(&*agent, options.start_step + done)?;
            time.checkpoint_s += saving.elapsed().as_secs_f64();
            last_save = Instant::now();
        }
    }

    // --- checkpoint ------------------------------------------------------------------------
    let saving = Instant::now();
    save(&*agent, options.start_step + done)?;
    time.checkpoint_s += saving.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(TrainOutcome {
        steps: done,
        total_steps: options.start_step + done,
        interrupted,
        records,
        last_sampled,
        wall_s: started.elapsed().as_secs_f64(),
        time,
    })
}

/// Trains `agent` on `envs` for `steps` env steps, in calls to [`Agent::learn`] of at most
/// `chunk_steps`, with nothing evaluated, logged or saved: for short runs whose result is
/// judged elsewhere (the reward bench's exploitation audit, its `--train` outcome). Seeded as
/// [`train`] seeds a fresh run: the envs are reset with `seed`, the agent's generator is
/// seeded with it. Returns the steps taken (the agent may overshoot by part of a rollout).
pub fn learn_for(
    agent: &mut dyn Agent,
    envs: &mut VecEnv<TrainEnv>,
    steps: u64,
    seed: u64,
    chunk_steps: u64,
) -> Result<u64, TrainError> {
    envs.reset(Some(seed))
        .map_err(|e| TrainError::Agent(AgentError::Env(e)))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut done = 0u64;
    while done < steps {
        let chunk = chunk_steps.max(1).min(steps - done);
        let taken = agent.learn(envs, chunk, &mut rng)?.steps;
        if taken == 0 {
            return Err(TrainError::Agent(AgentError::Other(format!(
                "agent '{}' took no steps when asked for {chunk}",
                agent.kind()
            ))));
        }
        done += taken;
    }
    Ok(done)
}

fn progress_bar(total: u64, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} steps, eta {eta} | {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Reads the records of a `metrics.jsonl` file, skipping lines that do not parse.
pub fn read_metrics(path: &Path) -> Result<Vec<EvalRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::{Algorithm, TabularAgent, TabularConfig};
    use cadenza_env::{ComposeEnv, InScaleReward, TaskSpec};

    fn env() -> TrainEnv {
        ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(InScaleReward))
    }

    #[test]
    fn learn_for_takes_the_budget_and_is_seeded() {
        let learn = |seed: u64| {
            let mut agent = TabularAgent::new(
                Algorithm::QLearning,
                TabularConfig::default(),
                "rl-tuner",
                38,
                5_000,
            )
            .unwrap();
            let mut envs = VecEnv::new(vec![env(), env()], 1).unwrap();
            let steps = learn_for(&mut agent, &mut envs, 5_000, seed, 1_500).unwrap();
            (steps, crate::tabular::encode_checkpoint(&agent))
        };
        let (steps, table) = learn(7);
        assert_eq!(steps, 5_000);
        assert_eq!(learn(7).1, table);
        assert_ne!(learn(8).1, table);
    }

    fn run(dir: &Path, seed: u64) -> TrainOutcome {
        let config = TrainConfig {
            steps: 20_000,
            eval_every: 5_000,
            eval_episodes: 10,
            seed,
            num_envs: 2,
            chunk_steps: 3_000,
            ..TrainConfig::default()
        };
        let mut agent = TabularAgent::new(
            Algorithm::QLearning,
            TabularConfig::default(),
            "rl-tuner",
            38,
            config.steps,
        )
        .unwrap();
        let mut envs = VecEnv::new(vec![env(), env()], 1).unwrap();
        let mut eval_env = env();
        let options = RunOptions {
            out: dir,
            start_step: 0,
            progress: false,
            stop: None,
            checkpoints: None,
        };
        train(
            &mut agent,
            &mut envs,
            std::slice::from_mut(&mut eval_env),
            &config,
            options,
        )
        .unwrap()
    }

    #[test]
    fn batched_evaluation_matches_one_env_at_a_time() {
        let mut agent = TabularAgent::new(
            Algorithm::QLearning,
            TabularConfig::default(),
            "rl-tuner",
            38,
            20_000,
        )
        .unwrap();
        let mut envs = VecEnv::new(vec![env()], 1).unwrap();
        envs.reset(Some(0)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        agent.learn(&mut envs, 20_000, &mut rng).unwrap();
        let mode = ActMode::Sample { temperature: 1.0 };
        let one = evaluate(&mut agent, &mut env(), 23, 5, mode).unwrap();
        for width in [2, 7, 23, 40] {
            let mut wave: Vec<TrainEnv> = (0..width).map(|_| env()).collect();
            let many = evaluate_batch(&mut agent, &mut wave, 23, 5, mode).unwrap();
            assert_eq!(many, one, "{width} envs");
        }
        assert!(one.distinct() > 1, "sampling differs between episodes");
        let none = evaluate_batch(&mut agent, &mut [], 3, 5, mode).unwrap();
        assert_eq!(none, Evaluation::default());
    }

    fn strip_timings(path: &Path) -> Vec<EvalRecord> {
        read_metrics(path)
            .unwrap()
            .into_iter()
            .map(|mut r| {
                r.steps_per_sec = 0.0;
                r.wall_s = 0.0;
                r
            })
            .collect()
    }

    #[test]
    fn deterministic_under_a_seed() {
        let base = std::env::temp_dir().join(format!("cadenza-train-test-{}", std::process::id()));
        let (a, b, c) = (base.join("a"), base.join("b"), base.join("c"));
        for d in [&a, &b, &c] {
            std::fs::create_dir_all(d).unwrap();
        }
        let out = run(&a, 7);
        run(&b, 7);
        run(&c, 8);
        assert_eq!(out.records.len(), 4);
        assert_eq!(out.records.last().unwrap().step, 20_000);
        let (ma, mb, mc) = (
            strip_timings(&a.join(METRICS_FILE)),
            strip_timings(&b.join(METRICS_FILE)),
            strip_timings(&c.join(METRICS_FILE)),
        );
        assert_eq!(ma, mb);
        assert_ne!(ma, mc);
        let ckpt = |d: &Path| std::fs::read(d.join(CHECKPOINT_DIR).join("tabular.ckpt")).unwrap();
        assert_eq!(ckpt(&a), ckpt(&b));
        assert_ne!(ckpt(&a), ckpt(&c));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn stop_flag_saves_and_ends_early() {
        let dir = std::env::temp_dir().join(format!("cadenza-train-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stop = AtomicBool::new(true);
        let config = TrainConfig {
            steps: 1_000_000,
            chunk_steps: 1000,
            eval_episodes: 2,
            ..TrainConfig::default()
        };
        let mut agent = TabularAgent::new(
            Algorithm::Sarsa,
            TabularConfig::default(),
            "rl-tuner",
            38,
            config.steps,
        )
        .unwrap();
        let mut envs = VecEnv::new(vec![env()], 1).unwrap();
        let out = train(
            &mut agent,
            &mut envs,
            &mut [env()],
            &config,
            RunOptions {
                out: &dir,
                start_step: 0,
                progress: false,
                stop: Some(&stop),
                checkpoints: None,
            },
        )
        .unwrap();
        assert!(out.interrupted);
        assert_eq!(out.steps, 1000);
        assert!(dir.join(CHECKPOINT_DIR).join("tabular.ckpt").is_file());
        assert_eq!(read_metrics(&dir.join(METRICS_FILE)).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Records the step counts it was handed, and saves like a run would.
    #[derive(Debug)]
    struct Recorder {
        dir: PathBuf,
        steps: Vec<u64>,
    }

    impl CheckpointSink for Recorder {
        fn save(&mut self, agent: &dyn Agent, steps_done: u64) -> Result<(), TrainError> {
            agent.save(&self.dir)?;
            self.steps.push(steps_done);
            Ok(())
        }
    }

    #[test]
    fn checkpoints_follow_their_cadence() {
        let dir = std::env::temp_dir().join(format!("cadenza-train-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = |checkpoint_secs| TrainConfig {
            steps: 10_000,
            chunk_steps: 3_000,
            eval_every: 5_000,
            eval_episodes: 2,
            checkpoint_secs,
            ..TrainConfig::default()
        };
        let run = |config: &TrainConfig| {
            let mut agent = TabularAgent::new(
                Algorithm::QLearning,
                TabularConfig::default(),
                "rl-tuner",
                38,
                config.steps,
            )
            .unwrap();
            let mut envs = VecEnv::new(vec![env()], 1).unwrap();
            let mut sink = Recorder {
                dir: dir.join("ckpt"),
                steps: Vec::new(),
            };
            std::fs::create_dir_all(&sink.dir).unwrap();
            train(
                &mut agent,
                &mut envs,
                &mut [env()],
                config,
                RunOptions {
                    out: &dir,
                    start_step: 40,
                    progress: false,
                    stop: None,
                    checkpoints: Some(&mut sink),
                },
            )
            .unwrap();
            sink.steps
        };
        // Chunks end at 3000, 5000 (an evaluation), 8000 and 10000.
        assert_eq!(run(&config(0.0)), [3_040, 5_040, 8_040, 10_040]);
        assert_eq!(run(&config(1e9)), [10_040]);
        assert!(dir.join("ckpt").join("tabular.ckpt").is_file());
        assert!(!dir.join(CHECKPOINT_DIR).exists());
        let bad = TrainConfig {
            checkpoint_secs: -1.0,
            ..TrainConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("checkpoint_secs"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_validation_names_fields() {
        let bad = TrainConfig {
            eval_episodes: 0,
            ..TrainConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("eval_episodes"));
    }
}
