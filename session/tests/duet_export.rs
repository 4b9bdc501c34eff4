//! `session export --duet`: a session's duet exchanges, rebuilt from its log, as one MIDI
//! file: each call followed by its answer over the backing chords it was played over, in the
//! duet task duet mode built from the session's key, range, meter and tempo.

use cadenza_env::midi::{import_file, ImportOptions};
use cadenza_env::Note;
use cadenza_session::duet::{duet_task, CallNote};
use cadenza_session::log::{self, Record};
use cadenza_session::replay::{export_duet, DuetExport};
use cadenza_session::web::handle;
use cadenza_session::{Session, SessionConfig};
use std::path::Path;

fn config() -> SessionConfig {
    SessionConfig {
        pretrain_steps: 3_000,
        calibration_phrases: 8,
        candidates: 4,
        seed: 9,
        ..SessionConfig::default()
    }
}

/// A fresh directory of this test process.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn notes(list: &[(u8, u32, u32)]) -> Vec<CallNote> {
    list.iter()
        .map(|&(pitch, start, duration)| CallNote {
            pitch,
            start,
            duration,
        })
        .collect()
}

fn post(session: &mut Session, path: &str, body: &str) {
    let reply = handle(session, "POST", path, body.as_bytes());
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
}

/// The `duet_call` records of a log: (call, answer).
fn logged_exchanges(path: &Path) -> Vec<(Vec<u32>, Vec<u32>)> {
    log::read(path)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|(_, r)| match r {
            Record::DuetCall { call, answer, .. } => Some((
                call.iter().map(|&e| e as u32).collect(),
                answer.iter().map(|&e| e as u32).collect(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn the_duet_of_a_session_exports_as_one_midi_file_with_its_backing() {
    let dir = temp_dir("duet-export");
    let path = dir.join("session.jsonl");
    let mut session = Session::new(config(), Some(&path)).unwrap();
    let calls = [
        vec![(64, 0, 4), (67, 4, 2), (72, 8, 8), (71, 20, 4)],
        vec![(60, 0, 2), (62, 2, 2), (64, 4, 2), (65, 6, 10), (67, 28, 4)],
    ];
    let (exchange, call, _) = session.duet_call(&notes(&calls[0])).unwrap();
    assert_eq!((exchange, call.len()), (0, 32));
    session.duet_rate(0, 4).unwrap();
    session.duet_call(&notes(&calls[1])).unwrap();
    // A change of key between exchanges: the next call is in G major.
    post(&mut session, "/api/settings", r#"{"key":"G major"}"#);
    let g_call = vec![(67, 0, 4), (71, 4, 4), (74, 8, 8), (66, 16, 16)];
    session.duet_call(&notes(&g_call)).unwrap();
    let first_task = session.config().task.clone();
    drop(session);

    let out = dir.join("duet.mid");
    let written = export_duet(&path, &out, None).unwrap();
    assert_eq!(
        written,
        DuetExport {
            exchanges: 3,
            steps: 3 * 64
        }
    );
    let song = import_file(&out, &ImportOptions::default()).unwrap();
    assert_eq!(song.length_steps(), 3 * 64);
    assert_eq!(song.time_signature, Some((4, 4)));
    assert!(
        (song.tempo_qpm - first_task.tempo).abs() < 1e-3,
        "{}",
        song.tempo_qpm
    );
    assert!(
        song.title
            .as_deref()
            .unwrap()
            .contains("you / cadenza / you / cadenza"),
        "{:?}",
        song.title
    );

    // The calls' notes where they were played, each answer's after its call, one exchange
    // after another.
    let logged = logged_exchanges(&path);
    assert_eq!(logged.len(), 3);
    let c_major = duet_task(&SessionConfig::default().task).unwrap();
    let mut expected = Vec::new();
    let played = [&calls[0], &calls[1], &g_call];
    for (k, (call, (_, answer))) in played.iter().zip(&logged).enumerate() {
        let offset = 64 * k as u32;
        expected.extend(call.iter().map(|&(pitch, start, duration)| Note {
            pitch,
            start: start + offset,
            duration,
        }));
        let answer: Vec<_> = answer.iter().map(|&e| e as cadenza_env::Event).collect();
        let answer = c_major.setting.encoding.to_notes(&answer).unwrap();
        assert!(!answer.is_empty(), "exchange {k} has an answer with notes");
        expected.extend(answer.into_iter().map(|n| Note {
            start: n.start + offset + 32,
            ..n
        }));
    }
    assert_eq!(song.notes, expected);

    // The chords under each bar: | C | G7 | under a call, | C | G7 C | under its answer,
    // then the same in G major.
    let harmony: Vec<(u32, String)> = song
        .harmony
        .iter()
        .map(|(step, chord)| (*step, chord.symbol()))
        .collect();
    let mut bars = Vec::new();
    for (k, (tonic, dominant)) in [("C", "G7"), ("C", "G7"), ("G", "D7")].iter().enumerate() {
        let o = 64 * k as u32;
        for (step, symbol) in [
            (0, tonic),
            (16, dominant),
            (32, tonic),
            (48, dominant),
            (56, tonic),
        ] {
            bars.push((o + step, symbol.to_string()));
        }
    }
    assert_eq!(harmony, bars);

    // The same log exports the same file.
    let again = dir.join("again.mid");
    export_duet(&path, &again, None).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_without_duet_records_or_with_a_bad_one_is_a_clear_error() {
    let dir = temp_dir("duet-export-plain");
    let path = dir.join("plain.jsonl");
    let session = Session::new(config(), Some(&path)).unwrap();
    drop(session);
    let out = dir.join("duet.mid");
    let err = export_duet(&path, &out, None).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("no duet_call records"), "{err}");
    assert!(!out.exists(), "nothing written");

    // A duet_call whose call is not two bars long names its line and field.
    let mut text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().count() + 1;
    text.push_str("{\"type\":\"duet_call\",\"exchange\":0,\"call\":[14,1],\"answer\":[]}\n");
    std::fs::write(&path, text).unwrap();
    let err = export_duet(&path, &out, None).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "line {line}: duet exchange 0: call: 2 events, expected 32"
        )),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}
