//! Reading melodies for the commands that take them (`render`, `inspect`, `corpus`, `score`,
//! `eval`): one reader, so that every command accepts the same inputs with the same errors.
//!
//! Accepted inputs, by what the path is:
//!
//! - a JSON file in the `score` input form, `{"encoding": "rl-tuner-38", "melodies":
//!   [[events...], ...]}`, or a bare list of lists (in the hinted encoding, else rl-tuner-38);
//! - a text file of events, one melody per line (`14 1 1 0 16 ...`; `#` starts a comment);
//! - a single `.mid` file, or an `.abc` file (every tune it holds; tunes that cannot be read
//!   are skipped with their error);
//! - a directory of `.mid` and `.abc` files, read in file-name order: other files are skipped,
//!   and bad files and tunes are skipped with their error; only a directory with no usable
//!   melody fails;
//! - `-`: JSON or event text on standard input.
//!
//! MIDI and ABC are imported (through [`cadenza_env::formats`]) on a grid (four steps per quarter by default), optionally transposed so
//! that its tonic is C (see [`Transpose`]; by the key signature, or by Krumhansl–Schmuckler
//! key finding when the file has none), and turned into events of the target encoding, with
//! notes outside its range folded by octaves.

use anyhow::{anyhow, bail, Context, Result};
use cadenza_env::encoding::{Event, EventEncoding, Note};
use cadenza_env::formats::{self, Format};
use cadenza_env::limits::MAX_MELODY_STEPS;
use cadenza_env::midi::{ImportOptions, ImportedMelody, KeySignature, OutOfRange};
use cadenza_env::music::Chord;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// The encoding of inputs that name none: Magenta RL Tuner's.
pub const DEFAULT_ENCODING: EventEncoding = EventEncoding::RL_TUNER_38;

/// Parses an encoding name for clap (`rl-tuner-38`, `range-55-88`).
pub fn parse_encoding(name: &str) -> Result<EventEncoding, String> {
    name.parse::<EventEncoding>().map_err(|e| e.to_string())
}

/// Whether MIDI melodies are transposed before they become events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transpose {
    /// `to-c` for the rl-tuner-38 encoding (its task is in C major), `none` for others.
    #[default]
    Auto,
    /// Keep the pitches as they are.
    None,
    /// Move major keys to C major and minor keys to A minor (by the key signature, or by
    /// Krumhansl–Schmuckler key finding without one), by the octave that keeps most notes
    /// inside the encoding.
    ToC,
}

impl Transpose {
    /// `Auto` decided for `encoding`.
    pub fn resolve(self, encoding: EventEncoding) -> Transpose {
        match self {
            Transpose::Auto if encoding == EventEncoding::RL_TUNER_38 => Transpose::ToC,
            Transpose::Auto => Transpose::None,
            other => other,
        }
    }
}

/// How to read melodies.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Encoding of inputs that do not name one (MIDI, event text, a bare list); a JSON file
    /// that names an encoding keeps its own. `None`: [`DEFAULT_ENCODING`].
    pub encoding: Option<EventEncoding>,
    /// Transposition of MIDI melodies.
    pub transpose: Transpose,
    /// How MIDI files are imported.
    pub import: ImportOptions,
}

impl ReadOptions {
    fn encoding(&self) -> EventEncoding {
        self.encoding.unwrap_or(DEFAULT_ENCODING)
    }
}

/// What a melody read from MIDI keeps of its file.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiInfo {
    /// Title (the first track's name).
    pub title: Option<String>,
    /// First tempo, quarter notes per minute.
    pub tempo_qpm: f64,
    /// First time signature.
    pub time_signature: Option<(u8, u8)>,
    /// The file's key signature.
    pub key_signature: Option<KeySignature>,
    /// The key signature after transposition (with a key found by Krumhansl–Schmuckler when
    /// the file has no signature).
    pub key_after: Option<KeySignature>,
    /// Steps per quarter note of the events.
    pub steps_per_quarter: u32,
    /// Semitones the melody was moved (0 without transposition).
    pub transposed: i32,
    /// Notes moved by octaves into the encoding's range after transposition.
    pub folded: usize,
    /// Notes in the melody.
    pub notes: usize,
    /// The chord symbols that came with the melody, (onset step, chord), transposed with it.
    pub harmony: Vec<(u32, Chord)>,
}

