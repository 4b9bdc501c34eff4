//! The melodies a bench scores, in which encoding and frame: checked on the way in, and
//! read from a directory of MIDI files.

use super::error::{BenchError, Skipped};
use cadenza_env::encoding::{Event, EventEncoding};
use cadenza_env::midi::{ImportOptions, ImportedMelody, OutOfRange};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The encoding of every melody the bench scores (Magenta's, which the RL Tuner terms need).
pub const ENCODING: EventEncoding = EventEncoding::RL_TUNER_38;

/// How melodies are presented to a reward. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frame {
    /// Magenta's setting: C major, no chords; the RL Tuner reward restarts every 32 steps.
    RlTuner,
    /// The `improv` task's setting over a tonic-chord drone in the melody's meter and key.
    Improv,
}

/// A melody to score: events in [`ENCODING`], transposed to C major or A minor.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    /// A name for reports (e.g. the file name).
    pub name: String,
    /// One event per step.
    pub events: Vec<Event>,
    /// Time signature (numerator, denominator).
    pub meter: (u8, u8),
    /// Whether the key is minor (A minor after transposition) rather than major (C major).
    pub minor: bool,
    /// Steps per quarter note of the events (4 = sixteenths).
    pub steps_per_quarter: u32,
}

impl Melody {
    /// A melody on a sixteenth-note grid, checked: every event in [`ENCODING`], a meter with
    /// a numerator of 1..=32 and a denominator of 1, 2, 4, 8, 16 or 32.
    pub fn new(
        name: impl Into<String>,
        events: Vec<Event>,
        meter: (u8, u8),
        minor: bool,
    ) -> Result<Self, BenchError> {
        let melody = Self {
            name: name.into(),
            events,
            meter,
            minor,
            steps_per_quarter: 4,
        };
        melody.validate()?;
        Ok(melody)
    }

    pub(super) fn validate(&self) -> Result<(), BenchError> {
        let bad = |message: String| BenchError::BadMelody {
            name: self.name.clone(),
            message,
        };
        if let Some(pos) = self
            .events
            .iter()
            .position(|&e| !ENCODING.contains(e as usize))
        {
            return Err(bad(format!(
                "event {} at step {pos} is outside {ENCODING} (0..={})",
                self.events[pos],
                ENCODING.num_events() - 1
            )));
        }
        let (num, den) = self.meter;
        if !(1..=32).contains(&num) || !matches!(den, 1 | 2 | 4 | 8 | 16 | 32) {
            return Err(bad(format!(
                "meter {num}/{den}: expected a numerator 1..=32 and a denominator 1, 2, 4, 8, 16 or 32"
            )));
        }
        if !(1..=48).contains(&self.steps_per_quarter) {
            return Err(bad(format!(
                "{} steps per quarter: expected 1..=48",
                self.steps_per_quarter
            )));
        }
        Ok(())
    }

    /// Steps per bar of the melody's meter (at least 1).
    pub fn steps_per_bar(&self) -> usize {
        let (num, den) = self.meter;
        (self.steps_per_quarter as usize * 4 * num as usize / den.max(1) as usize).max(1)
    }

    /// A melody from an imported MIDI file: moved so that its key signature's major key is C
    /// (its minor key A minor), by the octave that keeps most notes in [`ENCODING`]; notes
    /// still outside are folded by octaves. Without a key signature the melody is read as
    /// C major and only moved by octaves.
    pub fn from_imported(
        name: impl Into<String>,
        imported: &ImportedMelody,
    ) -> Result<Self, BenchError> {
        let name = name.into();
        let key = imported.key_signature;
        // Each sharp moves the major tonic a fifth (7 semitones) up.
        let base = key.map_or(0, |k| -(7 * i32::from(k.sharps)).rem_euclid(12));
        let (min, max) = (
            i32::from(ENCODING.min_pitch()),
            i32::from(ENCODING.max_pitch()),
        );
        let shift = (-2..=2)
            .map(|octave| base + 12 * octave)
            .min_by_key(|&shift| {
                let outside = imported
                    .notes
                    .iter()
                    .filter(|n| !(min..=max).contains(&(i32::from(n.pitch) + shift)))
                    .count();
                (outside, shift.abs())
            })
            .unwrap_or(base);
        let mut moved = imported.clone();
        for note in &mut moved.notes {
            note.pitch = (i32::from(note.pitch) + shift).clamp(0, 127) as u8;
        }
        let events = moved
            .to_events(ENCODING, OutOfRange::FoldOctaves)
            .map_err(|e| BenchError::BadMelody {
                name: name.clone(),
                message: e.to_string(),
            })?;
        let melody = Self {
            name,
            events,
            meter: imported.time_signature.unwrap_or((4, 4)),
            minor: key.is_some_and(|k| k.minor),
            steps_per_quarter: imported.steps_per_quarter,
        };
        melody.validate()?;
        Ok(melody)
    }
}

/// Melodies read from a directory of MIDI files, and the files left out.
#[derive(Debug, Clone, Default)]
pub struct CorpusLoad {
    /// The melodies, in file-name order.
    pub melodies: Vec<Melody>,
    /// Files that gave no melody.
    pub skipped: Vec<Skipped>,
}

/// Reads every `.mid`/`.midi` file of `dir` (in file-name order, at most `limit` melodies)
/// with [`Melody::from_imported`]. Files that fail are skipped with their error; only a
/// directory that cannot be listed is an error.
pub fn load_midi_dir(dir: &Path, limit: Option<usize>) -> Result<CorpusLoad, BenchError> {
    let io = |source| BenchError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    paths.sort();
    let mut load = CorpusLoad::default();
    for path in paths {
        if limit.is_some_and(|l| load.melodies.len() >= l) {
            break;
        }
        let is_midi = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"));
        if !is_midi {
            continue;
        }
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let result = cadenza_env::midi::import_file(&path, &ImportOptions::default())
            .map_err(|e| e.to_string())
            .and_then(|m| Melody::from_imported(&name, &m).map_err(|e| e.to_string()));
        match result {
            Ok(melody) => load.melodies.push(melody),
            Err(reason) => load.skipped.push(Skipped { item: name, reason }),
        }
    }
    Ok(load)
}
