//! The environment contract: conformance, layout, determinism and vector-env semantics.

use cadenza_env::check::check_env;
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, EnvError, Environment, InScaleReward, TaskSpec, ZeroReward};
use proptest::prelude::*;

fn rl_tuner() -> ComposeEnv<InScaleReward> {
    ComposeEnv::new(TaskSpec::rl_tuner(), InScaleReward)
}

#[test]
fn every_registered_task_passes_the_checker() {
    for name in cadenza_env::TASK_NAMES {
        let task = TaskSpec::by_name(name, None).unwrap();
        let report = check_env(|| ComposeEnv::new(task.clone(), InScaleReward));
        assert!(report.passed(), "task {name}:\n{report}");
        let report = check_env(|| ComposeEnv::new(task.clone(), ZeroReward));
        assert!(report.passed(), "task {name}:\n{report}");
    }
}

#[test]
fn rl_tuner_observation_layout() {
    let mut env = rl_tuner();
    let (obs, _) = env.reset(Some(0)).unwrap();
    assert_eq!(obs.len(), 184);
    // Before any event: all history blocks zero, step 0 one-hot.
    assert!(obs[..152].iter().all(|&v| v == 0.0));
    assert_eq!(obs[152], 1.0);
    assert_eq!(obs.iter().sum::<f32>(), 1.0);

    env.step(14).unwrap();
    let s = env.step(1).unwrap();
    let o = &s.observation;
    assert_eq!(o[1], 1.0, "most recent event (hold) in block 0");
    assert_eq!(o[38 + 14], 1.0, "previous event (C4) in block 1");
    assert!(o[76..152].iter().all(|&v| v == 0.0), "blocks 2 and 3 empty");
    assert_eq!(o[152 + 2], 1.0, "step index 2");
    assert_eq!(o.iter().sum::<f32>(), 3.0);

    let mut last = s;
    for _ in 2..32 {
        last = env.step(0).unwrap();
    }
    assert!(last.terminated);
    assert!(!last.truncated);
    assert!(
        last.observation[152..].iter().all(|&v| v == 0.0),
        "step one-hot all zeros with the final step"
    );
}

#[test]
fn info_carries_terms_and_mask() {
    let mut env = rl_tuner();
    env.reset(None).unwrap();
    let s = env.step(3).unwrap(); // C#3: outside C major
    assert_eq!(s.info.term("in_scale"), Some(-1.0));
    assert_eq!(s.reward, -1.0);
    assert_eq!(s.info.action_mask.len(), 38);
    assert_eq!(s.info.step, 1);
}

#[test]
fn bad_actions_are_errors() {
    let mut env = rl_tuner();
    assert_eq!(env.step(0).unwrap_err(), EnvError::NotReset);
    env.reset(Some(1)).unwrap();
    assert!(matches!(
        env.step(38),
        Err(EnvError::ActionOutOfRange { action: 38, n: 38 })
    ));
    let mut wrong = vec![0.0; 10];
    assert!(matches!(
        env.step_into(0, &mut wrong),
        Err(EnvError::BufferSize { .. })
    ));
    for _ in 0..32 {
        env.step(2).unwrap();
    }
    assert!(matches!(env.step(2), Err(EnvError::EpisodeOver { .. })));
}

#[test]
fn discrete_state_packs_recent_events_and_step() {
    let mut env = rl_tuner();
    env.reset(None).unwrap();
    let s0 = env.discrete_state();
    env.step(14).unwrap();
    let s1 = env.discrete_state();
    env.step(16).unwrap();
    let s2 = env.discrete_state();
    assert_ne!(s0, s1);
    assert_ne!(s1, s2);
    assert_eq!(
        s2 & 0xffff,
        ((16 + 1) << 8 | (14 + 1)) as u64,
        "most recent event in the higher byte"
    );
    assert_eq!(s2 >> 40, 2);
}

fn run_episode_sequence(seed: u64, actions: &[usize]) -> Vec<(Vec<f32>, f64, bool)> {
    let mut env = rl_tuner();
    env.reset(Some(seed)).unwrap();
    let mut out = Vec::new();
    for &a in actions {
        if env.elapsed_steps() == 32 {
            env.reset(None).unwrap();
        }
        let s = env.step(a).unwrap();
        out.push((s.observation, s.reward, s.terminated));
    }
    out
}

proptest! {
    #[test]
    fn same_seed_same_actions_same_episode(seed in any::<u64>(), actions in proptest::collection::vec(0usize..38, 1..80)) {
        prop_assert_eq!(run_episode_sequence(seed, &actions), run_episode_sequence(seed, &actions));
    }

    #[test]
    fn observations_stay_in_space(actions in proptest::collection::vec(0usize..38, 32)) {
        let mut env = rl_tuner();
        env.reset(Some(0)).unwrap();
        for a in actions {
            let s = env.step(a).unwrap();
            prop_assert!(env.observation_space().contains(&s.observation));
        }
    }
}

