//! `cadenza corpus import`: a directory of MIDI and ABC files to a processed corpus
//! ([`ProcessedCorpus`]) with a report of what happened to every file and tune.

use super::input::InputArgs;
use super::split::held_out;
use super::stats::{collect_stats, plot_histograms, Stats};
use crate::cli::melodies::{
    self, print_stdout, read_tunes, say, Melody, MelodySet, ReadOptions, Skipped, Transpose,
};
use anyhow::{bail, Context, Result};
use cadenza_env::formats::Format;
use cadenza_env::midi::{ImportOptions, ImportedMelody};
use cadenza_reward::corpus::{
    find_key, Key, KeySource, ProcessedCorpus, ProcessedFile, Quantisation, SplitSide,
    PROCESSED_FORMAT, PROCESSED_VERSION,
};
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// Directory to write the processed corpus to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Share of the files held out for validation, 0 <= F < 1.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    pub(super) valid_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,
    /// Print one JSON object (the report) instead of sentences.
    #[arg(long)]
    pub(super) json: bool,
}

/// The files the command writes into `--out`.
pub const CORPUS_FILE: &str = "corpus.json";
/// Training melodies only.
pub const TRAIN_FILE: &str = "train.json";
/// Validation melodies only.
pub const VALID_FILE: &str = "valid.json";
/// The import report.
pub const REPORT_FILE: &str = "report.json";

/// A file that gave a melody, before the split.
struct Accepted {
    melody: Melody,
    record: ProcessedFile,
}

/// A skipped file or tune: its short category (for the counts) and the full reason.
struct Rejected {
    skipped: Skipped,
    category: String,
}

