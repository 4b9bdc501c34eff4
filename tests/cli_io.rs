//! End-to-end runs of the melody I/O commands: `render`, `inspect` and `corpus`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cadenza(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(text.as_bytes())
            .expect("stdin takes the input");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and expects success, showing stderr otherwise.
fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = cadenza(args, stdin);
    assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
    stdout(&out)
}

/// Runs and expects a clean failure (non-zero, a message, no panic); returns stderr.
fn fails(args: &[&str]) -> String {
    let out = cadenza(args, None);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "{args:?} should fail; stdout: {}",
        stdout(&out)
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(err.contains("error"), "{args:?} gave no message: {err}");
    err
}

/// The development corpus: `$CADENZA_CORPUS`, else the repository's own copy.
fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("CADENZA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/corpus/oneills-dev"
            ))
        });
    assert!(
        dir.is_dir(),
        "corpus not found at {} (set CADENZA_CORPUS to a folder of .mid files)",
        dir.display()
    );
    dir
}

fn events_of(json: &str) -> Vec<Vec<u64>> {
    let value: serde_json::Value = serde_json::from_str(json.trim()).expect("inspect prints JSON");
    value["melodies"]
        .as_array()
        .expect("a melodies list")
        .iter()
        .map(|m| {
            m.as_array()
                .expect("a melody is a list")
                .iter()
                .map(|e| e.as_u64().expect("events are numbers"))
                .collect()
        })
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn render_then_inspect_gives_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("m.mid");
    // A leading rest, held notes, a rest inside, and a note that ends the melody.
    let events = "0 14 1 1 16 1 0 1 18 1 1 1 19 1 1 1 21 16 1 1 14 1 1 1";
    ok(
        &["render", "--events", events, "--out", path_str(&mid)],
        None,
    );
    let json = ok(&["inspect", path_str(&mid), "--json"], None);
    let expected: Vec<u64> = events.split(' ').map(|e| e.parse().unwrap()).collect();
    assert_eq!(events_of(&json), vec![expected.clone()]);

    // The human form carries the same JSON on its last line, after a summary and a roll.
    let text = ok(&["inspect", path_str(&mid)], None);
    assert!(text.contains("key:"), "{text}");
    assert!(text.contains("C4 |"), "{text}");
    let last = text.lines().last().unwrap();
    assert_eq!(events_of(last), vec![expected]);
}

#[test]
fn render_reads_json_from_stdin_and_picks_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("pick.mid");
    let input = r#"{"encoding": "rl-tuner-38", "melodies": [[14, 1, 16, 1], [18, 1, 1, 19]]}"#;
    ok(
        &[
            "render",
            "--in",
            "-",
            "--index",
            "1",
            "--out",
            path_str(&mid),
        ],
        Some(input),
    );
    let json = ok(&["inspect", path_str(&mid), "--json"], None);
    assert_eq!(events_of(&json), vec![vec![18, 1, 1, 19]]);

    // Both melodies, one after the other: a bar of rest apart, so eight notes' worth of steps.
    let both = dir.path().join("both.mid");
    ok(
        &["render", "--in", "-", "--out", path_str(&both)],
        Some(input),
    );
    let json = ok(&["inspect", path_str(&both), "--json"], None);
    let events = &events_of(&json)[0];
    let notes = events.iter().filter(|&&e| e >= 2).count();
    assert_eq!(notes, 4);
    assert_eq!(events.len(), 16 + 16 + 4, "{events:?}");

    // Improv writes a chord track too; the melody is still found.
    let improv = dir.path().join("improv.mid");
    ok(
        &[
            "render",
            "--task",
            "improv",
            "--in",
            "-",
            "--index",
            "0",
            "--out",
            path_str(&improv),
        ],
        Some(r#"{"encoding": "rl-tuner-38", "melodies": [[14, 1, 16, 1]]}"#),
    );
    let json = ok(
        &[
            "inspect",
            path_str(&improv),
            "--json",
            "--track",
            "1",
            "--transpose",
            "none",
        ],
        None,
    );
    assert_eq!(events_of(&json), vec![vec![14, 1, 16, 1]]);
}