impl MidiInfo {
    /// Steps per bar of the file's meter (4/4 when it has none).
    pub fn steps_per_bar(&self) -> usize {
        let (num, den) = self.time_signature.unwrap_or((4, 4));
        steps_per_bar(self.steps_per_quarter, num, den)
    }
}

/// Steps in a bar of `num/den` on a grid of `steps_per_quarter` (at least 1).
pub fn steps_per_bar(steps_per_quarter: u32, num: u8, den: u8) -> usize {
    let steps = u64::from(steps_per_quarter) * 4 * u64::from(num) / u64::from(den.max(1));
    usize::try_from(steps).unwrap_or(usize::MAX).max(1)
}

/// One melody and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    /// File name, or `melodies[i]` / `line N` inside a file.
    pub source: String,
    /// One event per step.
    pub events: Vec<Event>,
    /// File metadata, for melodies read from MIDI.
    pub midi: Option<MidiInfo>,
}

impl Melody {
    /// The musical frame of the melody in `encoding`: its file's meter and key (the key after
    /// transposition, found by Krumhansl–Schmuckler where the file has no signature), no
    /// chords. Melodies read from JSON, and files whose meter does not fit the grid, are read
    /// as 4/4 sixteenths in C major.
    pub fn setting(&self, encoding: EventEncoding) -> cadenza_env::Setting {
        use cadenza_env::music::{Key, Meter, Mode, PitchClass};
        let c_major = Key::new(PitchClass::wrapping(0), Mode::Major);
        let plain = || -> cadenza_env::Setting {
            let four_four = Meter::new(4, 4).expect("4/4 is a meter");
            cadenza_env::Setting::for_tune(encoding, self.events.len(), four_four, 4, c_major)
                .expect("4/4 fits a grid of sixteenths")
        };
        let Some(info) = &self.midi else {
            return plain();
        };
        let key = info
            .key_after
            .and_then(|k| Key::from_key_signature(k.sharps, k.minor).ok())
            .unwrap_or(c_major);
        let (num, den) = info.time_signature.unwrap_or((4, 4));
        Meter::new(num, den)
            .and_then(|meter| {
                cadenza_env::Setting::for_tune(
                    encoding,
                    self.events.len(),
                    meter,
                    info.steps_per_quarter,
                    key,
                )
            })
            .unwrap_or_else(|_| plain())
    }
}

/// A file of a directory that gave no melody, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// Melodies in one encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct MelodySet {
    /// The encoding of every melody's events.
    pub encoding: EventEncoding,
    /// The melodies, in input order.
    pub melodies: Vec<Melody>,
    /// Files of a directory that were skipped.
    pub skipped: Vec<Skipped>,
}

impl MelodySet {
    /// The events of every melody.
    pub fn events(&self) -> Vec<Vec<Event>> {
        self.melodies.iter().map(|m| m.events.clone()).collect()
    }

    /// Total number of events.
    pub fn num_events(&self) -> usize {
        self.melodies.iter().map(|m| m.events.len()).sum()
    }

    /// Prints one line per skipped file on stderr.
    pub fn warn_skipped(&self) {
        for s in &self.skipped {
            eprintln!("skipped {}: {}", s.path.display(), s.reason);
        }
    }

    /// Fails unless the melodies are in `expected` (`what` says who needs it).
    pub fn require_encoding(&self, expected: EventEncoding, what: &str) -> Result<()> {
        if self.encoding != expected {
            bail!(
                "the melodies are in encoding {}, but {what} uses {expected}",
                self.encoding
            );
        }
        Ok(())
    }
}

