//! `cadenza inspect`: what a MIDI or ABC file holds, as events and in words.

use super::melodies::{self, say, Melody, Transpose};
use super::pianoroll;
use anyhow::{Context, Result};
use cadenza_env::encoding::EventEncoding;
use cadenza_env::formats;
use cadenza_env::midi::{ImportOptions, ImportedMelody, KeySignature};
use cadenza_env::music::Key;
use clap::Args;
use std::path::PathBuf;

/// Read a MIDI or ABC file as a melody: its events (the `score` input form) and a summary.
///
/// The melody is read from one track (the one with the most notes, chord tracks aside, or
/// --track) or, in an ABC file, from one tune (the first, or --tune X), made
/// monophonic and quantised to a grid of --steps-per-quarter steps, then encoded; for the
/// rl-tuner-38 encoding it is first transposed to C major / A minor (see --transpose). Without
/// --json a summary comes first: title, tempo, meter, key, notes, what quantisation moved or
/// dropped and why, and a piano roll of the first bars; then the events JSON.
///
/// Example: cadenza inspect tune.mid --encoding range-55-88 --json > tune.json
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The MIDI (.mid) or ABC (.abc) file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The tune of an ABC file to read, by its X: number [default: the first].
    #[arg(long, value_name = "X")]
    tune: Option<u32>,
    /// Print only the events JSON ({"encoding": ..., "melodies": [[...]], "meta": [...]}).
    #[arg(long)]
    json: bool,
    /// Event encoding: rl-tuner-38 or range-LOW-HIGH (MIDI numbers, e.g. range-55-88).
    #[arg(long, default_value = "rl-tuner-38", value_parser = melodies::parse_encoding)]
    encoding: EventEncoding,
    /// Transposition before encoding.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Track to read (0-based) [default: the one with the most notes, chord tracks aside].
    #[arg(long, value_name = "N")]
    track: Option<usize>,
    /// Steps per quarter note of the grid (4 = sixteenth notes).
    #[arg(long, value_name = "N", default_value_t = 4)]
    steps_per_quarter: u32,
    /// Bars shown in the piano roll.
    #[arg(long, value_name = "N", default_value_t = 4)]
    bars: usize,
    /// Also write the events JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    out: Option<PathBuf>,
}

