//! The report of `rewards bench`: the table printed, and report.json, report.md and the plots
//! written with --out.

use super::exploit::AuditPlan;
use super::outcome::{Outcome, OUTCOME_METRICS};
use super::plots;
use anyhow::{Context, Result};
use cadenza_reward::bench::{BenchReport, Expectation, Exploitation, Skipped};
use cadenza_reward::musicianship::{DEGENERATE, MUSIC};
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
    /// The exploitation audit's settings (`None`: not run); its rows are under each term.
    pub(super) exploit: Option<AuditPlan>,
    pub(super) exploit_skipped: Vec<Skipped>,
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
    if let Some(plan) = &out.exploit {
        s.push_str(&exploit_table(r, plan, false));
        for f in &r.exploit_failures {
            let _ = writeln!(
                s,
                "FAIL {} maximised by {}: meant to give music, {}",
                f.term, f.agent, f.verdict
            );
        }
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

/// Every exploitation row with the term it optimised, in report order.
fn exploit_rows(r: &BenchReport) -> impl Iterator<Item = (&str, &Exploitation)> {
    r.terms
        .iter()
        .flat_map(|t| t.exploit.iter().map(move |e| (t.name.as_str(), e)))
}

/// The untrained agent's return, starred where training did not raise the return beyond
/// noise (the row then says more about the agent than about the term).
fn untrained(e: &Exploitation) -> String {
    let star = if e.optimised { "" } else { "*" };
    format!("{:.1}{star}", e.untrained_return)
}

/// What a row was expected to give, in a word.
fn expected_word(e: &Exploitation) -> &'static str {
    match e.expected {
        Expectation::Music => "music",
        Expectation::NotMusic => "not music",
        _ => "no claim",
    }
}

/// The exploitation audit as a table: per term and agent, the four group scores, distinct
/// melodies, flags and the verdict.
fn exploit_table(r: &BenchReport, plan: &AuditPlan, markdown: bool) -> String {
    let mut s = String::new();
    let header = [
        "term",
        "agent",
        "task",
        "return",
        "untrained",
        "harmony",
        "line",
        "rhythm",
        "variety",
        "distinct",
        "flags",
        "verdict",
        "expected",
    ];
    if markdown {
        md_row(&mut s, header);
        md_rule(
            &mut s,
            [
                "---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---",
                "---", "---",
            ],
        );
    } else {
        let _ = writeln!(
            s,
            "\nExploitation: each term maximised alone ({} steps{}, {} melodies sampled; \
             * = training did not raise the return beyond noise)",
            plan.steps,
            if plan.recipe_budgets {
                "; a task's front-door preset its recipe's"
            } else {
                ""
            },
            plan.melodies
        );
        let _ = writeln!(
            s,
            "{:<28} {:<5} {:<8} {:>8} {:>9} {:>7} {:>5} {:>6} {:>7} {:>8}  {:<11} verdict",
            "term",
            "agent",
            "task",
            "return",
            "untrained",
            "harmony",
            "line",
            "rhythm",
            "variety",
            "distinct",
            "flags"
        );
    }
    for (term, e) in exploit_rows(r) {
        let m = &e.musicianship;
        let flags: Vec<&str> = e.flags.iter().map(|f| f.name()).collect();
        let flags = if flags.is_empty() {
            "—".to_string()
        } else {
            flags.join(", ")
        };
        let group = |score: f64, floor: f64| {
            let cell = format!("{score:.2}");
            if markdown && score < floor {
                format!("**{cell}**")
            } else {
                cell
            }
        };
        if markdown {
            let verdict = if e.passed() {
                e.verdict.clone()
            } else {
                format!("**{}** (FAIL)", e.verdict)
            };
            md_row(
                &mut s,
                [
                    format!("`{term}`"),
                    e.agent.clone(),
                    e.task.clone(),
                    format!("{:.1}", e.return_mean),
                    untrained(e),
                    group(m.mean.harmony, MUSIC.harmony),
                    group(m.mean.line, MUSIC.line),
                    group(m.mean.rhythm, MUSIC.rhythm),
                    group(m.mean.variety, MUSIC.variety),
                    format!("{}/{}", m.distinct_melodies, m.melodies),
                    flags,
                    verdict,
                    expected_word(e).to_string(),
                ],
            );
        } else {
            let fail = if e.passed() { "" } else { "  FAIL" };
            let _ = writeln!(
                s,
                "{term:<28} {:<5} {:<8} {:>8.1} {:>9} {:>7.2} {:>5.2} {:>6.2} {:>7.2} {:>8}  {flags:<11} {}{fail}",
                e.agent,
                e.task,
                e.return_mean,
                untrained(e),
                m.mean.harmony,
                m.mean.line,
                m.mean.rhythm,
                m.mean.variety,
                format!("{}/{}", m.distinct_melodies, m.melodies),
                e.verdict,
            );
        }
    }
    s
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
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(out)?)
        .with_context(|| format!("cannot write {}", dir.join("report.json").display()))?;
    // A plot that fails (say, a font problem) must not lose the report itself.
    let plot_errors = plots::write_all(
        dir,
        out.report,
        out.exploit.is_some(),
        out.outcome.as_deref(),
    );
    for e in &plot_errors {
        eprintln!("plot failed: {e}");
    }
    std::fs::write(dir.join("report.md"), markdown(out, &plot_errors))
        .with_context(|| format!("cannot write {}", dir.join("report.md").display()))?;
    Ok(())
}

