//! `cadenza score`: per-step rewards and terms of given melodies.

use super::common;
use super::melodies::{self, ReadOptions};
use anyhow::{bail, Context, Result};
use cadenza_reward::score::score_melody;
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Score melodies with a reward: every step's reward and the value of every term.
///
/// Input: a JSON file `{"encoding": "rl-tuner-38", "melodies": [[events...], ...]}` (a bare
/// list of lists is also accepted), a .mid file, or a directory of .mid files (transposed to
/// C for the rl-tuner task). Output: `{"melodies": [{"steps": [{"reward": r, "terms":
/// {"name": v, ...}}, ...], "total": t}, ...]}`.
///
/// The `rl-tuner` preset reproduces Magenta's `reward_music_theory` exactly, restarting its
/// composition every 32 steps as Magenta's training does.
///
/// Example: cadenza score --reward rl-tuner --in melodies.json --out scores.json
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Reward preset (rl-tuner, improv, in-scale, zero) or a .toml reward definition.
    #[arg(long)]
    reward: String,
    /// Melodies: a JSON file, a .mid file, a directory of .mid files, or - for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Task whose musical setting (key, meter, chords) the reward sees; default: improv for
    /// the improv preset, rl-tuner otherwise.
    #[arg(long)]
    task: Option<String>,
    /// TOML file configuring the task (improv only).
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: ScoreArgs) -> Result<()> {
    if let Some(out) = &args.out {
        common::check_output_path(out)?;
    }
    let task_name = args.task.clone().unwrap_or_else(|| {
        if args.reward == "improv" {
            "improv".to_string()
        } else {
            "rl-tuner".to_string()
        }
    });
    let task = common::task(&task_name, args.config.as_deref(), None)?;
    let mut reward = common::reward(Some(&args.reward), &task)?;
    let options = ReadOptions {
        encoding: Some(task.setting.encoding),
        ..ReadOptions::default()
    };
    let set = melodies::read_melodies(&args.input, &options)?;
    set.warn_skipped();
    set.require_encoding(task.setting.encoding, &format!("task {}", task.name))?;
    let names = reward.term_names();
    let mut out = Vec::with_capacity(set.melodies.len());
    for melody in &set.melodies {
        let scored = score_melody(&mut reward, &task.setting, &melody.events);
        // JSON has no infinity: a reward that overflowed would be printed as null.
        if let Some(step) = scored.steps.iter().position(|s| !s.reward.is_finite()) {
            bail!(
                "--reward {}: melody {} scores {} at step {step}: the reward's weights or \
                 parameters overflow",
                args.reward,
                melody.source,
                scored.steps[step].reward
            );
        }
        let steps: Vec<Value> = scored
            .steps
            .iter()
            .map(|s| {
                let terms: Map<String, Value> = names
                    .iter()
                    .zip(&s.terms)
                    .map(|(n, v)| (n.clone(), json!(v)))
                    .collect();
                json!({"reward": s.reward, "terms": terms})
            })
            .collect();
        out.push(json!({"source": melody.source, "steps": steps, "total": scored.total}));
    }
    let text = serde_json::to_string(&json!({ "melodies": out }))? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => melodies::print_stdout(&text)?,
    }
    Ok(())
}
