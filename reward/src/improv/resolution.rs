//! `non_chord_tone_resolution`: non-chord tones that move by step.

use super::common::{chord_scale_at, onset_in_episode, pc_bit, write_one};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`NonChordToneResolution`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NonChordToneResolutionParams {
    /// Reward for a non-chord tone left by step into a chord tone (0..=100): passing and
    /// neighbour tones, appoggiaturas, chromatic approach tones.
    pub resolved_reward: f64,
    /// Penalty (subtracted) for a non-chord tone neither approached nor left by step
    /// (0..=100).
    pub unresolved_penalty: f64,
    /// Largest interval, in semitones, that counts as a step (1..=3; 2 = a whole tone).
    pub max_step: u8,
}

impl Default for NonChordToneResolutionParams {
    fn default() -> Self {
        Self {
            resolved_reward: 0.5,
            unresolved_penalty: 1.0,
            max_step: 2,
        }
    }
}

impl TermParams for NonChordToneResolutionParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_real("resolved_reward", self.resolved_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "unresolved_penalty",
            self.unresolved_penalty,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_int("max_step", self.max_step.into(), 1, 3)
    }
}

/// A note whose fate is decided when the next different pitch arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    pitch: u8,
    non_chord: bool,
    /// Outside the key and the chord-scale as well as the chord: a chromatic note.
    chromatic: bool,
}

/// Term `non_chord_tone_resolution`: a non-chord tone must be approached or left by step.
///
/// A note is judged when the next *different* pitch arrives (only then is it known how it was
/// left), so the value lands on that later step and is about the previous note:
/// - left by step into a chord tone (passing tone, neighbour tone, appoggiatura, a chromatic
///   approach tone a half step from its target): `+resolved_reward`;
/// - approached or left by step otherwise (an escape tone, a chain of tensions): `0`;
/// - neither approached nor left by step: `-unresolved_penalty`.
///
/// A *chromatic* non-chord tone, outside both the key's scale and the chord-scale, is
/// stricter: it must be left by a half step into a scale note. Into a chord tone that is
/// `+resolved_reward` as above; into another scale note (C–C#–D over C, the line going on)
/// `0`; any other way of leaving it (a whole step, a leap) is `-unresolved_penalty`, however
/// it was approached.
///
/// **Why chromatic notes are stricter:** a diatonic passing tone is heard within the key and
/// may pass on to another scale note, but a chromatic note is heard as an inflection of the
/// scale note a half step away and only makes sense going there (C# leads to D, Bb falls to
/// A). Without this a chromatic line that wanders by whole and half steps, never settling,
/// would be paid as a string of passing tones simply because it never leaps.
///
/// Chord tones are never judged. A repeated pitch postpones the judgement; rests in between
/// do not (a line can resolve across a breath). Chord membership is taken under each note's
/// own onset, so a note that becomes a chord tone when the harmony changes under it is fine.
///
/// **Why:** dissonance against the harmony is heard as tension that wants to move to the
/// nearest consonance; resolving by step is what makes a "wrong" note sound intended.
///
/// **Example:** over Cmaj7 (C E G B), E–F–G scores `+0.5` when G arrives (F passes by step
/// into a chord tone); E–F–E likewise (neighbour); C#–D over Dm7 scores `+0.5` (chromatic
/// approach); but B–F#–C over Cmaj7 scores `-1` when C arrives (F# leapt into and out of),
/// and so does E–F#–G# over Cmaj7 when G# arrives (F# chromatic, left by a whole step).
#[derive(Debug, Clone, Default)]
pub struct NonChordToneResolution {
    params: NonChordToneResolutionParams,
    /// The last note, awaiting judgement.
    pending: Option<Pending>,
    /// The pitch before it: how it was approached.
    approach: Option<u8>,
}

impl ImprovTerm for NonChordToneResolution {
    const NAME: &'static str = "non_chord_tone_resolution";
    type Params = NonChordToneResolutionParams;

    fn from_valid(params: NonChordToneResolutionParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &NonChordToneResolutionParams {
        &self.params
    }
}

impl NonChordToneResolution {
    fn is_step(&self, a: u8, b: u8) -> bool {
        (1..=self.params.max_step).contains(&a.abs_diff(b))
    }
}

impl Reward for NonChordToneResolution {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.pending = None;
        self.approach = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let Some(pitch) = onset_in_episode(self, ctx) else {
            return write_one(terms, 0.0);
        };
        let tones = ctx.setting.chord_tones_at(ctx.step);
        let non_chord = tones & pc_bit(pitch) == 0;
        // Diatonic to the key or to the chord's own scale (an avoid note such as F over Cmaj7
        // is still a scale note, and a secondary dominant's chord-scale brings its own).
        let in_scale =
            (ctx.setting.scale | chord_scale_at(ctx.setting, ctx.step)) & pc_bit(pitch) != 0;
        let chromatic = non_chord && !in_scale;
        let mut value = 0.0;
        match self.pending {
            Some(prev) if prev.pitch == pitch => {
                // A re-attack: how the note is left is still unknown. Its status follows the
                // chord under the new attack; how it was approached stays as it was.
                self.pending = Some(Pending {
                    pitch,
                    non_chord,
                    chromatic,
                });
                return write_one(terms, 0.0);
            }
            Some(prev) => {
                if prev.chromatic {
                    let resolved = prev.pitch.abs_diff(pitch) == 1 && in_scale;
                    value = if resolved && !non_chord {
                        self.params.resolved_reward
                    } else if resolved {
                        0.0
                    } else {
                        -self.params.unresolved_penalty
                    };
                } else if prev.non_chord {
                    let left_by_step = self.is_step(prev.pitch, pitch);
                    let approached_by_step =
                        self.approach.is_some_and(|a| self.is_step(a, prev.pitch));
                    value = if left_by_step && !non_chord {
                        self.params.resolved_reward
                    } else if left_by_step || approached_by_step {
                        0.0
                    } else {
                        -self.params.unresolved_penalty
                    };
                }
                self.approach = Some(prev.pitch);
            }
            None => self.approach = None,
        }
        self.pending = Some(Pending {
            pitch,
            non_chord,
            chromatic,
        });
        write_one(terms, value)
    }
}
