//! `cadenza train`: trains an agent on a task and writes a run directory (see
//! [`cadenza_agents::run`] for its layout).
//!
//! The flags, a resumed run and the config file are settled once into a [`plan::TrainPlan`];
//! [`execute`] then builds the envs and the agent through the registry and trains.

mod bc;
mod plan;

use super::{common, generate, pianoroll};
use anyhow::{bail, Result};
use cadenza_agents::registry::{self, BuildSpec};
use cadenza_agents::run::{RunDir, RunInfo, RUN_FORMAT};
use cadenza_agents::train::{self as trainer, EvalRecord, RunOptions};
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use clap::Args;
use plan::TrainPlan;
use std::path::{Path, PathBuf};

/// Most envs an evaluation steps together (one network pass per step for all of them).
const EVAL_BATCH: usize = 32;

/// Train an agent and write a run directory (metrics, checkpoint, samples).
///
/// Writes DIR/metrics.jsonl (one evaluation per line: sampled and greedy returns, per-term
/// means, steps/s), DIR/checkpoint/, DIR/run.json, DIR/learning_curve.svg, DIR/summary.json
/// and DIR/samples/*.mid, then prints a summary: the final return, Magenta's RL Tuner metrics
/// of 100 sampled melodies, and one melody as a piano roll. Ctrl-C stops at the next chunk
/// boundary and still saves everything; continue with --resume DIR (the checkpoint keeps
/// the optimizer's moments and the steps trained, so schedules and Adam go on where they
/// stopped).
///
/// Agents: q (Q-learning), sarsa, expected-sarsa, soft-q (soft Q-learning); with `--features tch` also reinforce, a2c,
/// ppo. --config takes a TOML file of the agent's fields (e.g. `gamma = 0.9`,
/// `epsilon_end = 0.02`, `temperature = 1.0` for the tabular agents) and an optional [train]
/// table (`eval_every`, `eval_episodes`, `eval_seed`, `chunk_steps`, `temperature`,
/// `num_envs`).
///
/// Learning from examples (`--features tch`): `--agent bc --in CORPUS_DIR` behaviour-clones a
/// prior (the policy network as a next-event model of the melodies; --config takes the
/// fields of `BcConfig`: `epochs`, `learning_rate`, `[model]`, ...); `--agent ppo --prior DIR
/// --kl-coef C` fine-tunes it with the reward r_theory + C * (log p_prior(a|s) - log pi(a|s))
/// (Sequence Tutor's r_MT/c + log p - log pi, times c: a per-step KL penalty), starting from
/// the prior's weights.
///
/// Example: cadenza train --task rl-tuner --agent q --steps 5000000 --seed 1 --out runs/q1
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Task to learn: rl-tuner or improv.
    #[arg(long, default_value = "rl-tuner")]
    task: String,
    /// TOML file configuring the task (improv only).
    #[arg(long, value_name = "FILE.toml")]
    task_config: Option<PathBuf>,
    /// Agent: q, sarsa, expected-sarsa, soft-q (or reinforce, a2c, ppo with `--features tch`).
    #[arg(long, required_unless_present = "resume")]
    agent: Option<String>,
    /// Env steps to train for [default: 2000000, or the [train] table's `steps`].
    #[arg(long)]
    steps: Option<u64>,
    /// Seed of everything random in training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// TOML file with the agent's config and an optional [train] table.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Reward preset or TOML definition [default: the task's own].
    #[arg(long, value_name = "PRESET|TOML")]
    reward: Option<String>,
    /// Continue the run in this directory (its run.json and checkpoint).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Run directory to write (created; must not already hold another run).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Evaluate every this many steps [default: steps / 20, at least 10000].
    #[arg(long)]
    eval_every: Option<u64>,
    /// Episodes per evaluation [default: 100].
    #[arg(long)]
    eval_episodes: Option<usize>,
    /// Environments trained on together [default: 8 for tabular agents, which step them in
    /// turn to hide memory latency; per agent for policy-gradient ones].
    #[arg(long)]
    envs: Option<usize>,
    /// Softmax temperature of sampled evaluations and samples [default: the agent's].
    #[arg(long)]
    temperature: Option<f64>,
    /// Number of sample melodies written to DIR/samples.
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Where policy-gradient networks run: cpu, cuda (an error without a usable GPU) or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Melodies to behaviour-clone (--agent bc): a directory of .mid files.
    #[arg(long = "in", value_name = "CORPUS_DIR")]
    input: Option<PathBuf>,
    /// Fine-tune from this behaviour-cloned prior (--agent ppo): its run or checkpoint dir.
    #[arg(long, value_name = "DIR")]
    prior: Option<PathBuf>,
    /// c of the KL-controlled reward r_theory + c * (log p_prior(a|s) - log pi(a|s)) (with
    /// --prior); 15 keeps the tuned melodies within 20% of the prior's corpus NLL.
    #[arg(long, value_name = "C", default_value_t = 15.0)]
    kl_coef: f64,
}

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

