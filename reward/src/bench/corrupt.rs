//! Corruptions: ways to spoil a real melody so that a reward term can show it notices.
//!
//! Each [`Corruption`] breaks one musical property and keeps the rest: transpositions keep
//! the rhythm and the contour but leave the key, a random walk keeps the rhythm and the range
//! but loses the line, flattening keeps the pitches but loses the rhythm. Every corruption
//! keeps the melody's length, so that a per-step mean compares like with like.
//!
//! A corruption that cannot apply (a melody with too few notes or bars, or one the
//! corruption would leave unchanged) is an error for that melody only; the bench skips it.
//!
//! ```
//! use cadenza_env::EventEncoding;
//! use cadenza_reward::bench::corrupt::{corrupt_seeded, CorruptConfig, Corruption};
//!
//! // C4 E4 G4 C5 as quarter notes (four steps each).
//! let melody = [14, 1, 1, 1, 18, 1, 1, 1, 21, 1, 1, 1, 26, 1, 1, 1];
//! let enc = EventEncoding::RL_TUNER_38;
//! let cfg = CorruptConfig::default();
//! let up = corrupt_seeded(Corruption::Semitone, &melody, enc, 16, &cfg, 0).unwrap();
//! assert_eq!(up, [15, 1, 1, 1, 19, 1, 1, 1, 22, 1, 1, 1, 27, 1, 1, 1]);
//! ```

use cadenza_env::encoding::{Event, EventEncoding, Note};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A way to spoil a melody. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Corruption {
    /// [`CorruptConfig::random_notes`] notes, chosen at random, get a random other pitch of
    /// the encoding.
    RandomNotes,
    /// The whole bars are put in a random (non-identity) order; a partial last bar stays.
    ShuffledBars,
    /// The melody played backwards: each note keeps its length, the timeline is mirrored.
    Reversed,
    /// The rhythm is kept; the pitches become a chromatic random walk (steps of one or two
    /// semitones, reflected at the edges) over the melody's own lowest..highest pitch.
    RandomWalk,
    /// Runs of [`CorruptConfig::repeat_run`] consecutive notes all take the pitch of the
    /// run's first note (rhythm kept).
    RepeatedNotes,
    /// Every pitch up a tritone (6 semitones), folded into the encoding by octaves.
    Tritone,
    /// Every pitch up a semitone, folded into the encoding by octaves.
    Semitone,
    /// The pitches kept in order, all with one length (`length / notes` steps) and no rests;
    /// the steps left over at the end are silence.
    FlatRhythm,
    /// Runs of [`CorruptConfig::repeat_run`] consecutive notes become a trill: the run's
    /// first pitch alternating with the pitch a whole tone above it (below it at the top of
    /// the encoding), rhythm kept. The degenerate optimum an optimizer finds when every
    /// chord-scale note pays.
    Trill,
    /// The pitches kept in order, each one step long (the grid's shortest value), back to
    /// back from the start; the steps left over at the end are silence. The other degenerate
    /// optimum: a wall of sixteenths.
    Sixteenths,
}

impl Corruption {
    /// Every corruption, in report order.
    pub const ALL: [Corruption; 10] = [
        Corruption::RandomNotes,
        Corruption::ShuffledBars,
        Corruption::Reversed,
        Corruption::RandomWalk,
        Corruption::RepeatedNotes,
        Corruption::Tritone,
        Corruption::Semitone,
        Corruption::FlatRhythm,
        Corruption::Trill,
        Corruption::Sixteenths,
    ];

