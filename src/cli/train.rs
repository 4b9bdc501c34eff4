//! `cadenza train`: trains an agent on a task and writes a run directory.
//!
//! A run directory holds `run.json` (what was trained and how, so that `generate` can
//! rebuild the env), `metrics.jsonl` (one evaluation per line), `checkpoint/` (the agent),
//! `learning_curve.svg`, `summary.json` and `samples/*.mid`.

mod bc;

use super::{common, generate, pianoroll};
use anyhow::{bail, Context, Result};
use cadenza_agents::tabular::{self, Algorithm, TabularAgent, TabularConfig};
use cadenza_agents::train::{self as trainer, EvalRecord, RunOptions, TrainConfig};
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment, TaskSpec};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the run description inside a run directory.
pub const RUN_FILE: &str = "run.json";
/// The `format` field of `run.json`.
const RUN_FORMAT: &str = "cadenza-run";

/// Agents that need the `tch` feature.
const POLICY_GRADIENT_KINDS: &[&str] = &["reinforce", "a2c", "ppo", "bc"];
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

/// What `run.json` records: enough to rebuild the env and the agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Always `cadenza-run`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Task name.
    pub task: String,
    /// The task's TOML config text, for configurable tasks.
    pub task_config: Option<String>,
    /// The reward preset name or TOML path given.
    pub reward: String,
    /// The TOML text of the reward when it was a file.
    pub reward_toml: Option<String>,
    /// Agent kind.
    pub agent: String,
    /// The agent's config, as the agent reads it.
    pub agent_config: serde_json::Value,
    /// The training protocol.
    pub train: TrainConfig,
    /// Default sampling temperature for `generate`.
    pub temperature: f64,
    /// Training seed of the last invocation.
    pub seed: u64,
    /// Env steps trained in total.
    pub steps_done: u64,
    /// The checkpoint directory, relative to the run directory.
    pub checkpoint: String,
    /// The behaviour-cloned prior of a KL-controlled run (its directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
    /// c of a KL-controlled run's reward r_theory + c * log p_prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_coef: Option<f64>,
}

impl RunInfo {
    /// Reads `DIR/run.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(RUN_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a run directory (cannot read {})",
                dir.display(),
                path.display()
            )
        })?;
        let info: RunInfo = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt", path.display()))?;
        if info.format != RUN_FORMAT {
            bail!(
                "{}: format '{}', expected '{RUN_FORMAT}'",
                path.display(),
                info.format
            );
        }
        Ok(info)
    }

    /// Rebuilds the task.
    pub fn task(&self) -> Result<TaskSpec> {
        TaskSpec::by_name(&self.task, self.task_config.as_deref())
            .with_context(|| format!("task '{}' recorded in {RUN_FILE}", self.task))
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        tabular::write_atomic(&dir.join(RUN_FILE), text.as_bytes())?;
        Ok(())
    }
}

// -------------------------------------------------------------------------------------------
// Agents by name: the one place to add an agent.
// -------------------------------------------------------------------------------------------

/// A fresh agent of `kind`, with its config (TOML table, minus [train]) as JSON for run.json.
fn build_agent(
    kind: &str,
    config: toml::Table,
    task: &TaskSpec,
    obs_dim: usize,
    total_steps: u64,
    seed: u64,
    device: &str,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    let num_actions = task.setting.encoding.num_events();
    match kind {
        k if tabular::KINDS.contains(&k) => {
            let algorithm = Algorithm::from_kind(kind).context("tabular kind")?;
            let config: TabularConfig = toml::Value::Table(config)
                .try_into()
                .context("--config: tabular agent fields")?;
            let json = serde_json::to_value(&config)?;
            let agent = TabularAgent::new(algorithm, config, &task.name, num_actions, total_steps)?;
            Ok((Box::new(agent), json))
        }
        k if POLICY_GRADIENT_KINDS.contains(&k) => {
            policy_gradient_agent(k, config, obs_dim, num_actions, total_steps, seed, device)
        }
        other => bail!(
            "unknown agent '{other}': expected one of {}, {} (the last need `--features tch`)",
            tabular::KINDS.join(", "),
            POLICY_GRADIENT_KINDS.join(", ")
        ),
    }
}

