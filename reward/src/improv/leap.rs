//! `leap_recovery`: large leaps followed by a step back.

use super::common::{onset_in_episode, write_one};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
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
    /// Penalty (subtracted) for making a leap that needs recovery, charged on the leap itself
    /// (0..=100). Above `recovery_reward`, so that a recovered leap costs a little on
    /// balance: a leap is allowed where the other terms want it (a chord tone on the beat),
    /// but leaping and stepping back is no way to earn (an optimizer would zig-zag between
    /// registers).
    pub leap_penalty: f64,
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
            leap_penalty: 1.0,
            recovery_reward: 0.75,
            same_direction_penalty: 1.0,
        }
    }
}

impl TermParams for LeapRecoveryParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("leap_over", self.leap_over.into(), 3, 24)?;
        check_int("max_step", self.max_step.into(), 1, 3)?;
        check_real("leap_penalty", self.leap_penalty, 0.0, MAX_MAGNITUDE)?;
        check_real("recovery_reward", self.recovery_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "same_direction_penalty",
            self.same_direction_penalty,
            0.0,
            MAX_MAGNITUDE,
        )
    }
}

/// Term `leap_recovery`: a leap larger than a fourth opens a gap that a step back in the
/// opposite direction should fill; the leap is charged, its recovery paid, another leap
/// onward penalised.
///
/// The leap itself scores `-leap_penalty`. Its recovery is judged at the note after it;
/// repeated pitches postpone the judgement, rests do not break it. A step back scores
/// `+recovery_reward`, a further skip or leap in the leap's direction scores
/// `-same_direction_penalty`, anything else `0`. With the defaults a recovered leap nets
/// `-0.25`, a leap left unrecovered `-1` and a leap followed by another one onward `-2`.
///
/// The charge on the leap is what makes the term about *recovery* rather than about leaping:
/// were recoveries only paid, every leap would be a free chance to earn, and a line that
/// leaps at random (each wild note leaps in and leaps back out, and the step after it turns
/// back half the time) would out-earn a real tune whose few leaps are all filled in.
///
/// **Why:** "gap-fill" is one of the most robust regularities of melodies across styles: a
/// big leap opens a registral gap the ear expects to be filled by motion back, and two large
/// leaps the same way sound like an arpeggio run off the rails, hard to sing and to follow.
///
/// **Example:** C4 up to A4 (9 semitones) scores `-0.5` at A4; then G4 scores `+1`, D5
/// instead `-1`, and E4 (a fourth back, neither a step nor onward) `0`.
#[derive(Debug, Clone, Default)]
pub struct LeapRecovery {
    params: LeapRecoveryParams,
    /// Last attacked pitch.
    last: Option<u8>,
    /// Direction (+1/-1) of the last interval when it was a leap needing recovery.
    pending: i8,
}

impl ImprovTerm for LeapRecovery {
    const NAME: &'static str = "leap_recovery";
    type Params = LeapRecoveryParams;

    fn from_valid(params: LeapRecoveryParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &LeapRecoveryParams {
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
        let Some(pitch) = onset_in_episode(self, ctx) else {
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
                    value -= self.params.leap_penalty;
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
