//! Helpers shared by the MIDI tests: the corpus location and a raw SMF writer for building
//! files that no well-behaved writer would produce.

#![allow(dead_code)]

use std::path::PathBuf;

/// The development corpus: `$CADENZA_CORPUS`, else the repository's own copy
/// (`data/corpus/oneills-dev`, described in `data/corpus/README.md`).
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("CADENZA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../data/corpus/oneills-dev"
            ))
        });
    assert!(
        dir.join("manifest.csv").is_file(),
        "MIDI corpus not found at {} (set CADENZA_CORPUS to the folder holding manifest.csv and the .mid files)",
        dir.display()
    );
    dir
}

/// Corpus `.mid` files, sorted by name.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus folder is readable")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    files
}

/// Rows of `manifest.csv` as header-name -> value maps (quoted fields may hold commas).
pub fn manifest() -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(corpus_dir().join("manifest.csv")).expect("manifest");
    let mut lines = text.lines();
    let header = split_csv(lines.next().expect("manifest header"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Variable-length quantity as SMF writes delta times.
pub fn vlq(mut value: u32) -> Vec<u8> {
    let mut bytes = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        bytes.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    bytes.reverse();
    bytes
}

/// A track chunk from `(delta, raw event bytes)` pairs; end of track is appended.
pub fn track(events: &[(u32, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (delta, event) in events {
        body.extend(vlq(*delta));
        body.extend_from_slice(event);
    }
    body.extend([0x00, 0xff, 0x2f, 0x00]);
    let mut chunk = b"MTrk".to_vec();
    chunk.extend((body.len() as u32).to_be_bytes());
    chunk.extend(body);
    chunk
}

/// A whole file: header chunk with `format` and `division`, then the track chunks.
pub fn smf(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = b"MThd".to_vec();
    bytes.extend(6u32.to_be_bytes());
    bytes.extend(format.to_be_bytes());
    bytes.extend((tracks.len() as u16).to_be_bytes());
    bytes.extend(division.to_be_bytes());
    for t in tracks {
        bytes.extend_from_slice(t);
    }
    bytes
}

/// Note-on / note-off raw events on a 0-based channel.
pub fn on(channel: u8, key: u8) -> [u8; 3] {
    [0x90 | channel, key, 80]
}
pub fn off(channel: u8, key: u8) -> [u8; 3] {
    [0x80 | channel, key, 64]
}
