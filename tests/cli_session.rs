//! `cadenza session` end to end: the JSON shape, a session killed with SIGKILL and resumed,
//! replay and export.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cadenza() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
}

const SMALL: &[&str] = &[
    "--pretrain-steps",
    "20000",
    "--candidates",
    "6",
    "--held-out",
    "20",
];

#[test]
fn json_has_ratings_improvement_and_accuracy() {
    let out = cadenza()
        .args([
            "session",
            "--listener",
            "sim:stepwise",
            "--rounds",
            "5",
            "--seed",
            "2",
            "--json",
        ])
        .args(SMALL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ratings = v["ratings"].as_array().unwrap();
    assert_eq!(ratings.len(), 5);
    assert!(ratings
        .iter()
        .all(|r| (1..=5).contains(&r.as_u64().unwrap())));
    assert!(v["improvement"].as_f64().is_some());
    let acc = v["ab_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(v["latency_ms_median"].as_f64().is_some());

    let bad = cadenza()
        .args(["session", "--listener", "sim:nobody", "--rounds", "2"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sim:stepwise"));
}

fn answered(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"type\":\"feedback\""))
        .count()
}

#[test]
fn survives_kill_9_and_resumes() {
    let dir = std::env::temp_dir().join(format!("cadenza-cli-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("session.jsonl");
    let _ = std::fs::remove_file(&log);
    let mut child = cadenza()
        .args([
            "session",
            "--listener",
            "sim:stepwise",
            "--rounds",
            "1000",
            "--seed",
            "5",
        ])
        .arg("--log")
        .arg(&log)
        .args(SMALL)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while answered(&log) < 4 {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Command::kill sends SIGKILL on Unix: no chance to flush or clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    let before = answered(&log);
    assert!(before >= 4);

    let out = cadenza()
        .args(["session", "--listener", "sim:stepwise", "--json"])
        .args(["--rounds", &(before + 3).to_string()])
        .arg("--resume")
        .arg(&log)
        .args(SMALL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ratings"].as_array().unwrap().len(), before + 3);
    assert_eq!(v["rounds_run"].as_u64().unwrap(), 3);

    // Every line but at most one torn one parses; rounds run 0, 1, 2, ... without gaps.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut bad = 0;
    let mut rounds = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["type"] == "feedback" => rounds.push(v["round"].as_u64().unwrap()),
            Ok(_) => {}
            Err(_) => bad += 1,
        }
    }
    assert!(bad <= 1, "{bad} corrupt lines");
    assert_eq!(rounds, (0..(before + 3) as u64).collect::<Vec<_>>());

    // Replay rebuilds the model; export writes one MIDI file.
    let model = dir.join("model.json");
    let out = cadenza()
        .args(["session", "replay"])
        .arg(&log)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rounds"].as_u64().unwrap() as usize, before + 3);
    assert!(model.is_file());
    // The saved model works as a reward term.
    let reward = dir.join("reward.toml");
    std::fs::write(
        &reward,
        "[improv]\n\n[listener]\nweight = 0.5\nmodel = \"model.json\"\n",
    )
    .unwrap();
    cadenza_reward::registry::from_toml_file(&reward).unwrap();

    let mid = dir.join("session.mid");
    let out = cadenza()
        .args(["session", "export"])
        .arg(&log)
        .arg("--out")
        .arg(&mid)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&mid).unwrap().len() > 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_duet_writes_the_logged_exchanges_and_names_a_log_without_any() {
    let dir = std::env::temp_dir().join(format!("cadenza-cli-duet-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("session.jsonl");
    let out = cadenza()
        .args(["session", "--listener", "sim:stepwise", "--rounds", "1"])
        .args(SMALL)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mid = dir.join("duet.mid");
    let export = || {
        cadenza()
            .args(["session", "export"])
            .arg(&log)
            .arg("--duet")
            .arg("--out")
            .arg(&mid)
            .output()
            .unwrap()
    };
    let out = export();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&log.display().to_string()) && err.contains("no duet_call records"),
        "{err}"
    );
    assert!(!mid.exists());

    // One exchange: a call of C5 struck on every beat, an answer holding E5.
    let call: Vec<u32> = [14, 1, 1, 1].repeat(8);
    let answer: Vec<u32> = std::iter::once(18).chain([1; 31]).collect();
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(
        &serde_json::json!({"type": "duet_call", "exchange": 0, "call": call, "answer": answer})
            .to_string(),
    );
    text.push('\n');
    std::fs::write(&log, text).unwrap();
    let out = export();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("wrote 1 duet exchange (64 steps)"), "{err}");
    let song = cadenza_env::midi::import_file(&mid, &Default::default()).unwrap();
    let notes: Vec<(u8, u32, u32)> = song
        .notes
        .iter()
        .map(|n| (n.pitch, n.start, n.duration))
        .collect();
    let mut expected: Vec<(u8, u32, u32)> = (0..8).map(|k| (72, 4 * k, 4)).collect();
    expected.push((76, 32, 32));
    assert_eq!(notes, expected);
    assert!(song.title.as_deref().unwrap().contains("you / cadenza"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_log_has_one_writer_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("session.jsonl");
    let sim = ["session", "--listener", "sim:stepwise", "--seed", "3"];
    let out = cadenza()
        .args(sim)
        .args(["--rounds", "2", "--log"])
        .arg(&log)
        .args(SMALL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = cadenza()
        .args(sim)
        .args(["--rounds", "100000", "--resume"])
        .arg(&log)
        .args(SMALL)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while answered(&log) < 4 {
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = cadenza()
        .args(sim)
        .args(["--rounds", "100", "--resume"])
        .arg(&log)
        .args(SMALL)
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let holder = format!("in use by cadenza session (pid {} on ", child.id());
    assert!(err.contains(&holder), "{err}");
    // Only the holder wrote: its rounds follow each other, none twice.
    let text = std::fs::read_to_string(&log).unwrap();
    let rounds: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "feedback")
        .map(|v| v["round"].as_u64().unwrap())
        .collect();
    assert_eq!(rounds, (0..rounds.len() as u64).collect::<Vec<_>>());
}

#[test]
fn held_out_past_its_limit_is_refused_before_pre_training() {
    let out = cadenza()
        .args(["session", "--listener", "sim:stepwise", "--rounds", "1"])
        .args(["--held-out", "1000000000000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("--held-out"), "{err}");
    assert!(
        err.contains(&cadenza_session::sim::MAX_HELD_OUT_PAIRS.to_string()),
        "{err}"
    );
}

/// Runs a terminal session with `args` (and a log and an audio folder of its own), typing
/// `input`; its standard output and the log's records. The session must succeed.
fn terminal(name: &str, args: &[&str], input: &[u8]) -> (String, Vec<serde_json::Value>) {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("cadenza-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("session.jsonl");
    let _ = std::fs::remove_file(&log);
    let mut child = cadenza()
        .arg("session")
        .args(args)
        .arg("--log")
        .arg(&log)
        .arg("--audio-dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    (stdout, records)
}

#[test]
fn a_non_utf8_answer_is_asked_again_and_the_rating_is_kept() {
    // A stray byte where the rating goes, then a rating; a stray byte where the A/B answer
    // goes (if the round asks one), then the end of the input.
    let (stdout, records) = terminal(
        "ask",
        &[
            "--rounds",
            "3",
            "--seed",
            "1",
            "--pretrain-steps",
            "2000",
            "--candidates",
            "4",
        ],
        b"\xff\n4\n\xfe\xff\n",
    );
    assert!(stdout.contains("please answer one of"), "{stdout}");
    assert!(stdout.contains("1 rounds rated."), "{stdout}");
    let ratings: Vec<u64> = records
        .iter()
        .filter(|v| v["type"] == "feedback")
        .filter_map(|v| v["rating"].as_u64())
        .collect();
    assert_eq!(ratings, [4]);
}

/// The terminal duet: typed calls (a bad token is named and asked again), answers drawn and
/// rated, every call, answer and rating in the log.
#[test]
fn a_terminal_duet_takes_typed_calls_and_logs_the_rated_answers() {
    let (stdout, records) = terminal(
        "duet",
        &[
            "--duet",
            "--rounds",
            "2",
            "--seed",
            "3",
            "--pretrain-steps",
            "20000",
            "--candidates",
            "4",
        ],
        b"60 - x\n60 - - - 64 - - - 67 - - - 65 - 64 -\n4\n72 - 71 - 69 - 67 - - - - -\n9\n2\n",
    );
    assert!(stdout.contains("'x'"), "{stdout}");
    assert!(stdout.contains("please answer one of"), "{stdout}");
    assert!(stdout.contains("2 answers rated."), "{stdout}");
    let calls: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["type"] == "duet_call")
        .collect();
    assert_eq!(calls.len(), 2);
    // Two bars of sixteenths each, the typed pitches first (72 is 12 events above 60).
    for call in &calls {
        assert_eq!(call["call"].as_array().unwrap().len(), 32);
        assert_eq!(call["answer"].as_array().unwrap().len(), 32);
    }
    let first = |i: usize| calls[i]["call"][0].as_u64().unwrap();
    assert_eq!(first(1), first(0) + 12);
    let ratings: Vec<u64> = records
        .iter()
        .filter(|r| r["type"] == "duet_rating")
        .filter_map(|r| r["rating"].as_u64())
        .collect();
    assert_eq!(ratings, [4, 2]);
}
