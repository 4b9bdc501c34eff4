//! `contour`: shapely lines, neither scales forever nor flat.

use super::common::{classify, write_one, Ev};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`Contour`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContourParams {
    /// Longest monotone run, in notes, that goes unpenalised (2..=64).
    pub max_run_notes: u8,
    /// Penalty (subtracted) for each note that extends a run beyond `max_run_notes`
    /// (0..=100).
    pub run_penalty: f64,
    /// Reward for a phrase whose high point is neither its first nor its last note
    /// (0..=100).
    pub peak_reward: f64,
    /// Fewest notes a phrase needs for its high point to count (3..=64).
    pub min_phrase_notes: u8,
}

impl Default for ContourParams {
    fn default() -> Self {
        Self {
            max_run_notes: 5,
            run_penalty: 0.3,
            peak_reward: 1.0,
            min_phrase_notes: 4,
        }
    }
}

impl ContourParams {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), ImprovError> {
        check_int("max_run_notes", self.max_run_notes.into(), 2, 64)?;
        check_real("run_penalty", self.run_penalty, 0.0, MAX_MAGNITUDE)?;
        check_real("peak_reward", self.peak_reward, 0.0, MAX_MAGNITUDE)?;
        check_int("min_phrase_notes", self.min_phrase_notes.into(), 3, 64)
    }
}

/// Term `contour`: penalises monotone runs longer than `max_run_notes` notes, and rewards
/// each phrase whose high point lies inside it rather than at its edges.
///
/// A phrase is the notes between rests (a rest event while a note sounds closes it), and the
/// melody's last step closes the open one. Everything is kept incrementally: the direction
/// and length of the current run, and the phrase's note count, maximum and the first and
/// last positions of that maximum. Repeated pitches neither extend nor break a run.
///
/// **Why:** a phrase that rises to a climax and falls away is the archetypal melodic arch;
/// endless scales in one direction sound like exercises, not lines.
///
/// **Example:** C D E F G A (six notes rising) scores `-0.3` at A with the defaults; the
/// phrase E G C5 A G then a rest scores `+1` at the rest (the peak C5 is in the middle),
/// while C D E G then a rest scores `0` (the peak is the last note).
#[derive(Debug, Clone, Default)]
pub struct Contour {
    params: ContourParams,
    /// Last attacked pitch in the current phrase.
    last: Option<u8>,
    /// Direction of the current run (+1/-1, 0 before the first interval).
    direction: i8,
    /// Notes in the current monotone run.
    run: u32,
    /// Notes in the current phrase.
    phrase_notes: u32,
    /// Highest pitch of the phrase.
    peak: u8,
    /// Index (within the phrase) of the first and last notes at the peak.
    peak_first: u32,
    peak_last: u32,
}

impl Contour {
    /// The term's name.
    pub const NAME: &'static str = "contour";

    /// A term with checked parameters.
    pub fn new(params: ContourParams) -> Result<Self, ImprovError> {
        params.validate()?;
        Ok(Self {
            params,
            ..Self::default()
        })
    }

    /// The parameters.
    pub fn params(&self) -> &ContourParams {
        &self.params
    }

    fn clear(&mut self) {
        self.last = None;
        self.direction = 0;
        self.run = 0;
        self.phrase_notes = 0;
        self.peak = 0;
        self.peak_first = 0;
        self.peak_last = 0;
    }

    /// Ends the current phrase, returning its high-point reward.
    fn close_phrase(&mut self) -> f64 {
        let n = self.phrase_notes;
        let value = if n >= u32::from(self.params.min_phrase_notes)
            && self.peak_first > 0
            && self.peak_last + 1 < n
        {
            self.params.peak_reward
        } else {
            0.0
        };
        self.clear();
        value
    }
}

impl Reward for Contour {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.clear();
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 {
            self.reset(ctx.setting);
        }
        let mut value = 0.0;
        match classify(ctx.setting, ctx.action) {
            Ev::Onset(pitch) => {
                match self.last {
                    None => self.run = 1,
                    Some(last) if last != pitch => {
                        let direction = if pitch > last { 1 } else { -1 };
                        if direction == self.direction {
                            self.run += 1;
                        } else {
                            self.direction = direction;
                            self.run = 2;
                        }
                    }
                    Some(_) => {}
                }
                if self.run > u32::from(self.params.max_run_notes) {
                    value -= self.params.run_penalty;
                }
                let index = self.phrase_notes;
                if index == 0 || pitch > self.peak {
                    self.peak = pitch;
                    self.peak_first = index;
                    self.peak_last = index;
                } else if pitch == self.peak {
                    self.peak_last = index;
                }
                self.phrase_notes += 1;
                self.last = Some(pitch);
            }
            Ev::Rest if self.phrase_notes > 0 => value += self.close_phrase(),
            _ => {}
        }
        if ctx.setting.length.checked_sub(1) == Some(ctx.step) && self.phrase_notes > 0 {
            value += self.close_phrase();
        }
        write_one(terms, value)
    }
}