    /// The name used in reports and JSON (snake case).
    pub fn name(self) -> &'static str {
        match self {
            Corruption::RandomNotes => "random_notes",
            Corruption::ShuffledBars => "shuffled_bars",
            Corruption::Reversed => "reversed",
            Corruption::RandomWalk => "random_walk",
            Corruption::RepeatedNotes => "repeated_notes",
            Corruption::Tritone => "tritone",
            Corruption::Semitone => "semitone",
            Corruption::FlatRhythm => "flat_rhythm",
            Corruption::Trill => "trill",
            Corruption::Sixteenths => "sixteenths",
        }
    }

    /// The corruption of a name, as [`Corruption::name`] writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// One line saying what the corruption does.
    pub fn describe(self) -> &'static str {
        match self {
            Corruption::RandomNotes => "k random notes get a random other pitch",
            Corruption::ShuffledBars => "whole bars in a random order",
            Corruption::Reversed => "played backwards",
            Corruption::RandomWalk => {
                "pitches replaced by a chromatic random walk over the same range (rhythm kept)"
            }
            Corruption::RepeatedNotes => "runs of consecutive notes re-attack one pitch",
            Corruption::Tritone => "transposed up a tritone (out of key)",
            Corruption::Semitone => "transposed up a semitone (out of key)",
            Corruption::FlatRhythm => "every note the same length, no rests",
            Corruption::Trill => "runs of consecutive notes become a trill (rhythm kept)",
            Corruption::Sixteenths => {
                "every note one step long, back to back (a wall of sixteenths)"
            }
        }
    }
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of the corruptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorruptConfig {
    /// Notes changed by [`Corruption::RandomNotes`], 1..=10,000 (default 8).
    pub random_notes: usize,
    /// Notes per run of [`Corruption::RepeatedNotes`], 2..=10,000 (default 8: enough for
    /// a run to count as excessive repetition in Magenta's sense).
    pub repeat_run: usize,
}

impl Default for CorruptConfig {
    fn default() -> Self {
        Self {
            random_notes: 8,
            repeat_run: 8,
        }
    }
}

impl CorruptConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), CorruptError> {
        if !(1..=10_000).contains(&self.random_notes) {
            return Err(CorruptError::InvalidConfig {
                field: "random_notes",
                message: format!("{}: expected 1..=10000", self.random_notes),
            });
        }
        if !(2..=10_000).contains(&self.repeat_run) {
            return Err(CorruptError::InvalidConfig {
                field: "repeat_run",
                message: format!("{}: expected 2..=10000", self.repeat_run),
            });
        }
        Ok(())
    }
}

/// Why a corruption did not apply to a melody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptError {
    /// The melody is too short for the corruption.
    #[error("{corruption}: needs at least {needed} {unit}, the melody has {found}")]
    TooShort {
        /// The corruption.
        corruption: Corruption,
        /// How many it needs.
        needed: usize,
        /// How many the melody has.
        found: usize,
        /// What is counted (`notes`, `bars`, `pitches`).
        unit: &'static str,
    },
    /// The corruption would return the melody unchanged.
    #[error("{corruption}: would leave the melody unchanged ({reason})")]
    Unchanged {
        /// The corruption.
        corruption: Corruption,
        /// Why.
        reason: &'static str,
    },
    /// The melody is not valid in the encoding.
    #[error("{corruption}: {message}")]
    Encoding {
        /// The corruption.
        corruption: Corruption,
        /// The encoding's error.
        message: String,
    },
    /// A configuration field is out of range.
    #[error("invalid corruption config field '{field}': {message}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is expected.
        message: String,
    },
}

