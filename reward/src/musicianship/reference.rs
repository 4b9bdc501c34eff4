//! The reference corpus that [`super::report`] measures a set's distance to.

use cadenza_env::{Event, EventEncoding, Setting};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Format of a reference-set file.
const FORMAT: &str = "cadenza-reference-set";
/// Version of the file format this build reads and writes.
const VERSION: u32 = 1;

/// The shipped reference: the musicianship calibration's tuning set (60 tunes of the
/// O'Neill's corpus, each its first 64 steps in its own key and meter). Reproduced byte for
/// byte by the `musicianship` test with `CADENZA_WRITE_REFERENCE=1`.
pub const BUILTIN_REFERENCE_JSON: &str = include_str!("../../data/reference-oneills.json");

/// Melodies, each with its setting (no chords).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSet {
    /// Where the melodies come from, in words.
    pub source: String,
    /// The melodies.
    pub melodies: Vec<Vec<Event>>,
    /// The setting of each melody.
    pub settings: Vec<Setting>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceFile {
    format: String,
    version: u32,
    source: String,
    tunes: Vec<ReferenceTune>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceTune {
    min_pitch: u8,
    max_pitch: u8,
    steps_per_beat: u16,
    beats_per_bar: u16,
    tonic: u8,
    scale: u16,
    events: Vec<Event>,
}

impl ReferenceSet {
    /// The reference shipped with Cadenza ([`BUILTIN_REFERENCE_JSON`]), parsed once.
    pub fn builtin() -> &'static ReferenceSet {
        static SET: OnceLock<ReferenceSet> = OnceLock::new();
        // The shipped file is checked by the test that reproduces it.
        SET.get_or_init(|| {
            ReferenceSet::from_json(BUILTIN_REFERENCE_JSON).expect("the shipped reference parses")
        })
    }

    /// The set as JSON (the shipped file's form).
    pub fn to_json(&self) -> String {
        let tunes = self
            .melodies
            .iter()
            .zip(&self.settings)
            .map(|(events, s)| ReferenceTune {
                min_pitch: s.encoding.min_pitch(),
                max_pitch: s.encoding.max_pitch(),
                steps_per_beat: s.steps_per_beat,
                beats_per_bar: s.beats_per_bar,
                tonic: s.tonic,
                scale: s.scale,
                events: events.clone(),
            })
            .collect();
        let file = ReferenceFile {
            format: FORMAT.to_string(),
            version: VERSION,
            source: self.source.clone(),
            tunes,
        };
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// A set from JSON written by [`ReferenceSet::to_json`]; the error says what is wrong.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: ReferenceFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(format!(
                "expected format '{FORMAT}' version {VERSION}, found '{}' version {}",
                file.format, file.version
            ));
        }
        let mut set = ReferenceSet {
            source: file.source,
            melodies: Vec::new(),
            settings: Vec::new(),
        };
        for (i, t) in file.tunes.into_iter().enumerate() {
            let encoding = EventEncoding::new(t.min_pitch, t.max_pitch)
                .map_err(|e| format!("tune {i}: {e}"))?;
            set.settings.push(Setting {
                encoding,
                length: t.events.len(),
                steps_per_beat: t.steps_per_beat,
                beats_per_bar: t.beats_per_bar,
                tonic: t.tonic % 12,
                scale: t.scale & 0x0fff,
                chords: Vec::new(),
                call_steps: 0,
            });
            set.melodies.push(t.events);
        }
        Ok(set)
    }
}
