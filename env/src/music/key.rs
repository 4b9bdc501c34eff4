//! Modes (scale shapes) and keys (a tonic plus a mode).

use super::error::{MusicError, Result};
use super::pitch::{parse_note_prefix, PitchClass};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A scale shape, as semitones above the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Mode {
    /// Ionian: 0 2 4 5 7 9 11.
    Major,
    /// Aeolian: 0 2 3 5 7 8 10.
    NaturalMinor,
    /// 0 2 3 5 7 8 11.
    HarmonicMinor,
    /// The ascending (jazz) melodic minor: 0 2 3 5 7 9 11.
    MelodicMinor,
    /// 0 2 3 5 7 9 10.
    Dorian,
    /// 0 1 3 5 7 8 10.
    Phrygian,
    /// 0 2 4 6 7 9 11.
    Lydian,
    /// 0 2 4 5 7 9 10.
    Mixolydian,
    /// 0 1 3 5 6 8 10.
    Locrian,
    /// 0 2 4 7 9.
    MajorPentatonic,
    /// 0 3 5 7 10.
    MinorPentatonic,
    /// The six-note minor blues scale: 0 3 5 6 7 10.
    Blues,
}

impl Mode {
    /// Every mode, in declaration order.
    pub const ALL: [Mode; 12] = [
        Mode::Major,
        Mode::NaturalMinor,
        Mode::HarmonicMinor,
        Mode::MelodicMinor,
        Mode::Dorian,
        Mode::Phrygian,
        Mode::Lydian,
        Mode::Mixolydian,
        Mode::Locrian,
        Mode::MajorPentatonic,
        Mode::MinorPentatonic,
        Mode::Blues,
    ];

    /// Semitones above the tonic, ascending, starting with 0.
    pub fn intervals(self) -> &'static [u8] {
        match self {
            Mode::Major => &[0, 2, 4, 5, 7, 9, 11],
            Mode::NaturalMinor => &[0, 2, 3, 5, 7, 8, 10],
            Mode::HarmonicMinor => &[0, 2, 3, 5, 7, 8, 11],
            Mode::MelodicMinor => &[0, 2, 3, 5, 7, 9, 11],
            Mode::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Mode::Phrygian => &[0, 1, 3, 5, 7, 8, 10],
            Mode::Lydian => &[0, 2, 4, 6, 7, 9, 11],
            Mode::Mixolydian => &[0, 2, 4, 5, 7, 9, 10],
            Mode::Locrian => &[0, 1, 3, 5, 6, 8, 10],
            Mode::MajorPentatonic => &[0, 2, 4, 7, 9],
            Mode::MinorPentatonic => &[0, 3, 5, 7, 10],
            Mode::Blues => &[0, 3, 5, 6, 7, 10],
        }
    }

    /// The canonical kebab-case name, as [`fmt::Display`] writes it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::NaturalMinor => "natural-minor",
            Mode::HarmonicMinor => "harmonic-minor",
            Mode::MelodicMinor => "melodic-minor",
            Mode::Dorian => "dorian",
            Mode::Phrygian => "phrygian",
            Mode::Lydian => "lydian",
            Mode::Mixolydian => "mixolydian",
            Mode::Locrian => "locrian",
            Mode::MajorPentatonic => "major-pentatonic",
            Mode::MinorPentatonic => "minor-pentatonic",
            Mode::Blues => "blues",
        }
    }

    /// The scale over C as a pitch-class mask (bit 0 = C).
    pub fn mask(self) -> u16 {
        self.intervals().iter().fold(0, |m, &i| m | 1 << i)
    }

    /// Semitones from the tonic of the major scale whose key signature this mode borrows,
    /// up to the tonic of this mode (D dorian borrows C major's: 2).
    fn offset_from_relative_major(self) -> u8 {
        match self {
            Mode::Major | Mode::MajorPentatonic => 0,
            Mode::Dorian => 2,
            Mode::Phrygian => 4,
            Mode::Lydian => 5,
            Mode::Mixolydian => 7,
            // Minor-family scales are written with the natural minor's signature.
            Mode::NaturalMinor
            | Mode::HarmonicMinor
            | Mode::MelodicMinor
            | Mode::MinorPentatonic
            | Mode::Blues => 9,
            Mode::Locrian => 11,
        }
    }

    fn expected() -> String {
        let names: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
        format!(
            "{} (also minor, ionian, aeolian, pentatonic; any case, with spaces or underscores)",
            names.join(", ")
        )
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let normal: String = s
            .trim()
            .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-")
            .to_lowercase();
        let mode = match normal.as_str() {
            "ionian" => Mode::Major,
            "minor" | "aeolian" => Mode::NaturalMinor,
            "pentatonic" => Mode::MajorPentatonic,
            other => Mode::ALL
                .into_iter()
                .find(|m| m.name() == other)
                .ok_or_else(|| MusicError::UnknownMode {
                    text: s.to_string(),
                    expected: Mode::expected(),
                })?,
        };
        Ok(mode)
    }
}

