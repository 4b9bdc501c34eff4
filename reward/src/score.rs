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
    let mut terms = vec![0.0; reward.term_names().len()];
    let mut steps = Vec::with_capacity(events.len());
    let total = play_episode(reward, setting, events, &mut terms, |value, terms| {
        steps.push(ScoredStep {
            reward: value,
            terms: terms.to_vec(),
        });
    });
    ScoredMelody { steps, total }
}

/// Plays `events` through `reward` as one fresh episode (reset, then one step per event
/// with the melody so far as history) and returns the total. Each step's term values are
/// written to `terms` (one slot per term name) and handed to `on_step` with the step's
/// reward. Allocates nothing: what a step costs is what the reward costs.
pub fn play_episode<R: Reward + ?Sized>(
    reward: &mut R,
    setting: &Setting,
    events: &[Event],
    terms: &mut [f64],
    mut on_step: impl FnMut(f64, &[f64]),
) -> f64 {
    reward.reset(setting);
    let mut total = 0.0;
    for step in 0..events.len() {
        let ctx = StepContext {
            setting,
            step,
            history: &events[..step],
            action: events[step],
        };
        let value = reward.step(&ctx, terms);
        total += value;
        on_step(value, terms);
    }
    total
}
