//! Saving and loading models as JSON.
//!
//! A file holds the settings and the highest-order counts only: the lower orders, discounts and
//! back-off weights are rebuilt from them on load by the same code that fitting uses, so a
//! loaded model gives bit-identical probabilities. Each n-gram is `[context, event, count]`
//! with the context packed as in memory (byte `i` = the `i+1`-th most recent event, 255 =
//! begin-of-melody, byte 7 = position class), which keeps files compact.

use std::path::Path;

use cadenza_env::encoding::{Event, EventEncoding};
use serde::{Deserialize, Serialize};

use super::error::{read_text, write_json, CorpusError};
use super::ngram::{events_mask, num_position_classes, NgramConfig, NgramModel, BOS};

/// The format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// The `kind` tag of n-gram model files.
pub(crate) const KIND: &str = "ngram";

/// A model file: the settings and the highest-order counts.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    /// Checked through [`Header`] before the rest is read, for a clearer error.
    format_version: u64,
    /// Likewise.
    kind: String,
    config: NgramConfig,
    encoding: EventEncoding,
    steps_per_bar: usize,
    training_melodies: usize,
    training_events: u64,
    ngrams: Vec<(u64, Event, u32)>,
}

/// Read before the rest, so that a file of another kind or version is reported as such rather
/// than as whatever field its layout happens to lack.
#[derive(Deserialize)]
struct Header {
    format_version: Option<serde_json::Value>,
    kind: Option<serde_json::Value>,
}

impl NgramModel {
    /// Saves the model as JSON to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CorpusError> {
        let path = path.as_ref();
        let file = ModelFile {
            format_version: FORMAT_VERSION.into(),
            kind: KIND.to_string(),
            config: *self.config(),
            encoding: self.encoding(),
            steps_per_bar: self.steps_per_bar(),
            training_melodies: self.training_melodies(),
            training_events: self.training_events(),
            ngrams: self.top_counts(),
        };
        write_json(path, &file)
    }

    /// Loads a model saved by [`NgramModel::save`]. Errors name the file and say whether it
    /// could not be read, holds another kind of model, another format version, or bad data.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CorpusError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let malformed = |message: String| CorpusError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let header: Header = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        match header.kind {
            Some(serde_json::Value::String(kind)) if kind == KIND => {}
            Some(serde_json::Value::String(kind)) => {
                return Err(CorpusError::WrongKind {
                    path: path.to_path_buf(),
                    found: kind,
                    expected: KIND,
                })
            }
            Some(other) => return Err(malformed(format!("`kind` must be a string, got {other}"))),
            None => return Err(malformed("missing field `kind`".into())),
        }
        match header.format_version {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(FORMAT_VERSION)) => {
            }
            Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
                return Err(CorpusError::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found: n.as_u64().unwrap_or_default(),
                    supported: FORMAT_VERSION,
                })
            }
            Some(other) => {
                return Err(malformed(format!(
                    "`format_version` must be a non-negative integer, got {other}"
                )))
            }
            None => return Err(malformed("missing field `format_version`".into())),
        }
        let file: ModelFile = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        check_file(&file).map_err(malformed)?;
        Ok(NgramModel::build(
            file.config,
            file.encoding,
            file.steps_per_bar,
            &file.ngrams,
            file.training_melodies,
            file.training_events,
        ))
    }
}

/// Checks that the counts are ones that fitting could have produced, so that a damaged or
/// hand-edited file cannot yield a model that silently misbehaves.
fn check_file(file: &ModelFile) -> Result<(), String> {
    file.config
        .validate_with(file.steps_per_bar)
        .map_err(|e| e.to_string())?;
    if file.ngrams.is_empty() {
        return Err("`ngrams` is empty".into());
    }
    let vocab = file.encoding.num_events();
    let context_len = file.config.order - 1;
    let classes = num_position_classes(&file.config, file.steps_per_bar);
    let event_bits = events_mask(context_len);
    for (i, window) in file.ngrams.windows(2).enumerate() {
        if (window[0].0, window[0].1) >= (window[1].0, window[1].1) {
            return Err(format!(
                "`ngrams` must be sorted without duplicates (entries {i} and {})",
                i + 1
            ));
        }
    }
    for (i, &(key, event, count)) in file.ngrams.iter().enumerate() {
        let bad = |what: String| format!("n-gram {i} ({key}, {event}, {count}): {what}");
        if usize::from(event) >= vocab {
            return Err(bad(format!(
                "event {event} is outside the encoding {}",
                file.encoding
            )));
        }
        if count == 0 {
            return Err(bad("count is zero".into()));
        }
        let position = key >> 56;
        let rest = key & !(0xFF << 56);
        if file.config.use_position && position >= classes {
            return Err(bad(format!("position class {position} is out of range")));
        }
        if !file.config.use_position && position != 0 {
            return Err(bad("has a position but the model does not use one".into()));
        }
        if rest & !event_bits != 0 {
            return Err(bad(format!("context is longer than {context_len} events")));
        }
        let mut seen_padding = false;
        for byte in rest.to_le_bytes().into_iter().take(context_len) {
            if byte == BOS {
                seen_padding = true;
            } else if seen_padding || usize::from(byte) >= vocab {
                return Err(bad(format!("context event {byte} is invalid")));
            }
        }
    }
    Ok(())
}
