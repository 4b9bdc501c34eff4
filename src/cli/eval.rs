//! `cadenza eval`: Magenta RL Tuner's evaluation metrics, plus diversity.

use super::melodies::{self, say, ReadOptions};
use anyhow::Result;
use cadenza_env::{EventEncoding, Setting};
use cadenza_reward::diversity::diversity;
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::rl_tuner::RlTunerReward;
use cadenza_reward::score::score_melody;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Evaluate melodies with the RL Tuner metrics table and Cadenza's own.
///
/// RL Tuner metrics are computed exactly as Magenta's `rl_tuner_eval_metrics` does (notes not
/// in key, excessively repeated, autocorrelation at lags 1-3, starting with the tonic, leaps
/// resolved, unique highest and lowest notes, notes in motif and in repeated motif, interval
/// counts). Cadenza adds the number of distinct melodies, their mean pairwise edit distance
/// and the mean rl-tuner return per melody. MIDI input is transposed to C (rl-tuner-38).
///
/// Example: cadenza eval --in runs/q/samples --json
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Melodies: a JSON file, a .mid file, a directory of .mid files, or - for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Evaluates melodies (rl-tuner-38 events) into the JSON object `eval --json` prints.
pub fn evaluate(melodies: &[Vec<u8>]) -> Value {
    let mut metrics = RlTunerMetrics::new();
    let mut reward = RlTunerReward::default();
    let setting = Setting::rl_tuner();
    let mut returns = Vec::with_capacity(melodies.len());
    for m in melodies {
        metrics.add_composition(m);
        returns.push(score_melody(&mut reward, &setting, m).total);
    }
    let n = returns.len().max(1) as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let report: serde_json::Map<String, Value> = metrics
        .report()
        .into_iter()
        .map(|(k, v)| (k, if v.is_finite() { json!(v) } else { Value::Null }))
        .collect();
    let div = diversity(melodies);
    json!({
        "melodies": melodies.len(),
        "rl_tuner": report,
        "cadenza": {
            "distinct_melodies": div.distinct_melodies,
            "mean_pairwise_edit_distance": div.mean_pairwise_edit_distance,
            "pairwise_sample": div.pairwise_sample,
            "mean_rl_tuner_return": mean,
            "std_rl_tuner_return": std,
        }
    })
}

/// The readable form of [`evaluate`]'s output.
pub fn table(value: &Value) -> String {
    let mut text = String::new();
    say!(text, "{} melodies", value["melodies"]);
    say!(text, "\nRL Tuner metrics (Magenta's rl_tuner_eval_metrics)");
    if let Some(map) = value["rl_tuner"].as_object() {
        for (k, v) in map {
            let shown = match v.as_f64() {
                Some(x) if k.starts_with("percent") => format!("{:>9.2}%", 100.0 * x),
                Some(x) => format!("{x:>10.4}"),
                None => format!("{:>10}", "n/a"),
            };
            say!(text, "  {:<52} {shown}", k.replace('_', " "));
        }
    }
    say!(text, "\nCadenza");
    if let Some(map) = value["cadenza"].as_object() {
        for (k, v) in map {
            let shown = match v.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() < 1e12 => format!("{x:>10}"),
                Some(x) => format!("{x:>10.3}"),
                None => format!("{:>10}", "n/a"),
            };
            say!(text, "  {:<52} {shown}", k.replace('_', " "));
        }
    }
    text
}

pub fn run(args: EvalArgs) -> Result<()> {
    let options = ReadOptions {
        encoding: Some(EventEncoding::RL_TUNER_38),
        ..ReadOptions::default()
    };
    let set = melodies::read_melodies(&args.input, &options)?;
    set.warn_skipped();
    set.require_encoding(EventEncoding::RL_TUNER_38, "the RL Tuner metrics")?;
    let value = evaluate(&set.events());
    if args.json {
        melodies::print_stdout(&(serde_json::to_string(&value)? + "\n"))
    } else {
        melodies::print_stdout(&table(&value))
    }
}
