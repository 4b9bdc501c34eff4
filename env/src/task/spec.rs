//! [`TaskSpec`]: everything that defines a task, and what follows from it.

use super::duet::DuetSpec;
use super::improv::ImprovConfig;
use super::layout::ObservationLayout;
use crate::compact_state::CompactState;
use crate::encoding::{EncodingError, Event, Note};
use crate::midi::{ChordSpan, KeySignature, MidiSong};
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
    /// What the compact discrete state for tabular agents holds.
    pub state: CompactState,
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
    /// What makes the task a duet (its configuration and partner); `None` otherwise.
    pub duet: Option<DuetSpec>,
}

impl TaskSpec {
    /// Length of the observation vector of this task's env (see [`ObservationLayout`]).
    pub fn observation_dim(&self) -> usize {
        let setting = &self.setting;
        self.layout.dim(
            setting.encoding.num_events(),
            setting.length,
            setting.steps_per_bar(),
        )
    }

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
    /// Steps per quarter note of the task's grid (4 for sixteenths). A beat is one unit of the
    /// meter's denominator, so a quarter holds `steps_per_beat * denominator / 4` steps: 4 in
    /// 4/4 at 4 steps a beat, in 6/8 at 2 and in 2/2 at 8. A frame whose beat is not a whole
    /// number of steps per quarter (only a hand-built one) counts a beat as a quarter.
    pub fn steps_per_quarter(&self) -> u32 {
        let per_beat = u32::from(self.setting.steps_per_beat);
        let per_whole = per_beat * u32::from(self.meter.1);
        if per_whole % 4 == 0 {
            (per_whole / 4).max(1)
        } else {
            per_beat.max(1)
        }
    }

    /// The key signature for MIDI files.
    pub fn midi_key_signature(&self) -> KeySignature {
        KeySignature {
            sharps: self.key_signature.0,
            minor: self.key_signature.1,
        }
    }

    /// The backing chords as MIDI chord spans (each with its symbol), `offset` steps later.
    pub fn chord_spans(&self, offset: u32) -> Vec<ChordSpan> {
        self.backing
            .iter()
            .map(|chord| ChordSpan {
                start: chord.start + offset,
                duration: chord.steps,
                pitches: chord.pitches.clone(),
                symbol: Some(chord.symbol.clone()),
            })
            .collect()
    }

    /// An untitled song of `notes` over `chords`, in the task's frame: its tempo, meter, key
    /// signature and step grid, with [`MidiSong::new`]'s instruments and velocities. Change
    /// the rest with struct update syntax: `MidiSong { title, ..task.song(notes, chords) }`.
    pub fn song(&self, notes: Vec<Note>, chords: Vec<ChordSpan>) -> MidiSong {
        MidiSong {
            tempo_qpm: self.tempo_qpm,
            time_signature: self.meter,
            key_signature: Some(self.midi_key_signature()),
            chords,
            ..MidiSong::new(notes, self.steps_per_quarter())
        }
    }

    /// A melody of the task (one event per step) as an untitled song over the task's backing
    /// chords, in the task's frame (see [`TaskSpec::song`]).
    ///
    /// ```
    /// use cadenza_env::midi::MidiSong;
    /// use cadenza_env::TaskSpec;
    /// let task = TaskSpec::by_name("improv", Some("meter = \"6/8\"\nlength = 24")).unwrap();
    /// let melody = vec![14; 24]; // C5, struck on every step
    /// let song = MidiSong { title: Some("Sketch".into()), ..task.melody_song(&melody).unwrap() };
    /// assert_eq!(song.steps_per_quarter, 4);
    /// assert_eq!(song.time_signature, (6, 8));
    /// assert_eq!(song.chords[0].symbol.as_deref(), Some("Dm7"));
    /// let bytes = song.to_bytes().unwrap();
    /// # assert!(!bytes.is_empty());
    /// ```
    pub fn melody_song(&self, melody: &[Event]) -> Result<MidiSong, EncodingError> {
        let notes = self.setting.encoding.to_notes(melody)?;
        Ok(self.song(notes, self.chord_spans(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn improv(toml: &str) -> TaskSpec {
        TaskSpec::by_name("improv", Some(toml)).unwrap()
    }

    #[test]
    fn steps_per_quarter_follows_the_configured_grid_in_every_meter() {
        assert_eq!(TaskSpec::rl_tuner().steps_per_quarter(), 4);
        let mut built = 0;
        for meter in ["4/4", "3/4", "6/8", "12/8", "2/2", "3/2", "7/8", "2/4"] {
            for spq in [1, 2, 3, 4, 6, 8, 12] {
                let toml = format!("meter = \"{meter}\"\nsteps_per_quarter = {spq}\nlength = 96");
                // Grids that do not divide the meter's beat are refused when the task is built.
                if let Ok(task) = TaskSpec::by_name("improv", Some(&toml)) {
                    assert_eq!(task.steps_per_quarter(), spq, "{meter} at {spq}");
                    built += 1;
                }
            }
        }
        assert!(built >= 40, "only {built} grids built");
        assert_eq!(improv("meter = \"2/2\"").steps_per_quarter(), 4);
    }

    #[test]
    fn a_melody_song_carries_the_task_frame_and_its_backing() {
        let task = improv("key = \"A minor\"\ntempo = 90.0\nmeter = \"3/4\"\nlength = 24");
        let melody: Vec<Event> = (0..24).map(|i| if i % 2 == 0 { 14 } else { 1 }).collect();
        let song = task.melody_song(&melody).unwrap();
        assert_eq!(song.title, None);
        assert_eq!(song.tempo_qpm, 90.0);
        assert_eq!(song.time_signature, (3, 4));
        assert_eq!(song.steps_per_quarter, 4);
        assert_eq!(
            song.key_signature,
            Some(KeySignature {
                sharps: 0,
                minor: true
            })
        );
        assert_eq!(song.melody.len(), 12);
        assert_eq!(song.chords.len(), task.backing.len());
        let last = song.chords.last().unwrap();
        assert_eq!(last.start + last.duration, 24);
        assert_eq!(task.chord_spans(24)[0].start, 24);
        assert!(task.melody_song(&[200]).is_err());
    }

    #[test]
    fn melody_songs_keep_the_bytes_of_the_conversions_they_replace() {
        // FNV-1a 64 of the files the Python package's `to_midi` wrote before it used
        // `melody_song` (default title, tempo, program and chords).
        for (name, config, expected) in [
            ("rl-tuner", None, 0x8cc9_2ec4_1649_a5c7),
            (
                "improv",
                Some("key = \"A minor\"\nmeter = \"6/8\"\nprogression = \"blues\"\nlength = 48"),
                0xfae1_4d18_cefc_326a,
            ),
        ] {
            let task = TaskSpec::by_name(name, config).unwrap();
            let ne = task.setting.encoding.num_events();
            let melody: Vec<Event> = (0..task.setting.length)
                .map(|i| ((i * 7 + 3) % ne) as Event)
                .collect();
            let song = MidiSong {
                title: Some(format!("Cadenza: {name}")),
                ..task.melody_song(&melody).unwrap()
            };
            let bytes = song.to_bytes().unwrap();
            assert_eq!(crate::hash::fnv1a64(&bytes), expected, "{name}");
        }
    }
}
