//! Hangs and leftovers: a FIFO in a melody folder is skipped instead of read forever; a
//! full disk leaves the previous `score --out` and `corpus.json` whole; a failed web bind
//! leaves no log behind to block the next run with the same `--log`.
//!
//! A full disk is simulated with a file-size limit (`ulimit -f`, with SIGXFSZ ignored so
//! that the write fails with EFBIG instead of killing the process), which fails writes the
//! way ENOSPC does. On a machine where that is not enough, a small tmpfs gives the real
//! thing: `mount -t tmpfs -o size=64k tmpfs /mnt/small` and `--out /mnt/small/...`.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cadenza")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-leftovers-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `args`, killing it (and failing) past `limit`.
fn run_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cadenza {} hung for {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Runs the binary with writes limited to `blocks` blocks of 512 bytes (see the module docs).
fn run_on_full_disk(blocks: u32, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A format-0 MIDI file at 4 ticks per quarter: a G major scale up and down, twice.
fn tune(shift: u8) -> Vec<u8> {
    let up = [67u8, 69, 71, 72, 74, 76, 78, 79];
    let mut track = vec![0x00, 0xFF, 0x59, 0x02, 0x01, 0x00];
    for pitch in up
        .iter()
        .chain(up.iter().rev())
        .chain(up.iter())
        .chain(up.iter().rev())
    {
        let pitch = pitch - shift % 3;
        track.extend_from_slice(&[0x00, 0x90, pitch, 100, 0x02, 0x80, pitch, 0]);
    }
    track.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x04MTrk".to_vec();
    bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&track);
    bytes
}

fn folder_of_tunes(dir: &Path, n: u8) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("tune{i}.mid")), tune(i)).unwrap();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_fifo_in_a_melody_folder_is_skipped_not_read() {
    let dir = temp_dir("fifo");
    let input = dir.join("in");
    folder_of_tunes(&input, 3);
    let fifo = input.join("x.mid");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let limit = Duration::from_secs(60);

    let out = run_within(
        &[
            "corpus",
            "import",
            "--in",
            s(&input),
            "--out",
            s(&dir.join("corpus")),
        ],
        limit,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report = std::fs::read_to_string(dir.join("corpus/report.json")).unwrap();
    assert!(report.contains("not a regular file"), "{report}");

    let out = run_within(
        &[
            "corpus",
            "fit",
            "--in",
            s(&input),
            "--out",
            s(&dir.join("model.json")),
        ],
        limit,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    let out = run_within(&["score", "--reward", "rl-tuner", "--in", s(&input)], limit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_disk_leaves_the_previous_outputs_whole() {
    let dir = temp_dir("full");
    let input = dir.join("in");
    folder_of_tunes(&input, 6);

    // score --out: the previous scores stay as they were.
    let scores = dir.join("scores.json");
    std::fs::write(&scores, "{\"previous\": true}\n").unwrap();
    let args = [
        "score",
        "--reward",
        "rl-tuner",
        "--in",
        s(&input),
        "--out",
        s(&scores),
    ];
    let out = run_on_full_disk(1, &args);
    assert!(!out.status.success(), "the scores fit in 512 bytes?");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scores.json"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap(),
        "{\"previous\": true}\n"
    );

    // corpus import: a full disk on a second import leaves the first corpus.json whole.
    let corpus = dir.join("corpus");
    let args = ["corpus", "import", "--in", s(&input), "--out", s(&corpus)];
    let out = run_within(&args, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = std::fs::read(corpus.join("corpus.json")).unwrap();
    assert!(before.len() > 512);
    let out = run_on_full_disk(1, &args);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(corpus.join("corpus.json")).unwrap(), before);

    // No temporary file is left behind either.
    for d in [&dir, &corpus] {
        for entry in std::fs::read_dir(d).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name} left in {}", d.display());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_web_bind_leaves_no_log_behind() {
    let dir = temp_dir("bind");
    let log = dir.join("session.jsonl");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let small = ["--pretrain-steps", "20000", "--candidates", "6"];
    let mut args = vec!["session", "--web", "--port", &port, "--log", s(&log)];
    args.extend(small);
    let out = run_within(&args, Duration::from_secs(120));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot serve"), "{stderr}");
    assert!(!log.exists(), "a log was left behind");

    // The next run with the same --log starts.
    let mut args = vec!["session", "--listener", "sim:stepwise", "--rounds", "2"];
    args.extend(["--held-out", "0", "--log", s(&log)]);
    args.extend(small);
    let out = run_within(&args, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(taken);
    std::fs::remove_dir_all(&dir).unwrap();
}
