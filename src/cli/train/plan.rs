//! Settling `train`'s arguments once: what the flags, a resumed run and the config file say
//! becomes one [`TrainPlan`] with every default resolved, and nothing after it reads a flag or
//! a file of settings again.

use super::args::TrainArgs;
use crate::cli::{common, recipe};
use anyhow::{bail, Context, Result};
use cadenza_agents::run::{RunDir, RunInfo};
use cadenza_agents::train::TrainConfig;
use cadenza_agents::{registry, AgentKind, DeviceChoice};
use cadenza_env::TaskSpec;
use std::path::{Path, PathBuf};

/// Env steps a run trains for when neither `--steps` nor the config's [train] table says.
const DEFAULT_STEPS: u64 = 2_000_000;
/// Env steps a KL-controlled run (`--prior`) trains for when neither `--steps` nor the
/// config's [train] table says: the budget docs/learning-from-examples.md measured its
/// recipe at (its melodies are the best Cadenza writes, in well under a minute of CPU).
const PRIOR_DEFAULT_STEPS: u64 = 200_000;

/// Where the prior of a KL-controlled run lives and how strongly it pulls.
#[derive(Debug, Clone)]
pub struct PriorSpec {
    /// The prior's run or checkpoint directory.
    pub dir: std::path::PathBuf,
    /// `c`: the reward is `r_theory + c · (log p_prior(a|s) − log π(a|s))`, the prior's half
    /// scored by the agent for all envs of a step at once (`Agent::attach_prior`), the
    /// policy's half added by PPO (its `kl_coef`).
    pub kl_coef: f64,
}

/// Everything a `train` run needs, settled. See the module docs.
#[derive(Debug)]
pub struct TrainPlan {
    /// The agent kind.
    pub kind: &'static AgentKind,
    /// The task.
    pub task: TaskSpec,
    /// The task's TOML text, for configurable tasks (recorded in run.json).
    pub task_config: Option<String>,
    /// The reward preset name or TOML path.
    pub reward: String,
    /// The reward's TOML text when it is a file.
    pub reward_toml: Option<String>,
    /// The agent fields: a fresh run's recipe fields (`recipe::agent_defaults`) under those
    /// of the config file (minus its [train] table); a resumed run's, as the file gave them.
    pub agent_table: toml::Table,
    /// The training protocol, every field settled (steps of this invocation).
    pub train: TrainConfig,
    /// A KL-controlled run's prior.
    pub prior: Option<PriorSpec>,
    /// The run this one continues.
    pub resume: Option<(RunDir, RunInfo)>,
    /// Steps trained before this invocation.
    pub start_step: u64,
    /// The run directory to write.
    pub out: PathBuf,
    /// Where a network lives.
    pub device: DeviceChoice,
    /// Sample melodies to write.
    pub samples: usize,
    /// Whether to show progress.
    pub progress: bool,
    /// The sampling temperature asked for by the flag, the [train] table or the resumed run
    /// (else the agent's own).
    pub temperature: Option<f64>,
}

