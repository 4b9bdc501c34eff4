//! Chord symbols: parsing, chord tones, chord-scales and voicings.

use super::error::{MusicError, Result};
use super::key::rotate_mask;
use super::pitch::{parse_note_prefix, PitchClass};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Root names in chord symbols: the spellings lead sheets use most (Bb7, not A#7).
const ROOT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

const IONIAN: &[u8] = &[0, 2, 4, 5, 7, 9, 11];
const DORIAN: &[u8] = &[0, 2, 3, 5, 7, 9, 10];
const MIXOLYDIAN: &[u8] = &[0, 2, 4, 5, 7, 9, 10];
const LOCRIAN: &[u8] = &[0, 1, 3, 5, 6, 8, 10];
const MELODIC_MINOR: &[u8] = &[0, 2, 3, 5, 7, 9, 11];
const LYDIAN_DOMINANT: &[u8] = &[0, 2, 4, 6, 7, 9, 10];
const MIXOLYDIAN_FLAT6: &[u8] = &[0, 2, 4, 5, 7, 8, 10];
const WHOLE_TONE: &[u8] = &[0, 2, 4, 6, 8, 10];
const WHOLE_HALF: &[u8] = &[0, 2, 3, 5, 6, 8, 9, 11];
const HALF_WHOLE: &[u8] = &[0, 1, 3, 4, 6, 7, 9, 10];
const ALTERED: &[u8] = &[0, 1, 3, 4, 6, 8, 10];

/// What a chord is, apart from its root and bass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChordQuality {
    /// `C`: 1 3 5.
    Major,
    /// `Cm`: 1 b3 5.
    Minor,
    /// `Cdim`: 1 b3 b5.
    Diminished,
    /// `Caug`, `C+`: 1 3 #5.
    Augmented,
    /// `Csus2`: 1 2 5.
    Sus2,
    /// `Csus4`, `Csus`: 1 4 5.
    Sus4,
    /// `C6`: 1 3 5 6.
    Sixth,
    /// `Cm6`: 1 b3 5 6.
    MinorSixth,
    /// `C7`: 1 3 5 b7.
    Dominant7,
    /// `Cmaj7`, `CM7`, `CΔ7`: 1 3 5 7.
    Major7,
    /// `Cm7`, `C-7`: 1 b3 5 b7.
    Minor7,
    /// `CmMaj7`: 1 b3 5 7.
    MinorMajor7,
    /// `Cdim7`, `Co7`: 1 b3 b5 bb7.
    Diminished7,
    /// `Cm7b5`, `Cø7`: 1 b3 b5 b7.
    HalfDiminished7,
    /// `C7sus4`, `C7sus`: 1 4 5 b7.
    Dominant7Sus4,
    /// `C9`: 1 3 5 b7 9.
    Dominant9,
    /// `Cmaj9`: 1 3 5 7 9.
    Major9,
    /// `Cm9`: 1 b3 5 b7 9.
    Minor9,
    /// `C11`: 1 3 5 b7 9 11.
    Dominant11,
    /// `Cm11`: 1 b3 5 b7 9 11.
    Minor11,
    /// `C13`: 1 3 5 b7 9 13 (the clashing 11 left out, as players do).
    Dominant13,
    /// `C7b9`: 1 3 5 b7 b9.
    Dominant7Flat9,
    /// `C7#9`: 1 3 5 b7 #9.
    Dominant7Sharp9,
    /// `C7#11`: 1 3 5 b7 #11.
    Dominant7Sharp11,
    /// `C7b13`: 1 3 5 b7 b13.
    Dominant7Flat13,
    /// `C7alt`, `Calt`: 1 3 #5 b7 #9 (one common spelling of an altered dominant).
    Altered,
    /// `Cadd9`: 1 3 5 9.
    Add9,
}

struct QualityInfo {
    quality: ChordQuality,
    /// Canonical suffix first, then accepted spellings.
    spellings: &'static [&'static str],
    tones: &'static [u8],
    scale: &'static [u8],
}

