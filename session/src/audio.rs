//! A small built-in synthesiser: a phrase and its backing chords rendered to a WAV file.
//!
//! The lead is a triangle wave with a short attack and an exponential decay, the chords a
//! soft sine pad; mono, 16-bit, 22,050 Hz. No sound fonts, no dependencies.

use cadenza_env::{Event, TaskSpec};
use std::path::Path;

/// Sample rate of rendered audio.
pub const SAMPLE_RATE: u32 = 22_050;

fn frequency(pitch: f64) -> f64 {
    440.0 * 2f64.powf((pitch - 69.0) / 12.0)
}

/// Renders `events` (a phrase of `task`) over the task's backing chords into 16-bit samples.
pub fn render(task: &TaskSpec, events: &[Event]) -> Vec<i16> {
    let step_seconds = 60.0 / task.tempo_qpm / task_steps_per_quarter(task);
    let step_samples = (step_seconds * f64::from(SAMPLE_RATE)).round().max(1.0) as usize;
    let total = events.len() * step_samples + SAMPLE_RATE as usize / 2;
    let mut mix = vec![0.0f64; total];
    let sr = f64::from(SAMPLE_RATE);

    // Pad: each chord's tones as soft sines with slow attack and release.
    for chord in &task.backing {
        let start = chord.start as usize * step_samples;
        let len = (chord.steps as usize * step_samples).min(total.saturating_sub(start));
        for &pitch in &chord.pitches {
            let f = frequency(f64::from(pitch));
            for i in 0..len {
                let t = i as f64 / sr;
                let fade = (t / 0.08).min(1.0) * ((len - i) as f64 / (0.08 * sr)).min(1.0);
                mix[start + i] += 0.05 * fade * (2.0 * std::f64::consts::PI * f * t).sin();
            }
        }
    }

    // Lead: triangle wave with an attack-decay envelope.
    if let Ok(notes) = task.setting.encoding.to_notes(events) {
        for note in notes {
            let start = note.start as usize * step_samples;
            let len = (note.duration as usize * step_samples).min(total.saturating_sub(start));
            let f = frequency(f64::from(note.pitch));
            for i in 0..len {
                let t = i as f64 / sr;
                let phase = (f * t).fract();
                let tri = 4.0 * (phase - 0.5).abs() - 1.0;
                let attack = (t / 0.01).min(1.0);
                let release = ((len - i) as f64 / (0.02 * sr)).min(1.0);
                let env = attack * release * (0.35 + 0.65 * (-t * 3.0).exp());
                mix[start + i] += 0.3 * env * tri;
            }
        }
    }
    mix.iter()
        .map(|&x| (x.clamp(-1.0, 1.0) * f64::from(i16::MAX)) as i16)
        .collect()
}

fn task_steps_per_quarter(task: &TaskSpec) -> f64 {
    task.improv
        .as_ref()
        .map_or(4.0, |c| f64::from(c.steps_per_quarter))
}

/// The bytes of a mono 16-bit PCM WAV file holding `samples`.
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Renders a phrase with its backing to a WAV file.
pub fn write_wav(task: &TaskSpec, events: &[Event], path: &Path) -> std::io::Result<()> {
    std::fs::write(path, wav_bytes(&render(task, events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_valid_wav_of_the_right_length() {
        let task = TaskSpec::by_name("improv", Some("length = 16")).unwrap();
        let events = vec![task.setting.encoding.event_of_pitch(62).unwrap(); 16];
        let samples = render(&task, &events);
        // 16 sixteenths at 120 qpm = 2 s (to a whole number of samples per step), plus
        // half a second of tail.
        assert!(
            samples.len().abs_diff(2 * 22_050 + 11_025) <= 16,
            "{}",
            samples.len()
        );
        assert!(samples.iter().any(|&s| s != 0));
        let bytes = wav_bytes(&samples);
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(bytes.len(), 44 + 2 * samples.len());
    }
}
