//! Writing songs as Standard MIDI Files (format 1).

use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::error::MidiError;
use super::key_signature::KeySignature;
use crate::encoding::Note;

/// Ticks per quarter note of exported files, divisible by every usual steps-per-quarter
/// (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, ...).
pub const DEFAULT_TICKS_PER_QUARTER: u16 = 480;

/// Index of the melody track in files written by [`MidiSong`] (track 0 is the conductor).
pub const MELODY_TRACK: usize = 1;

/// MIDI channel index of the melody (channel 1).
const MELODY_CHANNEL: u8 = 0;
/// MIDI channel index of the accompaniment (channel 2), so that it keeps its own program.
const CHORD_CHANNEL: u8 = 1;
/// Largest delta time a track event can carry (28 bits).
const MAX_DELTA: u64 = (1 << 28) - 1;
/// Largest ticks-per-quarter value of a metrical header (15 bits).
const MAX_TICKS_PER_QUARTER: u32 = (1 << 15) - 1;

/// One chord of the accompaniment, in steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChordSpan {
    /// First step of the chord.
    pub start: u32,
    /// Number of steps it sounds (at least 1).
    pub duration: u32,
    /// MIDI pitches of the chord tones, each 0..=127.
    pub pitches: Vec<u8>,
    /// The chord symbol (e.g. `"G7"`), written as a text event at the chord's start.
    pub symbol: Option<String>,
}

/// A song to write: a melody in steps, an optional chord accompaniment and the metadata that
/// players and notation programs show.
///
/// [`MidiSong::new`] fills in everything but the melody with defaults; struct update syntax
/// (`MidiSong { title: ..., ..MidiSong::new(notes, 4) }`) changes the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiSong {
    /// Title, written as the conductor track's name.
    pub title: Option<String>,
    /// Tempo in quarter notes per minute (finite, > 0). Stored in whole microseconds per
    /// quarter, so it reads back within one microsecond per quarter.
    pub tempo_qpm: f64,
    /// Time signature as (numerator, denominator); the denominator is a power of two, 1..=128.
    pub time_signature: (u8, u8),
    /// Key signature, if known.
    pub key_signature: Option<KeySignature>,
    /// Steps per quarter note of the grid `melody` and `chords` are on (> 0).
    pub steps_per_quarter: u32,
    /// The melody, in steps. Notes may overlap, but then they do not read back as they were.
    pub melody: Vec<Note>,
    /// General MIDI program of the melody, 0..=127 (default 73, flute).
    pub melody_program: u8,
    /// Note-on velocity of the melody, 1..=127.
    pub velocity: u8,
    /// Accompaniment; when empty, no chord track is written.
    pub chords: Vec<ChordSpan>,
    /// General MIDI program of the accompaniment, 0..=127 (default 48, string ensemble).
    pub chord_program: u8,
    /// Note-on velocity of the accompaniment, 1..=127; softer than the melody by default.
    pub chord_velocity: u8,
}

impl Default for MidiSong {
    fn default() -> Self {
        Self::new(Vec::new(), 4)
    }
}

impl MidiSong {
    /// A song of `melody` on a grid of `steps_per_quarter`, untitled, at 120 quarter notes per
    /// minute in 4/4 with no key signature and no chords.
    pub fn new(melody: Vec<Note>, steps_per_quarter: u32) -> Self {
        Self {
            title: None,
            tempo_qpm: 120.0,
            time_signature: (4, 4),
            key_signature: None,
            steps_per_quarter,
            melody,
            melody_program: 73,
            velocity: 90,
            chords: Vec::new(),
            chord_program: 48,
            chord_velocity: 60,
        }
    }

