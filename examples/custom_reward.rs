//! Benchmarks a reward term of your own next to the built-in ones.
//!
//! The term, "prefers stepwise motion", pays +1 for each note that moves by a step (one or
//! two semitones) from the note before, and nothing for repeats or leaps. It implements
//! [`Reward`] and is plugged into the bench with [`Bench::add_term`], stating that it should
//! notice random notes (which leap) and repeated notes (which do not move at all).
//!
//! `cargo run --release --example custom_reward -- CORPUS_DIR [MAX_MELODIES]`

use anyhow::{bail, Context, Result};
use cadenza::env::{Reward, Setting, StepContext};
use cadenza::reward::bench::{load_midi_dir, Bench, BenchConfig, Corruption, Frame};

/// +1 for a note a step (1–2 semitones) away from the previous note.
#[derive(Debug, Default)]
struct Stepwise {
    last: Option<u8>,
}

impl Reward for Stepwise {
    fn term_names(&self) -> Vec<String> {
        vec!["stepwise".to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.last = None;
    }

    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        terms[0] = 0.0;
        // Holds and rests carry no pitch: the line continues from the last note.
        if let Some(pitch) = ctx.setting.encoding.pitch_of(ctx.action) {
            if let Some(previous) = self.last.replace(pitch) {
                if (1..=2).contains(&pitch.abs_diff(previous)) {
                    terms[0] = 1.0;
                }
            }
        }
        terms[0]
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        bail!("usage: custom_reward CORPUS_DIR [MAX_MELODIES]");
    };
    let limit = args
        .next()
        .map(|s| s.parse::<usize>())
        .transpose()
        .context("MAX_MELODIES must be a number")?;

    let corpus = load_midi_dir(dir.as_ref(), limit)?;
    for skipped in &corpus.skipped {
        eprintln!("skipped {}: {}", skipped.item, skipped.reason);
    }

    let mut bench = Bench::new(BenchConfig::default())?;
    bench.add_term(
        "stepwise",
        Frame::RlTuner,
        &[Corruption::RandomNotes, Corruption::RepeatedNotes],
        || Box::new(Stepwise::default()),
    )?;
    // The built-in terms it is most like, for comparison.
    bench.add_reward("preferred_intervals")?;
    bench.add_reward("leap_recovery")?;

    let report = bench.run(&corpus.melodies)?;
    println!(
        "{} melodies; AUC (real vs corrupted), * = meant to detect",
        report.melodies
    );
    for term in &report.terms {
        print!("{:<22} {:>7.1} ns/step", term.name, term.ns_per_step);
        for (corruption, auc) in &term.auc {
            let mark = if term.meant_to_detect.contains(corruption) {
                "*"
            } else {
                ""
            };
            match auc {
                Some(a) => print!("  {corruption} {a:.2}{mark}"),
                None => print!("  {corruption} –"),
            }
        }
        println!();
    }
    for failure in &report.failures {
        println!(
            "FAIL {} on {}: {}",
            failure.term, failure.corruption, failure.reason
        );
    }
    Ok(())
}
