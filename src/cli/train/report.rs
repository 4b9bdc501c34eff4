//! What a finished run shows and keeps: sample MIDI files, Magenta's metrics of sampled
//! melodies, and the printed summary.

use crate::cli::{eval, generate, pianoroll};
use anyhow::Result;
use cadenza_agents::run::RunDir;
use cadenza_agents::train::EvalRecord;
use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::TaskSpec;
use std::path::{Path, PathBuf};

/// The first `count` melodies as `samples/sample-NNN.mid`.
pub(super) fn write_samples(
    run: &RunDir,
    task: &TaskSpec,
    melodies: &[Vec<Event>],
    count: usize,
    kind: &str,
) -> Result<Vec<PathBuf>> {
    let dir = run.samples_dir()?;
    let mut paths = Vec::new();
    for (i, melody) in melodies.iter().take(count).enumerate() {
        let path = dir.join(format!("sample-{i:03}.mid"));
        generate::write_song(
            task,
            melody,
            &path,
            Some(cadenza_env::formats::Format::Midi),
            &format!("{kind} sample {i}"),
        )?;
        paths.push(path);
    }
    Ok(paths)
}

/// Magenta's evaluation metrics, for melodies in its encoding and key.
pub(super) fn rl_tuner_metrics(
    task: &TaskSpec,
    melodies: &[Vec<Event>],
) -> Option<std::collections::BTreeMap<String, f64>> {
    if task.setting.encoding != EventEncoding::RL_TUNER_38 || !task.setting.chords.is_empty() {
        return None;
    }
    let mut metrics = cadenza_reward::metrics::RlTunerMetrics::new();
    for melody in melodies {
        metrics.add_composition(melody);
    }
    Some(metrics.report())
}

pub(super) struct SummaryView<'a> {
    pub(super) task: &'a TaskSpec,
    pub(super) kind: &'a str,
    pub(super) outcome_steps: u64,
    pub(super) interrupted: bool,
    pub(super) wall_s: f64,
    pub(super) last: Option<&'a EvalRecord>,
    pub(super) distinct: usize,
    pub(super) count: usize,
    pub(super) temperature: f64,
    pub(super) metrics: Option<&'a std::collections::BTreeMap<String, f64>>,
    pub(super) musicianship: &'a serde_json::Value,
    pub(super) melody: Option<&'a [Event]>,
    pub(super) midi: Option<&'a Path>,
    pub(super) out: &'a Path,
    pub(super) curve: &'a Path,
}

pub(super) fn print_summary(v: &SummaryView<'_>) {
    let stop = if v.interrupted { " (interrupted)" } else { "" };
    println!(
        "{} on {}: {} steps in {:.1} s{stop}",
        v.kind, v.task.name, v.outcome_steps, v.wall_s
    );
    if let Some(r) = v.last {
        println!(
            "final return: sampled {:.2} ± {:.2} (T = {}), greedy {:.2} ± {:.2}; {:.2} M steps/s",
            r.return_mean,
            r.return_std,
            v.temperature,
            r.greedy_return_mean,
            r.greedy_return_std,
            r.steps_per_sec / 1e6
        );
    }
    println!("{} of {} sampled melodies distinct", v.distinct, v.count);
    match v.metrics {
        Some(m) => {
            println!(
                "RL Tuner metrics of {} sampled melodies (Magenta's evaluation):",
                v.count
            );
            let rows = [
                ("notes not in key", "percent_notes_not_in_key", true),
                (
                    "notes excessively repeated",
                    "percent_notes_excessively_repeated",
                    true,
                ),
                (
                    "compositions starting with tonic",
                    "percent_compositions_starting_with_tonic",
                    true,
                ),
                ("leaps resolved", "percent_leaps_resolved", true),
                (
                    "unique max note",
                    "percent_compositions_unique_highest_note",
                    true,
                ),
                (
                    "unique min note",
                    "percent_compositions_unique_lowest_note",
                    true,
                ),
                ("notes in motif", "percent_notes_in_motif", true),
                (
                    "notes in repeated motif",
                    "percent_notes_in_repeated_motif",
                    true,
                ),
                (
                    "mean autocorrelation lag 1",
                    "mean_autocorrelation_lag1",
                    false,
                ),
                (
                    "mean autocorrelation lag 2",
                    "mean_autocorrelation_lag2",
                    false,
                ),
                (
                    "mean autocorrelation lag 3",
                    "mean_autocorrelation_lag3",
                    false,
                ),
            ];
            for (label, key, percent) in rows {
                let value = m.get(key).copied().unwrap_or(f64::NAN);
                if percent {
                    println!("  {label:<34} {:>7.2}%", value * 100.0);
                } else {
                    println!("  {label:<34} {value:>8.3}");
                }
            }
        }
        None => println!("(RL Tuner metrics apply to the rl-tuner encoding without chords)"),
    }
    let mut musicianship = String::new();
    eval::musicianship_table(&mut musicianship, v.musicianship);
    print!("{}", musicianship.trim_start_matches('\n'));
    if let Some(melody) = v.melody {
        println!("a sampled melody:");
        print!(
            "{}",
            pianoroll::render(
                melody,
                v.task.setting.encoding,
                v.task.setting.steps_per_bar()
            )
        );
    }
    if let Some(path) = v.midi {
        println!("MIDI: {}", path.display());
    }
    println!(
        "run: {} (metrics.jsonl, checkpoint/, {}, summary.json)",
        v.out.display(),
        v.curve
            .file_name()
            .map_or("".into(), |n| n.to_string_lossy())
    );
}