    /// Ticks per quarter note that [`MidiSong::to_bytes`] uses: 480 when the step divides it,
    /// else the smallest multiple of the step count that also keeps 480's divisors if that
    /// fits the header, else the smallest multiple of the step count from 480 up.
    pub fn ticks_per_quarter(&self) -> Result<u16, MidiError> {
        let spq = self.steps_per_quarter;
        if spq == 0 {
            return Err(MidiError::invalid(
                "steps_per_quarter",
                "must be at least 1, found 0",
            ));
        }
        let base = u32::from(DEFAULT_TICKS_PER_QUARTER);
        let lcm = u64::from(base) / u64::from(gcd(base, spq)) * u64::from(spq);
        let above = u64::from(base.div_ceil(spq)) * u64::from(spq);
        [lcm, above]
            .into_iter()
            .find(|&t| t <= u64::from(MAX_TICKS_PER_QUARTER))
            .and_then(|t| u16::try_from(t).ok())
            .ok_or_else(|| {
                MidiError::invalid(
                    "steps_per_quarter",
                    format!(
                        "{spq} steps per quarter need more than {MAX_TICKS_PER_QUARTER} ticks per quarter, the most a MIDI file holds"
                    ),
                )
            })
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), MidiError> {
        self.ticks_per_quarter()?;
        let tempo = self.tempo_qpm;
        let micros = 60_000_000.0 / tempo;
        if !tempo.is_finite() || tempo <= 0.0 || micros.round() < 1.0 || micros.round() > MAX_U24 {
            return Err(MidiError::invalid(
                "tempo_qpm",
                format!("must be finite and within about 3.58..=60000000 quarter notes per minute, found {tempo}"),
            ));
        }
        let (num, den) = self.time_signature;
        if num == 0 || den == 0 || !den.is_power_of_two() {
            return Err(MidiError::invalid(
                "time_signature",
                format!("expected numerator >= 1 and a power-of-two denominator 1..=128, found {num}/{den}"),
            ));
        }
        if let Some(key) = self.key_signature {
            if !(-7..=7).contains(&key.sharps) {
                return Err(MidiError::invalid(
                    "key_signature.sharps",
                    format!("must be in -7..=7, found {}", key.sharps),
                ));
            }
        }
        check_u7("melody_program", self.melody_program)?;
        check_u7("chord_program", self.chord_program)?;
        check_velocity("velocity", self.velocity)?;
        check_velocity("chord_velocity", self.chord_velocity)?;
        for (i, note) in self.melody.iter().enumerate() {
            check_u7(&format!("melody[{i}].pitch"), note.pitch)?;
            check_duration(&format!("melody[{i}].duration"), note.duration)?;
        }
        for (i, chord) in self.chords.iter().enumerate() {
            for (j, &pitch) in chord.pitches.iter().enumerate() {
                check_u7(&format!("chords[{i}].pitches[{j}]"), pitch)?;
            }
            check_duration(&format!("chords[{i}].duration"), chord.duration)?;
        }
        Ok(())
    }

    /// Encodes the song as a format 1 Standard MIDI File (see the module docs for the layout).
    /// Touches no file, so that it can be benchmarked and used in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MidiError> {
        self.validate()?;
        let tpq = self.ticks_per_quarter()?;
        let ticks_per_step = u64::from(tpq) / u64::from(self.steps_per_quarter);

        let mut conductor = Vec::new();
        if let Some(title) = &self.title {
            conductor.push((0, meta(MetaMessage::TrackName(title.as_bytes()))));
        }
        // Validated above: the rounded value lies in 1..=2^24-1.
        let micros = (60_000_000.0 / self.tempo_qpm).round() as u32;
        conductor.push((0, meta(MetaMessage::Tempo(u24::new(micros)))));
        let (num, den) = self.time_signature;
        conductor.push((0, meta(time_signature(num, den))));
        if let Some(key) = self.key_signature {
            conductor.push((0, meta(MetaMessage::KeySignature(key.sharps, key.minor))));
        }

        let mut melody = vec![
            (0, meta(MetaMessage::TrackName(b"Melody"))),
            (0, program(MELODY_CHANNEL, self.melody_program)),
        ];
        let mut notes = Vec::with_capacity(self.melody.len() * 2);
        for note in &self.melody {
            push_note(
                &mut notes,
                note.pitch,
                note.start,
                note.duration,
                ticks_per_step,
            );
        }
        melody.extend(note_events(notes, MELODY_CHANNEL, self.velocity));

        let mut tracks = vec![finish(conductor, "conductor")?, finish(melody, "melody")?];

        if !self.chords.is_empty() {
            let mut chords = vec![
                (0, meta(MetaMessage::TrackName(b"Chords"))),
                (0, program(CHORD_CHANNEL, self.chord_program)),
            ];
            let mut symbols = Vec::new();
            let mut notes = Vec::new();
            for chord in &self.chords {
                let start = u64::from(chord.start) * ticks_per_step;
                if let Some(symbol) = &chord.symbol {
                    symbols.push((start, meta(MetaMessage::Text(symbol.as_bytes()))));
                }
                for &pitch in &chord.pitches {
                    push_note(
                        &mut notes,
                        pitch,
                        chord.start,
                        chord.duration,
                        ticks_per_step,
                    );
                }
            }
            // Symbols sort before the notes of their tick, so a reader sees the name first.
            let mut events = symbols;
            events.extend(note_events(notes, CHORD_CHANNEL, self.chord_velocity));
            events.sort_by_key(|&(tick, _)| tick);
            chords.extend(events);
            tracks.push(finish(chords, "chords")?);
        }

