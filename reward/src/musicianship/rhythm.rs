//! Rhythm: not a wall of the shortest value, breaths at phrase ends, varied note lengths.

use super::notes::{share, Grid, Played};
use serde::Serialize;
use std::collections::BTreeMap;

/// Rhythm criteria of one melody, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rhythm {
    /// Share of notes longer than one step, the grid's shortest value (1 is best); 0 without
    /// notes.
    pub not_shortest: f64,
    /// Share of two-bar phrases whose second half-bar breathes: a silent step or a note of
    /// at least one beat sounds there (1 is best). A melody shorter than a phrase is one
    /// phrase ending with it.
    pub breaths: f64,
    /// Entropy of the note durations in bits, halved and capped at 1 (four equally used
    /// lengths score 1; one length scores 0).
    pub length_variety: f64,
    /// Share of notes that start off the beat and sound across the next beat. Reported, not
    /// scored: folk dance tunes, the calibration corpus, barely syncopate, so no floor on it
    /// could be calibrated.
    pub syncopation: f64,
}

impl Rhythm {
    pub(crate) fn measure(grid: Grid, notes: &[Played], silent: &[bool]) -> Self {
        let phrase = 2 * grid.bar;
        let breathes = |end: usize| {
            let from = end.saturating_sub(grid.bar / 2).min(end);
            let rest = silent[from..end].iter().any(|&s| s)
                && notes.first().is_some_and(|n| n.start < from);
            let long = notes
                .iter()
                .any(|n| n.duration >= grid.beat && n.start < end && n.start + n.duration > from);
            rest || long
        };
        let mut ends: Vec<usize> = (1..=silent.len() / phrase).map(|k| k * phrase).collect();
        if ends.is_empty() && !silent.is_empty() {
            ends.push(silent.len());
        }
        let breaths = ends.iter().filter(|&&end| breathes(end)).count();

        // Ordered, so that the entropy sums its terms in the same order in every process.
        let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
        for n in notes {
            *lengths.entry(n.duration.min(grid.bar)).or_default() += 1;
        }
        let total = notes.len() as f64;
        let entropy: f64 = lengths
            .values()
            .map(|&c| {
                let p = c as f64 / total;
                -p * p.log2()
            })
            .sum();
        let syncopated = notes
            .iter()
            .filter(|n| {
                let next_beat = (n.start / grid.beat + 1) * grid.beat;
                n.start % grid.beat != 0 && n.start + n.duration > next_beat
            })
            .count();
        Self {
            not_shortest: share(
                notes.iter().filter(|n| n.duration > 1).count(),
                notes.len(),
                0.0,
            ),
            breaths: share(breaths, ends.len(), 0.0),
            length_variety: (entropy / 2.0).min(1.0),
            syncopation: share(syncopated, notes.len(), 0.0),
        }
    }

    /// The group's score: the mean of its scored criteria (all but syncopation).
    pub fn score(&self) -> f64 {
        (self.not_shortest + self.breaths + self.length_variety) / 3.0
    }
}
