//! [`MidiError`]: what can go wrong reading or writing MIDI, naming the file where there is one.

use std::path::{Path, PathBuf};

use crate::encoding::EncodingError;

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
    /// [`ImportOptions::track`](super::ImportOptions::track) names a track the file does not have.
    #[error("track {track} does not exist{}: the file has {tracks} track(s), numbered from 0", in_file(.file))]
    NoSuchTrack {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// The track asked for.
        track: usize,
        /// How many tracks the file has.
        tracks: usize,
    },
    /// Several notes start together and [`Polyphony::Error`](super::Polyphony::Error) was asked for.
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
    /// A field of a [`MidiSong`](super::MidiSong) or of [`ImportOptions`](super::ImportOptions) is outside its allowed range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, e.g. `tempo_qpm` or `melody[3].pitch`.
        field: String,
        /// The allowed range and the value found.
        reason: String,
    },
    /// A note's pitch lies outside the encoding (with [`OutOfRange::Error`](super::OutOfRange::Error)).
    #[error(
        "note {index} (step {step}) has pitch {pitch}, outside the encoding's MIDI {min}..={max}"
    )]
    PitchOutOfRange {
        /// The MIDI pitch.
        pitch: u8,
        /// The note's index in [`ImportedMelody::notes`](super::ImportedMelody::notes).
        index: usize,
        /// The note's first step.
        step: u32,
        /// Lowest pitch of the encoding.
        min: u8,
        /// Highest pitch of the encoding.
        max: u8,
    },
    /// The melody is too long to become one event per step.
    #[error("the melody lasts {steps} steps; at most {max} can become events (see \"Limits\" in the README)")]
    TooLong {
        /// Steps up to the end of the last note.
        steps: usize,
        /// The limit, [`MAX_MELODY_STEPS`](crate::limits::MAX_MELODY_STEPS).
        max: usize,
    },
    /// A note of the file ends past the longest melody allowed.
    #[error(
        "note {note} of track {track}{} (MIDI pitch {pitch}, ticks {start_tick}..{end_tick}) ends at step {steps}, \
         but a melody may last at most {max} steps (see \"Limits\" in the README)",
        in_file(.file)
    )]
    NoteTooLong {
        /// The file, when the bytes came from one.
        file: Option<PathBuf>,
        /// The track.
        track: usize,
        /// The note's index among the track's notes (0-based, after note pairing).
        note: usize,
        /// Its MIDI pitch.
        pitch: u8,
        /// The tick where it starts.
        start_tick: u64,
        /// The tick where it ends.
        end_tick: u64,
        /// The step where it ends on the import grid.
        steps: u64,
        /// The limit, [`MAX_MELODY_STEPS`](crate::limits::MAX_MELODY_STEPS).
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
    pub(crate) fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            MidiError::Parse { file, .. }
            | MidiError::Unsupported { file, .. }
            | MidiError::NoMelody { file, .. }
            | MidiError::NoSuchTrack { file, .. }
            | MidiError::Polyphony { file, .. }
            | MidiError::NoteTooLong { file, .. } => *file = Some(path.to_path_buf()),
            _ => {}
        }
        self
    }

    pub(super) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MidiError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