/// Why an entry of a melody folder is not read, when it is not a regular file (after
/// symbolic links): reading a FIFO, a socket or a device would block or never end.
pub fn not_regular(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => None,
        Ok(_) => Some("not a regular file (a FIFO, a socket or a device): not read".to_string()),
        Err(e) => Some(format!("cannot read: {e}")),
    }
}

/// Reads melodies from `path` (see the module docs for the accepted forms; `-` is stdin).
pub fn read_melodies(path: &Path, options: &ReadOptions) -> Result<MelodySet> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read melodies from standard input")?;
        return read_text(&text, "standard input", options);
    }
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read melodies from {}", path.display()))?;
    if meta.is_dir() {
        return read_dir(path, options);
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read melodies from {}", path.display()))?;
    if let Some(format) = melody_format(path, &bytes) {
        let tunes = read_tunes(path, format, options)
            .map_err(|(_, reason)| anyhow!("{}: {reason}", path.display()))?;
        let mut melodies = Vec::new();
        let mut skipped = Vec::new();
        for tune in tunes {
            match tune.result {
                Ok((_, melody)) => melodies.push(melody),
                Err((_, reason)) => skipped.push(Skipped {
                    path: path.to_path_buf(),
                    reason,
                }),
            }
        }
        if melodies.is_empty() {
            match skipped.into_iter().next() {
                Some(first) if format == Format::Midi => {
                    bail!("{}: {}", path.display(), first.reason)
                }
                Some(first) => bail!("no usable melodies in {}: {}", path.display(), first.reason),
                None => bail!("{}: holds no tunes", path.display()),
            }
        }
        return Ok(MelodySet {
            encoding: options.encoding(),
            melodies,
            skipped,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{}: expected a MIDI file (.mid), an ABC file (.abc), a JSON file of melodies or a text \
             file of events, but the file is neither MIDI nor UTF-8 text",
            path.display()
        )
    })?;
    read_text(&text, &path.display().to_string(), options)
}

/// Parses melodies held in text: JSON (score input form or a bare list) or event lines.
/// `source` names the input in errors.
pub fn read_text(text: &str, source: &str, options: &ReadOptions) -> Result<MelodySet> {
    let trimmed = text.trim_start();
    let (encoding, lists, names) = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let (encoding, lists) = parse_json(trimmed, source, options)?;
        let names: Vec<String> = (0..lists.len()).map(|i| format!("melodies[{i}]")).collect();
        (encoding, lists, names)
    } else {
        let (lists, lines) = parse_event_text(text, source, options.encoding())?;
        let names = lines.iter().map(|l| format!("line {l}")).collect();
        (options.encoding(), lists, names)
    };
    if lists.is_empty() {
        bail!("{source}: holds no melodies");
    }
    // The parsers checked every event against the encoding and every length against the
    // limit, naming the number as it was written.
    let melodies = lists
        .into_iter()
        .zip(names)
        .map(|(events, name)| Melody {
            source: name,
            events,
            midi: None,
        })
        .collect();
    Ok(MelodySet {
        encoding,
        melodies,
        skipped: Vec::new(),
    })
}

/// Checks one event number against `encoding`; `at` says where it was, for the error.
fn check_event(number: u64, encoding: EventEncoding, at: impl FnOnce() -> String) -> Result<Event> {
    match Event::try_from(number) {
        Ok(event) if usize::from(event) < encoding.num_events() => Ok(event),
        _ => Err(outside_encoding(&number, encoding, at())),
    }
}

/// An event outside `encoding`, named as it was written (a number past every integer type
/// included), not as whatever a conversion made of it.
fn outside_encoding(
    shown: &dyn std::fmt::Display,
    encoding: EventEncoding,
    at: String,
) -> anyhow::Error {
    anyhow!(
        "{at}: event {shown} is outside the encoding {encoding} (valid: 0..={})",
        encoding.num_events() - 1
    )
}

