//! End-to-end sessions with simulated listeners: determinism, resume, replay, export.

use cadenza_session::log::{self, Record};
use cadenza_session::replay;
use cadenza_session::sim::{self, SimListener};
use cadenza_session::{Feedback, Session, SessionConfig};
use std::path::PathBuf;

fn config(seed: u64) -> SessionConfig {
    SessionConfig {
        seed,
        pretrain_steps: 20_000,
        calibration_phrases: 16,
        candidates: 6,
        ..SessionConfig::default()
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-session-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("log.jsonl")
}

#[test]
fn same_seed_same_session() {
    let listener = SimListener::by_name("sim:syncopated", 3).unwrap();
    let run = || {
        let mut s = Session::new(config(3), None).unwrap();
        sim::run(&mut s, &listener, 6, 10).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.ratings, b.ratings);
    assert_eq!(a.ab_accuracy, b.ab_accuracy);
    let listener = SimListener::by_name("sim:syncopated", 4).unwrap();
    let mut s = Session::new(config(3), None).unwrap();
    let c = sim::run(&mut s, &listener, 6, 10).unwrap();
    assert_eq!(c.ratings.len(), 6);
}

#[test]
fn resumed_session_continues_exactly() {
    let listener = SimListener::by_name("sim:bluesy", 1).unwrap();
    let mut whole = Session::new(config(1), None).unwrap();
    let expected = sim::run(&mut whole, &listener, 6, 0).unwrap().ratings;

    let path = temp("resume");
    let _ = std::fs::remove_file(&path);
    let mut first = Session::new(config(1), Some(&path)).unwrap();
    sim::run(&mut first, &listener, 3, 0).unwrap();
    // The phrase of round 3 was proposed (and logged) but never rated: killed here.
    drop(first);
    // A torn line at the end, as a kill in the middle of a write leaves it.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"type\":\"feedback\",\"rou");
    std::fs::write(&path, &bytes).unwrap();

    let (mut resumed, report) = Session::resume(&path).unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(resumed.rounds_done(), 3);
    let report = sim::run(&mut resumed, &listener, 6, 0).unwrap();
    assert_eq!(report.ratings, expected);
    assert_eq!(resumed.model(), whole.model());

    // The log still reads, the torn line reported by number, the rest intact.
    let contents = log::read(&path).unwrap();
    assert_eq!(contents.corrupt.len(), 1);
    assert_eq!(contents.answered_rounds().len(), 6);

    // Replay rebuilds the same listener model without the agent.
    let replay = replay::replay_model(&path).unwrap();
    assert_eq!(replay.rounds, 6);
    assert_eq!(replay.model.weights(), whole.model().weights());

    // Export writes one MIDI file with the phrase of every answered round (round 3, twice
    // proposed, once) over the backing.
    let mid = path.with_extension("mid");
    assert_eq!(replay::export_midi(&path, &mid).unwrap(), 6);
    let imported = cadenza_env::midi::import_file(
        &mid,
        &cadenza_env::midi::ImportOptions {
            track: Some(cadenza_env::midi::MELODY_TRACK),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!imported.notes.is_empty());
    // The same session as ABC (chord symbols in quotes) reads back to the same notes and
    // carries the backing as its harmony, as the MIDI chord track does.
    let abc = path.with_extension("abc");
    assert_eq!(replay::export_song(&path, &abc, None).unwrap(), 6);
    let tunes = cadenza_env::formats::read_file(&abc, None, &Default::default()).unwrap();
    let from_abc = tunes[0].melody.as_ref().unwrap();
    assert_eq!(from_abc.notes, imported.notes);
    assert_eq!(from_abc.harmony, imported.harmony);
    assert!(!from_abc.harmony.is_empty());
    let xml = path.with_extension("musicxml");
    assert_eq!(replay::export_song(&path, &xml, None).unwrap(), 6);
    assert!(std::fs::read_to_string(&xml).unwrap().contains("<harmony>"));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_log_is_not_overwritten_and_garbage_is_not_a_session() {
    let path = temp("overwrite");
    std::fs::write(&path, "not a log\n").unwrap();
    assert!(Session::new(config(0), Some(&path)).is_err());
    let err = Session::resume(&path).unwrap_err().to_string();
    assert!(err.contains("not a session log"), "{err}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn bad_feedback_changes_nothing() {
    let mut s = Session::new(config(2), None).unwrap();
    assert!(s
        .feedback(Feedback {
            rating: Some(3),
            preference: None
        })
        .is_err());
    s.propose().unwrap();
    let before = s.model().clone();
    assert!(s
        .feedback(Feedback {
            rating: Some(9),
            preference: None
        })
        .is_err());
    assert_eq!(s.model(), &before);
    assert_eq!(s.rounds_done(), 0);
    s.feedback(Feedback {
        rating: Some(4),
        preference: None,
    })
    .unwrap();
    assert_eq!(s.rounds_done(), 1);
    assert!(SessionConfig {
        candidates: 1,
        ..config(0)
    }
    .validate()
    .unwrap_err()
    .to_string()
    .contains("candidates"));
    // Records serialise one per line.
    let line = serde_json::to_string(&Record::Feedback {
        round: 0,
        rating: Some(4),
        preference: None,
    })
    .unwrap();
    assert!(!line.contains('\n'));
}
