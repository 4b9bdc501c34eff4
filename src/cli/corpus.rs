//! `cadenza corpus`: n-gram models of a melody corpus, and what the corpus looks like.

mod import;

use super::melodies::{self, print_stdout, say, MelodySet, ReadOptions, Transpose};
use super::pianoroll::pitch_name;
use super::plot;
use anyhow::{bail, Context, Result};
use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::midi::ImportOptions;
use cadenza_reward::corpus::{held_out_report, NgramConfig, NgramModel, MAX_ORDER};
use clap::{Args, Subcommand};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Fit an n-gram model (interpolated Kneser–Ney) to melodies and save it as JSON.
    ///
    /// The model can then score melodies (`cadenza corpus eval`) or serve as a corpus reward.
    /// MIDI input is quantised to sixteenths and, for rl-tuner-38, transposed to C major / A
    /// minor. With --valid-fraction, that share of the files (drawn with --seed) is held out
    /// and the held-out fit is reported.
    ///
    /// Example: cadenza corpus fit --in corpus/dev --out model.json --order 4 --valid-fraction 0.1
    Fit(FitArgs),
    /// Evaluate a saved model on melodies: negative log-likelihood per event and perplexity.
    ///
    /// The model is an n-gram model (a JSON file) or, with `--features tch`, a policy
    /// directory: a behaviour-cloned prior (`cadenza train --agent bc`) or any
    /// policy-gradient run of the rl-tuner task, scored as a next-event model (the output
    /// adds `accuracy`).
    ///
    /// Example: cadenza corpus eval --model model.json --in melodies.json --json
    Eval(EvalArgs),
    /// Pitch, interval and note-length histograms and the range of a set of melodies.
    ///
    /// Pitches are the files' own by default (encoding range-0-127, no transposition). With
    /// --out, the histograms are also written as SVG plots (pitch.svg, interval.svg,
    /// length.svg).
    ///
    /// Example: cadenza corpus stats --in corpus/dev --out plots
    Stats(StatsArgs),
    /// Compare model orders on held-out melodies: NLL per event and perplexity per order.
    ///
    /// Files are split at random (--seed) into training and validation sets
    /// (--valid-fraction); one model per order is fitted on the first and scored on the
    /// second.
    ///
    /// Example: cadenza corpus orders --in corpus/dev --orders 1-6 --valid-fraction 0.2 --json
    Orders(OrdersArgs),
    /// Import a directory of MIDI files into a processed corpus that fit, eval and
    /// `train --agent bc` read.
    ///
    /// Each file is quantised (--steps-per-quarter), transposed to C major / A minor by its
    /// key signature or, without one, by Krumhansl–Schmuckler key finding, and encoded. Files
    /// that give no melody (not MIDI, corrupt, no notes, drums only) are skipped with their
    /// reason; the command fails only when no file is usable. OUT receives corpus.json (every
    /// melody, with per-file records), train.json and valid.json (the split by file, drawn
    /// as `fit --valid-fraction F --seed S` draws it), report.json (skips, quantisation,
    /// keys found and their agreement with the signatures) and pitch/interval/length plots.
    ///
    /// Example: cadenza corpus import --in corpus/dev --out corpus-dev --valid-fraction 0.2
    Import(ImportArgs),
}

/// Where melodies come from and how they become events.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Melodies: a directory of .mid files, a .mid file, or a JSON file of events.
    #[arg(long = "in", value_name = "DIR|FILE")]
    input: PathBuf,
    /// Event encoding of MIDI input: rl-tuner-38 or range-LOW-HIGH (e.g. range-55-88).
    #[arg(long, default_value = "rl-tuner-38", value_parser = melodies::parse_encoding)]
    encoding: EventEncoding,
    /// Transposition of MIDI input before encoding.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Steps per quarter note of the grid MIDI is quantised to.
    #[arg(long, value_name = "N", default_value_t = 4)]
    steps_per_quarter: u32,
}

