//! `cadenza bench`: speed measurements.

use super::common;
use anyhow::Result;
use cadenza_env::vector::{ThreadMode, VecEnv};
use cadenza_env::{ComposeEnv, Environment};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

/// Actions drawn before timing starts; each round of a vector env takes one per sub-env.
const ACTION_TABLE: usize = 1 << 16;
/// The most sub-envs `--envs` accepts: one round must fit in the action table.
const MAX_ENVS: usize = ACTION_TABLE;
/// The most worker threads `--threads` accepts. The workers spin while they wait, so threads
/// far beyond the cores measure only the scheduler, and the cost of starting and stopping them
/// grows faster than their number: on 2 cores, 10,000 of them kept a 1000-step run of 4 envs
/// going for more than five minutes.
const MAX_THREADS: usize = 256;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Step an environment with random actions and report steps per second.
    ///
    /// With `--envs 1` (the default) one environment is stepped through its fast path
    /// (observation written into a reused buffer). With `--envs K` a vector env of K
    /// sub-envs is stepped, on `--threads` threads. Actions are drawn uniformly from the
    /// action mask before timing starts, so the figure measures the env and its reward.
    ///
    /// Example: cadenza bench env --task rl-tuner --steps 20000000 --json
    Env(EnvBench),
}

/// `--thread-mode` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ThreadModeArg {
    Adaptive,
    Always,
    Never,
}

impl From<ThreadModeArg> for ThreadMode {
    fn from(mode: ThreadModeArg) -> Self {
        match mode {
            ThreadModeArg::Adaptive => ThreadMode::Adaptive,
            ThreadModeArg::Always => ThreadMode::Always,
            ThreadModeArg::Never => ThreadMode::Never,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnvBench {
    /// Task to run: rl-tuner or improv.
    #[arg(long, default_value = "rl-tuner")]
    task: String,
    /// TOML file configuring the task (improv only).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Melody length in steps (improv only).
    #[arg(long)]
    length: Option<usize>,
    /// Reward preset or TOML definition; default: the task's own (`zero` measures the env alone).
    #[arg(long)]
    reward: Option<String>,
    /// Total env steps to time.
    #[arg(long, default_value_t = 10_000_000)]
    steps: u64,
    /// Number of environments stepped together (at most 65536).
    #[arg(long, default_value_t = 1)]
    envs: usize,
    /// Threads for the vector env (with --envs > 1; at most 256).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How the vector env uses its threads: `adaptive` times both ways as it goes and keeps
    /// the faster one, so `--threads 2` is never much slower than 1; `always` and `never`
    /// measure one way.
    #[arg(long, value_enum, default_value_t = ThreadModeArg::Adaptive)]
    thread_mode: ThreadModeArg,
    /// Time the one-thread way and the threaded way (`--threads`) against each other, in
    /// alternating blocks of a million env steps (or half of `--steps`) on the same envs, and
    /// report both and the speed-up (the median over pairs of blocks). Fair on a machine whose
    /// speed drifts, where two separate runs are not. Each pair also times plain arithmetic
    /// on one thread and on `--threads` at once: what the machine's cores deliver together
    /// right now (below the thread count where they are shared), the ceiling for any
    /// parallel code.
    #[arg(long)]
    compare_threads: bool,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Env(args) => bench_env(args),
    }
}

/// A tiny xorshift, so that drawing actions costs nothing next to the env.
fn random_actions(n: usize, num_actions: usize, seed: u64) -> Vec<usize> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % num_actions as u64) as usize
        })
        .collect()
}

