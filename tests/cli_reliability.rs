//! End-to-end checks of what the commands refuse and how they say it: sizes past their limits
//! (README, "Limits"), `--out` paths that are links or special files, and messages that name
//! what is wrong once.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn cadenza(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(bytes)
            .expect("stdin takes the input");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = cadenza(args, stdin);
    assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs and expects a clean failure: non-zero, a message, no panic or abort; returns stderr.
fn fails(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = cadenza(args, stdin);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        err.starts_with("error: "),
        "{args:?} gave no message: {err}"
    );
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A variable-length quantity of the MIDI format.
fn vlq(mut value: u32) -> Vec<u8> {
    let mut bytes = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        bytes.insert(0, 0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    bytes
}

/// A format-0 file at 480 ticks per quarter of `notes` notes, one after another, each lasting
/// `ticks` ticks.
fn long_notes(notes: u8, ticks: u32) -> Vec<u8> {
    let mut track = Vec::new();
    for i in 0..notes {
        track.extend([0x00, 0x90, 60 + i % 12, 100]);
        track.extend(vlq(ticks));
        track.extend([0x80, 60 + i % 12, 0]);
    }
    track.extend([0x00, 0xFF, 0x2F, 0x00]);
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk".to_vec();
    bytes.extend((track.len() as u32).to_be_bytes());
    bytes.extend(track);
    bytes
}

#[test]
fn a_tiny_midi_file_of_endless_notes_is_refused_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    // 29 notes of 2^28 - 1 ticks: 64 million sixteenth steps from 300-odd bytes.
    let bytes = long_notes(29, 0x0fff_ffff);
    assert!(bytes.len() < 400, "{} bytes", bytes.len());
    let mid = dir.path().join("endless.mid");
    std::fs::write(&mid, &bytes).unwrap();
    let limit = cadenza_env::limits::MAX_MELODY_STEPS.to_string();
    for args in [
        vec!["inspect", s(&mid)],
        vec!["eval", "--in", s(&mid)],
        vec!["score", "--reward", "rl-tuner", "--in", s(&mid)],
    ] {
        let err = fails(&args, None);
        assert!(err.contains("endless.mid"), "{args:?}: {err}");
        assert!(err.contains("note 0 of track 0"), "{args:?}: {err}");
        assert!(err.contains(&limit), "{args:?}: {err}");
        assert!(err.contains("Limits"), "{args:?}: {err}");
    }
    // The same file with notes a thousand times shorter is read.
    std::fs::write(&mid, long_notes(29, 0x0fff_ffff / 1000)).unwrap();
    ok(&["inspect", s(&mid), "--json"], None);
}

#[test]
fn melodies_past_the_step_limit_and_events_past_u32_are_named_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("x.mid");
    let too_long = format!(
        "[[{}]]",
        vec!["1"; cadenza_env::limits::MAX_MELODY_STEPS + 1].join(",")
    );
    let err = fails(
        &["score", "--reward", "rl-tuner", "--in", "-"],
        Some(too_long.as_bytes()),
    );
    assert!(
        err.contains("melody 0") && err.contains("at most 1000000 steps"),
        "{err}"
    );
    // 2^32 is reported as 4294967296, not as what a conversion made of it.
    let err = fails(
        &["score", "--reward", "rl-tuner", "--in", "-"],
        Some(b"[[14, 4294967296]]"),
    );
    assert!(err.contains("event 4294967296"), "{err}");
    assert!(err.contains("position 1"), "{err}");
    assert!(!err.contains("4294967295"), "{err}");
    let err = fails(
        &["render", "--events", "14 1 4294967296", "--out", s(&mid)],
        None,
    );
    assert!(err.contains("event 4294967296"), "{err}");
    let err = fails(
        &[
            "render",
            "--events",
            "14 99999999999999999999999",
            "--out",
            s(&mid),
        ],
        None,
    );
    assert!(err.contains("event 99999999999999999999999"), "{err}");
}

