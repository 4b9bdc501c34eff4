//! Simulated listeners whose taste is computed from the notes, by criteria the listener model
//! does not name: a test of whether a session learns a taste its authors did not foresee.
//!
//! The listeners of [`super`] weigh the model's own features, so a model that learns them
//! proves only that it can fit its own span. These read the phrase's notes directly (this file
//! imports the environment's note decoding and the musicianship report, never the listener
//! model's features; a test below checks it) and rate on an absolute scale:
//!
//! - each has a taste `t` in [0, 1] over the notes (the table below);
//! - each demands musicianship: a phrase that fails a floor of
//!   [`MUSIC`] (measured by
//!   [`measure`]) has utility `min(t, 0.25)` and rates
//!   at most 2, so random notes rate low whatever their register or contour;
//! - the utility `U` (the taste, gated) rates `1 + 4·U` plus Gaussian noise (σ = 0.5),
//!   rounded and clamped to 1..=5, and answers "A or B?" with Bradley-Terry probability
//!   `σ(10·(U_A − U_B))`.
//!
//! | name | taste `t` |
//! |---|---|
//! | `sim:high` | register: the duration-weighted mean pitch, 0 at a quarter of the task's range above its lowest pitch, 1 at three quarters |
//! | `sim:falling` | contour direction: the share of the line's motion (in semitones) that falls, 0 at 40 %, 1 at 70 % |
//! | `sim:arpeggio` | arpeggiation: the share of consecutive interval pairs that skip by 3 to 7 semitones each in one direction, 1 at 25 % |
//! | `sim:climax` | a late climax: where the last attack of the phrase's highest pitch falls, 0 a quarter of the way in, 1 at nine tenths |
//!
//! None of these is a feature of the model: the model sees steps, leaps, range, density, rests
//! as a share of steps, and (since the note profile) histograms of registers, signed
//! intervals, onsets and durations. Each criterion here is a nonlinear function of the notes
//! (a weighted mean pitch through a ramp, a share of motion, a pattern over three notes, gaps
//! between notes) that those histograms at best approximate.

use cadenza_env::{Event, Note, Setting};
use cadenza_reward::musicianship::{measure, GroupScores, MUSIC};

/// The note listeners, without the `sim:` prefix.
pub const NOTE_TASTES: &[&str] = &["high", "falling", "arpeggio", "climax"];

/// Noise of a rating, in rating points.
pub(super) const RATING_NOISE: f64 = 0.5;
/// Slope of the Bradley-Terry choice over utilities in [0, 1].
pub(super) const CHOICE_SLOPE: f64 = 10.0;
/// The most a phrase that fails musicianship can be worth, and the most it rates.
const UNMUSICAL_UTILITY: f64 = 0.25;
const UNMUSICAL_RATING: u8 = 2;

/// A taste over the notes. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteTaste {
    /// `sim:high`: a high register.
    High,
    /// `sim:falling`: falling lines.
    Falling,
    /// `sim:arpeggio`: arpeggiated skips.
    Arpeggio,
    /// `sim:climax`: the peak late in the phrase.
    Climax,
}

/// What a note listener hears in a phrase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heard {
    /// The taste `t` in [0, 1], before the musicianship gate.
    pub taste: f64,
    /// Whether the phrase passes every floor of `MUSIC`.
    pub musical: bool,
    /// The musicianship group scores.
    pub scores: GroupScores,
    /// The utility `U`: the taste, gated by musicianship.
    pub utility: f64,
}

impl NoteTaste {
    /// A taste by name (without the `sim:` prefix).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "high" => Some(Self::High),
            "falling" => Some(Self::Falling),
            "arpeggio" => Some(Self::Arpeggio),
            "climax" => Some(Self::Climax),
            _ => None,
        }
    }

    /// What the listener hears in `events`, a phrase in `setting`. Events outside the
    /// encoding make an empty phrase (taste 0, unmusical).
    pub fn hear(self, setting: &Setting, events: &[Event]) -> Heard {
        let notes = setting.encoding.to_notes(events).unwrap_or_default();
        let taste = if notes.is_empty() {
            0.0
        } else {
            match self {
                Self::High => register(setting, &notes),
                Self::Falling => falling(&notes),
                Self::Arpeggio => arpeggio(&notes),
                Self::Climax => climax(setting, &notes),
            }
        };
        let scores = measure(setting, events).scores();
        let musical = !notes.is_empty() && MUSIC.failures(&scores).is_empty();
        let utility = if musical {
            taste
        } else {
            taste.min(UNMUSICAL_UTILITY)
        };
        Heard {
            taste,
            musical,
            scores,
            utility,
        }
    }

    /// A rating 1..=5 of what was heard, with standard normal `noise`.
    pub fn rate(heard: &Heard, noise: f64) -> u8 {
        let rating = (1.0 + 4.0 * heard.utility + RATING_NOISE * noise)
            .round()
            .clamp(1.0, 5.0) as u8;
        if heard.musical {
            rating
        } else {
            rating.min(UNMUSICAL_RATING)
        }
    }
}

fn ramp(x: f64, zero: f64, one: f64) -> f64 {
    ((x - zero) / (one - zero)).clamp(0.0, 1.0)
}

