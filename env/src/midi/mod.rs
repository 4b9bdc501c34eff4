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
//!    the track with the most non-drum notes (the first of equals). A format 0 file has one
//!    track. Files written by [`MidiSong`] with chords keep the melody in track
//!    [`MELODY_TRACK`]; pass that index when the chord track could hold more notes.
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
//! # Export layout
//!
//! [`MidiSong::to_bytes`] writes format 1 at 480 ticks per quarter note (or a multiple of the
//! step count when 480 is not one): track 0 is the conductor (title, tempo, time and key
//! signatures), track 1 the melody on MIDI channel 1, and, when there are chords, track 2 the
//! accompaniment on MIDI channel 2 with each chord symbol as a text event.

mod export;
mod import;

use std::path::{Path, PathBuf};

pub use crate::encoding::{Event, EventEncoding, Note};
pub use export::{ChordSpan, MidiSong, MELODY_TRACK};
pub use import::{import_bytes, import_file, ImportOptions, ImportReport, ImportedMelody};

use crate::encoding::EncodingError;

/// Ticks per quarter note of exported files, divisible by every usual steps-per-quarter
/// (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, ...).
pub const DEFAULT_TICKS_PER_QUARTER: u16 = 480;

/// MIDI channel index (0-based) reserved for drums by General MIDI: channel 10.
pub const DRUM_CHANNEL: u8 = 9;

/// Most steps [`ImportedMelody::to_events`] produces (about 12 days of sixteenths at 120
/// quarter notes per minute), so that a hostile file cannot make it allocate gigabytes.
pub const MAX_EVENT_STEPS: usize = 1 << 26;

/// A key signature as MIDI stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySignature {
    /// Number of sharps (positive) or flats (negative), -7..=7.
    pub sharps: i8,
    /// Whether the key is minor.
    pub minor: bool,
}

/// What to do when several notes start on the same tick of the melody track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Polyphony {
    /// Keep the highest of the notes that start together (the "skyline" of the chord), which
    /// is where a melody usually sits; the others are dropped and counted.
    #[default]
    Skyline,
    /// Fail with [`MidiError::Polyphony`], naming the tick.
    Error,
}

/// What [`ImportedMelody::to_events`] does with a pitch outside the encoding's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OutOfRange {
    /// Fail with [`MidiError::PitchOutOfRange`], naming the pitch and the note.
    #[default]
    Error,
    /// Move the note by whole octaves into the range (fails only when the range is narrower
    /// than an octave and misses the pitch class).
    FoldOctaves,
}

/// Errors of MIDI import and export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MidiError {
    /// The bytes are not a well-formed Standard MIDI File.
    #[error("malformed MIDI data{}: {message}", in_file(.file))]
    Parse {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// What is wrong (the MIDI parser's own message where it gave one).
        message: String,
    },
    /// A well-formed file that uses a feature this module does not read.
    #[error("unsupported MIDI file{}: {what}", in_file(.file))]
    Unsupported {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// The feature.
        what: String,
    },
    /// The file has no notes that could form a melody.
    #[error("no melody{}: {reason}", in_file(.file))]
    NoMelody {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// Why not.
        reason: String,
    },
    /// [`ImportOptions::track`] names a track the file does not have.
    #[error("track {track} does not exist{}: the file has {tracks} track(s), numbered from 0", in_file(.file))]
    NoSuchTrack {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// The track asked for.
        track: usize,
        /// How many tracks the file has.
        tracks: usize,
    },
    /// Several notes start together and [`Polyphony::Error`] was asked for.
    #[error("notes {pitches:?} start together at tick {tick} of track {track}{}, but the melody must be monophonic", in_file(.file))]
    Polyphony {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// The track.
        track: usize,
        /// The tick where they start.
        tick: u64,
        /// The MIDI pitches that start together.
        pitches: Vec<u8>,
    },
    /// A field of a [`MidiSong`] or of [`ImportOptions`] is outside its allowed range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, e.g. `tempo_qpm` or `melody[3].pitch`.
        field: String,
        /// The allowed range and the value found.
        reason: String,
    },
    /// A note's pitch lies outside the encoding (with [`OutOfRange::Error`]).
    #[error(
        "note {index} (step {step}) has pitch {pitch}, outside the encoding's MIDI {min}..={max}"
    )]
    PitchOutOfRange {
        /// The MIDI pitch.
        pitch: u8,
        /// The note's index in [`ImportedMelody::notes`].
        index: usize,
        /// The note's first step.
        step: u32,
        /// Lowest pitch of the encoding.
        min: u8,
        /// Highest pitch of the encoding.
        max: u8,
    },
    /// The melody is too long to become one event per step.
    #[error("the melody lasts {steps} steps; at most {max} can become events")]
    TooLong {
        /// Steps up to the end of the last note.
        steps: usize,
        /// The limit, [`MAX_EVENT_STEPS`].
        max: usize,
    },
    /// The notes could not be turned into events.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn in_file(file: &Option<PathBuf>) -> String {
    match file {
        Some(path) => format!(" in {}", path.display()),
        None => String::new(),
    }
}

impl MidiError {
    /// Attaches the file the bytes came from, so that the message names it.
    fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            MidiError::Parse { file, .. }
            | MidiError::Unsupported { file, .. }
            | MidiError::NoMelody { file, .. }
            | MidiError::NoSuchTrack { file, .. }
            | MidiError::Polyphony { file, .. } => *file = Some(path.to_path_buf()),
            _ => {}
        }
        self
    }

    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MidiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
