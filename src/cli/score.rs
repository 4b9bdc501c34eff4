//! `cadenza score`: per-step rewards and terms of given melodies.

use super::common;
use super::melodies::{self, ReadOptions};
use anyhow::{bail, Context, Result};
use cadenza_env::io::write_atomic_with;
use cadenza_reward::score::{score_melody, ScoredMelody, ScoredStep};
use clap::Args;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Score melodies with a reward: every step's reward and the value of every term.
///
/// Input: a JSON file `{"encoding": "rl-tuner-38", "melodies": [[events...], ...]}` (a bare
/// list of lists is also accepted), a .mid or .abc file, or a directory of them (transposed to
/// C for the rl-tuner task). Output: `{"melodies": [{"steps": [{"reward": r, "terms":
/// {"name": v, ...}}, ...], "total": t}, ...]}`, written melody by melody as it is scored.
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
    /// Melodies: a JSON file, a .mid or .abc file, a directory of .mid and .abc files, or - for stdin.
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
    // JSON has no infinity: a reward that overflowed would be written as null.
    let mut overflow = None;
    let mut write = |out: &mut dyn Write| -> std::io::Result<()> {
        out.write_all(b"{\"melodies\":[")?;
        for (i, melody) in set.melodies.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let scored = score_melody(&mut reward, &task.setting, &melody.events);
            if let Some(step) = scored.steps.iter().position(|s| !s.reward.is_finite()) {
                overflow = Some(format!(
                    "--reward {}: melody {} scores {} at step {step}: the reward's weights or \
                     parameters overflow",
                    args.reward, melody.source, scored.steps[step].reward
                ));
                return Err(std::io::Error::other("a reward overflowed"));
            }
            let json = ScoredJson {
                source: &melody.source,
                names: &names,
                scored: &scored,
            };
            serde_json::to_writer(&mut *out, &json)?;
        }
        out.write_all(b"]}\n")?;
        out.flush()
    };
    let written = match &args.out {
        Some(path) => write_atomic_with(path, |temp| {
            let mut file = BufWriter::new(File::create(temp)?);
            write(&mut file)
        })
        .with_context(|| format!("cannot write {}", path.display())),
        None => {
            let mut stdout = BufWriter::new(std::io::stdout().lock());
            match write(&mut stdout) {
                // A reader that went away (`| head`) did not want the rest.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    };
    if let Some(message) = overflow {
        bail!(message);
    }
    written
}

/// One melody's scores as JSON, serialised straight from the scores: the output is written
/// melody by melody, never held whole in memory (a million melodies of 32 steps would be
/// gigabytes as a JSON tree).
struct ScoredJson<'a> {
    source: &'a str,
    names: &'a [String],
    scored: &'a ScoredMelody,
}

impl Serialize for ScoredJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("source", self.source)?;
        map.serialize_entry("steps", &Steps(self))?;
        map.serialize_entry("total", &self.scored.total)?;
        map.end()
    }
}

/// The `steps` list of a [`ScoredJson`]: `{"reward": r, "terms": {"name": v, ...}}` each.
struct Steps<'a, 'b>(&'a ScoredJson<'b>);

impl Serialize for Steps<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.0.names;
        let mut seq = serializer.serialize_seq(Some(self.0.scored.steps.len()))?;
        for step in &self.0.scored.steps {
            seq.serialize_element(&Step { names, step })?;
        }
        seq.end()
    }
}

struct Step<'a> {
    names: &'a [String],
    step: &'a ScoredStep,
}

impl Serialize for Step<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("reward", &self.step.reward)?;
        map.serialize_entry("terms", &Terms(self))?;
        map.end()
    }
}

struct Terms<'a, 'b>(&'a Step<'b>);

impl Serialize for Terms<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Step { names, step } = self.0;
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for (name, value) in names.iter().zip(&step.terms) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