/// Envs of the plan's task and reward (with the prior's term in a KL-controlled run).
fn make_envs(plan: &TrainPlan, count: usize) -> Result<Vec<TrainEnv>> {
    (0..count)
        .map(|_| {
            let reward = common::reward(Some(&plan.reward), &plan.task)?;
            let reward = match &plan.prior {
                None => reward,
                Some(prior) => bc::wrap_reward(reward, prior, &plan.task)?,
            };
            Ok(ComposeEnv::new(plan.task.clone(), reward))
        })
        .collect()
}

/// The agent of the plan, with its effective config for run.json: restored from the resumed
/// run, started from the prior, or fresh.
fn make_agent(plan: &TrainPlan) -> Result<(Box<dyn Agent>, serde_json::Value)> {
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
    let agent = plan.kind.build(&BuildSpec {
        config: &plan.agent_table,
        task: &plan.task,
        total_steps: plan.train.steps,
        seed: plan.train.seed,
        device: plan.device,
    })?;
    let config = plan.kind.effective_config(&plan.agent_table)?;
    Ok((agent, config))
}

/// Trains as the plan says and writes the run directory.
fn execute(plan: TrainPlan) -> Result<()> {
    let mut train = plan.train.clone();
    let mut envs = VecEnv::new(make_envs(&plan, train.num_envs.max(1))?, 1)?;
    // Evaluation plays its episodes in waves over these envs: a network then picks the
    // actions of a whole wave in one forward pass.
    let mut eval_envs = make_envs(&plan, train.eval_episodes.clamp(1, EVAL_BATCH))?;
    let (mut agent, agent_config) = make_agent(&plan)?;
    let temperature = plan.temperature.unwrap_or_else(|| {
        agent_config
            .get("temperature")
            .and_then(|t| t.as_f64())
            .unwrap_or(1.0)
    });
    train.temperature = temperature;
    train.validate()?;

    let run = RunDir::create(&plan.out, plan.resume.as_ref().map(|(d, _)| d.path()))?;
    if let Some((from, _)) = &plan.resume {
        run.copy_metrics_from(from)?;
    }
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
    };
    let outcome = trainer::train(agent.as_mut(), &mut envs, &mut eval_envs, &train, options)?;
    info.steps_done = outcome.total_steps;
    run.write_info(&info)?;

    // --- samples, plot, summary --------------------------------------------------------------------
    let records = trainer::read_metrics(&run.metrics_path())?;
    let curve = run.path().join("learning_curve.svg");
    if let Err(e) = plot_learning_curve(&records, &curve, &format!("{kind} on {}", task.name)) {
        eprintln!("warning: no learning curve: {e:#}");
    }
    let mode = ActMode::Sample { temperature };
    let melodies = generate::sample(agent.as_mut(), task, 100, train.eval_seed, mode)?;
    let sample_paths = write_samples(&run, task, &melodies, plan.samples, kind)?;
    let metrics = rl_tuner_metrics(task, &melodies);
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
        "final": last,
        "sampled_melodies": melodies.len(),
        "distinct": distinct,
        "temperature": temperature,
        "rl_tuner_metrics": metrics,
    }))?;
    print_summary(&SummaryView {
        task,
        kind,
        outcome_steps: outcome.total_steps,
        interrupted: outcome.interrupted,
        wall_s: outcome.wall_s,
        last,
        distinct,
        count: melodies.len(),
        temperature,
        metrics: metrics.as_ref(),
        melody: melodies.first().map(Vec::as_slice),
        midi: sample_paths.first().map(PathBuf::as_path),
        out: run.path(),
        curve: &curve,
    });
    Ok(())
}

