//! Cost of one `CorpusReward::step` at orders 2, 4 and 6 in melodies of 64 and 1024 steps
//! (the term's cursor steps through the model's automaton: the cost should not grow with the
//! length), and of one log-probability through
//! the model's reference path (`log_prob`: a hash lookup and a binary search per level)
//! against its context table (`log_prob_fast`, what the reward uses), on a corpus-like
//! walk and on random histories (most of whose contexts the model never saw).
//!
//! The model is fitted on synthetic melodies from a skewed random walk, which gives count tables
//! of a realistic shape (many contexts, most events unseen after most contexts) without needing
//! a corpus on disk.

use std::hint::black_box;
use std::sync::Arc;

use cadenza_env::encoding::{Event, HOLD, REST};
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_reward::corpus::{CorpusReward, NgramConfig, NgramModel};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Melodies of `len` steps: a note on each beat, mostly stepwise, holds and rests in between.
fn melodies(setting: &Setting, count: usize, len: usize, seed: u64) -> Vec<Vec<Event>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let num_events = setting.encoding.num_events() as i32;
    (0..count)
        .map(|_| {
            let mut pitch: i32 = num_events / 2;
            (0..len)
                .map(|step| {
                    if step % 2 == 1 {
                        return if rng.random_bool(0.1) { REST } else { HOLD };
                    }
                    pitch = (pitch + rng.random_range(-2..=2)).clamp(2, num_events - 1);
                    pitch as Event
                })
                .collect()
        })
        .collect()
}

fn bench_step(c: &mut Criterion) {
    let setting = Setting::rl_tuner();
    let train = melodies(&setting, 600, 256, 1);
    let episodes = [64, 1024].map(|len| melodies(&setting, 1, len, 2).remove(0));
    let mut group = c.benchmark_group("corpus_reward_step");
    for order in [2, 4, 6] {
        let config = NgramConfig {
            order,
            use_position: true,
            ..NgramConfig::default()
        };
        let model = Arc::new(
            NgramModel::fit(config, setting.encoding, setting.steps_per_bar(), &train)
                .expect("synthetic melodies fit"),
        );
        for episode in &episodes {
            let mut reward = CorpusReward::new(model.clone());
            reward.reset(&setting);
            let mut terms = [0.0];
            let id = format!("order{order}/len{}", episode.len());
            group.bench_function(id, |b| {
                let mut step = 0;
                b.iter(|| {
                    // Walk through the episode so that lookups hit different contexts; a new
                    // episode starts with a reset, as an env's would.
                    step = (step + 1) % episode.len();
                    if step == 0 {
                        reward.reset(&setting);
                    }
                    let ctx = StepContext {
                        setting: &setting,
                        step,
                        history: &episode[..step],
                        action: episode[step],
                    };
                    black_box(reward.step(black_box(&ctx), &mut terms))
                })
            });
        }
    }
    group.finish();
}

fn bench_lookup(c: &mut Criterion) {
    let setting = Setting::rl_tuner();
    let train = melodies(&setting, 600, 256, 1);
    let walk = melodies(&setting, 1, 1024, 2).remove(0);
    let mut rng = StdRng::seed_from_u64(3);
    let random: Vec<Event> = (0..1024)
        .map(|_| rng.random_range(0..setting.encoding.num_events()) as Event)
        .collect();
    let mut group = c.benchmark_group("ngram_log_prob");
    for order in [4, 6] {
        let config = NgramConfig {
            order,
            use_position: true,
            ..NgramConfig::default()
        };
        let model = NgramModel::fit(config, setting.encoding, setting.steps_per_bar(), &train)
            .expect("synthetic melodies fit");
        model.context_table();
        for (name, events) in [("walk", &walk), ("random", &random)] {
            for fast in [false, true] {
                let id = format!(
                    "{}/{name}/order{order}",
                    if fast { "table" } else { "reference" }
                );
                group.bench_function(id, |b| {
                    let mut step = 0;
                    b.iter(|| {
                        step = (step + 1) % events.len();
                        let context = &events[step.saturating_sub(order - 1)..step];
                        black_box(if fast {
                            model.log_prob_fast(black_box(context), step, events[step])
                        } else {
                            model.log_prob(black_box(context), step, events[step])
                        })
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_step, bench_lookup);
criterion_main!(benches);