/// Restores the agent of a run from its checkpoint directory, dispatching on its kind.
pub fn load_agent(kind: &str, checkpoint: &Path, device: &str) -> Result<Box<dyn Agent>> {
    match kind {
        k if tabular::KINDS.contains(&k) => Ok(Box::new(tabular::load(checkpoint, Some(kind))?)),
        k if POLICY_GRADIENT_KINDS.contains(&k) => load_policy_gradient(k, checkpoint, device),
        other => bail!(
            "agent kind '{other}' (from {}) is not known to this build",
            checkpoint.display()
        ),
    }
}

#[cfg(feature = "tch")]
fn policy_gradient_agent(
    kind: &str,
    config: toml::Table,
    obs_dim: usize,
    num_actions: usize,
    total_steps: u64,
    seed: u64,
    device: &str,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    use cadenza_agents::pg;
    let json = serde_json::to_value(&config)?;
    let agent = pg::build(&pg::BuildSpec {
        kind,
        config: &config,
        obs_dim,
        num_actions,
        device: device.parse()?,
        seed,
        total_steps: Some(total_steps),
    })?;
    Ok((agent, json))
}

#[cfg(feature = "tch")]
fn load_policy_gradient(kind: &str, checkpoint: &Path, device: &str) -> Result<Box<dyn Agent>> {
    use cadenza_agents::pg;
    Ok(pg::load_kind(checkpoint, kind, device.parse()?)?)
}

#[cfg(not(feature = "tch"))]
fn no_tch(kind: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "agent '{kind}' is a policy-gradient agent on libtorch, which this build leaves out: \
         build with `--features tch` (cargo build --release --features tch; run \
         scripts/libtorch.sh first)"
    )
}

#[cfg(not(feature = "tch"))]
fn policy_gradient_agent(
    kind: &str,
    _config: toml::Table,
    _obs_dim: usize,
    _num_actions: usize,
    _total_steps: u64,
    _seed: u64,
    _device: &str,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    Err(no_tch(kind))
}

#[cfg(not(feature = "tch"))]
fn load_policy_gradient(kind: &str, _checkpoint: &Path, _device: &str) -> Result<Box<dyn Agent>> {
    Err(no_tch(kind))
}

/// The sub-env count an agent trains on by default.
fn default_envs(kind: &str, _config: &toml::Table) -> usize {
    match kind {
        #[cfg(feature = "tch")]
        k if POLICY_GRADIENT_KINDS.contains(&k) => {
            cadenza_agents::pg::recommended_envs(k, _config).unwrap_or(8)
        }
        k if Algorithm::from_kind(k).is_some() => tabular::TABULAR_LANES,
        _ => 1,
    }
}

// -------------------------------------------------------------------------------------------
// The command
// -------------------------------------------------------------------------------------------

fn read_config(path: Option<&Path>) -> Result<(toml::Table, Option<TrainConfig>)> {
    let Some(path) = path else {
        return Ok((toml::Table::new(), None));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("--config {}", path.display()))?;
    let train = match table.remove("train") {
        Some(value) => Some(
            value
                .try_into::<TrainConfig>()
                .with_context(|| format!("--config {}: [train] table", path.display()))?,
        ),
        None => None,
    };
    Ok((table, train))
}

fn make_env(task: &TaskSpec, reward: Option<&str>) -> Result<TrainEnv> {
    Ok(ComposeEnv::new(task.clone(), common::reward(reward, task)?))
}

