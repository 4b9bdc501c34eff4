//! The data of a round: the candidates proposed, the one played, the A/B pair asked about,
//! the listener's feedback, and the calibration that scores candidates.

use crate::error::SessionError;
use cadenza_env::Event;
use cadenza_reward::listener::{self, ListenerModel};
use serde::{Deserialize, Serialize};

/// How features and theory scores are standardised, fixed at session start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean of each feature over the calibration phrases.
    pub center: Vec<f64>,
    /// Standard deviation of each feature (1 where it does not vary).
    pub scale: Vec<f64>,
    /// Mean theory score (per-step `improv` reward).
    pub theory_mean: f64,
    /// Standard deviation of the theory score.
    pub theory_std: f64,
}

impl Calibration {
    /// Whether the theory statistics can standardise a score: finite, with a positive spread.
    pub(crate) fn is_usable(&self) -> bool {
        self.theory_mean.is_finite() && self.theory_std.is_finite() && self.theory_std > 0.0
    }
}

/// One candidate phrase, scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The events.
    pub events: Vec<Event>,
    /// Its phrase features ([`listener::FEATURE_NAMES`]).
    pub features: Vec<f64>,
    /// Mean per-step `improv` reward: the theory floor.
    pub theory: f64,
    /// The listener model's posterior mean utility when proposed.
    pub utility: f64,
    /// Combined score: standardised theory + λ · utility.
    pub score: f64,
    /// Whether it passes every musicianship floor
    /// ([`MUSIC`](cadenza_reward::musicianship::MUSIC)).
    pub musical: bool,
    /// The compact state before each event (empty for rounds rebuilt for replay).
    pub(crate) states: Vec<u64>,
    /// Per-step `improv` rewards (empty for rounds rebuilt for replay).
    pub(crate) rewards: Vec<f64>,
}

/// A proposal: the candidates, the one played, and an A/B pair to ask about.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Round number, from 0.
    pub index: u64,
    /// The candidates, in sampling order.
    pub candidates: Vec<Candidate>,
    /// Index of the candidate played (the best score).
    pub played: usize,
    /// The most informative pair of candidates (A, B), if any.
    pub pair: Option<(usize, usize)>,
}

impl Round {
    /// The phrase played.
    pub fn played(&self) -> &Candidate {
        &self.candidates[self.played]
    }

    /// Whether `feedback` fits this round: a rating in 1..=5, an A/B answer only where the
    /// round asked. The one place where feedback is checked: everything downstream (the
    /// listener model, the agent's adaptation, the log) takes it as checked.
    pub(crate) fn check(&self, feedback: Feedback) -> Result<(), SessionError> {
        if let Some(r) = feedback.rating {
            if !(1..=5).contains(&r) {
                return Err(SessionError::Feedback(format!(
                    "rating {r}: expected 1..=5"
                )));
            }
        }
        if feedback.preference.is_some() && self.pair.is_none() {
            return Err(SessionError::Feedback(
                "an A/B answer, but this round asked no A/B question".into(),
            ));
        }
        Ok(())
    }

    /// Feeds this round's feedback to a listener model (shared by live sessions and replay).
    pub(crate) fn teach(
        &self,
        model: &mut ListenerModel,
        feedback: Feedback,
    ) -> Result<(), SessionError> {
        if let Some(rating) = feedback.rating {
            model.observe(listener::Feedback::Rating {
                features: self.played().features.clone(),
                rating,
            })?;
        }
        if let (Some(choice), Some((a, b))) = (feedback.preference, self.pair) {
            model.observe(listener::Feedback::Preference {
                a: self.candidates[a].features.clone(),
                b: self.candidates[b].features.clone(),
                a_preferred: choice == Choice::A,
            })?;
        }
        Ok(())
    }
}

/// An answer to "A or B?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// A was preferred.
    A,
    /// B was preferred.
    B,
}

/// A listener's reaction to a round: a rating of the played phrase and/or an A/B answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Feedback {
    /// Rating of the played phrase, 1..=5.
    pub rating: Option<u8>,
    /// Answer to the round's A/B question.
    pub preference: Option<Choice>,
}