        let mut smf = Smf::new(Header::new(
            Format::Parallel,
            Timing::Metrical(u15::new(tpq)),
        ));
        smf.tracks = tracks;
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes)
            .map_err(|e| MidiError::invalid("song", format!("cannot be encoded: {e}")))?;
        Ok(bytes)
    }

    /// Writes the song to `path` atomically and durably (see [`crate::io::write_atomic`]), so
    /// a reader never sees half a file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), MidiError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        crate::io::write_atomic(path, &bytes).map_err(|source| MidiError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }
}

const MAX_U24: f64 = ((1u32 << 24) - 1) as f64;

fn check_u7(field: &str, value: u8) -> Result<(), MidiError> {
    if value > 127 {
        return Err(MidiError::invalid(
            field,
            format!("must be in 0..=127, found {value}"),
        ));
    }
    Ok(())
}

fn check_velocity(field: &str, value: u8) -> Result<(), MidiError> {
    // Velocity 0 would turn every note-on into a note-off.
    if value == 0 || value > 127 {
        return Err(MidiError::invalid(
            field,
            format!("must be in 1..=127, found {value}"),
        ));
    }
    Ok(())
}

fn check_duration(field: &str, value: u32) -> Result<(), MidiError> {
    if value == 0 {
        return Err(MidiError::invalid(
            field,
            "must be at least 1 step, found 0",
        ));
    }
    Ok(())
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn meta(message: MetaMessage<'_>) -> TrackEventKind<'_> {
    TrackEventKind::Meta(message)
}

fn program(channel: u8, program: u8) -> TrackEventKind<'static> {
    TrackEventKind::Midi {
        channel: u4::new(channel),
        message: MidiMessage::ProgramChange {
            program: u7::new(program),
        },
    }
}

fn time_signature(num: u8, den: u8) -> MetaMessage<'static> {
    // Metronome clicks: a quarter is 24 MIDI clocks; compound meters (6/8, 9/8, 12/8) click on
    // the dotted beat, as notation programs write them.
    let beat = 96 / u32::from(den.min(64));
    let compound = den >= 8 && num > 3 && num.rem_euclid(3) == 0;
    let clocks = if compound { beat * 3 } else { beat };
    MetaMessage::TimeSignature(
        num,
        den.trailing_zeros() as u8,
        u8::try_from(clocks.max(1)).unwrap_or(u8::MAX),
        8,
    )
}

/// A note as two timed events: `(tick, is_on, pitch)`.
type NoteEdge = (u64, bool, u8);

fn push_note(out: &mut Vec<NoteEdge>, pitch: u8, start: u32, duration: u32, ticks_per_step: u64) {
    let on = u64::from(start) * ticks_per_step;
    let off = (u64::from(start) + u64::from(duration)) * ticks_per_step;
    out.push((on, true, pitch));
    out.push((off, false, pitch));
}

fn note_events(
    mut notes: Vec<NoteEdge>,
    channel: u8,
    velocity: u8,
) -> Vec<(u64, TrackEventKind<'static>)> {
    // Note-offs before note-ons on the same tick, so that a note ending where the next one
    // starts is never read as an overlap.
    notes.sort_by_key(|&(tick, is_on, _)| (tick, is_on));
    notes
        .into_iter()
        .map(move |(tick, is_on, pitch)| {
            let key = u7::new(pitch);
            let message = if is_on {
                MidiMessage::NoteOn {
                    key,
                    vel: u7::new(velocity),
                }
            } else {
                MidiMessage::NoteOff {
                    key,
                    vel: u7::new(64),
                }
            };
            (
                tick,
                TrackEventKind::Midi {
                    channel: u4::new(channel),
                    message,
                },
            )
        })
        .collect()
}

/// Turns absolute ticks into deltas and ends the track.
fn finish<'a>(
    events: Vec<(u64, TrackEventKind<'a>)>,
    track: &str,
) -> Result<Vec<TrackEvent<'a>>, MidiError> {
    let mut out = Vec::with_capacity(events.len() + 1);
    let mut last = 0u64;
    for (tick, kind) in events
        .into_iter()
        .chain(std::iter::once((0, meta(MetaMessage::EndOfTrack))))
    {
        let tick = tick.max(last);
        let delta = tick - last;
        if delta > MAX_DELTA {
            return Err(MidiError::invalid(
                track,
                format!("has a gap of {delta} ticks before tick {tick}; MIDI allows at most {MAX_DELTA}"),
            ));
        }
        out.push(TrackEvent {
            delta: u28::new(delta as u32),
            kind,
        });
        last = tick;
    }
    Ok(out)
}