/// Checks a melody's length against [`MAX_MELODY_STEPS`] before it is stored.
fn check_length(steps: usize, at: impl FnOnce() -> String) -> Result<()> {
    if steps > MAX_MELODY_STEPS {
        bail!(
            "{}: {steps} events, but a melody may last at most {MAX_MELODY_STEPS} steps (see \"Limits\" in the README)",
            at()
        );
    }
    Ok(())
}

fn parse_json(
    text: &str,
    source: &str,
    options: &ReadOptions,
) -> Result<(EventEncoding, Vec<Vec<Event>>)> {
    use serde_json::Value;
    if let Some((name, lists)) = parse_json_compact(text) {
        let encoding = match name {
            None => options.encoding(),
            Some(name) => name
                .parse::<EventEncoding>()
                .map_err(|e| anyhow!("{source}: field \"encoding\": {e}"))?,
        };
        for (m, events) in lists.iter().enumerate() {
            check_length(events.len(), || {
                format!("{source}: melody {m} (melodies[{m}])")
            })?;
            for (position, &event) in events.iter().enumerate() {
                check_event(u64::from(event), encoding, || {
                    format!("{source}: melody {m} (melodies[{m}]), position {position}")
                })?;
            }
        }
        return Ok((encoding, lists));
    }
    // Not in the form, or something in it is wrong: read it as a JSON tree, which can say
    // exactly what and where.
    let value: Value = serde_json::from_str(text).with_context(|| {
        format!(
            "{source}: not valid JSON (expected {{\"encoding\": \"rl-tuner-38\", \"melodies\": [[events...], ...]}})"
        )
    })?;
    let (encoding, list) = match value {
        Value::Array(list) => (options.encoding(), list),
        Value::Object(mut map) => {
            let encoding = match map.remove("encoding") {
                None => options.encoding(),
                Some(Value::String(name)) => name
                    .parse::<EventEncoding>()
                    .map_err(|e| anyhow!("{source}: field \"encoding\": {e}"))?,
                Some(other) => bail!(
                    "{source}: field \"encoding\" must be a string such as \"rl-tuner-38\", found {other}"
                ),
            };
            match map.remove("melodies") {
                Some(Value::Array(list)) => (encoding, list),
                Some(other) => bail!(
                    "{source}: field \"melodies\" must be a list of lists of events, found {}",
                    kind(&other)
                ),
                None => bail!("{source}: missing field \"melodies\" (a list of lists of events)"),
            }
        }
        other => bail!(
            "{source}: expected an object {{\"encoding\": ..., \"melodies\": [...]}} or a list of lists, found {}",
            kind(&other)
        ),
    };
    let mut lists = Vec::with_capacity(list.len());
    for (m, melody) in list.into_iter().enumerate() {
        let Value::Array(events) = melody else {
            bail!(
                "{source}: melody {m} (melodies[{m}]) must be a list of event numbers, found {}",
                kind(&melody)
            );
        };
        check_length(events.len(), || {
            format!("{source}: melody {m} (melodies[{m}])")
        })?;
        let mut out = Vec::with_capacity(events.len());
        for (position, event) in events.iter().enumerate() {
            let at = || format!("{source}: melody {m} (melodies[{m}]), position {position}");
            let number = event.as_u64().ok_or_else(|| {
                anyhow!(
                    "{}: expected an event number 0..={}, found {event}",
                    at(),
                    encoding.num_events() - 1
                )
            })?;
            out.push(check_event(number, encoding, at)?);
        }
        lists.push(out);
    }
    Ok((encoding, lists))
}

