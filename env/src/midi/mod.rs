//! MIDI import and export (in progress).
