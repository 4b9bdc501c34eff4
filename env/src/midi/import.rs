//! Reading a monophonic melody out of a Standard MIDI File (rules in the module docs).

use std::path::Path;

use midly::{EventIter, MetaMessage, MidiMessage, Timing, TrackEventKind};

use super::error::MidiError;
use super::key_signature::KeySignature;
use crate::encoding::{Event, EventEncoding, Note};
use crate::limits::MAX_MELODY_STEPS;
use crate::music::Chord;

/// MIDI channel index (0-based) reserved for drums by General MIDI: channel 10.
pub const DRUM_CHANNEL: u8 = 9;

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

/// How to read a melody out of a MIDI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Steps per quarter note of the grid notes are quantised to (> 0; default 4, sixteenths).
    pub steps_per_quarter: u32,
    /// What to do with notes that start together.
    pub polyphony: Polyphony,
    /// The track to read (0-based); `None` picks the track with the most non-drum notes.
    pub track: Option<usize>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            steps_per_quarter: 4,
            polyphony: Polyphony::Skyline,
            track: None,
        }
    }
}

/// What the importer changed or ignored on the way to a monophonic, quantised melody.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Number of tracks in the file.
    pub tracks: usize,
    /// The track the melody came from.
    pub track: usize,
    /// Drum notes (MIDI channel 10) ignored in the chosen track.
    pub drum_notes_ignored: usize,
    /// Notes dropped because a higher note started on the same tick ([`Polyphony::Skyline`]).
    pub simultaneous_dropped: usize,
    /// Notes cut short because a later note started while they sounded.
    pub overlaps_cut: usize,
    /// Notes dropped because they ended on the tick they started.
    pub zero_length_dropped: usize,
    /// Note-offs with no open note of their key and channel.
    pub unmatched_note_offs: usize,
    /// Notes never ended, closed at the track's last event.
    pub unterminated_closed: usize,
    /// Notes dropped because they quantised onto the previous note's onset step.
    pub quantize_collisions_dropped: usize,
    /// Tempo events after the first that set a different tempo (they do not move notes).
    pub tempo_changes: usize,
    /// Time signature events after the first that set a different one.
    pub time_signature_changes: usize,
    /// Key signature events after the first that set a different one.
    pub key_signature_changes: usize,
    /// Largest distance, in ticks, that quantisation moved an onset or an end.
    pub max_shift_ticks: f64,
    /// Mean distance, in ticks, that quantisation moved onsets and ends.
    pub mean_shift_ticks: f64,
    /// Fraction of onsets (0..=1) that were not already on the grid.
    pub moved_onset_fraction: f64,
    /// Decorations (ABC `~`, `!trill!`, ...) skipped: they do not change the notes.
    pub decorations_skipped: usize,
    /// Grace-note groups (ABC `{g}`) skipped.
    pub grace_notes_skipped: usize,
    /// Lyrics lines (ABC `w:`, `W:`) skipped.
    pub lyric_lines_skipped: usize,
    /// Text annotations (ABC `"^text"`) skipped.
    pub annotations_skipped: usize,
    /// Chord symbols that are not chords the music model reads (e.g. `"N.C."`), skipped.
    pub chord_symbols_unread: usize,
    /// Notes of voices other than the melody's (ABC `V:`), skipped.
    pub other_voice_notes_skipped: usize,
}

impl ImportReport {
    /// All notes dropped on the way (drums not included: they were never melody).
    pub fn dropped(&self) -> usize {
        self.simultaneous_dropped + self.zero_length_dropped + self.quantize_collisions_dropped
    }
}

