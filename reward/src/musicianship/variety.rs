//! Variety within one melody: range, pitches and intervals used, and no ostinato or trill.

use super::notes::Played;
use serde::Serialize;
use std::collections::HashSet;

/// Longest period, in notes, that [`Variety::ostinato`] looks for.
pub const MAX_PERIOD: usize = 4;

/// Variety criteria of one melody.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Variety {
    /// Semitones between the lowest and the highest note (0..=127; scored as `range / 12`,
    /// capped at 1).
    pub range: u8,
    /// Distinct pitches (0..=128; scored as `pitches / 7`, capped at 1).
    pub distinct_pitches: usize,
    /// Distinct signed intervals between consecutive notes (scored as `intervals / 7`,
    /// capped at 1).
    pub distinct_intervals: usize,
    /// Share of notes that return to the note two before after leaving it, a two-note
    /// alternation as in a trill (0..=1, 0 is best).
    pub alternation: f64,
    /// The largest share, over periods of 1 to [`MAX_PERIOD`] notes, of notes equal to the
    /// note one period before: 1 for a one-note ostinato or a looped trill figure, lower for
    /// motifs repeated with variation (0..=1, 0 is best; 1 with fewer than two notes).
    pub ostinato: f64,
}

impl Variety {
    pub(crate) fn measure(notes: &[Played], intervals: &[i32]) -> Self {
        let pitches: Vec<u8> = notes.iter().map(|n| n.pitch).collect();
        let low = pitches.iter().min().copied().unwrap_or(0);
        let high = pitches.iter().max().copied().unwrap_or(0);
        let alternations = pitches
            .windows(3)
            .filter(|w| w[2] == w[0] && w[1] != w[0])
            .count();
        let ostinato = period_shares(&pitches)
            .into_iter()
            .flatten()
            .fold(if pitches.len() < 2 { 1.0 } else { 0.0 }, f64::max);
        Self {
            range: high - low,
            distinct_pitches: pitches.iter().collect::<HashSet<_>>().len(),
            distinct_intervals: intervals.iter().collect::<HashSet<_>>().len(),
            alternation: super::notes::share(alternations, pitches.len().saturating_sub(2), 0.0),
            ostinato,
        }
    }

    /// The group's score: the mean of the five criteria, each mapped to [0, 1] as documented.
    pub fn score(&self) -> f64 {
        let capped = |x: f64, full: f64| (x / full).min(1.0);
        (capped(f64::from(self.range), 12.0)
            + capped(self.distinct_pitches as f64, 7.0)
            + capped(self.distinct_intervals as f64, 7.0)
            + (1.0 - self.alternation)
            + (1.0 - self.ostinato))
            / 5.0
    }
}

/// For each period `p` in 1..=[`MAX_PERIOD`] (index `p - 1`), the share of notes equal to the
/// note `p` before; `None` where the melody has `p` notes or fewer.
pub(crate) fn period_shares(pitches: &[u8]) -> [Option<f64>; MAX_PERIOD] {
    std::array::from_fn(|k| {
        let p = k + 1;
        (pitches.len() > p).then(|| {
            let same = (p..pitches.len()).filter(|&i| pitches[i] == pitches[i - p]);
            same.count() as f64 / (pitches.len() - p) as f64
        })
    })
}
