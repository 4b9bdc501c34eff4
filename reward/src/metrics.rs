//! Magenta RL Tuner's evaluation metrics (`rl_tuner_eval_metrics.py`), reproduced exactly.
//!
//! Magenta evaluates a model by composing many pieces (`compute_composition_stats`, 32 steps
//! each) and counting music-theory events as it goes. [`RlTunerMetrics`] does the same
//! bookkeeping for compositions you hand it, one [`add_composition`](RlTunerMetrics::add_composition)
//! per piece, and [`report`](RlTunerMetrics::report) gives the ratios Magenta prints
//! (`get_stat_dict_string`).
//!
//! For each step of a piece the counters are updated in Magenta's order (interval, in key,
//! tonic start, excessive repetition, motif, repeated motif, leaps), each looking at the piece
//! *before* the step's event is appended. After the piece, the lag 1-3 autocorrelations of the
//! whole piece and its unique highest / lowest notes are recorded. The detectors are those of
//! the reward ([`crate::rl_tuner`]), with Magenta's defaults (tonic C4, 8-step motifs, 6 steps
//! between leaps).
//!
//! Quirks kept from Magenta:
//!
//! * A piece is one composition whatever its length: nothing is reset at 32 steps inside it.
//! * The interval counts come from an if/elif chain with a precedence bug: in-key thirds are
//!   counted nowhere (the test `interval == (IN_KEY_FIFTH or interval == IN_KEY_THIRD)` only
//!   matches in-key fifths), and neither is an exact octave (only intervals above 12 count as
//!   octave jumps). Holds, and intervals of 1, 3, 6, 8, 10 and 12 semitones, are not counted.
//! * The leap tracker only changes in the leap counter; no reward is computed.
//! * "Percent of leaps resolved" ignores leaps that were never resolved or doubled, and is
//!   NaN when there were none; the mean autocorrelations skip NaN coefficients (numpy's
//!   `nanmean`) and are NaN when all are.
//!
//! Differences forced by the input: `total_notes` is the sum of the pieces' lengths (Magenta's
//! driver sets it to `compositions × 32`, the same thing for 32-step pieces); an empty piece
//! counts as a composition with NaN autocorrelations and no unique extremes (Magenta would
//! fail on it); events above 37 are read as holds, as in the reward.
//!
//! NaN values serialise as `null` with `serde_json`, as in Magenta's JSON dumps.
//!
//! ```
//! use cadenza_reward::metrics::RlTunerMetrics;
//!
//! let mut metrics = RlTunerMetrics::new();
//! metrics.add_composition(&[14, 16, 18, 14]);
//! let report = metrics.report();
//! assert_eq!(report["percent_compositions_starting_with_tonic"], 1.0);
//! assert_eq!(report["avg_num_seconds_per_composition"], 2.0);
//! assert!(report["percent_leaps_resolved"].is_nan());
//! ```

use crate::rl_tuner::{in_c_major_key, sanitize, Interval, Leap, Tracker};
use cadenza_env::encoding::Event;
use serde::Serialize;
use std::collections::BTreeMap;

/// Magenta's `C_MAJOR_TONIC` (C4), used by `add_tonic_start_stat`.
const TONIC: Event = 14;
/// `detect_leap_up_back`'s default `steps_between_leaps`.
const STEPS_BETWEEN_LEAPS: u32 = 6;