impl TrainPlan {
    /// Settles `args` (see the module docs).
    pub fn resolve(args: &TrainArgs) -> Result<Self> {
        if args.input.is_some() {
            bail!("--in is for --agent bc (the melodies a prior learns from)");
        }
        let resume = match &args.resume {
            Some(dir) => Some(RunDir::open_to_resume(dir)?),
            None => None,
        };
        RunDir::check_free(&args.out, args.resume.as_deref())?;
        let (given_table, file_train) = read_config(args.config.as_deref())?;
        let (file_train, file_keys) = match file_train {
            Some((train, keys)) => (Some(train), keys),
            None => (None, Vec::new()),
        };
        let in_file = |key: &str| file_keys.iter().any(|k| k == key);
        let (kind, task, task_config, reward) = match &resume {
            Some((_, prev)) => Self::resumed(args, prev)?,
            None => Self::fresh(args)?,
        };
        let reward_toml = if reward.ends_with(".toml") {
            std::fs::read_to_string(&reward).ok()
        } else {
            resume.as_ref().and_then(|(_, p)| p.reward_toml.clone())
        };
        let previous = resume.as_ref().map(|(_, p)| p);
        // A resumed run's agent is restored with its own settings; a fresh one starts from
        // the recipe's fields for its task and reward, under those of --config.
        let kl_controlled = args.prior.is_some() || previous.is_some_and(|p| p.prior.is_some());
        let agent_table = match previous {
            Some(_) => given_table,
            None if kl_controlled => {
                recipe::overlay(recipe::kl_agent_defaults(&reward, kind)?, &given_table)
            }
            None => recipe::overlay(recipe::agent_defaults(&task, &reward, kind)?, &given_table),
        };

        let mut train = file_train
            .clone()
            .or_else(|| previous.map(|p| p.train.clone()))
            .unwrap_or_default();
        let file_steps = file_train
            .as_ref()
            .map(|t| t.steps)
            .filter(|&s| s != TrainConfig::default().steps);
        let default_steps = if kl_controlled {
            PRIOR_DEFAULT_STEPS
        } else {
            recipe::default_steps(&task, &reward, kind).unwrap_or(DEFAULT_STEPS)
        };
        train.steps = args.steps.or(file_steps).unwrap_or(default_steps);
        train.seed = args.seed;
        if let Some(e) = args.eval_every {
            train.eval_every = e;
        } else if previous.is_none() && train.eval_every == TrainConfig::default().eval_every {
            train.eval_every = if kl_controlled && recipe::is_kl_recipe(&reward) {
                recipe::KL_EVAL_EVERY
            } else {
                (train.steps / 20).max(10_000)
            };
        }
        if let Some(e) = args.eval_episodes {
            train.eval_episodes = e;
        }
        train.num_envs = match args.envs {
            Some(n) => n,
            None if in_file("num_envs") => train.num_envs,
            None => match previous {
                Some(p) => p.train.num_envs,
                None => kind.default_envs(&agent_table, &task)?,
            },
        };
        // The flag, else the [train] table, else the resumed run's; else (in `execute`) the
        // agent's own.
        let temperature = args
            .temperature
            .or_else(|| in_file("temperature").then_some(train.temperature))
            .or_else(|| previous.map(|p| p.temperature));
        let mut settled = train.clone();
        settled.temperature = temperature.unwrap_or(settled.temperature);
        settled.validate().with_context(|| match &args.config {
            Some(path) => format!("--config {} with the flags given", path.display()),
            None => "the flags given".to_string(),
        })?;

        let prior = match (&args.prior, previous.and_then(|p| p.prior.as_ref())) {
            (Some(dir), _) => Some(PriorSpec {
                dir: dir.clone(),
                kl_coef: args
                    .kl_coef
                    .unwrap_or_else(|| recipe::default_kl_coef(&reward)),
            }),
            (None, Some(dir)) => Some(PriorSpec {
                dir: dir.into(),
                kl_coef: previous
                    .and_then(|p| p.kl_coef)
                    .or(args.kl_coef)
                    .unwrap_or_else(|| recipe::default_kl_coef(&reward)),
            }),
            (None, None) => None,
        };
        if prior.is_some() && kind.name != "ppo" {
            bail!(
                "--prior fine-tunes with PPO: use --agent ppo (not '{}')",
                kind.name
            );
        }
        let start_step = previous.map_or(0, |p| p.steps_done);
        if start_step.checked_add(train.steps).is_none() {
            bail!(
                "{}: steps_done = {start_step} is more than a run can count: with {} more \
                 steps the total would pass {}",
                args.resume
                    .as_deref()
                    .unwrap_or(Path::new("."))
                    .join(cadenza_agents::run::RUN_FILE)
                    .display(),
                train.steps,
                u64::MAX
            );
        }
        Ok(Self {
            kind,
            task,
            task_config,
            reward,
            reward_toml,
            agent_table,
            train,
            prior,
            resume,
            start_step,
            out: args.out.clone(),
            device: args.device.parse()?,
            samples: args.samples,
            progress: !args.quiet,
            temperature,
        })
    }

