//! Cost of one step of the style prior as a reward term (`StyleReward`, the shipped model),
//! over the `improv` task's ii-V-I, for melodies of 64 and 1024 steps: the term keeps a small
//! state of the melody so far (`StyleState`), so a step must cost the same at any length.
//! Both parts are timed: the whole distribution (`all`) and the pitch's log-ratio (`pitch`).
//!
//! The melody is a corpus-like walk (a note on every other step, mostly stepwise) drawn once,
//! so every iteration reads the same kind of contexts.

use std::hint::black_box;

use cadenza_env::encoding::{Event, HOLD};
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_env::TaskSpec;
use cadenza_reward::style::{StylePart, StyleReward};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn walk(setting: &Setting, len: usize) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(4);
    let num_events = setting.encoding.num_events() as i32;
    let mut pitch = num_events / 2;
    (0..len)
        .map(|step| {
            if step % 2 == 1 {
                return HOLD;
            }
            pitch = (pitch + rng.random_range(-2..=2)).clamp(2, num_events - 1);
            pitch as Event
        })
        .collect()
}

fn bench_step(c: &mut Criterion) {
    let task = TaskSpec::by_name("improv", None).expect("the improv task");
    let mut group = c.benchmark_group("style_reward_step");
    for part in [StylePart::All, StylePart::Pitch] {
        for len in [64usize, 1024] {
            let setting = Setting {
                length: len,
                ..task.setting.clone()
            };
            let melody = walk(&setting, len);
            let mut reward = StyleReward::builtin().with_part(part);
            reward.reset(&setting);
            let mut terms = [0.0];
            let name = match part {
                StylePart::All => "all",
                StylePart::Pitch => "pitch",
            };
            group.bench_with_input(BenchmarkId::new(name, len), &len, |b, _| {
                let mut step = 0;
                b.iter(|| {
                    // A whole episode in turn, reset at its start as an env resets.
                    let ctx = StepContext {
                        setting: &setting,
                        step,
                        history: &melody[..step],
                        action: melody[step],
                    };
                    let value = reward.step(black_box(&ctx), &mut terms);
                    step = (step + 1) % melody.len();
                    black_box(value)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