/// report.md: what was measured and how, then one section per measurement.
fn markdown(out: &Output<'_>, plot_errors: &[String]) -> String {
    let r = out.report;
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
    corruptions_section(&mut md, r);
    discrimination_section(&mut md, r);
    detection_section(&mut md, r);
    failures_section(&mut md, r);
    let _ = writeln!(md, "\n## Agreement\n");
    let _ = writeln!(
        md,
        "Spearman correlation over {} real and corrupted melodies (blank: a constant term).\n",
        r.correlation.rows
    );
    let _ = writeln!(md, "![Correlation heat map](correlation.svg)\n");
    if let Some(plan) = &out.exploit {
        exploit_section(&mut md, r, plan);
    }
    if let Some(outcome) = &out.outcome {
        outcome_section(&mut md, outcome);
    }
    let skipped: Vec<&Skipped> = out
        .skipped_files
        .iter()
        .chain(&out.skipped_rewards)
        .chain(&r.skipped)
        .chain(&out.exploit_skipped)
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
    md
}

/// One markdown table row: `| a | b |`.
fn md_row<T: std::fmt::Display>(md: &mut String, cells: impl IntoIterator<Item = T>) {
    md.push('|');
    for cell in cells {
        let _ = write!(md, " {cell} |");
    }
    md.push('\n');
}

/// The rule under a markdown table's header: `---` (left) or `---:` (right) per column.
fn md_rule(md: &mut String, columns: impl IntoIterator<Item = &'static str>) {
    md.push('|');
    for column in columns {
        let _ = write!(md, "{column}|");
    }
    md.push('\n');
}

fn corruptions_section(md: &mut String, r: &BenchReport) {
    let _ = writeln!(md, "## Corruptions\n");
    md_row(
        md,
        ["corruption", "what it does", "applied", "skipped", "e.g."],
    );
    md_rule(md, ["---", "---", "---:", "---:", "---"]);
    for c in &r.corruptions {
        md_row(
            md,
            [
                format!("`{}`", c.name),
                c.description.clone(),
                c.applied.to_string(),
                c.skipped.to_string(),
                c.examples.first().cloned().unwrap_or_default(),
            ],
        );
    }
}

fn discrimination_section(md: &mut String, r: &BenchReport) {
    let _ = writeln!(md, "\n## Speed and discrimination\n");
    let _ = writeln!(
        md,
        "AUC per corruption; **bold** = a corruption the term is meant to detect. Speed is of the \
         reward named under *timed as* (the nine RL Tuner terms are computed together).\n"
    );
    let corruptions = r.corruptions.iter().map(|c| c.name.as_str());
    let audited = r.terms.iter().any(|t| !t.exploit.is_empty());
    let optimum: &[&str] = if audited { &["maximised gives"] } else { &[] };
    md_row(
        md,
        ["term", "timed as", "ns/step", "steps/s"]
            .into_iter()
            .chain(corruptions)
            .chain(["passes"])
            .chain(optimum.iter().copied()),
    );
    md_rule(
        md,
        ["---", "---", "---:", "---:"]
            .into_iter()
            .chain(r.corruptions.iter().map(|_| "---:"))
            .chain(["---"])
            .chain(optimum.iter().map(|_| "---")),
    );
    for t in &r.terms {
        let aucs = r.corruptions.iter().map(|c| {
            let a = fmt_opt(t.auc.get(&c.name).copied().flatten());
            if t.meant_to_detect.contains(&c.name) {
                format!("**{a}**")
            } else {
                a
            }
        });
        md_row(
            md,
            [
                format!("`{}`", t.name),
                t.timed_as.clone(),
                format!("{:.1}", t.ns_per_step),
                format!("{:.2e}", t.steps_per_sec),
            ]
            .into_iter()
            .chain(aucs)
            .chain([if t.passed() { "yes" } else { "**no**" }.to_string()])
            .chain(audited.then(|| {
                t.exploit
                    .iter()
                    .map(|e| format!("{}: {}", e.agent, e.verdict))
                    .collect::<Vec<_>>()
                    .join("; ")
            })),
        );
    }
    let _ = writeln!(md, "\n![AUC per term and corruption](auc.svg)\n");
}

