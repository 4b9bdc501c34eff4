//! A damaged session log costs the rounds it damages and no more: replay and resume keep
//! every other round and say what they skipped; a full disk loses no acknowledged rating;
//! an export holds each answered round once.

use cadenza_session::log::{self, LogStorage, SessionLog};
use cadenza_session::replay;
use cadenza_session::sim::{self, SimListener};
use cadenza_session::{Feedback, Session, SessionConfig};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    let dir = std::env::temp_dir().join(format!("cadenza-recovery-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("log.jsonl")
}

/// A 40-round session log with a simulated listener.
fn forty_rounds(path: &Path) {
    let listener = SimListener::by_name("sim:stepwise", 1).unwrap();
    let mut session = Session::new(config(1), Some(path)).unwrap();
    sim::run(&mut session, &listener, 40, 0).unwrap();
}

/// Rewrites line by line; `edit` gets each line and returns its replacement.
fn edit_lines(path: &Path, mut edit: impl FnMut(&str) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let out: String = text.lines().map(|l| edit(l) + "\n").collect();
    std::fs::write(path, out).unwrap();
}

fn is_feedback_of(line: &str, round: u64) -> bool {
    line.contains("\"type\":\"feedback\"") && line.contains(&format!("\"round\":{round},"))
}

/// The same log as an older version wrote it: records without sequence numbers and sums.
fn strip_checks(path: &Path) {
    edit_lines(path, |line| {
        let start = line.find("\"type\"").unwrap();
        format!("{{{}", &line[start..])
    });
}

#[test]
fn a_corrupt_feedback_line_costs_its_round_only() {
    for old in [false, true] {
        let path = temp(if old { "corrupt-old" } else { "corrupt" });
        forty_rounds(&path);
        if old {
            strip_checks(&path);
        }
        edit_lines(&path, |line| {
            if is_feedback_of(line, 4) {
                line.replace("\"round\":4", "\"round\":\"x\"")
            } else {
                line.to_string()
            }
        });

        let replay = replay::replay_model(&path).unwrap();
        assert_eq!(replay.rounds, 39, "old format: {old}");
        assert_eq!(replay.ratings.len(), 39);
        assert!(replay.ratings.iter().all(|&(round, _)| round != 4));
        assert_eq!(replay.report.corrupt.len(), 1, "{:?}", replay.report);
        let skipped: Vec<u64> = replay.report.skipped.iter().map(|s| s.round).collect();
        assert_eq!(skipped, [4], "{:?}", replay.report.skipped);
        assert_eq!(replay.report.unchecked > 0, old);

        // Resume continues after the last answered round, not at the damage.
        let (session, report) = Session::resume(&path).unwrap();
        assert_eq!(session.rounds_done(), 40, "old format: {old}");
        assert_eq!(session.ratings().len(), 39);
        assert_eq!(report.skipped.len(), 1);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}

#[test]
fn a_misspelt_rating_is_reported_not_silently_lost() {
    let path = temp("misspelt");
    forty_rounds(&path);
    // In an old log (no checksums), only the record's own strictness can tell.
    strip_checks(&path);
    edit_lines(&path, |line| {
        if is_feedback_of(line, 7) {
            line.replace("\"rating\":", "\"ratng\":")
        } else {
            line.to_string()
        }
    });
    let replay = replay::replay_model(&path).unwrap();
    assert_eq!(replay.report.corrupt.len(), 1, "{:?}", replay.report);
    assert!(replay.report.corrupt[0].message.contains("ratng"));
    assert_eq!(replay.report.skipped[0].round, 7);
    assert_eq!(replay.rounds, 39);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn swapped_lines_are_reported_and_read_in_order() {
    let path = temp("swapped");
    forty_rounds(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let feedback = lines.iter().position(|l| is_feedback_of(l, 10)).unwrap();
    // Round 10's feedback and model records after round 11's phrase.
    lines.swap(feedback, feedback + 2);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let replay = replay::replay_model(&path).unwrap();
    assert_eq!(replay.rounds, 40);
    assert!(replay.report.skipped.is_empty(), "{:?}", replay.report);
    assert!(!replay.report.notices.is_empty());
    assert!(replay.report.notices[0].message.contains("sequence order"));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A storage with `room` bytes left, then failing like a full disk (ENOSPC); a cut frees
/// space again.
#[derive(Debug, Clone, Default)]
struct Disk {
    bytes: Arc<Mutex<Vec<u8>>>,
    room: Arc<Mutex<Option<usize>>>,
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut room = self.room.lock().unwrap();
        let n = room.map_or(buf.len(), |r| r.min(buf.len()));
        if n == 0 {
            return Err(io::Error::from_raw_os_error(28));
        }
        if let Some(r) = room.as_mut() {
            *r -= n;
        }
        self.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogStorage for Disk {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut bytes = self.bytes.lock().unwrap();
        let freed = bytes.len() - len as usize;
        bytes.truncate(len as usize);
        if let Some(r) = self.room.lock().unwrap().as_mut() {
            *r += freed;
        }
        Ok(())
    }
}

#[test]
fn a_full_disk_loses_no_acknowledged_rating() {
    let disk = Disk::default();
    let log = SessionLog::with_storage(Box::new(disk.clone()), "disk.jsonl", 0, 0);
    let mut session = Session::with_log(config(2), Some(log)).unwrap();
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for round in 0..12u64 {
        session.propose().unwrap();
        let rating = (round % 5) as u8 + 1;
        let feedback = Feedback {
            rating: Some(rating),
            preference: None,
        };
        if round == 5 {
            // The disk fills up half way through the feedback record.
            *disk.room.lock().unwrap() = Some(30);
            assert!(session.feedback(feedback).is_err());
            refused += 1;
            // Not acknowledged, so not applied: the round still waits for its feedback.
            assert_eq!(session.rounds_done(), 5);
            assert_eq!(session.ratings().len(), 5);
            *disk.room.lock().unwrap() = None;
        }
        session.feedback(feedback).unwrap();
        acknowledged.push((round, rating));
    }
    assert_eq!(refused, 1);
    assert_eq!(session.ratings(), acknowledged.as_slice());
    let contents = log::parse(&disk.bytes.lock().unwrap());
    assert!(contents.corrupt.is_empty(), "{:?}", contents.corrupt);
    let logged: Vec<(u64, u8)> = contents
        .answered_rounds()
        .iter()
        .map(|(r, f)| (r.round, f.rating.unwrap()))
        .collect();
    assert_eq!(logged, acknowledged);
}

#[test]
fn export_writes_each_answered_round_once() {
    let path = temp("export");
    let listener = SimListener::by_name("sim:bluesy", 3).unwrap();
    let mut session = Session::new(config(3), Some(&path)).unwrap();
    // Changes of key while a phrase waits (it is proposed again over the new key), and a
    // resume (the waiting phrase is proposed again) make 40 rounds with phrases proposed
    // twice.
    for (rounds, key) in [(10, "F major"), (20, "G major"), (30, "D major")] {
        sim::run(&mut session, &listener, rounds, 0).unwrap();
        let mut task = session.config().task.clone();
        task.key = key.into();
        session.retask(task).unwrap();
    }
    drop(session);
    let (mut session, _) = Session::resume(&path).unwrap();
    sim::run(&mut session, &listener, 40, 0).unwrap();
    drop(session);

    let replay = replay::replay_model(&path).unwrap();
    assert_eq!(replay.rounds, 40);
    let mid = path.with_extension("mid");
    assert_eq!(replay::export_midi(&path, &mid).unwrap(), 40);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A log written before the note profile calibrated the 20 named features: its model is
/// rebuilt over those, and the session resumes and plays on; a calibration of any other size
/// is refused with a message that names the calibration.
#[test]
fn logs_from_before_the_note_profile_replay_and_resume() {
    use cadenza_reward::listener::{NAMED_FEATURE_COUNT, NUM_FEATURES};
    use cadenza_session::log::Record;
    let path = temp("named-only");
    let listener = SimListener::by_name("sim:bluesy", 2).unwrap();
    let mut session = Session::new(config(2), Some(&path)).unwrap();
    sim::run(&mut session, &listener, 6, 0).unwrap();
    drop(session);

    let old = path.with_file_name("old.jsonl");
    let rewrite = |to: &Path, keep: usize| {
        let _ = std::fs::remove_file(to);
        let mut out = SessionLog::create(to).unwrap();
        for (_, record) in log::read(&path).unwrap().records {
            let record = match record {
                Record::Calibration { mut calibration } => {
                    calibration.center.truncate(keep);
                    calibration.scale.truncate(keep);
                    Record::Calibration { calibration }
                }
                other => other,
            };
            out.append(&record).unwrap();
        }
    };
    rewrite(&old, NAMED_FEATURE_COUNT);
    let replayed = replay::replay_model(&old).unwrap();
    assert_eq!(replayed.model.dim(), NAMED_FEATURE_COUNT);
    assert_eq!(replayed.rounds, 6);
    assert_eq!(
        replay::replay_model(&path).unwrap().model.dim(),
        NUM_FEATURES
    );

    let (mut resumed, _) = Session::resume(&old).unwrap();
    assert_eq!(resumed.model().dim(), NAMED_FEATURE_COUNT);
    assert_eq!(
        resumed.propose().unwrap().played().features.len(),
        NAMED_FEATURE_COUNT
    );
    sim::run(&mut resumed, &listener, 8, 0).unwrap();
    drop(resumed);

    let odd = path.with_file_name("odd.jsonl");
    rewrite(&odd, 7);
    let message = replay::replay_model(&odd).unwrap_err().to_string();
    assert!(
        message.contains("calibration") && message.contains("7 features"),
        "{message}"
    );
}
