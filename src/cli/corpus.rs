//! `cadenza corpus`: n-gram models of a melody corpus, and what the corpus looks like.

mod import;
mod input;
mod split;
mod stats;

use import::ImportArgs;
use input::{read, InputArgs};
use split::split;
use stats::StatsArgs;

use super::melodies::{self, print_stdout, say, Transpose};
use anyhow::{bail, Context, Result};
use cadenza_reward::corpus::{held_out_report, NgramConfig, NgramModel, MAX_ORDER};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Fit a corpus model to melodies and save it as JSON: an n-gram model (interpolated
    /// Kneser–Ney), or with `--kind style` the chord-conditioned style prior.
    ///
    /// The n-gram model can then score melodies (`cadenza corpus eval`) or serve as a corpus
    /// reward (`[corpus]` in a reward definition). The style prior reads every note relative
    /// to the chord under it (estimated from the melody: one chord per half bar from the
    /// key's triads), the key and the last interval, so it serves any key and progression
    /// (`[style]` in a reward definition).
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
    /// Import a directory of MIDI and ABC files into a processed corpus that fit, eval and
    /// `train --agent bc` read.
    ///
    /// Each file (each tune of an ABC file) is quantised (--steps-per-quarter), transposed to
    /// C major / A minor by its key signature or, without one, by Krumhansl–Schmuckler key
    /// finding, and encoded; chord symbols (ABC quotes, a MIDI chord track) are kept as the
    /// melody's harmony. Files and tunes that give no melody (not a melody file, corrupt, no
    /// notes, drums only, an ABC syntax error) are skipped with their reason; the command
    /// fails only when nothing is usable. OUT receives corpus.json (every melody, with
    /// per-melody records and harmony), train.json and valid.json (the split by file, drawn
    /// as `fit --valid-fraction F --seed S` draws it), report.json (skips, quantisation,
    /// keys found and their agreement with the signatures) and pitch/interval/length plots.
    ///
    /// Example: cadenza corpus import --in corpus/dev --out corpus-dev --valid-fraction 0.2
    Import(ImportArgs),
}

/// The melodies of `set` (read from `input`) as behaviour-cloning tunes, each with its bar
/// length: from the processed corpus when `input` is one, else from the MIDI file's meter,
/// else the task's.
#[cfg(feature = "tch")]
pub fn tunes_of(
    set: &super::melodies::MelodySet,
    input: &std::path::Path,
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
fn processed_bar_lengths(input: &std::path::Path) -> Result<Option<Vec<usize>>> {
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
    /// The kind of model: `ngram` (events from the last N-1 events, for rl-tuner's corpus
    /// term) or `style` (over the harmony, in each file's own key and meter, for the
    /// improvisation tasks' style term; --order and the position flags do not apply).
    #[arg(long, value_enum, default_value_t = ModelKind::Ngram)]
    kind: ModelKind,
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

/// The kinds of model `corpus fit` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// Variable-order Markov model over events.
    Ngram,
    /// Chord-conditioned style prior.
    Style,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model written by `cadenza corpus fit`, or a policy run/checkpoint directory.
    #[arg(long, value_name = "MODEL.json|DIR")]
    model: PathBuf,
    /// Melodies: a directory of .mid and .abc files, a .mid or .abc file, or a JSON file of events in the
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

pub fn run(cmd: CorpusCommand) -> Result<()> {
    match cmd {
        CorpusCommand::Fit(args) => fit(args),
        CorpusCommand::Eval(args) => eval(args),
        CorpusCommand::Stats(args) => stats::stats(args),
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

fn fit(args: FitArgs) -> Result<()> {
    let mut text = String::new();
    let set = args.input.read()?;
    super::common::check_output_path(&args.out)?;
    if args.kind == ModelKind::Style {
        return fit_style(&args, &set);
    }
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

/// `fit --kind style`: each melody in its own meter and key, chords estimated.
fn fit_style(args: &FitArgs, set: &melodies::MelodySet) -> Result<()> {
    use cadenza_reward::style::StyleModel;
    let mut text = String::new();
    let is_valid = split::held_out(set.melodies.len(), args.valid_fraction, args.seed)?;
    let examples: Vec<(cadenza_env::Setting, &[cadenza_env::Event])> = set
        .melodies
        .iter()
        .map(|m| (m.setting(set.encoding), m.events.as_slice()))
        .collect();
    let side = |valid: bool| {
        examples
            .iter()
            .zip(&is_valid)
            .filter(move |(_, &v)| v == valid)
            .map(|((s, m), _)| (s, *m))
    };
    let model = StyleModel::fit(side(false)).context("cannot fit the style model")?;
    model.save(&args.out)?;
    let (train_melodies, train_events) = model.training_size();
    let valid_melodies = is_valid.iter().filter(|&&v| v).count();
    let held_out = if valid_melodies == 0 {
        None
    } else {
        Some(model.nll_per_event(side(true))?)
    };
    if args.json {
        let out = serde_json::json!({
            "model": args.out.display().to_string(),
            "kind": "style",
            "encoding": set.encoding.to_string(),
            "train_melodies": train_melodies,
            "train_events": train_events,
            "valid_melodies": valid_melodies,
            "valid_nll_per_event": held_out,
            "valid_perplexity": held_out.map(f64::exp),
        });
        say!(text, "{out}");
    } else {
        say!(
            text,
            "fitted a style prior ({}, chords estimated per half bar) on {train_melodies} melodies ({train_events} events); wrote {}",
            set.encoding,
            args.out.display()
        );
        if let Some(nll) = held_out {
            say!(text,
                "held out: {valid_melodies} melodies, NLL {nll:.4} nats per event, perplexity {:.3}",
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
}
