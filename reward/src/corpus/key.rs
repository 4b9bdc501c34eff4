//! Key finding: the Krumhansl–Schmuckler algorithm with the Krumhansl–Kessler profiles.
//!
//! A file's key signature says which major key (or its relative minor) the notation uses; a
//! MIDI file without one says nothing, and transposing it to a common tonic needs a guess.
//! Krumhansl and Schmuckler's guess (Krumhansl, *Cognitive Foundations of Musical Pitch*,
//! 1990, ch. 4): add up how long each pitch class sounds, and pick the key whose tonal
//! hierarchy, the probe-tone ratings of Krumhansl & Kessler (1982) rotated to that tonic,
//! correlates best (Pearson) with those durations. Durations rather than note counts, as in
//! the original: a held tonic weighs more than a passing note.
//!
//! ```
//! use cadenza_env::encoding::Note;
//! use cadenza_reward::corpus::find_key;
//!
//! // The C major scale, tonic held at both ends.
//! let notes: Vec<Note> = [60, 62, 64, 65, 67, 69, 71, 72]
//!     .iter()
//!     .enumerate()
//!     .map(|(i, &pitch)| Note { pitch, start: 2 * i as u32, duration: if i % 7 == 0 { 4 } else { 2 } })
//!     .collect();
//! let found = find_key(&notes).unwrap();
//! assert_eq!(found.key.to_string(), "C major");
//! assert_eq!(found.key.sharps(), 0);
//! ```

use std::fmt;

use cadenza_env::encoding::Note;
use cadenza_env::midi::KeySignature;
use serde::{Deserialize, Serialize};

/// Krumhansl & Kessler's (1982) major-key profile, tonic first.
pub const MAJOR_PROFILE: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
/// Krumhansl & Kessler's (1982) minor-key profile, tonic first.
pub const MINOR_PROFILE: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

const NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// A key: a tonic pitch class and a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    /// Pitch class of the tonic, 0 = C … 11 = B.
    pub tonic: u8,
    /// Minor (true) or major.
    pub minor: bool,
}

impl Key {
    /// The key a MIDI key signature names (its major key, or the relative minor).
    pub fn of_signature(signature: KeySignature) -> Self {
        // Each sharp moves the major tonic a fifth (7 semitones) up.
        let major = (7 * i32::from(signature.sharps)).rem_euclid(12);
        let tonic = if signature.minor {
            (major + 9) % 12
        } else {
            major
        };
        Self {
            tonic: tonic as u8,
            minor: signature.minor,
        }
    }

    /// Sharps (positive) or flats (negative) of this key's signature, -5..=6 (F# major and
    /// D# minor are written with six sharps, not six flats).
    pub fn sharps(self) -> i8 {
        let major = if self.minor {
            (self.tonic + 3) % 12
        } else {
            self.tonic
        };
        // 7 is its own inverse mod 12: sharps = 7 · tonic (mod 12).
        let sharps = (7 * i32::from(major)) % 12;
        (if sharps > 6 { sharps - 12 } else { sharps }) as i8
    }

    /// The MIDI key signature of this key.
    pub fn to_signature(self) -> KeySignature {
        KeySignature {
            sharps: self.sharps(),
            minor: self.minor,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.minor { "minor" } else { "major" };
        write!(f, "{} {mode}", NAMES[usize::from(self.tonic % 12)])
    }
}

/// The key [`find_key`] picked and how clearly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyEstimate {
    /// The best-correlated key.
    pub key: Key,
    /// Its Pearson correlation with the pitch-class durations, -1..=1.
    pub correlation: f64,
    /// The second-best key.
    pub runner_up: Key,
    /// The second-best correlation.
    pub runner_up_correlation: f64,
}

/// Total duration (in steps) of each pitch class in `notes`.
pub fn pitch_class_durations(notes: &[Note]) -> [f64; 12] {
    let mut durations = [0.0; 12];
    for note in notes {
        durations[usize::from(note.pitch % 12)] += f64::from(note.duration);
    }
    durations
}

/// The Krumhansl–Schmuckler key of `notes` (see the module docs): `None` when there are no
/// notes or every pitch class sounds equally long (no key correlates better than another).
/// Ties go to the first key in the order C major, C minor, C# major, …
pub fn find_key(notes: &[Note]) -> Option<KeyEstimate> {
    find_key_of_durations(&pitch_class_durations(notes))
}

