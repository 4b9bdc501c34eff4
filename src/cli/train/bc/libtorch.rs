//! `train --agent bc` and `--prior` on libtorch.

use crate::cli::train::args::TrainArgs;
use crate::cli::train::plan::PriorSpec;
use anyhow::{bail, Context, Result};
use cadenza_agents::{Agent, DeviceChoice};
use cadenza_env::{Reward, TaskSpec};
use std::path::Path;

/// The reward of a KL-controlled run: `inner` plus `c · log p_prior`.
pub fn wrap_reward(
    inner: Box<dyn Reward>,
    prior: &PriorSpec,
    task: &TaskSpec,
) -> Result<Box<dyn Reward>> {
    use cadenza_agents::pg::bc::PriorReward;
    let reward = PriorReward::new(inner, &prior.dir, task, prior.kl_coef)
        .with_context(|| format!("--prior {}", prior.dir.display()))?;
    Ok(Box::new(reward))
}

/// A PPO agent started from the prior's weights, with its config as JSON for run.json.
pub fn ppo_from_prior(
    prior: &PriorSpec,
    config: toml::Table,
    task: &TaskSpec,
    total_steps: u64,
    seed: u64,
    device: DeviceChoice,
) -> Result<(Box<dyn Agent>, serde_json::Value)> {
    use cadenza_agents::pg;
    let mut config = config;
    // The same β weighs both halves of the KL: `+β log p_prior` in the reward (PriorReward)
    // and PPO's `−β log π`. A `kl_coef` in --config sets the second alone (0: the reward form
    // r_theory + c · log p_prior without the policy's half).
    if !config.contains_key("kl_coef") {
        config.insert("kl_coef".to_string(), toml::Value::Float(prior.kl_coef));
    }
    let text = toml::to_string(&config)?;
    let agent = pg::bc::ppo_from_prior(
        &prior.dir,
        Some(&text),
        task,
        device,
        seed,
        Some(total_steps),
    )
    .with_context(|| format!("--prior {}", prior.dir.display()))?;
    // The agent's own config: the prior's network and the settings it fine-tunes with.
    let config = agent.effective_config();
    Ok((agent, config))
}

/// Corpus tunes in the task's encoding (MIDI transposed to C), with each file's bar length;
/// files that give no melody are listed on stderr and returned.
pub fn read_tunes(
    input: &Path,
    task: &TaskSpec,
) -> Result<(
    Vec<cadenza_agents::pg::bc::Tune>,
    Vec<crate::cli::melodies::Skipped>,
)> {
    use crate::cli::melodies::{read_melodies, ReadOptions, Transpose};
    let options = ReadOptions {
        encoding: Some(task.setting.encoding),
        transpose: Transpose::Auto,
        ..ReadOptions::default()
    };
    let set = read_melodies(input, &options)?;
    set.warn_skipped();
    set.require_encoding(task.setting.encoding, &format!("task '{}'", task.name))?;
    let tunes = crate::cli::corpus::tunes_of(&set, input, task)?;
    Ok((tunes, set.skipped))
}

