//! `contour`: shapely lines, neither scales forever nor flat.

use super::common::{classify, restart_on_first_step, write_one, Ev};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
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
    /// Most attacks of one pitch in a row that go unpenalised (2..=64): a line that keeps
    /// re-striking one note is static, not shaped.
    pub max_repeat_notes: u8,
    /// Penalty (subtracted) for each attack that extends a run of one pitch beyond
    /// `max_repeat_notes` (0..=100).
    pub repeat_penalty: f64,
}

impl Default for ContourParams {
    fn default() -> Self {
        Self {
            max_run_notes: 5,
            run_penalty: 0.3,
            peak_reward: 1.0,
            min_phrase_notes: 4,
            max_repeat_notes: 3,
            repeat_penalty: 0.3,
        }
    }
}

impl TermParams for ContourParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("max_run_notes", self.max_run_notes.into(), 2, 64)?;
        check_real("run_penalty", self.run_penalty, 0.0, MAX_MAGNITUDE)?;
        check_real("peak_reward", self.peak_reward, 0.0, MAX_MAGNITUDE)?;
        check_int("min_phrase_notes", self.min_phrase_notes.into(), 3, 64)?;
        check_int("max_repeat_notes", self.max_repeat_notes.into(), 2, 64)?;
        check_real("repeat_penalty", self.repeat_penalty, 0.0, MAX_MAGNITUDE)
    }
}

/// Term `contour`: penalises monotone runs longer than `max_run_notes` notes and static runs
/// of one pitch longer than `max_repeat_notes` attacks, and rewards each phrase whose high
/// point lies inside it rather than at its edges.
///
/// A phrase is the notes between rests (a rest event while a note sounds closes it), and the
/// melody's last step closes the open one. Everything is kept incrementally: the direction
/// and length of the current run, the attacks of the current pitch, and the phrase's note
/// count, maximum and the first and last positions of that maximum. Repeated pitches neither
/// extend nor break a monotone run, but they make a static run of their own; a rest does not
/// end it either (a pitch struck again after a breath is still the same pitch).
///
/// A flat line is the other way of having no shape: without the static-run penalty a line
/// that re-strikes one pitch eight times, moves, and re-strikes the next eight times would
/// escape every monotone-run penalty (it hardly has intervals) and beat a real tune with its
/// scale runs. A few re-attacks (a repeated note, a triplet on one pitch) are ordinary and
/// cost nothing.
///
/// **Why:** a phrase that rises to a climax and falls away is the archetypal melodic arch;
/// endless scales in one direction sound like exercises, not lines.
///
/// **Not a test of pitch choice:** these are rules of shape, and a line of random steps up
/// and down obeys them by construction (it turns every note or two, and its high point
/// almost surely falls inside the phrase), so the term cannot and is not meant to tell such
/// a walk from a tune; the chord-scale and resolution terms do.
///
/// **Example:** C D E F G A (six notes rising) scores `-0.3` at A with the defaults; the
/// phrase E G C5 A G then a rest scores `+1` at the rest (the peak C5 is in the middle),
/// while C D E G then a rest scores `0` (the peak is the last note); a fourth C in a row
/// scores `-0.3`, and so does each further one.
#[derive(Debug, Clone, Default)]
pub struct Contour {
    params: ContourParams,
    /// Last attacked pitch in the current phrase.
    last: Option<u8>,
    /// Direction of the current run (+1/-1, 0 before the first interval).
    direction: i8,
    /// Notes in the current monotone run.
    run: u32,
    /// Pitch and attacks of the current static run (survives rests).
    repeat: Option<(u8, u32)>,
    /// Notes in the current phrase.
    phrase_notes: u32,
    /// Highest pitch of the phrase.
    peak: u8,
    /// Index (within the phrase) of the first and last notes at the peak.
    peak_first: u32,
    peak_last: u32,
}

impl ImprovTerm for Contour {
    const NAME: &'static str = "contour";
    type Params = ContourParams;

    fn from_valid(params: ContourParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &ContourParams {
        &self.params
    }
}

impl Contour {
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
        self.repeat = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        restart_on_first_step(self, ctx);
        let mut value = 0.0;
        match classify(ctx.setting, ctx.action) {
            Ev::Onset(pitch) => {
                let attacks = match self.repeat {
                    Some((p, n)) if p == pitch => n + 1,
                    _ => 1,
                };
                self.repeat = Some((pitch, attacks));
                if attacks > u32::from(self.params.max_repeat_notes) {
                    value -= self.params.repeat_penalty;
                }
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
