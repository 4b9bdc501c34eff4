//! `cadenza train`: trains an agent on a task and writes a run directory (see
//! [`cadenza_agents::run`] for its layout).
//!
//! The flags, a resumed run and the config file are settled once into a [`plan::TrainPlan`];
//! [`execute`] then builds the envs and the agent through the registry and trains.

mod args;
mod bc;
mod plan;
mod report;

use super::{common, eval, generate, plot};
use anyhow::{Context, Result};
pub use args::TrainArgs;
use cadenza_agents::registry::{self, BuildSpec};
use cadenza_agents::run::{RunCheckpoints, RunDir, RunInfo, RUN_FORMAT};
use cadenza_agents::train::{self as trainer, RunOptions};
use cadenza_agents::{ActMode, Agent, AgentKind, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::ComposeEnv;
use plan::TrainPlan;
use report::{print_summary, rl_tuner_metrics, write_samples, SummaryView};
use std::path::PathBuf;

/// Most envs an evaluation steps together (one network pass per step for all of them).
const EVAL_BATCH: usize = 32;

pub fn run(args: TrainArgs) -> Result<()> {
    if args
        .agent
        .as_deref()
        .map(registry::lookup)
        .transpose()?
        .map(|k| k.name)
        == Some("bc")
    {
        return bc::run(&args);
    }
    execute(TrainPlan::resolve(&args)?)
}

/// Envs of the plan's task and reward. A KL-controlled run's prior is not in them: the agent
/// scores it for all envs of a step at once ([`Agent::attach_prior`]), so its evaluations
/// report the theory reward alone.
fn make_envs(plan: &TrainPlan, count: usize) -> Result<Vec<TrainEnv>> {
    (0..count)
        .map(|_| {
            let reward = common::reward(Some(&plan.reward), &plan.task)?;
            Ok(ComposeEnv::new(plan.task.clone(), reward))
        })
        .collect()
}

/// The agent of the plan, with its effective config for run.json: restored from the resumed
/// run, started from the prior, or fresh; in a KL-controlled run with the prior attached.
fn make_agent(plan: &TrainPlan) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    let (mut agent, config) = build_agent(plan)?;
    if let Some(prior) = &plan.prior {
        agent
            .attach_prior(&prior.dir, &plan.task, prior.kl_coef)
            .with_context(|| format!("--prior {}", prior.dir.display()))?;
    }
    Ok((agent, config))
}

fn build_agent(plan: &TrainPlan) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    if let Some((dir, prev)) = &plan.resume {
        let mut agent = dir.load_agent(prev, plan.device)?;
        // Schedules (learning-rate annealing, exploration decay) go on over the whole
        // budget; a policy-gradient agent's optimizer state came with its checkpoint.
        agent.set_total_steps(plan.total_budget());
        return Ok((agent, prev.agent_config.clone()));
    }
    if let Some(prior) = &plan.prior {
        return bc::ppo_from_prior(
            prior,
            plan.agent_table.clone(),
            &plan.task,
            plan.train.steps,
            plan.train.seed,
            plan.device,
        );
    }
    fresh_agent(
        plan.kind,
        &BuildSpec {
            config: &plan.agent_table,
            task: &plan.task,
            total_steps: plan.train.steps,
            seed: plan.train.seed,
            device: plan.device,
        },
    )
}

/// A fresh agent of `kind` built through the registry, with its effective config (what
/// `run.json` records and [`registry::sampling_temperature`] reads).
pub(crate) fn fresh_agent(
    kind: &AgentKind,
    spec: &BuildSpec<'_>,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    let agent = kind.build(spec)?;
    let config = kind.effective_config(spec.config, spec.task)?;
    Ok((agent, config))
}

/// The run's time split for summary.json: seconds per phase, with the learner's share and
/// the steps per second of learning.
fn time_split_json(outcome: &trainer::TrainOutcome) -> serde_json::Value {
    let t = &outcome.time;
    serde_json::json!({
        "learn_s": t.learn_s,
        "env_s": t.env_s,
        "prior_s": t.prior_s,
        "learner_s": t.learner_s(),
        "eval_s": t.eval_s,
        "checkpoint_s": t.checkpoint_s,
        "learn_steps_per_sec": outcome.steps as f64 / t.learn_s.max(1e-9),
    })
}