const QUALITIES: &[QualityInfo] = {
    use ChordQuality::*;
    const fn q(
        quality: ChordQuality,
        spellings: &'static [&'static str],
        tones: &'static [u8],
        scale: &'static [u8],
    ) -> QualityInfo {
        QualityInfo {
            quality,
            spellings,
            tones,
            scale,
        }
    }
    &[
        q(Major, &["", "M", "maj"], &[0, 4, 7], IONIAN),
        q(Minor, &["m", "min", "-"], &[0, 3, 7], DORIAN),
        q(Diminished, &["dim", "o", "°"], &[0, 3, 6], WHOLE_HALF),
        q(Augmented, &["aug", "+"], &[0, 4, 8], WHOLE_TONE),
        q(Sus2, &["sus2"], &[0, 2, 7], IONIAN),
        q(Sus4, &["sus4", "sus"], &[0, 5, 7], MIXOLYDIAN),
        q(Sixth, &["6", "M6", "maj6"], &[0, 4, 7, 9], IONIAN),
        q(MinorSixth, &["m6", "min6", "-6"], &[0, 3, 7, 9], DORIAN),
        q(Dominant7, &["7", "dom7"], &[0, 4, 7, 10], MIXOLYDIAN),
        q(
            Major7,
            &["maj7", "M7", "Δ7", "Δ", "ma7", "j7"],
            &[0, 4, 7, 11],
            IONIAN,
        ),
        q(Minor7, &["m7", "-7", "min7", "mi7"], &[0, 3, 7, 10], DORIAN),
        q(
            MinorMajor7,
            &["mMaj7", "mmaj7", "mM7", "minmaj7", "-maj7", "-Δ7", "mΔ7"],
            &[0, 3, 7, 11],
            MELODIC_MINOR,
        ),
        q(
            Diminished7,
            &["dim7", "o7", "°7"],
            &[0, 3, 6, 9],
            WHOLE_HALF,
        ),
        q(
            HalfDiminished7,
            &["m7b5", "ø7", "ø", "-7b5", "min7b5", "m7-5"],
            &[0, 3, 6, 10],
            LOCRIAN,
        ),
        q(
            Dominant7Sus4,
            &["7sus4", "7sus"],
            &[0, 5, 7, 10],
            MIXOLYDIAN,
        ),
        q(Dominant9, &["9"], &[0, 4, 7, 10, 14], MIXOLYDIAN),
        q(Major9, &["maj9", "M9", "Δ9"], &[0, 4, 7, 11, 14], IONIAN),
        q(Minor9, &["m9", "-9", "min9"], &[0, 3, 7, 10, 14], DORIAN),
        q(Dominant11, &["11"], &[0, 4, 7, 10, 14, 17], MIXOLYDIAN),
        q(
            Minor11,
            &["m11", "-11", "min11"],
            &[0, 3, 7, 10, 14, 17],
            DORIAN,
        ),
        q(Dominant13, &["13"], &[0, 4, 7, 10, 14, 21], MIXOLYDIAN),
        q(
            Dominant7Flat9,
            &["7b9", "7-9"],
            &[0, 4, 7, 10, 13],
            HALF_WHOLE,
        ),
        q(
            Dominant7Sharp9,
            &["7#9", "7+9"],
            &[0, 4, 7, 10, 15],
            HALF_WHOLE,
        ),
        q(
            Dominant7Sharp11,
            &["7#11", "7+11"],
            &[0, 4, 7, 10, 18],
            LYDIAN_DOMINANT,
        ),
        q(
            Dominant7Flat13,
            &["7b13", "7-13"],
            &[0, 4, 7, 10, 20],
            MIXOLYDIAN_FLAT6,
        ),
        q(Altered, &["7alt", "alt"], &[0, 4, 8, 10, 15], ALTERED),
        q(Add9, &["add9", "add2"], &[0, 4, 7, 14], IONIAN),
    ]
};