/// Worker threads split the envs into parts, and stage each part's flags and rewards in
/// blocks of 64; with 1024 envs a part spans several blocks. Every layout must give exactly
/// the single-threaded buffers, also when steps switch between the threads and the calling
/// thread and when some envs are reset in between (the staged blocks must be reloaded).
#[test]
fn threaded_vector_env_matches_one_thread_exactly() {
    for (n, threads) in [(1024usize, 2usize), (100, 3), (3, 4)] {
        let mut one = VecEnv::new((0..n).map(|_| rl_tuner()).collect(), 1).unwrap();
        let mut many = VecEnv::new((0..n).map(|_| rl_tuner()).collect(), threads).unwrap();
        many.set_thread_mode(cadenza_env::vector::ThreadMode::Always);
        one.reset(Some(3)).unwrap();
        many.reset(Some(3)).unwrap();
        for t in 0..70usize {
            let actions: Vec<usize> = (0..n).map(|i| (t * 5 + i * 11) % 38).collect();
            many.set_thread_mode(if t % 7 < 2 {
                cadenza_env::vector::ThreadMode::Never
            } else {
                cadenza_env::vector::ThreadMode::Always
            });
            if t == 32 {
                let which: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
                one.reset_mask(&which, Some(9)).unwrap();
                many.reset_mask(&which, Some(9)).unwrap();
            }
            one.step(&actions).unwrap();
            many.step(&actions).unwrap();
            assert_eq!(
                one.observations(),
                many.observations(),
                "{n} envs, step {t}"
            );
            assert_eq!(one.rewards(), many.rewards());
            assert_eq!(one.terminated(), many.terminated());
            assert_eq!(one.truncated(), many.truncated());
            assert_eq!(one.action_masks(), many.action_masks());
        }
        // A bad action is an error naming its env, from any thread.
        let mut actions = vec![0usize; n];
        actions[n - 1] = 99;
        many.set_thread_mode(cadenza_env::vector::ThreadMode::Always);
        let err = many.step(&actions).unwrap_err().to_string();
        assert!(err.contains(&format!("{}", n - 1)), "{err}");
        // The vector env goes on after the error.
        actions[n - 1] = 0;
        many.step(&actions).unwrap();
    }
}

#[test]
fn vector_env_matches_single_envs_with_next_step_autoreset() {
    for threads in [1, 2] {
        let n = 5;
        let mut venv = VecEnv::new((0..n).map(|_| rl_tuner()).collect(), threads).unwrap();
        // Adaptive (the default): its first steps alternate between the threads and the
        // calling thread; every step, either way, must agree with the single envs.
        let mut singles: Vec<_> = (0..n).map(|_| rl_tuner()).collect();
        venv.reset(Some(10)).unwrap();
        let dim = venv.obs_dim();
        for (i, env) in singles.iter_mut().enumerate() {
            let (obs, _) = env.reset(Some(10 + i as u64)).unwrap();
            assert_eq!(&venv.observations()[i * dim..(i + 1) * dim], &obs[..]);
        }
        let mut pending_reset = vec![false; n];
        for t in 0..70usize {
            let actions: Vec<usize> = (0..n).map(|i| (t * 7 + i * 3) % 38).collect();
            venv.step(&actions).unwrap();
            for i in 0..n {
                let obs = &venv.observations()[i * dim..(i + 1) * dim];
                if pending_reset[i] {
                    let (o, _) = singles[i].reset(None).unwrap();
                    assert_eq!(obs, &o[..]);
                    assert_eq!(venv.rewards()[i], 0.0);
                    assert!(!venv.terminated()[i] && !venv.truncated()[i]);
                    pending_reset[i] = false;
                } else {
                    let s = singles[i].step(actions[i]).unwrap();
                    assert_eq!(obs, &s.observation[..]);
                    assert_eq!(venv.rewards()[i], s.reward);
                    assert_eq!(venv.terminated()[i], s.terminated);
                    pending_reset[i] = s.terminated;
                }
            }
        }
    }
}

#[test]
fn vector_env_reset_mask_resets_only_chosen() {
    let mut venv = VecEnv::new((0..3).map(|_| rl_tuner()).collect(), 1).unwrap();
    venv.reset(Some(0)).unwrap();
    venv.step(&[14, 14, 14]).unwrap();
    venv.reset_mask(&[false, true, false], Some(5)).unwrap();
    assert_eq!(venv.envs()[0].elapsed_steps(), 1);
    assert_eq!(venv.envs()[1].elapsed_steps(), 0);
    assert_eq!(venv.envs()[2].elapsed_steps(), 1);
    assert!(venv.step(&[0, 0]).is_err(), "wrong number of actions");
    let err = venv.step(&[0, 99, 0]).unwrap_err();
    assert!(err.to_string().contains("sub-env 1"), "{err}");
}

#[test]
fn stepping_without_observations_matches_stepping_with_them() {
    // Tabular agents step through `step_state`; everything but the observation must be the
    // same as `step_into`: rewards, terms, episode ends, discrete states, masks and errors.
    for task in [
        TaskSpec::rl_tuner(),
        TaskSpec::by_name("improv", None).unwrap(),
    ] {
        let mut with = ComposeEnv::new(task.clone(), InScaleReward);
        let mut without = ComposeEnv::new(task.clone(), InScaleReward);
        let mut obs = vec![0.0; with.observation_space().dim()];
        with.reset_into(Some(4), &mut obs).unwrap();
        without.reset_into(Some(4), &mut obs).unwrap();
        let n = with.action_space().n;
        let mut x = 12345u64;
        for _ in 0..20 * task.setting.length {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let action = (x >> 33) as usize % (n + 1); // now and then out of range
            let a = with.step_into(action, &mut obs);
            let b = without.step_state(action);
            assert_eq!(a, b, "{} action {action}", task.name);
            assert_eq!(with.term_values(), without.term_values());
            assert_eq!(with.discrete_state(), without.discrete_state());
            assert_eq!(with.action_mask(), without.action_mask());
            if matches!(a, Ok(t) if t.terminated) {
                with.reset_into(None, &mut obs).unwrap();
                without.reset_into(None, &mut obs).unwrap();
            }
        }
        // After the end, both refuse the same way.
        while with.elapsed_steps() < task.setting.length {
            let action = with.action_mask().iter().position(|&ok| ok).unwrap();
            with.step_into(action, &mut obs).unwrap();
            without.step_state(action).unwrap();
        }
        assert_eq!(with.step_into(1, &mut obs), without.step_state(1));
    }
}
