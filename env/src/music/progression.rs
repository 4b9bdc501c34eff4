//! Chord progressions: bar notation, presets, and the chord under each step of a grid.

use super::chord::Chord;
use super::error::{MusicError, Result};
use super::meter::Meter;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Named progressions, in bar notation.
const PRESETS: &[(&str, &str)] = &[
    ("ii-v-i", "| Dm7 | G7 | Cmaj7 | Cmaj7 |"),
    ("minor-ii-v-i", "| Dm7b5 | G7b9 | Cm6 | Cm6 |"),
    (
        "blues",
        "| C7 | F7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | G7 |",
    ),
    ("pop", "| C | G | Am | F |"),
    ("fifties", "| C | Am | F | G |"),
    // A question and its answer: a half cadence, then a full one.
    ("call-response", "| C | G7 | C | G7 C |"),
    (
        "rhythm-changes-a",
        "| Bb6 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Eb Edim7 | Dm7 G7 | Cm7 F7 |",
    ),
];

/// How far apart two lengths in bars may be and still count as equal: far below any grid.
const EPSILON: f64 = 1e-9;

/// One chord of a progression and how long it lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    chord: Chord,
    bars: f64,
}

impl Segment {
    /// The chord.
    pub fn chord(&self) -> &Chord {
        &self.chord
    }

    /// Its length in bars (0.5 for one of two chords sharing a bar).
    pub fn bars(&self) -> f64 {
        self.bars
    }
}

/// A non-empty sequence of chords with lengths, looped when a melody outlasts it.
///
/// The text form is bar notation: `"| Dm7 | G7 | Cmaj7 | % |"`. Bars are separated by `|`
/// (the outer ones may be left out); the chords written in one bar share it equally; a bar
/// holding only `%` repeats the previous bar. Each written chord (a repeated one included)
/// is its own segment, so segment indices count chords as written. Lengths are in bars, so
/// one text fits any meter.
///
/// Progressions whose lengths do not fill bars in equal shares (built with
/// [`Progression::from_chords`]) are written as `symbol:bars` tokens instead, such as
/// `"C:0.75 G7:0.25"`; [`FromStr`] reads both forms, and serde uses this text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Progression {
    segments: Vec<Segment>,
}

impl Progression {
    /// A progression from chords and their lengths in beats of `meter` (a beat is one
    /// denominator unit: an eighth in 6/8).
    pub fn from_chords(chords: Vec<(Chord, f64)>, meter: Meter) -> Result<Self> {
        let per_bar = f64::from(meter.beats_per_bar());
        Self::check(&chords, "beats")?;
        Self::from_bars(
            chords
                .into_iter()
                .map(|(c, beats)| (c, beats / per_bar))
                .collect(),
        )
    }

    /// A progression from chords and their lengths in bars.
    pub fn from_bars(chords: Vec<(Chord, f64)>) -> Result<Self> {
        Self::check(&chords, "bars")?;
        Ok(Self {
            segments: chords
                .into_iter()
                .map(|(chord, bars)| Segment { chord, bars })
                .collect(),
        })
    }

    fn check(chords: &[(Chord, f64)], unit: &str) -> Result<()> {
        let invalid = |reason: String| MusicError::InvalidProgression {
            text: describe(chords, unit),
            reason,
        };
        if chords.is_empty() {
            return Err(invalid("no chords: expected at least one".to_string()));
        }
        if let Some((i, (chord, _))) = chords
            .iter()
            .enumerate()
            .find(|(_, (_, len))| !(len.is_finite() && *len > 0.0))
        {
            return Err(invalid(format!(
                "chord {} ({chord}) has a length that is not a positive number of {unit}",
                i + 1
            )));
        }
        Ok(())
    }

