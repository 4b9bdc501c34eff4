//! The in-repository O'Neill's corpus for calibration tests: its held-out split, and a tune
//! read in its own key and meter.
//!
//! The split (files sorted by name): every 5th file (indices 0, 5, 10, ...) is held out; of
//! those, the even-numbered ones (indices 0, 10, 20, ...) are the tuning set, the
//! odd-numbered ones (5, 15, 25, ...) the evaluation set.

#![allow(dead_code)]

use cadenza_env::midi::{import_file, ImportOptions, OutOfRange};
use cadenza_env::{Event, EventEncoding, Setting};
use cadenza_reward::corpus::find_key;
use std::path::{Path, PathBuf};

pub fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/corpus/oneills-dev");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "mid"))
        .collect();
    files.sort();
    files
}

/// The held-out files: (tuning, evaluation).
pub fn held_out() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let held: Vec<PathBuf> = corpus_files().into_iter().step_by(5).collect();
    let (tuning, evaluation): (Vec<_>, Vec<_>) =
        held.into_iter().enumerate().partition(|(k, _)| k % 2 == 0);
    (
        tuning.into_iter().map(|(_, p)| p).collect(),
        evaluation.into_iter().map(|(_, p)| p).collect(),
    )
}

/// A tune's first `steps` steps in its own key and meter.
pub fn tune(path: &Path, steps: usize) -> (Setting, Vec<Event>) {
    let imported = import_file(path, &ImportOptions::default()).expect("corpus MIDI");
    let encoding = EventEncoding::new(24, 108).expect("encoding");
    let mut events = imported
        .to_events(encoding, OutOfRange::FoldOctaves)
        .expect("events");
    events.truncate(steps);
    let (num, den) = imported.time_signature.unwrap_or((4, 4));
    let (steps_per_beat, beats_per_bar) = if den == 8 && num % 3 == 0 {
        (6, u16::from(num / 3)) // compound meter: the beat is a dotted quarter
    } else {
        ((16 / u16::from(den.max(1))).max(1), u16::from(num.max(1)))
    };
    // A file without a key signature is read in the key its notes suggest
    // (Krumhansl-Schmuckler, as `corpus import` does).
    let signature = imported
        .key_signature
        .or_else(|| find_key(&imported.notes).map(|estimate| estimate.key.to_signature()));
    let (major_tonic, minor) = signature.map_or((0, false), |k| {
        ((i32::from(k.sharps) * 7).rem_euclid(12) as u8, k.minor)
    });
    let major_scale: u16 = [0u8, 2, 4, 5, 7, 9, 11]
        .iter()
        .map(|i| 1u16 << ((major_tonic + i) % 12))
        .sum();
    let setting = Setting {
        encoding,
        length: events.len(),
        steps_per_beat,
        beats_per_bar,
        tonic: if minor {
            (major_tonic + 9) % 12
        } else {
            major_tonic
        },
        scale: major_scale,
        chords: Vec::new(),
        call_steps: 0,
    };
    (setting, events)
}