impl ChordQuality {
    fn info(self) -> &'static QualityInfo {
        // Every variant has a row (a test checks it), so the fallback is never taken.
        QUALITIES
            .iter()
            .find(|i| i.quality == self)
            .unwrap_or(&QUALITIES[0])
    }

    /// The canonical suffix written after the root (`""` for a major triad, `m7b5`, ...).
    pub fn suffix(self) -> &'static str {
        self.info().spellings[0]
    }

    /// Chord tones as semitones above the root, in stacking order; extensions keep their
    /// compound size (a ninth is 14).
    pub fn intervals(self) -> &'static [u8] {
        self.info().tones
    }

    /// The chord-scale as semitones above the root, within one octave: chord tones plus the
    /// tensions a soloist can lean on. The choices are the usual jazz defaults:
    ///
    /// | quality | scale |
    /// |---|---|
    /// | major, 6, maj7, maj9, add9, sus2 | Ionian |
    /// | minor, m6, m7, m9, m11 | Dorian |
    /// | 7, 9, 11, 13, sus4, 7sus4 | Mixolydian |
    /// | mMaj7 | melodic minor |
    /// | m7b5 | Locrian |
    /// | dim, dim7 | whole-half diminished |
    /// | aug | whole tone |
    /// | 7b9, 7#9 | half-whole diminished (it holds b9, #9 and the natural 5 and 13; Phrygian dominant suits a 7b9 resolving to minor but misses the #9) |
    /// | 7#11 | Lydian dominant |
    /// | 7b13 | Mixolydian b6 |
    /// | alt | altered (super-Locrian) |
    pub fn scale_intervals(self) -> &'static [u8] {
        self.info().scale
    }

    fn accepted() -> String {
        let spellings: Vec<String> = QUALITIES
            .iter()
            .flat_map(|i| i.spellings.iter())
            .map(|s| {
                if s.is_empty() {
                    "(nothing, for major)".to_string()
                } else {
                    (*s).to_string()
                }
            })
            .collect();
        spellings.join(", ")
    }
}

fn mask_of(intervals: &[u8]) -> u16 {
    intervals.iter().fold(0, |m, &i| m | 1 << (i % 12))
}

/// A chord: root, quality and an optional different bass note (slash chord).
///
/// Parses lead-sheet symbols such as `Dm7`, `G7b9`, `Cmaj7`, `F#m7b5`, `Bb`, `C/E`, `Eb-7`,
/// `Cø7`; parentheses are ignored (`C7(b9)`). Displays (and serialises) as the canonical
/// symbol: roots spelled as lead sheets do (`Bb`, `F#`), canonical suffixes (`Cmaj7` for
/// `CΔ7`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Chord {
    root: PitchClass,
    quality: ChordQuality,
    bass: Option<PitchClass>,
}

impl Chord {
    /// The chord of `quality` on `root`, in root position.
    pub fn new(root: PitchClass, quality: ChordQuality) -> Self {
        Self {
            root,
            quality,
            bass: None,
        }
    }

    /// The same chord over `bass` (a bass equal to the root means root position).
    pub fn with_bass(self, bass: PitchClass) -> Self {
        Self {
            bass: (bass != self.root).then_some(bass),
            ..self
        }
    }

    /// The root.
    pub fn root(&self) -> PitchClass {
        self.root
    }

    /// The quality.
    pub fn quality(&self) -> ChordQuality {
        self.quality
    }

    /// The lowest note: the slash bass, else the root.
    pub fn bass(&self) -> PitchClass {
        self.bass.unwrap_or(self.root)
    }

    /// The canonical symbol, as [`fmt::Display`] writes it.
    pub fn symbol(&self) -> String {
        let mut s = format!(
            "{}{}",
            ROOT_NAMES[usize::from(self.root.index())],
            self.quality.suffix()
        );
        if let Some(bass) = self.bass {
            s.push('/');
            s.push_str(ROOT_NAMES[usize::from(bass.index())]);
        }
        s
    }

