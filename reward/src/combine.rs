//! [`WeightedSum`]: several rewards summed with weights, every term still reported; and
//! [`OneTerm`]: one term of a reward as a reward of its own (what an optimizer of that term
//! alone maximises).
//!
//! Each part keeps its own terms; a part with more than one term reports them as
//! `part.term` (for example `rl_tuner.key`), a part with one term under that term's name.
//! Reported values are already weighted, so the values of a step add up to its total.
//!
//! ```
//! use cadenza_env::{InScaleReward, Reward, Setting, StepContext, ZeroReward};
//! use cadenza_reward::combine::WeightedSum;
//! let mut sum = WeightedSum::new();
//! sum.push("in_scale", 2.0, Box::new(InScaleReward)).unwrap();
//! sum.push("zero", 1.0, Box::new(ZeroReward)).unwrap();
//! let setting = Setting::rl_tuner();
//! sum.reset(&setting);
//! let mut terms = vec![0.0; sum.term_names().len()];
//! let ctx = StepContext { setting: &setting, step: 0, history: &[], action: 3 }; // C#3
//! assert_eq!(sum.step(&ctx, &mut terms), -2.0);
//! assert_eq!(sum.term_names(), ["in_scale"]);
//! ```

use cadenza_env::{Reward, Setting, StepContext};

/// Largest magnitude of a part's weight: far above any useful scale of the terms (whose
/// values are at most a few hundred), and far enough below `f64::MAX` that a weighted sum of
/// them cannot overflow to infinity.
pub const MAX_WEIGHT: f64 = 1e6;

/// Errors of reward composition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CombineError {
    /// A weight that is NaN, infinite or larger in magnitude than [`MAX_WEIGHT`].
    #[error("weight of '{part}' is {weight}: expected a finite number in [-{MAX_WEIGHT:e}, {MAX_WEIGHT:e}]")]
    NonFiniteWeight {
        /// The part.
        part: String,
        /// The weight given.
        weight: f64,
    },
    /// Two terms would be reported under the same name.
    #[error("two terms are named '{0}': give the parts distinct names")]
    DuplicateTerm(String),
}

struct Part {
    name: String,
    weight: f64,
    reward: Box<dyn Reward>,
    offset: usize,
    len: usize,
}

/// Rewards summed with weights. See the module docs.
#[derive(Default)]
pub struct WeightedSum {
    parts: Vec<Part>,
    names: Vec<String>,
}

impl std::fmt::Debug for WeightedSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<_> = self
            .parts
            .iter()
            .map(|p| (p.name.as_str(), p.weight))
            .collect();
        f.debug_struct("WeightedSum")
            .field("parts", &parts)
            .finish()
    }
}