/// A melody read from a MIDI file: monophonic notes on a step grid, with the file's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMelody {
    /// The name of the file's first track (the conductor of format 1, the only track of
    /// format 0), if it has a non-empty one.
    pub title: Option<String>,
    /// The file's resolution.
    pub ticks_per_quarter: u16,
    /// Steps per quarter note of `notes`.
    pub steps_per_quarter: u32,
    /// The first tempo in quarter notes per minute (120 when the file sets none).
    pub tempo_qpm: f64,
    /// The first time signature as (numerator, denominator).
    pub time_signature: Option<(u8, u8)>,
    /// The first key signature.
    pub key_signature: Option<KeySignature>,
    /// Quantised notes in steps: sorted, non-overlapping, each at least one step long.
    pub notes: Vec<Note>,
    /// Note-ons (velocity > 0, drums excluded) in the chosen track before anything was dropped.
    pub raw_note_count: usize,
    /// What the importer changed.
    pub report: ImportReport,
    /// The chord symbols that come with the melody, as (onset step, chord) in order of onset:
    /// ABC's quoted chords, or the text events of a MIDI chord track (as [`MidiSong`] writes
    /// them). A lead sheet's harmony, for chord-conditioned models; empty when there is none.
    ///
    /// [`MidiSong`]: super::export::MidiSong
    pub harmony: Vec<(u32, Chord)>,
}

impl ImportedMelody {
    /// The melody as a song to write in any format: its notes, title, tempo, meter (4/4 when
    /// it has none), key, and its harmony as chords (each sounding until the next one, the
    /// last until the melody ends, voiced from C3), so that a tune read from one format is
    /// written in another with its chord symbols.
    pub fn to_song(&self) -> super::export::MidiSong {
        let end = self.length_steps() as u32;
        let chords = self
            .harmony
            .iter()
            .enumerate()
            .map(|(i, (start, chord))| {
                let until = self.harmony.get(i + 1).map_or(end, |next| next.0);
                super::export::ChordSpan {
                    start: *start,
                    duration: until.saturating_sub(*start).max(1),
                    pitches: chord.voicing(48),
                    symbol: Some(chord.to_string()),
                }
            })
            .collect();
        super::export::MidiSong {
            title: self.title.clone(),
            tempo_qpm: self.tempo_qpm,
            time_signature: self.time_signature.unwrap_or((4, 4)),
            key_signature: self.key_signature,
            chords,
            ..super::export::MidiSong::new(self.notes.clone(), self.steps_per_quarter)
        }
    }

    /// Number of steps up to the end of the last note.
    pub fn length_steps(&self) -> usize {
        self.notes
            .last()
            .map_or(0, |n| n.start as usize + n.duration as usize)
    }

    /// The melody as one event per step (up to the end of the last note) in `encoding`; a
    /// melody longer than [`MAX_MELODY_STEPS`] is [`MidiError::TooLong`] (an imported one
    /// never is: the import refuses it).
    pub fn to_events(
        &self,
        encoding: EventEncoding,
        out_of_range: OutOfRange,
    ) -> Result<Vec<Event>, MidiError> {
        let steps = self.length_steps();
        if steps > MAX_MELODY_STEPS {
            return Err(MidiError::TooLong {
                steps,
                max: MAX_MELODY_STEPS,
            });
        }
        let (min, max) = (encoding.min_pitch(), encoding.max_pitch());
        let mut notes = self.notes.clone();
        for (index, note) in notes.iter_mut().enumerate() {
            if (min..=max).contains(&note.pitch) {
                continue;
            }
            let folded = match out_of_range {
                OutOfRange::FoldOctaves => fold_octaves(note.pitch, min, max),
                OutOfRange::Error => None,
            };
            note.pitch = folded.ok_or(MidiError::PitchOutOfRange {
                pitch: note.pitch,
                index,
                step: note.start,
                min,
                max,
            })?;
        }
        Ok(encoding.from_notes(&notes, steps)?)
    }
}

/// The pitch moved by whole octaves into `min..=max`, nearest the original.
fn fold_octaves(pitch: u8, min: u8, max: u8) -> Option<u8> {
    let mut p = i32::from(pitch);
    while p < i32::from(min) {
        p += 12;
    }
    while p > i32::from(max) {
        p -= 12;
    }
    u8::try_from(p).ok().filter(|p| (min..=max).contains(p))
}

