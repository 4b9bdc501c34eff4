//! End-to-end runs of `cadenza rewards bench` on a slice of the corpus.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The development corpus: `$CADENZA_CORPUS`, else the repository's own copy.
fn corpus() -> PathBuf {
    std::env::var_os("CADENZA_CORPUS").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/corpus/oneills-dev"
            ))
        },
        PathBuf::from,
    )
}

/// A directory with the first `n` corpus files (sorted by name).
fn slice(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the corpus directory exists (set CADENZA_CORPUS)")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    for f in files.iter().take(n) {
        std::fs::copy(f, dir.path().join(f.file_name().expect("a file name"))).expect("copied");
    }
    dir
}

fn cadenza(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn bench_reports_every_term_as_json_and_markdown() {
    let dir = slice(20);
    let out_dir = tempfile::tempdir().expect("a temp dir");
    let out = cadenza(&[
        "rewards",
        "bench",
        "--corpus",
        path(dir.path()),
        "--json",
        "--out",
        path(out_dir.path()),
        "--resamples",
        "30",
        "--timing-runs",
        "1",
        "--reward",
        "rl-tuner",
        "--reward",
        "improv",
        "--reward",
        "in-scale",
        "--reward",
        "no_such_term",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no_such_term"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["melodies"], 20);
    let terms = json["terms"].as_array().expect("a terms list");
    assert_eq!(terms.len(), 9 + 1 + 12 + 1 + 1);
    for t in terms {
        assert!(t["name"].is_string());
        assert!(t["ns_per_step"].as_f64().expect("ns_per_step") > 0.0);
        assert!(t["auc"].is_object() && t["auc_ci"].is_object());
        assert!(t["meant_to_detect"].is_array());
    }
    let key = terms
        .iter()
        .find(|t| t["name"] == "key")
        .expect("the key term");
    for c in ["tritone", "semitone"] {
        assert!(key["auc"][c].as_f64().expect("an AUC") > 0.5, "{c}: {key}");
    }
    assert!(key["meant_to_detect"]
        .as_array()
        .expect("a list")
        .iter()
        .any(|c| c == "tritone"));
    let corr = &json["correlation"];
    assert_eq!(corr["method"], "spearman");
    assert_eq!(
        corr["matrix"].as_array().expect("a matrix").len(),
        terms.len()
    );
    assert_eq!(json["skipped_rewards"][0]["item"], "no_such_term");
    for file in ["report.md", "report.json", "auc.svg", "correlation.svg"] {
        assert!(out_dir.path().join(file).is_file(), "{file}");
    }
    let md = std::fs::read_to_string(out_dir.path().join("report.md")).expect("report.md");
    assert!(
        md.contains("meant to detect") && md.contains("`key`"),
        "{md}"
    );
}

#[test]
fn bench_trains_outcome_agents() {
    let dir = slice(3);
    let out = cadenza(&[
        "rewards",
        "bench",
        "--corpus",
        path(dir.path()),
        "--json",
        "--resamples",
        "0",
        "--timing-runs",
        "1",
        "--reward",
        "in-scale",
        "--reward",
        "zero",
        "--train",
        "2000",
        "--eval-episodes",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let outcome = json["outcome"].as_array().expect("an outcome list");
    assert_eq!(outcome.len(), 2);
    assert!(outcome[0]["metrics"]["percent_notes_not_in_key"].is_number());
}

#[test]
fn bench_fails_only_when_nothing_usable_remains() {
    let empty = tempfile::tempdir().expect("a temp dir");
    let out = cadenza(&["rewards", "bench", "--corpus", path(empty.path())]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no usable melodies"));

    let missing = empty.path().join("missing");
    let out = cadenza(&["rewards", "bench", "--corpus", path(&missing)]);
    assert!(!out.status.success());

    let dir = slice(2);
    std::fs::write(dir.path().join("broken.mid"), b"not midi").expect("written");
    let out = cadenza(&[
        "rewards",
        "bench",
        "--corpus",
        path(dir.path()),
        "--reward",
        "nope",
    ]);
    assert!(!out.status.success(), "no usable reward");
    let out = cadenza(&[
        "rewards",
        "bench",
        "--corpus",
        path(dir.path()),
        "--reward",
        "key",
        "--resamples",
        "0",
        "--timing-runs",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("broken.mid"), "{stderr}");
}

#[test]
fn score_refuses_weights_that_overflow() {
    let tmp = tempfile::tempdir().unwrap();
    let melodies = tmp.path().join("m.json");
    let events: Vec<u32> = (0..32).map(|i| 14 + (i % 8)).collect();
    std::fs::write(
        &melodies,
        serde_json::json!({"encoding": "rl-tuner-38", "melodies": [events]}).to_string(),
    )
    .unwrap();
    let reward = tmp.path().join("huge.toml");
    std::fs::write(
        &reward,
        "[rl_tuner]\nweight = 1e308\n\n[in_scale]\nweight = 1e308\n",
    )
    .unwrap();
    let out = cadenza(&["score", "--reward", path(&reward), "--in", path(&melodies)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("[rl_tuner] weight = "), "{err}");
    assert!(err.contains("[-1e6, 1e6]"), "{err}");
    // The largest weights allowed still score to finite numbers.
    std::fs::write(
        &reward,
        "[rl_tuner]\nweight = 1e6\n\n[in_scale]\nweight = -1e6\n",
    )
    .unwrap();
    let out = cadenza(&["score", "--reward", path(&reward), "--in", path(&melodies)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["melodies"][0]["total"].is_f64());
    assert!(v["melodies"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["reward"].is_f64()));
}