    /// The named preset: see [`Progression::preset_names`]. All are in C, except
    /// `rhythm-changes-a`, in Bb as it is played; [`Progression::transpose`] moves them.
    pub fn preset(name: &str) -> Result<Self> {
        let wanted = name.trim().to_lowercase();
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == wanted).ok_or_else(|| {
            MusicError::UnknownPreset {
                name: name.to_string(),
                expected: Self::preset_names().collect::<Vec<_>>().join(", "),
            }
        })?;
        text.parse()
    }

    /// The names [`Progression::preset`] accepts.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(n, _)| *n)
    }

    /// The chords and their lengths, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The number of segments (chords as written).
    pub fn num_segments(&self) -> usize {
        self.segments.len()
    }

    /// Length in bars.
    pub fn bars(&self) -> f64 {
        self.segments.iter().map(|s| s.bars).sum()
    }

    /// Length in beats of `meter` (denominator units).
    pub fn len_beats(&self, meter: Meter) -> f64 {
        self.bars() * f64::from(meter.beats_per_bar())
    }

    /// The chord sounding `bars` bars from the start, looping past the end; positions
    /// before the start count back from the end. A NaN position gives the first chord.
    pub fn chord_at_bar(&self, bars: f64) -> &Chord {
        let position = bars.rem_euclid(self.bars());
        let mut end = 0.0;
        for segment in &self.segments {
            end += segment.bars;
            if position < end - EPSILON {
                return &segment.chord;
            }
        }
        // Only reached by rounding at the very end of the loop or by NaN.
        &self.segments[0].chord
    }

    /// The chord sounding on beat `beat` (0-based, in beats of `meter`), looping.
    pub fn chord_at_beat(&self, beat: f64, meter: Meter) -> &Chord {
        self.chord_at_bar(beat / f64::from(meter.beats_per_bar()))
    }

    /// For each of `length` grid steps, the index of the sounding segment and its chord,
    /// looping the progression when `length` outlasts it.
    ///
    /// Chord changes fall on the step nearest to where they are written, so three chords in
    /// a bar of 16 steps change at steps 5 and 11. Fails if a bar of `meter` is not a whole
    /// number of steps, if some chord would last less than a step, or if the progression
    /// has more than 65,536 segments.
    pub fn chords_per_step(
        &self,
        meter: Meter,
        steps_per_quarter: u32,
        length: usize,
    ) -> Result<Vec<(u16, &Chord)>> {
        let steps_per_bar = f64::from(meter.steps_per_bar(steps_per_quarter)?);
        let invalid = |reason: String| MusicError::InvalidProgression {
            text: self.to_string(),
            reason,
        };
        if self.segments.len() > usize::from(u16::MAX) + 1 {
            return Err(invalid(
                "more than 65,536 chords: expected at most 65,536".to_string(),
            ));
        }
        // Step at which each segment ends. Rounding the running position, not each length,
        // keeps the total exact.
        let mut ends: Vec<u64> = Vec::with_capacity(self.segments.len());
        let mut position = 0.0;
        for (i, segment) in self.segments.iter().enumerate() {
            position += segment.bars;
            // Saturates for absurd lengths, which then fail the check below or simply loop late.
            let end = (position * steps_per_bar).round() as u64;
            if end <= ends.last().copied().unwrap_or(0) {
                return Err(invalid(format!(
                    "chord {} ({}) lasts less than one step in {meter} at {steps_per_quarter} \
                     steps per quarter: expected a finer grid or fewer chords per bar",
                    i + 1,
                    segment.chord
                )));
            }
            ends.push(end);
        }
        let total = ends.last().copied().unwrap_or(1);
        let mut out = Vec::with_capacity(length);
        let mut index = 0;
        for step in 0..length as u64 {
            let at = step % total;
            if at == 0 {
                index = 0;
            }
            while ends[index] <= at {
                index += 1;
            }
            // index < 65,536, checked above.
            out.push((index as u16, &self.segments[index].chord));
        }
        Ok(out)
    }

    /// The same progression `semitones` away.
    pub fn transpose(&self, semitones: i32) -> Self {
        Self {
            segments: self
                .segments
                .iter()
                .map(|s| Segment {
                    chord: s.chord.transpose(semitones),
                    bars: s.bars,
                })
                .collect(),
        }
    }

    /// Groups segments into bars of equal shares, or `None` when they do not fill bars so.
    fn as_bars(&self) -> Option<Vec<&[Segment]>> {
        let mut bars = Vec::new();
        let mut rest = self.segments.as_slice();
        while let Some(first) = rest.first() {
            let per_bar = (1.0 / first.bars).round();
            if !(1.0..=64.0).contains(&per_bar) || (first.bars * per_bar - 1.0).abs() > EPSILON {
                return None;
            }
            // per_bar is a small whole number, checked above.
            let count = per_bar as usize;
            if rest.len() < count
                || rest[..count]
                    .iter()
                    .any(|s| (s.bars - first.bars).abs() > EPSILON)
            {
                return None;
            }
            let (bar, tail) = rest.split_at(count);
            bars.push(bar);
            rest = tail;
        }
        Some(bars)
    }

    fn parse_bars(text: &str) -> Result<Self> {
        let invalid = |reason: String| MusicError::InvalidProgression {
            text: text.to_string(),
            reason,
        };
        let cells: Vec<&str> = text.split('|').collect();
        let last = cells.len() - 1;
        let mut segments: Vec<Segment> = Vec::new();
        let mut previous: Option<Vec<Chord>> = None;
        let mut bar_number = 0;
        for (i, cell) in cells.iter().enumerate() {
            let tokens: Vec<&str> = cell.split_whitespace().collect();
            // The outer bar lines are optional: nothing before the first or after the last.
            if tokens.is_empty() && (i == 0 || i == last) {
                continue;
            }
            bar_number += 1;
            let chords = match tokens.as_slice() {
                [] => {
                    return Err(invalid(format!(
                        "bar {bar_number} has no chord: expected one or more chord symbols, \
                         or %, between bar lines"
                    )))
                }
                ["%"] => previous.clone().ok_or_else(|| {
                    invalid("% in the first bar has no previous bar to repeat".to_string())
                })?,
                _ if tokens.contains(&"%") => {
                    return Err(invalid(format!(
                        "bar {bar_number} mixes % with chords: expected % alone in its bar"
                    )))
                }
                _ => tokens
                    .iter()
                    .map(|t| t.parse::<Chord>())
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| invalid(format!("bar {bar_number}: {e}")))?,
            };
            let share = 1.0 / chords.len() as f64;
            segments.extend(chords.iter().map(|c| Segment {
                chord: c.clone(),
                bars: share,
            }));
            previous = Some(chords);
        }
        if segments.is_empty() {
            return Err(invalid(
                "no chords: expected bars of chord symbols like \"| Dm7 | G7 | Cmaj7 |\""
                    .to_string(),
            ));
        }
        Ok(Self { segments })
    }

    fn parse_lengths(text: &str) -> Result<Self> {
        let invalid = |reason: String| MusicError::InvalidProgression {
            text: text.to_string(),
            reason,
        };
        let chords = text
            .split_whitespace()
            .map(|token| {
                let (symbol, bars) = token.split_once(':').ok_or_else(|| {
                    invalid(format!(
                        "{token:?} has no length: expected every chord as symbol:bars, like \
                         \"C:0.75 G7:0.25\", or bar notation without lengths"
                    ))
                })?;
                let chord: Chord = symbol.parse().map_err(|e| invalid(format!("{e}")))?;
                let bars: f64 = bars.parse().map_err(|_| {
                    invalid(format!(
                        "length {bars:?} of {symbol} is not a number: expected bars, like 0.5"
                    ))
                })?;
                Ok((chord, bars))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_bars(chords).map_err(|e| match e {
            MusicError::InvalidProgression { reason, .. } => invalid(reason),
            other => other,
        })
    }
}

fn describe(chords: &[(Chord, f64)], unit: &str) -> String {
    let parts: Vec<String> = chords.iter().map(|(c, n)| format!("{c}:{n}")).collect();
    format!("[{}] ({unit})", parts.join(" "))
}

impl fmt::Display for Progression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_bars() {
            Some(bars) => {
                f.write_str("|")?;
                for bar in bars {
                    for segment in bar {
                        write!(f, " {}", segment.chord)?;
                    }
                    f.write_str(" |")?;
                }
                Ok(())
            }
            None => {
                let parts: Vec<String> = self
                    .segments
                    .iter()
                    .map(|s| format!("{}:{}", s.chord, s.bars))
                    .collect();
                f.write_str(&parts.join(" "))
            }
        }
    }
}

