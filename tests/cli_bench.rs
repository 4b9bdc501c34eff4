//! End-to-end runs of `cadenza bench env` on sizes it must refuse before starting.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the binary, expects a clean refusal (non-zero, no panic) within a few seconds, and
/// returns its stderr.
fn refuses(args: &[&str]) -> String {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?} to refuse",
        start.elapsed()
    );
    err
}

#[test]
fn more_envs_than_the_action_table_are_refused_by_name() {
    // 65537 sub-envs once left no whole round in the pre-drawn actions: a remainder by zero.
    let err = refuses(&["bench", "env", "--envs", "65537", "--steps", "1000"]);
    assert!(err.contains("--envs") && err.contains("65536"), "{err}");
    let err = refuses(&["bench", "env", "--envs", "1000000000", "--steps", "1000"]);
    assert!(err.contains("--envs") && err.contains("65536"), "{err}");
}

#[test]
fn thousands_of_threads_are_refused_by_name() {
    let err = refuses(&[
        "bench",
        "env",
        "--envs",
        "4",
        "--threads",
        "10000",
        "--steps",
        "1000",
    ]);
    assert!(err.contains("--threads") && err.contains("256"), "{err}");
    let err = refuses(&[
        "bench",
        "env",
        "--envs",
        "4",
        "--threads",
        "257",
        "--compare-threads",
        "--steps",
        "1000",
    ]);
    assert!(err.contains("--threads") && err.contains("256"), "{err}");
}

#[test]
fn the_largest_sizes_allowed_still_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args([
            "bench", "env", "--envs", "65536", "--steps", "65536", "--json",
        ])
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(report["envs"], 65536, "{report}");
    assert_eq!(report["steps"], 65536, "{report}");
}