impl InputArgs {
    fn read(&self) -> Result<MelodySet> {
        read(
            &self.input,
            self.encoding,
            self.transpose,
            self.steps_per_quarter,
        )
    }
}

fn read(
    input: &Path,
    encoding: EventEncoding,
    transpose: Transpose,
    steps_per_quarter: u32,
) -> Result<MelodySet> {
    if steps_per_quarter == 0 {
        bail!("--steps-per-quarter must be at least 1");
    }
    let options = ReadOptions {
        encoding: Some(encoding),
        transpose,
        import: ImportOptions {
            steps_per_quarter,
            ..ImportOptions::default()
        },
    };
    let set = melodies::read_melodies(input, &options)?;
    set.warn_skipped();
    Ok(set)
}

/// The melodies of `set` (read from `input`) as behaviour-cloning tunes, each with its bar
/// length: from the processed corpus when `input` is one, else from the MIDI file's meter,
/// else the task's.
#[cfg(feature = "tch")]
pub fn tunes_of(
    set: &super::melodies::MelodySet,
    input: &Path,
    task: &cadenza_env::TaskSpec,
) -> Result<Vec<cadenza_agents::pg::bc::Tune>> {
    let bars = processed_bar_lengths(input)?;
    Ok(set
        .melodies
        .iter()
        .enumerate()
        .map(|(i, m)| cadenza_agents::pg::bc::Tune {
            events: m.events.clone(),
            steps_per_bar: match (&bars, &m.midi) {
                (Some(bars), _) => bars[i],
                (None, Some(info)) => info.steps_per_bar(),
                (None, None) => task.setting.steps_per_bar(),
            },
        })
        .collect())
}

/// The bar length of each melody of a processed corpus (`cadenza corpus import`), in the
/// order the melody reader returns them; `None` when `input` is not a processed corpus file.
#[cfg(feature = "tch")]
fn processed_bar_lengths(input: &Path) -> Result<Option<Vec<usize>>> {
    if !input.is_file() {
        return Ok(None);
    }
    let Ok(text) = std::fs::read_to_string(input) else {
        return Ok(None);
    };
    use cadenza_reward::corpus::ProcessedCorpus;
    if !ProcessedCorpus::is_processed(&text) {
        return Ok(None);
    }
    let corpus = ProcessedCorpus::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    Ok(Some(corpus.files.iter().map(|f| f.steps_per_bar).collect()))
}

/// Model settings shared by `fit` and `orders`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Do not condition on the position in the bar.
    #[arg(long)]
    no_position: bool,
    /// Steps per bar for the position classes (16 = a 4/4 bar of sixteenths, as the rl-tuner
    /// task has; a corpus reward needs the task's value).
    #[arg(long, value_name = "N", default_value_t = 16)]
    steps_per_bar: usize,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// The model file to write (JSON).
    #[arg(long, value_name = "MODEL.json")]
    out: PathBuf,
    /// Order N: events are predicted from the last N-1 events (1..=8).
    #[arg(long, default_value_t = 3)]
    order: usize,
    /// Share of the files held out for validation, 0 <= F < 1.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    valid_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of sentences.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model written by `cadenza corpus fit`, or a policy run/checkpoint directory.
    #[arg(long, value_name = "MODEL.json|DIR")]
    model: PathBuf,
    /// Melodies: a directory of .mid files, a .mid file, or a JSON file of events in the
    /// model's encoding.
    #[arg(long = "in", value_name = "DIR|FILE")]
    input: PathBuf,
    /// Transposition of MIDI input (use what the model was fitted with).
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Steps per quarter note of the grid MIDI is quantised to.
    #[arg(long, value_name = "N", default_value_t = 4)]
    steps_per_quarter: u32,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Melodies: a directory of .mid files, a .mid file, or a JSON file of events.
    #[arg(long = "in", value_name = "DIR|FILE")]
    input: PathBuf,
    /// Event encoding of MIDI input (the default keeps every MIDI pitch).
    #[arg(long, default_value = "range-0-127", value_parser = melodies::parse_encoding)]
    encoding: EventEncoding,
    /// Transposition of MIDI input before encoding.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Steps per quarter note of the grid MIDI is quantised to.
    #[arg(long, value_name = "N", default_value_t = 4)]
    steps_per_quarter: u32,
    /// Print one JSON object instead of text bars.
    #[arg(long)]
    json: bool,
    /// Directory for SVG plots (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OrdersArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Orders to compare: a range such as 1-6, or one order.
    #[arg(long, default_value = "1-6", value_parser = parse_orders)]
    orders: (usize, usize),
    /// Share of the files held out for validation, 0 < F < 1.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    valid_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Directory to write the processed corpus to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Share of the files held out for validation, 0 <= F < 1.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    valid_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object (the report) instead of sentences.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: CorpusCommand) -> Result<()> {
    match cmd {
        CorpusCommand::Fit(args) => fit(args),
        CorpusCommand::Eval(args) => eval(args),
        CorpusCommand::Stats(args) => stats(args),
        CorpusCommand::Orders(args) => orders(args),
        CorpusCommand::Import(args) => import::import(args),
    }
}

