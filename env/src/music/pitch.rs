//! Pitch classes, MIDI pitches and intervals.

use super::error::{MusicError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// A note name split into its parts: semitone of the letter above C, alteration in
/// semitones, and the number of bytes of text it took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoteName {
    pub letter: u8,
    pub alter: i8,
    pub len: usize,
}

impl NoteName {
    pub fn pitch_class(self) -> PitchClass {
        PitchClass::wrapping(i32::from(self.letter) + i32::from(self.alter))
    }
}

/// Reads a note name at the start of `text` and stops at the first character that cannot
/// continue it, so that callers can go on with an octave, a mode or a chord quality.
/// Accidentals are limited to a double sharp or flat and never mixed, which keeps `Cb`
/// (C flat) apart from the `b` of a following chord quality only by position, as musicians do.
/// Chord symbols (`in_chord`) take upper-case roots only and no `x` double sharp, which
/// would swallow the start of a misspelt quality such as `Cxyz7`.
pub(crate) fn parse_note_prefix(text: &str, in_chord: bool) -> Option<NoteName> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    let letter_char = if in_chord {
        first
    } else {
        first.to_ascii_uppercase()
    };
    let letter = match letter_char {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let mut alter = 0i8;
    let mut len = first.len_utf8();
    for (i, c) in chars {
        let step = match c {
            '#' | '♯' => 1,
            'x' | '𝄪' if !in_chord => 2,
            'b' | '♭' => -1,
            _ => break,
        };
        let next = alter + step;
        if next.abs() > 2 || (alter != 0 && alter.signum() != step.signum()) {
            break;
        }
        alter = next;
        len = i + c.len_utf8();
    }
    Some(NoteName { letter, alter, len })
}

/// One of the twelve pitch classes, 0 = C ... 11 = B, without an octave or a spelling.
///
/// Parses note names with up to two sharps or flats (`C`, `C#`, `Db`, `B#`, `Cb`, `Fx`,
/// `Ebb`); enharmonic spellings give the same class. Serialises as its sharp name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PitchClass(u8);

impl PitchClass {
    /// C.
    pub const C: Self = Self(0);
    /// D.
    pub const D: Self = Self(2);
    /// E.
    pub const E: Self = Self(4);
    /// F.
    pub const F: Self = Self(5);
    /// G.
    pub const G: Self = Self(7);
    /// A.
    pub const A: Self = Self(9);
    /// B.
    pub const B: Self = Self(11);

    /// The pitch class `value` (0 = C), which must be below 12.
    pub fn new(value: u8) -> Result<Self> {
        if value < 12 {
            Ok(Self(value))
        } else {
            Err(MusicError::PitchClassOutOfRange {
                value: i32::from(value),
            })
        }
    }

    /// The pitch class of any number of semitones above C, negative numbers included.
    pub fn wrapping(semitones: i32) -> Self {
        // rem_euclid(12) is in 0..12, so the cast cannot truncate.
        Self(semitones.rem_euclid(12) as u8)
    }

    /// Semitones above C, 0..12.
    pub fn index(self) -> u8 {
        self.0
    }

    /// This class's bit in a 12-bit pitch-class mask (bit 0 = C).
    pub fn bit(self) -> u16 {
        1 << self.0
    }

    /// The common name: sharps (`C#`) or flats (`Db`) for the black keys.
    pub fn name(self, prefer_flats: bool) -> &'static str {
        let names = if prefer_flats {
            &FLAT_NAMES
        } else {
            &SHARP_NAMES
        };
        names[usize::from(self.0)]
    }

    /// The pitch class `semitones` above (or below, if negative) this one.
    pub fn transpose(self, semitones: i32) -> Self {
        Self::wrapping(i32::from(self.0) + semitones)
    }
}

impl fmt::Display for PitchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name(false))
    }
}

impl FromStr for PitchClass {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        match parse_note_prefix(text, false) {
            Some(note) if note.len == text.len() => Ok(note.pitch_class()),
            _ => Err(MusicError::InvalidNoteName {
                text: s.to_string(),
            }),
        }
    }
}

/// A MIDI pitch, 0..=127, in scientific octave numbering (C4 = 60, C-1 = 0, G9 = 127).
///
/// Parses `C#4`, `Bb3`, `C-1`, `B#3` (= C4) or a bare MIDI number such as `60`; displays
/// with sharps (`C#4`). Serialises as the MIDI number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Pitch(u8);

impl Pitch {
    /// Middle C, MIDI 60.
    pub const MIDDLE_C: Self = Self(60);

    /// The pitch with MIDI number `midi`, which must be at most 127.
    pub fn new(midi: u8) -> Result<Self> {
        Self::from_i32(i32::from(midi))
    }

    fn from_i32(midi: i32) -> Result<Self> {
        u8::try_from(midi)
            .ok()
            .filter(|&m| m <= 127)
            .map(Self)
            .ok_or(MusicError::PitchOutOfRange { value: midi })
    }