/// [`find_key`] of given pitch-class durations (index 0 = C).
pub fn find_key_of_durations(durations: &[f64; 12]) -> Option<KeyEstimate> {
    let mut ranked: Vec<(f64, Key)> = Vec::with_capacity(24);
    for tonic in 0..12u8 {
        for (minor, profile) in [(false, &MAJOR_PROFILE), (true, &MINOR_PROFILE)] {
            // The profile rotated so that its tonic sits on `tonic`.
            let rotated: [f64; 12] =
                std::array::from_fn(|pc| profile[(pc + 12 - usize::from(tonic)) % 12]);
            let r = pearson(durations, &rotated)?;
            ranked.push((r, Key { tonic, minor }));
        }
    }
    // Stable: equal correlations keep the C-major-first order.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (correlation, key) = ranked[0];
    let (runner_up_correlation, runner_up) = ranked[1];
    Some(KeyEstimate {
        key,
        correlation,
        runner_up,
        runner_up_correlation,
    })
}

/// Pearson's correlation; `None` when either side is constant (or not finite).
fn pearson(x: &[f64; 12], y: &[f64; 12]) -> Option<f64> {
    let mean = |v: &[f64; 12]| v.iter().sum::<f64>() / 12.0;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn melody(pitches: &[(u8, u32)]) -> Vec<Note> {
        let mut start = 0;
        pitches
            .iter()
            .map(|&(pitch, duration)| {
                let note = Note {
                    pitch,
                    start,
                    duration,
                };
                start += duration;
                note
            })
            .collect()
    }

    #[test]
    fn c_major_scale_is_c_major() {
        let notes = melody(&[
            (60, 4),
            (62, 2),
            (64, 2),
            (65, 2),
            (67, 2),
            (69, 2),
            (71, 2),
            (72, 4),
        ]);
        let found = find_key(&notes).unwrap();
        assert_eq!(
            found.key,
            Key {
                tonic: 0,
                minor: false
            }
        );
        assert!(found.correlation > found.runner_up_correlation);
        assert!(found.correlation > 0.7, "{found:?}");
    }

    #[test]
    fn a_minor_melody_is_a_minor() {
        // A harmonic-minor line that leans on A, C and E, with the leading tone G#.
        let notes = melody(&[
            (69, 4),
            (72, 2),
            (76, 2),
            (74, 2),
            (72, 2),
            (71, 2),
            (68, 2),
            (69, 4),
            (64, 2),
            (69, 6),
        ]);
        let found = find_key(&notes).unwrap();
        assert_eq!(found.key.to_string(), "A minor");
        assert_eq!(found.key.sharps(), 0);
    }

    #[test]
    fn transposed_melodies_move_the_key_with_them() {
        let base = [
            (60, 4),
            (64, 2),
            (67, 2),
            (65, 2),
            (62, 2),
            (59, 2),
            (60, 4),
        ];
        for shift in 0..12u8 {
            let moved: Vec<(u8, u32)> = base.iter().map(|&(p, d)| (p + shift, d)).collect();
            let found = find_key(&melody(&moved)).unwrap();
            assert_eq!(
                found.key,
                Key {
                    tonic: shift,
                    minor: false
                },
                "shift {shift}"
            );
        }
    }

    #[test]
    fn no_notes_or_no_preference_gives_none() {
        assert!(find_key(&[]).is_none());
        let chromatic: Vec<(u8, u32)> = (60..72).map(|p| (p, 1)).collect();
        assert!(find_key(&melody(&chromatic)).is_none());
    }

    #[test]
    fn signatures_round_trip_through_keys() {
        for sharps in -5..=6 {
            for minor in [false, true] {
                let sig = KeySignature { sharps, minor };
                assert_eq!(Key::of_signature(sig).to_signature(), sig, "{sig:?}");
            }
        }
        let g = Key::of_signature(KeySignature {
            sharps: 1,
            minor: false,
        });
        assert_eq!(g.to_string(), "G major");
        let d_minor = Key::of_signature(KeySignature {
            sharps: -1,
            minor: true,
        });
        assert_eq!(d_minor.to_string(), "D minor");
        // Seven flats is the same pitch set as five sharps.
        let cb = Key::of_signature(KeySignature {
            sharps: -7,
            minor: false,
        });
        assert_eq!(cb.sharps(), 5);
    }
}
