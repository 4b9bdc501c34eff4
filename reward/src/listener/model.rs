//! [`ListenerModel`]: Bayesian logistic / Bradley-Terry regression of a listener's taste.
//!
//! The listener's utility of a phrase with standardised features `x̃` is `u = w·x̃ + b`.
//! Feedback enters through logistic likelihoods:
//!
//! - a rating `r` in 1..=5 is a soft binary label `y = (r − 1) / 4` on `σ(u)` (a rating of 3
//!   says "even odds", a 5 "surely liked");
//! - a like is `y = 1`, a dislike `y = 0`, on the same `σ(u)`;
//! - an A/B preference is Bradley-Terry on the difference: `P(A ≻ B) = σ(w·(x̃_A − x̃_B))`
//!   (the bias cancels).
//!
//! The prior is `w ~ N(0, prior_variance · I)` and `b ~ N(0, 4 · prior_variance)`. The
//! posterior is the Laplace approximation: the MAP estimate by Newton's method over every
//! observation (warm-started from the previous fit), with covariance the inverse Hessian
//! there. With twenty-odd features a refit over a hundred observations takes microseconds;
//! keeping the observations (rather than filtering them away one at a time) also lets a
//! saved model be recalibrated and refit exactly.
//!
//! Informative pairs ([`ListenerModel::choose_pair`]) maximise the expected information gain
//! about the weights (BALD; Houlsby, Huszár, Ghahramani & Lengyel 2011, *Bayesian Active
//! Learning for Classification and Preference Learning*), with the logistic likelihood
//! approximated by a probit of matched slope.

// Dense linear algebra over small matrices reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use super::error::ListenerError;
use super::features::{FEATURE_NAMES, NAMED_FEATURE_COUNT, NUM_FEATURES};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of saved models.
pub const MODEL_FORMAT: &str = "cadenza-listener";
/// The current version of saved models.
pub const MODEL_VERSION: u32 = 1;

/// Newton iterations per refit at most; warm starts need two or three.
const MAX_NEWTON: usize = 25;
/// Halvings of a Newton step at most, when the full step does not lower the objective.
const MAX_HALVINGS: usize = 30;
/// Newton stops when no weight moves by more than this.
const NEWTON_TOLERANCE: f64 = 1e-7;
/// The bias prior is this much wider than the weights': how much a listener likes music in
/// general is less constrained than any one taste.
const BIAS_PRIOR_FACTOR: f64 = 4.0;

/// One piece of feedback, with raw (unstandardised) features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Feedback {
    /// A rating of one phrase, 1..=5.
    Rating {
        /// The phrase's features.
        features: Vec<f64>,
        /// The rating.
        rating: u8,
    },
    /// A like (true) or dislike (false) of one phrase.
    Like {
        /// The phrase's features.
        features: Vec<f64>,
        /// Liked.
        liked: bool,
    },
    /// A choice between two phrases.
    Preference {
        /// Features of phrase A.
        a: Vec<f64>,
        /// Features of phrase B.
        b: Vec<f64>,
        /// Whether A was preferred.
        a_preferred: bool,
    },
}

/// Hyperparameters of a [`ListenerModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerConfig {
    /// Prior variance of each weight over standardised features, in (0, 100] (default 1).
    pub prior_variance: f64,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            prior_variance: 1.0,
        }
    }
}

impl ListenerConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), ListenerError> {
        if !(self.prior_variance.is_finite()
            && self.prior_variance > 0.0
            && self.prior_variance <= 100.0)
        {
            return Err(ListenerError::Config {
                field: "prior_variance".into(),
                message: format!("{}: expected a number in (0, 100]", self.prior_variance),
            });
        }
        Ok(())
    }
}

/// Bayesian logistic / Bradley-Terry listener model. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerModel {
    /// Always [`MODEL_FORMAT`].
    format: String,
    /// [`MODEL_VERSION`] when written by this build.
    version: u32,
    config: ListenerConfig,
    feature_names: Vec<String>,
    /// Standardisation: `x̃ = (x − center) / scale`.
    center: Vec<f64>,
    scale: Vec<f64>,
    /// Posterior mean: the weights, then the bias.
    mean: Vec<f64>,
    /// Posterior covariance, row-major, `(d + 1)²`.
    covariance: Vec<f64>,
    observations: Vec<Feedback>,
}