/// Trains as the plan says and writes the run directory.
fn execute(plan: TrainPlan) -> Result<()> {
    let mut train = plan.train.clone();
    let mut envs = VecEnv::new(make_envs(&plan, train.num_envs)?, 1)?;
    // Evaluation plays its episodes in waves over these envs: a network then picks the
    // actions of a whole wave in one forward pass.
    let mut eval_envs = make_envs(&plan, train.eval_episodes.clamp(1, EVAL_BATCH))?;
    let (mut agent, agent_config) = make_agent(&plan)?;
    let temperature = plan
        .temperature
        .unwrap_or_else(|| registry::sampling_temperature(&agent_config));
    train.temperature = temperature;
    train.validate()?;

    let run = RunDir::create(&plan.out, plan.resume.as_ref().map(|(d, _)| d))?;
    run.start_metrics(plan.resume.as_ref().map(|(d, p)| (d, p.steps_done)))?;
    let kind = plan.kind.name;
    let task = &plan.task;
    let mut info = RunInfo {
        format: RUN_FORMAT.to_string(),
        version: 1,
        task: task.name.clone(),
        task_config: plan.task_config.clone(),
        reward: plan.reward.clone(),
        reward_toml: plan.reward_toml.clone(),
        agent: kind.to_string(),
        agent_config,
        train: train.clone(),
        temperature,
        seed: train.seed,
        steps_done: plan.start_step,
        checkpoint: trainer::CHECKPOINT_DIR.to_string(),
        prior: plan.prior.as_ref().map(|p| p.dir.display().to_string()),
        kl_coef: plan.prior.as_ref().map(|p| p.kl_coef),
    };
    // From the start the directory is a run that --resume continues, whenever it is killed.
    run.commit(agent.as_ref(), &mut info)?;

    eprintln!(
        "training {kind} on {} (reward {}) for {} steps with {} env(s), seed {}; writing {}",
        task.name,
        plan.reward,
        train.steps,
        train.num_envs,
        train.seed,
        plan.out.display()
    );
    let options = RunOptions {
        out: run.path(),
        start_step: plan.start_step,
        progress: plan.progress,
        stop: Some(trainer::interrupt_flag()),
        checkpoints: Some(&mut RunCheckpoints {
            run: &run,
            info: &mut info,
        }),
    };
    // Each checkpoint, the last one included, is committed with run.json's steps_done.
    let outcome = trainer::train(agent.as_mut(), &mut envs, &mut eval_envs, &train, options)?;

    // --- samples, plot, summary --------------------------------------------------------------------
    let records = trainer::read_metrics(&run.metrics_path())?;
    let curve = run.path().join("learning_curve.svg");
    if let Err(e) = plot::learning_curve(&records, &curve, &format!("{kind} on {}", task.name)) {
        eprintln!("warning: no learning curve: {e:#}");
    }
    let mode = ActMode::Sample { temperature };
    let melodies = generate::sample(agent.as_mut(), task, 100, train.eval_seed, mode)?;
    let sample_paths = write_samples(&run, task, &melodies, plan.samples, kind)?;
    let metrics = rl_tuner_metrics(task, &melodies);
    let musicianship = eval::musicianship_value(&melodies, &task.setting);
    let distinct = melodies
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let last = outcome.records.last();
    run.write_summary(&serde_json::json!({
        "task": task.name,
        "reward": plan.reward,
        "agent": kind,
        "steps": outcome.total_steps,
        "interrupted": outcome.interrupted,
        "wall_s": outcome.wall_s,
        "time": time_split_json(&outcome),
        "final": last,
        "sampled_melodies": melodies.len(),
        "distinct": distinct,
        "temperature": temperature,
        "rl_tuner_metrics": metrics,
        "musicianship": musicianship,
    }))?;
    print_summary(&SummaryView {
        task,
        kind,
        outcome_steps: outcome.total_steps,
        interrupted: outcome.interrupted,
        wall_s: outcome.wall_s,
        time: &outcome.time,
        steps: outcome.steps,
        last,
        distinct,
        count: melodies.len(),
        temperature,
        metrics: metrics.as_ref(),
        musicianship: &musicianship,
        melody: melodies.first().map(Vec::as_slice),
        midi: sample_paths.first().map(PathBuf::as_path),
        out: run.path(),
        curve: &curve,
    });
    Ok(())
}
