//! Scoring whole melodies with a reward: per step, the total and every term.

use cadenza_env::{Event, Reward, Setting, StepContext};
use serde::Serialize;

/// One step's reward and its terms (in the reward's term order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredStep {
    /// Total reward of the step.
    pub reward: f64,
    /// Value of each term.
    pub terms: Vec<f64>,
}

/// A melody's per-step rewards and their sum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredMelody {
    /// One entry per event.
    pub steps: Vec<ScoredStep>,
    /// Sum of the step rewards.
    pub total: f64,
}

/// Scores `events` from a fresh episode: the reward is reset, then stepped once per event
/// with the melody so far as history.
pub fn score_melody<R: Reward + ?Sized>(
    reward: &mut R,
    setting: &Setting,
    events: &[Event],
) -> ScoredMelody {
    let num_terms = reward.term_names().len();
    reward.reset(setting);
    let mut steps = Vec::with_capacity(events.len());
    let mut total = 0.0;
    for (step, &action) in events.iter().enumerate() {
        let mut terms = vec![0.0; num_terms];
        let ctx = StepContext {
            setting,
            step,
            history: &events[..step],
            action,
        };
        let value = reward.step(&ctx, &mut terms);
        total += value;
        steps.push(ScoredStep {
            reward: value,
            terms,
        });
    }
    ScoredMelody { steps, total }
}