/// The first `count` melodies as `samples/sample-NNN.mid`.
fn write_samples(
    run: &RunDir,
    task: &TaskSpec,
    melodies: &[Vec<Event>],
    count: usize,
    kind: &str,
) -> Result<Vec<PathBuf>> {
    let dir = run.samples_dir()?;
    let mut paths = Vec::new();
    for (i, melody) in melodies.iter().take(count).enumerate() {
        let path = dir.join(format!("sample-{i:03}.mid"));
        generate::write_midi(task, melody, &path, &format!("{kind} sample {i}"))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Magenta's evaluation metrics, for melodies in its encoding and key.
fn rl_tuner_metrics(
    task: &TaskSpec,
    melodies: &[Vec<Event>],
) -> Option<std::collections::BTreeMap<String, f64>> {
    if task.setting.encoding != EventEncoding::RL_TUNER_38 || !task.setting.chords.is_empty() {
        return None;
    }
    let mut metrics = cadenza_reward::metrics::RlTunerMetrics::new();
    for melody in melodies {
        metrics.add_composition(melody);
    }
    Some(metrics.report())
}

struct SummaryView<'a> {
    task: &'a TaskSpec,
    kind: &'a str,
    outcome_steps: u64,
    interrupted: bool,
    wall_s: f64,
    last: Option<&'a EvalRecord>,
    distinct: usize,
    count: usize,
    temperature: f64,
    metrics: Option<&'a std::collections::BTreeMap<String, f64>>,
    melody: Option<&'a [Event]>,
    midi: Option<&'a Path>,
    out: &'a Path,
    curve: &'a Path,
}

fn print_summary(v: &SummaryView<'_>) {
    let stop = if v.interrupted { " (interrupted)" } else { "" };
    println!(
        "{} on {}: {} steps in {:.1} s{stop}",
        v.kind, v.task.name, v.outcome_steps, v.wall_s
    );
    if let Some(r) = v.last {
        println!(
            "final return: sampled {:.2} ± {:.2} (T = {}), greedy {:.2} ± {:.2}; {:.2} M steps/s",
            r.return_mean,
            r.return_std,
            v.temperature,
            r.greedy_return_mean,
            r.greedy_return_std,
            r.steps_per_sec / 1e6
        );
    }
    println!("{} of {} sampled melodies distinct", v.distinct, v.count);
    match v.metrics {
        Some(m) => {
            println!(
                "RL Tuner metrics of {} sampled melodies (Magenta's evaluation):",
                v.count
            );
            let rows = [
                ("notes not in key", "percent_notes_not_in_key", true),
                (
                    "notes excessively repeated",
                    "percent_notes_excessively_repeated",
                    true,
                ),
                (
                    "compositions starting with tonic",
                    "percent_compositions_starting_with_tonic",
                    true,
                ),
                ("leaps resolved", "percent_leaps_resolved", true),
                (
                    "unique max note",
                    "percent_compositions_unique_highest_note",
                    true,
                ),
                (
                    "unique min note",
                    "percent_compositions_unique_lowest_note",
                    true,
                ),
                ("notes in motif", "percent_notes_in_motif", true),
                (
                    "notes in repeated motif",
                    "percent_notes_in_repeated_motif",
                    true,
                ),
                (
                    "mean autocorrelation lag 1",
                    "mean_autocorrelation_lag1",
                    false,
                ),
                (
                    "mean autocorrelation lag 2",
                    "mean_autocorrelation_lag2",
                    false,
                ),
                (
                    "mean autocorrelation lag 3",
                    "mean_autocorrelation_lag3",
                    false,
                ),
            ];
            for (label, key, percent) in rows {
                let value = m.get(key).copied().unwrap_or(f64::NAN);
                if percent {
                    println!("  {label:<34} {:>7.2}%", value * 100.0);
                } else {
                    println!("  {label:<34} {value:>8.3}");
                }
            }
        }
        None => println!("(RL Tuner metrics apply to the rl-tuner encoding without chords)"),
    }
    if let Some(melody) = v.melody {
        println!("a sampled melody:");
        print!(
            "{}",
            pianoroll::render(
                melody,
                v.task.setting.encoding,
                v.task.setting.steps_per_bar()
            )
        );
    }
    if let Some(path) = v.midi {
        println!("MIDI: {}", path.display());
    }
    println!(
        "run: {} (metrics.jsonl, checkpoint/, {}, summary.json)",
        v.out.display(),
        v.curve
            .file_name()
            .map_or("".into(), |n| n.to_string_lossy())
    );
}

/// Return vs step, sampled and greedy, as an SVG.
fn plot_learning_curve(records: &[EvalRecord], path: &Path, title: &str) -> Result<()> {
    use plotters::prelude::*;
    if records.is_empty() {
        bail!("no evaluations recorded");
    }
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let values = records
        .iter()
        .flat_map(|r| [r.return_mean, r.greedy_return_mean])
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1.0);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_step, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("env steps")
        .y_desc("episode return")
        .draw()?;
    let sampled: Vec<(f64, f64)> = records
        .iter()
        .map(|r| (r.step as f64, r.return_mean))
        .collect();
    let greedy: Vec<(f64, f64)> = records
        .iter()
        .map(|r| (r.step as f64, r.greedy_return_mean))
        .collect();
    chart
        .draw_series(LineSeries::new(sampled, BLUE.stroke_width(2)))?
        .label("sampled")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(greedy, RED.stroke_width(2)))?
        .label("greedy")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