/// Duration-weighted mean pitch, through a ramp over the middle half of the task's range.
fn register(setting: &Setting, notes: &[Note]) -> f64 {
    let (low, high) = (
        f64::from(setting.encoding.min_pitch()),
        f64::from(setting.encoding.max_pitch()),
    );
    let weight: f64 = notes.iter().map(|n| f64::from(n.duration)).sum();
    let mean = notes
        .iter()
        .map(|n| f64::from(n.pitch) * f64::from(n.duration))
        .sum::<f64>()
        / weight.max(1.0);
    let span = high - low;
    ramp(mean, low + span / 4.0, low + 3.0 * span / 4.0)
}

/// The share of the line's motion, in semitones, that falls.
fn falling(notes: &[Note]) -> f64 {
    let (mut down, mut total) = (0u32, 0u32);
    for pair in notes.windows(2) {
        let (a, b) = (pair[0].pitch, pair[1].pitch);
        total += u32::from(a.abs_diff(b));
        if b < a {
            down += u32::from(a - b);
        }
    }
    if total == 0 {
        return 0.0;
    }
    ramp(f64::from(down) / f64::from(total), 0.4, 0.7)
}

/// The share of consecutive interval pairs that skip by 3 to 7 semitones each in one
/// direction.
fn arpeggio(notes: &[Note]) -> f64 {
    if notes.len() < 3 {
        return 0.0;
    }
    let skip = |a: &Note, b: &Note| {
        let d = i32::from(b.pitch) - i32::from(a.pitch);
        (3..=7).contains(&d.abs()).then_some(d.signum())
    };
    let arpeggiated = notes
        .windows(3)
        .filter(
            |w| matches!((skip(&w[0], &w[1]), skip(&w[1], &w[2])), (Some(x), Some(y)) if x == y),
        )
        .count();
    ramp(arpeggiated as f64 / (notes.len() - 2) as f64, 0.0, 0.25)
}

/// Where the last attack of the highest pitch falls, as a share of the phrase.
fn climax(setting: &Setting, notes: &[Note]) -> f64 {
    let Some(peak) = notes.iter().map(|n| n.pitch).max() else {
        return 0.0;
    };
    let at = notes
        .iter()
        .filter(|n| n.pitch == peak)
        .map(|n| n.start)
        .max()
        .unwrap_or(0);
    ramp(f64::from(at) / setting.length.max(1) as f64, 0.25, 0.9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::{TaskSpec, HOLD, REST};

    fn setting() -> Setting {
        TaskSpec::by_name("improv", None).unwrap().setting
    }

    /// Notes (pitch, steps) over the setting, a rest where the pitch is 0.
    fn phrase(s: &Setting, notes: &[(u8, usize)]) -> Vec<Event> {
        let mut events = Vec::new();
        for &(pitch, steps) in notes {
            if pitch == 0 {
                events.extend(std::iter::repeat_n(REST, steps));
            } else {
                events.push(s.encoding.event_of_pitch(pitch).unwrap());
                events.extend(std::iter::repeat_n(HOLD, steps - 1));
            }
        }
        events
    }

    #[test]
    fn the_listeners_do_not_read_the_models_features() {
        let source = include_str!("notes.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        for name in [
            "listener::",
            "FeatureExtractor",
            "feature_index",
            "FEATURE_",
        ] {
            assert!(!code.contains(name), "notes.rs names {name}");
        }
    }

    #[test]
    fn each_taste_measures_its_criterion() {
        let s = setting();
        // Over | Dm7 | G7 | Cmaj7 | % |: high, falling arpeggios, the peak first.
        let arpeggios = phrase(
            &s,
            &[
                (81, 4),
                (77, 4),
                (74, 4),
                (0, 4), // A F D, rest
                (79, 4),
                (74, 4),
                (71, 4),
                (0, 4), // G D B, rest
                (79, 4),
                (76, 4),
                (72, 4),
                (0, 4), // G E C, rest
                (76, 4),
                (72, 4),
                (67, 4),
                (0, 4), // E C G, rest
            ],
        );
        // Low, rising by step, no silence.
        let low_rising = phrase(
            &s,
            &[
                60, 62, 64, 65, 64, 65, 67, 65, 64, 65, 67, 69, 67, 69, 71, 72,
            ]
            .map(|p| (p, 4)),
        );
        for (taste, liked, disliked) in [
            (NoteTaste::High, &arpeggios, &low_rising),
            (NoteTaste::Falling, &arpeggios, &low_rising),
            (NoteTaste::Arpeggio, &arpeggios, &low_rising),
            (NoteTaste::Climax, &low_rising, &arpeggios),
        ] {
            let a = taste.hear(&s, liked).taste;
            let b = taste.hear(&s, disliked).taste;
            assert!(a > 0.6 && b < 0.2, "{taste:?}: {a} against {b}");
        }
    }

    #[test]
    fn unmusical_phrases_rate_two_at_most() {
        let s = setting();
        let trill = phrase(&s, &[(83, 1), (84, 1)].repeat(32));
        for name in NOTE_TASTES {
            let taste = NoteTaste::by_name(name).unwrap();
            let heard = taste.hear(&s, &trill);
            assert!(!heard.musical);
            assert!(heard.utility <= UNMUSICAL_UTILITY);
            assert!(NoteTaste::rate(&heard, 3.0) <= UNMUSICAL_RATING);
        }
    }
}