    /// The chord's pitch classes as a mask (bit 0 = C); a slash bass counts as a chord tone.
    pub fn tones_mask(&self) -> u16 {
        rotate_mask(mask_of(self.quality.intervals()), self.root.index())
            | self.bass.map_or(0, PitchClass::bit)
    }

    /// The chord's pitch classes in stacking order from the root, then a slash bass that is
    /// not already a chord tone.
    pub fn pitch_classes(&self) -> Vec<PitchClass> {
        let mut pcs: Vec<PitchClass> = self
            .quality
            .intervals()
            .iter()
            .map(|&i| self.root.transpose(i32::from(i)))
            .collect();
        if let Some(bass) = self.bass.filter(|b| !pcs.contains(b)) {
            pcs.push(bass);
        }
        pcs
    }

    /// Whether `pc` is a chord tone.
    pub fn contains(&self, pc: PitchClass) -> bool {
        self.tones_mask() & pc.bit() != 0
    }

    /// The chord-scale as a mask (bit 0 = C): see [`ChordQuality::scale_intervals`] for the
    /// scale chosen per quality. It always contains the chord tones, a slash bass included.
    pub fn scale_mask(&self) -> u16 {
        rotate_mask(mask_of(self.quality.scale_intervals()), self.root.index()) | self.tones_mask()
    }

    /// MIDI pitches of a close voicing for an accompaniment: the bass (the root, or the slash
    /// bass) at the lowest pitch at or above `low`, then the chord tones upward from the next
    /// root in stacking order, extensions above the octave (a ninth stays a ninth). Pitches
    /// above 127 are dropped, so the result may be short or empty near the top.
    pub fn voicing(&self, low: u8) -> Vec<u8> {
        let low = u16::from(low.min(127));
        let at_or_above =
            |pc: PitchClass, from: u16| from + (u16::from(pc.index()) + 12 - from % 12) % 12;
        let mut notes = Vec::with_capacity(self.quality.intervals().len() + 1);
        let root = match self.bass {
            Some(bass) => {
                let bass_pitch = at_or_above(bass, low);
                notes.push(bass_pitch);
                at_or_above(self.root, bass_pitch + 1)
            }
            None => at_or_above(self.root, low),
        };
        for &i in self.quality.intervals() {
            if Some(self.root.transpose(i32::from(i))) != self.bass {
                notes.push(root + u16::from(i));
            }
        }
        notes
            .into_iter()
            .filter_map(|p| u8::try_from(p).ok().filter(|&p| p <= 127))
            .collect()
    }

    /// The same chord `semitones` away.
    pub fn transpose(&self, semitones: i32) -> Self {
        Self {
            root: self.root.transpose(semitones),
            quality: self.quality,
            bass: self.bass.map(|b| b.transpose(semitones)),
        }
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol())
    }
}

