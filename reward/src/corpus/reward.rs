//! The corpus model as a reward term.

use std::sync::Arc;

use cadenza_env::encoding::Event;
use cadenza_env::reward::Setting;

use super::error::CorpusError;
use super::ngram::{NgramCursor, NgramModel};
use crate::prior::{PriorTerm, StepPrior};

/// Reward term `corpus_log_prob`: the log-probability of the chosen event under an
/// [`NgramModel`], given the last `N-1` events and the step index, clamped below at a floor.
///
/// The floor keeps one event the corpus never shows from dominating an episode's return (the
/// uniform back-off alone would give `-ln 38 ≈ -3.6` in RL Tuner's encoding, but a model trained
/// on a large corpus can push unseen events far lower). Weights are applied by the caller.
///
/// The term is the model as a [`StepPrior`] (`crate::prior`): a cursor follows the melody
/// through the automaton of the model's [`ContextTable`](super::ContextTable), so a step is a
/// read for the state and one for the log-probability, no allocation, whatever the melody's
/// length. The model and its table are shared behind an [`Arc`], so vectorised environments
/// hold one copy; the table is built when the first reward on a model is made.
///
/// ```
/// use std::sync::Arc;
/// use cadenza_env::encoding::HOLD;
/// use cadenza_env::reward::{Reward, Setting, StepContext};
/// use cadenza_reward::corpus::{CorpusReward, NgramConfig, NgramModel};
///
/// let setting = Setting::rl_tuner();
/// let [c, e, g] = [60, 64, 67].map(|p| setting.encoding.event_of_pitch(p).unwrap());
/// let melodies = vec![vec![c, HOLD, e, HOLD, g, HOLD], vec![e, HOLD, g, HOLD, c, HOLD]];
/// let model = Arc::new(NgramModel::fit(
///     NgramConfig::default(),
///     setting.encoding,
///     setting.steps_per_bar(),
///     &melodies,
/// )?);
/// let mut reward = CorpusReward::new(model.clone()).with_floor(-8.0)?;
/// reward.check_setting(&setting)?;
/// reward.reset(&setting);
/// let mut terms = [0.0];
/// let ctx = StepContext { setting: &setting, step: 1, history: &[c], action: HOLD };
/// let total = reward.step(&ctx, &mut terms);
/// assert_eq!(total, terms[0]);
/// assert_eq!(total, model.log_prob(&[c], 1, HOLD));
/// assert!(total > model.log_prob(&[c], 1, g)); // a hold after a note is the corpus's habit
/// # Ok::<(), cadenza_reward::corpus::CorpusError>(())
/// ```
pub type CorpusReward = PriorTerm<Arc<NgramModel>>;

/// The n-gram model as a [`StepPrior`]: its cursor is the model's automaton state (see
/// [`ContextTable`](super::ContextTable)), one read to score a step and one to move on.
impl StepPrior for Arc<NgramModel> {
    type Cursor = NgramCursor;
    const TERM: &'static str = "corpus_log_prob";

    #[inline]
    fn seek(&self, _setting: &Setting, history: &[Event]) -> NgramCursor {
        self.cursor_after(history)
    }

    #[inline]
    fn step(
        &self,
        cursor: &mut NgramCursor,
        _setting: &Setting,
        step: usize,
        event: Event,
    ) -> Option<f64> {
        let value = self.cursor_log_prob(cursor, step, event);
        self.cursor_advance(cursor, event);
        Some(value)
    }

    #[inline]
    fn prefetch(&self, cursor: &NgramCursor) {
        self.cursor_prefetch(cursor);
    }
}

impl CorpusReward {
    /// A reward on `model` with the default floor.
    pub fn new(model: Arc<NgramModel>) -> Self {
        // Built here, once per model, rather than on the first step.
        model.context_table();
        Self::with_prior(model)
    }

    /// The model.
    pub fn model(&self) -> &NgramModel {
        &self.prior
    }

    /// Checks that an environment's setting matches the model: the same encoding, and (when the
    /// model conditions on the position) the same number of steps per bar. Call it when
    /// building an environment: a mismatch would not crash a step, but would make the term
    /// meaningless.
    pub fn check_setting(&self, setting: &Setting) -> Result<(), CorpusError> {
        let model = &self.prior;
        if setting.encoding != model.encoding() {
            return Err(CorpusError::SettingMismatch(format!(
                "the environment uses encoding {} but the model was fitted on {}",
                setting.encoding,
                model.encoding()
            )));
        }
        if model.config().use_position && setting.steps_per_bar() != model.steps_per_bar() {
            return Err(CorpusError::SettingMismatch(format!(
                "the environment has {} steps per bar but the model was fitted with {}",
                setting.steps_per_bar(),
                model.steps_per_bar()
            )));
        }
        Ok(())
    }
}