fn parse_orders(text: &str) -> Result<(usize, usize), String> {
    let bad =
        || format!("expected orders such as '1-6' or '3' (each 1..={MAX_ORDER}), got '{text}'");
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
        ),
        None => {
            let n = text.trim().parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    if lo == 0 || lo > hi || hi > MAX_ORDER {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// Training and validation melodies.
type Split = (Vec<Vec<Event>>, Vec<Vec<Event>>);

/// Splits melodies (one per file) into training and validation sets: a seeded shuffle, then
/// `round(n * fraction)` melodies (at least one, and at least one left to train on) held out.
fn split(melodies: Vec<Vec<Event>>, fraction: f64, seed: u64) -> Result<Split> {
    let is_valid = held_out(melodies.len(), fraction, seed)?;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (melody, held_out) in melodies.into_iter().zip(is_valid) {
        if held_out {
            valid.push(melody);
        } else {
            train.push(melody);
        }
    }
    Ok((train, valid))
}

/// Which of `n` melodies (one per file) are held out: a seeded shuffle, then `round(n *
/// fraction)` of them (at least one, and at least one left to train on); none when `fraction`
/// is 0. The draw of `bc::split` too, so that every tool holds out the same files.
fn held_out(n: usize, fraction: f64, seed: u64) -> Result<Vec<bool>> {
    if !(0.0..1.0).contains(&fraction) {
        bail!("--valid-fraction must be at least 0 and below 1, got {fraction}");
    }
    if fraction == 0.0 {
        return Ok(vec![false; n]);
    }
    if n < 2 {
        bail!("a validation split needs at least 2 melodies, found {n}");
    }
    let valid_count = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut is_valid = vec![false; n];
    for &i in &order[..valid_count] {
        is_valid[i] = true;
    }
    Ok(is_valid)
}

fn fit(args: FitArgs) -> Result<()> {
    let mut text = String::new();
    let set = args.input.read()?;
    super::common::check_output_path(&args.out)?;
    let (train, valid) = split(set.events(), args.valid_fraction, args.seed)?;
    let config = NgramConfig {
        order: args.order,
        use_position: !args.model.no_position,
        ..NgramConfig::default()
    };
    let model = NgramModel::fit(config, set.encoding, args.model.steps_per_bar, &train)
        .context("cannot fit the model")?;
    model.save(&args.out)?;
    let held_out = if valid.is_empty() {
        None
    } else {
        Some(model.nll_per_event(&valid)?)
    };
    let train_events: usize = train.iter().map(Vec::len).sum();
    let valid_events: usize = valid.iter().map(Vec::len).sum();
    if args.json {
        let out = serde_json::json!({
            "model": args.out.display().to_string(),
            "encoding": set.encoding.to_string(),
            "order": args.order,
            "use_position": !args.model.no_position,
            "steps_per_bar": args.model.steps_per_bar,
            "train_melodies": train.len(),
            "train_events": train_events,
            "valid_melodies": valid.len(),
            "valid_events": valid_events,
            "valid_nll_per_event": held_out,
            "valid_perplexity": held_out.map(f64::exp),
        });
        say!(text, "{out}");
    } else {
        say!(
            text,
            "fitted an order-{} model ({}, {}) on {} melodies ({train_events} events); wrote {}",
            args.order,
            set.encoding,
            if args.model.no_position {
                "no position".to_string()
            } else {
                format!("position in a {}-step bar", args.model.steps_per_bar)
            },
            train.len(),
            args.out.display()
        );
        if let Some(nll) = held_out {
            say!(text,
                "held out: {} melodies ({valid_events} events), NLL {nll:.4} nats per event, perplexity {:.3}",
                valid.len(),
                nll.exp()
            );
        }
    }
    print_stdout(&text)
}

fn eval(args: EvalArgs) -> Result<()> {
    if args.model.is_dir() {
        return eval_policy(&args);
    }
    let mut text = String::new();
    let model = NgramModel::load(&args.model)?;
    let set = read(
        &args.input,
        model.encoding(),
        args.transpose,
        args.steps_per_quarter,
    )?;
    set.require_encoding(
        model.encoding(),
        &format!("the model {}", args.model.display()),
    )?;
    let events = set.events();
    let nll = model
        .nll_per_event(&events)
        .with_context(|| format!("cannot evaluate {}", args.input.display()))?;
    if args.json {
        let out = serde_json::json!({
            "model": args.model.display().to_string(),
            "encoding": set.encoding.to_string(),
            "order": model.order(),
            "melodies": events.len(),
            "events": set.num_events(),
            "nll_per_event": nll,
            "perplexity": nll.exp(),
        });
        say!(text, "{out}");
    } else {
        say!(text,
            "{} melodies ({} events): NLL {nll:.4} nats per event, perplexity {:.3} (order-{} model, {})",
            events.len(),
            set.num_events(),
            nll.exp(),
            model.order(),
            set.encoding
        );
    }
    print_stdout(&text)
}

/// `eval` of a policy directory: the network as a next-event model of the melodies.
#[cfg(feature = "tch")]
fn eval_policy(args: &EvalArgs) -> Result<()> {
    use cadenza_agents::pg::bc;
    let mut text = String::new();
    let task = cadenza_env::TaskSpec::rl_tuner();
    let set = read(
        &args.input,
        task.setting.encoding,
        args.transpose,
        args.steps_per_quarter,
    )?;
    set.require_encoding(
        task.setting.encoding,
        &format!("the policy {}", args.model.display()),
    )?;
    let tunes = tunes_of(&set, &args.input, &task)?;
    let report = bc::score_checkpoint(
        &args.model,
        &task,
        &tunes,
        cadenza_agents::pg::DeviceChoice::Cpu,
    )
    .with_context(|| format!("cannot evaluate {}", args.input.display()))?;
    if args.json {
        let out = serde_json::json!({
            "model": args.model.display().to_string(),
            "encoding": set.encoding.to_string(),
            "order": null,
            "melodies": report.melodies,
            "events": report.events,
            "nll_per_event": report.nll_per_event,
            "perplexity": report.perplexity,
            "accuracy": report.accuracy,
        });
        say!(text, "{out}");
    } else {
        say!(text,
            "{} melodies ({} events): NLL {:.4} nats per event, perplexity {:.3}, accuracy {:.1}% (policy {}, {})",
            report.melodies,
            report.events,
            report.nll_per_event,
            report.perplexity,
            100.0 * report.accuracy,
            args.model.display(),
            set.encoding
        );
    }
    print_stdout(&text)
}

#[cfg(not(feature = "tch"))]
fn eval_policy(args: &EvalArgs) -> Result<()> {
    bail!(
        "{} is a directory: scoring a policy as a next-event model needs `--features tch` \
         (an n-gram model is a .json file written by `cadenza corpus fit`)",
        args.model.display()
    )
}

fn orders(args: OrdersArgs) -> Result<()> {
    let mut text = String::new();
    let set = args.input.read()?;
    if !(args.valid_fraction > 0.0 && args.valid_fraction < 1.0) {
        bail!(
            "--valid-fraction must be above 0 and below 1, got {}",
            args.valid_fraction
        );
    }
    let (train, valid) = split(set.events(), args.valid_fraction, args.seed)?;
    let base = NgramConfig {
        use_position: !args.model.no_position,
        ..NgramConfig::default()
    };
    let (lo, hi) = args.orders;
    let bar = melodies::progress(hi - lo + 1, "orders");
    let mut reports = Vec::new();
    // One order at a time, so that the progress bar moves between fits.
    for order in lo..=hi {
        let mut report = held_out_report(
            &train,
            &valid,
            order..=order,
            &base,
            set.encoding,
            args.model.steps_per_bar,
        )?;
        reports.append(&mut report);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if args.json {
        let out = serde_json::json!({
            "input": args.input.input.display().to_string(),
            "encoding": set.encoding.to_string(),
            "use_position": !args.model.no_position,
            "steps_per_bar": args.model.steps_per_bar,
            "valid_fraction": args.valid_fraction,
            "seed": args.seed,
            "train_melodies": train.len(),
            "valid_melodies": valid.len(),
            "valid_events": valid.iter().map(Vec::len).sum::<usize>(),
            "orders": reports,
        });
        say!(text, "{out}");
    } else {
        say!(
            text,
            "{}: {} training and {} validation melodies, encoding {}, seed {}",
            args.input.input.display(),
            train.len(),
            valid.len(),
            set.encoding,
            args.seed
        );
        say!(text, "order  NLL/event  perplexity");
        for r in &reports {
            say!(
                text,
                "{:>5}  {:>9.4}  {:>10.3}",
                r.order,
                r.nll_per_event,
                r.perplexity
            );
        }
    }
    print_stdout(&text)
}

/// Histograms of a melody set.
#[derive(Debug, Default)]
struct Stats {
    melodies: usize,
    notes: usize,
    steps: usize,
    pitch: BTreeMap<i32, u64>,
    interval: BTreeMap<i32, u64>,
    length: BTreeMap<i32, u64>,
}

fn collect_stats(set: &MelodySet) -> Result<Stats> {
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

fn stats(args: StatsArgs) -> Result<()> {
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
fn plot_histograms(dir: &Path, stats: &Stats) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_parse() {
        assert_eq!(parse_orders("1-6"), Ok((1, 6)));
        assert_eq!(parse_orders("3"), Ok((3, 3)));
        assert!(parse_orders("0-2").is_err());
        assert!(parse_orders("5-2").is_err());
        assert!(parse_orders("x").is_err());
    }

    #[test]
    fn split_is_seeded_and_keeps_both_sides() {
        let melodies: Vec<Vec<Event>> = (0..10).map(|i| vec![i as Event]).collect();
        let (t1, v1) = split(melodies.clone(), 0.2, 7).unwrap();
        let (t2, v2) = split(melodies.clone(), 0.2, 7).unwrap();
        assert_eq!((t1.len(), v1.len()), (8, 2));
        assert_eq!((&t1, &v1), (&t2, &v2));
        let (t, v) = split(melodies, 0.01, 0).unwrap();
        assert_eq!((t.len(), v.len()), (9, 1));
        assert!(split(vec![vec![1]], 0.5, 0).is_err());
    }
}