impl FromStr for Chord {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let symbol = s.trim();
        let invalid = |reason: String| MusicError::InvalidChord {
            symbol: s.to_string(),
            reason,
        };
        let root = parse_note_prefix(symbol, true).ok_or_else(|| {
            invalid(
                "expected a root note A-G (optionally with #, b, ## or bb), then a quality, \
                 then an optional /bass"
                    .to_string(),
            )
        })?;
        let rest = &symbol[root.len..];
        let (quality_text, bass_text) = match rest.rsplit_once('/') {
            Some((q, b)) => (q, Some(b)),
            None => (rest, None),
        };
        let bass = match bass_text {
            None => None,
            Some(b) => match parse_note_prefix(b, true) {
                Some(n) if n.len == b.len() => Some(n.pitch_class()),
                _ => {
                    return Err(invalid(format!(
                        "bass {b:?} after '/' is not a note name: expected A-G with optional \
                         accidentals, like C/E or D7/F#"
                    )))
                }
            },
        };
        let quality_key: String = quality_text
            .chars()
            .filter(|c| !matches!(c, '(' | ')'))
            .collect();
        let quality = QUALITIES
            .iter()
            .find(|i| i.spellings.contains(&quality_key.as_str()))
            .map(|i| i.quality)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown quality {quality_text:?}: expected one of {}",
                    ChordQuality::accepted()
                ))
            })?;
        let chord = Chord::new(root.pitch_class(), quality);
        Ok(match bass {
            Some(b) => chord.with_bass(b),
            None => chord,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chord(s: &str) -> Chord {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn names(c: &Chord) -> Vec<&'static str> {
        c.pitch_classes().iter().map(|p| p.name(true)).collect()
    }

    #[test]
    fn required_symbols_parse_to_the_right_tones() {
        assert_eq!(names(&chord("Dm7")), ["D", "F", "A", "C"]);
        assert_eq!(names(&chord("G7b9")), ["G", "B", "D", "F", "Ab"]);
        assert_eq!(names(&chord("Cmaj7")), ["C", "E", "G", "B"]);
        assert_eq!(names(&chord("F#m7b5")), ["Gb", "A", "C", "E"]);
        assert_eq!(names(&chord("Bb")), ["Bb", "D", "F"]);
        assert_eq!(names(&chord("Ebmaj7")), ["Eb", "G", "Bb", "D"]);
        assert_eq!(names(&chord("C7alt")), ["C", "E", "Ab", "Bb", "Eb"]);
        assert_eq!(names(&chord("C13")), ["C", "E", "G", "Bb", "D", "A"]);
        assert_eq!(chord("Bb").root().index(), 10);
    }

    #[test]
    fn spellings_are_equivalent() {
        for (a, b) in [
            ("Caug", "C+"),
            ("Cmaj7", "CM7"),
            ("Cmaj7", "CΔ7"),
            ("Cm7", "C-7"),
            ("Cdim7", "Co7"),
            ("Cm7b5", "Cø7"),
            ("CmMaj7", "Cm(maj7)"),
            ("C7b9", "C7(b9)"),
            ("A#7", "Bb7"),
            ("Csus4", "Csus"),
        ] {
            assert_eq!(chord(a), chord(b), "{a} vs {b}");
        }
        assert_eq!(chord("CΔ7").to_string(), "Cmaj7");
        assert_eq!(chord("A#m7").to_string(), "Bbm7");
        assert_eq!(chord("Gb7").to_string(), "F#7");
    }

    #[test]
    fn slash_chords_carry_their_bass() {
        let c = chord("C/E");
        assert_eq!((c.root(), c.bass()), (PitchClass::C, PitchClass::E));
        assert_eq!(c.to_string(), "C/E");
        assert_eq!(c.tones_mask(), chord("C").tones_mask());
        let d = chord("D7/F#");
        assert_eq!(d.bass().index(), 6);
        assert_eq!(chord("C/C"), chord("C"));
        let f = chord("C/F");
        assert!(f.contains(PitchClass::F));
        assert_eq!(names(&f), ["C", "E", "G", "F"]);
    }

    #[test]
    fn bad_symbols_name_the_symbol_and_what_is_expected() {
        for bad in ["Cxyz7", "H7", "", "c7", "C/H", "C7/", "Cmaj7/E/G", "Cm7b"] {
            let err = bad.parse::<Chord>().unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, MusicError::InvalidChord { symbol, .. } if symbol == bad),
                "{bad}: {msg}"
            );
            assert!(msg.contains("expected"), "{msg}");
        }
        let msg = "Cxyz7".parse::<Chord>().unwrap_err().to_string();
        assert!(msg.contains("\"xyz7\"") && msg.contains("m7b5") && msg.contains("maj7"));
        let msg = "H7".parse::<Chord>().unwrap_err().to_string();
        assert!(msg.contains("A-G"), "{msg}");
    }

    #[test]
    fn chord_scales_are_the_usual_choices() {
        let scale = |s: &str| chord(s).scale_mask();
        let key = |s: &str| s.parse::<crate::music::key::Key>().unwrap().scale_mask();
        assert_eq!(scale("Cmaj7"), key("C major"));
        assert_eq!(scale("Dm7"), key("D dorian"));
        assert_eq!(scale("G7"), key("G mixolydian"));
        assert_eq!(scale("Bm7b5"), key("B locrian"));
        assert_eq!(scale("CmMaj7"), key("C melodic minor"));
        assert_eq!(scale("C7b9").count_ones(), 8);
        assert_eq!(scale("Cdim7").count_ones(), 8);
        assert_eq!(scale("Caug").count_ones(), 6);
        // The altered scale: C Db Eb E Gb Ab Bb.
        assert_eq!(scale("C7alt"), 0b0101_0101_1011);
    }

    #[test]
    fn every_quality_has_a_row_and_its_tones_are_in_its_scale() {
        let mut seen = std::collections::HashSet::new();
        for info in QUALITIES {
            assert!(seen.insert(info.quality), "duplicate row");
            assert_eq!(info.quality.info().spellings, info.spellings);
            let tones = mask_of(info.tones);
            assert_eq!(tones & !mask_of(info.scale), 0, "{:?}", info.quality);
            for root in 0..12 {
                let c = Chord::new(PitchClass::new(root).unwrap(), info.quality);
                assert_eq!(chord(&c.symbol()), c);
                assert_eq!(c.scale_mask() & c.tones_mask(), c.tones_mask());
            }
        }
        assert_eq!(seen.len(), 27);
    }

    #[test]
    fn voicings_start_at_or_above_low() {
        assert_eq!(chord("C").voicing(60), [60, 64, 67]);
        assert_eq!(chord("C").voicing(61), [72, 76, 79]);
        assert_eq!(chord("Dm7").voicing(48), [50, 53, 57, 60]);
        assert_eq!(chord("C9").voicing(48), [48, 52, 55, 58, 62]);
        assert_eq!(chord("C/E").voicing(48), [52, 60, 67]);
        assert_eq!(chord("C/F").voicing(48), [53, 60, 64, 67]);
        assert_eq!(chord("G").voicing(120), [127]);
        assert!(chord("C").voicing(255).is_empty());
    }

    #[test]
    fn transposition_and_serde() {
        assert_eq!(chord("Dm7").transpose(2), chord("Em7"));
        assert_eq!(chord("C/E").transpose(-1), chord("B/Eb"));
        let json = serde_json::to_string(&chord("Bbmaj7/D")).unwrap();
        assert_eq!(json, "\"Bbmaj7/D\"");
        assert_eq!(
            serde_json::from_str::<Chord>(&json).unwrap(),
            chord("Bbmaj7/D")
        );
        assert!(serde_json::from_str::<Chord>("\"Cxyz7\"").is_err());
    }

    proptest! {
        #[test]
        fn symbol_round_trips_keep_the_tones(
            root in 0u8..12,
            row in 0usize..27,
            bass in proptest::option::of(0u8..12),
            alias in 0usize..8,
        ) {
            let info = &QUALITIES[row];
            let spelling = info.spellings[alias % info.spellings.len()];
            let mut text = format!("{}{}", PitchClass::new(root).unwrap().name(alias % 2 == 0), spelling);
            if let Some(b) = bass {
                text = format!("{text}/{}", PitchClass::new(b).unwrap().name(alias % 3 == 0));
            }
            let parsed: Chord = text.parse().unwrap();
            let again: Chord = parsed.to_string().parse().unwrap();
            prop_assert_eq!(parsed.tones_mask(), again.tones_mask());
            prop_assert_eq!(parsed.bass(), again.bass());
            prop_assert_eq!(&parsed, &again);
        }
    }
}