/// The melodies of a well-formed input in the `score` form (or a bare list of lists), read
/// straight into event bytes: a million melodies of 32 steps take 32 MB this way, against
/// more than a gigabyte as a JSON tree. `None` for anything else, including an event past 255
/// or an encoding that is not a string; [`parse_json`] then reads the tree to name the fault.
fn parse_json_compact(text: &str) -> Option<(Option<String>, Vec<Vec<Event>>)> {
    #[derive(serde::Deserialize)]
    struct Form {
        #[serde(default, deserialize_with = "some_string")]
        encoding: Option<String>,
        melodies: Vec<Vec<Event>>,
    }
    fn some_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(Some)
    }
    if text.starts_with('{') {
        let form: Form = serde_json::from_str(text).ok()?;
        Some((form.encoding, form.melodies))
    } else {
        Some((None, serde_json::from_str(text).ok()?))
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Event lines (checked against `encoding`) and their 1-based line numbers.
fn parse_event_text(
    text: &str,
    source: &str,
    encoding: EventEncoding,
) -> Result<(Vec<Vec<Event>>, Vec<usize>)> {
    let mut lists = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = content
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            continue;
        }
        check_length(tokens.len(), || format!("{source}: line {}", i + 1))?;
        let mut events = Vec::with_capacity(tokens.len());
        for (position, token) in tokens.iter().enumerate() {
            let at = || format!("{source}: line {}, position {position}", i + 1);
            let event = match token.parse::<u64>() {
                Ok(number) => check_event(number, encoding, at)?,
                Err(_) if token.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(outside_encoding(token, encoding, at()))
                }
                Err(_) => bail!(
                    "{}: expected an event number, found '{token}' \
                     (inputs are JSON, MIDI, or lines of event numbers such as '14 1 1 0 16')",
                    at()
                ),
            };
            events.push(event);
        }
        lists.push(events);
        lines.push(i + 1);
    }
    Ok((lists, lines))
}

/// The melody format of a file: by its extension, or MIDI by its first bytes.
fn melody_format(path: &Path, bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"MThd") || bytes.starts_with(b"RIFF") {
        return Some(Format::Midi);
    }
    Format::from_path(path).filter(|f| f.can_read())
}

/// One tune read from a melody file: the import and its melody, or the category and reason
/// it was skipped.
pub struct ReadTune {
    /// The tune: the file name, with `X:3 "Title"` for a tune of an ABC file.
    pub source: String,
    /// The tune, or (category, reason) when it was skipped.
    pub result: std::result::Result<(ImportedMelody, Melody), (String, String)>,
}