pub fn run(args: InspectArgs) -> Result<()> {
    let options = ImportOptions {
        steps_per_quarter: args.steps_per_quarter,
        track: args.track,
        ..ImportOptions::default()
    };
    let tunes = formats::read_file(&args.file, None, &options)?;
    let count = tunes.len();
    let mut tunes = tunes.into_iter();
    let tune = match args.tune {
        None => tunes.next(),
        Some(x) => tunes.find(|t| {
            t.label
                .as_deref()
                .is_some_and(|l| l.split([' ', '"']).next() == Some(&format!("X:{x}")))
        }),
    };
    let Some(tune) = tune else {
        match args.tune {
            Some(x) => anyhow::bail!(
                "{}: no tune X:{x} among its {count} tune(s)",
                args.file.display()
            ),
            None => anyhow::bail!("{}: holds no tunes", args.file.display()),
        }
    };
    let imported = tune.melody?;
    let name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let source = match &tune.label {
        Some(label) => format!("{name} {label}"),
        None => name,
    };
    let melody = melodies::melody_from_midi(&imported, source, args.encoding, args.transpose)
        .with_context(|| args.file.display().to_string())?;
    let json = events_json(args.encoding, &melody, &imported);
    let text = serde_json::to_string(&json)?;
    if let Some(out) = &args.out {
        super::common::check_output_path(out)?;
        cadenza_env::io::write_atomic(out, format!("{text}\n").as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let mut shown = String::new();
    if !args.json {
        shown.push_str(&summary(&args, &imported, &melody));
        say!(
            shown,
            "events ({} steps, the `score` input form):",
            melody.events.len()
        );
    }
    say!(shown, "{text}");
    melodies::print_stdout(&shown)
}

fn events_json(
    encoding: EventEncoding,
    melody: &Melody,
    imported: &ImportedMelody,
) -> serde_json::Value {
    let info = melody.midi.as_ref();
    serde_json::json!({
        "encoding": encoding.to_string(),
        "melodies": [melody.events],
        "meta": [{
            "source": melody.source,
            "title": imported.title,
            "tempo_qpm": imported.tempo_qpm,
            "time_signature": imported.time_signature.map(|(n, d)| format!("{n}/{d}")),
            "key": imported.key_signature.map(key_name),
            "notes": imported.notes.len(),
            "steps_per_quarter": imported.steps_per_quarter,
            "transposed": info.map_or(0, |i| i.transposed),
            "folded": info.map_or(0, |i| i.folded),
            "dropped": imported.report.dropped(),
            "harmony": info.map_or_else(Vec::new, |i| i.harmony.clone()),
        }],
    })
}

fn key_name(key: KeySignature) -> String {
    match Key::from_key_signature(key.sharps, key.minor) {
        Ok(k) => k.to_string(),
        Err(_) => format!("{} sharps", key.sharps),
    }
}

fn accidentals(sharps: i8) -> String {
    match sharps {
        0 => "no sharps or flats".to_string(),
        1 => "1 sharp".to_string(),
        -1 => "1 flat".to_string(),
        s if s > 0 => format!("{s} sharps"),
        s => format!("{} flats", -s),
    }
}

fn summary(args: &InspectArgs, imported: &ImportedMelody, melody: &Melody) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let report = &imported.report;
    let info = melody.midi.as_ref();
    line(format!("file:     {}", args.file.display()));
    line(format!(
        "title:    {}",
        imported.title.as_deref().unwrap_or("(none)")
    ));
    line(format!(
        "tempo:    {:.1} quarter notes per minute{}",
        imported.tempo_qpm,
        if report.tempo_changes > 0 {
            format!(" ({} later changes ignored)", report.tempo_changes)
        } else {
            String::new()
        }
    ));
    let steps_per_bar = info.map_or(16, |i| i.steps_per_bar());
    line(format!(
        "meter:    {} ({steps_per_bar} steps per bar)",
        imported
            .time_signature
            .map_or("none given, read as 4/4".to_string(), |(n, d)| format!(
                "{n}/{d}"
            ))
    ));
    let key = match imported.key_signature {
        Some(k) => format!("{} ({})", key_name(k), accidentals(k.sharps)),
        None => "none given".to_string(),
    };
    let moved = match info {
        Some(i) if i.transposed != 0 => format!(
            "; transposed {:+} semitones{}",
            i.transposed,
            i.key_after
                .map_or(String::new(), |k| format!(" to {}", key_name(k)))
        ),
        _ => String::new(),
    };
    line(format!("key:      {key}{moved}"));
    let pitches = imported.notes.iter().map(|n| n.pitch);
    let range = match (pitches.clone().min(), pitches.max()) {
        (Some(lo), Some(hi)) => format!(
            ", pitches {}..{} (MIDI {lo}..{hi})",
            pianoroll::pitch_name(lo),
            pianoroll::pitch_name(hi)
        ),
        _ => String::new(),
    };
    let steps = imported.length_steps();
    line(format!(
        "notes:    {} in track {} of {}{range}; {steps} steps ({:.1} bars)",
        imported.notes.len(),
        report.track,
        report.tracks,
        steps as f64 / steps_per_bar as f64
    ));
    let step_ticks = f64::from(imported.ticks_per_quarter) / f64::from(imported.steps_per_quarter);
    line(format!(
        "timing:   grid of {} steps per quarter ({step_ticks:.1} ticks of {} per quarter); {:.1}% of onsets moved, mean shift {:.1} ticks, max {:.1} ticks",
        imported.steps_per_quarter,
        imported.ticks_per_quarter,
        100.0 * report.moved_onset_fraction,
        report.mean_shift_ticks,
        report.max_shift_ticks
    ));
    let mut dropped = Vec::new();
    let mut count = |n: usize, why: &str| {
        if n > 0 {
            dropped.push(format!("{n} {why}"));
        }
    };
    count(
        report.simultaneous_dropped,
        "below a higher note starting together (chord reduced to its top note)",
    );
    count(
        report.quantize_collisions_dropped,
        "quantised onto the previous note's step",
    );
    count(report.zero_length_dropped, "of zero length");
    count(report.drum_notes_ignored, "drum notes ignored (channel 10)");
    line(format!(
        "dropped:  {}",
        if dropped.is_empty() {
            "nothing".to_string()
        } else {
            dropped.join("; ")
        }
    ));
    let mut changed = Vec::new();
    if report.overlaps_cut > 0 {
        changed.push(format!(
            "{} notes cut short where the next began",
            report.overlaps_cut
        ));
    }
    if report.unmatched_note_offs > 0 {
        changed.push(format!(
            "{} note-offs without a note ignored",
            report.unmatched_note_offs
        ));
    }
    if report.unterminated_closed > 0 {
        changed.push(format!(
            "{} unended notes closed at the track's end",
            report.unterminated_closed
        ));
    }
    if !changed.is_empty() {
        line(format!("changed:  {}", changed.join("; ")));
    }
    let mut skipped = Vec::new();
    for (n, what) in [
        (report.decorations_skipped, "decorations"),
        (report.grace_notes_skipped, "grace-note groups"),
        (report.lyric_lines_skipped, "lyrics lines"),
        (report.annotations_skipped, "annotations"),
        (report.chord_symbols_unread, "chord symbols not read"),
        (report.other_voice_notes_skipped, "notes of other voices"),
    ] {
        if n > 0 {
            skipped.push(format!("{n} {what}"));
        }
    }
    if !skipped.is_empty() {
        line(format!("skipped:  {}", skipped.join("; ")));
    }
    if let Some(i) = info.filter(|i| !i.harmony.is_empty()) {
        let shown: Vec<String> = i
            .harmony
            .iter()
            .take(16)
            .map(|(step, chord)| format!("{step}:{chord}"))
            .collect();
        line(format!(
            "harmony:  {} chord symbols (step:chord{}) {}{}",
            i.harmony.len(),
            if i.transposed != 0 {
                ", transposed with the melody"
            } else {
                ""
            },
            shown.join(" "),
            if i.harmony.len() > shown.len() {
                " ..."
            } else {
                ""
            }
        ));
    }
    if let Some(i) = info {
        line(format!(
            "encoding: {} (MIDI {}..{}){}",
            args.encoding,
            args.encoding.min_pitch(),
            args.encoding.max_pitch(),
            if i.folded > 0 {
                format!("; {} notes outside it moved by octaves into it", i.folded)
            } else {
                String::new()
            }
        ));
    }
    let shown = (args.bars.saturating_mul(steps_per_bar)).min(melody.events.len());
    line(format!(
        "piano roll, first {} bar(s) ({shown} steps; # onset, = held, | bar line):",
        args.bars
    ));
    out.push_str(&pianoroll::render(
        &melody.events[..shown],
        args.encoding,
        steps_per_bar,
    ));
    out
}
