//! The style model as a reward term.

use std::sync::Arc;

use cadenza_env::reward::{Reward, Setting, StepContext};

use super::model::{StyleModel, StyleState};
use crate::corpus::CorpusError;

/// Reward term `style_log_prob`: the log-probability of the chosen event under a
/// [`StyleModel`], given the chord under the step, the key, the meter and the melody so far,
/// clamped below at a floor.
///
/// The term keeps the model's few numbers of state per episode (last pitch, last interval,
/// steps since the last onset), so a step costs the same at step 10 and at step 10,000: one
/// pass over the encoding's pitches on an onset, a table read otherwise, no allocation. The
/// model is shared behind an [`Arc`], so vectorised environments hold one copy.
///
/// ```
/// use cadenza_env::reward::{Reward, Setting, StepContext};
/// use cadenza_reward::style::StyleReward;
///
/// let setting = Setting::rl_tuner();
/// let mut reward = StyleReward::builtin();
/// reward.reset(&setting);
/// let mut terms = [0.0];
/// let [c, fs] = [60, 66].map(|p| setting.encoding.event_of_pitch(p).unwrap());
/// let ctx = |action| StepContext { setting: &setting, step: 0, history: &[], action };
/// // On the downbeat in C major, the tonic is far likelier than F sharp.
/// let tonic = reward.step(&ctx(c), &mut terms);
/// reward.reset(&setting);
/// let tritone = reward.step(&ctx(fs), &mut terms);
/// assert!(tonic > tritone + 1.0, "{tonic} vs {tritone}");
/// ```
#[derive(Debug, Clone)]
pub struct StyleReward {
    model: Arc<StyleModel>,
    floor: f64,
    part: StylePart,
    state: StyleState,
}

/// What of each event the style term scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StylePart {
    /// The whole event: `log P(event)`, rhythm and pitch. As a reward it charges a new note
    /// more than a hold (a pitch is one choice among dozens), so it leans towards fewer notes.
    #[default]
    All,
    /// Only the pitch of each new note, against a uniform choice
    /// ([`StyleModel::pitch_log_ratio`]); holds and rests score 0. Leaves the rhythm to the
    /// other terms.
    Pitch,
}

impl StyleReward {
    /// Name of the reward's one term.
    pub const TERM: &'static str = "style_log_prob";
    /// Default floor: as the corpus term's, `e^-10`.
    pub const DEFAULT_FLOOR: f64 = -10.0;

    /// A reward on `model` with the default floor.
    pub fn new(model: Arc<StyleModel>) -> Self {
        Self {
            model,
            floor: Self::DEFAULT_FLOOR,
            part: StylePart::All,
            state: StyleState::new(),
        }
    }

    /// A reward on the model shipped with Cadenza ([`StyleModel::builtin`]).
    pub fn builtin() -> Self {
        Self::new(StyleModel::builtin())
    }

    /// Sets the floor of the term; it must be finite.
    pub fn with_floor(mut self, floor: f64) -> Result<Self, CorpusError> {
        if !floor.is_finite() {
            return Err(CorpusError::InvalidConfig {
                field: "floor",
                message: format!("must be a finite number, got {floor}"),
            });
        }
        self.floor = floor;
        Ok(self)
    }

    /// Sets what of each event the term scores.
    pub fn with_part(mut self, part: StylePart) -> Self {
        self.part = part;
        self
    }

    /// The model.
    pub fn model(&self) -> &StyleModel {
        &self.model
    }
}

impl Reward for StyleReward {
    fn term_names(&self) -> Vec<String> {
        vec![Self::TERM.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.state = StyleState::new();
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 {
            self.state = StyleState::new();
        }
        let value = match self.part {
            StylePart::All => self
                .model
                .log_prob(ctx.setting, ctx.step, &self.state, ctx.action)
                .max(self.floor),
            StylePart::Pitch => self
                .model
                .pitch_log_ratio(ctx.setting, ctx.step, &self.state, ctx.action)
                .map_or(0.0, |v| v.max(self.floor)),
        };
        self.state.advance(ctx.setting, ctx.action);
        if let Some(term) = terms.first_mut() {
            *term = value;
        }
        value
    }
}
