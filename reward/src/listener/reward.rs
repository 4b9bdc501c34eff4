//! [`ListenerReward`]: a listener model as a reward term.

use super::error::ListenerError;
use super::features::{FeatureExtractor, FEATURE_NAMES, NAMED_FEATURE_COUNT, NUM_FEATURES};
use super::model::ListenerModel;
use cadenza_env::{Event, Reward, Setting, StepContext};
use std::sync::Arc;

/// Term `listener`: the listener model's posterior mean utility of the whole phrase, paid
/// once, on the phrase's last step (`setting.length − 1`); every other step pays 0.
///
/// A listener judges phrases, not notes, so the term does not pretend to know the value of
/// a half-played phrase; agents see it as a terminal reward. The phrase is scored from the
/// step's history plus its action, so the term keeps no state but a reusable buffer.
#[derive(Debug, Clone)]
pub struct ListenerReward {
    model: Arc<ListenerModel>,
    extractor: FeatureExtractor,
    phrase: Vec<Event>,
    features: Vec<f64>,
}

impl ListenerReward {
    /// The term's name.
    pub const NAME: &'static str = "listener";

    /// A term scoring with `model`, which must be over the phrase features: all of them, or
    /// the named ones of a model saved before the note profile (its first
    /// [`NAMED_FEATURE_COUNT`](super::NAMED_FEATURE_COUNT)).
    pub fn new(model: Arc<ListenerModel>) -> Result<Self, ListenerError> {
        let dim = model.dim();
        let names_match = dim <= NUM_FEATURES
            && model
                .feature_names()
                .iter()
                .zip(FEATURE_NAMES)
                .all(|(a, b)| a == b);
        if !names_match || (dim != NUM_FEATURES && dim != NAMED_FEATURE_COUNT) {
            return Err(ListenerError::Dimension {
                expected: NUM_FEATURES,
                got: dim,
            });
        }
        Ok(Self {
            model,
            extractor: FeatureExtractor::new(),
            phrase: Vec::new(),
            features: vec![0.0; NUM_FEATURES],
        })
    }

    /// The model.
    pub fn model(&self) -> &ListenerModel {
        &self.model
    }
}

impl Reward for ListenerReward {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, setting: &Setting) {
        self.phrase.clear();
        self.phrase.reserve(setting.length);
    }

    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let value = if ctx.step + 1 == ctx.setting.length {
            self.phrase.clear();
            self.phrase.extend_from_slice(ctx.history);
            self.phrase.push(ctx.action);
            // An event outside the encoding cannot be judged: it earns nothing rather than
            // failing the episode.
            match self
                .extractor
                .extract_into(ctx.setting, &self.phrase, &mut self.features)
            {
                Ok(()) => self
                    .model
                    .utility(&self.features[..self.model.dim()])
                    .unwrap_or(0.0),
                Err(_) => 0.0,
            }
        } else {
            0.0
        };
        terms[0] = value;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listener::model::{Feedback, ListenerConfig};
    use crate::score::score_melody;
    use cadenza_env::{TaskSpec, HOLD};

    #[test]
    fn pays_the_model_utility_on_the_last_step_only() {
        let task = TaskSpec::by_name("improv", Some("length = 8")).unwrap();
        let enc = task.setting.encoding;
        let phrase = [
            enc.event_of_pitch(62).unwrap(),
            HOLD,
            HOLD,
            HOLD,
            3,
            4,
            5,
            6,
        ];
        let features = FeatureExtractor::new()
            .extract(&task.setting, &phrase)
            .unwrap();
        let mut model = ListenerModel::for_phrases(ListenerConfig::default()).unwrap();
        model
            .observe(Feedback::Like {
                features: features.clone(),
                liked: true,
            })
            .unwrap();
        let expected = model.utility(&features).unwrap();
        let mut reward = ListenerReward::new(Arc::new(model)).unwrap();
        let scored = score_melody(&mut reward, &task.setting, &phrase);
        assert!(scored.steps[..7].iter().all(|s| s.reward == 0.0));
        assert_eq!(scored.steps[7].reward, expected);
        assert!(expected > 0.0);
    }
}
