//! MIDI import of a real corpus file and export of a 256-note melody.

use cadenza::env::encoding::Note;
use cadenza::env::midi::{import_bytes, ImportOptions, KeySignature, MidiSong};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::PathBuf;

/// A file of the development corpus: `$CADENZA_CORPUS`, else the repository's own copy.
fn corpus_file() -> Option<Vec<u8>> {
    let dir = std::env::var_os("CADENZA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/corpus/oneills-dev"
            ))
        });
    std::fs::read(dir.join("oneills_0004.mid")).ok()
}

/// A melody on sixteenths: 256 notes of one or two steps, walking up and down an octave.
fn melody() -> Vec<Note> {
    let mut start = 0;
    (0..256u32)
        .map(|i| {
            let duration = 1 + i % 2;
            let note = Note {
                pitch: 60 + (i % 24).min(24 - i % 24) as u8,
                start,
                duration,
            };
            start += duration;
            note
        })
        .collect()
}

fn bench_midi(c: &mut Criterion) {
    match corpus_file() {
        Some(bytes) => {
            let options = ImportOptions::default();
            c.bench_function("midi/import_corpus_file", |b| {
                b.iter(|| import_bytes(black_box(&bytes), &options).expect("a corpus file imports"))
            });
        }
        None => eprintln!("corpus not found; set CADENZA_CORPUS to bench MIDI import"),
    }
    let song = MidiSong {
        title: Some("bench".to_string()),
        key_signature: Some(KeySignature {
            sharps: 0,
            minor: false,
        }),
        ..MidiSong::new(melody(), 4)
    };
    c.bench_function("midi/export_256_notes", |b| {
        b.iter(|| black_box(&song).to_bytes().expect("the song is valid"))
    });
}

criterion_group!(benches, bench_midi);
criterion_main!(benches);