fn bench_env(args: EnvBench) -> Result<()> {
    if !(1..=MAX_ENVS).contains(&args.envs) {
        anyhow::bail!("--envs must be between 1 and {MAX_ENVS}, got {}", args.envs);
    }
    if !(1..=MAX_THREADS).contains(&args.threads) {
        anyhow::bail!(
            "--threads must be between 1 and {MAX_THREADS}, got {}",
            args.threads
        );
    }
    if args.compare_threads && (args.threads < 2 || args.envs < 2) {
        anyhow::bail!("--compare-threads needs --threads 2 or more and --envs 2 or more");
    }
    let task = common::task(&args.task, args.config.as_deref(), args.length)?;
    let length = task.setting.length;
    let reward_name = args
        .reward
        .clone()
        .unwrap_or_else(|| cadenza_reward::registry::default_preset(&task.name).to_string());
    let make = || -> Result<_> {
        Ok(ComposeEnv::new(
            task.clone(),
            common::reward(args.reward.as_deref(), &task)?,
        ))
    };
    let mut first = make()?;
    let num_actions = first.action_space().n;
    // Pre-drawn actions, filtered through the mask of step 0 for masked tasks.
    let mut actions = random_actions(ACTION_TABLE, num_actions, 0x9E37_79B9_7F4A_7C15);
    let masked = task.mask_out_of_scale;
    let steps = args.steps.max(1);

    let elapsed = if args.envs == 1 {
        let mut obs = vec![0.0f32; first.observation_space().dim()];
        first.reset_into(Some(0), &mut obs)?;
        let start = Instant::now();
        let mut checksum = 0.0f64;
        for i in 0..steps {
            let mut a = actions[(i as usize) & (ACTION_TABLE - 1)];
            if masked && !first.action_mask()[a] {
                a = cadenza_env::HOLD as usize;
            }
            let t = first.step_into(a, &mut obs)?;
            checksum += t.reward;
            if t.terminated {
                first.reset_into(None, &mut obs)?;
            }
        }
        let elapsed = start.elapsed();
        std::hint::black_box(checksum);
        elapsed
    } else {
        let mut envs = vec![first];
        for _ in 1..args.envs {
            envs.push(make()?);
        }
        let mut venv = VecEnv::new(envs, args.threads)?;
        venv.set_thread_mode(args.thread_mode.into());
        venv.reset(Some(0))?;
        let k = args.envs;
        let rounds = steps.div_ceil(k as u64) as usize;
        actions.truncate((actions.len() / k) * k);
        let batches = actions.len() / k;
        let mut batch = vec![0usize; k];
        let mut round = 0usize;
        let mut step_rounds = |venv: &mut VecEnv<_>, count: usize| -> Result<()> {
            for _ in 0..count {
                let r = round % batches;
                round += 1;
                let src = &actions[r * k..(r + 1) * k];
                if masked {
                    for (j, (&a, out)) in src.iter().zip(batch.iter_mut()).enumerate() {
                        *out = if venv.action_masks()[j * num_actions + a] {
                            a
                        } else {
                            cadenza_env::HOLD as usize
                        };
                    }
                    venv.step(&batch)?;
                } else {
                    venv.step(src)?;
                }
            }
            Ok(())
        };
        if args.compare_threads {
            // Blocks of a million steps, or half the budget when that is smaller.
            let block = (1_000_000.min(steps / 2) as usize / k).max(1);
            let pairs = rounds.div_ceil(2 * block).max(1);
            let mut times = [0.0f64; 2];
            let mut ratios = Vec::with_capacity(pairs);
            let mut capacities = Vec::with_capacity(pairs);
            let mut shares = Vec::with_capacity(pairs);
            for _ in 0..pairs {
                let capacity = parallel_capacity(args.threads);
                let mut pair = [0.0f64; 2];
                for (way, mode) in [ThreadMode::Never, ThreadMode::Always]
                    .into_iter()
                    .enumerate()
                {
                    venv.set_thread_mode(mode);
                    let start = Instant::now();
                    step_rounds(&mut venv, block)?;
                    pair[way] = start.elapsed().as_secs_f64();
                    times[way] += pair[way];
                }
                let ratio = pair[0] / pair[1].max(1e-12);
                ratios.push(ratio);
                capacities.push(capacity);
                shares.push(ratio / capacity.max(1e-12));
            }
            let median = |values: &mut Vec<f64>| {
                values.sort_by(f64::total_cmp);
                values[values.len() / 2]
            };
            let median_capacity = median(&mut capacities);
            let median_share = median(&mut shares);
            let median = median(&mut ratios);
            let per_way = (pairs * block * k) as f64;
            let (serial, threaded) = (per_way / times[0], per_way / times[1]);
            if args.json {
                let out = serde_json::json!({
                    "task": task.name,
                    "reward": reward_name,
                    "length": length,
                    "envs": k,
                    "threads": args.threads,
                    "steps_per_way": per_way,
                    "one_thread_steps_per_sec": serial,
                    "threaded_steps_per_sec": threaded,
                    "speedup_median": median,
                    "speedup_min": ratios[0],
                    "speedup_max": ratios[ratios.len() - 1],
                    "machine_capacity_median": median_capacity,
                    "machine_capacity_min": capacities[0],
                    "machine_capacity_max": capacities[capacities.len() - 1],
                    "share_of_capacity_median": median_share,
                });
                println!("{out}");
            } else {
                println!(
                    "{}: {k} envs, {} pairs of blocks of {} steps: 1 thread {:.2} M steps/s, {} threads {:.2} M steps/s; speed-up {:.2}x (median; {:.2}-{:.2}x), reward {}",
                    task.name,
                    pairs,
                    block * k,
                    serial / 1e6,
                    args.threads,
                    threaded / 1e6,
                    median,
                    ratios[0],
                    ratios[ratios.len() - 1],
                    reward_name
                );
                println!(
                    "machine: {} threads of plain arithmetic ran {:.2}x one (median; {:.2}-{:.2}x) in the same pairs; the env's speed-up is {:.0}% of that (median)",
                    args.threads,
                    median_capacity,
                    capacities[0],
                    capacities[capacities.len() - 1],
                    100.0 * median_share
                );
            }
            return Ok(());
        }
        let start = Instant::now();
        step_rounds(&mut venv, rounds)?;
        start.elapsed()
    };
    let total_steps = if args.envs == 1 {
        steps
    } else {
        steps.div_ceil(args.envs as u64) * args.envs as u64
    };
    let secs = elapsed.as_secs_f64().max(1e-12);
    let steps_per_sec = total_steps as f64 / secs;
    let ns_per_step = secs * 1e9 / total_steps as f64;
    if args.json {
        let out = serde_json::json!({
            "task": task.name,
            "reward": reward_name,
            "length": length,
            "envs": args.envs,
            "threads": args.threads,
            "steps": total_steps,
            "seconds": secs,
            "steps_per_sec": steps_per_sec,
            "ns_per_step": ns_per_step,
        });
        println!("{out}");
    } else {
        println!(
            "{}: {} steps in {:.3} s: {:.2} M steps/s ({:.1} ns/step), reward {}, {} env(s) on {} thread(s), melody length {}",
            task.name,
            total_steps,
            secs,
            steps_per_sec / 1e6,
            ns_per_step,
            reward_name,
            args.envs,
            args.threads,
            length
        );
    }
    Ok(())
}

/// How many times the work of one thread `threads` threads get done in the same time right
/// now: a fixed arithmetic loop timed on this thread alone, then on `threads` threads at once.
/// On a machine whose cores are shared with other jobs (a virtual machine, a laptop on
/// battery) this is often well below `threads`, and no parallel code can beat it; the
/// threads comparison reports it beside the env's own speed-up.
fn parallel_capacity(threads: usize) -> f64 {
    fn work() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..8_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
    let threads = threads.max(1);
    let start = Instant::now();
    work();
    let alone = start.elapsed().as_secs_f64();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let together = start.elapsed().as_secs_f64();
    threads as f64 * alone / together.max(1e-12)
}
