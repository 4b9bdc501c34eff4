//! Q-learning steps per second on the `rl-tuner` task with Magenta's reward: the env, the
//! full reward and the agent's update, on one core, with the default number of sub-envs
//! (lanes) and with one.

use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig, TABULAR_LANES};
use cadenza_agents::{Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Reward, TaskSpec};
use cadenza_reward::rl_tuner::RlTunerReward;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const STEPS: u64 = 1 << 20;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tabular");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(10);
    for algorithm in [
        Algorithm::QLearning,
        Algorithm::Sarsa,
        Algorithm::ExpectedSarsa,
    ] {
        bench_lanes(&mut group, algorithm, TABULAR_LANES);
    }
    // One lane: no other sub-env's work to hide the table's cache misses behind.
    bench_lanes(&mut group, Algorithm::QLearning, 1);
    group.finish();
}

fn bench_lanes(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    algorithm: Algorithm,
    lanes: usize,
) {
    let envs: Vec<TrainEnv> = (0..lanes)
        .map(|_| {
            ComposeEnv::new(
                TaskSpec::rl_tuner(),
                Box::new(RlTunerReward::default()) as Box<dyn Reward>,
            )
        })
        .collect();
    let mut envs = VecEnv::new(envs, 1).expect("envs");
    envs.reset(Some(0)).expect("reset");
    let mut agent = TabularAgent::new(
        algorithm,
        TabularConfig::default(),
        "rl-tuner",
        38,
        20 * STEPS,
    )
    .expect("valid config");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // Warm the table up, so that the figure is the steady state of a long run.
    agent.learn(&mut envs, 4 * STEPS, &mut rng).expect("learn");
    group.bench_function(
        format!("{}/rl-tuner/{lanes}-lanes", algorithm.kind()),
        |b| b.iter(|| agent.learn(&mut envs, STEPS, &mut rng).expect("learn")),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