/// Magenta's `stat_dict`: the raw counters, with Magenta's key names when serialised.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RlTunerStats {
    /// Lag-1 autocorrelation of each composition (NaN for a constant one).
    pub autocorrelation1: Vec<f64>,
    /// Lag-2 autocorrelation of each composition.
    pub autocorrelation2: Vec<f64>,
    /// Lag-3 autocorrelation of each composition.
    pub autocorrelation3: Vec<f64>,
    /// Events outside C major.
    pub notes_not_in_key: u64,
    /// Steps that end a motif (≥ 3 distinct pitches in the last 8 events).
    pub notes_in_motif: u64,
    /// Steps that end a motif which occurred earlier in the composition.
    pub notes_in_repeated_motif: u64,
    /// Compositions whose first event is the tonic (C4).
    pub num_starting_tonic: u64,
    /// Excessively repeated events.
    pub num_repeated_notes: u64,
    /// Intervals above an octave.
    pub num_octave_jumps: u64,
    /// Fifths not counted as in-key fifths.
    pub num_fifths: u64,
    /// Major thirds not counted as in-key thirds.
    pub num_thirds: u64,
    /// Major sixths.
    pub num_sixths: u64,
    /// Major seconds.
    pub num_seconds: u64,
    /// Perfect fourths.
    pub num_fourths: u64,
    /// Major sevenths.
    pub num_sevenths: u64,
    /// Note-offs after a pitch other than C or G.
    pub num_rest_intervals: u64,
    /// Note-offs after C or G.
    pub num_special_rest_intervals: u64,
    /// In-key fifths (in-key thirds are lost to Magenta's precedence bug).
    pub num_in_key_preferred_intervals: u64,
    /// Leaps resolved (gradually, or by a leap back after more than 6 steps).
    pub num_resolved_leaps: u64,
    /// Second leaps in the same direction.
    pub num_leap_twice: u64,
    /// Compositions whose highest event occurs once.
    pub num_high_unique: u64,
    /// Compositions whose lowest pitch occurs once.
    pub num_low_unique: u64,
    /// Compositions evaluated.
    pub num_compositions: u64,
    /// Events evaluated.
    pub total_notes: u64,
}

/// Accumulates Magenta RL Tuner's evaluation metrics over compositions. See the module docs.
#[derive(Debug, Clone)]
pub struct RlTunerMetrics {
    stats: RlTunerStats,
    tracker: Tracker,
}

