//! End to end: `cadenza train` then `cadenza generate`, through the built binary.

use std::path::Path;
use std::process::Command;

fn cadenza(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "cadenza {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(dir: &Path, seed: &str) -> String {
    let out = cadenza(&[
        "train",
        "--task",
        "rl-tuner",
        "--agent",
        "q",
        "--steps",
        "40000",
        "--eval-every",
        "20000",
        "--eval-episodes",
        "10",
        "--seed",
        seed,
        "--samples",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn train_then_generate_json_and_midi() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let stdout = train(&run, "3");

    // The run directory.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{metrics}");
    assert_eq!(lines[1]["step"], 40000);
    assert!(lines[1]["return_mean"].is_number());
    assert!(lines[1]["terms"].is_object());
    assert!(run.join("checkpoint").join("tabular.ckpt").is_file());
    assert!(run.join("learning_curve.svg").is_file());
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["agent"], "q");
    assert_eq!(info["task"], "rl-tuner");
    assert_eq!(info["steps_done"], 40000);
    for i in 0..2 {
        let path = run.join("samples").join(format!("sample-{i:03}.mid"));
        cadenza_env::midi::import_file(&path, &Default::default()).unwrap();
    }
    // The summary names the metrics, draws a piano roll and points at a MIDI file.
    assert!(stdout.contains("final return"), "{stdout}");
    assert!(stdout.contains("notes not in key"), "{stdout}");
    assert!(stdout.contains("MIDI: "), "{stdout}");
    // ... and judges the sampled melodies' musicianship, in summary.json too.
    assert!(stdout.contains("Musicianship"), "{stdout}");
    assert!(stdout.contains("verdict"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    for group in ["harmony", "line", "rhythm", "variety"] {
        let score = summary["musicianship"]["mean"][group].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{group} = {score}");
    }

    // generate --json.
    let json = tmp.path().join("melodies.json");
    let (from, json_s) = (run.to_str().unwrap(), json.to_str().unwrap());
    cadenza(&[
        "generate", "--from", from, "--count", "5", "--seed", "1", "--out", json_s, "--json",
    ]);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["encoding"], "rl-tuner-38");
    let melodies = value["melodies"].as_array().unwrap();
    assert_eq!(melodies.len(), 5);
    for m in melodies {
        let m = m.as_array().unwrap();
        assert_eq!(m.len(), 32);
        assert!(m.iter().all(|e| e.as_u64().unwrap() < 38));
    }
    // Same seed, same melodies.
    let again = tmp.path().join("again.json");
    cadenza(&[
        "generate",
        "--from",
        from,
        "--count",
        "5",
        "--seed",
        "1",
        "--out",
        again.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        std::fs::read(&json).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // generate MIDI: one file, then a directory.
    let one = tmp.path().join("one.mid");
    cadenza(&[
        "generate",
        "--from",
        from,
        "--greedy",
        "--out",
        one.to_str().unwrap(),
    ]);
    let imported = cadenza_env::midi::import_file(&one, &Default::default()).unwrap();
    assert!(!imported.notes.is_empty());
    let many = tmp.path().join("many");
    cadenza(&[
        "generate",
        "--from",
        from,
        "--count",
        "3",
        "--out",
        many.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_dir(&many).unwrap().count(), 3);
}

#[test]
fn refuses_to_overwrite_and_explains_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train(&run, "0");
    let before = std::fs::read(run.join("checkpoint").join("tabular.ckpt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args([
            "train",
            "--agent",
            "q",
            "--steps",
            "1000",
            "--out",
            run.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    assert_eq!(
        before,
        std::fs::read(run.join("checkpoint").join("tabular.ckpt")).unwrap()
    );

    // A corrupt checkpoint is named in the error.
    std::fs::write(run.join("checkpoint").join("tabular.ckpt"), b"garbage").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["generate", "--from", run.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("x.mid"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tabular.ckpt"));

    #[cfg(not(feature = "tch"))]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
            .args(["train", "--agent", "ppo", "--steps", "10", "--out"])
            .arg(tmp.path().join("ppo"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--features tch"));
    }
}

#[test]
fn resume_continues_the_step_count() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train(&run, "5");
    let dir = run.to_str().unwrap();
    cadenza(&[
        "train",
        "--resume",
        dir,
        "--steps",
        "20000",
        "--eval-every",
        "20000",
        "--out",
        dir,
    ]);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["steps_done"], 60000);
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3);
}