/// Key signatures (sharps, negative = flats) of the major keys on C, Db, D, ... B: the
/// spelling with fewer accidentals, and F# (six sharps) rather than Gb.
const MAJOR_SIGNATURES: [i8; 12] = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5];

/// A tonic and a mode.
///
/// Parses `C major`, `A minor`, `Bb blues`, `D dorian`, `F# harmonic minor`, and the short
/// forms `C` (major), `Am` and `Amin` (natural minor). Displays as `A minor`,
/// `F# harmonic minor`, spelling the tonic with flats in flat keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key {
    /// The first degree.
    pub tonic: PitchClass,
    /// The scale shape.
    pub mode: Mode,
}

impl Key {
    /// The key on `tonic` in `mode`.
    pub fn new(tonic: PitchClass, mode: Mode) -> Self {
        Self { tonic, mode }
    }

    /// The scale's pitch classes as a mask (bit k = pitch class k, bit 0 = C).
    pub fn scale_mask(self) -> u16 {
        rotate_mask(self.mode.mask(), self.tonic.index())
    }

    /// Whether `pc` belongs to the scale.
    pub fn contains(self, pc: PitchClass) -> bool {
        self.scale_mask() & pc.bit() != 0
    }

    /// The 0-based scale degree of `pc` (0 = tonic), if it is in the scale.
    pub fn degree_of(self, pc: PitchClass) -> Option<usize> {
        self.mode
            .intervals()
            .iter()
            .position(|&i| self.tonic.transpose(i32::from(i)) == pc)
    }

    /// The pitch classes of the scale, from the tonic up.
    pub fn pitch_classes(self) -> Vec<PitchClass> {
        self.mode
            .intervals()
            .iter()
            .map(|&i| self.tonic.transpose(i32::from(i)))
            .collect()
    }

    /// The MIDI key signature, -7..=7 sharps (negative = flats).
    ///
    /// Major and natural minor have their own signatures; church modes take the signature of
    /// their relative major (D dorian: 0, E phrygian: 0, F lydian: 0); harmonic and melodic
    /// minor, minor pentatonic and blues take the natural minor's (A blues: 0); major
    /// pentatonic takes the major's. Enharmonic keys get the spelling with fewer accidentals,
    /// and F# major (six sharps) is preferred to Gb major, so the result is within -5..=6.
    pub fn key_signature_sharps(self) -> i8 {
        let relative_major = self
            .tonic
            .transpose(-i32::from(self.mode.offset_from_relative_major()));
        MAJOR_SIGNATURES[usize::from(relative_major.index())]
    }

    /// The major (or, if `minor`, natural minor) key of a MIDI key signature.
    pub fn from_key_signature(sharps: i8, minor: bool) -> Result<Self> {
        if !(-7..=7).contains(&sharps) {
            return Err(MusicError::InvalidKeySignature { sharps });
        }
        // Each sharp moves the tonic a fifth up.
        let major = PitchClass::wrapping(7 * i32::from(sharps));
        Ok(if minor {
            Self::new(major.transpose(9), Mode::NaturalMinor)
        } else {
            Self::new(major, Mode::Major)
        })
    }

    /// The same mode on a tonic `semitones` away.
    pub fn transpose(self, semitones: i32) -> Self {
        Self::new(self.tonic.transpose(semitones), self.mode)
    }
}

/// Rotates a 12-bit pitch-class mask up by `by` semitones.
pub(crate) fn rotate_mask(mask: u16, by: u8) -> u16 {
    let by = u32::from(by % 12);
    let mask = u32::from(mask & 0xFFF);
    // The result is masked to 12 bits, so the cast cannot truncate.
    (((mask << by) | (mask >> (12 - by))) & 0xFFF) as u16
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tonic = self.tonic.name(self.key_signature_sharps() < 0);
        let mode = match self.mode {
            Mode::NaturalMinor => "minor".to_string(),
            m => m.name().replace('-', " "),
        };
        write!(f, "{tonic} {mode}")
    }
}