impl WeightedSum {
    /// An empty sum (a reward of zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a part; its terms are named as the module docs say.
    pub fn push(
        &mut self,
        name: &str,
        weight: f64,
        reward: Box<dyn Reward>,
    ) -> Result<&mut Self, CombineError> {
        if !(weight.is_finite() && weight.abs() <= MAX_WEIGHT) {
            return Err(CombineError::NonFiniteWeight {
                part: name.to_string(),
                weight,
            });
        }
        let terms = reward.term_names();
        let new_names: Vec<String> = if terms.len() == 1 {
            terms
        } else {
            terms.iter().map(|t| format!("{name}.{t}")).collect()
        };
        for n in &new_names {
            if self.names.contains(n) {
                return Err(CombineError::DuplicateTerm(n.clone()));
            }
        }
        self.parts.push(Part {
            name: name.to_string(),
            weight,
            reward,
            offset: self.names.len(),
            len: new_names.len(),
        });
        self.names.extend(new_names);
        Ok(self)
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether there are no parts.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl Reward for WeightedSum {
    fn term_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn reset(&mut self, setting: &Setting) {
        for part in &mut self.parts {
            part.reward.reset(setting);
        }
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        self.step_parts(ctx, terms, |reward, ctx, slice| reward.step(ctx, slice))
    }

    #[inline]
    fn prefetch(&self) {
        for part in &self.parts {
            part.reward.prefetch();
        }
    }

    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        self.step_parts(ctx, terms, |reward, ctx, slice| {
            reward.step_timing_priors(ctx, slice, prior_seconds)
        })
    }
}

impl WeightedSum {
    /// Steps every part through `step_part` into its slice of `terms`, and sums them with
    /// their weights.
    #[inline]
    fn step_parts(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        mut step_part: impl FnMut(&mut dyn Reward, &StepContext<'_>, &mut [f64]) -> f64,
    ) -> f64 {
        let mut total = 0.0;
        for part in &mut self.parts {
            let slice = &mut terms[part.offset..part.offset + part.len];
            let value = step_part(part.reward.as_mut(), ctx, slice);
            if part.weight != 1.0 {
                for v in slice.iter_mut() {
                    *v *= part.weight;
                }
            }
            total += part.weight * value;
        }
        total
    }
}

/// One term of a reward, as a reward whose total is that term's value: what an agent trained
/// on the term alone maximises (the reward bench's exploitation audit trains on each of
/// Magenta's nine terms this way). The wrapped reward still computes all its terms; their
/// buffer is allocated once, here.
///
/// ```
/// use cadenza_env::{Reward, Setting, StepContext};
/// use cadenza_reward::combine::OneTerm;
/// use cadenza_reward::rl_tuner::RlTunerReward;
/// let mut key = OneTerm::new(Box::new(RlTunerReward::default()), 0).unwrap();
/// assert_eq!(key.term_names(), ["key"]);
/// let setting = Setting::rl_tuner();
/// key.reset(&setting);
/// let mut terms = [0.0];
/// let ctx = StepContext { setting: &setting, step: 0, history: &[], action: 3 }; // C#3
/// assert_eq!(key.step(&ctx, &mut terms), -1.0);
/// ```
pub struct OneTerm {
    reward: Box<dyn Reward>,
    index: usize,
    name: String,
    all: Vec<f64>,
}

impl std::fmt::Debug for OneTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTerm")
            .field("name", &self.name)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl OneTerm {
    /// Term `index` of `reward`; `None` when the reward has no such term.
    pub fn new(reward: Box<dyn Reward>, index: usize) -> Option<Self> {
        let names = reward.term_names();
        let name = names.get(index)?.clone();
        Some(Self {
            reward,
            index,
            name,
            all: vec![0.0; names.len()],
        })
    }
}

impl Reward for OneTerm {
    fn term_names(&self) -> Vec<String> {
        vec![self.name.clone()]
    }

    fn reset(&mut self, setting: &Setting) {
        self.reward.reset(setting);
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        self.reward.step(ctx, &mut self.all);
        self.report(terms)
    }

    #[inline]
    fn prefetch(&self) {
        self.reward.prefetch();
    }

    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        self.reward
            .step_timing_priors(ctx, &mut self.all, prior_seconds);
        self.report(terms)
    }
}

impl OneTerm {
    /// Writes the chosen term of the last step into `terms` and returns it.
    #[inline]
    fn report(&self, terms: &mut [f64]) -> f64 {
        let value = self.all[self.index];
        if let Some(t) = terms.first_mut() {
            *t = value;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl_tuner::{RlTunerReward, NUM_TERMS};
    use crate::score::play_episode;

    #[test]
    fn one_term_pays_exactly_that_term_and_the_terms_add_up() {
        let setting = Setting::rl_tuner();
        // Two compositions of a line with repeats, leaps and notes out of key.
        let melody: Vec<u8> = (0..64u32).map(|i| ((i * 7 + i / 5) % 38) as u8).collect();
        let mut whole = RlTunerReward::default();
        let mut terms = vec![0.0; NUM_TERMS];
        let mut per_term = [0.0; NUM_TERMS];
        let total = play_episode(&mut whole, &setting, &melody, &mut terms, |_, t| {
            for (sum, v) in per_term.iter_mut().zip(t) {
                *sum += v;
            }
        });
        let mut sum_of_parts = 0.0;
        for (i, expected) in per_term.iter().enumerate() {
            let mut one = OneTerm::new(Box::new(RlTunerReward::default()), i).unwrap();
            let mut slot = [0.0];
            let got = play_episode(&mut one, &setting, &melody, &mut slot, |v, t| {
                assert_eq!(v, t[0]);
            });
            assert_eq!(got, *expected, "term {i}");
            sum_of_parts += got;
        }
        assert!(
            (sum_of_parts - total).abs() < 1e-9,
            "{sum_of_parts} vs {total}"
        );
        assert!(OneTerm::new(Box::new(RlTunerReward::default()), NUM_TERMS).is_none());
    }
}
