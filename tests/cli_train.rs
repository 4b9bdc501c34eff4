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

fn cadenza_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(!out.status.success(), "cadenza {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `step` of every line of a run's metrics.jsonl.
fn metric_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["step"].as_u64().unwrap()
        })
        .collect()
}

/// Starts `cadenza train` of a long tabular run into `run`, checkpointing every chunk.
#[cfg(unix)]
fn start_long_run(tmp: &Path, run: &Path) -> std::process::Child {
    let config = tmp.join("often.toml");
    std::fs::write(
        &config,
        "[train]\ncheckpoint_secs = 0\nchunk_steps = 4000\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(["train", "--agent", "q", "--steps", "1000000000"])
        .args([
            "--eval-every",
            "6000",
            "--eval-episodes",
            "2",
            "--samples",
            "1",
        ])
        .args(["--quiet", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(run)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// Waits until `run`'s run.json records at least `steps` trained steps; panics if `child`
/// ends first.
#[cfg(unix)]
fn wait_for_steps(child: &mut std::process::Child, run: &Path, steps: u64) -> u64 {
    // Only a guard against hanging: the runs get there in a second or two.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("train ended early: {status}");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{} never recorded {steps} steps",
                run.join("run.json").display()
            );
        }
        let done = std::fs::read_to_string(run.join("run.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["steps_done"].as_u64());
        if let Some(done) = done.filter(|&d| d >= steps) {
            return done;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(unix)]
fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn a_killed_run_resumes_from_its_last_checkpoint() {
    for name in ["KILL", "TERM", "HUP"] {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let dir = run.to_str().unwrap();
        let mut child = start_long_run(tmp.path(), &run);
        wait_for_steps(&mut child, &run, 20_000);
        signal(&child, name);
        let status = child.wait().unwrap();
        let steps = read_json(&run.join("run.json"))["steps_done"]
            .as_u64()
            .unwrap();
        assert!(steps >= 20_000, "{name}: {steps}");
        if name == "KILL" {
            assert!(!status.success());
            // As if killed after an evaluation and before its checkpoint: the line goes.
            let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
            let last: serde_json::Value =
                serde_json::from_str(text.lines().last().unwrap()).unwrap();
            let mut ahead = last.clone();
            ahead["step"] = serde_json::json!(steps + 3000);
            std::fs::write(run.join("metrics.jsonl"), format!("{text}{ahead}\n{{\"ste")).unwrap();
        } else {
            // Like Ctrl-C: stops at a chunk boundary, then saves and reports as usual.
            assert!(status.success(), "{name}: {status}");
            let summary = read_json(&run.join("summary.json"));
            assert_eq!(summary["interrupted"], true, "{name}");
            assert_eq!(summary["steps"], steps, "{name}");
            assert_eq!(metric_steps(&run).last(), Some(&steps), "{name}");
        }
        cadenza(&[
            "train",
            "--resume",
            dir,
            "--out",
            dir,
            "--steps",
            "12000",
            "--eval-every",
            "6000",
            "--eval-episodes",
            "2",
            "--samples",
            "1",
            "--quiet",
        ]);
        let info = read_json(&run.join("run.json"));
        assert_eq!(info["steps_done"], steps + 12_000, "{name}");
        // No line outlives its checkpoint: the steps go up to the end, each once.
        let logged = metric_steps(&run);
        assert!(logged.windows(2).all(|w| w[0] < w[1]), "{name}: {logged:?}");
        assert_eq!(logged.last(), Some(&(steps + 12_000)), "{name}: {logged:?}");
        assert!(logged.contains(&(steps + 6_000)), "{name}: {logged:?}");
        assert!(!logged.contains(&(steps + 3_000)), "{name}: {logged:?}");
        let names: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n.ends_with(".next") || n.ends_with(".old")),
            "{names:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_run_directory_has_one_writer_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let dir = run.to_str().unwrap();
    let mut child = start_long_run(tmp.path(), &run);
    wait_for_steps(&mut child, &run, 0);
    let holder = format!("in use by cadenza train (pid {} on ", child.id());
    let err = cadenza_fails(&["train", "--resume", dir, "--out", dir, "--steps", "1000"]);
    assert!(err.contains(&holder), "{err}");
    let other = tmp.path().join("other");
    let err = cadenza_fails(&[
        "train",
        "--resume",
        dir,
        "--out",
        other.to_str().unwrap(),
        "--steps",
        "1000",
    ]);
    assert!(err.contains(&holder), "{err}");
    let err = cadenza_fails(&["train", "--agent", "q", "--steps", "1000", "--out", dir]);
    assert!(err.contains("--resume") || err.contains(&holder), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn train_settings_are_honoured_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let short = |out: &Path, config: &str| {
        cadenza(&[
            "train",
            "--agent",
            "q",
            "--steps",
            "2000",
            "--eval-episodes",
            "2",
            "--samples",
            "1",
            "--quiet",
            "--config",
            config,
            "--out",
            out.to_str().unwrap(),
        ]);
        read_json(&out.join("run.json"))
    };
    // [train] temperature wins over the agent's; [train] num_envs = 1 is one env.
    let run = tmp.path().join("settled");
    let info = short(
        &run,
        &config(
            "t.toml",
            "temperature = 0.7\n[train]\ntemperature = 0.25\nnum_envs = 1\n",
        ),
    );
    assert_eq!(info["temperature"], 0.25);
    assert_eq!(info["train"]["temperature"], 0.25);
    assert_eq!(info["train"]["num_envs"], 1);
    assert_eq!(read_json(&run.join("summary.json"))["temperature"], 0.25);
    // ... and a resumed run keeps them.
    let dir = run.to_str().unwrap();
    cadenza(&[
        "train",
        "--resume",
        dir,
        "--out",
        dir,
        "--steps",
        "1000",
        "--eval-episodes",
        "2",
        "--samples",
        "1",
        "--quiet",
    ]);
    let info = read_json(&run.join("run.json"));
    assert_eq!(info["temperature"], 0.25);
    assert_eq!(info["train"]["num_envs"], 1);

    // num_envs = 0 is an error naming the field, before anything is written.
    let zero = config("zero.toml", "[train]\nnum_envs = 0\n");
    let none = tmp.path().join("none");
    let err = cadenza_fails(&[
        "train",
        "--agent",
        "q",
        "--steps",
        "100",
        "--config",
        &zero,
        "--out",
        none.to_str().unwrap(),
    ]);
    assert!(
        err.contains("num_envs") && err.contains("1..=4096"),
        "{err}"
    );
    assert!(!none.exists());

    // An edited steps_done that would wrap around.
    let mut info = read_json(&run.join("run.json"));
    let good = info.clone();
    info["steps_done"] = serde_json::json!(u64::MAX - 10);
    std::fs::write(run.join("run.json"), info.to_string()).unwrap();
    let err = cadenza_fails(&["train", "--resume", dir, "--out", dir, "--steps", "1000"]);
    assert!(
        err.contains("steps_done") && err.contains("run.json"),
        "{err}"
    );

    // A checkpoint outside the run (another run's table).
    let mut info = good.clone();
    info["checkpoint"] = serde_json::json!("../other/checkpoint");
    std::fs::write(run.join("run.json"), info.to_string()).unwrap();
    let err = cadenza_fails(&["train", "--resume", dir, "--out", dir, "--steps", "1000"]);
    assert!(err.contains("field 'checkpoint'"), "{err}");
    let out = tmp.path().join("x.json");
    let err = cadenza_fails(&[
        "generate",
        "--from",
        dir,
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("field 'checkpoint'"), "{err}");

    // A non-empty directory that holds no run is not a run directory to write.
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let err = cadenza_fails(&[
        "train",
        "--agent",
        "q",
        "--steps",
        "100",
        "--out",
        busy.to_str().unwrap(),
    ]);
    assert!(err.contains("is not empty and holds no run"), "{err}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
}

/// PPO on `improv` trains with its improvisation defaults: run.json records the entropy
/// target, the metrics report the tuned `kl_coef`, the checkpoint holds the last one, and a
/// resumed run goes on from it (its first update steps from the saved coefficient, not from
/// the config's start). On `rl-tuner` none of it appears.
#[cfg(feature = "tch")]
#[test]
fn ppo_on_improv_tunes_and_keeps_its_entropy_reward() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let dir = run.to_str().unwrap();
    let common = [
        "--eval-every",
        "4096",
        "--eval-episodes",
        "4",
        "--samples",
        "0",
        "--quiet",
        "--out",
        dir,
    ];
    let mut args = vec![
        "train", "--task", "improv", "--agent", "ppo", "--steps", "4096",
    ];
    args.extend(common);
    cadenza(&args);
    let info = read_json(&run.join("run.json"));
    assert_eq!(info["agent_config"]["entropy_target"]["entropy"], 1.2);
    assert_eq!(info["agent_config"]["kl_coef"], 0.3);
    let last_coef = |run: &Path| {
        let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
        last["scalars"]["kl_coef"].as_f64().unwrap()
    };
    let tuned = last_coef(&run);
    let header = read_json(&run.join("checkpoint").join("policy.json"));
    assert_eq!(header["state"]["kl_coef"].as_f64(), Some(tuned));
    assert!(tuned != 0.3, "{tuned}");

    let mut args = vec!["train", "--resume", dir, "--steps", "2048"];
    args.extend(common);
    cadenza(&args);
    // The resumed run's one update (64 envs × 32 steps) stepped ln β from the saved value by
    // the target's rate times the entropy's shortfall.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    let entropy = last["scalars"]["entropy"].as_f64().unwrap();
    let expected = (tuned.ln() + 0.05 * (1.2 - entropy)).exp();
    let resumed = last_coef(&run);
    assert!(
        (resumed - expected).abs() < 1e-12 * expected,
        "{tuned} -> {resumed}, expected {expected}"
    );

    // Magenta's setting, named, keeps PPO's plain defaults; the task's front-door recipe
    // (no --reward) trains on rl-tuner+ and holds 1.4 nats.
    let ppo_on_rl_tuner = |name: &str, reward: Option<&str>| {
        let out = tmp.path().join(name);
        let mut args = vec!["train", "--task", "rl-tuner", "--agent", "ppo"];
        if let Some(reward) = reward {
            args.extend(["--reward", reward]);
        }
        args.extend(["--steps", "2048", "--quiet", "--samples", "0", "--out"]);
        args.push(out.to_str().unwrap());
        cadenza(&args);
        out
    };
    let plain = ppo_on_rl_tuner("plain", Some("rl-tuner"));
    let info = read_json(&plain.join("run.json"));
    assert!(info["agent_config"].get("entropy_target").is_none());
    let header = read_json(&plain.join("checkpoint").join("policy.json"));
    assert!(header.get("state").is_none());
    let front_door = ppo_on_rl_tuner("front-door", None);
    let info = read_json(&front_door.join("run.json"));
    assert_eq!(info["reward"], "rl-tuner+");
    assert_eq!(info["agent_config"]["entropy_target"]["entropy"], 1.4);
    assert_eq!(info["agent_config"]["kl_coef"], 0.3);
}

/// The front door of Magenta's task writes music: `train --task rl-tuner --agent q` with no
/// other flag trains with the task's recipe (the `rl-tuner+` reward, Boltzmann sampling, 3 M
/// steps), and every musicianship group of its 100 sampled melodies is within 10% of the
/// held-out corpus's mean (harmony 0.773, line 0.665, rhythm 0.474, variety 0.917;
/// docs/musicianship.md), at least 90 of them distinct.
#[test]
fn the_rl_tuner_front_door_writes_music() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    cadenza(&[
        "train",
        "--task",
        "rl-tuner",
        "--agent",
        "q",
        "--quiet",
        "--samples",
        "0",
        "--out",
        run.to_str().unwrap(),
    ]);
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["reward"], "rl-tuner+");
    assert_eq!(summary["steps"], 3_000_000);
    let m = &summary["musicianship"];
    assert_eq!(m["failures"], serde_json::json!([]), "{m}");
    for (group, corpus) in [
        ("harmony", 0.773),
        ("line", 0.665),
        ("rhythm", 0.474),
        ("variety", 0.917),
    ] {
        let got = m["mean"][group].as_f64().unwrap();
        assert!(got >= 0.9 * corpus, "{group} {got} < 0.9 x {corpus}: {m}");
    }
    assert!(m["distinct_melodies"].as_u64().unwrap() >= 90, "{m}");
}
