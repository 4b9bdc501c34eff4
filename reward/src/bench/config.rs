//! The parameters of a bench run.

use super::corrupt::{CorruptConfig, Corruption};
use super::error::BenchError;
use serde::{Deserialize, Serialize};

/// Parameters of a bench run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchConfig {
    /// Seed of the corruptions and the bootstrap (default 0).
    pub seed: u64,
    /// Bootstrap resamples per AUC interval, 0..=100,000 (default 200; 0 skips intervals).
    pub resamples: usize,
    /// Confidence level of the intervals, in (0, 1) (default 0.95).
    pub level: f64,
    /// Timed passes per reward; the median is reported, 1..=1000 (default 5).
    pub timing_runs: usize,
    /// Melodies longer than this many steps are cut, 1..=1,000,000 (default 2048: every
    /// melody of up to 64 bars of 9/8 in sixteenths is scored whole, cadence included).
    pub max_steps: usize,
    /// Score only the first this many melodies (default: all).
    pub max_melodies: Option<usize>,
    /// The corruptions to test (default: all of [`Corruption::ALL`]).
    pub corruptions: Vec<Corruption>,
    /// Parameters of the corruptions.
    pub corrupt: CorruptConfig,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            resamples: 200,
            level: 0.95,
            timing_runs: 5,
            max_steps: 2048,
            max_melodies: None,
            corruptions: Corruption::ALL.to_vec(),
            corrupt: CorruptConfig::default(),
        }
    }
}

impl BenchConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |field, message: String| Err(BenchError::Config { field, message });
        if self.resamples > 100_000 {
            return bad(
                "resamples",
                format!("{}: expected 0..=100000", self.resamples),
            );
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return bad(
                "level",
                format!("{}: expected a number in (0, 1)", self.level),
            );
        }
        if !(1..=1000).contains(&self.timing_runs) {
            return bad(
                "timing_runs",
                format!("{}: expected 1..=1000", self.timing_runs),
            );
        }
        if !(1..=1_000_000).contains(&self.max_steps) {
            return bad(
                "max_steps",
                format!("{}: expected 1..=1000000", self.max_steps),
            );
        }
        if self.max_melodies == Some(0) {
            return bad("max_melodies", "0: expected at least 1".to_string());
        }
        self.corrupt.validate().map_err(|e| BenchError::Config {
            field: "corrupt",
            message: e.to_string(),
        })
    }
}
