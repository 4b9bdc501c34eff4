//! Q-learning steps per second on the `rl-tuner` task with Magenta's reward: the env, the
//! full reward and the agent's update, on one core.

use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
use cadenza_agents::{Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
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
        let env: TrainEnv =
            ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(RlTunerReward::default()));
        let mut envs = VecEnv::new(vec![env], 1).expect("one env");
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
        group.bench_function(format!("{}/rl-tuner", algorithm.kind()), |b| {
            b.iter(|| agent.learn(&mut envs, STEPS, &mut rng).expect("learn"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