/// Applies `corruption` to `events` (in `encoding`, with `steps_per_bar` steps per bar),
/// drawing randomness from `rng`. The result has the same length as `events`.
pub fn corrupt<R: Rng + ?Sized>(
    corruption: Corruption,
    events: &[Event],
    encoding: EventEncoding,
    steps_per_bar: usize,
    config: &CorruptConfig,
    rng: &mut R,
) -> Result<Vec<Event>, CorruptError> {
    let encoding_error = |e: cadenza_env::encoding::EncodingError| CorruptError::Encoding {
        corruption,
        message: e.to_string(),
    };
    let too_short = |needed: usize, found: usize, unit: &'static str| CorruptError::TooShort {
        corruption,
        needed,
        found,
        unit,
    };
    if corruption == Corruption::ShuffledBars {
        return shuffle_bars(events, steps_per_bar, rng).ok_or_else(|| {
            let bars = events.len() / steps_per_bar.max(1);
            if bars < 2 {
                too_short(2, bars, "bars")
            } else {
                CorruptError::Unchanged {
                    corruption,
                    reason: "all bars are the same",
                }
            }
        });
    }
    let length = events.len();
    let mut notes = encoding.to_notes(events).map_err(encoding_error)?;
    let n = notes.len();
    match corruption {
        Corruption::RandomNotes => {
            let k = config.random_notes;
            if n < k {
                return Err(too_short(k, n, "notes"));
            }
            let (lo, hi) = (encoding.min_pitch(), encoding.max_pitch());
            for index in rand::seq::index::sample(rng, n, k) {
                let old = notes[index].pitch;
                // Draw from the range without the old pitch, so every chosen note changes.
                let mut pitch = rng.random_range(lo..hi);
                if pitch >= old {
                    pitch += 1;
                }
                notes[index].pitch = pitch;
            }
        }
        Corruption::Reversed => {
            if n < 2 {
                return Err(too_short(2, n, "notes"));
            }
            let end = length as u32;
            notes.reverse();
            for note in &mut notes {
                note.start = end.saturating_sub(note.start + note.duration);
            }
        }
        Corruption::RandomWalk => {
            if n < 2 {
                return Err(too_short(2, n, "notes"));
            }
            let lo = notes.iter().map(|x| x.pitch).min().unwrap_or(0);
            let hi = notes.iter().map(|x| x.pitch).max().unwrap_or(0);
            if hi == lo {
                return Err(too_short(2, 1, "distinct pitches"));
            }
            let (lo, hi) = (i32::from(lo), i32::from(hi));
            let mut pitch = rng.random_range(lo..=hi);
            for note in &mut notes {
                note.pitch = pitch as u8;
                let step = [-2, -1, 1, 2][rng.random_range(0..4)];
                pitch += step;
                if pitch < lo {
                    pitch = (2 * lo - pitch).min(hi);
                } else if pitch > hi {
                    pitch = (2 * hi - pitch).max(lo);
                }
            }
        }
        Corruption::RepeatedNotes => {
            let run = config.repeat_run;
            if n < run {
                return Err(too_short(run, n, "notes"));
            }
            for group in notes.chunks_mut(run) {
                let pitch = group[0].pitch;
                for note in group {
                    note.pitch = pitch;
                }
            }
        }
        Corruption::Tritone | Corruption::Semitone => {
            if n < 1 {
                return Err(too_short(1, n, "notes"));
            }
            let shift = if corruption == Corruption::Tritone {
                6
            } else {
                1
            };
            let (lo, hi) = (
                i32::from(encoding.min_pitch()),
                i32::from(encoding.max_pitch()),
            );
            for note in &mut notes {
                let mut p = i32::from(note.pitch) + shift;
                while p > hi {
                    p -= 12;
                }
                while p < lo {
                    p += 12;
                }
                // An encoding spans at least one pitch; a span under an octave may still
                // leave `p` outside, so clamp rather than fail.
                note.pitch = p.clamp(lo, hi) as u8;
            }
        }
        Corruption::FlatRhythm => {
            if n < 2 {
                return Err(too_short(2, n, "notes"));
            }
            let d = (length / n).max(1) as u32;
            for (i, note) in notes.iter_mut().enumerate() {
                note.start = i as u32 * d;
                note.duration = d;
            }
        }
        Corruption::Trill => {
            let run = config.repeat_run;
            if n < run {
                return Err(too_short(run, n, "notes"));
            }
            let hi = encoding.max_pitch();
            for group in notes.chunks_mut(run) {
                let base = group[0].pitch;
                let other = if base.saturating_add(2) <= hi {
                    base + 2
                } else {
                    base.saturating_sub(2).max(encoding.min_pitch())
                };
                for (i, note) in group.iter_mut().enumerate() {
                    note.pitch = if i % 2 == 0 { base } else { other };
                }
            }
        }
        Corruption::Sixteenths => {
            if n < 2 {
                return Err(too_short(2, n, "notes"));
            }
            for (i, note) in notes.iter_mut().enumerate() {
                note.start = i as u32;
                note.duration = 1;
            }
        }
        Corruption::ShuffledBars => unreachable!("handled above"),
    }
    let out = encoding
        .from_notes(&notes, length)
        .map_err(encoding_error)?;
    if out == events {
        return Err(CorruptError::Unchanged {
            corruption,
            reason: match corruption {
                Corruption::FlatRhythm => "its rhythm is already flat",
                Corruption::Sixteenths => "it is already a wall of one-step notes",
                Corruption::Reversed => "it is a palindrome",
                _ => "the change cancels out",
            },
        });
    }
    Ok(out)
}

