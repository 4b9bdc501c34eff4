//! Time: meters and tempi.

use super::error::{MusicError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A time signature: `numerator` beats of a `1/denominator` note per bar.
///
/// Parses `4/4`, `6/8`, `3/4`, `C` (4/4) and `C|` (2/2); the numerator is 1..=32 and the
/// denominator a power of two in 1..=32. Displays and serialises as `N/D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Meter {
    numerator: u8,
    denominator: u8,
}

impl Default for Meter {
    fn default() -> Self {
        Self::COMMON_TIME
    }
}

impl Meter {
    /// 4/4.
    pub const COMMON_TIME: Self = Self {
        numerator: 4,
        denominator: 4,
    };

    /// The meter `numerator/denominator`, validated.
    pub fn new(numerator: u8, denominator: u8) -> Result<Self> {
        let invalid = |reason: String| MusicError::InvalidMeter {
            text: format!("{numerator}/{denominator}"),
            reason,
        };
        if !(1..=32).contains(&numerator) {
            return Err(invalid(format!(
                "numerator {numerator} is out of range: expected 1..=32"
            )));
        }
        if !(denominator.is_power_of_two() && denominator <= 32) {
            return Err(invalid(format!(
                "denominator {denominator} is not a power of two in 1..=32 (1, 2, 4, 8, 16, 32)"
            )));
        }
        Ok(Self {
            numerator,
            denominator,
        })
    }

    /// Beats per bar, counted in the denominator's unit (6 for 6/8).
    pub fn numerator(self) -> u8 {
        self.numerator
    }

    /// The note value of one beat (8 for 6/8: eighth notes).
    pub fn denominator(self) -> u8 {
        self.denominator
    }

    /// Beats per bar, counted in the denominator's unit (6 for 6/8, 2 for 2/2).
    pub fn beats_per_bar(self) -> u8 {
        self.numerator
    }

    /// Quarter notes per bar (3.0 for 6/8, 4.0 for 2/2).
    pub fn quarter_notes_per_bar(self) -> f64 {
        f64::from(self.numerator) * 4.0 / f64::from(self.denominator)
    }

    /// Whether the bar falls into dotted beats of three denominator units (6/8, 9/8, 12/8).
    pub fn is_compound(self) -> bool {
        self.numerator > 3 && self.numerator.is_multiple_of(3) && self.denominator >= 8
    }

    /// The felt beats per bar: numerator / 3 in compound meters (2 in 6/8), else the
    /// numerator.
    pub fn main_beats(self) -> u8 {
        if self.is_compound() {
            self.numerator / 3
        } else {
            self.numerator
        }
    }

    /// Grid steps per bar at `steps_per_quarter` steps per quarter note, if a bar is a whole
    /// number of them (7/8 at one step per quarter is not).
    pub fn steps_per_bar(self, steps_per_quarter: u32) -> Result<u32> {
        let numer = u64::from(self.numerator) * 4 * u64::from(steps_per_quarter);
        let denom = u64::from(self.denominator);
        if steps_per_quarter == 0 || !numer.is_multiple_of(denom) {
            return Err(MusicError::StepsNotIntegral {
                meter: self.to_string(),
                steps_per_quarter,
            });
        }
        u32::try_from(numer / denom).map_err(|_| MusicError::StepsNotIntegral {
            meter: self.to_string(),
            steps_per_quarter,
        })
    }

