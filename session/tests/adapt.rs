//! Q-learning adaptation of a trained tabular agent: the agent's own table moves, and its
//! phrases move towards the listener's taste; a resumed session replays the same updates.

use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig, CHECKPOINT_FILE};
use cadenza_agents::{Agent, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use cadenza_session::sim::{self, SimListener};
use cadenza_session::{Adaptation, AgentSource, Session, SessionConfig};
use rand::SeedableRng;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-adapt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A Q-learning checkpoint of the default `improv` task, as `cadenza train` writes it.
fn train_checkpoint(dir: &Path, steps: u64) {
    let task = TaskSpec::by_name("improv", None).unwrap();
    let env: TrainEnv = ComposeEnv::new(task.clone(), Box::new(ImprovReward::preset()));
    let mut envs = VecEnv::new(vec![env], 1).unwrap();
    envs.reset(Some(0)).unwrap();
    let mut agent = TabularAgent::new(
        Algorithm::QLearning,
        TabularConfig::default(),
        &task.name,
        task.setting.encoding.num_events(),
        steps,
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    agent.learn(&mut envs, steps, &mut rng).unwrap();
    agent.save(dir).unwrap();
}

fn config(dir: &Path, adaptation: Adaptation) -> SessionConfig {
    SessionConfig {
        seed: 4,
        calibration_phrases: 32,
        candidates: 12,
        adaptation,
        agent: Some(AgentSource::from_dir(dir).unwrap()),
        ..SessionConfig::default()
    }
}

/// Mean hidden utility of fresh phrases sampled from the agent (no reranking): what the
/// policy itself plays.
fn policy_utility(session: &mut Session, listener: &SimListener) -> f64 {
    let phrases = session.held_out(60).unwrap();
    phrases
        .iter()
        .map(|c| listener.utility(session, c))
        .sum::<f64>()
        / phrases.len() as f64
}

#[test]
fn q_updates_move_the_agents_own_table_towards_the_listener() {
    let dir = temp("q");
    train_checkpoint(&dir, 200_000);
    let listener = SimListener::by_name("sim:stepwise", 1).unwrap();

    let mut session = Session::new(config(&dir, Adaptation::QLearning), None).unwrap();
    let table_before = session.agent().unwrap().table().clone();
    let before = policy_utility(&mut session, &listener);
    sim::run(&mut session, &listener, 25, 0).unwrap();
    let after = policy_utility(&mut session, &listener);

    // The agent's own table changed (not a side table).
    let table = session.agent().unwrap().table();
    let changed = (0..table_before.len())
        .filter(|&r| table.row(r) != table_before.row(r))
        .count();
    assert!(changed > 100, "only {changed} rows changed");
    // Its phrases, sampled without the listener model's reranking, moved towards the taste.
    assert!(
        after > before + 0.3,
        "policy utility {before:.3} -> {after:.3}"
    );

    // The adapted table saves as a checkpoint of the agent's kind.
    let saved = dir.join("adapted");
    std::fs::create_dir_all(&saved).unwrap();
    session.adapter().save(&saved).unwrap();
    let reloaded = cadenza_agents::tabular::load(&saved, Some("q")).unwrap();
    assert_eq!(reloaded.table().len(), table.len());
    assert!((0..table.len()).all(|r| reloaded.table().row(r) == table.row(r)));

    // The preference mode leaves the agent's table as trained.
    let mut other = Session::new(config(&dir, Adaptation::Preference), None).unwrap();
    sim::run(&mut other, &listener, 3, 0).unwrap();
    let t = other.agent().unwrap().table();
    assert!((0..table_before.len()).all(|r| t.row(r) == table_before.row(r)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_resumed_q_learning_session_replays_the_updates_and_checks_the_checkpoint() {
    let dir = temp("resume");
    train_checkpoint(&dir, 30_000);
    let listener = SimListener::by_name("sim:bluesy", 2).unwrap();
    let mut whole = Session::new(config(&dir, Adaptation::QLearning), None).unwrap();
    let expected = sim::run(&mut whole, &listener, 6, 0).unwrap().ratings;

    let log = dir.join("log.jsonl");
    let mut first = Session::new(config(&dir, Adaptation::QLearning), Some(&log)).unwrap();
    sim::run(&mut first, &listener, 3, 0).unwrap();
    drop(first);
    let (mut resumed, _) = Session::resume(&log).unwrap();
    let report = sim::run(&mut resumed, &listener, 6, 0).unwrap();
    assert_eq!(report.ratings, expected);
    let (a, b) = (
        resumed.agent().unwrap().table(),
        whole.agent().unwrap().table(),
    );
    assert_eq!(a.len(), b.len());
    assert!((0..a.len()).all(|r| a.row(r) == b.row(r)));
    // The log has one writer at a time: this one ends before the next resume.
    drop(resumed);

    // A checkpoint that changed since is refused, by name.
    let ckpt = dir.join(CHECKPOINT_FILE);
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    let err = Session::resume(&log).unwrap_err().to_string();
    assert!(err.contains("agent") && err.contains("checksum"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_agent_keeps_its_task() {
    let dir = temp("retask");
    train_checkpoint(&dir, 20_000);
    let mut session = Session::new(config(&dir, Adaptation::QLearning), None).unwrap();
    let mut task = session.config().task.clone();
    task.tempo = 90.0;
    session.retask(task.clone()).unwrap();
    assert_eq!(session.task().tempo_qpm, 90.0);
    task.key = "F major".into();
    let err = session.retask(task).unwrap_err().to_string();
    assert!(err.contains("only the tempo"), "{err}");
    assert_eq!(session.task().key_name, "C major");
    std::fs::remove_dir_all(&dir).unwrap();
}