/// [`corrupt`] with its own generator seeded by `seed`: the same seed gives the same result.
pub fn corrupt_seeded(
    corruption: Corruption,
    events: &[Event],
    encoding: EventEncoding,
    steps_per_bar: usize,
    config: &CorruptConfig,
    seed: u64,
) -> Result<Vec<Event>, CorruptError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    corrupt(
        corruption,
        events,
        encoding,
        steps_per_bar,
        config,
        &mut rng,
    )
}

/// Whole bars in a random order that changes the melody; `None` when there are fewer than two
/// bars or every order gives the same melody.
fn shuffle_bars<R: Rng + ?Sized>(
    events: &[Event],
    steps_per_bar: usize,
    rng: &mut R,
) -> Option<Vec<Event>> {
    let spb = steps_per_bar.max(1);
    let bars = events.len() / spb;
    if bars < 2 {
        return None;
    }
    let first = &events[..spb];
    if events[..bars * spb].chunks(spb).all(|bar| bar == first) {
        return None;
    }
    let mut order: Vec<usize> = (0..bars).collect();
    loop {
        order.shuffle(rng);
        let mut out = Vec::with_capacity(events.len());
        for &bar in &order {
            out.extend_from_slice(&events[bar * spb..(bar + 1) * spb]);
        }
        out.extend_from_slice(&events[bars * spb..]);
        // Two distinct bars exist, so some order differs; a few draws find one.
        if out != events {
            return Some(out);
        }
    }
}

