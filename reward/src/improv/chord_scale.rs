//! `chord_scale`: notes that belong to the chord-scale of the moment.

use super::common::{chord_scale_at, classify, pc_bit, write_one, Ev};
use super::error::{check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`ChordScaleMembership`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChordScaleMembershipParams {
    /// Reward for a note in the chord-scale of the chord under it (0..=100).
    pub in_chord_scale_reward: f64,
    /// Reward for a note in the key's scale but outside the chord-scale (0..=100): the
    /// "avoid notes" of a chord, such as F over Cmaj7.
    pub key_only_reward: f64,
    /// Penalty (subtracted) for a note outside both the key's scale and the chord-scale
    /// (0..=100).
    pub outside_penalty: f64,
}

impl Default for ChordScaleMembershipParams {
    fn default() -> Self {
        Self {
            in_chord_scale_reward: 0.2,
            key_only_reward: 0.0,
            outside_penalty: 1.0,
        }
    }
}

impl TermParams for ChordScaleMembershipParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_real(
            "in_chord_scale_reward",
            self.in_chord_scale_reward,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_real("key_only_reward", self.key_only_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("outside_penalty", self.outside_penalty, 0.0, MAX_MAGNITUDE)
    }
}

/// Term `chord_scale`: rewards each attacked note that lies in the chord-scale of the chord
/// under it, penalises notes outside both the key and the chord-scale.
///
/// **Why:** the chord-scale (chord tones plus consonant tensions) is the palette an
/// improviser draws from over each chord; notes of the key that clash with the chord sound
/// "wrong-ish", and notes outside everything sound like mistakes unless handled with care
/// (which is what chromatic approach tones in
/// [`NonChordToneResolution`](super::NonChordToneResolution) reward).
///
/// **Example:** in C major over G7 with chord-scale G mixolydian, A (a 9th) scores `+0.2`;
/// over Cmaj7 with chord-scale C D E G A B, F scores `0`; C# scores `-1` over either.
/// Without a progression the key's scale is the chord-scale.
///
/// Stateless: a step costs a few integer operations.
#[derive(Debug, Clone, Default)]
pub struct ChordScaleMembership {
    params: ChordScaleMembershipParams,
}

impl ImprovTerm for ChordScaleMembership {
    const NAME: &'static str = "chord_scale";
    type Params = ChordScaleMembershipParams;

    fn from_valid(params: ChordScaleMembershipParams) -> Self {
        Self { params }
    }

    fn params(&self) -> &ChordScaleMembershipParams {
        &self.params
    }
}

impl Reward for ChordScaleMembership {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {}

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let value = match classify(ctx.setting, ctx.action) {
            Ev::Onset(pitch) => {
                let bit = pc_bit(pitch);
                if chord_scale_at(ctx.setting, ctx.step) & bit != 0 {
                    self.params.in_chord_scale_reward
                } else if ctx.setting.scale & bit != 0 {
                    self.params.key_only_reward
                } else {
                    -self.params.outside_penalty
                }
            }
            _ => 0.0,
        };
        write_one(terms, value)
    }
}