fn detection_section(md: &mut String, r: &BenchReport) {
    let _ = writeln!(md, "## What each term is meant to detect\n");
    md_row(
        md,
        ["term", "meant to detect", "why", "AUC [95% CI] on those"],
    );
    md_rule(md, ["---", "---", "---", "---"]);
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
        let detects = if t.meant_to_detect.is_empty() {
            "—".to_string()
        } else {
            t.meant_to_detect.join(", ")
        };
        md_row(
            md,
            [
                format!("`{}`", t.name),
                detects,
                t.why.clone(),
                cells.join("; "),
            ],
        );
    }
}

fn failures_section(md: &mut String, r: &BenchReport) {
    let _ = writeln!(md, "\n## Failures\n");
    if r.failures.is_empty() {
        let _ = writeln!(
            md,
            "Every term prefers real melodies to each corruption it is meant to detect."
        );
        return;
    }
    let _ = writeln!(
        md,
        "Terms whose AUC is not above 0.5 on a corruption they are meant to detect:\n"
    );
    md_row(md, ["term", "corruption", "AUC", "reason"]);
    md_rule(md, ["---", "---", "---:", "---"]);
    for f in &r.failures {
        md_row(
            md,
            [
                format!("`{}`", f.term),
                f.corruption.clone(),
                fmt_opt(f.auc),
                f.reason.clone(),
            ],
        );
    }
}

fn exploit_section(md: &mut String, r: &BenchReport, plan: &AuditPlan) {
    let agents: Vec<&str> = plan.agents.iter().map(|k| k.name).collect();
    let _ = writeln!(md, "## Exploitation: does maximising a term give music?\n");
    let _ = writeln!(
        md,
        "Each term alone is the reward of a fresh agent ({}, the task's default config) trained \
         for {} env steps on the term's task (RL Tuner terms, `in_scale` and `zero` on \
         `rl-tuner`; improvisation terms on `improv`), seed {}. It then samples {} melodies at \
         its own temperature (seed {}), judged by the musicianship report (group means against \
         the floors harmony {}, line {}, rhythm {}, variety {}, **bold** below; distinct \
         melodies and edit distance) and the degenerate-optimum flags: **drone** (mean share of \
         notes repeating the previous pitch >= {}), **trill** (not a drone, and mean \
         alternation >= {} or a looped 2-4 note figure >= {}), **wall** (mean share of \
         one-step notes >= {}), **zigzag** (mean share of leaps one or two notes after another \
         leap >= {}). *return* is the mean return of the sampled melodies under the \
         term, *untrained* that of the same kind of agent untrained, sampled the same way; a \
         star marks a row whose training did not raise the return beyond twice its standard \
         error, whose melodies then say more about the agent than about the term. A single \
         term is not expected to give music; `improv` is, `rl-tuner` is the \
         reference that does not, `in_scale` and `zero` are baselines.\n",
        agents.join(", "),
        plan.steps,
        plan.seed,
        plan.melodies,
        plan.sample_seed,
        MUSIC.harmony,
        MUSIC.line,
        MUSIC.rhythm,
        MUSIC.variety,
        DEGENERATE.repeated,
        DEGENERATE.alternation,
        DEGENERATE.looped,
        DEGENERATE.shortest,
        DEGENERATE.zigzag,
    );
    md.push_str(&exploit_table(r, plan, true));
    let _ = writeln!(
        md,
        "\n![Musicianship of what each optimizer writes](exploit.svg)\n"
    );
    if r.exploit_failures.is_empty() {
        let _ = writeln!(
            md,
            "Every term meant to give music when maximised (the `improv` preset) does."
        );
    } else {
        let _ = writeln!(md, "Meant to give music when maximised, but did not:\n");
        for f in &r.exploit_failures {
            let _ = writeln!(md, "- `{}` ({}): {}", f.term, f.agent, f.verdict);
        }
    }
    let _ = writeln!(md);
}

fn outcome_section(md: &mut String, outcome: &[Outcome]) {
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
