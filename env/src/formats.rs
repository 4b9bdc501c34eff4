//! Every file format melodies travel in, behind one dispatch: the commands read and write
//! through [`read_file`] and [`write_song`], so each gets MIDI, ABC and MusicXML alike.
//!
//! | format | read | write | extensions |
//! |---|---|---|---|
//! | MIDI ([`crate::midi`]) | yes | yes | `.mid`, `.midi` |
//! | ABC ([`crate::abc`]) | yes, every tune of a file | yes | `.abc` |
//! | MusicXML ([`crate::musicxml`]) | no | yes (partwise) | `.musicxml`, `.xml` |
//!
//! A file is one [`Tune`] (MIDI) or many (an ABC file of a collection); a tune that cannot be
//! read carries its error and does not stop the others.
//!
//! ```
//! use cadenza_env::encoding::Note;
//! use cadenza_env::formats::{read_bytes, song_bytes, Format};
//! use cadenza_env::midi::{ImportOptions, MidiSong};
//! let song = MidiSong::new(vec![Note { pitch: 64, start: 0, duration: 4 }], 4);
//! for format in [Format::Midi, Format::Abc] {
//!     let bytes = song_bytes(&song, format)?;
//!     let tunes = read_bytes(&bytes, format, &ImportOptions::default())?;
//!     assert_eq!(tunes[0].melody.as_ref().unwrap().notes, song.melody);
//! }
//! assert_eq!(Format::from_path("tune.musicxml".as_ref()), Some(Format::MusicXml));
//! # Ok::<(), cadenza_env::formats::FormatError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::abc::AbcError;
use crate::midi::{ImportOptions, ImportedMelody, MidiError, MidiSong};
use crate::musicxml::MusicXmlError;

/// A file format of melodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Standard MIDI File.
    Midi,
    /// ABC notation 2.1.
    Abc,
    /// MusicXML 4.0, partwise, uncompressed.
    MusicXml,
}

impl Format {
    /// Every format, in the order of the table above.
    pub const ALL: [Format; 3] = [Format::Midi, Format::Abc, Format::MusicXml];

