//! `range_tessitura`: staying in a singable register.

use super::common::{onset_in_episode, write_one};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`RangeTessitura`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RangeTessituraParams {
    /// Lowest comfortable MIDI pitch (0..=127, at most `high`).
    pub low: u8,
    /// Highest comfortable MIDI pitch (0..=127, at least `low`).
    pub high: u8,
    /// Penalty (subtracted) for a note outside `low..=high` (0..=100).
    pub outside_penalty: f64,
    /// Extra penalty per semitone beyond the range (0..=100).
    pub outside_per_semitone: f64,
    /// Distance in semitones from the running centre tolerated without penalty (0..=48).
    pub drift_semitones: f64,
    /// Penalty per octave beyond `drift_semitones` from the running centre (0..=100).
    pub drift_penalty: f64,
    /// Roughly how many recent notes the running centre remembers (1..=64).
    pub tessitura_notes: u8,
}

impl Default for RangeTessituraParams {
    fn default() -> Self {
        Self {
            low: 55,
            high: 81,
            outside_penalty: 1.0,
            outside_per_semitone: 0.1,
            drift_semitones: 9.0,
            drift_penalty: 1.0,
            tessitura_notes: 8,
        }
    }
}

impl TermParams for RangeTessituraParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("low", self.low.into(), 0, 127)?;
        check_int("high", self.high.into(), self.low.into(), 127)?;
        check_real("outside_penalty", self.outside_penalty, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "outside_per_semitone",
            self.outside_per_semitone,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_real("drift_semitones", self.drift_semitones, 0.0, 48.0)?;
        check_real("drift_penalty", self.drift_penalty, 0.0, MAX_MAGNITUDE)?;
        check_int("tessitura_notes", self.tessitura_notes.into(), 1, 64)
    }
}

/// Term `range_tessitura`: penalises notes outside a comfortable range, and (softly) notes
/// far from the centre of the running tessitura.
///
/// The running centre is an exponential moving average of the attacked pitches, starting at
/// the middle of `low..=high`, so it follows the register the melody has settled in. Per
/// attacked note, the value is the sum of:
/// - outside the range: `-(outside_penalty + outside_per_semitone × semitones beyond)`;
/// - farther than `drift_semitones` from the centre:
///   `-drift_penalty × (distance − drift_semitones) / 12`.
///
/// **Why:** melodies, sung or played, live in a tessitura: a register where the instrument
/// sounds best and phrases hang together. Excursions are effective when occasional; a line
/// that keeps jumping between registers stops sounding like one voice.
///
/// **Example:** with the defaults (G3..=A5), C3 (48) scores `-1.7`; after a phrase around C5
/// (72), a sudden C4 is 12 semitones away from the centre and scores `-0.25`; D5 scores `0`.
#[derive(Debug, Clone)]
pub struct RangeTessitura {
    params: RangeTessituraParams,
    /// Running centre of the tessitura, in MIDI pitch.
    centre: f64,
}

impl Default for RangeTessitura {
    fn default() -> Self {
        let params = RangeTessituraParams::default();
        Self {
            centre: Self::middle(&params),
            params,
        }
    }
}

impl ImprovTerm for RangeTessitura {
    const NAME: &'static str = "range_tessitura";
    type Params = RangeTessituraParams;

    fn from_valid(params: RangeTessituraParams) -> Self {
        Self {
            centre: Self::middle(&params),
            params,
        }
    }

    fn params(&self) -> &RangeTessituraParams {
        &self.params
    }
}

impl RangeTessitura {
    /// The running centre of the tessitura, in MIDI pitch.
    pub fn centre(&self) -> f64 {
        self.centre
    }

    fn middle(params: &RangeTessituraParams) -> f64 {
        (f64::from(params.low) + f64::from(params.high)) / 2.0
    }
}

impl Reward for RangeTessitura {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.centre = Self::middle(&self.params);
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let Some(pitch) = onset_in_episode(self, ctx) else {
            return write_one(terms, 0.0);
        };
        let p = &self.params;
        let beyond = if pitch < p.low {
            p.low - pitch
        } else {
            pitch.saturating_sub(p.high)
        };
        let mut value = 0.0;
        if beyond > 0 {
            value -= p.outside_penalty + p.outside_per_semitone * f64::from(beyond);
        }
        let pitch = f64::from(pitch);
        let distance = (pitch - self.centre).abs();
        if distance > p.drift_semitones {
            value -= p.drift_penalty * (distance - p.drift_semitones) / 12.0;
        }
        // An exponential average: constant memory, and recent notes weigh most.
        self.centre += (pitch - self.centre) / f64::from(p.tessitura_notes.max(1));
        write_one(terms, value)
    }
}