/// `cadenza train --agent bc --in CORPUS --out DIR`.
pub fn run(args: &TrainArgs) -> Result<()> {
    use cadenza_agents::pg::bc;
    use cadenza_agents::run::{RunDir, RunInfo, RUN_FORMAT};
    use cadenza_agents::ActMode;
    use std::io::Write;

    let Some(input) = &args.input else {
        bail!(
            "--agent bc learns from melodies: pass --in CORPUS (a directory of .mid and .abc files, or a \
             corpus.json written by `cadenza corpus import`)"
        );
    };
    if args.resume.is_some() || args.prior.is_some() {
        bail!("--agent bc trains a prior from scratch: --resume and --prior do not apply");
    }
    RunDir::check_free(&args.out, None)?;
    let device: DeviceChoice = args.device.parse()?;
    let task = crate::cli::common::task(&args.task, args.task_config.as_deref(), None)?;
    let (table, _train) = crate::cli::train::plan::read_config(args.config.as_deref())?;
    let config: bc::BcConfig = toml::Value::Table(table)
        .try_into()
        .context("--config: behaviour-cloning fields")?;
    config.validate()?;
    let (tunes, skipped) = read_tunes(input, &task)?;
    let (train_tunes, valid_tunes) = bc::split(&tunes, config.valid_fraction, config.split_seed);

    let run = RunDir::create(&args.out, None)?;
    let metrics_path = run.metrics_path();
    let mut metrics = std::fs::File::create(&metrics_path)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;
    eprintln!(
        "behaviour cloning a {:?} prior ({} hidden) on {} training and {} validation melodies \
         from {} for {} epochs, seed {}; writing {}",
        config.model.arch,
        config.model.hidden,
        train_tunes.len(),
        valid_tunes.len(),
        input.display(),
        config.epochs,
        args.seed,
        args.out.display()
    );
    let mut io_error = None;
    let agent = bc::train(
        &config,
        &task,
        &train_tunes,
        &valid_tunes,
        device,
        args.seed,
        |record| {
            if !args.quiet {
                eprintln!(
                    "epoch {:>3}: train NLL {:.4}, valid NLL {}, accuracy {} ({:.0} s)",
                    record.epoch,
                    record.train_nll,
                    record.valid_nll.map_or("-".into(), |v| format!("{v:.4}")),
                    record
                        .valid_accuracy
                        .map_or("-".into(), |v| format!("{:.1}%", 100.0 * v)),
                    record.elapsed_s
                );
            }
            let line = serde_json::to_string(record).unwrap_or_default();
            if let Err(e) = writeln!(metrics, "{line}") {
                io_error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = io_error {
        return Err(e).with_context(|| format!("cannot write {}", metrics_path.display()));
    }
    let checkpoint = run.new_checkpoint_dir()?;
    agent.save(&checkpoint)?;
    let valid = if valid_tunes.is_empty() {
        None
    } else {
        Some(bc::score(&agent, &task, &valid_tunes)?)
    };
    let train_report = bc::score(&agent, &task, &train_tunes)?;
    let info = RunInfo {
        format: RUN_FORMAT.to_string(),
        version: 1,
        task: task.name.clone(),
        task_config: None,
        reward: cadenza_reward::registry::default_preset(&task.name).to_string(),
        reward_toml: None,
        agent: bc::KIND.to_string(),
        agent_config: serde_json::to_value(&config)?,
        train: cadenza_agents::train::TrainConfig {
            steps: 1,
            seed: args.seed,
            ..Default::default()
        },
        temperature: args.temperature.unwrap_or(1.0),
        seed: args.seed,
        steps_done: 0,
        checkpoint: cadenza_agents::train::CHECKPOINT_DIR.to_string(),
        prior: None,
        kl_coef: None,
    };
    run.write_info(&info)?;

    // Samples of the prior on the task, as `train` writes them.
    let mut agent: Box<dyn Agent> = run.load_agent(&info, device)?;
    let mode = ActMode::Sample {
        temperature: info.temperature,
    };
    let melodies =
        crate::cli::generate::sample(agent.as_mut(), &task, 100, info.train.eval_seed, mode)?;
    crate::cli::train::report::write_samples(&run, &task, &melodies, args.samples, bc::KIND)?;
    let rl_tuner = crate::cli::train::report::rl_tuner_metrics(&task, &melodies);
    let summary = serde_json::json!({
        "task": task.name,
        "agent": bc::KIND,
        "corpus": input.display().to_string(),
        "melodies": tunes.len(),
        "skipped": skipped.iter().map(|s| serde_json::json!({
            "file": s.path.display().to_string(),
            "reason": s.reason,
        })).collect::<Vec<_>>(),
        "train_melodies": train_tunes.len(),
        "valid_melodies": valid_tunes.len(),
        "config": config,
        "train": train_report,
        "valid": valid,
        "rl_tuner_metrics": rl_tuner,
        "musicianship": crate::cli::eval::musicianship_value(&melodies, &task.setting),
    });
    run.write_summary(&summary)?;
    println!(
        "bc prior on {} melodies ({} skipped): train NLL {:.4} nats/event, accuracy {:.1}%",
        tunes.len(),
        skipped.len(),
        train_report.nll_per_event,
        100.0 * train_report.accuracy
    );
    if let Some(v) = valid {
        println!(
            "validation ({} melodies, {} events): NLL {:.4} nats/event, perplexity {:.3}, accuracy {:.1}%",
            v.melodies,
            v.events,
            v.nll_per_event,
            v.perplexity,
            100.0 * v.accuracy
        );
    }
    println!(
        "run: {} (checkpoint/, metrics.jsonl, summary.json, samples/)",
        args.out.display()
    );
    Ok(())
}
