//! What a bench run measured: the report and its parts, all serialisable.

use super::config::BenchConfig;
use super::error::{BenchError, Skipped};
use super::exploit::{ExploitFailure, Exploitation};
use super::melody::Frame;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a corruption did to the melodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorruptionReport {
    /// The corruption's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Melodies it applied to.
    pub applied: usize,
    /// Melodies it could not apply to (too short, or unchanged).
    pub skipped: usize,
    /// Up to three of the skipped melodies with the reason.
    pub examples: Vec<String>,
}

/// A term that did not prefer real melodies to a corruption it is meant to detect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The term.
    pub term: String,
    /// The corruption.
    pub corruption: String,
    /// Its AUC (`None`: not measured).
    pub auc: Option<f64>,
    /// Why, from the numbers.
    pub reason: String,
}

/// The results of one term.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermReport {
    /// The term's name.
    pub name: String,
    /// The reward it comes from (a preset, a term, a TOML file's stem, your term).
    pub reward: String,
    /// `term` (one of a reward's values) or `total` (a reward's returned total).
    pub kind: String,
    /// The frame the melodies were scored in.
    pub frame: Frame,
    /// Median nanoseconds per step of the reward named by `timed_as`.
    pub ns_per_step: f64,
    /// Steps per second of that reward.
    pub steps_per_sec: f64,
    /// The reward that was timed (several terms share one when one reward computes them).
    pub timed_as: String,
    /// Mean per-step score over the real melodies (`real`) and each corruption.
    pub mean: BTreeMap<String, Option<f64>>,
    /// ROC AUC of real against corrupted scores, by corruption (`None`: not measured).
    pub auc: BTreeMap<String, Option<f64>>,
    /// Bootstrap interval of each AUC, `[low, high]`.
    pub auc_ci: BTreeMap<String, Option<[f64; 2]>>,
    /// The corruptions the term is meant to detect.
    pub meant_to_detect: Vec<String>,
    /// Why it is meant to detect them.
    pub why: String,
    /// Corruptions it is meant to detect but did not (AUC not above 0.5).
    pub failures: Vec<Failure>,
    /// What optimizers of the term alone wrote, one row per agent (empty until the caller
    /// runs the exploitation audit: [`BenchReport::add_exploitation`]).
    pub exploit: Vec<Exploitation>,
}

impl TermReport {
    /// Whether the term prefers real melodies to every corruption it is meant to detect.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The Spearman correlation matrix of the terms' per-melody scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    /// `spearman`.
    pub method: String,
    /// Melodies (real and corrupted) the correlations are computed over.
    pub rows: usize,
    /// The terms, in matrix order.
    pub terms: Vec<String>,
    /// `matrix[i][j]`: correlation of terms i and j (`None` when one is constant).
    pub matrix: Vec<Vec<Option<f64>>>,
}

/// Everything a bench run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Melodies scored.
    pub melodies: usize,
    /// Steps of the real melodies (each pass of the timing covers these).
    pub steps: usize,
    /// The configuration.
    pub config: BenchConfig,
    /// The corruptions and how many melodies each applied to.
    pub corruptions: Vec<CorruptionReport>,
    /// One entry per term.
    pub terms: Vec<TermReport>,
    /// How the terms agree.
    pub correlation: Correlation,
    /// Every (term, corruption) the term is meant to detect but did not.
    pub failures: Vec<Failure>,
    /// Every term whose optimizer is meant to write music but did not (exploitation audit).
    pub exploit_failures: Vec<ExploitFailure>,
    /// Melodies and rewards left out.
    pub skipped: Vec<Skipped>,
    /// Seconds the run took.
    pub seconds: f64,
}

impl BenchReport {
    /// The report of a term by name.
    pub fn term(&self, name: &str) -> Option<&TermReport> {
        self.terms.iter().find(|t| t.name == name)
    }

    /// Files an exploitation row under its term (and, when it fails its expectation, in
    /// [`BenchReport::exploit_failures`]); an error when the report has no such term.
    pub fn add_exploitation(&mut self, term: &str, row: Exploitation) -> Result<(), BenchError> {
        let Some(report) = self.terms.iter_mut().find(|t| t.name == term) else {
            return Err(BenchError::BadReward {
                name: term.to_string(),
                message: "no such term in the report".to_string(),
            });
        };
        if !row.passed() {
            self.exploit_failures.push(ExploitFailure {
                term: term.to_string(),
                agent: row.agent.clone(),
                verdict: row.verdict.clone(),
            });
        }
        report.exploit.push(row);
        Ok(())
    }
}
