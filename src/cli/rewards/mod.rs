//! `cadenza rewards`: benchmarking reward terms on a corpus (the logic lives in
//! `cadenza_reward::bench`; this module reads the corpus, runs the exploitation audit
//! ([`exploit`]: an agent trained on each term, what it writes judged), trains the optional
//! outcome agents ([`outcome`]) and writes the report ([`report`]) and its plots ([`plots`])).

mod exploit;
mod outcome;
mod plots;
mod report;

use super::melodies::{self, ReadOptions, Transpose};
use anyhow::{bail, Context, Result};
use cadenza_reward::bench::{self, Bench, BenchConfig, Skipped};
use clap::{Args, Subcommand};
use exploit::AuditPlan;
use outcome::train_outcomes;
use report::{summary, write_report, Output};
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
    /// transposed by a tritone or a semitone, flattened rhythm, a trill, sixteenths.
    ///
    /// Then the exploitation audit: an agent (tabular Q-learning unless --exploit-agents
    /// says otherwise) is trained on each term alone for --exploit-steps steps, on the task
    /// of the term (rl-tuner or improv), and the 100 melodies it then writes get a
    /// musicianship verdict and drone / trill / wall flags: does maximising the term give
    /// music? With --train, a tabular Q-learning agent is trained on each preset on the
    /// rl-tuner task and Magenta's evaluation metrics of what it plays are compared.
    ///
    /// Example: cadenza rewards bench --corpus corpus/dev --out bench-report
    Bench(RewardsBench),
}

#[derive(Debug, Args)]
pub struct RewardsBench {
    /// A preset (rl-tuner, improv, in-scale, zero), a single term (key, leap_recovery, ...)
    /// or a .toml reward definition; repeat for several. Default: every built-in preset but
    /// duet and rl-tuner-kl (see docs/reward-bench.md).
    #[arg(long = "reward")]
    rewards: Vec<String>,
    /// Directory of .mid and .abc files (or one file / a JSON file of melodies).
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
    /// Env steps each agent of the exploitation audit trains on each term for; 0 skips the
    /// audit [default: 1000000, and a task's front-door preset (rl-tuner+) its recipe's
    /// budget, as `train` gives it].
    #[arg(long, value_name = "STEPS")]
    exploit_steps: Option<u64>,
    /// Agent kinds the audit trains on each term, comma-separated (e.g. q,ppo; ppo needs a
    /// build with --features tch and takes about 14 s of CPU per million steps and term,
    /// q well under 1 s).
    #[arg(long, value_name = "KINDS", default_value = "q")]
    exploit_agents: String,
}

pub fn run(cmd: RewardsCommand) -> Result<()> {
    match cmd {
        RewardsCommand::Bench(args) => bench_rewards(args),
    }
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
    let audit = AuditPlan::resolve(args.exploit_steps, &args.exploit_agents, args.seed)?;
    let mut bench = Bench::new(config)?;
    let specs: Vec<String> = if args.rewards.is_empty() {
        Bench::builtin_presets().map(str::to_string).collect()
    } else {
        args.rewards.clone()
    };
    // Rewards first: a bad name is reported and the rest go on.
    let skipped_rewards = add_rewards(&mut bench, &specs)?;
    let (corpus, skipped_files) = read_corpus(&args.corpus)?;

    let mut report = bench.run(&corpus)?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.item, s.reason);
    }
    let exploit_skipped = match &audit {
        Some(plan) => exploit::audit(&bench, &mut report, plan),
        None => Vec::new(),
    };
    let (outcome, outcome_skipped) = match args.train {
        Some(budget) => {
            let trainable: Vec<&String> = specs
                .iter()
                .filter(|s| !skipped_rewards.iter().any(|k| &k.item == *s))
                .collect();
            let (outcome, skipped) =
                train_outcomes(&trainable, budget, args.seed, args.eval_episodes);
            (Some(outcome), skipped)
        }
        None => (None, Vec::new()),
    };

    let output = Output {
        report: &report,
        corpus: args.corpus.display().to_string(),
        skipped_files,
        skipped_rewards,
        exploit: audit,
        exploit_skipped,
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

/// Adds every reward of `specs` to the bench; those that cannot be added are reported and
/// returned. Fails when none could.
fn add_rewards(bench: &mut Bench, specs: &[String]) -> Result<Vec<Skipped>> {
    let mut skipped = Vec::new();
    for spec in specs {
        if let Err(e) = bench.add_reward(spec) {
            eprintln!("skipped reward {spec}: {e}");
            skipped.push(Skipped {
                item: spec.clone(),
                reason: e.to_string(),
            });
        }
    }
    if bench.term_names().is_empty() {
        bail!("no usable reward among {}", specs.join(", "));
    }
    Ok(skipped)
}

/// The corpus's melodies as the bench takes them (transposed to C major / A minor, in the
/// bench's encoding, with meter and mode from the MIDI files), and the files left out.
fn read_corpus(path: &Path) -> Result<(Vec<bench::Melody>, Vec<Skipped>)> {
    let set = melodies::read_melodies(
        path,
        &ReadOptions {
            encoding: Some(bench::ENCODING),
            transpose: Transpose::ToC,
            ..ReadOptions::default()
        },
    )
    .with_context(|| format!("corpus {}", path.display()))?;
    set.warn_skipped();
    set.require_encoding(bench::ENCODING, "the reward bench")?;
    let skipped = set
        .skipped
        .iter()
        .map(|s| Skipped {
            item: s.path.display().to_string(),
            reason: s.reason.clone(),
        })
        .collect();
    let corpus = set
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
    Ok((corpus, skipped))
}