#[test]
fn score_streams_the_same_json_to_stdout_and_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = br#"{"encoding": "rl-tuner-38", "melodies": [[14, 1, 16, 1], [0, 18, 1, 19]]}"#;
    let printed = ok(&["score", "--reward", "rl-tuner", "--in", "-"], Some(input));
    let out = dir.path().join("scores.json");
    ok(
        &[
            "score",
            "--reward",
            "rl-tuner",
            "--in",
            "-",
            "--out",
            s(&out),
        ],
        Some(input),
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(printed, written);
    assert!(printed.ends_with("]}\n"), "{printed}");
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let melodies = v["melodies"].as_array().unwrap();
    assert_eq!(melodies.len(), 2);
    for m in melodies {
        let steps = m["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4);
        let total: f64 = steps.iter().map(|s| s["reward"].as_f64().unwrap()).sum();
        assert!((total - m["total"].as_f64().unwrap()).abs() < 1e-9, "{m}");
        assert!(steps[0]["terms"].as_object().unwrap().len() > 1, "{m}");
    }
    assert_eq!(melodies[1]["source"], "melodies[1]");
}

#[cfg(unix)]
#[test]
fn out_writes_through_links_and_refuses_special_files() {
    use std::os::unix::fs::{symlink, FileTypeExt};
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.mid");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.mid");
    symlink(&real, &link).unwrap();
    ok(
        &["render", "--events", "14 1 16 1", "--out", s(&link)],
        None,
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read(&real).unwrap().starts_with(b"MThd"));
    // score's JSON goes through the link too.
    let json_real = dir.path().join("scores.json");
    let json_link = dir.path().join("scores-link.json");
    symlink(&json_real, &json_link).unwrap();
    ok(
        &[
            "score",
            "--reward",
            "rl-tuner",
            "--in",
            "-",
            "--out",
            s(&json_link),
        ],
        Some(b"[[14, 1]]"),
    );
    assert!(std::fs::symlink_metadata(&json_link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&json_real)
        .unwrap()
        .starts_with("{\"melodies\""));

    // A device (directly, or through a link) and a directory are refused, and left alone.
    let null = Path::new("/dev/null");
    if std::fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
        let via = dir.path().join("null.mid");
        symlink(null, &via).unwrap();
        for out in [null, via.as_path()] {
            let err = fails(&["render", "--events", "14 1", "--out", s(out)], None);
            assert!(err.contains("/dev/null"), "{err}");
            assert!(err.contains("not a regular file"), "{err}");
            assert!(std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device());
        }
    }
    let sub = dir.path().join("sub.mid");
    std::fs::create_dir(&sub).unwrap();
    let err = fails(&["render", "--events", "14 1", "--out", s(&sub)], None);
    assert!(err.contains("a directory"), "{err}");
    assert!(sub.is_dir());
}

/// Trains a tiny tabular agent on `task` into `out`.
fn tiny_run(out: &Path, task: &str) {
    ok(
        &[
            "train",
            "--agent",
            "q",
            "--task",
            task,
            "--steps",
            "500",
            "--eval-every",
            "500",
            "--eval-episodes",
            "2",
            "--samples",
            "1",
            "--out",
            s(out),
        ],
        None,
    );
}

#[test]
fn generate_bounds_count_and_says_when_run_json_names_another_task() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    tiny_run(&run, "rl-tuner");
    let out = dir.path().join("m.json");
    let err = fails(
        &[
            "generate",
            "--from",
            s(&run),
            "--count",
            "1000000000000",
            "--json",
            "--out",
            s(&out),
        ],
        None,
    );
    assert!(err.contains("--count") && err.contains("1000000"), "{err}");
    assert!(!out.exists());

    // run.json edited to name another task: one message that says the task differs.
    let file = run.join("run.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replace("\"task\": \"rl-tuner\"", "\"task\": \"improv\"");
    assert_ne!(text, edited, "run.json names its task as expected");
    std::fs::write(&file, edited).unwrap();
    let err = fails(
        &["generate", "--from", s(&run), "--json", "--out", s(&out)],
        None,
    );
    assert!(
        err.contains("'rl-tuner'") && err.contains("'improv'"),
        "{err}"
    );
    assert!(err.contains("task"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("trained on").count(), 1, "{err}");
    assert!(!err.contains("outside the action space"), "{err}");
    // Resuming the edited run says the same, before training anything.
    let err = fails(
        &[
            "train",
            "--resume",
            s(&run),
            "--steps",
            "1000",
            "--out",
            s(&run),
        ],
        None,
    );
    assert!(
        err.contains("'rl-tuner'") && err.contains("'improv'") && err.contains("run.json"),
        "{err}"
    );
    assert!(!err.contains("outside the action space"), "{err}");
}