/// A corpus file and its number of notes from the manifest.
fn manifest_row(dir: &Path, file: &str) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("manifest.csv")).ok()?;
    let mut lines = text.lines();
    let header = split_csv(lines.next()?);
    let column = header.iter().position(|c| c == "num_notes")?;
    lines
        .map(split_csv)
        .find(|row| row.first().map(String::as_str) == Some(file))
        .and_then(|row| row.get(column)?.parse().ok())
}

/// Splits one CSV line, honouring double quotes (titles may hold commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn inspect_of_a_corpus_file_counts_its_notes() {
    let dir = corpus_dir();
    for file in ["oneills_0003.mid", "oneills_0004.mid"] {
        let Some(expected) = manifest_row(&dir, file) else {
            panic!("{file} is not in the manifest");
        };
        let path = dir.join(file);
        let json = ok(
            &[
                "inspect",
                path_str(&path),
                "--json",
                "--encoding",
                "range-55-88",
            ],
            None,
        );
        let notes = events_of(&json)[0].iter().filter(|&&e| e >= 2).count();
        let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let meta = &value["meta"][0];
        // Sixteenths cannot hold every figure (0003 has one note that lands on its
        // neighbour's step); what quantisation dropped is reported, and nothing else is lost.
        let dropped = meta["dropped"].as_u64().unwrap() as usize;
        assert_eq!(notes + dropped, expected, "{file}");
        assert_eq!(meta["notes"], notes, "{file}");
        assert_eq!(value["encoding"], "range-55-88");
    }
}

#[test]
fn corpus_fit_and_eval_on_a_small_subset() {
    let dir = corpus_dir();
    let subset = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    for file in files.iter().take(30) {
        std::fs::copy(file, subset.path().join(file.file_name().unwrap())).unwrap();
    }
    let model = subset.path().join("model.json");
    let fit = ok(
        &[
            "corpus",
            "fit",
            "--in",
            path_str(subset.path()),
            "--out",
            path_str(&model),
            "--order",
            "3",
            "--valid-fraction",
            "0.2",
            "--json",
        ],
        None,
    );
    let fit: serde_json::Value = serde_json::from_str(fit.trim()).unwrap();
    assert_eq!(fit["train_melodies"], 24);
    assert!(fit["valid_nll_per_event"].as_f64().unwrap().is_finite());

    // model.json now sits in the directory too: it is skipped as not MIDI.
    let out = cadenza(
        &[
            "corpus",
            "eval",
            "--model",
            path_str(&model),
            "--in",
            path_str(subset.path()),
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("model.json: not a melody file"),
        "{}",
        stderr(&out)
    );
    let eval: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(eval["melodies"], 30);
    assert!(eval["events"].as_u64().unwrap() > 1000);
    let nll = eval["nll_per_event"].as_f64().unwrap();
    let ppl = eval["perplexity"].as_f64().unwrap();
    assert!(nll.is_finite() && nll > 0.0, "{nll}");
    assert!((ppl - nll.exp()).abs() < 1e-9 && ppl < 38.0, "{ppl}");

    let orders = ok(
        &[
            "corpus",
            "orders",
            "--in",
            path_str(subset.path()),
            "--orders",
            "1-3",
            "--json",
        ],
        None,
    );
    let orders: serde_json::Value = serde_json::from_str(orders.trim()).unwrap();
    assert_eq!(orders["orders"].as_array().unwrap().len(), 3);

    let plots = subset.path().join("plots");
    let stats = ok(
        &[
            "corpus",
            "stats",
            "--in",
            path_str(subset.path()),
            "--out",
            path_str(&plots),
        ],
        None,
    );
    assert!(stats.contains("30 melodies"), "{stats}");
    for svg in ["pitch.svg", "interval.svg", "length.svg"] {
        let text = std::fs::read_to_string(plots.join(svg)).unwrap();
        assert!(text.starts_with("<svg"), "{svg}");
    }
}

#[test]
fn bad_inputs_fail_cleanly_or_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Not MIDI at all, though named like it.
    let fake = d.join("fake.mid");
    std::fs::write(&fake, "this is not a MIDI file\n").unwrap();
    let err = fails(&["inspect", path_str(&fake)]);
    assert!(err.contains("fake.mid"), "{err}");

    // A real file cut short.
    let mid = d.join("good.mid");
    ok(
        &[
            "render",
            "--events",
            "14 1 16 1 18 1 19 1",
            "--out",
            path_str(&mid),
        ],
        None,
    );
    let bytes = std::fs::read(&mid).unwrap();
    let cut = d.join("cut.mid");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&["inspect", path_str(&cut)]);
    assert!(err.contains("cut.mid"), "{err}");
    assert!(err.contains("truncated"), "{err}");

    // A JSON melody with an event outside rl-tuner-38.
    let json = d.join("bad.json");
    std::fs::write(
        &json,
        r#"{"encoding": "rl-tuner-38", "melodies": [[14, 1], [14, 1, 99]]}"#,
    )
    .unwrap();
    let out = d.join("out.mid");
    let err = fails(&["render", "--in", path_str(&json), "--out", path_str(&out)]);
    assert!(
        err.contains("melody 1") && err.contains("position 2"),
        "{err}"
    );
    assert!(err.contains("99"), "{err}");

    // A missing file is named.
    let missing = d.join("nowhere.json");
    let err = fails(&[
        "render",
        "--in",
        path_str(&missing),
        "--out",
        path_str(&out),
    ]);
    assert!(err.contains("nowhere.json"), "{err}");
    let err = fails(&["inspect", path_str(&d.join("nowhere.mid"))]);
    assert!(err.contains("nowhere.mid"), "{err}");

    // An empty directory has nothing to read.
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(&["corpus", "stats", "--in", path_str(&empty)]);
    assert!(err.contains("no usable melodies"), "{err}");

    // A directory with bad files and one good one: the bad ones are skipped, each with why.
    let mixed = d.join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    for (name, from) in [
        ("a.mid", &mid),
        ("b.mid", &cut),
        ("c.mid", &fake),
        ("d.json", &json),
    ] {
        std::fs::copy(from, mixed.join(name)).unwrap();
    }
    let out = cadenza(
        &["corpus", "stats", "--in", path_str(&mixed), "--json"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("b.mid") && err.contains("truncated"), "{err}");
    assert!(err.contains("c.mid"), "{err}");
    assert!(err.contains("d.json: not a melody file"), "{err}");
    let stats: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(stats["melodies"], 1);
    assert_eq!(stats["notes"], 4);

    // Only bad files: an error that says why the first was skipped.
    std::fs::remove_file(mixed.join("a.mid")).unwrap();
    let err = fails(&["corpus", "stats", "--in", path_str(&mixed)]);
    assert!(
        err.contains("no usable melodies") && err.contains("skipped"),
        "{err}"
    );
}

