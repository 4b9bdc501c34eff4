//! Benchmarking reward terms: how fast they are, whether they prefer real melodies to spoiled
//! ones, and how much they agree with each other.
//!
//! A reward term is a claim about music ("melodies stay in key", "leaps are recovered"). The
//! bench tests that claim against a corpus of real melodies: each melody is spoiled in several
//! ways ([`Corruption`]: random notes, shuffled bars, reversal, a random walk, repeated notes,
//! transposition out of key, flattened rhythm), and a term *detects* a corruption when it
//! gives the real melodies a higher score than the spoiled ones.
//!
//! For every term [`Bench::run`] reports:
//!
//! - **speed**: nanoseconds per step and steps per second, the median of
//!   [`BenchConfig::timing_runs`] timed passes over the real melodies (one thread). The nine
//!   RL Tuner terms are computed together by one reward, so they share its timing
//!   ([`TermReport::timed_as`] names the reward timed).
//! - **discrimination**: the score of a melody is the term's mean reward per step over it;
//!   for each corruption the ROC AUC of real against corrupted scores (Mann-Whitney U, ties
//!   counting one half; 1 = always prefers the real melody, 0.5 = cannot tell), with a
//!   percentile bootstrap interval that resamples melodies together with their corruptions
//!   ([`stats::bootstrap_auc_ci`], seeded).
//! - **agreement**: the Spearman rank correlation of the terms' per-melody scores over the
//!   real and corrupted melodies together. Ranks, because penalties such as Magenta's −100
//!   for repetition make a few melodies dominate any linear measure.
//!
//! A term that tells real melodies from broken ones may still be maximised by something no
//! musician would play. The [`exploit`] audit asks whether it is: [`Bench::objectives`] gives
//! each term as a reward to maximise, the caller trains an agent on it (the `cadenza rewards
//! bench` command does), and [`Exploitation::judge`] measures what the agent writes
//! (musicianship, and drone, trill and wall flags).
//!
//! Each term states the corruptions it is *meant to detect* ([`builtin_detects`] for the
//! built-in ones, your own list for [`Bench::add_term`]); a term whose AUC on one of them is
//! not above 0.5 is listed in [`BenchReport::failures`] with the reason the numbers give.
//!
//! # How melodies are scored
//!
//! Melodies are in the RL Tuner encoding (MIDI 48..=83), on a grid of
//! [`Melody::steps_per_quarter`] steps, transposed so that a major key is C major and a minor
//! key A minor ([`Melody::from_imported`] does this for MIDI files). A reward sees one
//! [`Frame`]:
//!
//! - [`Frame::RlTuner`]: Magenta's setting (C major, no chords). The melody is fed as one
//!   episode; the RL Tuner reward starts a new 32-step composition every 32 steps by itself,
//!   so a long melody is scored as consecutive 32-step windows, as Magenta does.
//! - [`Frame::Improv`]: the `improv` task's setting in the melody's meter and key. Corpus
//!   melodies come without chords, so the progression is a **tonic-chord drone**: C major
//!   (or A minor for minor tunes) under every bar. Chord-tone terms therefore hear the tonic
//!   triad, chord-scale terms the key's scale, and the cadence is judged on the last step of
//!   the whole melody.
//!
//! Corruptions keep the melody's length and are scored in the original melody's setting.
//!
//! # Your own term
//!
//! Any [`Reward`](cadenza_env::Reward) can be benched next to the built-in ones: give [`Bench::add_term`] a name,
//! a frame, the corruptions it should detect and a factory (one reward is made per thread):
//!
//! ```
//! use cadenza_env::{Reward, Setting, StepContext};
//! use cadenza_reward::bench::{Bench, BenchConfig, Corruption, Frame, Melody};
//!
//! /// +1 whenever a note is a step (1–2 semitones) from the previous note.
//! #[derive(Default)]
//! struct Stepwise { last: Option<u8> }
//! impl Reward for Stepwise {
//!     fn term_names(&self) -> Vec<String> { vec!["stepwise".into()] }
//!     fn reset(&mut self, _: &Setting) { self.last = None; }
//!     fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
//!         terms[0] = 0.0;
//!         if let Some(p) = ctx.setting.encoding.pitch_of(ctx.action) {
//!             if let Some(q) = self.last.replace(p) {
//!                 terms[0] = f64::from(u8::from((1..=2).contains(&p.abs_diff(q))));
//!             }
//!         }
//!         terms[0]
//!     }
//! }
//!
//! let mut bench = Bench::new(BenchConfig { resamples: 20, timing_runs: 1, ..Default::default() })?;
//! bench.add_term("stepwise", Frame::RlTuner, &[Corruption::RandomNotes], || {
//!     Box::new(Stepwise::default())
//! })?;
//! // Scale runs up and down, eighth notes: C D E F G A B C B A G F E D C ...
//! let scale = [14u8, 16, 18, 19, 21, 23, 25, 26, 25, 23, 21, 19, 18, 16];
//! let melodies: Vec<Melody> = (0..12)
//!     .map(|i| {
//!         let events = scale.iter().cycle().skip(i).take(32).flat_map(|&e| [e, 1]).collect();
//!         Melody::new(format!("run{i}"), events, (4, 4), false)
//!     })
//!     .collect::<Result<_, _>>()?;
//! let report = bench.run(&melodies)?;
//! let term = report.term("stepwise").unwrap();
//! assert!(term.auc["random_notes"].unwrap() > 0.9);
//! # Ok::<(), cadenza_reward::bench::BenchError>(())
//! ```

