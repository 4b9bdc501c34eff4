//! `cadenza rewards`: benchmarking reward terms on a corpus (the logic lives in
//! `cadenza_reward::bench`; this file reads the corpus, trains the optional outcome agents
//! and writes the report and plots).

use super::melodies::{self, ReadOptions, Transpose};
use anyhow::{bail, Context, Result};
use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
use cadenza_agents::train::evaluate;
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::bench::{self, Bench, BenchConfig, BenchReport, Skipped};
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::registry;
use clap::{Args, Subcommand};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum RewardsCommand {
    /// Benchmark reward terms on a corpus: speed, how well each term tells real melodies from
    /// corrupted ones (ROC AUC with bootstrap intervals), and how the terms agree.
    ///
    /// Every term of every reward given is scored on the corpus melodies (transposed to C
    /// major / A minor, whole melodies up to --max-steps steps) and on corrupted versions of
    /// them: random notes, shuffled bars, reversed, a random walk, repeated notes,
    /// transposed by a tritone or a semitone, flattened rhythm. With --train, a tabular
    /// Q-learning agent is trained on each preset for the same budget and Magenta's
    /// evaluation metrics of what it plays are compared.
    ///
    /// Example: cadenza rewards bench --corpus corpus/dev --out bench-report
    Bench(RewardsBench),
}

#[derive(Debug, Args)]
pub struct RewardsBench {
    /// A preset (rl-tuner, improv, in-scale, zero), a single term (key, leap_recovery, ...)
    /// or a .toml reward definition; repeat for several. Default: every built-in preset.
    #[arg(long = "reward")]
    rewards: Vec<String>,
    /// Directory of .mid files (or one file / a JSON file of melodies).
    #[arg(long)]
    corpus: PathBuf,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Write report.md, report.json and SVG plots into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train a tabular Q-learning agent on each preset for this many env steps and compare
    /// Magenta's evaluation metrics of its melodies.
    #[arg(long, value_name = "BUDGET")]
    train: Option<u64>,
    /// Seed of the corruptions, the bootstrap and training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use only the first N melodies of the corpus.
    #[arg(long)]
    max_melodies: Option<usize>,
    /// Cut melodies longer than this many steps.
    #[arg(long, default_value_t = 2048)]
    max_steps: usize,
    /// Bootstrap resamples per AUC interval.
    #[arg(long, default_value_t = 200)]
    resamples: usize,
    /// Timed passes per reward (the median is reported).
    #[arg(long, default_value_t = 5)]
    timing_runs: usize,
    /// Evaluation episodes per trained agent (with --train).
    #[arg(long, default_value_t = 200)]
    eval_episodes: usize,
}

pub fn run(cmd: RewardsCommand) -> Result<()> {
    match cmd {
        RewardsCommand::Bench(args) => bench_rewards(args),
    }
}

/// One preset's trained agent, judged by Magenta's metrics.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    reward: String,
    steps: u64,
    /// Melodies sampled for the evaluation.
    episodes: usize,
    /// Mean return of the sampled melodies under the preset's own reward.
    return_mean: f64,
    /// Distinct melodies among the sampled ones.
    distinct: usize,
    /// Mean return of the sampled melodies under Magenta's reward (the common yardstick).
    rl_tuner_return: f64,
    metrics: BTreeMap<String, f64>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a BenchReport,
    corpus: String,
    skipped_files: Vec<Skipped>,
    skipped_rewards: Vec<Skipped>,
    outcome: Option<Vec<Outcome>>,
    outcome_skipped: Vec<Skipped>,
    wall_s: f64,
}

