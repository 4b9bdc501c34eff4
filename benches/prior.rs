//! The cost of a KL-controlled run's prior per env step: the behaviour-cloned network scored
//! one env at a time inside its reward (`PriorReward`, the reference) against all envs of a
//! rollout step in one batched forward pass (`RolloutPrior`, what PPO runs), for the
//! recipe's network (MLP 2 x 256, tanh) on the rl-tuner observation. The n-gram prior's
//! lookups are benchmarked in `reward/benches/corpus_model.rs`.
//!
//! `cargo bench --features tch --bench prior`

use std::hint::black_box;

use cadenza_agents::pg::bc::{self, BcConfig, PriorReward, RolloutPrior, Tune};
use cadenza_agents::pg::{DeviceChoice, ModelConfig, PolicyArch};
use cadenza_agents::Agent;
use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, StepContext};
use cadenza_env::{ComposeEnv, Environment, TaskSpec, ZeroReward};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Envs per rollout step (PPO's default `num_envs`).
const ENVS: usize = 64;

fn bench_prior(c: &mut Criterion) {
    let task = TaskSpec::rl_tuner();
    // A prior with the recipe's network; one short epoch: its weights do not change the cost.
    let tunes: Vec<Tune> = (0..4)
        .map(|i| Tune {
            events: (0..96).map(|t| ((t * 7 + i) % 38) as Event).collect(),
            steps_per_bar: 16,
        })
        .collect();
    let config = BcConfig {
        model: ModelConfig {
            arch: PolicyArch::Mlp,
            hidden: 256,
            layers: 2,
            ..ModelConfig::default()
        },
        epochs: 1,
        ..BcConfig::default()
    };
    let agent = bc::train(&config, &task, &tunes, &tunes, DeviceChoice::Cpu, 0, |_| {})
        .expect("a prior trains");
    let dir = std::env::temp_dir().join(format!("cadenza-bench-prior-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    agent.save(&dir).expect("the prior saves");

    // One step of ENVS melodies, 8 events into their episode.
    let histories: Vec<Vec<Event>> = (0..ENVS)
        .map(|i| (0..8).map(|t| ((t * 5 + i) % 38) as Event).collect())
        .collect();
    let actions: Vec<usize> = (0..ENVS).map(|i| (i * 3) % 38).collect();
    let mut env = ComposeEnv::new(task.clone(), ZeroReward);
    let dim = env.observation_space().dim();
    let mut obs = vec![0.0f32; ENVS * dim];
    for (i, history) in histories.iter().enumerate() {
        let row = &mut obs[i * dim..(i + 1) * dim];
        env.reset_into(Some(0), row).expect("reset");
        for &e in history {
            env.step_into(usize::from(e), row).expect("step");
        }
    }

    let mut group = c.benchmark_group("bc_prior_64_envs");
    let mut reference = PriorReward::new(Box::new(ZeroReward), &dir, &task, 3.0).expect("prior");
    reference.reset(&task.setting);
    let mut terms = [0.0];
    group.bench_function(BenchmarkId::new("per_env_reward", ENVS), |b| {
        b.iter(|| {
            let mut total = 0.0;
            for (history, &action) in histories.iter().zip(&actions) {
                let ctx = StepContext {
                    setting: &task.setting,
                    step: history.len(),
                    history,
                    action: action as Event,
                };
                total += reference.step(black_box(&ctx), &mut terms);
            }
            black_box(total)
        })
    });
    let mut batched = RolloutPrior::open(&dir, &task, 3.0, DeviceChoice::Cpu).expect("prior");
    let starts = vec![0.0f32; ENVS];
    let steps = vec![8usize; ENVS];
    let mut out = vec![0.0f32; ENVS];
    group.bench_function(BenchmarkId::new("batched", ENVS), |b| {
        b.iter(|| {
            batched.score_host(black_box(&obs), &starts, &steps, &actions, &mut out);
            black_box(out[0])
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_prior);
criterion_main!(benches);
