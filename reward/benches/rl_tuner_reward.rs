//! Cost of one step of Magenta RL Tuner's reward, on random 32-step melodies.

use cadenza_env::encoding::Event;
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::rl_tuner::{RlTunerReward, NUM_TERMS};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn bench_reward(c: &mut Criterion) {
    // 1024 random melodies of 32 events, played back to back; the reward starts a new
    // composition every 32 steps by itself.
    let mut rng = StdRng::seed_from_u64(1);
    let events: Vec<Event> = (0..32 * 1024).map(|_| rng.random_range(0..38)).collect();
    let setting = Setting::rl_tuner();
    let mut reward = RlTunerReward::default();
    reward.reset(&setting);
    let mut terms = [0.0; NUM_TERMS];
    let mut i = 0usize;

    let mut group = c.benchmark_group("rl_tuner_reward");
    group.throughput(Throughput::Elements(1));
    group.bench_function("step", |b| {
        b.iter(|| {
            let ctx = StepContext {
                setting: &setting,
                step: 1 + i % 32,
                history: &[],
                action: events[i],
            };
            // The pool's length is a power of two: no division in the loop.
            i = (i + 1) & (events.len() - 1);
            black_box(reward.step(black_box(&ctx), &mut terms))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_reward);
criterion_main!(benches);