impl Default for RlTunerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RlTunerMetrics {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self {
            stats: RlTunerStats::default(),
            tracker: Tracker::with_capacity(32),
        }
    }

    /// The raw counters (Magenta's `stat_dict`).
    pub fn stats(&self) -> &RlTunerStats {
        &self.stats
    }

    /// Evaluates one composition (`compose_and_evaluate_piece` on a given piece) and adds it
    /// to the counters. Any length works; the piece is one composition throughout.
    pub fn add_composition(&mut self, events: &[Event]) {
        let stats = &mut self.stats;
        let tracker = &mut self.tracker;
        tracker.clear();
        for (beat, &event) in events.iter().enumerate() {
            let a = sanitize(event);
            let analysis = tracker.analyse(a);

            // add_interval_stat: the if/elif chain, bug included (see the module docs).
            match analysis.interval {
                Interval::Rest => stats.num_rest_intervals += 1,
                Interval::RestAfterTonicOrFifth => stats.num_special_rest_intervals += 1,
                Interval::Semitones(iv) if iv > 12 => stats.num_octave_jumps += 1,
                Interval::InKeyFifth => stats.num_in_key_preferred_intervals += 1,
                Interval::Semitones(7) => stats.num_fifths += 1,
                Interval::Semitones(4) => stats.num_thirds += 1,
                Interval::Semitones(9) => stats.num_sixths += 1,
                Interval::Semitones(2) => stats.num_seconds += 1,
                Interval::Semitones(5) => stats.num_fourths += 1,
                Interval::Semitones(11) => stats.num_sevenths += 1,
                _ => {}
            }
            if !in_c_major_key(a) {
                stats.notes_not_in_key += 1;
            }
            if beat == 0 && a == TONIC {
                stats.num_starting_tonic += 1;
            }
            if analysis.repeating {
                stats.num_repeated_notes += 1;
            }
            if analysis.motif_notes >= 3 {
                stats.notes_in_motif += 1;
            }
            if analysis.repeated_motif {
                stats.notes_in_repeated_motif += 1;
            }
            match tracker.leap(a, analysis.interval, STEPS_BETWEEN_LEAPS) {
                Leap::Resolved => stats.num_resolved_leaps += 1,
                Leap::Doubled => stats.num_leap_twice += 1,
                Leap::None => {}
            }
            tracker.push(a);
        }

        // The end-of-piece detectors look at `prefix + [last]`, i.e. the whole piece.
        let mut coefficients = [f64::NAN; 3];
        if let Some((&last, prefix)) = tracker.events().split_last() {
            let mut whole = Tracker::with_capacity(prefix.len());
            for &e in prefix {
                whole.push(e);
            }
            for (lag, slot) in (1..=3).zip(coefficients.iter_mut()) {
                *slot = whole.autocorrelation(last, lag).unwrap_or(f64::NAN);
            }
            if whole.high_unique(last) {
                stats.num_high_unique += 1;
            }
            if whole.low_unique(last) {
                stats.num_low_unique += 1;
            }
        }
        stats.autocorrelation1.push(coefficients[0]);
        stats.autocorrelation2.push(coefficients[1]);
        stats.autocorrelation3.push(coefficients[2]);

        stats.num_compositions += 1;
        stats.total_notes += events.len() as u64;
    }

    /// The derived metrics of `get_stat_dict_string`, under the key names
    /// `percent_compositions_starting_with_tonic`, …, `mean_autocorrelation_lag1..3`,
    /// `avg_num_*_per_composition`. NaN where Magenta prints `nan` (and for ratios over
    /// zero compositions).
    pub fn report(&self) -> BTreeMap<String, f64> {
        let s = &self.stats;
        let comps = s.num_compositions as f64;
        let notes = s.total_notes as f64;
        let leaps = (s.num_leap_twice + s.num_resolved_leaps) as f64;
        let resolved = if leaps > 0.0 {
            s.num_resolved_leaps as f64 / leaps
        } else {
            f64::NAN
        };
        let ratios = [
            (
                "percent_compositions_starting_with_tonic",
                s.num_starting_tonic as f64 / comps,
            ),
            (
                "percent_compositions_unique_highest_note",
                s.num_high_unique as f64 / comps,
            ),
            (
                "percent_compositions_unique_lowest_note",
                s.num_low_unique as f64 / comps,
            ),
            ("percent_leaps_resolved", resolved),
            (
                "percent_notes_not_in_key",
                s.notes_not_in_key as f64 / notes,
            ),
            ("percent_notes_in_motif", s.notes_in_motif as f64 / notes),
            (
                "percent_notes_in_repeated_motif",
                s.notes_in_repeated_motif as f64 / notes,
            ),
            (
                "percent_notes_excessively_repeated",
                s.num_repeated_notes as f64 / notes,
            ),
            ("mean_autocorrelation_lag1", nan_mean(&s.autocorrelation1)),
            ("mean_autocorrelation_lag2", nan_mean(&s.autocorrelation2)),
            ("mean_autocorrelation_lag3", nan_mean(&s.autocorrelation3)),
        ]
        .map(|(key, value)| (key.to_string(), value));
        // `avg_num_{what}_per_composition`: counts of intervals per composition.
        let per_composition = [
            ("octave_jumps", s.num_octave_jumps),
            ("sevenths", s.num_sevenths),
            ("fifths", s.num_fifths),
            ("sixths", s.num_sixths),
            ("fourths", s.num_fourths),
            ("rest_intervals", s.num_rest_intervals),
            ("seconds", s.num_seconds),
            ("thirds", s.num_thirds),
            (
                "in_key_preferred_intervals",
                s.num_in_key_preferred_intervals,
            ),
            ("special_rest_intervals", s.num_special_rest_intervals),
        ]
        .map(|(what, count)| {
            (
                format!("avg_num_{what}_per_composition"),
                count as f64 / comps,
            )
        });
        ratios.into_iter().chain(per_composition).collect()
    }
}

/// numpy's `nanmean`: the mean of the non-NaN values, NaN when there are none.
fn nan_mean(values: &[f64]) -> f64 {
    let (sum, count) = values
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(sum, count), v| (sum + v, count + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}
