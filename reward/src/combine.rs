//! [`WeightedSum`]: several rewards summed with weights, every term still reported.
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
        let mut total = 0.0;
        for part in &mut self.parts {
            let slice = &mut terms[part.offset..part.offset + part.len];
            let value = part.reward.step(ctx, slice);
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
