//! `cadenza generate`: melodies from a trained agent, as MIDI, ABC, MusicXML or JSON.

use anyhow::{bail, Context, Result};
use cadenza_agents::run::RunDir;
use cadenza_agents::train::evaluate_batch;
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::encoding::Event;
use cadenza_env::formats::{self, Format};
use cadenza_env::io::write_atomic;
use cadenza_env::midi::MidiSong;
use cadenza_env::{ComposeEnv, Reward, TaskSpec, ZeroReward};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Sample melodies from the agent trained in a run directory.
///
/// Without --json, PATH is a .mid, .abc or .musicxml file (--count 1) or a directory of
/// such files (melody-000.mid, ...; --format picks the format, MIDI by default), each with
/// the task's tempo, meter, key and chord symbols. With --json, PATH is one JSON file in the form `cadenza score`
/// reads: {"encoding": "rl-tuner-38", "melodies": [[events...], ...]}. Melody i plays on env
/// seed S + i; the same --seed gives the same melodies. Sampling draws each event from a
/// softmax over the agent's values (tabular) or from its policy, at --temperature; --greedy
/// takes the best event every time (the same melody for every seed on tasks without
/// randomness).
///
/// Example: cadenza generate --from runs/q1 --count 100 --seed 7 --out melodies.json --json
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Run directory written by `cadenza train`.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// Number of melodies (at most 1,000,000).
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Seed of the first melody.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampling temperature [default: the run's].
    #[arg(long, conflicts_with = "greedy")]
    temperature: Option<f64>,
    /// Always take the best event.
    #[arg(long)]
    greedy: bool,
    /// Output: a .mid, .abc or .musicxml file, a directory, or with --json a .json file.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Format of the melody files: midi, abc or musicxml [default: from the extension of
    /// PATH, MIDI for a directory].
    #[arg(long, value_parser = super::common::parse_format, conflicts_with = "json")]
    format: Option<Format>,
    /// Write one JSON file instead of MIDI.
    #[arg(long)]
    json: bool,
    /// Where a policy-gradient network runs: cpu, cuda or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

/// Most melodies one `generate` samples (`--count`): they are held in memory until written,
/// about a hundred bytes each at 32 steps, so the limit keeps a typo from exhausting memory.
pub const MAX_COUNT: usize = 1_000_000;

pub fn run(args: GenerateArgs) -> Result<()> {
    if !(1..=MAX_COUNT).contains(&args.count) {
        bail!(
            "--count {}: expected 1..={MAX_COUNT} melodies (see \"Limits\" in the README)",
            args.count
        );
    }
    let (run, info) = RunDir::open(&args.from)?;
    let task = info.task()?;
    let mut agent = run.load_agent(&info, args.device.parse()?)?;
    let mode = if args.greedy {
        ActMode::Greedy
    } else {
        let t = args.temperature.unwrap_or(info.temperature);
        if !(t.is_finite() && t >= 0.0) {
            bail!("--temperature must be a finite number >= 0, got {t}");
        }
        ActMode::Sample { temperature: t }
    };
    let melodies = sample(agent.as_mut(), &task, args.count, args.seed, mode)?;

    if args.json {
        super::common::check_output_path(&args.out)?;
        let value = serde_json::json!({
            "encoding": task.setting.encoding.to_string(),
            "melodies": melodies,
        });
        write_atomic(&args.out, format!("{value}\n").as_bytes())
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        eprintln!(
            "wrote {} melodies to {}",
            melodies.len(),
            args.out.display()
        );
        return Ok(());
    }
    if args.count == 1 && !args.out.is_dir() {
        super::common::check_output_path(&args.out)?;
        let format = write_song(
            &task,
            &melodies[0],
            &args.out,
            args.format,
            &format!("{} melody", info.agent),
        )?;
        eprintln!("wrote {} ({format})", args.out.display());
        return Ok(());
    }
    let format = args.format.unwrap_or(Format::Midi);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create directory {}", args.out.display()))?;
    for (i, melody) in melodies.iter().enumerate() {
        let path = args
            .out
            .join(format!("melody-{i:03}.{}", format.extension()));
        write_song(
            &task,
            melody,
            &path,
            Some(format),
            &format!("{} melody {i}", info.agent),
        )?;
    }
    eprintln!(
        "wrote {} {format} files to {}",
        melodies.len(),
        args.out.display()
    );
    Ok(())
}

/// Plays `count` episodes of `task` with `agent`: env seeds `seed`, `seed + 1`, ...; melody
/// `i` draws its random choices from a generator that depends only on `seed` and `i`, so a
/// melody does not change with `count`. Episodes run in waves over several envs, a network
/// choosing a whole wave's actions in one forward pass. Shows progress for large counts.
pub fn sample(
    agent: &mut dyn Agent,
    task: &TaskSpec,
    count: usize,
    seed: u64,
    mode: ActMode,
) -> Result<Vec<Vec<Event>>> {
    /// Melodies per call of `evaluate_batch` (its generators are keyed by the chunk's seed).
    const CHUNK: usize = 1024;
    /// Envs stepped together.
    const WAVE: usize = 64;
    // Actions do not depend on the reward, so none is computed.
    let mut envs: Vec<TrainEnv> = (0..count.clamp(1, WAVE))
        .map(|_| ComposeEnv::new(task.clone(), Box::new(ZeroReward) as Box<dyn Reward>))
        .collect();
    let bar = if count >= 10_000 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(count as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{wide_bar} {human_pos}/{human_len} melodies, eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut melodies = Vec::with_capacity(count);
    for start in (0..count).step_by(CHUNK) {
        let n = (count - start).min(CHUNK);
        let played = evaluate_batch(agent, &mut envs, n, seed.wrapping_add(start as u64), mode)?;
        melodies.extend(played.melodies);
        bar.set_position((start + n) as u64);
    }
    bar.finish_and_clear();
    Ok(melodies)
}

/// Writes a melody of `task` in `format` (or the one the extension names), with the task's
/// tempo, meter, key and chords; returns the format written.
pub fn write_song(
    task: &TaskSpec,
    melody: &[Event],
    path: &Path,
    format: Option<Format>,
    title: &str,
) -> Result<Format> {
    let song = MidiSong {
        title: Some(title.to_string()),
        ..task.melody_song(melody)?
    };
    Ok(formats::write_song(&song, path, format)?)
}
