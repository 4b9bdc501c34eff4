//! [`TaskSpec`]: everything that defines a task, and what follows from it.

use super::improv::ImprovConfig;
use super::layout::ObservationLayout;
use crate::reward::Setting;

/// One chord of the backing track, for MIDI export and playback.
#[derive(Debug, Clone, PartialEq)]
pub struct BackingChord {
    /// First step.
    pub start: u32,
    /// Number of steps.
    pub steps: u32,
    /// Chord symbol, e.g. `Dm7`.
    pub symbol: String,
    /// MIDI pitches of a close voicing.
    pub pitches: Vec<u8>,
}

/// Everything that defines a task. Build one by name with [`TaskSpec::by_name`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The task's name.
    pub name: String,
    /// The musical frame rewards see.
    pub setting: Setting,
    /// What the observation holds.
    pub layout: ObservationLayout,
    /// How many recent events the compact discrete state keeps (at most 4). `rl-tuner` keeps
    /// two: with the step index that is few enough states for a tabular agent to visit each
    /// often within a few million steps.
    pub state_history: usize,
    /// Whether the compact state also holds the melodic context that RL Tuner-style rewards
    /// remember beyond the last events: the number of distinct pitches among the last seven
    /// events (capped at 3: an eighth event makes a motif with three) and the direction of a
    /// pending leap (a leap of a fifth or more not yet answered by a step back past its
    /// origin or a leap the other way). `rl-tuner` keeps it: it lets a tabular agent learn
    /// the motif and leap terms, and about doubles the states visited (99k instead of 43k in
    /// 5 million steps).
    pub state_melodic_context: bool,
    /// Tempo in quarter notes per minute (for MIDI and playback).
    pub tempo_qpm: f64,
    /// Time signature (numerator, denominator).
    pub meter: (u8, u8),
    /// MIDI key signature: sharps (negative = flats) and whether minor.
    pub key_signature: (i8, bool),
    /// Human-readable key, e.g. `C major`.
    pub key_name: String,
    /// The backing chords (empty without a progression).
    pub backing: Vec<BackingChord>,
    /// Mask out pitches outside the key's scale and the chord-scale of the current chord.
    pub mask_out_of_scale: bool,
    /// The configuration a configurable task was built from.
    pub improv: Option<ImprovConfig>,
}

impl TaskSpec {
    /// The action masks: one per step (`length * num_events` flags, `true`) or a single
    /// shared one (`false`).
    pub fn masks(&self) -> (Vec<bool>, bool) {
        let encoding = self.setting.encoding;
        let ne = encoding.num_events();
        if !self.mask_out_of_scale {
            return (vec![true; ne], false);
        }
        let mut masks = vec![true; ne * self.setting.length];
        for step in 0..self.setting.length {
            let allowed = self.setting.scale | self.setting.chord_at(step).map_or(0, |c| c.scale);
            for event in 0..ne {
                if let Some(pitch) = encoding.pitch_of(event as u8) {
                    masks[step * ne + event] = allowed & (1 << (pitch % 12)) != 0;
                }
            }
        }
        (masks, true)
    }
}
