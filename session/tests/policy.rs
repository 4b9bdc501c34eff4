//! Policy-gradient adaptation (feature `tch`): a PPO agent trained briefly on the `improv`
//! task is loaded into a session, its own network is updated between phrases, its phrases
//! move towards the listener's taste, and a resumed session replays the same updates.
#![cfg(feature = "tch")]

use cadenza_agents::pg::{self, AdaptConfig, BuildSpec, DeviceChoice, PolicyAdapter};
use cadenza_agents::TrainEnv;
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Environment, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use cadenza_session::sim::{self, SimListener};
use cadenza_session::{Adaptation, AgentSource, Session, SessionConfig};
use rand::SeedableRng;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-policy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A PPO checkpoint of the default `improv` task after `steps` env steps, as `cadenza train`
/// writes it.
fn train_checkpoint(dir: &Path, steps: u64) {
    let task = TaskSpec::by_name("improv", None).unwrap();
    let config = "num_envs = 4\nnum_steps = 64\nminibatch_size = 64\n";
    let envs: Vec<TrainEnv> = (0..4)
        .map(|_| -> TrainEnv { ComposeEnv::new(task.clone(), Box::new(ImprovReward::preset())) })
        .collect();
    let obs_dim = envs[0].observation_space().dim();
    let mut envs = VecEnv::new(envs, 1).unwrap();
    envs.reset(Some(0)).unwrap();
    let mut agent = pg::build(&BuildSpec {
        kind: "ppo",
        config: &config.parse().unwrap(),
        task: None,
        obs_dim,
        num_actions: task.setting.encoding.num_events(),
        device: DeviceChoice::Cpu,
        seed: 0,
        total_steps: Some(steps),
    })
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    agent.learn(&mut envs, steps, &mut rng).unwrap();
    agent.save(dir).unwrap();
}

fn config(dir: &Path) -> SessionConfig {
    SessionConfig {
        seed: 4,
        calibration_phrases: 32,
        candidates: 12,
        adaptation: Adaptation::PolicyGradient,
        agent: Some(AgentSource::from_dir(dir).unwrap()),
        ..SessionConfig::default()
    }
}

/// Mean hidden utility of fresh phrases sampled from the policy (no reranking).
fn policy_utility(session: &mut Session, listener: &SimListener) -> f64 {
    let phrases = session.held_out(60).unwrap();
    phrases
        .iter()
        .map(|c| listener.utility(session, c))
        .sum::<f64>()
        / phrases.len() as f64
}

#[test]
fn policy_gradient_moves_the_policy_towards_the_listener_and_resumes() {
    let dir = temp("pg");
    train_checkpoint(&dir, 2_048);
    let listener = SimListener::by_name("sim:stepwise", 1).unwrap();

    let mut session = Session::new(config(&dir), None).unwrap();
    assert!(session.agent().is_none());
    let before_weights = session.policy().unwrap().parameters();
    let before = policy_utility(&mut session, &listener);
    sim::run(&mut session, &listener, 25, 0).unwrap();
    let after = policy_utility(&mut session, &listener);
    let weights = session.policy().unwrap().parameters();
    let changed = weights
        .iter()
        .zip(&before_weights)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed > weights.len() / 10,
        "only {changed} weights changed"
    );
    eprintln!("policy utility {before:.3} -> {after:.3}");
    assert!(
        after > before + 0.3,
        "policy utility {before:.3} -> {after:.3}"
    );

    // The adapted policy saves as a checkpoint of its kind, with the adapted weights.
    let saved = dir.join("adapted");
    std::fs::create_dir_all(&saved).unwrap();
    session.adapter().save(&saved).unwrap();
    let reloaded = PolicyAdapter::load(&saved, DeviceChoice::Cpu, AdaptConfig::default()).unwrap();
    assert_eq!(reloaded.kind(), "ppo");
    assert_eq!(reloaded.parameters(), weights);

    // Killed after 3 rounds and resumed: the replayed updates give the same weights (checked
    // against the logged checksums on resume) and the same session from there on.
    let mut whole = Session::new(config(&dir), None).unwrap();
    let expected = sim::run(&mut whole, &listener, 6, 0).unwrap().ratings;
    let log = dir.join("log.jsonl");
    let mut first = Session::new(config(&dir), Some(&log)).unwrap();
    sim::run(&mut first, &listener, 3, 0).unwrap();
    let at_kill = first.agent_checksum().unwrap();
    drop(first);
    let (mut resumed, _) = Session::resume(&log).unwrap();
    assert_eq!(resumed.agent_checksum().unwrap(), at_kill);
    let report = sim::run(&mut resumed, &listener, 6, 0).unwrap();
    assert_eq!(report.ratings, expected);
    assert_eq!(
        resumed.policy().unwrap().parameters(),
        whole.policy().unwrap().parameters()
    );

    // A policy agent adapts by policy gradient only.
    let mut bad = config(&dir);
    bad.adaptation = Adaptation::QLearning;
    let err = Session::new(bad, None).unwrap_err().to_string();
    assert!(err.contains("policy-gradient"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