/// Notes of a melody (a helper for tests and callers that check what a corruption did).
pub fn notes_of(events: &[Event], encoding: EventEncoding) -> Vec<Note> {
    encoding.to_notes(events).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::encoding::{HOLD, REST};

    const ENC: EventEncoding = EventEncoding::RL_TUNER_38;

    /// Two bars of 4/4 sixteenths in C major with varied rhythm and a rest.
    fn tune() -> Vec<Event> {
        let notes = [
            (60, 0, 4),
            (64, 4, 2),
            (67, 6, 2),
            (72, 8, 4),
            (71, 12, 2),
            (69, 16, 2),
            (67, 18, 2),
            (65, 20, 4),
            (64, 24, 2),
            (62, 26, 1),
            (60, 28, 4),
        ];
        let notes: Vec<Note> = notes
            .iter()
            .map(|&(pitch, start, duration)| Note {
                pitch,
                start,
                duration,
            })
            .collect();
        ENC.from_notes(&notes, 32).unwrap()
    }

    fn run(c: Corruption, events: &[Event], seed: u64) -> Result<Vec<Event>, CorruptError> {
        corrupt_seeded(c, events, ENC, 16, &CorruptConfig::default(), seed)
    }

    #[test]
    fn every_corruption_changes_keeps_length_and_is_seeded() {
        let melody = tune();
        for c in Corruption::ALL {
            let cfg = CorruptConfig {
                random_notes: 3,
                repeat_run: 4,
            };
            let a = corrupt_seeded(c, &melody, ENC, 16, &cfg, 7).unwrap();
            let b = corrupt_seeded(c, &melody, ENC, 16, &cfg, 7).unwrap();
            assert_eq!(a, b, "{c}: same seed, same result");
            assert_eq!(a.len(), melody.len(), "{c}");
            assert_ne!(a, melody, "{c}");
            assert!(a.iter().all(|&e| ENC.contains(e as usize)), "{c}");
            assert_eq!(Corruption::from_name(c.name()), Some(c));
        }
    }

    #[test]
    fn random_notes_changes_exactly_k_pitches() {
        let melody = tune();
        let before = notes_of(&melody, ENC);
        for seed in 0..20 {
            let after = notes_of(&run(Corruption::RandomNotes, &melody, seed).unwrap(), ENC);
            assert_eq!(before.len(), after.len());
            let changed = before
                .iter()
                .zip(&after)
                .filter(|(a, b)| a.pitch != b.pitch)
                .count();
            assert_eq!(changed, 8, "seed {seed}");
            assert!(before
                .iter()
                .zip(&after)
                .all(|(a, b)| (a.start, a.duration) == (b.start, b.duration)));
        }
    }

    #[test]
    fn transpositions_shift_every_pitch() {
        let melody = tune();
        let before = notes_of(&melody, ENC);
        for (c, shift) in [(Corruption::Tritone, 6), (Corruption::Semitone, 1)] {
            let after = notes_of(&run(c, &melody, 0).unwrap(), ENC);
            for (a, b) in before.iter().zip(&after) {
                assert_eq!(
                    (i32::from(b.pitch) - i32::from(a.pitch)).rem_euclid(12),
                    shift
                );
                assert_eq!((a.start, a.duration), (b.start, b.duration));
            }
        }
        // B5, the top of the encoding, folds down an octave.
        let top = [37, HOLD];
        assert_eq!(run(Corruption::Semitone, &top, 0).unwrap(), [26, HOLD]);
    }

    #[test]
    fn reversal_mirrors_the_timeline() {
        let melody = tune();
        let after = notes_of(&run(Corruption::Reversed, &melody, 0).unwrap(), ENC);
        let before = notes_of(&melody, ENC);
        let first = before.first().unwrap();
        let last = after.last().unwrap();
        assert_eq!(first.pitch, last.pitch);
        assert_eq!(last.start + last.duration, 32 - first.start);
        let pitches_back: Vec<u8> = after.iter().rev().map(|n| n.pitch).collect();
        let pitches: Vec<u8> = before.iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, pitches_back);
    }

    #[test]
    fn shuffled_bars_permutes_whole_bars() {
        let melody = tune();
        let after = run(Corruption::ShuffledBars, &melody, 3).unwrap();
        // Two bars, so the only other order swaps them.
        assert_eq!(&after[..16], &melody[16..]);
        assert_eq!(&after[16..], &melody[..16]);
    }

    #[test]
    fn random_walk_keeps_rhythm_and_range() {
        let melody = tune();
        let before = notes_of(&melody, ENC);
        let after = notes_of(&run(Corruption::RandomWalk, &melody, 5).unwrap(), ENC);
        let (lo, hi) = (60, 72);
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            assert_eq!((a.start, a.duration), (b.start, b.duration));
            assert!((lo..=hi).contains(&b.pitch));
            if i > 0 {
                let step = (i32::from(b.pitch) - i32::from(after[i - 1].pitch)).abs();
                assert!((0..=2).contains(&step), "step {step}");
            }
        }
    }

    #[test]
    fn repeated_notes_and_flat_rhythm() {
        let melody = tune();
        let cfg = CorruptConfig {
            random_notes: 8,
            repeat_run: 4,
        };
        let rep = notes_of(
            &corrupt_seeded(Corruption::RepeatedNotes, &melody, ENC, 16, &cfg, 0).unwrap(),
            ENC,
        );
        for group in rep.chunks(4) {
            assert!(group.iter().all(|n| n.pitch == group[0].pitch));
        }
        let flat = run(Corruption::FlatRhythm, &melody, 0).unwrap();
        let notes = notes_of(&flat, ENC);
        assert_eq!(notes.len(), 11);
        assert!(notes.iter().all(|n| n.duration == 2)); // 32 / 11 = 2 steps each
        assert!(!flat[..22].contains(&REST));
    }

    #[test]
    fn too_short_or_unchanged_melodies_are_errors() {
        let one_note = [14, HOLD, HOLD, HOLD];
        for c in [
            Corruption::RandomNotes,
            Corruption::Reversed,
            Corruption::RandomWalk,
            Corruption::RepeatedNotes,
            Corruption::FlatRhythm,
            Corruption::ShuffledBars,
        ] {
            let err = run(c, &one_note, 0).unwrap_err();
            assert!(matches!(err, CorruptError::TooShort { .. }), "{c}: {err}");
            assert!(err.to_string().contains(c.name()), "{err}");
        }
        assert!(run(Corruption::Semitone, &[], 0).is_err());
        // Already flat: eighth notes with no rests.
        let flat = [14, HOLD, 16, HOLD, 18, HOLD, 19, HOLD];
        assert!(matches!(
            run(Corruption::FlatRhythm, &flat, 0),
            Err(CorruptError::Unchanged { .. })
        ));
        // Identical bars cannot be shuffled into anything new.
        let same = [14, HOLD, HOLD, HOLD, 14, HOLD, HOLD, HOLD];
        assert!(corrupt_seeded(
            Corruption::ShuffledBars,
            &same,
            ENC,
            4,
            &CorruptConfig::default(),
            0
        )
        .is_err());
        assert!(CorruptConfig {
            random_notes: 0,
            repeat_run: 8
        }
        .validate()
        .is_err());
    }
}
