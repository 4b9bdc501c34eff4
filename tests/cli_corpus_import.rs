//! End-to-end runs of `cadenza corpus import` on small hand-made directories: good files, a
//! file without a key signature, and every kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cadenza(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cadenza-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A format-0 Standard MIDI File at 4 ticks per quarter (one tick per sixteenth): the notes
/// `(pitch, ticks)` one after another on `channel`, after an optional key signature.
fn smf(notes: &[(u8, u8)], key: Option<(i8, bool)>, channel: u8) -> Vec<u8> {
    let mut track = Vec::new();
    if let Some((sharps, minor)) = key {
        track.extend_from_slice(&[0x00, 0xFF, 0x59, 0x02, sharps as u8, u8::from(minor)]);
    }
    for &(pitch, ticks) in notes {
        assert!(ticks < 0x80);
        track.extend_from_slice(&[0x00, 0x90 | channel, pitch, 100]);
        track.extend_from_slice(&[ticks, 0x80 | channel, pitch, 0]);
    }
    track.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    let mut bytes = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x04MTrk".to_vec();
    bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&track);
    bytes
}

/// A G major tune: the scale up and down, the tonic held at the ends.
fn g_major() -> Vec<(u8, u8)> {
    let up = [67, 69, 71, 72, 74, 76, 78, 79];
    let mut notes: Vec<(u8, u8)> = up.iter().map(|&p| (p, 2)).collect();
    notes.extend(up.iter().rev().map(|&p| (p, 2)));
    notes[0].1 = 8;
    notes.push((67, 8));
    notes
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn import_skips_bad_files_with_reasons_and_finds_missing_keys() {
    let input = temp_dir("mixed-in");
    let out = temp_dir("mixed-out");
    let write = |name: &str, bytes: &[u8]| std::fs::write(input.join(name), bytes).unwrap();
    write("a-signed.mid", &smf(&g_major(), Some((1, false)), 0));
    write("b-unsigned.mid", &smf(&g_major(), None, 0));
    write(
        "c-c-major.mid",
        &smf(&[(60, 4), (64, 4), (67, 4), (72, 4), (60, 8)], None, 0),
    );
    write("d-drums.mid", &smf(&[(36, 4), (38, 4)], None, 9));
    write("e-empty.mid", &smf(&[], None, 0));
    write(
        "f-corrupt.mid",
        b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x04MTrk\x00\x00\x01\x00\x90",
    );
    write("g-notes.txt", b"not a melody");

    let args = [
        "corpus",
        "import",
        "--in",
        s(&input),
        "--out",
        s(&out),
        "--valid-fraction",
        "0.34",
        "--seed",
        "3",
    ];
    let run = cadenza(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "import failed: {stderr}");
    let r = report(&out);
    assert_eq!(r["melodies"], 3, "{r}");
    let counts = &r["skip_counts"];
    for (category, n) in [
        ("drums only", 1),
        ("no notes", 1),
        ("malformed MIDI", 1),
        ("not a melody file", 1),
    ] {
        assert_eq!(counts[category], n, "{category}: {counts}");
    }
    for skipped in r["skipped"].as_array().unwrap() {
        assert!(!skipped["reason"].as_str().unwrap().is_empty(), "{skipped}");
    }
    let files = r["files"].as_array().unwrap();
    let by_name = |name: &str| files.iter().find(|f| f["file"] == name).unwrap().clone();
    // The signed tune goes G → C by its signature; the unsigned one by the key it sounds in.
    let signed = by_name("a-signed.mid");
    assert_eq!(signed["key_source"], "signature");
    let unsigned = by_name("b-unsigned.mid");
    assert_eq!(unsigned["key_source"], "krumhansl-schmuckler", "{unsigned}");
    assert_eq!(unsigned["key_found"]["key"]["tonic"], 7);
    assert_eq!(unsigned["transposed"], signed["transposed"]);
    assert_eq!(
        by_name("c-c-major.mid")["transposed"].as_i64().unwrap() % 12,
        0
    );
    assert_eq!(r["keys"]["exact_agreement"], 1.0);
    assert_eq!(
        (r["split"]["train"].clone(), r["split"]["valid"].clone()),
        (2.into(), 1.into())
    );
    for plot in [
        "pitch.svg",
        "interval.svg",
        "length.svg",
        "train.json",
        "valid.json",
    ] {
        assert!(out.join(plot).is_file(), "{plot} missing");
    }

    // The processed corpus is an input of `corpus fit`, and the same seed gives the same bytes.
    let corpus = std::fs::read(out.join("corpus.json")).unwrap();
    let model = out.join("model.json");
    let fit = cadenza(&[
        "corpus",
        "fit",
        "--in",
        s(&out.join("corpus.json")),
        "--out",
        s(&model),
        "--order",
        "2",
    ]);
    assert!(
        fit.status.success(),
        "{}",
        String::from_utf8_lossy(&fit.stderr)
    );
    let again = temp_dir("mixed-again");
    let args2: Vec<&str> = args
        .iter()
        .map(|&a| if a == s(&out) { s(&again) } else { a })
        .collect();
    assert!(cadenza(&args2).status.success());
    assert_eq!(corpus, std::fs::read(again.join("corpus.json")).unwrap());
    for dir in [&input, &out, &again] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn import_fails_only_when_nothing_is_usable() {
    let input = temp_dir("bad-in");
    let out = temp_dir("bad-out");
    std::fs::write(input.join("drums.mid"), smf(&[(36, 4)], None, 9)).unwrap();
    std::fs::write(input.join("junk.mid"), b"RIFFjunk").unwrap();
    std::fs::write(input.join("readme.md"), b"# hi").unwrap();
    let run = cadenza(&["corpus", "import", "--in", s(&input), "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("no usable melodies"), "{stderr}");
    assert!(
        stderr.contains("drums only") && stderr.contains("not a melody file"),
        "{stderr}"
    );
    assert!(!out.join("corpus.json").exists());
    // An empty directory, a file instead of a directory, and a bad fraction fail cleanly too.
    let empty = temp_dir("empty-in");
    let run = cadenza(&["corpus", "import", "--in", s(&empty), "--out", s(&out)]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("empty"));
    let file = input.join("readme.md");
    let run = cadenza(&["corpus", "import", "--in", s(&file), "--out", s(&out)]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("expected a directory"));
    let run = cadenza(&[
        "corpus",
        "import",
        "--in",
        s(&input),
        "--out",
        s(&out),
        "--valid-fraction",
        "1.5",
    ]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("--valid-fraction"));
    for dir in [&input, &out, &empty] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn the_text_report_says_so_when_no_file_has_a_key_signature() {
    let input = temp_dir("unsigned-in");
    let out = temp_dir("unsigned-out");
    std::fs::write(input.join("a.mid"), smf(&g_major(), None, 0)).unwrap();
    std::fs::write(
        input.join("b.mid"),
        smf(&[(60, 4), (64, 4), (67, 4), (72, 4), (60, 8)], None, 0),
    )
    .unwrap();
    let run = cadenza(&["corpus", "import", "--in", s(&input), "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!stdout.contains("NaN"), "{stdout}");
    assert!(
        stdout.contains("no file has a key signature to check key finding against"),
        "{stdout}"
    );
    // The JSON report keeps its nulls: there is no share of zero files.
    assert!(report(&out)["keys"]["exact_agreement"].is_null());
    for dir in [&input, &out] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
