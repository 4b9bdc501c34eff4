//! Criterion benches of the environment's hot paths: one step of each task (zero reward and
//! the task's own reward), observation encoding, and the vector env on 1 and 2 threads.

use cadenza::env::vector::VecEnv;
use cadenza::env::{ComposeEnv, Environment, TaskSpec, ZeroReward};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn actions(n: usize, num_actions: usize) -> Vec<usize> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % num_actions as u64) as usize
        })
        .collect()
}

fn step_loop<E: Environment>(env: &mut E, obs: &mut [f32], acts: &[usize]) -> f64 {
    let mut total = 0.0;
    for &a in acts {
        let t = env.step_into(a, obs).expect("step");
        total += t.reward;
        if t.terminated {
            env.reset_into(None, obs).expect("reset");
        }
    }
    total
}

fn env_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("env_step");
    const N: usize = 4096;
    group.throughput(Throughput::Elements(N as u64));
    for (task_name, length) in [
        ("rl-tuner", None),
        ("improv", Some(32)),
        ("improv", Some(1024)),
    ] {
        let mut task = TaskSpec::by_name(task_name, None).expect("task");
        if let Some(length) = length {
            task = task.with_length(length).expect("length");
        }
        let label = format!("{task_name}/{}", task.setting.length);
        for reward_name in ["zero", "default"] {
            let reward = cadenza::reward::registry::load(
                (reward_name == "zero").then_some("zero"),
                &task.name,
            )
            .expect("reward");
            let mut env = ComposeEnv::new(task.clone(), reward);
            let mut obs = vec![0.0f32; env.observation_space().dim()];
            env.reset_into(Some(0), &mut obs).expect("reset");
            let acts = actions(N, env.action_space().n);
            group.bench_function(BenchmarkId::new(reward_name, &label), |b| {
                b.iter(|| black_box(step_loop(&mut env, &mut obs, &acts)))
            });
        }
    }
    group.finish();
}

fn observation_encoding(c: &mut Criterion) {
    // A step with the zero reward is the observation write plus bookkeeping.
    let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward);
    let mut obs = vec![0.0f32; 184];
    env.reset_into(Some(0), &mut obs).expect("reset");
    c.bench_function("observation_rl_tuner_reset", |b| {
        b.iter(|| env.reset_into(None, black_box(&mut obs)).expect("reset"))
    });
}

fn vector_env(c: &mut Criterion) {
    let mut group = c.benchmark_group("vector_env_64");
    group.throughput(Throughput::Elements(64));
    for threads in [1, 2] {
        let envs = (0..64)
            .map(|_| ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward))
            .collect();
        let mut venv = VecEnv::new(envs, threads).expect("vec env");
        venv.reset(Some(0)).expect("reset");
        let acts = actions(64, 38);
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| venv.step(black_box(&acts)).expect("step"))
        });
    }
    group.finish();
}

criterion_group!(benches, env_step, observation_encoding, vector_env);
criterion_main!(benches);
