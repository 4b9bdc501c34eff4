//! Live MIDI output (feature `midi-out`): a phrase and its backing chords played in real time
//! through a MIDI port, to a synthesiser or a DAW.
//!
//! The lead goes out on channel 1, the chords on channel 2 (held for each chord's span),
//! with their root an octave lower as a bass on channel 3. On Linux the ports are ALSA
//! sequencer ports (midir needs ALSA's headers to build: libasound2-dev and pkg-config).

use crate::error::SessionError;
use cadenza_env::{Event, TaskSpec};
use midir::{MidiOutput, MidiOutputConnection};
use std::time::{Duration, Instant};

const CLIENT: &str = "cadenza";
const LEAD: u8 = 0;
const CHORDS: u8 = 1;
const BASS: u8 = 2;

/// An open MIDI output port.
pub struct MidiOut {
    connection: MidiOutputConnection,
    port: String,
}

impl std::fmt::Debug for MidiOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidiOut").field("port", &self.port).finish()
    }
}

fn error(message: impl std::fmt::Display) -> SessionError {
    SessionError::MidiOut(message.to_string())
}

/// The names of the MIDI output ports there are now.
pub fn port_names() -> Result<Vec<String>, SessionError> {
    let output = MidiOutput::new(CLIENT).map_err(|e| error(format!("no MIDI system: {e}")))?;
    Ok(output
        .ports()
        .iter()
        .filter_map(|p| output.port_name(p).ok())
        .collect())
}

impl MidiOut {
    /// Opens the output port named `name`: an exact name, or else the one port whose name
    /// contains `name` (case-insensitive). When none or several match, the error lists the
    /// ports there are.
    pub fn open(name: &str) -> Result<Self, SessionError> {
        let output = MidiOutput::new(CLIENT).map_err(|e| {
            error(format!(
                "cannot open the MIDI system ({e}); on Linux this needs the ALSA sequencer (/dev/snd/seq, module snd-seq)"
            ))
        })?;
        let (found, port) = crate::midi_ports::open_port(&output, name, "output").map_err(error)?;
        let connection = output
            .connect(&found, "cadenza-session")
            .map_err(|e| error(format!("cannot connect to '{port}': {e}")))?;
        let mut out = Self { connection, port };
        // Pads and bass: warm pad (GM 90), acoustic bass (33); the lead keeps the port's
        // default program.
        out.send(&[0xC0 | CHORDS, 89])?;
        out.send(&[0xC0 | BASS, 32])?;
        Ok(out)
    }

    /// The port's name.
    pub fn port(&self) -> &str {
        &self.port
    }

    fn send(&mut self, message: &[u8]) -> Result<(), SessionError> {
        self.connection
            .send(message)
            .map_err(|e| error(format!("'{}': {e}", self.port)))
    }

    /// Plays `events` (a phrase of `task`) with the backing chords, in real time; returns
    /// when the phrase has ended, every note released.
    pub fn play(&mut self, task: &TaskSpec, events: &[Event]) -> Result<(), SessionError> {
        let timeline = timeline(task, events);
        let step = Duration::from_secs_f64(60.0 / task.tempo_qpm / steps_per_quarter(task));
        let start = Instant::now();
        let mut result = Ok(());
        for (at_step, message) in &timeline {
            let at = start + step.mul_f64(*at_step as f64);
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if let Err(e) = self.send(message) {
                result = Err(e);
                break;
            }
        }
        // All notes off on every channel used, even after an error.
        for channel in [LEAD, CHORDS, BASS] {
            let _ = self.send(&[0xB0 | channel, 123, 0]);
        }
        result
    }
}

fn steps_per_quarter(task: &TaskSpec) -> f64 {
    task.improv
        .as_ref()
        .map_or(4.0, |c| f64::from(c.steps_per_quarter))
}

/// Every MIDI message of a phrase with its step, in time order (note-offs before note-ons
/// at the same step, so repeated pitches retrigger).
pub fn timeline(task: &TaskSpec, events: &[Event]) -> Vec<(u32, [u8; 3])> {
    let mut out: Vec<(u32, [u8; 3])> = Vec::new();
    let mut add = |start: u32, steps: u32, channel: u8, pitch: u8, velocity: u8| {
        out.push((start, [0x90 | channel, pitch & 0x7F, velocity]));
        out.push((start + steps, [0x80 | channel, pitch & 0x7F, 0]));
    };
    for chord in &task.backing {
        for &p in &chord.pitches {
            add(chord.start, chord.steps, CHORDS, p, 56);
        }
        if let Some(&root) = chord.pitches.iter().min() {
            add(chord.start, chord.steps, BASS, root.saturating_sub(12), 80);
        }
    }
    if let Ok(notes) = task.setting.encoding.to_notes(events) {
        for n in notes {
            add(n.start, n.duration, LEAD, n.pitch, 96);
        }
    }
    // Offs (0x80) sort before ons (0x90) at the same step.
    out.sort_by_key(|(step, m)| (*step, m[0] & 0xF0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_ordered_and_balanced() {
        let task = TaskSpec::by_name("improv", Some("length = 16")).unwrap();
        let e = task.setting.encoding.event_of_pitch(64).unwrap();
        let events = vec![e, e, e, e, e, e, e, e, 0, 0, 0, 0, e, 1, 1, 1];
        let t = timeline(&task, &events);
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
        let ons = t.iter().filter(|(_, m)| m[0] & 0xF0 == 0x90).count();
        let offs = t.iter().filter(|(_, m)| m[0] & 0xF0 == 0x80).count();
        assert_eq!(ons, offs);
        assert!(t.iter().any(|(_, m)| m[0] == 0x90 && m[1] == 64));
    }
}