impl ListenerModel {
    /// A model at its prior over features with these names, standardised as they come
    /// (center 0, scale 1) until [`ListenerModel::calibrate`].
    pub fn new(feature_names: &[&str], config: ListenerConfig) -> Result<Self, ListenerError> {
        config.validate()?;
        if feature_names.is_empty() {
            return Err(ListenerError::Dimension {
                expected: 1,
                got: 0,
            });
        }
        let d = feature_names.len();
        let mut model = Self {
            format: MODEL_FORMAT.to_string(),
            version: MODEL_VERSION,
            config,
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            center: vec![0.0; d],
            scale: vec![1.0; d],
            mean: vec![0.0; d + 1],
            covariance: Vec::new(),
            observations: Vec::new(),
        };
        model.covariance = model.prior_covariance();
        Ok(model)
    }

    /// A model over the phrase features ([`super::FEATURE_NAMES`]).
    pub fn for_phrases(config: ListenerConfig) -> Result<Self, ListenerError> {
        Self::new(&FEATURE_NAMES, config)
    }

    /// A model over the first `dim` phrase features: all of them ([`NUM_FEATURES`]), or the
    /// named ones only ([`NAMED_FEATURE_COUNT`]), as sessions logged before the note profile
    /// calibrated. Any other `dim` is a [`ListenerError::Dimension`].
    pub fn for_phrase_prefix(dim: usize, config: ListenerConfig) -> Result<Self, ListenerError> {
        if dim != NUM_FEATURES && dim != NAMED_FEATURE_COUNT {
            return Err(ListenerError::Dimension {
                expected: NUM_FEATURES,
                got: dim,
            });
        }
        Self::new(&FEATURE_NAMES[..dim], config)
    }

