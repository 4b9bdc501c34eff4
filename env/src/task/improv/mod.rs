//! The `improv` task: a melody improvised over a chord progression.
//!
//! Configured in TOML (every field optional; defaults shown):
//!
//! ```toml
//! key = "C major"          # tonic and mode: "A minor", "Bb blues", "D dorian", ...
//! low = "C4"               # lowest pitch the melody may use
//! high = "C6"              # highest pitch
//! meter = "4/4"
//! tempo = 120.0            # quarter notes per minute
//! steps_per_quarter = 4    # the step grid: 4 = sixteenth notes
//! length = 64              # steps per melody (here 4 bars)
//! progression = "ii-v-i"   # a preset (moved to the key's tonic) or bars: "| Dm7 | G7 | Cmaj7 | % |"
//! mask_out_of_scale = false  # forbid pitches outside the key and the chord-scale
//! history = 4              # recent events in the observation
//! ```
//!
//! The observation holds the recent events, the position in the bar, the current and the
//! next chord, and the fraction of the melody written (see [`crate::compose`]); its size does
//! not depend on `length`. The compact discrete state for tabular agents is the last two
//! events, the position in the bar and the chord segment.
//!
//! ```
//! use cadenza_env::improv::ImprovConfig;
//! let task = ImprovConfig::from_toml("key = \"F major\"\nlength = 32").unwrap().to_task().unwrap();
//! assert_eq!(task.backing[0].symbol, "Gm7"); // ii of F
//! assert_eq!(task.setting.length, 32);
//! ```

mod build;

use super::error::TaskError;
use serde::{Deserialize, Serialize};

/// Configuration of the `improv` task. See the module docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImprovConfig {
    /// Key: tonic and mode, e.g. `C major`, `A minor`, `Bb blues`. Default `C major`.
    pub key: String,
    /// Lowest pitch of the melody, e.g. `C4`. Default `C4`.
    pub low: String,
    /// Highest pitch of the melody. Default `C6`.
    pub high: String,
    /// Time signature. Default `4/4`.
    pub meter: String,
    /// Tempo in quarter notes per minute. Default 120.
    pub tempo: f64,
    /// Steps per quarter note (4 = sixteenths). Default 4.
    pub steps_per_quarter: u32,
    /// Steps per melody. Default 64.
    pub length: usize,
    /// A progression preset (transposed to the key) or bar notation. Default `ii-v-i`.
    pub progression: String,
    /// Forbid pitches outside the key's scale and the current chord-scale. Default false.
    pub mask_out_of_scale: bool,
    /// Recent events in the observation (1..=16). Default 4.
    pub history: usize,
}

impl Default for ImprovConfig {
    fn default() -> Self {
        Self {
            key: "C major".to_string(),
            low: "C4".to_string(),
            high: "C6".to_string(),
            meter: "4/4".to_string(),
            tempo: 120.0,
            steps_per_quarter: 4,
            length: 64,
            progression: "ii-v-i".to_string(),
            mask_out_of_scale: false,
            history: 4,
        }
    }
}

impl ImprovConfig {
    /// Parses TOML; unknown or misspelt fields are errors that name them.
    pub fn from_toml(text: &str) -> Result<Self, TaskError> {
        toml::from_str(text).map_err(|e| TaskError::Parse(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_field_is_named() {
        let err = ImprovConfig::from_toml("lenght = 32")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lenght"), "{err}");
    }
}
