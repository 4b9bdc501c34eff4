//! The style model as a reward term.

use std::sync::Arc;

use cadenza_env::encoding::Event;
use cadenza_env::reward::Setting;

use super::model::{StyleModel, StyleState};
use crate::prior::{PriorTerm, StepPrior};

/// Reward term `style_log_prob`: the log-probability of the chosen event under a
/// [`StyleModel`], given the chord under the step, the key, the meter and the melody so far,
/// clamped below at a floor.
///
/// The term is the model as a [`StepPrior`] (`crate::prior`): its cursor is the model's few
/// numbers of state (last pitch, last interval, steps since the last onset), so a step costs
/// the same at step 10 and at step 10,000: one pass over the encoding's pitches on an onset,
/// a table read otherwise, no allocation. The model is shared behind an [`Arc`], so
/// vectorised environments hold one copy.
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
pub type StyleReward = PriorTerm<StylePrior>;

/// The style model as a [`StepPrior`], scoring the [`StylePart`] asked of it. Its cursor is
/// the model's [`StyleState`].
#[derive(Debug, Clone)]
pub struct StylePrior {
    model: Arc<StyleModel>,
    part: StylePart,
}

impl StepPrior for StylePrior {
    type Cursor = StyleState;
    const TERM: &'static str = "style_log_prob";

    fn seek(&self, setting: &Setting, history: &[Event]) -> StyleState {
        let mut state = StyleState::new();
        for &event in history {
            state.advance(setting, event);
        }
        state
    }

    #[inline]
    fn step(
        &self,
        state: &mut StyleState,
        setting: &Setting,
        step: usize,
        event: Event,
    ) -> Option<f64> {
        let value = match self.part {
            StylePart::All => Some(self.model.log_prob(setting, step, state, event)),
            StylePart::Pitch => self.model.pitch_log_ratio(setting, step, state, event),
        };
        state.advance(setting, event);
        value
    }
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
    /// A reward on `model` with the default floor.
    pub fn new(model: Arc<StyleModel>) -> Self {
        Self::with_prior(StylePrior {
            model,
            part: StylePart::All,
        })
    }

    /// A reward on the model shipped with Cadenza ([`StyleModel::builtin`]).
    pub fn builtin() -> Self {
        Self::new(StyleModel::builtin())
    }

    /// Sets what of each event the term scores.
    pub fn with_part(mut self, part: StylePart) -> Self {
        self.prior.part = part;
        self
    }

    /// The model.
    pub fn model(&self) -> &StyleModel {
        &self.prior.model
    }
}