    fn prior_covariance(&self) -> Vec<f64> {
        let n = self.dim() + 1;
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = self.prior_variance(i);
        }
        c
    }

    fn prior_variance(&self, index: usize) -> f64 {
        if index == self.dim() {
            self.config.prior_variance * BIAS_PRIOR_FACTOR
        } else {
            self.config.prior_variance
        }
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.feature_names.len()
    }

    /// The feature names.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The observations learned from, oldest first.
    pub fn observations(&self) -> &[Feedback] {
        &self.observations
    }

    /// Posterior mean of the weights over standardised features (without the bias).
    pub fn weights(&self) -> &[f64] {
        &self.mean[..self.dim()]
    }

    /// Posterior mean of the bias.
    pub fn bias(&self) -> f64 {
        self.mean[self.dim()]
    }

    /// Posterior variance of each weight (without the bias).
    pub fn weight_variances(&self) -> Vec<f64> {
        let n = self.dim() + 1;
        (0..self.dim())
            .map(|i| self.covariance[i * n + i])
            .collect()
    }

    /// The standardisation: (center, scale) per feature.
    pub fn standardisation(&self) -> (&[f64], &[f64]) {
        (&self.center, &self.scale)
    }

    fn check(&self, features: &[f64]) -> Result<(), ListenerError> {
        if features.len() != self.dim() {
            return Err(ListenerError::Dimension {
                expected: self.dim(),
                got: features.len(),
            });
        }
        if let Some(i) = features.iter().position(|v| !v.is_finite()) {
            return Err(ListenerError::NonFinite {
                feature: self.feature_names[i].clone(),
                value: features[i],
            });
        }
        Ok(())
    }

    /// Sets the standardisation from sample phrases (features per phrase), e.g. a batch the
    /// agent generated, and refits. A feature that does not vary gets scale 1.
    pub fn calibrate(&mut self, samples: &[Vec<f64>]) -> Result<(), ListenerError> {
        if samples.is_empty() {
            return Err(ListenerError::EmptyPhrase);
        }
        for s in samples {
            self.check(s)?;
        }
        let n = samples.len() as f64;
        for j in 0..self.dim() {
            let mean = samples.iter().map(|s| s[j]).sum::<f64>() / n;
            let var = samples.iter().map(|s| (s[j] - mean).powi(2)).sum::<f64>() / n;
            self.center[j] = mean;
            self.scale[j] = if var.sqrt() > 1e-9 { var.sqrt() } else { 1.0 };
        }
        self.refit();
        Ok(())
    }

    /// Sets the standardisation directly (as saved in a session log) and refits.
    pub fn set_standardisation(
        &mut self,
        center: &[f64],
        scale: &[f64],
    ) -> Result<(), ListenerError> {
        self.check(center)?;
        self.check(scale)?;
        if let Some(i) = scale.iter().position(|&s| s <= 0.0) {
            return Err(ListenerError::NonFinite {
                feature: self.feature_names[i].clone(),
                value: scale[i],
            });
        }
        self.center = center.to_vec();
        self.scale = scale.to_vec();
        self.refit();
        Ok(())
    }

    /// Learns from one piece of feedback: checks it, stores it, refits.
    pub fn observe(&mut self, feedback: Feedback) -> Result<(), ListenerError> {
        match &feedback {
            Feedback::Rating { features, rating } => {
                self.check(features)?;
                if !(1..=5).contains(rating) {
                    return Err(ListenerError::Rating(*rating));
                }
            }
            Feedback::Like { features, .. } => self.check(features)?,
            Feedback::Preference { a, b, .. } => {
                self.check(a)?;
                self.check(b)?;
            }
        }
        self.observations.push(feedback);
        self.refit();
        Ok(())
    }

    /// Standardised design row of an observation, with its soft label.
    fn row(&self, feedback: &Feedback, phi: &mut [f64]) -> f64 {
        let d = self.dim();
        let std = |x: &[f64], phi: &mut [f64]| {
            for j in 0..d {
                phi[j] = (x[j] - self.center[j]) / self.scale[j];
            }
        };
        match feedback {
            Feedback::Rating { features, rating } => {
                std(features, phi);
                phi[d] = 1.0;
                f64::from(rating.saturating_sub(1)) / 4.0
            }
            Feedback::Like { features, liked } => {
                std(features, phi);
                phi[d] = 1.0;
                if *liked {
                    1.0
                } else {
                    0.0
                }
            }
            Feedback::Preference { a, b, a_preferred } => {
                for j in 0..d {
                    phi[j] = (a[j] - b[j]) / self.scale[j];
                }
                phi[d] = 0.0;
                if *a_preferred {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// The negative log posterior at `theta` (up to a constant): the Gaussian prior plus
    /// the logistic loss of every observation. `phi` is scratch of `dim() + 1`.
    fn objective(&self, theta: &[f64], phi: &mut [f64]) -> f64 {
        let mut f: f64 = theta
            .iter()
            .enumerate()
            .map(|(i, t)| t * t / (2.0 * self.prior_variance(i)))
            .sum();
        for obs in &self.observations {
            let y = self.row(obs, phi);
            let z: f64 = phi.iter().zip(theta).map(|(a, b)| a * b).sum();
            // -y log σ(z) - (1 - y) log(1 - σ(z)) = softplus(z) - y z, computed stably.
            let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
            f += softplus - y * z;
        }
        f
    }

    /// Newton's method to the MAP, then the covariance at it (the Laplace approximation).
    fn refit(&mut self) {
        let n = self.dim() + 1;
        let mut theta = self.mean.clone();
        let mut phi = vec![0.0; n];
        let mut grad = vec![0.0; n];
        let mut hess = vec![0.0; n * n];
        for _ in 0..MAX_NEWTON {
            grad.fill(0.0);
            hess.fill(0.0);
            for i in 0..n {
                grad[i] = theta[i] / self.prior_variance(i);
                hess[i * n + i] = 1.0 / self.prior_variance(i);
            }
            for obs in &self.observations {
                let y = self.row(obs, &mut phi);
                let z: f64 = phi.iter().zip(&theta).map(|(a, b)| a * b).sum();
                let p = sigmoid(z);
                let r = p - y;
                let w = (p * (1.0 - p)).max(1e-12);
                for i in 0..n {
                    grad[i] += r * phi[i];
                    let wi = w * phi[i];
                    if wi != 0.0 {
                        for j in 0..n {
                            hess[i * n + j] += wi * phi[j];
                        }
                    }
                }
            }
            let Some(chol) = cholesky(&hess, n) else {
                break;
            };
            let step = cholesky_solve(&chol, n, &grad);
            // Damped: the full Newton step unless it fails to lower the negative log
            // posterior, then halves of it. Features far outside the calibration (many
            // standard deviations) make the full step overshoot, and undamped Newton then
            // runs away to weights in the hundreds.
            let before = self.objective(&theta, &mut phi);
            let mut t = 1.0;
            let mut trial = vec![0.0; n];
            for _ in 0..MAX_HALVINGS {
                for i in 0..n {
                    trial[i] = theta[i] - t * step[i];
                }
                if self.objective(&trial, &mut phi) <= before {
                    break;
                }
                t *= 0.5;
            }
            let mut moved = 0.0f64;
            for i in 0..n {
                let delta = theta[i] - trial[i];
                moved = moved.max(delta.abs());
                theta[i] = trial[i];
            }
            if moved < NEWTON_TOLERANCE {
                break;
            }
        }
        // Hessian at the final point, for the covariance.
        hess.fill(0.0);
        for i in 0..n {
            hess[i * n + i] = 1.0 / self.prior_variance(i);
        }
        for obs in &self.observations {
            self.row(obs, &mut phi);
            let z: f64 = phi.iter().zip(&theta).map(|(a, b)| a * b).sum();
            let p = sigmoid(z);
            let w = (p * (1.0 - p)).max(1e-12);
            for i in 0..n {
                for j in 0..n {
                    hess[i * n + j] += w * phi[i] * phi[j];
                }
            }
        }
        if theta.iter().all(|v| v.is_finite()) {
            if let Some(chol) = cholesky(&hess, n) {
                let mut cov = vec![0.0; n * n];
                let mut e = vec![0.0; n];
                for col in 0..n {
                    e.fill(0.0);
                    e[col] = 1.0;
                    let x = cholesky_solve(&chol, n, &e);
                    for row in 0..n {
                        cov[row * n + col] = x[row];
                    }
                }
                self.mean = theta;
                self.covariance = cov;
            }
        }
    }

    /// Posterior mean utility of a phrase (logit units: `σ(u)` is the chance of a like).
    /// Allocates nothing.
    pub fn utility(&self, features: &[f64]) -> Result<f64, ListenerError> {
        self.check(features)?;
        let d = self.dim();
        let mut u = self.mean[d];
        for j in 0..d {
            u += self.mean[j] * (features[j] - self.center[j]) / self.scale[j];
        }
        Ok(u)
    }

    /// Posterior mean and variance of a phrase's utility.
    pub fn utility_with_variance(&self, features: &[f64]) -> Result<(f64, f64), ListenerError> {
        let mean = self.utility(features)?;
        let n = self.dim() + 1;
        let mut phi = vec![1.0; n];
        for j in 0..self.dim() {
            phi[j] = (features[j] - self.center[j]) / self.scale[j];
        }
        Ok((mean, self.quadratic(&phi)))
    }

    fn quadratic(&self, v: &[f64]) -> f64 {
        let n = v.len();
        let mut s = 0.0;
        for i in 0..n {
            if v[i] == 0.0 {
                continue;
            }
            let mut row = 0.0;
            for j in 0..n {
                row += self.covariance[i * n + j] * v[j];
            }
            s += v[i] * row;
        }
        s.max(0.0)
    }

    /// Predicted probability that A is preferred to B, averaging over the posterior
    /// (the probit approximation of the logistic-Gaussian integral).
    pub fn prob_prefers(&self, a: &[f64], b: &[f64]) -> Result<f64, ListenerError> {
        let (mean, var) = self.difference(a, b)?;
        Ok(sigmoid(
            mean / (1.0 + std::f64::consts::PI * var / 8.0).sqrt(),
        ))
    }

    fn difference(&self, a: &[f64], b: &[f64]) -> Result<(f64, f64), ListenerError> {
        self.check(a)?;
        self.check(b)?;
        let d = self.dim();
        let mut v = vec![0.0; d + 1];
        let mut mean = 0.0;
        for j in 0..d {
            v[j] = (a[j] - b[j]) / self.scale[j];
            mean += self.mean[j] * v[j];
        }
        Ok((mean, self.quadratic(&v)))
    }

    /// Expected information gain (bits) about the weights from asking "A or B?".
    pub fn information_gain(&self, a: &[f64], b: &[f64]) -> Result<f64, ListenerError> {
        let (mean, var) = self.difference(a, b)?;
        // σ(z) ≈ Φ(z·√(π/8)): scale the logit-space moments into probit space.
        let k = (std::f64::consts::PI / 8.0).sqrt();
        let (m, v) = (mean * k, var * k * k);
        let p = normal_cdf(m / (1.0 + v).sqrt());
        let c2 = std::f64::consts::PI * std::f64::consts::LN_2 / 2.0;
        let expected = (c2 / (v + c2)).sqrt() * (-m * m / (2.0 * (v + c2))).exp();
        Ok((binary_entropy(p) - expected).max(0.0))
    }

    /// The most informative pair among `candidates` (features per phrase): the pair of
    /// distinct indices with the highest [`ListenerModel::information_gain`]. `Ok(None)`
    /// with fewer than two candidates.
    pub fn choose_pair(
        &self,
        candidates: &[Vec<f64>],
    ) -> Result<Option<(usize, usize)>, ListenerError> {
        for c in candidates {
            self.check(c)?;
        }
        let mut best: Option<(f64, usize, usize)> = None;
        for i in 0..candidates.len() {
            for j in i + 1..candidates.len() {
                let gain = self.information_gain(&candidates[i], &candidates[j])?;
                let better = match best {
                    None => true,
                    Some((g, _, _)) => gain > g,
                };
                if better {
                    best = Some((gain, i, j));
                }
            }
        }
        Ok(best.map(|(_, i, j)| (i, j)))
    }

    /// Writes the model as JSON, atomically and durably (see
    /// [`cadenza_env::io::write_atomic`]).
    pub fn save(&self, path: &Path) -> Result<(), ListenerError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| ListenerError::Format {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        cadenza_env::io::write_atomic(path, text.as_bytes()).map_err(|source| ListenerError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a model written by [`ListenerModel::save`], checking it.
    pub fn load(path: &Path) -> Result<Self, ListenerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ListenerError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ListenerError::Format { message, .. } => ListenerError::Format {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses and checks a model from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ListenerError> {
        let bad = |message: String| ListenerError::Format {
            path: "(text)".into(),
            message,
        };
        let model: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if model.format != MODEL_FORMAT || model.version != MODEL_VERSION {
            return Err(bad(format!(
                "format {} version {}: expected {MODEL_FORMAT} version {MODEL_VERSION}",
                model.format, model.version
            )));
        }
        model.config.validate()?;
        let d = model.dim();
        if d == 0
            || model.center.len() != d
            || model.scale.len() != d
            || model.mean.len() != d + 1
            || model.covariance.len() != (d + 1) * (d + 1)
        {
            return Err(bad("inconsistent dimensions".into()));
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !finite(&model.center)
            || !finite(&model.mean)
            || !finite(&model.covariance)
            || model.scale.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(bad("non-finite or non-positive numbers".into()));
        }
        Ok(model)
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn binary_entropy(p: f64) -> f64 {
    let h = |q: f64| if q <= 0.0 { 0.0 } else { -q * q.log2() };
    h(p) + h(1.0 - p)
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf; error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const TRUE_W: [f64; 5] = [1.5, -1.0, 0.0, 0.8, 0.0];

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        // Box-Muller: enough for test data.
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn sample(rng: &mut ChaCha8Rng) -> Vec<f64> {
        (0..5).map(|_| gaussian(rng)).collect()
    }

    fn true_utility(x: &[f64]) -> f64 {
        x.iter().zip(TRUE_W).map(|(a, b)| a * b).sum()
    }

    fn model() -> ListenerModel {
        ListenerModel::new(&["a", "b", "c", "d", "e"], ListenerConfig::default()).unwrap()
    }

    /// Phrases far outside the calibration (tens of standard deviations, as when a session
    /// steers its phrases away from what it calibrated on) with noisy ratings: undamped
    /// Newton overshot and ran away to weights in the hundreds; the damped fit stays at the
    /// MAP, where the gradient of the log posterior vanishes.
    #[test]
    fn features_far_outside_the_calibration_do_not_make_the_fit_run_away() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut m = model();
        for k in 0..60 {
            let x: Vec<f64> = (0..5).map(|_| 30.0 * gaussian(&mut rng)).collect();
            let rating = if k % 3 == 0 {
                3
            } else {
                1 + (rng.random::<f64>() * 5.0) as u8 % 5
            };
            m.observe(Feedback::Rating {
                features: x.clone(),
                rating,
            })
            .unwrap();
            if k % 2 == 0 {
                let y: Vec<f64> = (0..5).map(|_| 30.0 * gaussian(&mut rng)).collect();
                m.observe(Feedback::Preference {
                    a: x,
                    b: y,
                    a_preferred: rng.random::<bool>(),
                })
                .unwrap();
            }
            let worst = m.weights().iter().fold(0.0f64, |a, w| a.max(w.abs()));
            assert!(worst < 5.0, "after {k}: weights {:?}", m.weights());
        }
        let n = m.dim() + 1;
        let mut phi = vec![0.0; n];
        let at = m.objective(&m.mean, &mut phi);
        for i in 0..n {
            for h in [-1e-4, 1e-4] {
                let mut theta = m.mean.clone();
                theta[i] += h;
                assert!(
                    m.objective(&theta, &mut phi) >= at - 1e-9,
                    "not the MAP along {i}"
                );
            }
        }
    }

    #[test]
    fn learns_a_linear_utility_from_thirty_ratings() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut m = model();
        for _ in 0..30 {
            let x = sample(&mut rng);
            let p = sigmoid(true_utility(&x));
            let rating = (1.0 + 4.0 * p + 0.5 * gaussian(&mut rng))
                .round()
                .clamp(1.0, 5.0);
            m.observe(Feedback::Rating {
                features: x,
                rating: rating as u8,
            })
            .unwrap();
        }
        let w = m.weights();
        let dot: f64 = w.iter().zip(TRUE_W).map(|(a, b)| a * b).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let cosine = dot / (norm(w) * norm(&TRUE_W));
        assert!(cosine > 0.9, "cosine {cosine}, weights {w:?}");
        // Uncertainty shrinks from the prior.
        assert!(m.weight_variances().iter().all(|&v| v < 1.0));
    }

    #[test]
    fn predicts_held_out_choices_above_chance() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut m = model();
        for _ in 0..30 {
            let (a, b) = (sample(&mut rng), sample(&mut rng));
            let pa = sigmoid(true_utility(&a) - true_utility(&b));
            let a_preferred = rng.random::<f64>() < pa;
            m.observe(Feedback::Preference { a, b, a_preferred })
                .unwrap();
        }
        let mut right = 0;
        for _ in 0..400 {
            let (a, b) = (sample(&mut rng), sample(&mut rng));
            let predicted = m.prob_prefers(&a, &b).unwrap() > 0.5;
            right += usize::from(predicted == (true_utility(&a) > true_utility(&b)));
        }
        assert!(right > 320, "{right}/400");
    }

    #[test]
    fn choose_pair_prefers_uncertain_directions() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut m = model();
        // Teach feature 0 only: pairs differing in other features stay more uncertain.
        for _ in 0..40 {
            let mut a = vec![0.0; 5];
            let mut b = vec![0.0; 5];
            a[0] = gaussian(&mut rng);
            b[0] = gaussian(&mut rng);
            let a_preferred = a[0] > b[0];
            m.observe(Feedback::Preference { a, b, a_preferred })
                .unwrap();
        }
        let candidates = vec![
            vec![1.0, 0.0, 0.0, 0.0, 0.0],
            vec![-1.0, 0.0, 0.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0, 0.0, 0.0],
            vec![0.0, -1.0, 0.0, 0.0, 0.0],
        ];
        assert_eq!(m.choose_pair(&candidates).unwrap(), Some((2, 3)));
        assert_eq!(m.choose_pair(&candidates[..1]).unwrap(), None);
    }

    #[test]
    fn save_load_round_trip() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut m = model();
        m.calibrate(&(0..10).map(|_| sample(&mut rng)).collect::<Vec<_>>())
            .unwrap();
        m.observe(Feedback::Like {
            features: sample(&mut rng),
            liked: true,
        })
        .unwrap();
        let dir = std::env::temp_dir().join(format!("listener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        m.save(&path).unwrap();
        let back = ListenerModel::load(&path).unwrap();
        assert_eq!(back, m);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ListenerModel::from_json("{}").is_err());
        let text = serde_json::to_string(&m)
            .unwrap()
            .replace("cadenza-listener", "x");
        assert!(ListenerModel::from_json(&text).is_err());
    }

    #[test]
    fn bad_inputs_are_rejected_and_change_nothing() {
        let mut m = model();
        let before = m.clone();
        let bad = [
            Feedback::Rating {
                features: vec![f64::NAN, 0.0, 0.0, 0.0, 0.0],
                rating: 3,
            },
            Feedback::Rating {
                features: vec![0.0; 5],
                rating: 6,
            },
            Feedback::Rating {
                features: vec![0.0; 5],
                rating: 0,
            },
            Feedback::Like {
                features: vec![0.0; 4],
                liked: true,
            },
            Feedback::Preference {
                a: vec![0.0; 5],
                b: vec![f64::INFINITY, 0.0, 0.0, 0.0, 0.0],
                a_preferred: true,
            },
        ];
        for f in bad {
            assert!(m.observe(f).is_err());
        }
        assert_eq!(m, before);
        assert!(m.utility(&[f64::NAN; 5]).is_err());
        assert!(m.calibrate(&[]).is_err());
        assert!(ListenerConfig {
            prior_variance: -1.0
        }
        .validate()
        .is_err());
    }
}