/// Reads the file at `path` and imports it with [`import_bytes`]; errors name the file.
pub fn import_file(
    path: impl AsRef<Path>,
    options: &ImportOptions,
) -> Result<ImportedMelody, MidiError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| MidiError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    import_bytes(&bytes, options).map_err(|e| e.with_file(path))
}

/// Imports the melody of a Standard MIDI File held in memory, following the rules in the
/// module docs.
pub fn import_bytes(bytes: &[u8], options: &ImportOptions) -> Result<ImportedMelody, MidiError> {
    let spq = options.steps_per_quarter;
    if spq == 0 {
        return Err(MidiError::invalid(
            "steps_per_quarter",
            "must be at least 1, found 0",
        ));
    }
    let bytes = unwrap_riff(bytes)?;
    check_chunks(bytes)?;
    // Decided here rather than by the parser: the parser's own SMPTE decoding overflows on a
    // frame byte of 0x80 (seen in fuzzing), and any timecode file is unsupported anyway.
    if let Some(&[high, low]) = bytes.get(12..14) {
        if high & 0x80 != 0 {
            return Err(smpte(high, low));
        }
    }
    let (header, track_iter) = midly::parse(bytes).map_err(parse_error)?;
    let tpq = match header.timing {
        Timing::Metrical(t) => t.as_int(),
        Timing::Timecode(fps, sub) => return Err(smpte(fps.as_int().wrapping_neg(), sub)),
    };
    if tpq == 0 {
        return Err(parse_msg("the header gives 0 ticks per quarter note"));
    }

    let mut tracks = Vec::new();
    for (index, track) in track_iter.enumerate() {
        tracks.push(read_track(track.map_err(parse_error)?, index)?);
    }
    if tracks.is_empty() {
        return Err(MidiError::NoMelody {
            file: None,
            reason: "the file has no tracks".into(),
        });
    }

    let chosen = match options.track {
        Some(t) if t >= tracks.len() => {
            return Err(MidiError::NoSuchTrack {
                file: None,
                track: t,
                tracks: tracks.len(),
            })
        }
        Some(t) => t,
        None => {
            // A track that carries chord symbols is an accompaniment, not the melody, however
            // many notes its chords hold; it is taken only when no other track has notes.
            let melodic = |t: &TrackData| t.note_ons > 0 && !t.has_chord_symbols();
            let any_melodic = tracks.iter().any(melodic);
            // `max_by_key` keeps the last of equals; reversing keeps the first.
            let (index, _) = tracks
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, t)| !any_melodic || melodic(t))
                .max_by_key(|(_, t)| t.note_ons)
                .ok_or_else(|| parse_msg("no tracks"))?;
            index
        }
    };
    let track = &tracks[chosen];
    if track.note_ons == 0 {
        let drums: usize = tracks.iter().map(|t| t.drum_note_ons).sum();
        let reason = if options.track.is_some() {
            format!(
                "track {chosen} has no notes outside the drum channel ({} drum notes)",
                track.drum_note_ons
            )
        } else if drums > 0 {
            format!(
                "the only notes are {drums} drum notes (MIDI channel 10), which are not pitches"
            )
        } else {
            "the file has no notes".to_string()
        };
        return Err(MidiError::NoMelody { file: None, reason });
    }

    let mut report = ImportReport {
        tracks: tracks.len(),
        track: chosen,
        drum_notes_ignored: track.drum_note_ons,
        ..ImportReport::default()
    };
    let timed = monophonic(track, chosen, options.polyphony, &mut report)?;
    let notes = quantize(&timed, chosen, tpq, spq, &mut report)?;

    let meta = FileMeta::collect(&tracks, &mut report);
    let harmony = harmony_of(&tracks, chosen, tpq, spq);
    Ok(ImportedMelody {
        title: tracks[0].name.clone(),
        ticks_per_quarter: tpq,
        steps_per_quarter: spq,
        tempo_qpm: meta.tempo_qpm,
        time_signature: meta.time_signature,
        key_signature: meta.key_signature,
        notes,
        raw_note_count: track.note_ons,
        report,
        harmony,
    })
}

