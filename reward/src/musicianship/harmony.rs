//! Harmony: does the line sit on the chords and in the key?

use super::notes::{pc_bit, scale_at, share, Grid, Played};
use cadenza_env::Setting;
use serde::Serialize;

/// Harmony criteria of one melody, each in [0, 1] (1 is best).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Harmony {
    /// Share of onsets on beats that are chord tones of the chord under them (the tonic
    /// triad without a progression). All onsets count when none falls on a beat; 0 without
    /// notes.
    pub strong_beat_chord_tones: f64,
    /// Share of onsets in the key's scale or the chord-scale under them; 0 without notes.
    pub in_key: f64,
    /// Share of non-chord tones followed by a step (1 or 2 semitones) to the next note; 1
    /// when every note is a chord tone. The last note has nothing to resolve to and does
    /// not count.
    pub non_chord_tones_resolved: f64,
}

impl Harmony {
    pub(crate) fn measure(setting: &Setting, notes: &[Played]) -> Self {
        let grid = Grid::of(setting);
        let is_chord_tone = |n: &Played| setting.chord_tones_at(n.start) & pc_bit(n.pitch) != 0;
        let on_beat: Vec<&Played> = notes.iter().filter(|n| n.start % grid.beat == 0).collect();
        let strong = if on_beat.is_empty() {
            share(
                notes.iter().filter(|n| is_chord_tone(n)).count(),
                notes.len(),
                0.0,
            )
        } else {
            share(
                on_beat.iter().filter(|n| is_chord_tone(n)).count(),
                on_beat.len(),
                0.0,
            )
        };
        let in_key = notes
            .iter()
            .filter(|n| scale_at(setting, n.start) & pc_bit(n.pitch) != 0)
            .count();
        let (mut tensions, mut resolved) = (0, 0);
        for pair in notes.windows(2) {
            if !is_chord_tone(&pair[0]) {
                tensions += 1;
                let step = (i32::from(pair[1].pitch) - i32::from(pair[0].pitch)).abs();
                resolved += usize::from((1..=2).contains(&step));
            }
        }
        Self {
            strong_beat_chord_tones: strong,
            in_key: share(in_key, notes.len(), 0.0),
            non_chord_tones_resolved: share(resolved, tensions, 1.0),
        }
    }

    /// The group's score: the mean of its criteria.
    pub fn score(&self) -> f64 {
        (self.strong_beat_chord_tones + self.in_key + self.non_chord_tones_resolved) / 3.0
    }
}
