//! A melody read as notes and rests on its step grid, the form every criterion works on.

pub(crate) use crate::improv::common::pc_bit;
use cadenza_env::{Event, Setting, HOLD, REST};

/// One note of a monophonic line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Played {
    /// MIDI pitch.
    pub pitch: u8,
    /// Step of the onset.
    pub start: usize,
    /// Steps it sounds (at least 1): until the next onset, the next rest or the end.
    pub duration: usize,
}

/// The notes of `melody` and, per step, whether it is silent (a rest, or before the first
/// note). Events outside the encoding read as holds, as the improvisation terms read them.
pub(crate) fn read(setting: &Setting, melody: &[Event]) -> (Vec<Played>, Vec<bool>) {
    let mut notes: Vec<Played> = Vec::new();
    let mut silent = Vec::with_capacity(melody.len());
    let mut sounding = false;
    for (step, &event) in melody.iter().enumerate() {
        let onset = match event {
            REST | HOLD => None,
            _ => setting.encoding.pitch_of(event),
        };
        match (onset, event) {
            (Some(pitch), _) => {
                notes.push(Played {
                    pitch,
                    start: step,
                    duration: 1,
                });
                sounding = true;
            }
            (None, REST) => sounding = false,
            (None, _) if sounding => {
                if let Some(last) = notes.last_mut() {
                    last.duration += 1;
                }
            }
            (None, _) => {}
        }
        silent.push(!sounding);
    }
    (notes, silent)
}

/// Signed semitone intervals between consecutive notes (rests do not break the line).
pub(crate) fn intervals(notes: &[Played]) -> Vec<i32> {
    notes
        .windows(2)
        .map(|w| i32::from(w[1].pitch) - i32::from(w[0].pitch))
        .collect()
}

/// `part / whole`, or `empty` when there is nothing to count.
pub(crate) fn share(part: usize, whole: usize, empty: f64) -> f64 {
    if whole == 0 {
        empty
    } else {
        part as f64 / whole as f64
    }
}

/// Mean of finite values (0 for none).
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The meter in steps, guarded against zero-sized beats or bars.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    /// Steps per beat (at least 1).
    pub beat: usize,
    /// Steps per bar (at least one beat).
    pub bar: usize,
}

impl Grid {
    pub(crate) fn of(setting: &Setting) -> Self {
        let beat = usize::from(setting.steps_per_beat).max(1);
        Self {
            beat,
            bar: beat * usize::from(setting.beats_per_bar).max(1),
        }
    }
}

/// Pitch classes that belong at `step`: the key's scale and, under a chord, its chord-scale
/// and tones (a chromatic chord tone is not a wrong note).
pub(crate) fn scale_at(setting: &Setting, step: usize) -> u16 {
    match setting.chord_at(step) {
        Some(chord) => setting.scale | chord.scale | chord.tones,
        None => setting.scale,
    }
}
