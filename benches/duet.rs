//! From the end of a call to the answer being ready: a Q-learning answerer trained on the
//! `duet` task (scripted partner, two-bar call and answer in 4/4 at 120 bpm) answers a call
//! handed to it from outside, as a live session does when a person stops playing: the call
//! goes into the env, the agent plays its 32 answer steps, and the answer becomes notes.
//!
//! Budget: the answer starts on the next downbeat; at 120 bpm a sixteenth lasts 125 ms, so
//! anything under 20 ms leaves the page its whole scheduling margin.

use cadenza_agents::duet::Answerer;
use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
use cadenza_agents::{ActMode, Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment, Reward, TaskSpec};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn bench(c: &mut Criterion) {
    let task = TaskSpec::by_name("duet", None).expect("duet");
    let envs: Vec<TrainEnv> = (0..8)
        .map(|_| {
            ComposeEnv::new(
                task.clone(),
                cadenza_reward::registry::preset("duet").expect("duet preset") as Box<dyn Reward>,
            )
        })
        .collect();
    let mut envs = VecEnv::new(envs, 1).expect("envs");
    envs.reset(Some(0)).expect("reset");
    let actions = task.setting.encoding.num_events();
    let steps = 1 << 20;
    let mut agent = TabularAgent::new(
        Algorithm::QLearning,
        TabularConfig::defaults_for(task.state),
        "duet",
        actions,
        steps,
    )
    .expect("valid config");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    agent.learn(&mut envs, steps, &mut rng).expect("learn");

    // Calls as a person would play them: the scripted partner's, one per seed.
    let mut partner = ComposeEnv::new(task.clone(), cadenza_env::ZeroReward);
    let calls: Vec<Vec<u8>> = (0..64)
        .map(|seed| {
            partner.reset(Some(seed)).expect("reset");
            partner.melody().to_vec()
        })
        .collect();
    let mut answerer = Answerer::new(&task).expect("answerer");
    let mut answer = Vec::new();
    let mut k = 0u64;
    c.bench_function("duet/call-end-to-answer-ready/q", |b| {
        b.iter(|| {
            let call = &calls[(k % 64) as usize];
            answerer
                .answer(
                    &mut agent,
                    call,
                    k,
                    ActMode::Sample { temperature: 0.5 },
                    &mut answer,
                )
                .expect("answer");
            k += 1;
            task.setting.encoding.to_notes(&answer).expect("notes")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