/// The chord symbols of the file: text events that read as chords, in the tracks with
/// notes other than the melody's (a chord track), on the step grid.
fn harmony_of(tracks: &[TrackData], melody: usize, tpq: u16, spq: u32) -> Vec<(u32, Chord)> {
    let mut chords: Vec<(u32, Chord)> = tracks
        .iter()
        .enumerate()
        .filter(|&(i, t)| i != melody && t.note_ons > 0)
        .flat_map(|(_, t)| t.texts.iter())
        .filter_map(|(tick, text)| {
            let chord = text.parse::<Chord>().ok()?;
            Some((to_step(*tick, tpq, spq).ok()?, chord))
        })
        .collect();
    chords.sort_by_key(|&(step, _)| step);
    chords.dedup_by(|later, earlier| later.0 == earlier.0);
    chords
}

fn smpte(frame_byte: u8, ticks_per_frame: u8) -> MidiError {
    MidiError::Unsupported {
        file: None,
        what: format!(
            "SMPTE timecode timing ({} frames per second, {ticks_per_frame} ticks per frame); only ticks per quarter note are read",
            (frame_byte as i8).wrapping_neg()
        ),
    }
}

/// The Standard MIDI File inside an RMID (RIFF) wrapper, or the bytes as they are.
fn unwrap_riff(bytes: &[u8]) -> Result<&[u8], MidiError> {
    if !bytes.starts_with(b"RIFF") {
        return Ok(bytes);
    }
    let not_rmid = || parse_msg("a RIFF file, but not an RMID one with a MIDI 'data' chunk");
    let body = bytes.get(8..).ok_or_else(not_rmid)?;
    let mut rest = body.strip_prefix(b"RMID").ok_or_else(not_rmid)?;
    while let Some(head) = rest.get(..8) {
        // RIFF lengths are little-endian, unlike SMF's.
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data = rest.get(8..8 + len).ok_or_else(|| {
            parse_msg(format!(
                "truncated: RIFF chunk '{}' declares {len} bytes but only {} remain",
                String::from_utf8_lossy(&head[..4]).escape_default(),
                rest.len() - 8
            ))
        })?;
        if &head[..4] == b"data" {
            return Ok(data);
        }
        // Chunks are padded to an even length.
        rest = rest.get(8 + len + len % 2..).unwrap_or(&[]);
    }
    Err(not_rmid())
}

fn parse_error(e: midly::Error) -> MidiError {
    parse_msg(e.to_string())
}

fn parse_msg(message: impl Into<String>) -> MidiError {
    MidiError::Parse {
        file: None,
        message: message.into(),
    }
}

/// Checks that every chunk fits in the bytes. The parser underneath is lenient and silently
/// reads a cut-off track as far as it goes; a truncated file should be an error instead.
fn check_chunks(bytes: &[u8]) -> Result<(), MidiError> {
    if bytes.is_empty() {
        return Err(parse_msg("no bytes: the file is empty"));
    }
    if !bytes.starts_with(b"MThd") {
        // Not a bare SMF (perhaps a RIFF-wrapped one): the parser decides.
        return Ok(());
    }
    let declared = bytes.get(10..12).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut found = 0usize;
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let Some(head) = rest.get(..8) else {
            return Err(parse_msg(format!(
                "truncated: {} stray byte(s) at offset {offset} where a chunk header (8 bytes) should be",
                rest.len()
            )));
        };
        let id = &head[..4];
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let available = rest.len() - 8;
        if len > available {
            return Err(parse_msg(format!(
                "truncated: chunk '{}' at offset {offset} declares {len} bytes but only {available} remain",
                String::from_utf8_lossy(id).escape_default()
            )));
        }
        if id == b"MTrk" {
            found += 1;
        }
        offset += 8 + len;
    }
    match declared {
        Some(declared) if usize::from(declared) > found => Err(parse_msg(format!(
            "truncated: the header declares {declared} track(s) but the file holds {found}"
        ))),
        _ => Ok(()),
    }
}

