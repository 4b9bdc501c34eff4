//! The corpus model as a reward term.

use std::sync::Arc;

use cadenza_env::reward::{Reward, Setting, StepContext};

use super::error::CorpusError;
use super::ngram::NgramModel;

/// Reward term `corpus_log_prob`: the log-probability of the chosen event under an
/// [`NgramModel`], given the last `N-1` events and the step index, clamped below at a floor.
///
/// The floor keeps one event the corpus never shows from dominating an episode's return (the
/// uniform back-off alone would give `-ln 38 ≈ -3.6` in RL Tuner's encoding, but a model trained
/// on a large corpus can push unseen events far lower). Weights are applied by the caller.
///
/// Each step looks at the last `N-1` events of the history only, through the model's
/// [`ContextTable`](super::ContextTable): a hash probe per level above the deepest that
/// knows the context, one read, no allocation, whatever the melody's length. The model and
/// its table are shared behind an [`Arc`], so vectorised environments hold one copy; the
/// table is built when the first reward on a model is made.
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
#[derive(Debug, Clone)]
pub struct CorpusReward {
    model: Arc<NgramModel>,
    floor: f64,
}

impl CorpusReward {
    /// Name of the reward's one term.
    pub const TERM: &'static str = "corpus_log_prob";
    /// Default floor of the term: `e^-10 ≈ 4.5e-5`, far below any event the corpus makes
    /// plausible, yet only a few times the penalty of an ordinary unlikely event.
    pub const DEFAULT_FLOOR: f64 = -10.0;

    /// A reward on `model` with the default floor.
    pub fn new(model: Arc<NgramModel>) -> Self {
        // Built here, once per model, rather than on the first step.
        model.context_table();
        Self {
            model,
            floor: Self::DEFAULT_FLOOR,
        }
    }

    /// Sets the floor of the term; it must be finite (and is usually negative).
    pub fn with_floor(mut self, floor: f64) -> Result<Self, CorpusError> {
        if !floor.is_finite() {
            return Err(CorpusError::config(
                "floor",
                format!("must be a finite number, got {floor}"),
            ));
        }
        self.floor = floor;
        Ok(self)
    }

    /// The floor of the term.
    pub fn floor(&self) -> f64 {
        self.floor
    }

    /// The model.
    pub fn model(&self) -> &NgramModel {
        &self.model
    }

    /// Checks that an environment's setting matches the model: the same encoding, and (when the
    /// model conditions on the position) the same number of steps per bar. Call it when
    /// building an environment: a mismatch would not crash a step, but would make the term
    /// meaningless.
    pub fn check_setting(&self, setting: &Setting) -> Result<(), CorpusError> {
        if setting.encoding != self.model.encoding() {
            return Err(CorpusError::SettingMismatch(format!(
                "the environment uses encoding {} but the model was fitted on {}",
                setting.encoding,
                self.model.encoding()
            )));
        }
        if self.model.config().use_position && setting.steps_per_bar() != self.model.steps_per_bar()
        {
            return Err(CorpusError::SettingMismatch(format!(
                "the environment has {} steps per bar but the model was fitted with {}",
                setting.steps_per_bar(),
                self.model.steps_per_bar()
            )));
        }
        Ok(())
    }
}

impl Reward for CorpusReward {
    fn term_names(&self) -> Vec<String> {
        vec![Self::TERM.to_string()]
    }

    // The term depends on the history handed to each step only: nothing to clear.
    fn reset(&mut self, _setting: &Setting) {}

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let keep = self.model.order() - 1;
        let context = &ctx.history[ctx.history.len().saturating_sub(keep)..];
        // `max` also maps the -inf of an event outside the encoding to the floor.
        let value = self
            .model
            .log_prob_fast(context, ctx.step, ctx.action)
            .max(self.floor);
        if let Some(term) = terms.first_mut() {
            *term = value;
        }
        value
    }
}
