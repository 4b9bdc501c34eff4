//! `cadence`: ending on a stable tone, and staying there.

use super::common::{classify, pc_bit, restart_on_first_step, write_one, Ev, Meter};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`Cadence`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CadenceParams {
    /// Reward for a melody whose last note is the tonic (0..=100).
    pub tonic_reward: f64,
    /// Reward for a last note that is a chord tone of the last chord, but not the tonic
    /// (0..=100).
    pub chord_tone_reward: f64,
    /// Penalty (subtracted) for any other ending, or for a melody without notes (0..=100).
    pub unstable_penalty: f64,
    /// Length, in beats, the stable last note must sound to count as held (0..=16).
    pub hold_beats: u8,
    /// Extra reward when the stable last note is held at least `hold_beats` beats
    /// (0..=100).
    pub hold_reward: f64,
}

impl Default for CadenceParams {
    fn default() -> Self {
        Self {
            tonic_reward: 2.0,
            chord_tone_reward: 1.0,
            unstable_penalty: 1.0,
            hold_beats: 2,
            hold_reward: 1.0,
        }
    }
}

impl TermParams for CadenceParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_real("tonic_reward", self.tonic_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "chord_tone_reward",
            self.chord_tone_reward,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_real(
            "unstable_penalty",
            self.unstable_penalty,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_int("hold_beats", self.hold_beats.into(), 0, 16)?;
        check_real("hold_reward", self.hold_reward, 0.0, MAX_MAGNITUDE)
    }
}

/// Term `cadence`: on the melody's last step (`setting.length − 1`), rewards having ended on
/// a stable tone and held it.
///
/// The last attacked note is judged: the tonic scores `+tonic_reward`, another chord tone
/// of the chord under the last step `+chord_tone_reward` (without a progression, the tonic
/// triad), anything else `-unstable_penalty`. A stable last note that sounded at least
/// `hold_beats` beats (until a rest or the end) adds `+hold_reward`. Every other step scores
/// `0`; the term only tracks the last attack and its release.
///
/// **Why:** a cadence is where a melody says "the end": resolving to the tonic (or at least
/// into the final chord) and letting it ring is the strongest closure; stopping on a
/// tension, or on a clipped note, leaves the listener waiting.
///
/// **Example:** in C major ending over Cmaj7, a final C held for a half note scores
/// `+2 + 1 = +3`; a final E held as long scores `+2`; a final F scores `-1`.
#[derive(Debug, Clone, Default)]
pub struct Cadence {
    params: CadenceParams,
    /// Pitch and attack step of the last note.
    last: Option<(u8, usize)>,
    /// Step where the last note was silenced by a rest, if it was.
    released: Option<usize>,
}

impl ImprovTerm for Cadence {
    const NAME: &'static str = "cadence";
    type Params = CadenceParams;

    fn from_valid(params: CadenceParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &CadenceParams {
        &self.params
    }
}

impl Cadence {
    fn judge(&self, setting: &Setting, step: usize) -> f64 {
        let p = &self.params;
        let Some((pitch, onset)) = self.last else {
            return -p.unstable_penalty;
        };
        let bit = pc_bit(pitch);
        let base = if bit == pc_bit(setting.tonic) {
            p.tonic_reward
        } else if setting.chord_tones_at(step) & bit != 0 {
            p.chord_tone_reward
        } else {
            return -p.unstable_penalty;
        };
        let end = self.released.unwrap_or(step.saturating_add(1));
        let held = end.saturating_sub(onset) >= usize::from(p.hold_beats) * Meter::of(setting).beat;
        base + if held { p.hold_reward } else { 0.0 }
    }
}

impl Reward for Cadence {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.last = None;
        self.released = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        restart_on_first_step(self, ctx);
        match classify(ctx.setting, ctx.action) {
            Ev::Onset(pitch) => {
                self.last = Some((pitch, ctx.step));
                self.released = None;
            }
            Ev::Rest if self.last.is_some() && self.released.is_none() => {
                self.released = Some(ctx.step);
            }
            _ => {}
        }
        let value = if ctx.setting.length.checked_sub(1) == Some(ctx.step) {
            self.judge(ctx.setting, ctx.step)
        } else {
            0.0
        };
        write_one(terms, value)
    }
}