impl TrackData {
    /// Whether some text event of the track reads as a chord symbol (a chord track).
    fn has_chord_symbols(&self) -> bool {
        self.texts.iter().any(|(_, t)| t.parse::<Chord>().is_ok())
    }
}

/// One channel-voice or meta event of interest, with its absolute tick.
#[derive(Debug, Clone, Copy)]
enum Item {
    On { channel: u8, key: u8 },
    Off { channel: u8, key: u8 },
}

/// What one track holds, in owned form.
#[derive(Debug, Default)]
struct TrackData {
    name: Option<String>,
    /// Non-drum note events in order, with absolute ticks.
    notes: Vec<(u64, Item)>,
    note_ons: usize,
    drum_note_ons: usize,
    /// Tick of the last event.
    end: u64,
    tempos: Vec<(u64, u32)>,
    time_signatures: Vec<(u64, (u8, u8))>,
    key_signatures: Vec<(u64, KeySignature)>,
    /// Text events (chord symbols, among others).
    texts: Vec<(u64, String)>,
}

fn read_track(mut events: EventIter<'_>, index: usize) -> Result<TrackData, MidiError> {
    let mut data = TrackData::default();
    let mut tick = 0u64;
    loop {
        let before = events.unread().len();
        let event = match events.next() {
            Some(event) => event.map_err(parse_error)?,
            None if before > 0 => {
                // The lenient parser stops a track silently at a malformed event.
                return Err(parse_msg(format!(
                    "track {index}: malformed event {} byte(s) before the end of the track",
                    before
                )));
            }
            None => break,
        };
        tick += u64::from(event.delta.as_int());
        data.end = tick;
        match event.kind {
            TrackEventKind::Midi { channel, message } => {
                let channel = channel.as_int();
                let item = match message {
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => Item::On {
                        channel,
                        key: key.as_int(),
                    },
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        Item::Off {
                            channel,
                            key: key.as_int(),
                        }
                    }
                    _ => continue,
                };
                if channel == DRUM_CHANNEL {
                    if matches!(item, Item::On { .. }) {
                        data.drum_note_ons += 1;
                    }
                    continue;
                }
                if matches!(item, Item::On { .. }) {
                    data.note_ons += 1;
                }
                data.notes.push((tick, item));
            }
            TrackEventKind::Meta(message) => match message {
                MetaMessage::TrackName(name) if data.name.is_none() => {
                    data.name = text(name);
                }
                MetaMessage::Text(bytes) => {
                    if let Some(t) = text(bytes) {
                        data.texts.push((tick, t));
                    }
                }
                // A tempo of 0 microseconds per quarter is meaningless; skip it.
                MetaMessage::Tempo(t) if t.as_int() > 0 => data.tempos.push((tick, t.as_int())),
                MetaMessage::TimeSignature(num, den_pow, _, _) if num > 0 && den_pow <= 7 => {
                    data.time_signatures.push((tick, (num, 1u8 << den_pow)))
                }
                MetaMessage::KeySignature(sharps, minor) if (-7..=7).contains(&sharps) => data
                    .key_signatures
                    .push((tick, KeySignature { sharps, minor })),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(data)
}

/// Text of a meta event: UTF-8 when it is, else Latin-1 (what older files use).
fn text(bytes: &[u8]) -> Option<String> {
    let s = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    let s = s.trim_end_matches('\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// A note in ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedNote {
    pub(crate) pitch: u8,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// Applies note pairing, last-note priority, the polyphony rule and drops zero-length notes.
fn monophonic(
    track: &TrackData,
    index: usize,
    polyphony: Polyphony,
    report: &mut ImportReport,
) -> Result<Vec<TimedNote>, MidiError> {
    // Open note-ons per (channel, key), for pairing note-offs independently of what sounds.
    let mut open = vec![0u32; 16 * 128];
    let slot = |channel: u8, key: u8| usize::from(channel & 0x0f) * 128 + usize::from(key & 0x7f);
    // The sounding note: (channel, key, start).
    let mut sounding: Option<(u8, u8, u64)> = None;
    let mut notes: Vec<TimedNote> = Vec::with_capacity(track.note_ons);
    let close = |notes: &mut Vec<TimedNote>, report: &mut ImportReport, key, start, end| {
        if end > start {
            notes.push(TimedNote {
                pitch: key,
                start,
                end,
            });
        } else {
            report.zero_length_dropped += 1;
        }
    };
    for &(tick, item) in &track.notes {
        match item {
            Item::On { channel, key } => {
                open[slot(channel, key)] += 1;
                match sounding {
                    Some((_, old_key, start)) if start == tick => {
                        if polyphony == Polyphony::Error && old_key != key {
                            let mut pitches = vec![old_key, key];
                            pitches.sort_unstable();
                            return Err(MidiError::Polyphony {
                                file: None,
                                track: index,
                                tick,
                                pitches,
                            });
                        }
                        report.simultaneous_dropped += 1;
                        if key > old_key {
                            sounding = Some((channel, key, tick));
                        }
                    }
                    Some((_, old_key, start)) => {
                        report.overlaps_cut += 1;
                        close(&mut notes, report, old_key, start, tick);
                        sounding = Some((channel, key, tick));
                    }
                    None => sounding = Some((channel, key, tick)),
                }
            }
            Item::Off { channel, key } => {
                let count = &mut open[slot(channel, key)];
                if *count == 0 {
                    report.unmatched_note_offs += 1;
                    continue;
                }
                *count -= 1;
                if let Some((ch, k, start)) = sounding {
                    if ch == channel && k == key {
                        close(&mut notes, report, key, start, tick);
                        sounding = None;
                    }
                }
            }
        }
    }
    if let Some((_, key, start)) = sounding {
        report.unterminated_closed += 1;
        close(&mut notes, report, key, start, track.end);
    }
    Ok(notes)
}

/// The step `tick` rounds to (halves up), in exact integer arithmetic and without a bound.
fn end_step(tick: u64, tpq: u16, spq: u32) -> u128 {
    let num = u128::from(tick) * u128::from(spq) * 2 + u128::from(tpq);
    num / (u128::from(tpq) * 2)
}

/// Rounds `tick` to the nearest step (halves up), in exact integer arithmetic.
fn to_step(tick: u64, tpq: u16, spq: u32) -> Result<u32, MidiError> {
    u32::try_from(end_step(tick, tpq, spq)).map_err(|_| MidiError::Unsupported {
        file: None,
        what: format!("a note at tick {tick} lies beyond the last representable step"),
    })
}

/// Puts the notes of track `track` on the grid. A note that ends past
/// [`MAX_MELODY_STEPS`] is an error before anything is allocated for its steps. ABC import
/// lays its tunes on an exact timeline of ticks and quantises them here too.
pub(crate) fn quantize(
    timed: &[TimedNote],
    track: usize,
    tpq: u16,
    spq: u32,
    report: &mut ImportReport,
) -> Result<Vec<Note>, MidiError> {
    let ticks_per_step = f64::from(tpq) / f64::from(spq);
    let shift = |tick: u64, step: u32| (tick as f64 - f64::from(step) * ticks_per_step).abs();
    let mut notes: Vec<Note> = Vec::with_capacity(timed.len());
    let (mut total, mut max, mut moved) = (0.0f64, 0.0f64, 0usize);
    for (index, note) in timed.iter().enumerate() {
        // The end is the latest point of a note, and notes come in order of their starts.
        let steps = end_step(note.end, tpq, spq);
        if steps > MAX_MELODY_STEPS as u128 {
            return Err(MidiError::NoteTooLong {
                file: None,
                track,
                note: index,
                pitch: note.pitch,
                start_tick: note.start,
                end_tick: note.end,
                steps: u64::try_from(steps).unwrap_or(u64::MAX),
                max: MAX_MELODY_STEPS,
            });
        }
        let start = to_step(note.start, tpq, spq)?;
        let end = to_step(note.end, tpq, spq)?;
        let (on_shift, off_shift) = (shift(note.start, start), shift(note.end, end));
        total += on_shift + off_shift;
        max = max.max(on_shift).max(off_shift);
        if on_shift > 0.0 {
            moved += 1;
        }
        if notes.last().is_some_and(|prev| prev.start == start) {
            report.quantize_collisions_dropped += 1;
            continue;
        }
        notes.push(Note {
            pitch: note.pitch,
            start,
            duration: end.saturating_sub(start).max(1),
        });
    }
    if !timed.is_empty() {
        report.max_shift_ticks = max;
        report.mean_shift_ticks = total / (2 * timed.len()) as f64;
        report.moved_onset_fraction = moved as f64 / timed.len() as f64;
    }
    Ok(notes)
}

/// Tempo, meter and key of the whole file: the earliest of each, later changes counted.
struct FileMeta {
    tempo_qpm: f64,
    time_signature: Option<(u8, u8)>,
    key_signature: Option<KeySignature>,
}

impl FileMeta {
    fn collect(tracks: &[TrackData], report: &mut ImportReport) -> Self {
        fn first_and_changes<T: Copy + PartialEq>(
            per_track: impl Iterator<Item = Vec<(u64, T)>>,
        ) -> (Option<T>, usize) {
            let mut all: Vec<(u64, T)> = per_track.flatten().collect();
            // Stable: on equal ticks the earlier track (the conductor) wins.
            all.sort_by_key(|&(tick, _)| tick);
            let first = all.first().map(|&(_, v)| v);
            let changes = all.windows(2).filter(|w| w[0].1 != w[1].1).count();
            (first, changes)
        }
        let (tempo, tempo_changes) = first_and_changes(tracks.iter().map(|t| t.tempos.clone()));
        let (time_signature, ts_changes) =
            first_and_changes(tracks.iter().map(|t| t.time_signatures.clone()));
        let (key_signature, ks_changes) =
            first_and_changes(tracks.iter().map(|t| t.key_signatures.clone()));
        report.tempo_changes = tempo_changes;
        report.time_signature_changes = ts_changes;
        report.key_signature_changes = ks_changes;
        FileMeta {
            tempo_qpm: tempo.map_or(120.0, |micros| 60_000_000.0 / f64::from(micros)),
            time_signature,
            key_signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_to_nearest_with_halves_up() {
        // 480 ticks per quarter, 4 steps: 120 ticks per step.
        assert_eq!(to_step(0, 480, 4).ok(), Some(0));
        assert_eq!(to_step(59, 480, 4).ok(), Some(0));
        assert_eq!(to_step(60, 480, 4).ok(), Some(1));
        assert_eq!(to_step(179, 480, 4).ok(), Some(1));
        // Grids that do not divide the resolution stay exact: 480 / 7 ticks per step.
        assert_eq!(to_step(480, 480, 7).ok(), Some(7));
        assert!(to_step(u64::MAX, 1, u32::MAX).is_err());
    }

    #[test]
    fn folding_moves_by_octaves_only() {
        assert_eq!(fold_octaves(96, 48, 83), Some(72));
        assert_eq!(fold_octaves(30, 48, 83), Some(54));
        assert_eq!(fold_octaves(127, 0, 5), None);
        assert_eq!(
            fold_octaves(0, 127, 127),
            Some(127).filter(|_| false).or(None)
        );
    }

    #[test]
    fn latin1_names_survive() {
        assert_eq!(text(b"Caf\xe9\0\0").as_deref(), Some("Caf\u{e9}"));
        assert_eq!(text(b"\0"), None);
    }
}