    /// What a resumed run fixes: its kind, task and reward; flags may only repeat them.
    fn resumed(
        args: &TrainArgs,
        prev: &RunInfo,
    ) -> Result<(&'static AgentKind, TaskSpec, Option<String>, String)> {
        let kind = prev.kind()?;
        if let Some(given) = &args.agent {
            if registry::lookup(given)?.name != kind.name {
                bail!(
                    "--agent {given}: the run to resume trained '{}'",
                    prev.agent
                );
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
        Ok((
            kind,
            prev.task()?,
            prev.task_config.clone(),
            prev.reward.clone(),
        ))
    }

    /// What a fresh run takes from its flags.
    fn fresh(args: &TrainArgs) -> Result<(&'static AgentKind, TaskSpec, Option<String>, String)> {
        let name = args.agent.as_deref().context("--agent is required")?;
        let kind = registry::lookup(name)?;
        let task = common::task(&args.task, args.task_config.as_deref(), None)?;
        let text = match &args.task_config {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --task-config {}", path.display()))?,
            ),
            None => None,
        };
        // A KL-controlled run takes the KL recipe's theory reward; any other the task's
        // front-door recipe's.
        let reward = args.reward.clone().unwrap_or_else(|| {
            if args.prior.is_some() {
                recipe::kl_reward(&task).to_string()
            } else {
                recipe::default_reward(&task).to_string()
            }
        });
        Ok((kind, task, text, reward))
    }

    /// The whole budget schedules anneal over: steps before this invocation and in it.
    pub fn total_budget(&self) -> u64 {
        self.start_step + self.train.steps
    }
}

/// A `--config` file's [train] table: the protocol, and the names of the fields it gives.
pub type FileTrain = (TrainConfig, Vec<String>);

/// The agent's fields and the optional [train] table of a `--config` file, parsed once; with
/// the table, the names of the fields it gives (a field it leaves out keeps its default,
/// which the plan may settle otherwise).
pub fn read_config(path: Option<&Path>) -> Result<(toml::Table, Option<FileTrain>)> {
    let Some(path) = path else {
        return Ok((toml::Table::new(), None));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("--config {}", path.display()))?;
    let train = match table.remove("train") {
        Some(value) => {
            let keys = value
                .as_table()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            let train = value
                .try_into::<TrainConfig>()
                .with_context(|| format!("--config {}: [train] table", path.display()))?;
            Some((train, keys))
        }
        None => None,
    };
    Ok((table, train))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn plan(flags: &[&str]) -> TrainPlan {
        let out = std::env::temp_dir().join(format!("cadenza-plan-{}", std::process::id()));
        let out = out.display().to_string();
        let mut argv = vec!["train", "--out", &out];
        argv.extend_from_slice(flags);
        TrainPlan::resolve(&Cli::parse_from(argv).args).unwrap()
    }

    /// A KL-controlled run defaults to the budget its recipe was measured at, so the
    /// recommended command is quick without `--steps`; other runs keep theirs, and `--steps`
    /// wins over either.
    /// `--prior` alone runs the KL recipe: its reward, c = 3, γ = 0.8 and one PPO epoch,
    /// four evaluations; flags and a named reward win.
    #[test]
    fn prior_runs_default_to_the_kl_recipe() {
        let kl = plan(&["--agent", "ppo", "--prior", "runs/bc"]);
        assert_eq!(kl.reward, "rl-tuner-kl");
        assert_eq!(kl.prior.as_ref().unwrap().kl_coef, 3.0);
        assert_eq!(kl.agent_table["gamma"].as_float(), Some(0.8));
        assert_eq!(kl.agent_table["epochs"].as_integer(), Some(1));
        assert_eq!(kl.train.eval_every, recipe::KL_EVAL_EVERY);
        let named = plan(&[
            "--agent",
            "ppo",
            "--prior",
            "runs/bc",
            "--reward",
            "rl-tuner",
            "--kl-coef",
            "5",
        ]);
        assert_eq!(named.prior.as_ref().unwrap().kl_coef, 5.0);
        assert!(!named.agent_table.contains_key("gamma"));
        let magenta = plan(&[
            "--agent", "ppo", "--prior", "runs/bc", "--reward", "rl-tuner",
        ]);
        assert_eq!(magenta.prior.as_ref().unwrap().kl_coef, 15.0);
        assert_eq!(magenta.train.eval_every, 10_000);
    }

    #[test]
    fn prior_runs_default_to_the_recipe_budget() {
        let kl = plan(&["--agent", "ppo", "--prior", "runs/bc", "--kl-coef", "3"]);
        assert_eq!(kl.train.steps, PRIOR_DEFAULT_STEPS);
        assert_eq!(plan(&["--agent", "ppo"]).train.steps, DEFAULT_STEPS);
        let given = plan(&["--agent", "ppo", "--prior", "runs/bc", "--steps", "1000"]);
        assert_eq!(given.train.steps, 1000);
    }
}
