//! `cadenza corpus stats`: histograms of a melody set, as text bars and SVG plots.

use super::input::read;
use crate::cli::melodies::{self, print_stdout, say, MelodySet, Transpose};
use crate::cli::pianoroll::pitch_name;
use crate::cli::plot;
use anyhow::{Context, Result};
use cadenza_env::encoding::EventEncoding;
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Melodies: a directory of .mid and .abc files, a .mid or .abc file, or a JSON file of events.
    #[arg(long = "in", value_name = "DIR|FILE")]
    pub(super) input: PathBuf,
    /// Event encoding of MIDI input (the default keeps every MIDI pitch).
    #[arg(long, default_value = "range-0-127", value_parser = melodies::parse_encoding)]
    pub(super) encoding: EventEncoding,
    /// Transposition of MIDI input before encoding.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    pub(super) transpose: Transpose,
    /// Steps per quarter note of the grid MIDI is quantised to.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(super) steps_per_quarter: u32,
    /// Print one JSON object instead of text bars.
    #[arg(long)]
    pub(super) json: bool,
    /// Directory for SVG plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
}

/// Histograms of a melody set.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) melodies: usize,
    pub(super) notes: usize,
    pub(super) steps: usize,
    pub(super) pitch: BTreeMap<i32, u64>,
    pub(super) interval: BTreeMap<i32, u64>,
    pub(super) length: BTreeMap<i32, u64>,
}

pub(super) fn collect_stats(set: &MelodySet) -> Result<Stats> {
    let mut stats = Stats {
        melodies: set.melodies.len(),
        ..Stats::default()
    };
    for melody in &set.melodies {
        let notes = set
            .encoding
            .to_notes(&melody.events)
            .with_context(|| melody.source.clone())?;
        stats.steps += melody.events.len();
        stats.notes += notes.len();
        for note in &notes {
            *stats.pitch.entry(i32::from(note.pitch)).or_default() += 1;
            *stats
                .length
                .entry(i32::try_from(note.duration).unwrap_or(i32::MAX))
                .or_default() += 1;
        }
        for pair in notes.windows(2) {
            let step = i32::from(pair[1].pitch) - i32::from(pair[0].pitch);
            *stats.interval.entry(step).or_default() += 1;
        }
    }
    Ok(stats)
}

pub(super) fn stats(args: StatsArgs) -> Result<()> {
    let mut text = String::new();
    let set = read(
        &args.input,
        args.encoding,
        args.transpose,
        args.steps_per_quarter,
    )?;
    let stats = collect_stats(&set)?;
    let range = (
        stats.pitch.keys().next().copied(),
        stats.pitch.keys().next_back().copied(),
    );
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        plot_histograms(dir, &stats)?;
    }
    if args.json {
        let out = serde_json::json!({
            "encoding": set.encoding.to_string(),
            "melodies": stats.melodies,
            "notes": stats.notes,
            "steps": stats.steps,
            "pitch_min": range.0,
            "pitch_max": range.1,
            "pitch": stats.pitch,
            "interval": stats.interval,
            "length": stats.length,
        });
        say!(text, "{out}");
        return print_stdout(&text);
    }
    say!(
        text,
        "{} melodies, {} notes, {} steps ({})",
        stats.melodies,
        stats.notes,
        stats.steps,
        set.encoding
    );
    if let (Some(lo), Some(hi)) = range {
        say!(
            text,
            "range: {}..{} (MIDI {lo}..{hi})",
            name_of(lo),
            name_of(hi)
        );
    }
    say!(
        text,
        "
pitches:"
    );
    text.push_str(&text_bars(&stats.pitch, name_of));
    say!(
        text,
        "
intervals between successive notes (semitones):"
    );
    text.push_str(&text_bars(&stats.interval, |i| format!("{i:+}")));
    say!(
        text,
        "
note lengths (steps):"
    );
    text.push_str(&text_bars(&stats.length, |l| l.to_string()));
    if let Some(dir) = &args.out {
        say!(
            text,
            "\nwrote pitch.svg, interval.svg and length.svg to {}",
            dir.display()
        );
    }
    print_stdout(&text)
}

fn name_of(pitch: i32) -> String {
    u8::try_from(pitch).map_or_else(|_| pitch.to_string(), pitch_name)
}

/// One line per bin: label, count, share and a bar scaled to the largest bin.
fn text_bars(bins: &BTreeMap<i32, u64>, label: impl Fn(i32) -> String) -> String {
    const WIDTH: u64 = 50;
    let max = bins.values().copied().max().unwrap_or(0).max(1);
    let total: u64 = bins.values().sum::<u64>().max(1);
    let mut out = String::new();
    for (&key, &count) in bins {
        let len = (count * WIDTH).div_ceil(max) as usize;
        out.push_str(&format!(
            "{:>5} {:>7} {:>5.1}% {}\n",
            label(key),
            count,
            100.0 * count as f64 / total as f64,
            "#".repeat(len)
        ));
    }
    out
}

/// Writes the histograms of `stats` as pitch.svg, interval.svg and length.svg into `dir`.
pub(super) fn plot_histograms(dir: &Path, stats: &Stats) -> Result<()> {
    let plots = [
        ("pitch.svg", "Pitches", "MIDI pitch", &stats.pitch),
        (
            "interval.svg",
            "Intervals between successive notes",
            "semitones",
            &stats.interval,
        ),
        ("length.svg", "Note lengths", "steps", &stats.length),
    ];
    for (file, title, x_desc, bins) in plots {
        let path = dir.join(file);
        plot::histogram(&path, title, x_desc, bins)
            .with_context(|| format!("cannot write plot {}", path.display()))?;
    }
    Ok(())
}