impl FromStr for Progression {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        if s.contains(':') && !s.contains('|') {
            Self::parse_lengths(s)
        } else {
            Self::parse_bars(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(s: &str) -> Progression {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn chord(s: &str) -> Chord {
        s.parse().unwrap()
    }

    fn symbols(p: &Progression) -> Vec<String> {
        p.segments().iter().map(|s| s.chord().to_string()).collect()
    }

    #[test]
    fn bar_notation_parses_with_free_whitespace_and_repeats() {
        let p = prog("| Dm7 | G7 | Cmaj7 | % |");
        assert_eq!(symbols(&p), ["Dm7", "G7", "Cmaj7", "Cmaj7"]);
        assert_eq!(p.bars(), 4.0);
        assert_eq!(prog("Dm7|G7|Cmaj7|%"), p);
        assert_eq!(prog("  |Dm7|  G7 |\n Cmaj7 |%"), p);
        let shared = prog("| C G7 | Am F G |");
        assert_eq!(shared.num_segments(), 5);
        assert_eq!(shared.segments()[0].bars(), 0.5);
        assert!((shared.segments()[4].bars() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(symbols(&prog("| C G | % |")), ["C", "G", "C", "G"]);
        assert_eq!(prog("C").bars(), 1.0);
    }

    #[test]
    fn bad_progressions_say_what_is_wrong() {
        for (bad, why) in [
            ("", "no chords"),
            ("| |", "no chord"),
            ("|", "no chords"),
            ("| C || G |", "bar 2 has no chord"),
            ("| % | C |", "first bar"),
            ("| C % |", "alone"),
            ("| C | Cxyz7 |", "bar 2"),
            ("| C | H7 |", "H7"),
            ("C:1 G", "no length"),
            ("C:x", "not a number"),
            ("C:0", "positive"),
            ("C:-1 G:1", "positive"),
        ] {
            let err = bad.parse::<Progression>().unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, MusicError::InvalidProgression { text, .. } if text == bad),
                "{bad}: {msg}"
            );
            assert!(msg.contains(why), "{bad}: {msg}");
        }
        let msg = "| C | Cxyz7 |"
            .parse::<Progression>()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Cxyz7") && msg.contains("expected"), "{msg}");
    }

    #[test]
    fn presets() {
        assert_eq!(
            Progression::preset("ii-v-i").unwrap(),
            prog("| Dm7 | G7 | Cmaj7 | Cmaj7 |")
        );
        let blues = Progression::preset("blues").unwrap();
        assert_eq!(blues.bars(), 12.0);
        assert!(blues
            .segments()
            .iter()
            .all(|s| s.chord().quality() == crate::music::chord::ChordQuality::Dominant7));
        assert_eq!(
            symbols(&Progression::preset("pop").unwrap()),
            ["C", "G", "Am", "F"]
        );
        for name in Progression::preset_names() {
            let p = Progression::preset(name).unwrap();
            assert_eq!(prog(&p.to_string()), p, "{name}");
        }
        let err = Progression::preset("bluez").unwrap_err().to_string();
        assert!(err.contains("bluez") && err.contains("ii-v-i") && err.contains("blues"));
    }

    #[test]
    fn chords_per_step_in_four_four() {
        let p = Progression::preset("ii-v-i").unwrap();
        let steps = p.chords_per_step(Meter::COMMON_TIME, 4, 80).unwrap();
        assert_eq!(steps.len(), 80);
        assert_eq!(steps[0], (0, &chord("Dm7")));
        assert_eq!(steps[15], (0, &chord("Dm7")));
        assert_eq!(steps[16], (1, &chord("G7")));
        assert_eq!(steps[32], (2, &chord("Cmaj7")));
        assert_eq!(steps[48], (3, &chord("Cmaj7")));
        // The loop starts over after four bars.
        assert_eq!(steps[64], (0, &chord("Dm7")));
        assert_eq!(steps[79].0, 0);
        assert!(p
            .chords_per_step(Meter::COMMON_TIME, 4, 0)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn chords_per_step_with_shared_bars_and_other_meters() {
        let p = prog("| C G7 | Am F G |");
        let idx: Vec<u16> = p
            .chords_per_step(Meter::COMMON_TIME, 4, 32)
            .unwrap()
            .iter()
            .map(|(i, _)| *i)
            .collect();
        let expect: Vec<u16> = [(0, 8), (1, 8), (2, 5), (3, 6), (4, 5)]
            .iter()
            .flat_map(|&(i, n)| std::iter::repeat_n(i, n))
            .collect();
        assert_eq!(idx, expect);
        let six_eight: Meter = "6/8".parse().unwrap();
        let two_bars = prog("| C | G |");
        let steps = two_bars.chords_per_step(six_eight, 2, 12).unwrap();
        assert_eq!(steps.iter().filter(|(i, _)| *i == 0).count(), 6);
        assert!(prog("| C D E F G |")
            .chords_per_step(Meter::COMMON_TIME, 1, 4)
            .unwrap_err()
            .to_string()
            .contains("less than one step"));
        assert!(prog("| C |")
            .chords_per_step("7/8".parse().unwrap(), 1, 4)
            .is_err());
    }

    #[test]
    fn chord_lookup_by_bar_and_beat() {
        let p = prog("| Dm7 G7 | Cmaj7 |");
        let m = Meter::COMMON_TIME;
        assert_eq!(p.len_beats(m), 8.0);
        assert_eq!(p.chord_at_beat(0.0, m), &chord("Dm7"));
        assert_eq!(p.chord_at_beat(1.99, m), &chord("Dm7"));
        assert_eq!(p.chord_at_beat(2.0, m), &chord("G7"));
        assert_eq!(p.chord_at_beat(7.5, m), &chord("Cmaj7"));
        assert_eq!(p.chord_at_beat(8.0, m), &chord("Dm7"));
        assert_eq!(p.chord_at_beat(-1.0, m), &chord("Cmaj7"));
        assert_eq!(p.chord_at_bar(f64::NAN), &chord("Dm7"));
    }

    #[test]
    fn from_chords_and_the_length_form() {
        let m = Meter::COMMON_TIME;
        let even = Progression::from_chords(
            vec![(chord("Dm7"), 2.0), (chord("G7"), 2.0), (chord("C"), 4.0)],
            m,
        )
        .unwrap();
        assert_eq!(even, prog("| Dm7 G7 | C |"));
        assert_eq!(even.to_string(), "| Dm7 G7 | C |");
        let uneven =
            Progression::from_chords(vec![(chord("C"), 3.0), (chord("G7"), 1.0)], m).unwrap();
        assert_eq!(uneven.to_string(), "C:0.75 G7:0.25");
        assert_eq!(prog(&uneven.to_string()), uneven);
        let steps = uneven.chords_per_step(m, 4, 16).unwrap();
        assert_eq!(steps[11].0, 0);
        assert_eq!(steps[12].0, 1);
        assert!(Progression::from_chords(Vec::new(), m).is_err());
        // Absurd lengths neither panic nor allocate: the steps saturate.
        let endless = Progression::from_bars(vec![(chord("C"), 1e300)]).unwrap();
        let steps = endless.chords_per_step(m, 4, 8).unwrap();
        assert!(steps.iter().all(|(i, _)| *i == 0));
        let endless = Progression::from_bars(vec![(chord("C"), 1e300), (chord("G"), 1e300)]);
        assert!(endless.unwrap().chords_per_step(m, 4, 8).is_err());
        assert!(Progression::from_chords(vec![(chord("C"), f64::NAN)], m).is_err());
    }

    #[test]
    fn transposition_and_serde() {
        let p = Progression::preset("ii-v-i").unwrap().transpose(-2);
        assert_eq!(p, prog("| Cm7 | F7 | Bbmaj7 | % |"));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"| Cm7 | F7 | Bbmaj7 | Bbmaj7 |\"");
        assert_eq!(serde_json::from_str::<Progression>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Progression>("\"| % |\"").is_err());
    }
}
