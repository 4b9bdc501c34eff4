//! [`KeySignature`]: the key as a MIDI file stores it, written by export and read by import.

/// A key signature as MIDI stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySignature {
    /// Number of sharps (positive) or flats (negative), -7..=7.
    pub sharps: i8,
    /// Whether the key is minor.
    pub minor: bool,
}
