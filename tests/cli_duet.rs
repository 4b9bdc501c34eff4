//! End to end: `cadenza train --task duet`, then `cadenza duet` writing exchanges and
//! measuring answers, through the built binary.

use cadenza_env::midi::{import_file, ImportOptions};
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn cadenza(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "cadenza {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(dir: &Path, task: &str, config: Option<&Path>) {
    train_for(dir, task, config, "4000");
}

fn train_for(dir: &Path, task: &str, config: Option<&Path>, steps: &str) {
    let mut args = vec!["train", "--task", task, "--agent", "q", "--steps", steps];
    args.extend([
        "--eval-every",
        "20000",
        "--eval-episodes",
        "4",
        "--samples",
        "1",
    ]);
    args.extend(["--quiet", "--out", dir.to_str().unwrap()]);
    if let Some(config) = config {
        args.extend(["--task-config", config.to_str().unwrap()]);
    }
    cadenza(&args);
}

#[test]
fn exchanges_with_the_partner_and_between_agents_are_midi_with_the_backing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    train(&a, "duet", None);
    train(&b, "duet", None);

    let solo = tmp.path().join("solo.mid");
    let out = cadenza(&[
        "duet",
        "--agent",
        a.to_str().unwrap(),
        "--rounds",
        "3",
        "--out",
        solo.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 6 phrases (192 steps)"));
    let song = import_file(&solo, &ImportOptions::default()).unwrap();
    assert_eq!(song.length_steps(), 192, "three rounds of call and answer");
    assert!(song.title.as_deref().unwrap().contains("partner / agent"));

    let traded = tmp.path().join("traded.mid");
    let args = [
        "duet",
        "--agent",
        a.to_str().unwrap(),
        "--with",
        b.to_str().unwrap(),
    ];
    let out = cadenza(
        &[
            &args[..],
            &[
                "--rounds",
                "4",
                "--seed",
                "3",
                "--out",
                traded.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 5 phrases (160 steps)"));
    let song = import_file(&traded, &ImportOptions::default()).unwrap();
    assert!(song
        .title
        .as_deref()
        .unwrap()
        .contains("partner / agent / with / agent / with"));
    // The same seed writes the same file.
    let again = tmp.path().join("again.mid");
    cadenza(
        &[
            &args[..],
            &[
                "--rounds",
                "4",
                "--seed",
                "3",
                "--out",
                again.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(
        std::fs::read(&traded).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

/// The held-out measures of an answerer trained on the corpus's calls and of one that does
/// not hear them: the one that hears finds the tunes' own responses likelier than other
/// tunes' (the interval above chance), and more often than the deaf one does.
#[test]
fn evaluate_reports_the_held_out_measure_for_agent_and_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let heard = tmp.path().join("heard");
    let deaf = tmp.path().join("deaf");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let steps = "1000000";
    train_for(
        &heard,
        "duet",
        Some(&root.join("docs/configs/duet-corpus.toml")),
        steps,
    );
    train_for(
        &deaf,
        "duet",
        Some(&root.join("docs/configs/duet-corpus-deaf.toml")),
        steps,
    );
    let report = tmp.path().join("report.json");
    cadenza(&[
        "duet",
        "--agent",
        heard.to_str().unwrap(),
        "--evaluate",
        "--baseline",
        deaf.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(report["pairs"].as_u64().unwrap() > 100);
    for who in ["agent", "baseline"] {
        let closer = report[who]["closer_to_real"].as_f64().unwrap();
        let (low, high) = (
            report[who]["closer_to_real_ci"][0].as_f64().unwrap(),
            report[who]["closer_to_real_ci"][1].as_f64().unwrap(),
        );
        assert!(
            (0.0..=1.0).contains(&closer) && low <= closer && closer <= high,
            "{report}"
        );
        assert!(report[who]["musicianship"]["harmony"].as_f64().is_some());
        let likelihood = &report[who]["likelihood"];
        assert!(
            likelihood["real"].as_f64().unwrap() < 0.0
                && likelihood["other"].as_f64().unwrap() < 0.0,
            "{report}"
        );
    }
    let likelier = |who: &str| report[who]["likelihood"]["likelier_real"].as_f64().unwrap();
    let low = report["agent"]["likelihood"]["likelier_real_ci"][0]
        .as_f64()
        .unwrap();
    assert!(low > 0.5, "{report}");
    assert!(likelier("agent") > likelier("baseline") + 0.05, "{report}");
}

#[test]
fn bad_requests_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let improv = tmp.path().join("improv");
    train(&improv, "improv", None);
    let out = run(&[
        "duet",
        "--agent",
        improv.to_str().unwrap(),
        "--out",
        "x.mid",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trained on the 'improv' task"), "{stderr}");

    let duet = tmp.path().join("duet");
    train(&duet, "duet", None);
    let out = run(&[
        "duet",
        "--agent",
        duet.to_str().unwrap(),
        "--rounds",
        "0",
        "--out",
        "x.mid",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rounds 0: expected 1..=1000"));
    let out = run(&["duet", "--agent", duet.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
    let missing = tmp.path().join("no/such/dir/x.mid");
    let out = run(&[
        "duet",
        "--agent",
        duet.to_str().unwrap(),
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