pub mod corrupt;
pub mod duet;
pub mod exploit;
pub mod stats;

mod builtin;
mod config;
mod error;
mod melody;
mod report;
mod run;
mod setup;

pub use builtin::{
    builtin_detects, builtin_gives_music, builtin_term_names, known_caveat, Expectation,
};
pub use config::BenchConfig;
pub use corrupt::{CorruptConfig, CorruptError, Corruption};
pub use error::{BenchError, Skipped};
pub use exploit::{ExploitFailure, Exploitation, Objective, Optimized};
pub use melody::{load_midi_dir, CorpusLoad, Frame, Melody, ENCODING};
pub use report::{BenchReport, Correlation, CorruptionReport, Failure, TermReport};
pub use setup::{Bench, RewardFactory};

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::ZeroReward;

    fn melodies(count: usize) -> Vec<Melody> {
        // Diatonic tunes in 4/4 with varied rhythm, rests and a final held tonic.
        let degrees = [14u8, 16, 18, 19, 21, 23, 25, 26];
        (0..count)
            .map(|i| {
                let mut events = Vec::new();
                for bar in 0..4 {
                    for j in 0..6 {
                        let p = degrees[(i + bar * 3 + j * (1 + i % 3)) % degrees.len()];
                        events.push(p);
                        if j % 2 == 0 {
                            events.push(1);
                        }
                        if j == 5 {
                            events.extend([1, 0, 1, 1, 1, 1, 1]);
                        }
                    }
                }
                events.extend([14, 1, 1, 1, 1, 1, 1, 1]);
                Melody::new(format!("m{i}"), events, (4, 4), false).unwrap()
            })
            .collect()
    }

    fn quick() -> BenchConfig {
        BenchConfig {
            resamples: 20,
            timing_runs: 1,
            ..BenchConfig::default()
        }
    }

    #[test]
    fn builtins_cover_every_term_and_report_each() {
        let bench = Bench::with_builtins(quick()).unwrap();
        let names = bench.term_names();
        for t in builtin_term_names() {
            assert!(names.iter().any(|n| n == t), "{t}");
            assert!(builtin_detects(t).is_some(), "{t}");
        }
        for p in ["rl-tuner", "improv", "zero"] {
            assert!(names.iter().any(|n| n == p), "{p}");
        }
        let report = bench.run(&melodies(12)).unwrap();
        assert_eq!(report.terms.len(), names.len());
        let key = report.term("key").unwrap();
        assert!(key.auc["tritone"].unwrap() > 0.9, "{:?}", key.auc);
        assert!(key.ns_per_step > 0.0);
        assert_eq!(report.correlation.matrix.len(), names.len());
        let zero = report.term("zero").unwrap();
        assert_eq!(zero.auc["tritone"], Some(0.5));
    }

    #[test]
    fn unknown_rewards_and_duplicates_are_errors() {
        let mut bench = Bench::new(quick()).unwrap();
        let err = bench.add_reward("kee").unwrap_err().to_string();
        assert!(err.contains("kee") && err.contains("rl-tuner"), "{err}");
        bench.add_reward("key").unwrap();
        bench.add_reward("rl-tuner").unwrap();
        assert_eq!(bench.term_names().len(), 10);
        let err = bench
            .add_term("key", Frame::RlTuner, &[], || Box::new(ZeroReward))
            .unwrap_err();
        assert!(matches!(err, BenchError::DuplicateTerm { .. }));
        assert!(matches!(
            Bench::new(quick()).unwrap().run(&melodies(2)),
            Err(BenchError::NoTerms)
        ));
    }

    #[test]
    fn bad_melodies_are_skipped_and_none_left_is_an_error() {
        let mut bench = Bench::new(quick()).unwrap();
        bench.add_reward("in_scale").unwrap();
        let mut ms = melodies(4);
        ms.push(Melody {
            name: "bad".into(),
            events: vec![99],
            meter: (4, 4),
            minor: false,
            steps_per_quarter: 4,
        });
        ms.push(Melody::new("empty", vec![], (4, 4), false).unwrap());
        let report = bench.run(&ms).unwrap();
        assert_eq!(report.melodies, 4);
        assert_eq!(report.skipped.len(), 2);
        let err = bench.run(&ms[4..]).unwrap_err();
        assert!(matches!(err, BenchError::NoMelodies { .. }), "{err}");
    }

    #[test]
    fn runs_are_deterministic_under_a_seed() {
        let mut bench = Bench::new(quick()).unwrap();
        bench.add_reward("improv").unwrap();
        let a = bench.run(&melodies(8)).unwrap();
        let b = bench.run(&melodies(8)).unwrap();
        for (x, y) in a.terms.iter().zip(&b.terms) {
            assert_eq!(x.auc, y.auc);
            assert_eq!(x.auc_ci, y.auc_ci);
        }
        assert_eq!(a.correlation, b.correlation);
    }

    #[test]
    fn objectives_pay_each_term_and_judging_files_what_fails_its_expectation() {
        let bench = Bench::with_builtins(quick()).unwrap();
        let objectives = bench.objectives();
        assert_eq!(
            objectives
                .iter()
                .map(|o| o.term.clone())
                .collect::<Vec<_>>(),
            bench.term_names()
        );
        let by_name = |n: &str| objectives.iter().find(|o| o.term == n).unwrap();
        assert_eq!(by_name("improv").expected, Expectation::Music);
        assert_eq!(by_name("key").frame.task_name(), "rl-tuner");
        assert_eq!(by_name("cadence").frame.task_name(), "improv");
        for name in ["rl-tuner", "key", "in_scale", "zero", "cadence"] {
            assert_eq!(by_name(name).expected, Expectation::NotMusic, "{name}");
        }
        // One of Magenta's terms is paid alone: `key` charges C#3 and nothing else.
        let mut key = by_name("key").reward().unwrap();
        assert_eq!(key.term_names(), ["key"]);
        let setting = cadenza_env::Setting::rl_tuner();
        let mut slot = [0.0];
        let total =
            crate::score::play_episode(key.as_mut(), &setting, &[3, 14], &mut slot, |_, _| {});
        assert_eq!(total, -1.0);

        // A sixteenth-note trill, as if both optimizers had written it.
        let trill: Vec<Vec<u8>> = (0..10)
            .map(|i| {
                [26u8, 28]
                    .iter()
                    .cycle()
                    .skip(i % 2)
                    .take(64)
                    .copied()
                    .collect()
            })
            .collect();
        let mut report = bench.run(&melodies(6)).unwrap();
        for term in ["improv", "key"] {
            let run = Optimized {
                agent: "q",
                task: "rl-tuner",
                setting: &setting,
                steps: 10,
                temperature: 0.5,
                seconds: 0.0,
                returns: &[2.0, 2.5, 3.0],
                untrained_returns: &[1.0, 1.5, 2.0],
            };
            let row = Exploitation::judge(by_name(term), run, &trill);
            assert!(!row.music);
            assert!(row.optimised && row.return_mean == 2.5 && row.untrained_return == 1.5);
            assert!(
                row.flags.contains(&crate::musicianship::Flag::Trill),
                "{row:?}"
            );
            assert!(row.verdict.starts_with("not music: ") && row.verdict.contains("trill"));
            report.add_exploitation(term, row).unwrap();
        }
        // A gain within twice its standard error is no optimisation; nothing to gain neither.
        for (returns, untrained) in [(&[1.0, 3.0][..], &[0.0, 2.0][..]), (&[0.0; 4], &[0.0; 4])] {
            let run = Optimized {
                agent: "q",
                task: "rl-tuner",
                setting: &setting,
                steps: 10,
                temperature: 0.5,
                seconds: 0.0,
                returns,
                untrained_returns: untrained,
            };
            assert!(!Exploitation::judge(by_name("zero"), run, &trill).optimised);
        }
        assert_eq!(report.exploit_failures.len(), 1);
        assert_eq!(report.exploit_failures[0].term, "improv");
        assert_eq!(report.term("key").unwrap().exploit.len(), 1);
        assert!(report
            .add_exploitation(
                "no_such_term",
                report.term("key").unwrap().exploit[0].clone()
            )
            .is_err());
    }

    #[test]
    fn config_is_validated() {
        for cfg in [
            BenchConfig {
                level: 1.0,
                ..quick()
            },
            BenchConfig {
                timing_runs: 0,
                ..quick()
            },
            BenchConfig {
                max_steps: 0,
                ..quick()
            },
        ] {
            assert!(matches!(Bench::new(cfg), Err(BenchError::Config { .. })));
        }
    }
}
