//! A processed corpus: quantised, transposed melodies with what happened to each file.
//!
//! `cadenza corpus import` writes one; `cadenza corpus fit`, `cadenza corpus eval` and
//! `cadenza train --agent bc` read it in place of the directory of MIDI files it came from.
//! It is a JSON object whose `encoding` and `melodies` fields are the plain melody form every
//! command reads (`{"encoding": "rl-tuner-38", "melodies": [[events...], ...]}`), so a reader
//! that knows nothing else still gets the melodies; `files` holds one record per melody, in
//! the same order, with the bar length that behaviour cloning cuts windows at.

use std::path::Path;

use cadenza_env::encoding::{Event, EventEncoding};
use serde::{Deserialize, Serialize};

use super::error::{read_text, write_json, CorpusError};
use super::key::KeyEstimate;

/// The `format` tag of processed corpus files.
pub const PROCESSED_FORMAT: &str = "cadenza-corpus";
/// The version of the processed corpus format this build reads and writes.
pub const PROCESSED_VERSION: u32 = 1;

/// Which side of the train/validation split a melody is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitSide {
    /// Training melody.
    Train,
    /// Held-out validation melody.
    Valid,
}

/// Where the key that a melody was transposed by came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// The file's key signature.
    Signature,
    /// Krumhansl–Schmuckler key finding (the file has no key signature).
    KrumhanslSchmuckler,
    /// No key: the melody was only moved by octaves (no signature, no key found, or no
    /// transposition asked for).
    None,
}

/// How far quantisation moved a file's notes (from the MIDI importer's report).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Quantisation {
    /// Largest move of an onset or an end, in ticks.
    pub max_shift_ticks: f64,
    /// Mean move of onsets and ends, in ticks.
    pub mean_shift_ticks: f64,
    /// The file's resolution, to read the ticks by.
    pub ticks_per_quarter: u16,
    /// Share of onsets that were not on the grid.
    pub moved_onset_fraction: f64,
    /// Notes dropped (chords reduced to their top note, zero-length notes, collisions).
    pub notes_dropped: usize,
}

/// What the import did with one file that gave a melody.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessedFile {
    /// File name inside the imported directory.
    pub file: String,
    /// Title (the first track's name), if the file has one.
    pub title: Option<String>,
    /// Training or validation melody.
    pub split: SplitSide,
    /// Steps per bar of the file's time signature (4/4 when it has none).
    pub steps_per_bar: usize,
    /// The file's first time signature, `[numerator, denominator]`.
    pub time_signature: Option<[u8; 2]>,
    /// The key of the file's key signature, e.g. `"G major"`.
    pub key_signature: Option<String>,
    /// The Krumhansl–Schmuckler key of the notes (always computed, to compare).
    pub key_found: Option<KeyEstimate>,
    /// The key used to transpose.
    pub key_source: KeySource,
    /// Semitones the melody was moved.
    pub transposed: i32,
    /// Notes moved by octaves into the encoding's range after transposition.
    pub folded: usize,
    /// Notes in the melody.
    pub notes: usize,
    /// The chord symbols that came with the melody (ABC quotes, a MIDI chord track), as
    /// (onset step, chord) transposed with the melody: a lead sheet's harmony, for
    /// chord-conditioned models. Empty (and not written) when the tune has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub harmony: Vec<(u32, cadenza_env::music::Chord)>,
    /// How far quantisation moved the notes.
    pub quantisation: Quantisation,
}

/// A processed corpus (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessedCorpus {
    /// Always [`PROCESSED_FORMAT`].
    pub format: String,
    /// Always [`PROCESSED_VERSION`].
    pub version: u32,
    /// The encoding of every melody.
    pub encoding: EventEncoding,
    /// Steps per quarter note of the grid the melodies were quantised to.
    pub steps_per_quarter: u32,
    /// Share of the files held out for validation.
    pub valid_fraction: f64,
    /// Seed of the split.
    pub split_seed: u64,
    /// One event per step, one list per melody.
    pub melodies: Vec<Vec<Event>>,
    /// One record per melody, in the order of `melodies`.
    pub files: Vec<ProcessedFile>,
}

impl ProcessedCorpus {
    /// The melodies and records of one side of the split, as a corpus of their own.
    pub fn subset(&self, side: SplitSide) -> Self {
        let (melodies, files) = self
            .melodies
            .iter()
            .zip(&self.files)
            .filter(|(_, f)| f.split == side)
            .map(|(m, f)| (m.clone(), f.clone()))
            .unzip();
        Self {
            melodies,
            files,
            ..self.clone()
        }
    }

