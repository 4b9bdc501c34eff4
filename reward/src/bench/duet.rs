//! The duet case of the bench: real call/response pairs against shuffled pairs.
//!
//! Consecutive phrases of a tune are a call and the response its composer wrote
//! ([`CallPair`]). An answer term claims to hear whether an answer belongs to its call; the
//! test of that claim is whether it scores a call's real response above a phrase of another
//! tune put after the same call. For each pair, [`real_vs_shuffled`] plays the call and then
//! (a) its own response and (b) the response of a pair drawn from another file (seeded), and
//! scores each term by its mean value over the answer's steps. It reports, per term, the ROC
//! AUC of real against shuffled (1: always prefers the real response, 0.5: cannot tell) with
//! a bootstrap interval that resamples calls with both their answers.
//!
//! Terms that judge the answer alone (the improvisation terms) see two real phrases either
//! way; they should sit near 0.5, and are reported as a reference.

use super::error::BenchError;
use super::stats::{auc, bootstrap_auc_ci};
use crate::score::play_episode;
use cadenza_env::duet::CallPair;
use cadenza_env::{Event, Reward, Setting};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One term's verdict on real against shuffled pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuetTermReport {
    /// The term.
    pub name: String,
    /// ROC AUC of real against shuffled answers (`None` when undefined).
    pub auc: Option<f64>,
    /// Bootstrap interval of the AUC.
    pub ci: Option<(f64, f64)>,
    /// Mean score (per answer step) of the real answers.
    pub real_mean: f64,
    /// Mean score of the shuffled answers.
    pub shuffled_mean: f64,
}

/// The duet case's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuetBenchReport {
    /// Pairs scored.
    pub pairs: usize,
    /// One row per term of the reward, in its order.
    pub terms: Vec<DuetTermReport>,
}

impl DuetBenchReport {
    /// The row of the term called `name`.
    pub fn term(&self, name: &str) -> Option<&DuetTermReport> {
        self.terms.iter().find(|t| t.name == name)
    }
}

/// Scores every term of `reward` on the real and shuffled pairs of `pairs` in `setting` (a
/// duet's: its `call_steps` is the calls' length); `resamples` bootstrap draws and the
/// shuffle follow `seed`. An error when fewer than two files give pairs, or when a pair does
/// not fit the setting.
pub fn real_vs_shuffled(
    setting: &Setting,
    pairs: &[CallPair],
    reward: &mut dyn Reward,
    resamples: usize,
    seed: u64,
) -> Result<DuetBenchReport, BenchError> {
    let calls = setting.call_steps;
    let answers = setting.length.saturating_sub(calls);
    if let Some(bad) = pairs
        .iter()
        .find(|p| p.call.len() != calls || p.response.len() != answers)
    {
        return Err(BenchError::BadMelody {
            name: format!("{} bar {}", bad.file, bad.bar),
            message: format!(
                "a pair of {} + {} steps: expected {calls} + {answers} (the duet's call and answer)",
                bad.call.len(),
                bad.response.len()
            ),
        });
    }
    let first = pairs.first().map(|p| p.file.as_str());
    if pairs.iter().all(|p| Some(p.file.as_str()) == first) {
        return Err(BenchError::NoMelodies {
            reason: "shuffled pairs need calls and responses from at least two files".to_string(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names = reward.term_names();
    let mut terms = vec![0.0; names.len()];
    let mut real = vec![Vec::with_capacity(pairs.len()); names.len()];
    let mut shuffled = vec![Vec::with_capacity(pairs.len()); names.len()];
    let mut melody: Vec<Event> = Vec::with_capacity(setting.length);
    let mut sums = vec![0.0; names.len()];
    for pair in pairs {
        let other = loop {
            let candidate = &pairs[rng.random_range(0..pairs.len())];
            if candidate.file != pair.file {
                break candidate;
            }
        };
        for (response, out) in [
            (&pair.response, &mut real),
            (&other.response, &mut shuffled),
        ] {
            melody.clear();
            melody.extend_from_slice(&pair.call);
            melody.extend_from_slice(response);
            sums.fill(0.0);
            let mut step = 0;
            play_episode(reward, setting, &melody, &mut terms, |_, values| {
                if step >= calls {
                    for (sum, value) in sums.iter_mut().zip(values) {
                        *sum += value;
                    }
                }
                step += 1;
            });
            for (scores, sum) in out.iter_mut().zip(&sums) {
                scores.push(sum / answers.max(1) as f64);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let rows = names
        .into_iter()
        .enumerate()
        .map(|(k, name)| {
            let clusters: Vec<(Option<f64>, Option<f64>)> = real[k]
                .iter()
                .zip(&shuffled[k])
                .map(|(&r, &s)| (Some(r), Some(s)))
                .collect();
            DuetTermReport {
                name,
                auc: auc(&real[k], &shuffled[k]),
                ci: bootstrap_auc_ci(&clusters, resamples, 0.95, seed ^ 0x5eed),
                real_mean: mean(&real[k]),
                shuffled_mean: mean(&shuffled[k]),
            }
        })
        .collect();
    Ok(DuetBenchReport {
        pairs: pairs.len(),
        terms: rows,
    })
}