/// [`make_env`], with the reward of a KL-controlled run when there is a prior.
fn make_env_with_prior(
    task: &TaskSpec,
    reward: Option<&str>,
    prior: Option<&bc::PriorSpec>,
) -> Result<TrainEnv> {
    match prior {
        None => make_env(task, reward),
        Some(prior) => {
            let inner = common::reward(reward, task)?;
            Ok(ComposeEnv::new(
                task.clone(),
                bc::wrap_reward(inner, prior, task)?,
            ))
        }
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    if args.agent.as_deref() == Some("bc") {
        return bc::run(&args);
    }
    if args.input.is_some() {
        bail!("--in is for --agent bc (the melodies a prior learns from)");
    }
    // --- what to train -------------------------------------------------------------------------
    let previous = match &args.resume {
        Some(dir) => Some(RunInfo::read(dir)?),
        None => None,
    };
    if args.out.join(RUN_FILE).exists() && args.resume.as_deref() != Some(args.out.as_path()) {
        bail!(
            "{} already holds a run ({RUN_FILE}); pass --resume {} to continue it, or choose another --out",
            args.out.display(),
            args.out.display()
        );
    }
    let (agent_table, file_train) = read_config(args.config.as_deref())?;
    let (task, task_config, reward, kind) = match &previous {
        Some(prev) => {
            if let Some(kind) = &args.agent {
                if kind != &prev.agent {
                    bail!("--agent {kind}: the run to resume trained '{}'", prev.agent);
                }
            }
            if args.task != "rl-tuner" && args.task != prev.task {
                bail!(
                    "--task {}: the run to resume trained on '{}'",
                    args.task,
                    prev.task
                );
            }
            if let Some(r) = &args.reward {
                if r != &prev.reward {
                    bail!("--reward {r}: the run to resume used '{}'", prev.reward);
                }
            }
            (
                prev.task()?,
                prev.task_config.clone(),
                prev.reward.clone(),
                prev.agent.clone(),
            )
        }
        None => {
            let task = common::task(&args.task, args.task_config.as_deref(), None)?;
            let text = match &args.task_config {
                Some(path) => Some(std::fs::read_to_string(path)?),
                None => None,
            };
            let reward = args.reward.clone().unwrap_or_else(|| {
                cadenza_reward::registry::default_preset(&task.name).to_string()
            });
            let kind = args.agent.clone().context("--agent is required")?;
            (task, text, reward, kind)
        }
    };
    let reward_toml = if reward.ends_with(".toml") {
        std::fs::read_to_string(&reward).ok()
    } else {
        previous.as_ref().and_then(|p| p.reward_toml.clone())
    };

    // --- the training protocol -------------------------------------------------------------
    let mut train = file_train
        .or_else(|| previous.as_ref().map(|p| p.train.clone()))
        .unwrap_or_default();
    let had_file_steps = args.config.is_some() && train.steps != TrainConfig::default().steps;
    train.steps = args.steps.unwrap_or(if had_file_steps {
        train.steps
    } else {
        2_000_000
    });
    train.seed = args.seed;
    if let Some(e) = args.eval_every {
        train.eval_every = e;
    } else if previous.is_none() && train.eval_every == TrainConfig::default().eval_every {
        train.eval_every = (train.steps / 20).max(10_000);
    }
    if let Some(e) = args.eval_episodes {
        train.eval_episodes = e;
    }
    train.num_envs = args.envs.unwrap_or_else(|| {
        if train.num_envs > 1 {
            train.num_envs
        } else {
            default_envs(&kind, &agent_table)
        }
    });
    let prior = match (
        &args.prior,
        previous.as_ref().and_then(|p| p.prior.as_ref()),
    ) {
        (Some(dir), _) => Some(bc::PriorSpec {
            dir: dir.clone(),
            kl_coef: args.kl_coef,
        }),
        (None, Some(dir)) => Some(bc::PriorSpec {
            dir: dir.into(),
            kl_coef: previous
                .as_ref()
                .and_then(|p| p.kl_coef)
                .unwrap_or(args.kl_coef),
        }),
        (None, None) => None,
    };
    if prior.is_some() && kind != "ppo" {
        bail!("--prior fine-tunes with PPO: use --agent ppo (not '{kind}')");
    }
    let start_step = previous.as_ref().map_or(0, |p| p.steps_done);
    let total_budget = start_step + train.steps;

    // --- envs and agent --------------------------------------------------------------------------
    let reward_arg = Some(reward.as_str());
    let mut envs = Vec::with_capacity(train.num_envs);
    for _ in 0..train.num_envs.max(1) {
        envs.push(make_env_with_prior(&task, reward_arg, prior.as_ref())?);
    }
    let obs_dim = envs[0].observation_space().dim();
    let mut envs = VecEnv::new(envs, 1)?;
    // Evaluation plays its episodes in waves over these envs: a network then picks the
    // actions of a whole wave in one forward pass.
    let mut eval_envs = Vec::new();
    for _ in 0..train.eval_episodes.clamp(1, EVAL_BATCH) {
        eval_envs.push(make_env_with_prior(&task, reward_arg, prior.as_ref())?);
    }
    let (mut agent, agent_config) = match (&previous, &args.resume) {
        (Some(prev), Some(dir)) => {
            let checkpoint = dir.join(&prev.checkpoint);
            let mut agent: Box<dyn Agent> = if Algorithm::from_kind(&kind).is_some() {
                Box::new(tabular::load(&checkpoint, Some(&kind))?)
            } else {
                load_agent(&kind, &checkpoint, &args.device)?
            };
            // Schedules (learning-rate annealing, exploration decay) go on over the whole
            // budget; a policy-gradient agent's optimizer state came with its checkpoint.
            agent.set_total_steps(total_budget);
            (agent, prev.agent_config.clone())
        }
        _ => match &prior {
            Some(prior) => bc::ppo_from_prior(
                prior,
                agent_table,
                &task,
                train.steps,
                args.seed,
                &args.device,
            )?,
            None => build_agent(
                &kind,
                agent_table,
                &task,
                obs_dim,
                train.steps,
                args.seed,
                &args.device,
            )?,
        },
    };
    let temperature = args.temperature.unwrap_or_else(|| {
        agent_config
            .get("temperature")
            .and_then(|t| t.as_f64())
            .unwrap_or(1.0)
    });
    train.temperature = temperature;
    train.validate()?;

    // --- the run directory ---------------------------------------------------------------------
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out {}", args.out.display()))?;
    if let Some(dir) = &args.resume {
        if dir != &args.out {
            let from = dir.join(trainer::METRICS_FILE);
            if from.exists() {
                std::fs::copy(&from, args.out.join(trainer::METRICS_FILE))
                    .with_context(|| format!("copying {}", from.display()))?;
            }
        }
    }
    let mut info = RunInfo {
        format: RUN_FORMAT.to_string(),
        version: 1,
        task: task.name.clone(),
        task_config,
        reward: reward.clone(),
        reward_toml,
        agent: kind.clone(),
        agent_config,
        train: train.clone(),
        temperature,
        seed: args.seed,
        steps_done: start_step,
        checkpoint: trainer::CHECKPOINT_DIR.to_string(),
        prior: prior.as_ref().map(|p| p.dir.display().to_string()),
        kl_coef: prior.as_ref().map(|p| p.kl_coef),
    };

    // --- train ---------------------------------------------------------------------------------
    eprintln!(
        "training {kind} on {} (reward {reward}) for {} steps with {} env(s), seed {}; writing {}",
        task.name,
        train.steps,
        train.num_envs,
        args.seed,
        args.out.display()
    );
    let options = RunOptions {
        out: &args.out,
        start_step,
        progress: !args.quiet,
        stop: Some(trainer::interrupt_flag()),
    };
    let outcome = trainer::train(agent.as_mut(), &mut envs, &mut eval_envs, &train, options)?;
    info.steps_done = outcome.total_steps;
    info.write(&args.out)?;

    // --- samples, plot, summary --------------------------------------------------------------------
    let records = trainer::read_metrics(&args.out.join(trainer::METRICS_FILE))?;
    let curve = args.out.join("learning_curve.svg");
    if let Err(e) = plot_learning_curve(&records, &curve, &format!("{kind} on {}", task.name)) {
        eprintln!("warning: no learning curve: {e:#}");
    }
    let mode = ActMode::Sample { temperature };
    let melodies = generate::sample(agent.as_mut(), &task, 100, train.eval_seed, mode)?;
    let samples_dir = args.out.join("samples");
    std::fs::create_dir_all(&samples_dir)?;
    let mut sample_paths = Vec::new();
    for (i, melody) in melodies.iter().take(args.samples).enumerate() {
        let path = samples_dir.join(format!("sample-{i:03}.mid"));
        generate::write_midi(&task, melody, &path, &format!("{kind} sample {i}"))?;
        sample_paths.push(path);
    }
    let metrics = rl_tuner_metrics(&task, &melodies);
    let distinct = melodies
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let last = outcome.records.last();
    let summary = serde_json::json!({
        "task": task.name,
        "reward": reward,
        "agent": kind,
        "steps": outcome.total_steps,
        "interrupted": outcome.interrupted,
        "wall_s": outcome.wall_s,
        "final": last,
        "sampled_melodies": melodies.len(),
        "distinct": distinct,
        "temperature": temperature,
        "rl_tuner_metrics": metrics,
    });
    tabular::write_atomic(
        &args.out.join("summary.json"),
        format!("{}\n", serde_json::to_string_pretty(&summary)?).as_bytes(),
    )?;
    print_summary(&SummaryView {
        task: &task,
        kind: &kind,
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
        out: &args.out,
        curve: &curve,
    });
    Ok(())
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
