//! End-to-end runs of `cadenza eval`'s musicianship report: a slice of the corpus plays as
//! music, a trill does not.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

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

/// A directory with every 5th corpus file (sorted by name), the first `n` of them.
fn held_out_slice(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the corpus directory exists (set CADENZA_CORPUS)")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    for f in files.iter().step_by(5).take(n) {
        std::fs::copy(f, dir.path().join(f.file_name().expect("a file name"))).expect("copied");
    }
    dir
}

fn eval_json(input: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["eval", "--json", "--in", input])
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn eval_reports_musicianship_corpus_passes_and_a_trill_fails() {
    let dir = held_out_slice(20);
    let corpus = eval_json(dir.path().to_str().expect("a UTF-8 path"));
    let m = &corpus["musicianship"];
    assert_eq!(m["melodies"], 20);
    assert_eq!(m["failures"], serde_json::json!([]), "{m}");

    // C5 B4 C5 D5 in sixteenths for two bars (rl-tuner-38: event = MIDI pitch - 46).
    let trill: Vec<u8> = [26u8, 25, 26, 28]
        .iter()
        .cycle()
        .take(32)
        .copied()
        .collect();
    let file = tempfile::NamedTempFile::new().expect("a temp file");
    let text = serde_json::json!({"encoding": "rl-tuner-38", "melodies": [trill]}).to_string();
    std::fs::write(file.path(), text).expect("written");
    let trill = eval_json(file.path().to_str().expect("a UTF-8 path"));
    let m = &trill["musicianship"];
    let rhythm = m["mean"]["rhythm"].as_f64().expect("a rhythm score");
    let variety = m["mean"]["variety"].as_f64().expect("a variety score");
    let floors = cadenza_reward::musicianship::MUSIC;
    assert!(rhythm < floors.rhythm && variety < floors.variety, "{m}");
    assert!(!m["failures"].as_array().expect("failures").is_empty());
}

#[test]
fn eval_with_the_improv_task_measures_over_its_chords() {
    // An arpeggio in eighths in the improv task's encoding (a bare list of lists).
    let file = tempfile::NamedTempFile::new().expect("a temp file");
    std::fs::write(
        file.path(),
        "[[3, 1, 5, 1, 7, 1, 1, 1, 8, 1, 7, 1, 5, 1, 3, 1]]",
    )
    .expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["eval", "--json", "--task", "improv", "--in"])
        .arg(file.path())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(value["rl_tuner"].is_null(), "{value}");
    assert_eq!(value["musicianship"]["melodies"], 1);
    assert!(value["musicianship"]["mean"]["harmony"].is_number());
}
