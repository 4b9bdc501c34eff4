//! `cadenza bench`: speed measurements.

use super::common;
use anyhow::Result;
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

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
    /// Number of environments stepped together.
    #[arg(long, default_value_t = 1)]
    envs: usize,
    /// Threads for the vector env (with --envs > 1).
    #[arg(long, default_value_t = 1)]
    threads: usize,
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
    if args.envs == 0 {
        anyhow::bail!("--envs must be at least 1");
    }
    if args.threads == 0 {
        anyhow::bail!("--threads must be at least 1");
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
    // 64Ki pre-drawn actions, filtered through the mask of step 0 for masked tasks.
    let mut actions = random_actions(1 << 16, num_actions, 0x9E37_79B9_7F4A_7C15);
    let masked = task.mask_out_of_scale;
    let steps = args.steps.max(1);

    let elapsed = if args.envs == 1 {
        let mut obs = vec![0.0f32; first.observation_space().dim()];
        first.reset_into(Some(0), &mut obs)?;
        let start = Instant::now();
        let mut checksum = 0.0f64;
        for i in 0..steps {
            let mut a = actions[(i as usize) & 0xffff];
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
        venv.reset(Some(0))?;
        let k = args.envs;
        let rounds = steps.div_ceil(k as u64);
        actions.truncate((actions.len() / k) * k);
        let batches = actions.len() / k;
        let mut batch = vec![0usize; k];
        let start = Instant::now();
        for r in 0..rounds as usize {
            let src = &actions[(r % batches) * k..(r % batches + 1) * k];
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
