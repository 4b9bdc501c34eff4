//! `cadenza eval`: Magenta RL Tuner's evaluation metrics, diversity and musicianship.

use super::common;
use super::melodies::{self, say, ReadOptions};
use anyhow::Result;
use cadenza_env::{EventEncoding, Setting};
use cadenza_reward::diversity::diversity;
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::musicianship::{self, MUSIC};
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
/// and the mean rl-tuner return per melody, and the musicianship report (harmony, line,
/// rhythm and variety per group, against calibrated floors; see docs/musicianship.md) over
/// the task's key, meter and chords. MIDI input is transposed to C (rl-tuner-38). With a
/// task other than rl-tuner, melodies are read in the task's encoding and the RL Tuner
/// metrics, which need rl-tuner-38, are left out.
///
/// Example: cadenza eval --in runs/q/samples --json
/// Example: cadenza eval --task improv --in melodies.json
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Melodies: a JSON file, a .mid or .abc file, a directory of .mid and .abc files, or - for stdin.
    #[arg(long = "in")]
    input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Task whose setting (encoding, key, meter, chords) the melodies were written for.
    #[arg(long, default_value = "rl-tuner")]
    task: String,
    /// TOML file configuring the task (improv only).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Evaluates rl-tuner-38 melodies into the JSON object `eval --json` prints, with their
/// musicianship measured under `setting`.
pub fn evaluate(melodies: &[Vec<u8>], setting: &Setting) -> Value {
    let mut value = rl_tuner_metrics(melodies);
    value["musicianship"] = musicianship_value(melodies, setting);
    value
}

/// Evaluates melodies of any encoding: musicianship and diversity, no RL Tuner metrics.
fn evaluate_without_rl_tuner(melodies: &[Vec<u8>], setting: &Setting) -> Value {
    let div = diversity(melodies);
    json!({
        "melodies": melodies.len(),
        "rl_tuner": Value::Null,
        "cadenza": {
            "distinct_melodies": div.distinct_melodies,
            "mean_pairwise_edit_distance": div.mean_pairwise_edit_distance,
            "pairwise_sample": div.pairwise_sample,
        },
        "musicianship": musicianship_value(melodies, setting),
    })
}

/// [`musicianship::report`] of `melodies` under `setting`, as JSON.
pub fn musicianship_value(melodies: &[Vec<u8>], setting: &Setting) -> Value {
    let report = musicianship::report(setting, melodies);
    serde_json::to_value(&report).unwrap_or(Value::Null)
}

fn rl_tuner_metrics(melodies: &[Vec<u8>]) -> Value {
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
    if value["rl_tuner"].is_null() {
        say!(
            text,
            "  n/a: they need the rl-tuner-38 encoding (use --task rl-tuner)"
        );
    }
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
    musicianship_table(&mut text, &value["musicianship"]);
    text
}

/// The musicianship report (as JSON) as a table: group means against their floors, the
/// share passing, set variety and the verdict. `train` prints its samples' report with it too.
pub fn musicianship_table(text: &mut String, m: &Value) {
    say!(
        text,
        "\nMusicianship (group means in [0, 1]; floor for music)"
    );
    let groups = [
        ("harmony", MUSIC.harmony),
        ("line", MUSIC.line),
        ("rhythm", MUSIC.rhythm),
        ("variety", MUSIC.variety),
    ];
    for (group, floor) in groups {
        let shown = m["mean"][group]
            .as_f64()
            .map_or_else(|| format!("{:>10}", "n/a"), |x| format!("{x:>10.3}"));
        say!(text, "  {group:<52} {shown}  >= {floor:.2}");
    }
    if let Some(x) = m["passing_share"].as_f64() {
        say!(
            text,
            "  {:<52} {:>9.1}%",
            "melodies passing every group",
            100.0 * x
        );
    }
    if let Some(x) = m["edit_distance_per_step"].as_f64() {
        say!(
            text,
            "  {:<52} {x:>10.3}",
            "mean pairwise edit distance per step"
        );
    }
    if let Some(x) = m["edit_distance_per_note"].as_f64() {
        say!(
            text,
            "  {:<52} {x:>10.3}  >= {:.2}",
            "mean pairwise edit distance per note",
            MUSIC.edit_distance_per_note
        );
    }
    if let Some(x) = m["style_nll_per_event"].as_f64() {
        say!(
            text,
            "  {:<52} {x:>10.3}  (folk tunes ~1.3, random 4-10)",
            "style prior NLL per event (nats)"
        );
    }
    if let Some(x) = m["corpus_distance"]["mean_overlap"].as_f64() {
        say!(
            text,
            "  {:<52} {x:>10.3}  (held-out tunes ~0.95)",
            "overlap with the reference corpus (MGEval-style)"
        );
    }
    let failures: Vec<&str> = m["failures"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let verdict = if failures.is_empty() {
        "music".to_string()
    } else {
        format!("not music: {}", failures.join(", "))
    };
    say!(text, "  {:<52} {verdict:>10}", "verdict");
}

pub fn run(args: EvalArgs) -> Result<()> {
    let task = common::task(&args.task, args.config.as_deref(), None)?;
    let options = ReadOptions {
        encoding: Some(task.setting.encoding),
        ..ReadOptions::default()
    };
    let set = melodies::read_melodies(&args.input, &options)?;
    set.warn_skipped();
    let value = if task.setting.encoding == EventEncoding::RL_TUNER_38 {
        set.require_encoding(EventEncoding::RL_TUNER_38, "the RL Tuner metrics")?;
        evaluate(&set.events(), &task.setting)
    } else {
        set.require_encoding(task.setting.encoding, &format!("task {}", task.name))?;
        evaluate_without_rl_tuner(&set.events(), &task.setting)
    };
    if args.json {
        melodies::print_stdout(&(serde_json::to_string(&value)? + "\n"))
    } else {
        melodies::print_stdout(&table(&value))
    }
}
