//! ABC and MusicXML through the command line: a folder of ABC tunes imports to the same
//! events as the same tunes as MIDI, ABC collections are read tune by tune with their chord
//! symbols and their skips, and render writes every format by extension or --format.

use cadenza_env::midi::{import_file, ImportOptions, MidiSong};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cadenza(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = cadenza(args);
    assert!(
        out.status.success(),
        "cadenza {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn an_abc_folder_and_the_same_tunes_as_midi_import_to_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let (mid, abc) = (dir.path().join("mid"), dir.path().join("abc"));
    std::fs::create_dir_all(&mid).unwrap();
    std::fs::create_dir_all(&abc).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("data/corpus/oneills-dev"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    for path in files.iter().take(40) {
        let m = import_file(path, &ImportOptions::default()).unwrap();
        let song = MidiSong {
            title: m.title.clone(),
            time_signature: m.time_signature.unwrap_or((4, 4)),
            key_signature: m.key_signature,
            ..MidiSong::new(m.notes.clone(), 4)
        };
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        std::fs::copy(path, mid.join(format!("{name}.mid"))).unwrap();
        std::fs::write(abc.join(format!("{name}.abc")), song.to_abc().unwrap()).unwrap();
    }
    let (out_mid, out_abc) = (dir.path().join("out-mid"), dir.path().join("out-abc"));
    ok(&["corpus", "import", "--in", s(&mid), "--out", s(&out_mid)]);
    let text = ok(&["corpus", "import", "--in", s(&abc), "--out", s(&out_abc)]);
    assert!(text.contains("imported 40 melodies"), "{text}");
    let (a, b) = (
        json(&out_mid.join("corpus.json")),
        json(&out_abc.join("corpus.json")),
    );
    assert_eq!(a["melodies"], b["melodies"]);
    for (x, y) in a["files"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["files"].as_array().unwrap())
    {
        for field in [
            "split",
            "key_signature",
            "transposed",
            "time_signature",
            "steps_per_bar",
        ] {
            assert_eq!(x[field], y[field], "{field}");
        }
    }
}

#[test]
fn abc_collections_import_tune_by_tune_with_harmony_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = ok(&[
        "corpus",
        "import",
        "--in",
        s(&repo("tests/data/abc")),
        "--out",
        s(&out),
    ]);
    assert!(text.contains("imported 3 melodies"), "{text}");
    assert!(
        text.contains("harmony: 3 of 3 melodies carry chord symbols"),
        "{text}"
    );
    assert!(text.contains("X:3 \"Broken\", line 27, column 7"), "{text}");
    let report = json(&out.join("report.json"));
    assert_eq!(report["with_harmony"], 3);
    assert_eq!(report["skip_counts"]["ABC syntax: unexpected '?'"], 1);
    let corpus = json(&out.join("corpus.json"));
    let files = corpus["files"].as_array().unwrap();
    assert_eq!(files[0]["file"], "jig.abc X:7 \"Cadenza Jig\"");
    // A dorian is moved to the signature of C (down a fifth, up a fourth): Am becomes Dm.
    assert_eq!(files[0]["harmony"][0], serde_json::json!([12, "Dm"]));
    assert_eq!(files[1]["harmony"].as_array().unwrap().len(), 12);

    // The same folder feeds fit, and inspect reads one tune of a file.
    let model = dir.path().join("model.json");
    ok(&[
        "corpus",
        "fit",
        "--in",
        s(&repo("tests/data/abc")),
        "--out",
        s(&model),
        "--order",
        "2",
    ]);
    let shown = ok(&[
        "inspect",
        s(&repo("tests/data/abc/reels.abc")),
        "--tune",
        "2",
    ]);
    assert!(shown.contains("Lead Sheet Waltz"), "{shown}");
    assert!(shown.contains("harmony:  8 chord symbols"), "{shown}");
    assert!(shown.contains("1 decorations; 1 lyrics lines"), "{shown}");
    let out = cadenza(&[
        "inspect",
        s(&repo("tests/data/abc/reels.abc")),
        "--tune",
        "3",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 27, column 7"));
}

#[test]
fn render_writes_abc_and_musicxml_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let events = "14 1 1 1 16 1 18 1 19 1 1 1 21 1 0 1 23 1 1 1 1 1 1 1 26 1 1 1 1 1 1 1";
    let config = dir.path().join("improv.toml");
    std::fs::write(
        &config,
        "key = \"C major\"\nlength = 32\nprogression = \"| C | G7 |\"\n",
    )
    .unwrap();
    let abc = dir.path().join("m.abc");
    let xml = dir.path().join("m.musicxml");
    let txt = dir.path().join("m.txt");
    for out in [&abc, &xml] {
        ok(&[
            "render",
            "--events",
            events,
            "--task",
            "improv",
            "--config",
            s(&config),
            "--out",
            s(out),
        ]);
    }
    ok(&[
        "render",
        "--events",
        events,
        "--out",
        s(&txt),
        "--format",
        "abc",
    ]);
    let abc_text = std::fs::read_to_string(&abc).unwrap();
    assert!(
        abc_text.contains("\"C\"") && abc_text.contains("\"G7\""),
        "{abc_text}"
    );
    assert!(std::fs::read_to_string(&txt).unwrap().starts_with("X:1\n"));
    let xml_text = std::fs::read_to_string(&xml).unwrap();
    assert!(xml_text.contains("<score-partwise"));
    assert_eq!(xml_text.matches("<harmony>").count(), 2);
    let plain = dir.path().join("plain.abc");
    ok(&["render", "--events", events, "--out", s(&plain)]);
    let back = ok(&["inspect", s(&plain), "--json", "--transpose", "none"]);
    let value: serde_json::Value = serde_json::from_str(back.trim()).unwrap();
    let expected: Vec<u64> = events.split(' ').map(|e| e.parse().unwrap()).collect();
    assert_eq!(value["melodies"][0], serde_json::json!(expected));

    let out = cadenza(&[
        "render",
        "--events",
        events,
        "--out",
        s(&dir.path().join("m.pdf")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot tell the format") && err.contains(".musicxml"),
        "{err}"
    );
}

#[test]
fn generate_writes_lead_sheets_as_musicxml_and_abc() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    ok(&[
        "train",
        "--task",
        "improv",
        "--agent",
        "q",
        "--steps",
        "2000",
        "--out",
        s(&run),
    ]);
    let xml = dir.path().join("one.musicxml");
    ok(&["generate", "--from", s(&run), "--out", s(&xml)]);
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(text.contains("<score-partwise version=\"4.0\">"));
    assert!(text.contains("<harmony>") && text.contains("<fifths>") && text.contains("<beats>"));

    let many = dir.path().join("many");
    ok(&[
        "generate",
        "--from",
        s(&run),
        "--count",
        "2",
        "--format",
        "abc",
        "--out",
        s(&many),
    ]);
    for i in 0..2 {
        let path = many.join(format!("melody-00{i}.abc"));
        let tunes =
            cadenza_env::formats::read_file(&path, None, &ImportOptions::default()).unwrap();
        let melody = tunes[0].melody.as_ref().unwrap();
        assert!(!melody.harmony.is_empty(), "{}", path.display());
    }
}