fn bench_rewards(args: RewardsBench) -> Result<()> {
    let started = Instant::now();
    let config = BenchConfig {
        seed: args.seed,
        resamples: args.resamples,
        timing_runs: args.timing_runs,
        max_steps: args.max_steps,
        max_melodies: args.max_melodies,
        ..BenchConfig::default()
    };

    // Rewards first: a bad name is reported and the rest go on.
    let mut bench = Bench::new(config)?;
    let specs: Vec<String> = if args.rewards.is_empty() {
        registry::PRESET_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        args.rewards.clone()
    };
    let mut skipped_rewards = Vec::new();
    for spec in &specs {
        if let Err(e) = bench.add_reward(spec) {
            eprintln!("skipped reward {spec}: {e}");
            skipped_rewards.push(Skipped {
                item: spec.clone(),
                reason: e.to_string(),
            });
        }
    }
    if bench.term_names().is_empty() {
        bail!("no usable reward among {}", specs.join(", "));
    }

    let set = melodies::read_melodies(
        &args.corpus,
        &ReadOptions {
            encoding: Some(bench::ENCODING),
            transpose: Transpose::ToC,
            ..ReadOptions::default()
        },
    )
    .with_context(|| format!("corpus {}", args.corpus.display()))?;
    set.warn_skipped();
    set.require_encoding(bench::ENCODING, "the reward bench")?;
    let skipped_files: Vec<Skipped> = set
        .skipped
        .iter()
        .map(|s| Skipped {
            item: s.path.display().to_string(),
            reason: s.reason.clone(),
        })
        .collect();
    let corpus: Vec<bench::Melody> = set
        .melodies
        .into_iter()
        .map(|m| {
            let meter = m
                .midi
                .as_ref()
                .and_then(|i| i.time_signature)
                .unwrap_or((4, 4));
            let minor = m
                .midi
                .as_ref()
                .and_then(|i| i.key_after)
                .is_some_and(|k| k.minor);
            let spq = m.midi.as_ref().map_or(4, |i| i.steps_per_quarter);
            bench::Melody {
                name: m.source,
                events: m.events,
                meter,
                minor,
                steps_per_quarter: spq,
            }
        })
        .collect();

    let report = bench.run(&corpus)?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.item, s.reason);
    }

    let mut outcome_skipped = Vec::new();
    let outcome = match args.train {
        Some(budget) => {
            let presets: Vec<&String> = specs
                .iter()
                .filter(|s| {
                    !skipped_rewards.iter().any(|k| &k.item == *s)
                        && (registry::PRESET_NAMES.contains(&s.as_str()) || s.ends_with(".toml"))
                })
                .collect();
            if presets.is_empty() {
                eprintln!(
                    "--train: no preset or reward definition among the rewards; nothing trained"
                );
            }
            let results: Vec<(String, Result<Outcome>)> = presets
                .par_iter()
                .map(|spec| {
                    let r = train_outcome(spec, budget, args.seed, args.eval_episodes);
                    (spec.to_string(), r)
                })
                .collect();
            let mut out = Vec::new();
            for (spec, r) in results {
                match r {
                    Ok(o) => out.push(o),
                    Err(e) => {
                        eprintln!("skipped training on {spec}: {e:#}");
                        outcome_skipped.push(Skipped {
                            item: spec,
                            reason: format!("{e:#}"),
                        });
                    }
                }
            }
            Some(out)
        }
        None => None,
    };

    let output = Output {
        report: &report,
        corpus: args.corpus.display().to_string(),
        skipped_files,
        skipped_rewards,
        outcome,
        outcome_skipped,
        wall_s: started.elapsed().as_secs_f64(),
    };
    if let Some(dir) = &args.out {
        write_report(dir, &output)?;
        if !args.json {
            eprintln!("wrote {}", dir.join("report.md").display());
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&output)?;
        melodies::print_stdout(&(text + "\n"))?;
    } else {
        melodies::print_stdout(&summary(&output))?;
    }
    Ok(())
}

/// Softmax temperature of the evaluation: Q-values differ by fractions of a reward, so at
/// temperature 1 every agent samples almost uniformly and the presets look alike; 0.1 plays
/// what each agent learned while still giving varied melodies.
const EVAL_TEMPERATURE: f64 = 0.1;

