//! MIDI import and export: melodies in, songs out, as Standard MIDI Files.
//!
//! Everything here works on owned, plain data. [`MidiSong`] describes a song to write: a
//! melody in steps (the [`Note`]s of [`crate::encoding`]), an optional chord accompaniment, a
//! title, tempo, meter and key. [`import_bytes`] reads any format 0 or format 1 file into an
//! [`ImportedMelody`]: one monophonic, quantised line plus an [`ImportReport`] that says what
//! had to be changed to get there. Neither [`MidiSong::to_bytes`] nor [`import_bytes`] touches
//! the file system; [`MidiSong::write`] and [`import_file`] are the thin file-level twins.
//!
//! # A round trip
//!
//! ```
//! use cadenza_env::encoding::{EventEncoding, Note, HOLD, REST};
//! use cadenza_env::midi::{import_bytes, ImportOptions, KeySignature, MidiSong, OutOfRange};
//!
//! # fn main() -> Result<(), cadenza_env::midi::MidiError> {
//! // Four sixteenth-note steps per quarter: C, D, a rest, then a long E.
//! let melody = vec![
//!     Note { pitch: 60, start: 0, duration: 2 },
//!     Note { pitch: 62, start: 2, duration: 2 },
//!     Note { pitch: 64, start: 6, duration: 4 },
//! ];
//! let song = MidiSong {
//!     title: Some("Three notes".to_string()),
//!     key_signature: Some(KeySignature { sharps: 0, minor: false }),
//!     ..MidiSong::new(melody.clone(), 4)
//! };
//! let bytes = song.to_bytes()?;
//!
//! let imported = import_bytes(&bytes, &ImportOptions::default())?;
//! assert_eq!(imported.notes, melody);
//! assert_eq!(imported.title.as_deref(), Some("Three notes"));
//! assert_eq!(imported.time_signature, Some((4, 4)));
//! assert_eq!(imported.report.dropped(), 0);
//!
//! // From notes to the per-step events that agents emit.
//! let events = imported.to_events(EventEncoding::RL_TUNER_38, OutOfRange::Error)?;
//! assert_eq!(events, vec![14, HOLD, 16, HOLD, REST, HOLD, 18, HOLD, HOLD, HOLD]);
//! # Ok(())
//! # }
//! ```
//!
//! # Import rules
//!
//! A MIDI file may hold anything from a lead sheet to an orchestra, while an agent needs one
//! line of notes on a grid. The importer applies these rules, in this order, and counts every
//! change in the [`ImportReport`]:
//!
//! 1. **Timing.** Only metrical files (ticks per quarter note) are read; SMPTE timecode files
//!    give [`MidiError::Unsupported`]. Steps are fractions of a quarter note, so tempo changes
//!    do not move notes: the first tempo is reported (120 quarter notes per minute if the file
//!    has none, as the standard says) and later changes are counted.
//! 2. **Drums.** Notes on MIDI channel 10 (channel index 9) are not pitches and are ignored. A
//!    file whose only notes are drums gives [`MidiError::NoMelody`].
//! 3. **Track.** The melody comes from one track: [`ImportOptions::track`] if given, otherwise
//!    the track with the most non-drum notes (the first of equals) among the tracks without
//!    chord symbols: a track whose text events read as chords (as [`MidiSong`] writes its
//!    accompaniment) is taken only when no other track has notes. A format 0 file has one
//!    track. The chord symbols of the other tracks become the melody's
//!    [`harmony`](ImportedMelody::harmony).
//! 4. **Note pairing.** A note-on with velocity 0 is a note-off. A note-off ends the open note
//!    of the same key and channel; one with no open note is ignored and counted. Notes still
//!    open at the end of the track end at the track's last event.
//! 5. **One note at a time.** A note-on while another note sounds ends that note at this tick
//!    ("last note priority", as on a monophonic synthesiser; the older note does not resume).
//!    Notes that *start* on the same tick are a chord, and [`ImportOptions::polyphony`] picks:
//!    [`Polyphony::Skyline`] keeps the highest pitch, [`Polyphony::Error`] reports the tick.
//! 6. **Zero-length notes** (note-on and note-off on the same tick) are dropped and counted.
//! 7. **Quantisation.** Onsets and ends are rounded to the nearest step (halves round up); every
//!    note lasts at least one step. A note whose onset lands on the same step as the previous
//!    note's onset is dropped and counted. How far timing moved is reported in ticks.
//!
//! Pitches are kept as they are: ranges are the business of an encoding, see
//! [`ImportedMelody::to_events`].
//!
//! A melody may last at most [`MAX_MELODY_STEPS`](crate::limits::MAX_MELODY_STEPS) steps on
//! its grid: a note that ends later is [`MidiError::NoteTooLong`], naming the track, the note
//! and the limit, found while the file is read and before its steps are allocated (a file of
//! a few hundred bytes can hold notes that last billions of ticks).
//!
//! # Export layout
//!
//! [`MidiSong::to_bytes`] writes format 1 at 480 ticks per quarter note (or a multiple of the
//! step count when 480 is not one): track 0 is the conductor (title, tempo, time and key
//! signatures), track 1 the melody on MIDI channel 1, and, when there are chords, track 2 the
//! accompaniment on MIDI channel 2 with each chord symbol as a text event.

mod error;
mod export;
pub(crate) mod import;
mod key_signature;

pub use crate::encoding::{Event, EventEncoding, Note};
pub use error::MidiError;
pub use export::{ChordSpan, MidiSong, DEFAULT_TICKS_PER_QUARTER, MELODY_TRACK};
pub use import::{
    import_bytes, import_file, ImportOptions, ImportReport, ImportedMelody, OutOfRange, Polyphony,
    DRUM_CHANNEL,
};
pub use key_signature::KeySignature;