    /// Checks that the records match the melodies and every event is in the encoding; the
    /// error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != PROCESSED_FORMAT {
            return Err(format!(
                "`format` is '{}', expected '{PROCESSED_FORMAT}'",
                self.format
            ));
        }
        if self.version != PROCESSED_VERSION {
            return Err(format!(
                "`version` is {}, this build reads version {PROCESSED_VERSION}",
                self.version
            ));
        }
        if self.melodies.len() != self.files.len() {
            return Err(format!(
                "`melodies` holds {} melodies but `files` {} records; they must match one to one",
                self.melodies.len(),
                self.files.len()
            ));
        }
        let events = self.encoding.num_events();
        for (m, melody) in self.melodies.iter().enumerate() {
            if let Some((step, &event)) = melody
                .iter()
                .enumerate()
                .find(|(_, &e)| usize::from(e) >= events)
            {
                return Err(format!(
                    "`melodies[{m}]`, step {step}: event {event} is outside the encoding {} (0..={})",
                    self.encoding,
                    events - 1
                ));
            }
        }
        for (i, file) in self.files.iter().enumerate() {
            if file.steps_per_bar == 0 {
                return Err(format!(
                    "`files[{i}].steps_per_bar` ({}) must be at least 1",
                    file.file
                ));
            }
        }
        Ok(())
    }

    /// Writes the corpus as JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CorpusError> {
        write_json(path.as_ref(), self)
    }

    /// Reads and validates a corpus written by [`ProcessedCorpus::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CorpusError> {
        let path = path.as_ref();
        Self::from_json(&read_text(path)?).map_err(|message| CorpusError::Malformed {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and validates a corpus from JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let corpus: Self = serde_json::from_str(text)
            .map_err(|e| format!("not a processed corpus ({PROCESSED_FORMAT}): {e}"))?;
        corpus.validate()?;
        Ok(corpus)
    }

    /// Whether `text` claims to be a processed corpus (its `format` field), so that readers
    /// can tell one from the plain melody form before parsing it fully.
    pub fn is_processed(text: &str) -> bool {
        #[derive(Deserialize)]
        struct Tag {
            format: Option<String>,
        }
        serde_json::from_str::<Tag>(text)
            .ok()
            .and_then(|t| t.format)
            .is_some_and(|f| f == PROCESSED_FORMAT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> ProcessedCorpus {
        let file = |name: &str, split| ProcessedFile {
            file: name.to_string(),
            title: None,
            split,
            steps_per_bar: 12,
            time_signature: Some([6, 8]),
            key_signature: Some("D major".into()),
            key_found: None,
            key_source: KeySource::Signature,
            transposed: -2,
            folded: 0,
            notes: 2,
            harmony: vec![
                (0, "D".parse().expect("a chord")),
                (8, "A7".parse().expect("a chord")),
            ],
            quantisation: Quantisation::default(),
        };
        ProcessedCorpus {
            format: PROCESSED_FORMAT.into(),
            version: PROCESSED_VERSION,
            encoding: EventEncoding::RL_TUNER_38,
            steps_per_quarter: 4,
            valid_fraction: 0.5,
            split_seed: 0,
            melodies: vec![vec![14, 1, 16], vec![0, 18]],
            files: vec![
                file("a.mid", SplitSide::Train),
                file("b.mid", SplitSide::Valid),
            ],
        }
    }

    #[test]
    fn round_trips_and_splits() {
        let c = corpus();
        let text = serde_json::to_string(&c).unwrap();
        assert!(ProcessedCorpus::is_processed(&text));
        assert!(!ProcessedCorpus::is_processed(r#"{"melodies": [[1]]}"#));
        assert_eq!(ProcessedCorpus::from_json(&text).unwrap(), c);
        let valid = c.subset(SplitSide::Valid);
        assert_eq!(valid.melodies, vec![vec![0, 18]]);
        assert_eq!(valid.files[0].file, "b.mid");
    }

    #[test]
    fn bad_corpora_name_the_field() {
        let mut c = corpus();
        c.melodies[1][1] = 38;
        assert!(c.validate().unwrap_err().contains("melodies[1]"));
        let mut c = corpus();
        c.files.pop();
        assert!(c.validate().unwrap_err().contains("`files`"));
        let mut c = corpus();
        c.files[0].steps_per_bar = 0;
        assert!(c.validate().unwrap_err().contains("files[0].steps_per_bar"));
        let mut c = corpus();
        c.version = 9;
        assert!(c.validate().unwrap_err().contains("version"));
        assert!(ProcessedCorpus::from_json("{}").is_err());
    }
}