/// Trains tabular Q-learning on the rl-tuner task with `spec` as the reward, then samples
/// `episodes` melodies and scores them with Magenta's metrics and reward.
fn train_outcome(spec: &str, budget: u64, seed: u64, episodes: usize) -> Result<Outcome> {
    let started = Instant::now();
    let task = TaskSpec::rl_tuner();
    let make = || -> Result<TrainEnv> {
        Ok(ComposeEnv::new(
            task.clone(),
            registry::load(Some(spec), "rl-tuner")?,
        ))
    };
    let mut envs = VecEnv::new(vec![make()?], 1)?;
    envs.reset(Some(seed))?;
    let num_actions = task.setting.encoding.num_events();
    let mut agent = TabularAgent::new(
        Algorithm::QLearning,
        TabularConfig::default(),
        "rl-tuner",
        num_actions,
        budget.max(1),
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut done = 0;
    while done < budget {
        let chunk = (budget - done).min(65_536);
        let stats = agent.learn(&mut envs, chunk, &mut rng)?;
        done += stats.steps.max(1);
    }
    let mut eval_env = make()?;
    let eval = evaluate(
        &mut agent,
        &mut eval_env,
        episodes.max(1),
        seed.wrapping_add(1_000_000),
        ActMode::Sample {
            temperature: EVAL_TEMPERATURE,
        },
    )?;
    let mut metrics = RlTunerMetrics::new();
    let mut magenta = cadenza_reward::rl_tuner::RlTunerReward::default();
    let mut terms = [0.0; cadenza_reward::rl_tuner::NUM_TERMS];
    let mut rl_total = 0.0;
    for melody in &eval.melodies {
        metrics.add_composition(melody);
        magenta.reset_composition();
        rl_total += melody
            .iter()
            .map(|&e| magenta.score_event(e, &mut terms))
            .sum::<f64>();
    }
    Ok(Outcome {
        reward: spec.to_string(),
        steps: done,
        episodes: eval.melodies.len(),
        return_mean: eval.mean,
        distinct: eval.distinct(),
        rl_tuner_return: rl_total / eval.melodies.len().max(1) as f64,
        metrics: metrics.report(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |a| format!("{a:.2}"))
}

/// The plain-text table printed without --json.
fn summary(out: &Output<'_>) -> String {
    let r = out.report;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} melodies, {} steps, {} terms, {:.1} s",
        r.melodies,
        r.steps,
        r.terms.len(),
        out.wall_s
    );
    let _ = write!(s, "{:<28} {:>9}", "term", "ns/step");
    for c in &r.corruptions {
        let _ = write!(s, " {:>8}", abbreviate(&c.name));
    }
    let _ = writeln!(s, "  pass");
    for t in &r.terms {
        let _ = write!(s, "{:<28} {:>9.1}", t.name, t.ns_per_step);
        for c in &r.corruptions {
            let a = fmt_opt(t.auc.get(&c.name).copied().flatten());
            let mark = if t.meant_to_detect.contains(&c.name) {
                "*"
            } else {
                " "
            };
            let _ = write!(s, " {:>7}{mark}", a);
        }
        let _ = writeln!(s, "  {}", if t.passed() { "yes" } else { "NO" });
    }
    let _ = writeln!(
        s,
        "(* = meant to detect; AUC > 0.5 prefers the real melodies)"
    );
    for f in &r.failures {
        let _ = writeln!(s, "FAIL {} on {}: {}", f.term, f.corruption, f.reason);
    }
    if let Some(outcome) = &out.outcome {
        s.push_str(&outcome_table(outcome, false));
    }
    s
}

fn abbreviate(name: &str) -> String {
    name.chars().take(8).collect()
}

const OUTCOME_METRICS: &[&str] = &[
    "percent_notes_not_in_key",
    "percent_compositions_starting_with_tonic",
    "percent_notes_excessively_repeated",
    "percent_notes_in_motif",
    "percent_notes_in_repeated_motif",
    "percent_leaps_resolved",
    "percent_compositions_unique_highest_note",
    "percent_compositions_unique_lowest_note",
    "mean_autocorrelation_lag1",
];

/// The outcome side by side: one column per preset.
fn outcome_table(outcome: &[Outcome], markdown: bool) -> String {
    let mut s = String::new();
    if outcome.is_empty() {
        return s;
    }
    let sep = if markdown { " | " } else { "  " };
    let mut row = |label: &str, cells: Vec<String>| {
        if markdown {
            let _ = writeln!(s, "| {label} | {} |", cells.join(sep));
        } else {
            let _ = write!(s, "{label:<44}");
            for c in cells {
                let _ = write!(s, "{c:>12}");
            }
            let _ = writeln!(s);
        }
    };
    row(
        "metric (tabular Q-learning, rl-tuner task)",
        outcome.iter().map(|o| o.reward.clone()).collect(),
    );
    if markdown {
        row("---", outcome.iter().map(|_| "---:".to_string()).collect());
    }
    row(
        "steps trained",
        outcome.iter().map(|o| o.steps.to_string()).collect(),
    );
    row(
        "return under its own reward",
        outcome
            .iter()
            .map(|o| format!("{:.2}", o.return_mean))
            .collect(),
    );
    row(
        "return under Magenta's reward",
        outcome
            .iter()
            .map(|o| format!("{:.2}", o.rl_tuner_return))
            .collect(),
    );
    row(
        "distinct melodies",
        outcome.iter().map(|o| o.distinct.to_string()).collect(),
    );
    for m in OUTCOME_METRICS {
        row(
            m,
            outcome
                .iter()
                .map(|o| {
                    o.metrics
                        .get(*m)
                        .filter(|v| v.is_finite())
                        .map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
                })
                .collect(),
        );
    }
    s
}

fn write_report(dir: &Path, out: &Output<'_>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let r = out.report;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(out)?)
        .with_context(|| format!("cannot write {}", dir.join("report.json").display()))?;
    // A plot that fails (say, a font problem) must not lose the report itself.
    let mut plot_errors = Vec::new();
    if let Err(e) = plot_auc(&dir.join("auc.svg"), r) {
        plot_errors.push(format!("auc.svg: {e:#}"));
    }
    if let Err(e) = plot_correlation(&dir.join("correlation.svg"), r) {
        plot_errors.push(format!("correlation.svg: {e:#}"));
    }
    if let Some(outcome) = out.outcome.as_deref().filter(|o| !o.is_empty()) {
        if let Err(e) = plot_outcome(&dir.join("outcome.svg"), outcome) {
            plot_errors.push(format!("outcome.svg: {e:#}"));
        }
    }
    for e in &plot_errors {
        eprintln!("plot failed: {e}");
    }

    let mut md = String::new();
    let _ = writeln!(md, "# Reward bench\n");
    let _ = writeln!(
        md,
        "Corpus `{}`: {} melodies, {} steps (whole melodies up to {} steps, transposed to C major / A minor, \
         sixteenth-note grid). Seed {}, {} bootstrap resamples, {} timed passes. Took {:.1} s.\n",
        out.corpus,
        r.melodies,
        r.steps,
        r.config.max_steps,
        r.config.seed,
        r.config.resamples,
        r.config.timing_runs,
        out.wall_s
    );
    let _ = writeln!(
        md,
        "**Scores.** A melody's score under a term is the term's mean reward per step. RL Tuner terms \
         are scored in Magenta's setting (the reward restarts every 32 steps); improvisation terms in \
         the improv task's setting over a tonic-chord drone (C, or Am for minor tunes) in the tune's \
         meter, since the corpus has no chords. **AUC** is the ROC AUC of real against corrupted \
         scores (Mann-Whitney U, ties half): above 0.5 the term prefers real melodies. Intervals are \
         95% percentile bootstraps resampling melodies with their corruptions. **Agreement** is the \
         Spearman rank correlation of per-melody scores over real and corrupted melodies.\n"
    );
    let _ = writeln!(md, "## Corruptions\n");
    let _ = writeln!(
        md,
        "| corruption | what it does | applied | skipped | e.g. |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---|");
    for c in &r.corruptions {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} |",
            c.name,
            c.description,
            c.applied,
            c.skipped,
            c.examples.first().map_or("", String::as_str)
        );
    }
    let _ = writeln!(md, "\n## Speed and discrimination\n");
    let _ = writeln!(
        md,
        "AUC per corruption; **bold** = a corruption the term is meant to detect. Speed is of the \
         reward named under *timed as* (the nine RL Tuner terms are computed together).\n"
    );
    let _ = write!(md, "| term | timed as | ns/step | steps/s |");
    for c in &r.corruptions {
        let _ = write!(md, " {} |", c.name);
    }
    let _ = writeln!(md, " passes |");
    let _ = write!(md, "|---|---|---:|---:|");
    for _ in &r.corruptions {
        let _ = write!(md, "---:|");
    }
    let _ = writeln!(md, "---|");
    for t in &r.terms {
        let _ = write!(
            md,
            "| `{}` | {} | {:.1} | {:.2e} |",
            t.name, t.timed_as, t.ns_per_step, t.steps_per_sec
        );
        for c in &r.corruptions {
            let a = fmt_opt(t.auc.get(&c.name).copied().flatten());
            if t.meant_to_detect.contains(&c.name) {
                let _ = write!(md, " **{a}** |");
            } else {
                let _ = write!(md, " {a} |");
            }
        }
        let _ = writeln!(md, " {} |", if t.passed() { "yes" } else { "**no**" });
    }
    let _ = writeln!(md, "\n![AUC per term and corruption](auc.svg)\n");
    let _ = writeln!(md, "## What each term is meant to detect\n");
    let _ = writeln!(
        md,
        "| term | meant to detect | why | AUC [95% CI] on those |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for t in &r.terms {
        let cells: Vec<String> = t
            .meant_to_detect
            .iter()
            .map(|c| {
                let a = fmt_opt(t.auc.get(c).copied().flatten());
                match t.auc_ci.get(c).copied().flatten() {
                    Some([lo, hi]) => format!("{c} {a} [{lo:.2}, {hi:.2}]"),
                    None => format!("{c} {a}"),
                }
            })
            .collect();
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            t.name,
            if t.meant_to_detect.is_empty() {
                "—".to_string()
            } else {
                t.meant_to_detect.join(", ")
            },
            t.why,
            cells.join("; ")
        );
    }
    let _ = writeln!(md, "\n## Failures\n");
    if r.failures.is_empty() {
        let _ = writeln!(
            md,
            "Every term prefers real melodies to each corruption it is meant to detect."
        );
    } else {
        let _ = writeln!(
            md,
            "Terms whose AUC is not above 0.5 on a corruption they are meant to detect:\n"
        );
        let _ = writeln!(md, "| term | corruption | AUC | reason |");
        let _ = writeln!(md, "|---|---|---:|---|");
        for f in &r.failures {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                f.term,
                f.corruption,
                fmt_opt(f.auc),
                f.reason
            );
        }
    }
    let _ = writeln!(md, "\n## Agreement\n");
    let _ = writeln!(
        md,
        "Spearman correlation over {} real and corrupted melodies (blank: a constant term).\n",
        r.correlation.rows
    );
    let _ = writeln!(md, "![Correlation heat map](correlation.svg)\n");
    if let Some(outcome) = &out.outcome {
        let _ = writeln!(md, "## Outcome\n");
        let _ = writeln!(
            md,
            "The same agent (tabular Q-learning, default hyperparameters) trained on the rl-tuner \
             task with each preset as the reward, for the same budget; Magenta's evaluation \
             metrics of {} sampled melodies (softmax temperature 0.1).\n",
            outcome.first().map_or(0, |o| o.episodes)
        );
        md.push_str(&outcome_table(outcome, true));
        if !outcome.is_empty() {
            let _ = writeln!(md, "\n![Outcome](outcome.svg)");
        }
    }
    let skipped: Vec<&Skipped> = out
        .skipped_files
        .iter()
        .chain(&out.skipped_rewards)
        .chain(&r.skipped)
        .chain(&out.outcome_skipped)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Left out\n");
        for s in skipped {
            let _ = writeln!(md, "- `{}`: {}", s.item, s.reason);
        }
    }
    if !plot_errors.is_empty() {
        let _ = writeln!(md, "\nPlots that failed: {}", plot_errors.join("; "));
    }
    std::fs::write(dir.join("report.md"), md)
        .with_context(|| format!("cannot write {}", dir.join("report.md").display()))?;
    Ok(())
}