    /// The name users type (`--format midi`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Midi => "midi",
            Format::Abc => "abc",
            Format::MusicXml => "musicxml",
        }
    }

    /// The extension files of this format are written with.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Midi => "mid",
            Format::Abc => "abc",
            Format::MusicXml => "musicxml",
        }
    }

    /// Extensions recognised as this format (lower case).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Midi => &["mid", "midi"],
            Format::Abc => &["abc"],
            Format::MusicXml => &["musicxml", "xml"],
        }
    }

    /// Whether melodies can be read from this format.
    pub fn can_read(self) -> bool {
        matches!(self, Format::Midi | Format::Abc)
    }

    /// The format a path's extension names (any case), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.extensions().contains(&ext.as_str()))
    }

    /// The extensions of the formats that can be read, for messages: `.mid, .midi, .abc`.
    pub fn readable_extensions() -> String {
        Format::ALL
            .iter()
            .filter(|f| f.can_read())
            .flat_map(|f| f.extensions().iter().map(|e| format!(".{e}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, FormatError> {
        let lower = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == lower || f.extensions().contains(&lower.as_str()))
            .ok_or_else(|| FormatError::UnknownFormat {
                found: s.to_string(),
            })
    }
}

/// Errors of reading and writing any format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A MIDI file could not be read or written.
    #[error(transparent)]
    Midi(#[from] MidiError),
    /// An ABC tune could not be read, or a song written as ABC.
    #[error(transparent)]
    Abc(#[from] AbcError),
    /// A song could not be written as MusicXML.
    #[error(transparent)]
    MusicXml(#[from] MusicXmlError),
    /// A format name that is not one of [`Format::ALL`].
    #[error("unknown format {found:?}: expected midi, abc or musicxml")]
    UnknownFormat {
        /// What was given.
        found: String,
    },
    /// A path whose extension names no format, and none was given.
    #[error("{}: cannot tell the format from the extension: expected {expected}", .path.display())]
    UnknownExtension {
        /// The file.
        path: PathBuf,
        /// The extensions that would do.
        expected: String,
    },
    /// A format that melodies are not read from.
    #[error("{}: {format} files are written, not read: expected {}", .path.display(), Format::readable_extensions())]
    NotReadable {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Format,
    },
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

impl FormatError {
    /// A short name of what went wrong, for counting skipped files and tunes by reason.
    pub fn category(&self) -> String {
        match self {
            FormatError::Midi(e) => match e {
                MidiError::Parse { .. } => "malformed MIDI".into(),
                MidiError::Unsupported { .. } => "unsupported MIDI".into(),
                MidiError::NoMelody { reason, .. } if reason.contains("drum") => {
                    "drums only".into()
                }
                MidiError::NoMelody { .. } => "no notes".into(),
                MidiError::NoteTooLong { .. } | MidiError::TooLong { .. } => "too long".into(),
                _ => "other".into(),
            },
            FormatError::Abc(e) => e.category(),
            FormatError::Io { .. } => "unreadable".into(),
            FormatError::NotReadable { .. } | FormatError::UnknownExtension { .. } => {
                "not a melody file".into()
            }
            _ => "other".into(),
        }
    }
}

/// One melody of a file, or why it could not be read.
#[derive(Debug)]
pub struct Tune {
    /// Which tune of the file: `X:3 "The Kesh"` for ABC; `None` for one-melody formats.
    pub label: Option<String>,
    /// The melody, or why this tune was not read.
    pub melody: Result<ImportedMelody, FormatError>,
}

/// The tunes of a file held in memory. A MIDI file is one tune; an ABC file every tune it
/// holds (none when it holds none). Errors of the whole file (MIDI) come back as the one
/// tune's error, so a caller skips tunes and files by one rule.
pub fn read_bytes(
    bytes: &[u8],
    format: Format,
    options: &ImportOptions,
) -> Result<Vec<Tune>, FormatError> {
    match format {
        Format::Midi => Ok(vec![Tune {
            label: None,
            melody: crate::midi::import_bytes(bytes, options).map_err(FormatError::from),
        }]),
        Format::Abc => Ok(crate::abc::import_bytes(bytes, options)
            .into_iter()
            .map(|t| Tune {
                label: Some(t.label()),
                melody: t.melody.map_err(FormatError::from),
            })
            .collect()),
        Format::MusicXml => Err(FormatError::NotReadable {
            path: PathBuf::new(),
            format,
        }),
    }
}

/// The tunes of the file at `path`, in the format its extension names (or `format`); every
/// error names the file.
pub fn read_file(
    path: &Path,
    format: Option<Format>,
    options: &ImportOptions,
) -> Result<Vec<Tune>, FormatError> {
    let format = format_of(path, format)?;
    if !format.can_read() {
        return Err(FormatError::NotReadable {
            path: path.to_path_buf(),
            format,
        });
    }
    let bytes = std::fs::read(path).map_err(|source| FormatError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(read_bytes(&bytes, format, options)?
        .into_iter()
        .map(|t| Tune {
            label: t.label,
            melody: t.melody.map_err(|e| with_file(e, path)),
        })
        .collect())
}

fn with_file(e: FormatError, path: &Path) -> FormatError {
    match e {
        FormatError::Midi(e) => FormatError::Midi(e.with_file(path)),
        FormatError::Abc(e) => FormatError::Abc(e.with_file(path)),
        other => other,
    }
}

/// The format of `path`: `format` when given, else its extension's; a path without an
/// extension is MIDI (as every command wrote before there were other formats), one whose
/// extension names no format an error.
pub fn format_of(path: &Path, format: Option<Format>) -> Result<Format, FormatError> {
    format
        .or_else(|| Format::from_path(path))
        .or_else(|| path.extension().is_none().then_some(Format::Midi))
        .ok_or_else(|| FormatError::UnknownExtension {
            path: path.to_path_buf(),
            expected: Format::ALL
                .iter()
                .flat_map(|f| f.extensions().iter().map(|e| format!(".{e}")))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The song encoded in `format`.
pub fn song_bytes(song: &MidiSong, format: Format) -> Result<Vec<u8>, FormatError> {
    Ok(match format {
        Format::Midi => song.to_bytes()?,
        Format::Abc => song.to_abc()?.into_bytes(),
        Format::MusicXml => song.to_musicxml()?.into_bytes(),
    })
}

/// Writes `song` to `path` atomically and durably ([`crate::io::write_atomic`]) in `format`,
/// or the format the extension names; returns the format written.
pub fn write_song(
    song: &MidiSong,
    path: &Path,
    format: Option<Format>,
) -> Result<Format, FormatError> {
    let format = format_of(path, format)?;
    let bytes = song_bytes(song, format)?;
    crate::io::write_atomic(path, &bytes).map_err(|source| FormatError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(format)
}
