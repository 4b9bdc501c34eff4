//! Line: does the melody move like a singable line, mostly by step, leaps recovered?

use super::notes::share;
use serde::Serialize;

/// Smallest interval, in semitones, counted as a leap.
pub const LEAP: i32 = 5;

/// Line criteria of one melody, each in [0, 1] (1 is best).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Line {
    /// Share of intervals between consecutive notes that are steps (1 or 2 semitones);
    /// repeated notes count as intervals that are not steps. 0 with fewer than two notes.
    pub stepwise: f64,
    /// Share of leaps (at least [`LEAP`] semitones) followed by contrary motion of at most
    /// four semitones (a step or a third back into the gap); 1 without leaps. A leap into
    /// the last note does not count.
    pub leaps_recovered: f64,
    /// Share of intervals that are not part of a run of three or more consecutive leaps; 0
    /// with fewer than two notes.
    pub no_leap_runs: f64,
}

impl Line {
    pub(crate) fn measure(intervals: &[i32]) -> Self {
        let steps = intervals
            .iter()
            .filter(|i| (1..=2).contains(&i.abs()))
            .count();
        let is_leap = |i: i32| i.abs() >= LEAP;
        let (mut leaps, mut recovered) = (0, 0);
        for pair in intervals.windows(2) {
            if is_leap(pair[0]) {
                leaps += 1;
                let contrary = pair[0].signum() * pair[1].signum() < 0;
                recovered += usize::from(contrary && pair[1].abs() <= 4);
            }
        }
        let mut in_runs = 0;
        let mut run = 0;
        for (k, &i) in intervals.iter().enumerate() {
            if is_leap(i) {
                run += 1;
            }
            let run_ends = !is_leap(i) || k + 1 == intervals.len();
            if run_ends {
                if run >= 3 {
                    in_runs += run;
                }
                run = 0;
            }
        }
        Self {
            stepwise: share(steps, intervals.len(), 0.0),
            leaps_recovered: share(recovered, leaps, 1.0),
            no_leap_runs: if intervals.is_empty() {
                0.0
            } else {
                1.0 - share(in_runs, intervals.len(), 0.0)
            },
        }
    }

    /// The group's score: the mean of its criteria.
    pub fn score(&self) -> f64 {
        (self.stepwise + self.leaps_recovered + self.no_leap_runs) / 3.0
    }
}
