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
        "--exploit-steps",
        "0",
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
        "--exploit-steps",
        "0",
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
        "--exploit-steps",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("broken.mid"), "{stderr}");
}

/// `terms[].exploit` of a report, the timings taken out.
fn exploit_rows(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["terms"]
        .as_array()
        .expect("a terms list")
        .iter()
        .flat_map(|t| t["exploit"].as_array().expect("an exploit list").clone())
        .map(|mut row| {
            row.as_object_mut().expect("a row").remove("seconds");
            row
        })
        .collect()
}

#[test]
fn bench_audits_what_maximising_each_term_writes() {
    let dir = slice(3);
    let out_dir = tempfile::tempdir().expect("a temp dir");
    let run = |out: Option<&Path>| {
        let mut args = vec![
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
            "improv",
            "--reward",
            "key",
            "--reward",
            "zero",
            "--exploit-steps",
            "3000",
            "--seed",
            "3",
        ];
        if let Some(out) = out {
            args.extend(["--out", path(out)]);
        }
        let out = cadenza(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let json = run(Some(out_dir.path()));
    assert_eq!(json["exploit"]["steps"], 3000);
    assert_eq!(json["exploit"]["agents"], serde_json::json!(["q"]));
    assert_eq!(json["exploit"]["melodies"], 100);
    let terms = json["terms"].as_array().expect("a terms list");
    assert_eq!(terms.len(), 1 + 12 + 1 + 1);
    for t in terms {
        let rows = t["exploit"].as_array().expect("an exploit list");
        assert_eq!(rows.len(), 1, "{t}");
        let row = &rows[0];
        assert_eq!(row["agent"], "q");
        assert!(row["steps"].as_u64().expect("steps") >= 3000);
        assert_eq!(row["musicianship"]["melodies"], 100);
        for group in ["harmony", "line", "rhythm", "variety"] {
            let score = row["musicianship"]["mean"][group]
                .as_f64()
                .expect("a score");
            assert!((0.0..=1.0).contains(&score), "{group}: {row}");
        }
        assert!(row["flags"].is_array() && row["degeneracy"]["looped"].is_number());
        assert!(row["return_mean"].is_number() && row["untrained_return"].is_number());
        let verdict = row["verdict"].as_str().expect("a verdict");
        assert_eq!(row["music"] == true, verdict == "music", "{row}");
        let task = if ["key", "zero"].contains(&t["name"].as_str().expect("a name")) {
            "rl-tuner"
        } else {
            "improv"
        };
        assert_eq!(row["task"], task, "{}", t["name"]);
        let expected = if t["name"] == "improv" {
            "music"
        } else {
            "not_music"
        };
        assert_eq!(row["expected"], expected, "{}", t["name"]);
    }
    // Nothing to gain from the zero reward: its row is not optimised.
    let zero = terms.iter().find(|t| t["name"] == "zero").expect("zero");
    assert_eq!(zero["exploit"][0]["optimised"], false);
    // 3000 steps are far too few for music: the improv preset fails its expectation.
    let failures = json["exploit_failures"].as_array().expect("a failure list");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["term"], "improv");
    for file in ["report.md", "report.json", "exploit.svg"] {
        assert!(out_dir.path().join(file).is_file(), "{file}");
    }
    let md = std::fs::read_to_string(out_dir.path().join("report.md")).expect("report.md");
    assert!(
        md.contains("## Exploitation") && md.contains("maximised gives") && md.contains("(FAIL)"),
        "{md}"
    );
    // Deterministic under the seed, whatever the threads did.
    assert_eq!(exploit_rows(&json), exploit_rows(&run(None)));
}

#[test]
fn bench_refuses_agents_that_cannot_maximise_a_term() {
    let dir = slice(2);
    let mut cases = vec![
        ("bc", "example melodies"),
        ("dqn", "unknown agent 'dqn'"),
        (",", "at least one agent kind"),
    ];
    if !cfg!(feature = "tch") {
        cases.push(("q,ppo", "--features tch"));
    }
    for (agents, message) in cases {
        let out = cadenza(&[
            "rewards",
            "bench",
            "--corpus",
            path(dir.path()),
            "--reward",
            "key",
            "--exploit-agents",
            agents,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{agents}");
        assert!(stderr.contains(message), "{agents}: {stderr}");
    }
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