    /// The MIDI number.
    pub fn midi(self) -> u8 {
        self.0
    }

    /// The pitch class.
    pub fn pitch_class(self) -> PitchClass {
        PitchClass(self.0 % 12)
    }

    /// The scientific octave number: -1 for MIDI 0..12, 4 for middle C's octave.
    pub fn octave(self) -> i8 {
        // At most 127 / 12 = 10, so the cast cannot truncate.
        (self.0 / 12) as i8 - 1
    }

    /// The name with octave, spelled with sharps or flats (`C#4`, `Db4`).
    pub fn name(self, prefer_flats: bool) -> String {
        format!("{}{}", self.pitch_class().name(prefer_flats), self.octave())
    }

    /// The pitch `semitones` away, if it is still a MIDI pitch.
    pub fn transpose(self, semitones: i32) -> Result<Self> {
        Self::from_i32(i32::from(self.0).saturating_add(semitones))
    }
}

impl fmt::Display for Pitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name(false))
    }
}

impl FromStr for Pitch {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        let invalid = |reason: &str| MusicError::InvalidPitch {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            let midi: i32 = text
                .parse()
                .map_err(|_| invalid("expected a MIDI number 0..=127 or a name like C#4"))?;
            return Self::from_i32(midi);
        }
        let note = parse_note_prefix(text, false).ok_or_else(|| {
            invalid("expected a note name A-G with accidentals and an octave, like C#4, Bb3 or C-1, or a MIDI number 0..=127")
        })?;
        let octave: i32 = text[note.len..].parse().map_err(|_| {
            invalid("expected an octave number after the note name, like C#4, Bb3 or C-1")
        })?;
        // The octave belongs to the letter, so B#3 is C4 and Cb4 is B3.
        let midi = octave
            .checked_add(1)
            .and_then(|o| o.checked_mul(12))
            .and_then(|m| m.checked_add(i32::from(note.letter) + i32::from(note.alter)))
            .ok_or_else(|| invalid("octave out of range: expected -1..=9"))?;
        Self::from_i32(midi)
            .map_err(|_| invalid("outside MIDI's range: expected C-1..=G9 (MIDI 0..=127)"))
    }
}

impl TryFrom<u8> for Pitch {
    type Error = MusicError;
    fn try_from(midi: u8) -> Result<Self> {
        Self::new(midi)
    }
}

impl From<Pitch> for u8 {
    fn from(p: Pitch) -> u8 {
        p.0
    }
}

/// A signed distance in semitones (positive = upward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(i8);

const SIMPLE_NAMES: [&str; 12] = [
    "unison",
    "minor second",
    "major second",
    "minor third",
    "major third",
    "perfect fourth",
    "tritone",
    "perfect fifth",
    "minor sixth",
    "major sixth",
    "minor seventh",
    "major seventh",
];

const COMPOUND_NAMES: [&str; 12] = [
    "octave",
    "minor ninth",
    "major ninth",
    "minor tenth",
    "major tenth",
    "perfect eleventh",
    "augmented eleventh",
    "perfect twelfth",
    "minor thirteenth",
    "major thirteenth",
    "minor fourteenth",
    "major fourteenth",
];

impl Interval {
    /// The interval of `semitones` semitones.
    pub fn new(semitones: i8) -> Self {
        Self(semitones)
    }

    /// The interval from `from` to `to` (positive when `to` is higher).
    pub fn between(from: Pitch, to: Pitch) -> Self {
        // Both are 0..=127, so the difference fits an i8.
        Self(to.0 as i8 - from.0 as i8)
    }

    /// Signed size in semitones.
    pub fn semitones(self) -> i8 {
        self.0
    }

    /// Whether the interval goes down.
    pub fn is_descending(self) -> bool {
        self.0 < 0
    }

    /// A step: one or two semitones either way.
    pub fn is_step(self) -> bool {
        matches!(self.0.unsigned_abs(), 1 | 2)
    }

    /// A leap: more than two semitones either way.
    pub fn is_leap(self) -> bool {
        self.0.unsigned_abs() > 2
    }

    /// The name of the interval's size, whatever its direction: "perfect fifth", "octave",
    /// "major ninth" up to "major fourteenth", "two octaves", then "3 octaves and a minor
    /// third" and so on. Sizes are named by semitones, so 6 is always "tritone".
    pub fn name(self) -> String {
        let size = usize::from(self.0.unsigned_abs());
        match size {
            0..=11 => SIMPLE_NAMES[size].to_string(),
            12..=23 => COMPOUND_NAMES[size - 12].to_string(),
            _ if size.is_multiple_of(12) => format!("{} octaves", number_word(size / 12)),
            _ => format!(
                "{} octaves and a {}",
                number_word(size / 12),
                SIMPLE_NAMES[size % 12]
            ),
        }
    }
}