/// Every tune of a melody file in `format` (one for MIDI), each imported and encoded, or the
/// (category, reason) the whole file was skipped. The one reader of melody files that the
/// commands share, so that MIDI and ABC follow the same rules.
pub fn read_tunes(
    path: &Path,
    format: Format,
    options: &ReadOptions,
) -> std::result::Result<Vec<ReadTune>, (String, String)> {
    let tunes = formats::read_file(path, Some(format), &options.import)
        .map_err(|e| (e.category(), e.to_string()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    Ok(tunes
        .into_iter()
        .map(|tune| {
            let source = match &tune.label {
                Some(label) => format!("{name} {label}"),
                None => name.clone(),
            };
            let result = match tune.melody {
                Err(e) => Err((e.category(), e.to_string())),
                Ok(imported) => {
                    match melody_from_midi(
                        &imported,
                        source.clone(),
                        options.encoding(),
                        options.transpose,
                    ) {
                        Ok(melody) => Ok((imported, melody)),
                        Err(e) => Err(("not encodable".to_string(), format!("{}: {e:#}", source))),
                    }
                }
            };
            ReadTune { source, result }
        })
        .collect())
}

/// A melody from an imported MIDI file: transposed as asked, then encoded with notes outside
/// the encoding folded by octaves.
pub fn melody_from_midi(
    imported: &ImportedMelody,
    source: String,
    encoding: EventEncoding,
    transpose: Transpose,
) -> Result<Melody> {
    let (shift, key_after) = match transpose.resolve(encoding) {
        Transpose::ToC => {
            let key = key_for_transposition(imported);
            let shift = shift_to_c(&imported.notes, key, encoding);
            let after = key.map(|k| KeySignature {
                sharps: 0,
                minor: k.minor,
            });
            (shift, after)
        }
        _ => (0, imported.key_signature),
    };
    let mut moved = imported.clone();
    for note in &mut moved.notes {
        // `shift_to_c` only picks shifts that keep every note a MIDI pitch.
        note.pitch = (i32::from(note.pitch) + shift).clamp(0, 127) as u8;
    }
    let (min, max) = (encoding.min_pitch(), encoding.max_pitch());
    let folded = moved
        .notes
        .iter()
        .filter(|n| !(min..=max).contains(&n.pitch))
        .count();
    let events = moved.to_events(encoding, OutOfRange::FoldOctaves)?;
    Ok(Melody {
        source,
        events,
        midi: Some(MidiInfo {
            title: imported.title.clone(),
            tempo_qpm: imported.tempo_qpm,
            time_signature: imported.time_signature,
            key_signature: imported.key_signature,
            key_after,
            steps_per_quarter: imported.steps_per_quarter,
            transposed: shift,
            folded,
            notes: imported.notes.len(),
            harmony: imported
                .harmony
                .iter()
                .map(|(step, chord)| (*step, chord.transpose(shift)))
                .collect(),
        }),
    })
}

/// The key a melody is transposed by: the file's key signature, or else the Krumhansl–Schmuckler
/// key of its notes (`None` only without notes, or with no key preferred).
pub fn key_for_transposition(imported: &ImportedMelody) -> Option<KeySignature> {
    imported.key_signature.or_else(|| {
        cadenza_reward::corpus::find_key(&imported.notes).map(|found| found.key.to_signature())
    })
}

/// Semitones that take the key signature's major key to C (and so its relative minor to A
/// minor), among the octave choices the one that keeps most notes inside `encoding`, then the
/// smallest move. Without a key signature only octaves are considered.
pub fn shift_to_c(notes: &[Note], key: Option<KeySignature>, encoding: EventEncoding) -> i32 {
    // Each sharp moves the major tonic a fifth (7 semitones) up.
    let base = key.map_or(0, |k| -(7 * i32::from(k.sharps)).rem_euclid(12));
    let (lo, hi) = match (
        notes.iter().map(|n| n.pitch).min(),
        notes.iter().map(|n| n.pitch).max(),
    ) {
        (Some(lo), Some(hi)) => (i32::from(lo), i32::from(hi)),
        _ => return base,
    };
    let (min, max) = (
        i32::from(encoding.min_pitch()),
        i32::from(encoding.max_pitch()),
    );
    let mut best = (usize::MAX, i32::MAX, base);
    for octave in -10..=10 {
        let shift = base + 12 * octave;
        if lo + shift < 0 || hi + shift > 127 {
            continue;
        }
        let outside = notes
            .iter()
            .filter(|n| !(min..=max).contains(&(i32::from(n.pitch) + shift)))
            .count();
        let rank = (outside, shift.abs(), shift);
        if rank < best {
            best = rank;
        }
    }
    best.2
}

/// A progress bar on stderr when it is a terminal (hidden otherwise, so that logs and pipes
/// stay clean).
pub fn progress(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let template = format!("{{wide_bar}} {{pos}}/{{len}} {what}, eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Writes a command's output to stdout. A reader that went away (`| head`) is not an error:
/// the output was not wanted any more, and printing must not panic over it.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// `writeln!` into a `String`, which cannot fail.
macro_rules! say {
    ($text:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($text, $($arg)*);
    }};
}
pub(crate) use say;

fn read_dir(dir: &Path, options: &ReadOptions) -> Result<MelodySet> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list directory {}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list directory {}", dir.display()))?;
        paths.push(entry.path());
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut melodies = Vec::new();
    let mut skipped = Vec::new();
    let bar = progress(paths.len(), "files");
    for path in paths {
        bar.inc(1);
        let skip = |reason: String| Skipped {
            path: path.clone(),
            reason,
        };
        if path.is_dir() {
            skipped.push(skip(
                "a directory (subdirectories are not searched)".to_string(),
            ));
            continue;
        }
        if let Some(reason) = not_regular(&path) {
            skipped.push(skip(reason));
            continue;
        }
        let Some(format) = Format::from_path(&path).filter(|f| f.can_read()) else {
            skipped.push(skip(format!(
                "not a melody file (expected {})",
                Format::readable_extensions()
            )));
            continue;
        };
        match read_tunes(&path, format, options) {
            Err((_, reason)) => skipped.push(skip(reason)),
            Ok(tunes) => {
                for tune in tunes {
                    match tune.result {
                        Ok((_, melody)) => melodies.push(melody),
                        Err((_, reason)) => skipped.push(skip(reason)),
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    if melodies.is_empty() {
        let detail = match skipped.first() {
            Some(first) => format!(
                "{} file(s) skipped, the first {}: {}",
                skipped.len(),
                first.path.display(),
                first.reason
            ),
            None => "the directory is empty".to_string(),
        };
        bail!(
            "no usable melodies in {}: expected {} files; {detail}",
            dir.display(),
            Format::readable_extensions()
        );
    }
    Ok(MelodySet {
        encoding: options.encoding(),
        melodies,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ReadOptions {
        ReadOptions::default()
    }

    #[test]
    fn reads_score_form_and_bare_lists() {
        let set = read_text(
            r#"{"encoding": "range-55-88", "melodies": [[2, 1, 0], [3]]}"#,
            "x",
            &opts(),
        )
        .unwrap();
        assert_eq!(set.encoding.to_string(), "range-55-88");
        assert_eq!(set.melodies[1].events, vec![3]);
        assert_eq!(set.melodies[1].source, "melodies[1]");
        let set = read_text("[[14, 1], [0]]", "x", &opts()).unwrap();
        assert_eq!(set.encoding, EventEncoding::RL_TUNER_38);
        assert_eq!(set.melodies.len(), 2);
    }

    #[test]
    fn bad_events_name_melody_and_position() {
        let err = read_text("[[14, 1], [0, 1, 99]]", "m.json", &opts()).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("melody 1"), "{text}");
        assert!(text.contains("position 2"), "{text}");
        let err = read_text("[[14, -1]]", "m.json", &opts()).unwrap_err();
        assert!(format!("{err:#}").contains("position 1"), "{err:#}");
    }

    #[test]
    fn reads_event_text() {
        let set = read_text("# two melodies\n14 1 1 0\n\n16, 1\n", "t", &opts()).unwrap();
        assert_eq!(set.melodies.len(), 2);
        assert_eq!(set.melodies[0].events, vec![14, 1, 1, 0]);
        assert_eq!(set.melodies[1].source, "line 4");
        assert!(read_text("14 x", "t", &opts()).is_err());
    }

    #[test]
    fn transposes_keys_to_c_by_the_best_octave() {
        let note = |pitch| Note {
            pitch,
            start: 0,
            duration: 1,
        };
        // G major melody around G4..A5: down a fifth keeps it inside 48..=83.
        let notes = [note(67), note(81)];
        let g = Some(KeySignature {
            sharps: 1,
            minor: false,
        });
        assert_eq!(shift_to_c(&notes, g, EventEncoding::RL_TUNER_38), -7);
        // E minor (one sharp) goes to A minor by the same move.
        let e = Some(KeySignature {
            sharps: 1,
            minor: true,
        });
        assert_eq!(shift_to_c(&notes, e, EventEncoding::RL_TUNER_38), -7);
        // F major (one flat): C is 5 semitones below F; a low melody goes up 7 instead.
        let f = Some(KeySignature {
            sharps: -1,
            minor: false,
        });
        let low = [note(41), note(50)];
        assert_eq!(shift_to_c(&low, f, EventEncoding::RL_TUNER_38), 7);
        assert_eq!(shift_to_c(&notes, None, EventEncoding::RL_TUNER_38), 0);
    }
}
