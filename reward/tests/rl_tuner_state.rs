//! The `rl-tuner` task's compact state holds the melodic context that RL Tuner's reward
//! remembers (the motif window's distinct pitches and the pending leap). The environment
//! follows it from the melody alone, so that a tabular agent acts the same under any reward;
//! these tests hold it to the reward's own detectors on random and leap-heavy melodies.

use cadenza_env::{ComposeEnv, Environment, TaskSpec};
use cadenza_reward::rl_tuner::RlTunerReward;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bits 32..34 of the state: distinct pitches, capped at 3; bits 34..36: leap direction + 1.
fn context(state: u64) -> (u32, i8) {
    (((state >> 32) & 3) as u32, ((state >> 34) & 3) as i8 - 1)
}

fn check_episodes(pick: impl FnMut(&mut ChaCha8Rng, usize) -> usize, episodes: usize) {
    check_episodes_reading_every(pick, episodes, 1);
}

/// Reads the state only after every `every`-th step (and never at the start of an
/// episode when `every > 1`): the env then takes in several events at once, and the first
/// read of an episode must not see the last one's context.
fn check_episodes_reading_every(
    mut pick: impl FnMut(&mut ChaCha8Rng, usize) -> usize,
    episodes: usize,
    every: usize,
) {
    let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), RlTunerReward::default());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut pending = 0;
    for episode in 0..episodes {
        env.reset(Some(episode as u64)).unwrap();
        if every == 1 {
            assert_eq!(context(env.discrete_state()), (0, 0));
        }
        // Some episodes are cut short by the next reset, so that a read early in the next
        // episode finds as many events as the last read of this one took in.
        let steps = if every > 1 && episode % 3 == 1 {
            every + 2
        } else {
            32
        };
        for step in 0..steps {
            let action = pick(&mut rng, step);
            env.step(action).unwrap();
            if (step + 1) % every != 0 {
                continue;
            }
            let (pitches, direction) = context(env.discrete_state());
            let reward = env.reward();
            assert_eq!(
                pitches,
                reward.motif_window_pitches().min(3),
                "episode {episode} step {step}: distinct pitches of {:?}",
                env.melody()
            );
            assert_eq!(
                direction,
                reward.pending_leap(),
                "episode {episode} step {step}: pending leap of {:?}",
                env.melody()
            );
            pending += usize::from(direction != 0);
        }
    }
    assert!(
        pending > 100,
        "the melodies leave leaps pending ({pending} steps)"
    );
}

#[test]
fn context_follows_the_reward_on_random_melodies() {
    check_episodes(|rng, _| rng.random_range(0..38), 300);
}

/// Few rests and holds, large intervals: leaps, doubled leaps and resolutions.
fn leaping_event(rng: &mut ChaCha8Rng, _step: usize) -> usize {
    if rng.random_bool(0.15) {
        rng.random_range(0..2)
    } else {
        [2, 9, 14, 21, 26, 33, 37][rng.random_range(0..7)]
    }
}

#[test]
fn context_follows_the_reward_on_leaping_melodies() {
    check_episodes(leaping_event, 300);
}

#[test]
fn context_read_now_and_then_catches_up_with_the_melody() {
    for every in [3, 5, 7] {
        check_episodes_reading_every(leaping_event, 200, every);
    }
}

#[test]
fn improv_keeps_the_harmonic_state_not_the_step() {
    // Two melodies that reach the same chord, beat, last note, move into it and note length
    // share a state however they got there: the harmonic state keeps no earlier events.
    let task = TaskSpec::by_name("improv", None).unwrap();
    let state_after = |melody: &[usize]| {
        let mut env = ComposeEnv::new(task.clone(), cadenza_env::ZeroReward);
        env.reset(Some(0)).unwrap();
        for &a in melody {
            env.step(a).unwrap();
        }
        env.discrete_state()
    };
    let hold = usize::from(cadenza_env::HOLD);
    let e4 = usize::from(task.setting.encoding.event_of_pitch(64).unwrap());
    let g4 = usize::from(task.setting.encoding.event_of_pitch(67).unwrap());
    let a4 = usize::from(task.setting.encoding.event_of_pitch(69).unwrap());
    // E4 then G4 (a skip up) held for a step, at step 12 of bar 1, reached two ways.
    let mut one = vec![hold; 10];
    one.extend([e4, g4]);
    let mut other = vec![a4; 1];
    other.extend(vec![hold; 9]);
    other.extend([e4, g4]);
    assert_eq!(state_after(&one), state_after(&other));
    // The same last note reached by another move (a step down from A4) differs.
    let mut down = vec![hold; 10];
    down.extend([a4, g4]);
    assert_ne!(state_after(&one), state_after(&down));
    // The same notes a bar later (over G7, not Dm7) differ.
    let mut later = vec![hold; 26];
    later.extend([e4, g4]);
    assert_ne!(state_after(&one), state_after(&later));
}
