//! End to end through the binary: a behaviour-cloned prior from a corpus directory with bad
//! files in it, scored by `corpus eval`, sampled by `generate` and fine-tuned with `--prior`.
#![cfg(feature = "tch")]

use cadenza::env::midi::MidiSong;
use cadenza::env::Note;
use std::path::Path;
use std::process::{Command, Output};

fn cadenza(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = cadenza(args);
    assert!(
        out.status.success(),
        "cadenza {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A one-voice G major tune of `bars` 4/4 bars.
fn write_tune(path: &Path, bars: u32, offset: u8) {
    let scale = [67u8, 69, 71, 72, 74, 72, 71, 69];
    let notes = (0..bars * 8)
        .map(|i| Note {
            pitch: scale[((i + u32::from(offset)) % 8) as usize],
            start: i * 2,
            duration: 2,
        })
        .collect();
    let mut song = MidiSong::new(notes, 4);
    song.key_signature = Some(cadenza::env::midi::KeySignature {
        sharps: 1,
        minor: false,
    });
    song.write(path).unwrap();
}

#[test]
fn bc_prior_skips_bad_files_and_feeds_generate_eval_and_prior() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("notes.txt"), "not a tune").unwrap();
    std::fs::write(corpus.join("broken.mid"), b"MThd\x00\x00").unwrap();
    let config = root.path().join("bc.toml");
    std::fs::write(
        &config,
        "epochs = 2\nvalid_fraction = 0.25\n[model]\nhidden = 16\nlayers = 1\n",
    )
    .unwrap();
    let prior = root.path().join("prior");
    let args = |out: &Path| {
        vec![
            "train".to_string(),
            "--agent".into(),
            "bc".into(),
            "--in".into(),
            corpus.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--device".into(),
            "cpu".into(),
            "--quiet".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };

    // Nothing usable: a non-zero exit that counts the skipped files and names the first.
    let a = args(&prior);
    let out = cadenza(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no usable melodies"), "{err}");
    assert!(
        err.contains("2 file(s) skipped") && err.contains("broken.mid"),
        "{err}"
    );
    assert!(!prior.join("run.json").exists());

    // With good tunes beside the bad files: trained, and the skips reported per file.
    for i in 0..4u8 {
        write_tune(&corpus.join(format!("tune{i}.mid")), 4 + u32::from(i), i);
    }
    let out = ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("skipped") && err.contains("broken.mid"),
        "{err}"
    );
    assert!(
        err.contains("notes.txt") && err.contains("not a melody file"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prior.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(summary["valid_melodies"], 1);
    let metrics = std::fs::read_to_string(prior.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    assert!(metrics.contains("valid_nll"));

    // `corpus eval` reads the prior like an n-gram model.
    let p = prior.display().to_string();
    let c = corpus.display().to_string();
    let out = ok(&["corpus", "eval", "--model", &p, "--in", &c, "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["nll_per_event", "perplexity", "events", "melodies"] {
        assert!(value.get(field).is_some(), "{field} missing from {value}");
    }
    assert_eq!(value["melodies"], 4);

    // `generate` samples it.
    let json = root.path().join("m.json");
    let j = json.display().to_string();
    ok(&[
        "generate", "--from", &p, "--count", "3", "--json", "--out", &j, "--device", "cpu",
    ]);

    // KL-controlled fine-tuning starts from it; a non-prior checkpoint is refused.
    let tuned = root.path().join("tuned").display().to_string();
    let cfg = root.path().join("ppo.toml");
    std::fs::write(
        &cfg,
        "num_envs = 4\nnum_steps = 32\n[train]\neval_episodes = 2\n",
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let run = |prior_dir: &str, out: &str| {
        cadenza(&[
            "train",
            "--agent",
            "ppo",
            "--prior",
            prior_dir,
            "--kl-coef",
            "0.5",
            "--steps",
            "512",
            "--config",
            &cfg,
            "--samples",
            "1",
            "--quiet",
            "--device",
            "cpu",
            "--out",
            out,
        ])
    };
    let out = run(&p, &tuned);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = std::fs::read_to_string(Path::new(&tuned).join("run.json")).unwrap();
    assert!(info.contains("\"kl_coef\": 0.5"), "{info}");
    // Without --reward, the KL recipe's theory reward.
    assert!(info.contains("\"reward\": \"rl-tuner-kl\""), "{info}");
    // The agent scores the prior (batched) and the summary splits learning's time into the
    // envs, the prior and the learner; the metrics log the prior's mean log-probability.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("; env ") && stdout.contains(", prior ") && stdout.contains(", learner "),
        "{stdout}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&tuned).join("summary.json")).unwrap(),
    )
    .unwrap();
    let time = &summary["time"];
    for key in ["learn_s", "env_s", "prior_s", "learner_s", "eval_s"] {
        assert!(
            time[key].as_f64().is_some_and(|s| s >= 0.0),
            "{key}: {time}"
        );
    }
    let prior_logp = summary["final"]["scalars"]["prior_logp"].as_f64().unwrap();
    assert!(prior_logp < 0.0 && prior_logp.is_finite(), "{prior_logp}");
    let again = root.path().join("again").display().to_string();
    let out = run(&tuned, &again);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("behaviour-cloned prior"), "{err}");
}
