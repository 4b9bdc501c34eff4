//! The report of `rewards bench`: the table printed, and report.json, report.md and the plots
//! written with --out.

use super::outcome::{Outcome, OUTCOME_METRICS};
use super::plots;
use anyhow::{Context, Result};
use cadenza_reward::bench::{BenchReport, Skipped};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Everything `rewards bench` reports: the bench's report and what the command added.
#[derive(Debug, Serialize)]
pub(super) struct Output<'a> {
    #[serde(flatten)]
    pub(super) report: &'a BenchReport,
    pub(super) corpus: String,
    pub(super) skipped_files: Vec<Skipped>,
    pub(super) skipped_rewards: Vec<Skipped>,
    pub(super) outcome: Option<Vec<Outcome>>,
    pub(super) outcome_skipped: Vec<Skipped>,
    pub(super) wall_s: f64,
}

/// The plain-text table printed without --json.
pub(super) fn summary(out: &Output<'_>) -> String {
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

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |a| format!("{a:.2}"))
}

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

/// Writes report.json, the plots and report.md into `dir`.
pub(super) fn write_report(dir: &Path, out: &Output<'_>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let r = out.report;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(out)?)
        .with_context(|| format!("cannot write {}", dir.join("report.json").display()))?;
    // A plot that fails (say, a font problem) must not lose the report itself.
    let mut plot_errors = Vec::new();
    if let Err(e) = plots::auc(&dir.join("auc.svg"), r) {
        plot_errors.push(format!("auc.svg: {e:#}"));
    }
    if let Err(e) = plots::correlation(&dir.join("correlation.svg"), r) {
        plot_errors.push(format!("correlation.svg: {e:#}"));
    }
    if let Some(outcome) = out.outcome.as_deref().filter(|o| !o.is_empty()) {
        if let Err(e) = plots::outcome(&dir.join("outcome.svg"), outcome) {
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