#[test]
fn every_command_explains_itself() {
    for args in [
        &["render", "--help"][..],
        &["inspect", "--help"],
        &["corpus", "--help"],
        &["corpus", "fit", "--help"],
        &["corpus", "eval", "--help"],
        &["corpus", "stats", "--help"],
        &["corpus", "orders", "--help"],
    ] {
        let help = ok(args, None);
        assert!(help.contains("Example: cadenza"), "{args:?}: {help}");
    }
}

#[test]
fn bench_env_compares_threads_against_the_machine() {
    let out = ok(
        &[
            "bench",
            "env",
            "--envs",
            "8",
            "--threads",
            "2",
            "--compare-threads",
            "--steps",
            "40000",
            "--json",
        ],
        None,
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {report}"))
    };
    for key in [
        "one_thread_steps_per_sec",
        "threaded_steps_per_sec",
        "speedup_median",
        "machine_capacity_median",
        "share_of_capacity_median",
    ] {
        let value = number(key);
        assert!(value.is_finite() && value > 0.0, "{key} = {value}");
    }
    // The extremes bracket the median. (No bound on the ratios themselves: on a loaded
    // machine a block of one thread can be descheduled, so any ratio can show up; speed
    // claims live in the benchmark, not in a test.)
    assert!(number("machine_capacity_min") <= number("machine_capacity_median"));
    assert!(number("machine_capacity_median") <= number("machine_capacity_max"));
    assert!(number("speedup_min") <= number("speedup_median"));
    assert_eq!(report["steps_per_way"].as_f64(), Some(20_000.0), "{report}");
}
