//! `chord_tone_on_strong_beat`: chord tones where the ear checks the harmony.

use super::common::{classify, pc_bit, write_one, Ev, Meter};
use super::error::{check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`ChordToneOnStrongBeat`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChordToneOnStrongBeatParams {
    /// Reward for a chord tone attacked on a strong beat (0..=100).
    pub strong_reward: f64,
    /// Penalty (subtracted) for a non-chord tone attacked on a strong beat (0..=100).
    pub non_chord_penalty: f64,
    /// Whether the mid-bar beat (beat 3 of 4/4) counts as strong besides the downbeat.
    pub mid_bar: bool,
}

impl Default for ChordToneOnStrongBeatParams {
    fn default() -> Self {
        Self {
            strong_reward: 1.0,
            non_chord_penalty: 0.5,
            mid_bar: true,
        }
    }
}

impl TermParams for ChordToneOnStrongBeatParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_real("strong_reward", self.strong_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "non_chord_penalty",
            self.non_chord_penalty,
            0.0,
            MAX_MAGNITUDE,
        )
    }
}

/// Term `chord_tone_on_strong_beat`: rewards attacking a chord tone on the downbeat (and on
/// the mid-bar beat), mildly penalises a non-chord tone there.
///
/// **Why:** strong beats are where a listener hears the harmony; a line that lands on chord
/// tones there "makes the changes", while tensions and passing tones belong between them.
/// The penalty is mild because an accented non-chord tone (an appoggiatura) is a legitimate
/// effect when it resolves, which [`NonChordToneResolution`](super::NonChordToneResolution)
/// judges.
///
/// **Example:** over G7 (G B D F), B attacked on beat 1 scores `+1`; A on beat 1 scores
/// `-0.5`; anything on beat 2, and notes merely held into beat 1, score `0`. Without a
/// progression the key's tonic triad stands in for the chord.
///
/// Stateless: a step costs a few integer operations.
#[derive(Debug, Clone, Default)]
pub struct ChordToneOnStrongBeat {
    params: ChordToneOnStrongBeatParams,
}

impl ImprovTerm for ChordToneOnStrongBeat {
    const NAME: &'static str = "chord_tone_on_strong_beat";
    type Params = ChordToneOnStrongBeatParams;

    fn from_valid(params: ChordToneOnStrongBeatParams) -> Self {
        Self { params }
    }

    fn params(&self) -> &ChordToneOnStrongBeatParams {
        &self.params
    }
}

impl Reward for ChordToneOnStrongBeat {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {}

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let value = match classify(ctx.setting, ctx.action) {
            Ev::Onset(pitch) => {
                let meter = Meter::of(ctx.setting);
                let strong = meter.is_downbeat(ctx.step)
                    || (self.params.mid_bar && meter.is_mid_bar(ctx.step));
                if !strong {
                    0.0
                } else if ctx.setting.chord_tones_at(ctx.step) & pc_bit(pitch) != 0 {
                    self.params.strong_reward
                } else {
                    -self.params.non_chord_penalty
                }
            }
            _ => 0.0,
        };
        write_one(terms, value)
    }
}
