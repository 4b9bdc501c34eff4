//! `rewards bench --train`: the same agent trained on each preset, judged by Magenta's
//! evaluation metrics of what it plays.

use crate::cli::train::fresh_agent;
use anyhow::Result;
use cadenza_agents::registry::BuildSpec;
use cadenza_agents::train::{evaluate, learn_for, TrainConfig};
use cadenza_agents::{registry as agents, ActMode, DeviceChoice, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::bench::Skipped;
use cadenza_reward::metrics::RlTunerMetrics;
use cadenza_reward::registry;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// One preset's trained agent, judged by Magenta's metrics.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Outcome {
    pub(super) reward: String,
    pub(super) steps: u64,
    /// Melodies sampled for the evaluation.
    pub(super) episodes: usize,
    /// Mean return of the sampled melodies under the preset's own reward.
    pub(super) return_mean: f64,
    /// Distinct melodies among the sampled ones.
    pub(super) distinct: usize,
    /// Mean return of the sampled melodies under Magenta's reward (the common yardstick).
    pub(super) rl_tuner_return: f64,
    pub(super) metrics: BTreeMap<String, f64>,
    pub(super) seconds: f64,
}

/// Trains an agent on each preset or reward definition among `specs` in parallel (other
/// rewards, single terms, are not trained on); a training that fails is reported and
/// returned as skipped.
pub(super) fn train_outcomes(
    specs: &[&String],
    budget: u64,
    seed: u64,
    episodes: usize,
) -> (Vec<Outcome>, Vec<Skipped>) {
    let presets: Vec<&String> = specs
        .iter()
        .copied()
        .filter(|s| registry::PRESET_NAMES.contains(&s.as_str()) || s.ends_with(".toml"))
        .collect();
    if presets.is_empty() {
        eprintln!("--train: no preset or reward definition among the rewards; nothing trained");
    }
    let results: Vec<(String, Result<Outcome>)> = presets
        .par_iter()
        .map(|spec| {
            let r = train_outcome(spec, budget, seed, episodes);
            (spec.to_string(), r)
        })
        .collect();
    let mut outcome = Vec::new();
    let mut skipped = Vec::new();
    for (spec, r) in results {
        match r {
            Ok(o) => outcome.push(o),
            Err(e) => {
                eprintln!("skipped training on {spec}: {e:#}");
                skipped.push(Skipped {
                    item: spec,
                    reason: format!("{e:#}"),
                });
            }
        }
    }
    (outcome, skipped)
}

/// Softmax temperature of the evaluation: Q-values differ by fractions of a reward, so at
/// temperature 1 every agent samples almost uniformly and the presets look alike; 0.1 plays
/// what each agent learned while still giving varied melodies.
const EVAL_TEMPERATURE: f64 = 0.1;

/// Trains tabular Q-learning on the rl-tuner task with `spec` as the reward, then samples
/// `episodes` melodies and scores them with Magenta's metrics and reward.
fn train_outcome(spec: &str, budget: u64, seed: u64, episodes: usize) -> Result<Outcome> {
    let started = Instant::now();
    let task = TaskSpec::rl_tuner();
    let make = || -> Result<TrainEnv> {
        Ok(ComposeEnv::new(
            task.clone(),
            registry::load(Some(spec), "rl-tuner")?,
        ))
    };
    // One env, as the outcome has always trained (tabular kinds default to several lanes).
    let mut envs = VecEnv::new(vec![make()?], 1)?;
    let (mut agent, _) = fresh_agent(
        agents::lookup("q")?,
        &BuildSpec {
            config: &toml::Table::new(),
            task: &task,
            total_steps: budget.max(1),
            seed,
            device: DeviceChoice::Cpu,
        },
    )?;
    let done = learn_for(
        agent.as_mut(),
        &mut envs,
        budget,
        seed,
        TrainConfig::default().chunk_steps,
    )?;
    let mut eval_env = make()?;
    let eval = evaluate(
        agent.as_mut(),
        &mut eval_env,
        episodes.max(1),
        seed.wrapping_add(1_000_000),
        ActMode::Sample {
            temperature: EVAL_TEMPERATURE,
        },
    )?;
    let mut metrics = RlTunerMetrics::new();
    let mut magenta = cadenza_reward::rl_tuner::RlTunerReward::default();
    let mut terms = [0.0; cadenza_reward::rl_tuner::NUM_TERMS];
    let mut rl_total = 0.0;
    for melody in &eval.melodies {
        metrics.add_composition(melody);
        magenta.reset_composition();
        rl_total += melody
            .iter()
            .map(|&e| magenta.score_event(e, &mut terms))
            .sum::<f64>();
    }
    Ok(Outcome {
        reward: spec.to_string(),
        steps: done,
        episodes: eval.melodies.len(),
        return_mean: eval.mean,
        distinct: eval.distinct(),
        rl_tuner_return: rl_total / eval.melodies.len().max(1) as f64,
        metrics: metrics.report(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Magenta's metrics the outcome compares, in report order.
pub(super) const OUTCOME_METRICS: &[&str] = &[
    "percent_notes_not_in_key",
    "percent_compositions_starting_with_tonic",
    "percent_notes_excessively_repeated",
    "percent_notes_in_motif",
    "percent_notes_in_repeated_motif",
    "percent_leaps_resolved",
    "percent_compositions_unique_highest_note",
    "percent_compositions_unique_lowest_note",
    "mean_autocorrelation_lag1",
];