/// Corruption colours, one per corruption in report order.
fn palette(i: usize) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLOURS[i % COLOURS.len()]
}

/// Horizontal bars: one group per term, one bar per corruption; solid bars are the
/// corruptions the term is meant to detect, pale bars the others; a line marks 0.5.
fn plot_auc(path: &Path, r: &BenchReport) -> Result<()> {
    use plotters::prelude::*;
    let nc = r.corruptions.len().max(1);
    let nt = r.terms.len();
    let height = (60 + nt * (nc * 5 + 8)).max(300) as u32;
    let root = SVGBackend::new(path, (1000, height + 80)).into_drawing_area();
    root.fill(&WHITE)?;
    let (main, legend) = root.split_vertically(height);
    let mut chart = ChartBuilder::on(&main)
        .caption("ROC AUC: real vs corrupted melodies", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(220)
        .build_cartesian_2d(0.0f64..1.0f64, 0.0f64..nt as f64)?;
    let names: Vec<String> = r.terms.iter().map(|t| t.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(nt.max(1) * 2)
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 0.3 && i < nt {
                names[nt - 1 - i].clone()
            } else {
                String::new()
            }
        })
        .x_desc("AUC")
        .draw()?;
    for (ti, t) in r.terms.iter().enumerate() {
        let base = (nt - 1 - ti) as f64;
        for (ci, c) in r.corruptions.iter().enumerate() {
            let Some(a) = t.auc.get(&c.name).copied().flatten() else {
                continue;
            };
            let y0 = base + 0.1 + 0.8 * ci as f64 / nc as f64;
            let y1 = y0 + 0.8 / nc as f64;
            let colour = palette(ci);
            let style = if t.meant_to_detect.contains(&c.name) {
                colour.filled()
            } else {
                colour.mix(0.25).filled()
            };
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y0), (a, y1)], style)))?;
        }
    }
    chart.draw_series(LineSeries::new(
        [(0.5, 0.0), (0.5, nt as f64)],
        BLACK.stroke_width(1),
    ))?;
    for (ci, c) in r.corruptions.iter().enumerate() {
        let x = 20 + (ci as i32 % 4) * 240;
        let y = 15 + (ci as i32 / 4) * 25;
        legend.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 14)],
            palette(ci).filled(),
        ))?;
        legend.draw(&Text::new(
            c.name.clone(),
            (x + 20, y),
            ("sans-serif", 14).into_font(),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// The correlation matrix as coloured cells: red for +1, blue for −1, grey for undefined.
fn plot_correlation(path: &Path, r: &BenchReport) -> Result<()> {
    use plotters::prelude::*;
    let c = &r.correlation;
    let k = c.terms.len();
    let cell = 26i32;
    let left = 230i32;
    let top = 40i32;
    let size = (left + cell * k as i32 + 20, top + cell * k as i32 + 230);
    let root = SVGBackend::new(path, (size.0 as u32, size.1 as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        format!(
            "Spearman correlation of per-melody scores ({} melodies)",
            c.rows
        ),
        (10, 10),
        ("sans-serif", 18).into_font(),
    ))?;
    for i in 0..k {
        root.draw(&Text::new(
            c.terms[i].clone(),
            (10, top + cell * i as i32 + 7),
            ("sans-serif", 12).into_font(),
        ))?;
        let label_style = ("sans-serif", 12)
            .into_font()
            .transform(FontTransform::Rotate90);
        root.draw(&Text::new(
            c.terms[i].clone(),
            (left + cell * i as i32 + 18, top + cell * k as i32 + 6),
            label_style,
        ))?;
        for j in 0..k {
            let v = c.matrix[i][j];
            let colour = match v {
                Some(v) if v >= 0.0 => {
                    let f = 1.0 - v.min(1.0);
                    RGBColor(255, (255.0 * f) as u8, (255.0 * f) as u8)
                }
                Some(v) => {
                    let f = 1.0 + v.max(-1.0);
                    RGBColor((255.0 * f) as u8, (255.0 * f) as u8, 255)
                }
                None => RGBColor(200, 200, 200),
            };
            let (x, y) = (left + cell * j as i32, top + cell * i as i32);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell - 1, y + cell - 1)],
                colour.filled(),
            ))?;
            if let Some(v) = v {
                root.draw(&Text::new(
                    format!("{:.1}", v),
                    (x + 3, y + 8),
                    ("sans-serif", 9).into_font(),
                ))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

/// Grouped bars of the main outcome percentages, one colour per preset.
fn plot_outcome(path: &Path, outcome: &[Outcome]) -> Result<()> {
    use plotters::prelude::*;
    let metrics = &OUTCOME_METRICS[..8];
    let np = outcome.len().max(1);
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (main, legend) = root.split_vertically(470);
    let mut chart = ChartBuilder::on(&main)
        .caption(
            "Magenta metrics of melodies from agents trained on each reward",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(300)
        .build_cartesian_2d(0.0f64..1.0f64, 0.0f64..metrics.len() as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(metrics.len() * 2)
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 0.3 && i < metrics.len() {
                metrics[metrics.len() - 1 - i].to_string()
            } else {
                String::new()
            }
        })
        .x_desc("fraction")
        .draw()?;
    for (mi, m) in metrics.iter().enumerate() {
        let base = (metrics.len() - 1 - mi) as f64;
        for (pi, o) in outcome.iter().enumerate() {
            let v = o
                .metrics
                .get(*m)
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0);
            let y0 = base + 0.1 + 0.8 * pi as f64 / np as f64;
            let y1 = y0 + 0.8 / np as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y0), (v.clamp(0.0, 1.0), y1)],
                palette(pi).filled(),
            )))?;
        }
    }
    for (pi, o) in outcome.iter().enumerate() {
        let x = 20 + pi as i32 * 200;
        legend.draw(&Rectangle::new(
            [(x, 15), (x + 14, 29)],
            palette(pi).filled(),
        ))?;
        legend.draw(&Text::new(
            o.reward.clone(),
            (x + 20, 15),
            ("sans-serif", 14).into_font(),
        ))?;
    }
    root.present()?;
    Ok(())
}
