//! Cost per step of each improvisation term and of the `improv` preset, at two melody
//! lengths. Throughput is reported in steps, so `time / length` is the cost of one step;
//! the two lengths should give the same per-step cost (the terms keep running state and
//! never scan the melody). The single terms come from the one table of terms
//! (`IMPROV_TERMS`), boxed, so their cost includes one dynamic call per step, as when a TOML
//! reward definition or the reward bench runs them; the preset calls its terms statically.

use cadenza_env::{ChordFrame, Event, EventEncoding, Reward, Setting};
use cadenza_reward::improv::{ImprovReward, IMPROV_TERMS};
use cadenza_reward::score::play_episode;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn mask(pitch_classes: &[u8]) -> u16 {
    pitch_classes.iter().fold(0, |m, &pc| m | 1 << pc)
}

/// A ii-V-I-I loop in C major, one chord per bar of sixteenths.
fn setting(length: usize) -> Setting {
    let c_major = mask(&[0, 2, 4, 5, 7, 9, 11]);
    let frame = |index, root, tones: &[u8], scale| ChordFrame {
        index,
        root,
        tones: mask(tones),
        scale,
    };
    let bars = [
        frame(0, 2, &[2, 5, 9, 0], c_major),
        frame(1, 7, &[7, 11, 2, 5], c_major),
        frame(2, 0, &[0, 4, 7, 11], c_major & !mask(&[5])),
        frame(2, 0, &[0, 4, 7, 11], c_major & !mask(&[5])),
    ];
    Setting {
        encoding: EventEncoding::RL_TUNER_38,
        length,
        steps_per_beat: 4,
        beats_per_bar: 4,
        tonic: 0,
        scale: c_major,
        chords: (0..length).map(|step| bars[(step / 16) % 4]).collect(),
        call_steps: 0,
    }
}

/// A deterministic pseudo-random melody: about half new pitches, the rest holds and rests,
/// so that every code path (onsets, holds, phrase ends) is exercised.
fn melody(setting: &Setting) -> Vec<Event> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let n = setting.encoding.num_events() as u64;
    (0..setting.length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 8 {
                0..=2 => 1,                  // hold
                3 => (state >> 8) as u8 % 2, // rest or hold
                _ => (2 + (state >> 16) % (n - 2)) as Event,
            }
        })
        .collect()
}

fn bench_term<R: Reward + ?Sized>(c: &mut Criterion, name: &str, reward: &mut R) {
    let mut group = c.benchmark_group(format!("improv/{name}"));
    for length in [32usize, 1024] {
        let setting = setting(length);
        let melody = melody(&setting);
        let mut terms = vec![0.0; reward.term_names().len()];
        group.throughput(Throughput::Elements(length as u64));
        group.bench_with_input(BenchmarkId::from_parameter(length), &length, |b, _| {
            b.iter(|| {
                black_box(play_episode(
                    reward,
                    &setting,
                    black_box(&melody),
                    &mut terms,
                    |_, _| {},
                ))
            })
        });
    }
    group.finish();
}

fn improv_terms(c: &mut Criterion) {
    for term in &IMPROV_TERMS {
        bench_term(c, term.name, term.with_defaults().as_mut());
    }
    bench_term(c, "preset", &mut ImprovReward::preset());
}

criterion_group!(benches, improv_terms);
criterion_main!(benches);