pub(super) fn import(args: ImportArgs) -> Result<()> {
    let input = &args.input.input;
    if !input.is_dir() {
        bail!(
            "--in {}: expected a directory of melody files ({}), {}",
            input.display(),
            Format::readable_extensions(),
            if input.exists() {
                "found a file"
            } else {
                "found nothing there"
            }
        );
    }
    if args.input.steps_per_quarter == 0 {
        bail!("--steps-per-quarter must be at least 1");
    }
    if !(0.0..1.0).contains(&args.valid_fraction) {
        bail!(
            "--valid-fraction must be at least 0 and below 1, got {}",
            args.valid_fraction
        );
    }
    if args.out.is_file() {
        bail!(
            "--out {} is a file; expected a directory",
            args.out.display()
        );
    }
    let encoding = args.input.encoding;
    let options = ImportOptions {
        steps_per_quarter: args.input.steps_per_quarter,
        ..ImportOptions::default()
    };

    let (accepted, rejected, seen) = read_directory(input, &options, &args)?;
    if accepted.is_empty() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rejected {
            *counts.entry(r.category.as_str()).or_default() += 1;
        }
        let detail = rejected
            .iter()
            .take(5)
            .map(|r| format!("\n  {}: {}", r.skipped.path.display(), r.skipped.reason))
            .collect::<String>();
        bail!(
            "no usable melodies in {} ({seen} entries; skipped: {}){detail}",
            input.display(),
            if counts.is_empty() {
                "none, the directory is empty".to_string()
            } else {
                counts
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }

    let is_valid = if accepted.len() < 2 && args.valid_fraction > 0.0 {
        // One melody cannot be split; keep it for training and say so in the report.
        vec![false; accepted.len()]
    } else {
        held_out(accepted.len(), args.valid_fraction, args.seed)?
    };
    let mut melodies = Vec::with_capacity(accepted.len());
    let mut files = Vec::with_capacity(accepted.len());
    let mut set = MelodySet {
        encoding,
        melodies: Vec::with_capacity(accepted.len()),
        skipped: Vec::new(),
    };
    for (a, valid) in accepted.into_iter().zip(is_valid) {
        let mut record = a.record;
        record.split = if valid {
            SplitSide::Valid
        } else {
            SplitSide::Train
        };
        melodies.push(a.melody.events.clone());
        files.push(record);
        set.melodies.push(a.melody);
    }
    let corpus = ProcessedCorpus {
        format: PROCESSED_FORMAT.to_string(),
        version: PROCESSED_VERSION,
        encoding,
        steps_per_quarter: args.input.steps_per_quarter,
        valid_fraction: args.valid_fraction,
        split_seed: args.seed,
        melodies,
        files,
    };
    corpus
        .validate()
        .map_err(|e| anyhow::anyhow!("internal error: the processed corpus is invalid: {e}"))?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out {}", args.out.display()))?;
    corpus.save(args.out.join(CORPUS_FILE))?;
    let train = corpus.subset(SplitSide::Train);
    let valid = corpus.subset(SplitSide::Valid);
    train.save(args.out.join(TRAIN_FILE))?;
    if !valid.melodies.is_empty() {
        valid.save(args.out.join(VALID_FILE))?;
    } else {
        // A stale file from an earlier import would be mistaken for this one's.
        let _ = std::fs::remove_file(args.out.join(VALID_FILE));
    }

    let stats = collect_stats(&set)?;
    plot_histograms(&args.out, &stats)?;

    let report = report_json(&args, &corpus, &rejected, seen, &stats);
    let path = args.out.join(REPORT_FILE);
    cadenza_env::io::write_atomic(
        &path,
        format!("{}\n", serde_json::to_string_pretty(&report)?).as_bytes(),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;

    let mut text = String::new();
    if args.json {
        say!(text, "{report}");
        return print_stdout(&text);
    }
    say!(
        text,
        "imported {} melodies from {} ({} entries, {} skipped): {} train, {} valid (seed {}); \
         encoding {}, {} steps per quarter",
        corpus.melodies.len(),
        input.display(),
        seen,
        rejected.len(),
        train.melodies.len(),
        valid.melodies.len(),
        args.seed,
        encoding,
        args.input.steps_per_quarter
    );
    for r in &rejected {
        say!(
            text,
            "  skipped {}: {}",
            r.skipped.path.display(),
            r.skipped.reason
        );
    }
    if !rejected.is_empty() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rejected {
            *counts.entry(r.category.as_str()).or_default() += 1;
        }
        let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        say!(
            text,
            "skipped by reason: {}",
            counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    say!(
        text,
        "harmony: {} of {} melodies carry chord symbols",
        report["with_harmony"],
        corpus.melodies.len()
    );
    let keys = &report["keys"];
    // The agreements are shares of the files with a signature: none without one.
    let agreement = match (
        keys["exact_agreement"].as_f64(),
        keys["signature_agreement"].as_f64(),
    ) {
        (Some(exact), Some(signature)) => format!(
            "where a signature exists, key finding names the same key in {:.1}% and the same \
             signature (or its relative key) in {:.1}%",
            100.0 * exact,
            100.0 * signature
        ),
        _ => "no file has a key signature to check key finding against".to_string(),
    };
    say!(
        text,
        "keys: {} files with a key signature, {} transposed by Krumhansl–Schmuckler key finding; \
         {agreement}",
        keys["with_signature"],
        keys["transposed_by_key_finding"],
    );
    let q = &report["quantisation"];
    say!(
        text,
        "quantisation: {:.1}% of onsets moved onto the grid, largest move {:.3} steps, {} notes dropped",
        100.0 * q["moved_onset_fraction"].as_f64().unwrap_or(0.0),
        q["max_shift_steps"].as_f64().unwrap_or(0.0),
        q["notes_dropped"]
    );
    say!(
        text,
        "{} notes, {} steps, pitches {}..{} (MIDI); plots pitch.svg, interval.svg, length.svg",
        stats.notes,
        stats.steps,
        stats.pitch.keys().next().copied().unwrap_or(0),
        stats.pitch.keys().next_back().copied().unwrap_or(0)
    );
    say!(
        text,
        "wrote {} ({CORPUS_FILE}, {TRAIN_FILE}{}, {REPORT_FILE}); `cadenza corpus stats --in {}` \
         prints the histograms",
        args.out.display(),
        if valid.melodies.is_empty() {
            String::new()
        } else {
            format!(", {VALID_FILE}")
        },
        args.out.join(CORPUS_FILE).display()
    );
    print_stdout(&text)
}

/// Every entry of `dir` in file-name order: melodies (one per tune), skipped files and tunes,
/// and the entry count.
fn read_directory(
    dir: &Path,
    options: &ImportOptions,
    args: &ImportArgs,
) -> Result<(Vec<Accepted>, Vec<Rejected>, usize)> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list directory {}", dir.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list directory {}", dir.display()))?;
        paths.push(entry.path());
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let seen = paths.len();
    let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
    let bar = melodies::progress(paths.len(), "files");
    let read = ReadOptions {
        encoding: Some(args.input.encoding),
        transpose: args.input.transpose,
        import: options.clone(),
    };
    for path in paths {
        bar.inc(1);
        let reject = |category: String, reason: String| Rejected {
            skipped: Skipped {
                path: path.clone(),
                reason,
            },
            category,
        };
        match import_file(&path, &read, args) {
            Err((category, reason)) => rejected.push(reject(category, reason)),
            Ok(tunes) => {
                for tune in tunes {
                    match tune {
                        Ok(a) => accepted.push(a),
                        Err((category, reason)) => rejected.push(reject(category, reason)),
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok((accepted, rejected, seen))
}

/// A tune that gave a melody, or the category and reason it was skipped.
type TuneResult = std::result::Result<Accepted, (String, String)>;

/// One file to its tunes (one for MIDI, every tune of an ABC file), or the category and
/// reason the whole file was skipped.
fn import_file(
    path: &Path,
    read: &ReadOptions,
    args: &ImportArgs,
) -> std::result::Result<Vec<TuneResult>, (String, String)> {
    if path.is_dir() {
        return Err((
            "directories".into(),
            "a directory (subdirectories are not searched)".into(),
        ));
    }
    if let Some(reason) = melodies::not_regular(path) {
        return Err(("not regular files".into(), reason));
    }
    let Some(format) = Format::from_path(path).filter(|f| f.can_read()) else {
        return Err((
            "not a melody file".into(),
            format!(
                "not a melody file (expected {})",
                Format::readable_extensions()
            ),
        ));
    };
    let tunes = read_tunes(path, format, read)?;
    let encoding = args.input.encoding;
    Ok(tunes
        .into_iter()
        .map(|tune| {
            let (imported, melody) = tune.result?;
            let record = record_of(
                &imported,
                &melody,
                tune.source,
                args.input.transpose,
                encoding,
            );
            Ok(Accepted { melody, record })
        })
        .collect())
}

fn record_of(
    imported: &ImportedMelody,
    melody: &Melody,
    file: String,
    transpose: Transpose,
    encoding: cadenza_env::encoding::EventEncoding,
) -> ProcessedFile {
    let info = melody.midi.as_ref();
    let key_source = match transpose.resolve(encoding) {
        Transpose::ToC if imported.key_signature.is_some() => KeySource::Signature,
        Transpose::ToC if melodies::key_for_transposition(imported).is_some() => {
            KeySource::KrumhanslSchmuckler
        }
        _ => KeySource::None,
    };
    let r = &imported.report;
    ProcessedFile {
        file,
        title: imported.title.clone(),
        split: SplitSide::Train,
        steps_per_bar: info.map_or(16, |i| i.steps_per_bar()),
        time_signature: imported.time_signature.map(|(n, d)| [n, d]),
        key_signature: imported
            .key_signature
            .map(|k| Key::of_signature(k).to_string()),
        key_found: find_key(&imported.notes),
        key_source,
        transposed: info.map_or(0, |i| i.transposed),
        folded: info.map_or(0, |i| i.folded),
        notes: imported.notes.len(),
        harmony: info.map_or_else(Vec::new, |i| i.harmony.clone()),
        quantisation: Quantisation {
            max_shift_ticks: r.max_shift_ticks,
            mean_shift_ticks: r.mean_shift_ticks,
            ticks_per_quarter: imported.ticks_per_quarter,
            moved_onset_fraction: r.moved_onset_fraction,
            notes_dropped: r.dropped(),
        },
    }
}

/// The summary written to report.json.
fn report_json(
    args: &ImportArgs,
    corpus: &ProcessedCorpus,
    rejected: &[Rejected],
    seen: usize,
    stats: &Stats,
) -> serde_json::Value {
    let mut skip_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rejected {
        *skip_counts.entry(r.category.as_str()).or_default() += 1;
    }
    let files = &corpus.files;
    let with_signature: Vec<&ProcessedFile> =
        files.iter().filter(|f| f.key_signature.is_some()).collect();
    let (mut exact, mut same_signature) = (0usize, 0usize);
    for f in &with_signature {
        if let (Some(sig), Some(found)) = (&f.key_signature, &f.key_found) {
            if *sig == found.key.to_string() {
                exact += 1;
            }
            if signature_of_name(sig) == Some(found.key.sharps()) {
                same_signature += 1;
            }
        }
    }
    let share = |k: usize| {
        if with_signature.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(k as f64 / with_signature.len() as f64)
        }
    };
    let spq = f64::from(corpus.steps_per_quarter);
    let steps = |ticks: f64, f: &ProcessedFile| {
        ticks * spq / f64::from(f.quantisation.ticks_per_quarter.max(1))
    };
    let n = files.len().max(1) as f64;
    serde_json::json!({
        "input": args.input.input.display().to_string(),
        "out": args.out.display().to_string(),
        "encoding": corpus.encoding.to_string(),
        "steps_per_quarter": corpus.steps_per_quarter,
        "entries": seen,
        "melodies": files.len(),
        "with_harmony": files.iter().filter(|f| !f.harmony.is_empty()).count(),
        "skipped": rejected.iter().map(|r| serde_json::json!({
            "file": r.skipped.path.display().to_string(),
            "category": r.category,
            "reason": r.skipped.reason,
        })).collect::<Vec<_>>(),
        "skip_counts": skip_counts,
        "split": {
            "valid_fraction": corpus.valid_fraction,
            "seed": corpus.split_seed,
            "train": files.iter().filter(|f| f.split == SplitSide::Train).count(),
            "valid": files.iter().filter(|f| f.split == SplitSide::Valid).count(),
        },
        "quantisation": {
            "moved_onset_fraction": files.iter().map(|f| f.quantisation.moved_onset_fraction).sum::<f64>() / n,
            "files_with_moved_onsets": files.iter().filter(|f| f.quantisation.moved_onset_fraction > 0.0).count(),
            "max_shift_steps": files.iter().map(|f| steps(f.quantisation.max_shift_ticks, f)).fold(0.0, f64::max),
            "mean_shift_steps": files.iter().map(|f| steps(f.quantisation.mean_shift_ticks, f)).sum::<f64>() / n,
            "notes_dropped": files.iter().map(|f| f.quantisation.notes_dropped).sum::<usize>(),
        },
        "keys": {
            "with_signature": with_signature.len(),
            "transposed_by_key_finding": files.iter().filter(|f| f.key_source == KeySource::KrumhanslSchmuckler).count(),
            "not_transposed_by_key": files.iter().filter(|f| f.key_source == KeySource::None).count(),
            "exact_agreement": share(exact),
            "signature_agreement": share(same_signature),
            "signatures": count_by(with_signature.iter().filter_map(|f| f.key_signature.clone())),
            "found": count_by(files.iter().filter_map(|f| f.key_found.map(|k| k.key.to_string()))),
        },
        "stats": {
            "notes": stats.notes,
            "steps": stats.steps,
            "pitch_min": stats.pitch.keys().next(),
            "pitch_max": stats.pitch.keys().next_back(),
            "pitch": stats.pitch,
            "interval": stats.interval,
            "length": stats.length,
        },
        "files": files,
    })
}

fn count_by(names: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// The sharps of a key named as [`Key`]'s `Display` writes it ("G major", "Eb minor").
fn signature_of_name(name: &str) -> Option<i8> {
    (0..12u8)
        .flat_map(|tonic| [false, true].map(|minor| Key { tonic, minor }))
        .find(|k| k.to_string() == name)
        .map(Key::sharps)
}
