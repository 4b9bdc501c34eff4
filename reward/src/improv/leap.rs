//! `leap_recovery`: large leaps followed by a step back.

use super::common::{classify, write_one, Ev};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`LeapRecovery`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeapRecoveryParams {
    /// Intervals larger than this many semitones are leaps that need recovery
    /// (3..=24; 5 = a perfect fourth).
    pub leap_over: u8,
    /// Largest interval, in semitones, that counts as a step (1..=3).
    pub max_step: u8,
    /// Reward for a step in the opposite direction right after a leap (0..=100).
    pub recovery_reward: f64,
    /// Penalty (subtracted) for another leap (more than a step) in the same direction
    /// (0..=100).
    pub same_direction_penalty: f64,
}

impl Default for LeapRecoveryParams {
    fn default() -> Self {
        Self {
            leap_over: 5,
            max_step: 2,
            recovery_reward: 1.0,
            same_direction_penalty: 1.0,
        }
    }
}

impl LeapRecoveryParams {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), ImprovError> {
        check_int("leap_over", self.leap_over.into(), 3, 24)?;
        check_int("max_step", self.max_step.into(), 1, 3)?;
        check_real("recovery_reward", self.recovery_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "same_direction_penalty",
            self.same_direction_penalty,
            0.0,
            MAX_MAGNITUDE,
        )
    }
}

/// Term `leap_recovery`: after a leap larger than a fourth, rewards a step back in the
/// opposite direction and penalises another leap onward.
///
/// Judged at the note after the leap; repeated pitches postpone the judgement, rests do not
/// break it. A step back scores `+recovery_reward`, a further skip or leap in the leap's
/// direction scores `-same_direction_penalty`, anything else `0`.
///
/// **Why:** "gap-fill" is one of the most robust regularities of melodies across styles: a
/// big leap opens a registral gap the ear expects to be filled by motion back, and two large
/// leaps the same way sound like an arpeggio run off the rails, hard to sing and to follow.
///
/// **Example:** C4 up to A4 (9 semitones), then G4 scores `+1`; C4–A4 then D5 scores `-1`;
/// C4–A4 then E4 (a leap back) scores `0`.
#[derive(Debug, Clone, Default)]
pub struct LeapRecovery {
    params: LeapRecoveryParams,
    /// Last attacked pitch.
    last: Option<u8>,
    /// Direction (+1/-1) of the last interval when it was a leap needing recovery.
    pending: i8,
}

impl LeapRecovery {
    /// The term's name.
    pub const NAME: &'static str = "leap_recovery";

    /// A term with checked parameters.
    pub fn new(params: LeapRecoveryParams) -> Result<Self, ImprovError> {
        params.validate()?;
        Ok(Self {
            params,
            ..Self::default()
        })
    }

    /// The parameters.
    pub fn params(&self) -> &LeapRecoveryParams {
        &self.params
    }
}

impl Reward for LeapRecovery {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.last = None;
        self.pending = 0;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 {
            self.reset(ctx.setting);
        }
        let Ev::Onset(pitch) = classify(ctx.setting, ctx.action) else {
            return write_one(terms, 0.0);
        };
        let mut value = 0.0;
        if let Some(last) = self.last {
            let interval = i16::from(pitch) - i16::from(last);
            if interval != 0 {
                let direction = interval.signum() as i8;
                let size = interval.unsigned_abs();
                let step_size = u16::from(self.params.max_step);
                if self.pending != 0 {
                    if direction != self.pending && size <= step_size {
                        value = self.params.recovery_reward;
                    } else if direction == self.pending && size > step_size {
                        value = -self.params.same_direction_penalty;
                    }
                }
                self.pending = if size > u16::from(self.params.leap_over) {
                    direction
                } else {
                    0
                };
            }
        }
        self.last = Some(pitch);
        write_one(terms, value)
    }
}