impl FromStr for Key {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        let note = parse_note_prefix(text, false).ok_or_else(|| MusicError::InvalidKey {
            text: s.to_string(),
            reason: "expected a tonic A-G with optional accidentals, then a mode, like \
                     \"C major\", \"A minor\", \"Am\" or \"F# harmonic minor\""
                .to_string(),
        })?;
        let rest = text[note.len..].trim();
        let mode = match rest {
            "" | "M" | "maj" => Mode::Major,
            "m" | "min" => Mode::NaturalMinor,
            _ => rest.parse().map_err(|e| match e {
                MusicError::UnknownMode { text, expected } => MusicError::InvalidKey {
                    text: s.to_string(),
                    reason: format!("unknown mode {text:?}: expected one of {expected}"),
                },
                other => other,
            })?,
        };
        Ok(Self::new(note.pitch_class(), mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        s.parse().unwrap()
    }

    #[test]
    fn modes_parse_in_any_case_and_separator() {
        assert_eq!("major".parse::<Mode>().unwrap(), Mode::Major);
        assert_eq!("Minor".parse::<Mode>().unwrap(), Mode::NaturalMinor);
        assert_eq!("natural-minor".parse::<Mode>().unwrap(), Mode::NaturalMinor);
        assert_eq!(
            "Harmonic Minor".parse::<Mode>().unwrap(),
            Mode::HarmonicMinor
        );
        assert_eq!("melodic_minor".parse::<Mode>().unwrap(), Mode::MelodicMinor);
        assert_eq!("BLUES".parse::<Mode>().unwrap(), Mode::Blues);
        for m in Mode::ALL {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
            assert_eq!(m.intervals()[0], 0);
            assert!(m.intervals().windows(2).all(|w| w[0] < w[1] && w[1] < 12));
        }
        assert_eq!(Mode::Blues.intervals(), &[0, 3, 5, 6, 7, 10]);
        let err = "dorien".parse::<Mode>().unwrap_err().to_string();
        assert!(
            err.contains("dorien") && err.contains("mixolydian"),
            "{err}"
        );
    }

    #[test]
    fn keys_parse_long_and_short_forms() {
        assert_eq!(key("C major"), Key::new(PitchClass::C, Mode::Major));
        assert_eq!(key("C"), Key::new(PitchClass::C, Mode::Major));
        assert_eq!(key("A minor"), Key::new(PitchClass::A, Mode::NaturalMinor));
        assert_eq!(key("Am"), Key::new(PitchClass::A, Mode::NaturalMinor));
        assert_eq!(key("Bb blues").tonic.index(), 10);
        assert_eq!(key("Bb blues").mode, Mode::Blues);
        assert_eq!(key("D dorian").mode, Mode::Dorian);
        assert_eq!(key("F# harmonic minor").tonic.index(), 6);
        assert_eq!(key("F# harmonic minor").mode, Mode::HarmonicMinor);
        for bad in ["", "H major", "C majr", "Cbbb"] {
            let err = bad.parse::<Key>().unwrap_err();
            assert!(matches!(err, MusicError::InvalidKey { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("expected"), "{err}");
        }
    }

    #[test]
    fn display_round_trips_for_every_key() {
        for mode in Mode::ALL {
            for t in 0..12 {
                let k = Key::new(PitchClass::new(t).unwrap(), mode);
                assert_eq!(key(&k.to_string()), k, "{k}");
            }
        }
        assert_eq!(key("Bb major").to_string(), "Bb major");
        assert_eq!(key("a minor").to_string(), "A minor");
        assert_eq!(key("F# harmonic minor").to_string(), "F# harmonic minor");
    }

    #[test]
    fn scale_masks_and_degrees() {
        assert_eq!(key("C major").scale_mask(), 0b1010_1011_0101);
        assert_eq!(key("A minor").scale_mask(), key("C major").scale_mask());
        assert_eq!(key("G major").scale_mask().count_ones(), 7);
        assert!(key("G major").contains("F#".parse().unwrap()));
        assert!(!key("G major").contains(PitchClass::F));
        assert_eq!(key("D dorian").degree_of(PitchClass::A), Some(4));
        assert_eq!(key("D dorian").degree_of(PitchClass::D), Some(0));
        assert_eq!(key("C blues").degree_of("Gb".parse().unwrap()), Some(3));
        assert_eq!(key("C major").degree_of("C#".parse().unwrap()), None);
        assert_eq!(key("Eb major").pitch_classes()[1], PitchClass::F);
        assert_eq!(key("A minor").transpose(-2), key("G minor"));
    }

    #[test]
    fn key_signatures() {
        let sig = |s: &str| key(s).key_signature_sharps();
        assert_eq!(sig("C major"), 0);
        assert_eq!(sig("G major"), 1);
        assert_eq!(sig("F major"), -1);
        assert_eq!(sig("Eb major"), -3);
        assert_eq!(sig("E minor"), 1);
        assert_eq!(sig("C minor"), -3);
        assert_eq!(sig("D dorian"), 0);
        assert_eq!(sig("G mixolydian"), 0);
        assert_eq!(sig("F lydian"), 0);
        assert_eq!(sig("B locrian"), 0);
        assert_eq!(sig("A blues"), 0);
        assert_eq!(sig("E harmonic minor"), 1);
        assert_eq!(sig("G major pentatonic"), 1);
        for sharps in -7..=7 {
            for minor in [false, true] {
                let k = Key::from_key_signature(sharps, minor).unwrap();
                // Seven sharps or flats name the same keys as five flats or sharps.
                let expect = match sharps {
                    7 => -5,
                    -7 => 5,
                    -6 => 6,
                    s => s,
                };
                assert_eq!(k.key_signature_sharps(), expect, "{sharps} {minor}");
            }
        }
        assert_eq!(Key::from_key_signature(-3, true).unwrap(), key("C minor"));
        assert_eq!(
            Key::from_key_signature(8, false),
            Err(MusicError::InvalidKeySignature { sharps: 8 })
        );
    }
}
