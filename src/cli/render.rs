//! `cadenza render`: melodies as events to a MIDI, ABC or MusicXML file.

use super::melodies::{self, ReadOptions};
use anyhow::{bail, Context, Result};
use cadenza_env::encoding::Note;
use cadenza_env::formats::{self, Format};
use cadenza_env::midi::{ChordSpan, MidiSong};
use cadenza_env::TaskSpec;
use clap::Args;
use std::path::PathBuf;

/// Write melodies (events) as a MIDI file you can play, or as ABC or MusicXML to read.
///
/// The input is a JSON file in the `score` form ({"encoding": "rl-tuner-38", "melodies":
/// [[events...], ...]}, or a bare list of lists), a text file with one melody of event numbers
/// per line, `-` for standard input, or the events inline with --events. The task sets tempo,
/// meter and key; with `--task improv` its backing chords are written as a second track under
/// each melody (in ABC and MusicXML as chord symbols). Several melodies are written one after
/// another, each from a new bar with a bar of rest between; --index picks one. The format
/// follows the extension of --out (.mid, .abc, .musicxml) or --format.
///
/// Example: cadenza render --events "14 1 1 0 16 1 18 1" --out melody.mid
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Melodies: a JSON file, a text file of events, or `-` for standard input.
    #[arg(
        long = "in",
        value_name = "FILE",
        required_unless_present = "events",
        conflicts_with = "events"
    )]
    input: Option<PathBuf>,
    /// One melody inline, event numbers separated by spaces (e.g. "14 1 1 0 16").
    #[arg(long, value_name = "EVENTS")]
    events: Option<String>,
    /// The file to write: .mid, .abc or .musicxml.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Format of --out: midi, abc or musicxml [default: from its extension].
    #[arg(long, value_parser = super::common::parse_format)]
    format: Option<Format>,
    /// Task that sets tempo, meter, key and (improv) the backing chords: rl-tuner or improv.
    #[arg(long, default_value = "rl-tuner")]
    task: String,
    /// TOML file configuring the task (improv only).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Tempo in quarter notes per minute [default: the task's].
    #[arg(long, value_name = "BPM")]
    tempo: Option<f64>,
    /// Write only melody I (0-based) of the input.
    #[arg(long, value_name = "I")]
    index: Option<usize>,
}

pub fn run(args: RenderArgs) -> Result<()> {
    let task = super::common::task(&args.task, args.config.as_deref(), None)?;
    let options = ReadOptions {
        encoding: Some(task.setting.encoding),
        ..ReadOptions::default()
    };
    let set = match (&args.events, &args.input) {
        (Some(events), _) => melodies::read_text(events, "--events", &options)?,
        (None, Some(path)) => melodies::read_melodies(path, &options)?,
        (None, None) => bail!("give the melodies with --in FILE or --events \"14 1 1 0 ...\""),
    };
    set.warn_skipped();
    let picked: Vec<&melodies::Melody> = match args.index {
        Some(i) => match set.melodies.get(i) {
            Some(m) => vec![m],
            None => bail!(
                "--index {i}: the input holds {} melodies, numbered from 0",
                set.melodies.len()
            ),
        },
        None => set.melodies.iter().collect(),
    };
    if let Some(tempo) = args.tempo {
        if !(tempo.is_finite() && tempo > 0.0) {
            bail!("--tempo must be a positive number of quarter notes per minute, got {tempo}");
        }
    }
    super::common::check_output_path(&args.out)?;
    formats::format_of(&args.out, args.format)?;

    let steps_per_quarter = task.steps_per_quarter();
    let (num, den) = task.meter;
    let bar = melodies::steps_per_bar(steps_per_quarter, num, den) as u32;
    let mut notes: Vec<Note> = Vec::new();
    let mut chords: Vec<ChordSpan> = Vec::new();
    let mut offset = 0u32;
    for melody in &picked {
        let melody_notes = set
            .encoding
            .to_notes(&melody.events)
            .with_context(|| format!("melody {}", melody.source))?;
        let length = u32::try_from(melody.events.len()).context("melody too long for MIDI")?;
        notes.extend(melody_notes.iter().map(|n| Note {
            start: n.start + offset,
            ..*n
        }));
        chords.extend(backing(&task, offset, length));
        // Next melody: from the next bar line, after a whole bar of rest.
        offset = offset
            .saturating_add(length.div_ceil(bar) * bar)
            .saturating_add(bar);
    }
    let title = match picked.as_slice() {
        [one] => format!("Cadenza: {}", one.source),
        many => format!("Cadenza: {} melodies", many.len()),
    };
    let song = MidiSong {
        title: Some(title),
        tempo_qpm: args.tempo.unwrap_or(task.tempo_qpm),
        ..task.song(notes, chords)
    };
    let format = formats::write_song(&song, &args.out, args.format)?;
    eprintln!(
        "wrote {} melod{} ({} encoding, task {}) to {} ({format})",
        picked.len(),
        if picked.len() == 1 { "y" } else { "ies" },
        set.encoding,
        task.name,
        args.out.display()
    );
    Ok(())
}

/// The task's backing chords under a melody of `length` steps starting at `offset`, repeated
/// when the melody is longer than the progression.
fn backing(task: &TaskSpec, offset: u32, length: u32) -> Vec<ChordSpan> {
    let cycle = task
        .backing
        .iter()
        .map(|c| c.start + c.steps)
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    if cycle == 0 {
        return out;
    }
    let mut base = 0u32;
    while base < length {
        for c in &task.backing {
            let start = base + c.start;
            if start >= length {
                break;
            }
            out.push(ChordSpan {
                start: offset + start,
                duration: c.steps.min(length - start).max(1),
                pitches: c.pitches.clone(),
                symbol: Some(c.symbol.clone()),
            });
        }
        base += cycle;
    }
    out
}