fn number_word(n: usize) -> String {
    match n {
        2 => "two".to_string(),
        3 => "three".to_string(),
        4 => "four".to_string(),
        _ => n.to_string(),
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_descending() {
            write!(f, "descending {}", self.name())
        } else {
            f.write_str(&self.name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pc(s: &str) -> u8 {
        s.parse::<PitchClass>().unwrap().index()
    }

    #[test]
    fn pitch_class_names_parse_with_enharmonics() {
        assert_eq!(pc("C"), 0);
        assert_eq!(pc("C#"), 1);
        assert_eq!(pc("Db"), 1);
        assert_eq!(pc("B#"), 0);
        assert_eq!(pc("Cb"), 11);
        assert_eq!(pc("E#"), 5);
        assert_eq!(pc("Fb"), 4);
        assert_eq!(pc("Fx"), 7);
        assert_eq!(pc("F##"), 7);
        assert_eq!(pc("Ebb"), 2);
        assert_eq!(pc("bb"), 10);
        assert_eq!(pc("B♭"), 10);
        for bad in ["", "H", "C#b", "Cbbb", "C4", "#"] {
            let err = bad.parse::<PitchClass>().unwrap_err();
            assert!(
                matches!(&err, MusicError::InvalidNoteName { text } if text == bad),
                "{bad}: {err}"
            );
        }
        assert!(PitchClass::new(12).is_err());
    }

    #[test]
    fn pitch_class_spelling() {
        let cs = PitchClass::wrapping(13);
        assert_eq!(cs.name(false), "C#");
        assert_eq!(cs.name(true), "Db");
        assert_eq!(PitchClass::wrapping(-2).name(true), "Bb");
        assert_eq!(PitchClass::C.transpose(-1), PitchClass::B);
    }

    #[test]
    fn pitches_parse_in_scientific_octaves() {
        let midi = |s: &str| s.parse::<Pitch>().unwrap().midi();
        assert_eq!(midi("C4"), 60);
        assert_eq!(midi("C#4"), 61);
        assert_eq!(midi("Bb3"), 58);
        assert_eq!(midi("C-1"), 0);
        assert_eq!(midi("G9"), 127);
        assert_eq!(midi("B#3"), 60);
        assert_eq!(midi("Cb4"), 59);
        assert_eq!(midi("60"), 60);
        let p = Pitch::new(61).unwrap();
        assert_eq!(
            (p.to_string(), p.name(true), p.octave()),
            ("C#4".into(), "Db4".into(), 4)
        );
        assert_eq!(Pitch::new(0).unwrap().octave(), -1);
    }

    #[test]
    fn bad_pitches_say_what_is_expected() {
        for bad in ["G#9", "C-2", "128", "H4", "C", "C4.5", "Cb-1", ""] {
            let err = bad.parse::<Pitch>().unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("expected") && (msg.contains(bad) || bad.is_empty() || bad == "128"),
                "{bad}: {msg}"
            );
        }
        assert_eq!(
            Pitch::new(128),
            Err(MusicError::PitchOutOfRange { value: 128 })
        );
        assert!(Pitch::new(127).unwrap().transpose(1).is_err());
        assert_eq!(Pitch::new(60).unwrap().transpose(-12).unwrap().midi(), 48);
    }

    #[test]
    fn interval_names_and_classes() {
        let name = |n: i8| Interval::new(n).name();
        assert_eq!(name(0), "unison");
        assert_eq!(name(3), "minor third");
        assert_eq!(name(-7), "perfect fifth");
        assert_eq!(name(12), "octave");
        assert_eq!(name(14), "major ninth");
        assert_eq!(name(24), "two octaves");
        assert_eq!(name(27), "two octaves and a minor third");
        assert_eq!(Interval::new(-4).to_string(), "descending major third");
        let (c4, g4) = (Pitch::new(60).unwrap(), Pitch::new(67).unwrap());
        assert_eq!(Interval::between(c4, g4).semitones(), 7);
        assert_eq!(Interval::between(g4, c4).semitones(), -7);
        assert!(Interval::new(-2).is_step() && !Interval::new(-2).is_leap());
        assert!(Interval::new(3).is_leap() && !Interval::new(0).is_step());
        assert_eq!(Interval::new(127).name(), "10 octaves and a perfect fifth");
    }

    proptest! {
        #[test]
        fn pitch_display_round_trips(midi in 0u8..=127) {
            let p = Pitch::new(midi).unwrap();
            prop_assert_eq!(p.to_string().parse::<Pitch>().unwrap(), p);
            prop_assert_eq!(p.name(true).parse::<Pitch>().unwrap(), p);
            prop_assert_eq!(i32::from(p.midi()), (i32::from(p.octave()) + 1) * 12 + i32::from(p.pitch_class().index()));
        }
    }
}