    /// Whether a grid step falls on a strong beat.
    ///
    /// The rule: the bar is split into its main beats (dotted beats of three units in
    /// compound meters, else one per denominator unit); the downbeat is strong, and so is
    /// the main beat exactly halfway through the bar when the number of main beats is even.
    /// So 4/4 has strong beats 1 and 3, 2/2 and 2/4 beats 1 and 2, 6/8 eighths 1 and 4,
    /// 12/8 eighths 1 and 7, while 3/4, 5/4 and 9/8 have only the downbeat. Steps between
    /// beats are never strong. `step_in_bar` is taken modulo the bar, so a step count from
    /// the start of a piece works too. A grid of 0 steps per quarter has no strong steps.
    pub fn is_strong_step(self, step_in_bar: u32, steps_per_quarter: u32) -> bool {
        if steps_per_quarter == 0 {
            return false;
        }
        // Positions in units of 1 / (4 * steps_per_quarter) of a denominator note, which
        // keeps every quantity an integer even when a bar is not a whole number of steps.
        let unit = 4 * u64::from(steps_per_quarter);
        let bar = u64::from(self.numerator) * unit;
        let position = (u64::from(step_in_bar) * u64::from(self.denominator)) % bar;
        position == 0 || (self.main_beats().is_multiple_of(2) && position * 2 == bar)
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

impl FromStr for Meter {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        let invalid = |reason: &str| MusicError::InvalidMeter {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        match text {
            "C" => return Ok(Self::COMMON_TIME),
            "C|" | "¢" => return Self::new(2, 2),
            _ => {}
        }
        let expected = "expected N/D with N in 1..=32 and D a power of two in 1..=32 \
                        (like 4/4, 3/4 or 6/8), or C or C|";
        let (n, d) = text.split_once('/').ok_or_else(|| invalid(expected))?;
        let n: u8 = n.trim().parse().map_err(|_| invalid(expected))?;
        let d: u8 = d.trim().parse().map_err(|_| invalid(expected))?;
        Self::new(n, d).map_err(|e| match e {
            MusicError::InvalidMeter { reason, .. } => MusicError::InvalidMeter {
                text: s.to_string(),
                reason,
            },
            other => other,
        })
    }
}

/// A tempo in quarter notes per minute, finite and within 10..=400. Serialises as the
/// number.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Tempo(f64);

impl Default for Tempo {
    fn default() -> Self {
        Self(120.0)
    }
}

impl Tempo {
    /// The tempo of `bpm` quarter notes per minute, validated.
    pub fn new(bpm: f64) -> Result<Self> {
        if bpm.is_finite() && (10.0..=400.0).contains(&bpm) {
            Ok(Self(bpm))
        } else {
            Err(MusicError::InvalidTempo {
                text: bpm.to_string(),
            })
        }
    }

    /// Quarter notes per minute.
    pub fn bpm(self) -> f64 {
        self.0
    }

    /// Microseconds per quarter note, as a MIDI set-tempo event carries it.
    pub fn micros_per_quarter(self) -> u32 {
        // 60e6 / 10 = 6e6 at most, well inside u32.
        (60_000_000.0 / self.0).round() as u32
    }
}

impl fmt::Display for Tempo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Tempo {
    type Err = MusicError;

    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        let invalid = || MusicError::InvalidTempo {
            text: s.to_string(),
        };
        let number: f64 = text
            .strip_suffix("bpm")
            .unwrap_or(text)
            .trim()
            .parse()
            .map_err(|_| invalid())?;
        Self::new(number).map_err(|_| invalid())
    }
}

impl TryFrom<f64> for Tempo {
    type Error = MusicError;
    fn try_from(bpm: f64) -> Result<Self> {
        Self::new(bpm)
    }
}

impl From<Tempo> for f64 {
    fn from(t: Tempo) -> f64 {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(s: &str) -> Meter {
        s.parse().unwrap()
    }

    #[test]
    fn meters_parse_and_display() {
        assert_eq!(meter("4/4"), Meter::COMMON_TIME);
        assert_eq!(meter("C"), Meter::COMMON_TIME);
        assert_eq!(meter("C|"), Meter::new(2, 2).unwrap());
        assert_eq!(meter(" 6 / 8 ").to_string(), "6/8");
        assert_eq!(meter("3/4").beats_per_bar(), 3);
        assert_eq!(meter("6/8").quarter_notes_per_bar(), 3.0);
        assert_eq!(meter("2/2").quarter_notes_per_bar(), 4.0);
        let json = serde_json::to_string(&meter("6/8")).unwrap();
        assert_eq!(json, "\"6/8\"");
        assert_eq!(serde_json::from_str::<Meter>(&json).unwrap(), meter("6/8"));
    }

    #[test]
    fn bad_meters_say_why() {
        for (bad, why) in [
            ("4/3", "power of two"),
            ("4/64", "power of two"),
            ("0/4", "1..=32"),
            ("33/4", "1..=32"),
            ("4", "expected N/D"),
            ("four/4", "expected N/D"),
            ("", "expected N/D"),
        ] {
            let err = bad.parse::<Meter>().unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(&err, MusicError::InvalidMeter { text, .. } if text == bad),
                "{msg}"
            );
            assert!(msg.contains(why), "{bad}: {msg}");
        }
        assert!(serde_json::from_str::<Meter>("\"4/3\"").is_err());
    }

    #[test]
    fn steps_per_bar() {
        assert_eq!(meter("4/4").steps_per_bar(4), Ok(16));
        assert_eq!(meter("6/8").steps_per_bar(4), Ok(12));
        assert_eq!(meter("6/8").steps_per_bar(1), Ok(3));
        assert_eq!(meter("3/4").steps_per_bar(3), Ok(9));
        assert!(meter("7/8").steps_per_bar(1).is_err());
        assert!(meter("4/4").steps_per_bar(0).is_err());
        let msg = meter("7/8").steps_per_bar(1).unwrap_err().to_string();
        assert!(msg.contains("7/8") && msg.contains("expected"), "{msg}");
    }

    #[test]
    fn strong_steps_follow_the_documented_rule() {
        let strong = |m: &str, spq: u32| -> Vec<u32> {
            let m = meter(m);
            let bar = m.steps_per_bar(spq).unwrap();
            (0..bar).filter(|&s| m.is_strong_step(s, spq)).collect()
        };
        assert_eq!(strong("4/4", 4), [0, 8]);
        assert_eq!(strong("2/2", 4), [0, 8]);
        assert_eq!(strong("2/4", 4), [0, 4]);
        assert_eq!(strong("3/4", 4), [0]);
        // 6/8 at two steps per eighth: eighths 1 and 4.
        assert_eq!(strong("6/8", 4), [0, 6]);
        assert_eq!(strong("12/8", 2), [0, 6]);
        assert_eq!(strong("9/8", 2), [0]);
        assert!(meter("4/4").is_strong_step(16, 4));
        assert!(meter("4/4").is_strong_step(24, 4));
        assert!(!meter("4/4").is_strong_step(4, 4));
        assert!(!meter("4/4").is_strong_step(0, 0));
    }

    #[test]
    fn tempo_is_validated() {
        assert_eq!(Tempo::new(120.0).unwrap().micros_per_quarter(), 500_000);
        assert_eq!("90bpm".parse::<Tempo>().unwrap().bpm(), 90.0);
        assert_eq!(Tempo::default().bpm(), 120.0);
        for bad in [f64::NAN, f64::INFINITY, 9.9, 400.1, -120.0] {
            assert!(Tempo::new(bad).is_err(), "{bad}");
        }
        let msg = "fast".parse::<Tempo>().unwrap_err().to_string();
        assert!(
            msg.contains("\"fast\"") && msg.contains("expected"),
            "{msg}"
        );
        assert!(serde_json::from_str::<Tempo>("1000").is_err());
        assert_eq!(serde_json::from_str::<Tempo>("96").unwrap().bpm(), 96.0);
    }
}
