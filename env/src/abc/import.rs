//! Reading the tunes of an ABC file (rules in the module docs).

use super::error::AbcError;
use crate::encoding::Note;
use crate::limits::MAX_MELODY_STEPS;
use crate::midi::import::{quantize, TimedNote};
use crate::midi::{ImportOptions, ImportReport, ImportedMelody, KeySignature};
use crate::music::Chord;
use crate::notation::{signature_accidentals, NATURAL};

/// Ticks per quarter note of the exact timeline an ABC tune is laid on before it is
/// quantised: 8! is divisible by every tuplet of 2..=10 notes and every length down to a
/// 1/512 note, so written lengths land on it exactly.
pub const ABC_TICKS_PER_QUARTER: u16 = 40320;

/// Largest number an ABC length, tuplet or repeat count may hold.
const MAX_NUMBER: u64 = 4096;
/// Largest ending number (`[1`, `[2`, ...) read.
const MAX_ENDING: u32 = 16;

/// One tune of an ABC file.
#[derive(Debug, Clone, PartialEq)]
pub struct AbcTune {
    /// The reference number of its `X:` field, if it has a readable one.
    pub number: Option<u32>,
    /// The first `T:` field.
    pub title: Option<String>,
    /// 1-based line of the file where the tune starts.
    pub line: usize,
    /// The melody, or why it could not be read.
    pub melody: Result<ImportedMelody, AbcError>,
}

impl AbcTune {
    /// The tune as errors and reports name it: `X:3 "The Kesh"`.
    pub fn label(&self) -> String {
        label(self.number, self.title.as_deref(), self.line)
    }
}

fn label(number: Option<u32>, title: Option<&str>, line: usize) -> String {
    let x = match number {
        Some(n) => format!("X:{n}"),
        None => format!("at line {line}"),
    };
    match title {
        Some(t) => format!("{x} \"{t}\""),
        None => x,
    }
}

/// Reads every tune of an ABC file held in memory. Text that is not UTF-8 is read as
/// Latin-1, as older ABC files are written.
pub fn import_bytes(bytes: &[u8], options: &ImportOptions) -> Vec<AbcTune> {
    match std::str::from_utf8(bytes) {
        Ok(text) => import_str(text, options),
        Err(_) => {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            import_str(&text, options)
        }
    }
}

/// Reads every tune of an ABC text: a tune starts at an `X:` line and ends at a blank line or
/// the next `X:` line; text before the first `X:` is the file header (its `L:`, `M:`, `K:`
/// and `Q:` fields are defaults for every tune). A text without any `X:` line is one tune.
/// Never panics; each tune that cannot be read carries its error.
pub fn import_str(text: &str, options: &ImportOptions) -> Vec<AbcTune> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, l))| l.starts_with("X:"))
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        if lines.iter().all(|(_, l)| l.trim().is_empty()) {
            return Vec::new();
        }
        return vec![read_tune(&lines, &[], options)];
    }
    let header = &lines[..starts[0]];
    let mut tunes = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        let block = &lines[start..end];
        // A blank line ends the tune; what follows is free text until the next X:.
        let stop = block
            .iter()
            .position(|(_, l)| l.trim().is_empty())
            .unwrap_or(block.len());
        tunes.push(read_tune(&block[..stop], header, options));
    }
    tunes
}

/// An exact, non-negative fraction of a whole note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    n: u64,
    d: u64,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    const ZERO: Ratio = Ratio { n: 0, d: 1 };

    fn new(n: u128, d: u128) -> Option<Ratio> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        Some(Ratio {
            n: u64::try_from(n / g).ok()?,
            d: u64::try_from(d / g).ok()?,
        })
    }

    fn of(n: u64, d: u64) -> Option<Ratio> {
        Ratio::new(u128::from(n), u128::from(d))
    }

    fn mul(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(
            u128::from(self.n) * u128::from(o.n),
            u128::from(self.d) * u128::from(o.d),
        )
    }

    fn add(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(
            u128::from(self.n) * u128::from(o.d) + u128::from(o.n) * u128::from(self.d),
            u128::from(self.d) * u128::from(o.d),
        )
    }

    /// Ticks of the exact timeline (rounded to the nearest; exact for usual lengths).
    fn ticks(self) -> u128 {
        let num = u128::from(self.n) * 4 * u128::from(ABC_TICKS_PER_QUARTER);
        (2 * num + u128::from(self.d)) / (2 * u128::from(self.d))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bar {
    repeat_end: bool,
    repeat_start: bool,
    double: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Elem {
    Note {
        pitch: Option<u8>,
        length: Ratio,
        tie: bool,
    },
    Chord(Chord),
    Bar(Bar),
    Ending(Vec<u32>),
}

/// Sharps (negative: flats) of the major key on a letter with an accidental.
fn major_sharps(letter: usize, alter: i8) -> i32 {
    const BY_LETTER: [i32; 7] = [0, 2, 4, -1, 1, 3, 5];
    BY_LETTER[letter] + 7 * i32::from(alter)
}

/// The state of the header fields while a tune is read.
#[derive(Debug, Clone)]
struct Fields {
    unit: Option<Ratio>,
    meter: Option<(u8, u8)>,
    /// Whole notes per bar, for multi-bar rests.
    bar_length: Option<Ratio>,
    key: [i8; 7],
    signature: Option<KeySignature>,
    tempo_qpm: Option<f64>,
}

impl Fields {
    fn new() -> Self {
        Self {
            unit: None,
            meter: None,
            bar_length: None,
            key: [0; 7],
            signature: None,
            tempo_qpm: None,
        }
    }

    /// The unit note length: `L:`, else 1/16 under a meter below 3/4 and 1/8 otherwise.
    fn unit(&self) -> Ratio {
        self.unit.unwrap_or(match self.meter {
            Some((n, d)) if 4 * u32::from(n) < 3 * u32::from(d) => Ratio { n: 1, d: 16 },
            _ => Ratio { n: 1, d: 8 },
        })
    }
}

/// Where the reader is, for error messages.
struct At<'a> {
    tune: &'a str,
    line: usize,
}

impl At<'_> {
    fn syntax(&self, column: usize, message: impl Into<String>) -> AbcError {
        AbcError::Syntax {
            file: None,
            tune: self.tune.to_string(),
            line: self.line,
            column,
            message: message.into(),
        }
    }

    fn unsupported(&self, what: impl Into<String>) -> AbcError {
        AbcError::Unsupported {
            file: None,
            tune: self.tune.to_string(),
            line: self.line,
            what: what.into(),
        }
    }
}

fn read_tune(
    lines: &[(usize, &str)],
    header: &[(usize, &str)],
    options: &ImportOptions,
) -> AbcTune {
    let line = lines.first().map_or(1, |l| l.0);
    let number = lines
        .first()
        .and_then(|(_, l)| l.strip_prefix("X:"))
        .and_then(|x| x.trim().parse::<u32>().ok());
    let title = lines
        .iter()
        .find_map(|(_, l)| l.strip_prefix("T:"))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let name = label(number, title.as_deref(), line);
    let melody = Reader::new(&name, options).and_then(|mut r| r.read(header, lines, title.clone()));
    AbcTune {
        number,
        title,
        line,
        melody,
    }
}

struct Reader<'a> {
    tune: &'a str,
    options: &'a ImportOptions,
    fields: Fields,
    first_meter: Option<Option<(u8, u8)>>,
    first_signature: Option<Option<KeySignature>>,
    first_tempo: Option<f64>,
    in_body: bool,
    elems: Vec<Elem>,
    /// Accidentals written in the current bar: (letter, octave mark, alteration).
    bar_accidentals: Vec<(usize, i32, i8)>,
    /// Tuplet factor and notes it still applies to.
    tuplet: Option<(Ratio, u64)>,
    /// Factor for the next note's length from a broken rhythm (`>`, `<`).
    broken: Option<Ratio>,
    /// The voice read (the first one named), and whether the text now is in another.
    voice: Option<String>,
    other_voice: bool,
    report: ImportReport,
}

impl<'a> Reader<'a> {
    fn new(tune: &'a str, options: &'a ImportOptions) -> Result<Self, AbcError> {
        if options.steps_per_quarter == 0 {
            return Err(AbcError::Invalid {
                field: "steps_per_quarter".into(),
                reason: "must be at least 1, found 0".into(),
            });
        }
        Ok(Self {
            tune,
            options,
            fields: Fields::new(),
            first_meter: None,
            first_signature: None,
            first_tempo: None,
            in_body: false,
            elems: Vec::new(),
            bar_accidentals: Vec::new(),
            tuplet: None,
            broken: None,
            voice: None,
            other_voice: false,
            report: ImportReport {
                tracks: 1,
                ..ImportReport::default()
            },
        })
    }

    fn read(
        &mut self,
        header: &[(usize, &str)],
        lines: &[(usize, &str)],
        title: Option<String>,
    ) -> Result<ImportedMelody, AbcError> {
        for &(line, text) in header {
            if let Some((field, value)) = field_line(text) {
                if matches!(field, 'L' | 'M' | 'Q' | 'K') {
                    let at = At {
                        tune: self.tune,
                        line,
                    };
                    self.field(field, value, &at, 3)?;
                }
            }
        }
        // The file header's key is a default; the tune's own K: starts the body.
        self.in_body = false;
        let mut saw_key = false;
        let mut continued_comment = false;
        for &(line, text) in lines {
            let at = At {
                tune: self.tune,
                line,
            };
            // A comment (or a %% directive) that ends in a backslash goes on to the next line,
            // as some collections write long directives.
            if text.starts_with('%') || continued_comment {
                continued_comment = text.trim_end().ends_with('\\');
                continue;
            }
            if let Some((field, value)) = field_line(text) {
                if field == 'K' && !self.in_body {
                    saw_key = true;
                }
                self.field(field, value, &at, 3)?;
                if field == 'K' {
                    self.in_body = true;
                }
                continue;
            }
            if !self.in_body {
                if text.trim().is_empty() {
                    continue;
                }
                if saw_key {
                    self.in_body = true;
                } else if header.is_empty() && lines.first().is_some_and(|l| !l.1.starts_with("X:"))
                {
                    // A text without X: and without K: is read as music from its first line.
                    self.in_body = true;
                } else {
                    return Err(at.syntax(
                        1,
                        "music before the K field: expected header fields (X:, T:, M:, L:, Q:) \
                         and then K:, the last field before the notes",
                    ));
                }
            }
            self.music_line(text, &at)?;
        }
        self.finish(title)
    }

    /// One header or inline field. `column` is where its value starts, for errors.
    fn field(
        &mut self,
        field: char,
        value: &str,
        at: &At<'_>,
        column: usize,
    ) -> Result<(), AbcError> {
        let value = strip_comment(value).trim();
        match field {
            'L' => {
                let unit = parse_fraction(value).filter(|r| r.n > 0).ok_or_else(|| {
                    at.syntax(
                        column,
                        format!("L: field {value:?}: expected a unit note length such as 1/8"),
                    )
                })?;
                self.fields.unit = Some(unit);
            }
            'M' => {
                let meter = parse_meter(value)
                    .map_err(|m| at.syntax(column, format!("M: field {value:?}: {m}")))?;
                if self.in_body && self.fields.meter != meter {
                    self.report.time_signature_changes += 1;
                }
                self.fields.meter = meter;
                self.fields.bar_length =
                    meter.and_then(|(n, d)| Ratio::of(u64::from(n), u64::from(d)));
                if !self.in_body || self.first_meter.is_none() {
                    self.first_meter = Some(meter);
                }
            }
            'Q' => {
                if let Some(qpm) = parse_tempo(value, self.fields.unit()) {
                    if self.in_body && self.fields.tempo_qpm != Some(qpm) {
                        self.report.tempo_changes += 1;
                    }
                    self.fields.tempo_qpm = Some(qpm);
                    if self.first_tempo.is_none() {
                        self.first_tempo = Some(qpm);
                    }
                }
            }
            'K' => {
                let (key, signature) = parse_key(value)
                    .map_err(|m| at.syntax(column, format!("K: field {value:?}: {m}")))?;
                if self.in_body && self.fields.signature != signature {
                    self.report.key_signature_changes += 1;
                }
                self.fields.key = key;
                self.fields.signature = signature;
                // The tune's own K: (the last header field) overrides the file's default.
                if !self.in_body || self.first_signature.is_none() {
                    self.first_signature = Some(signature);
                }
            }
            'V' => {
                let id = value.split_whitespace().next().unwrap_or("").to_string();
                if self.voice.is_none() && self.elems.iter().any(|e| matches!(e, Elem::Note { .. }))
                {
                    // Music before the first V: field is the first voice, V:1.
                    self.voice = Some("1".to_string());
                }
                match &self.voice {
                    None => {
                        self.voice = Some(id);
                        self.other_voice = false;
                    }
                    Some(first) => self.other_voice = *first != id,
                }
            }
            'w' | 'W' => self.report.lyric_lines_skipped += 1,
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, elem: Elem) {
        if self.other_voice {
            if matches!(elem, Elem::Note { pitch: Some(_), .. }) {
                self.report.other_voice_notes_skipped += 1;
            }
            return;
        }
        self.elems.push(elem);
    }

    fn music_line(&mut self, text: &str, at: &At<'_>) -> Result<(), AbcError> {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0usize;
        // An ending number at the start of a line belongs to the bar line that ended the
        // previous one (`... :|` then `2 ...`).
        let first = chars
            .iter()
            .position(|c| !c.is_whitespace())
            .unwrap_or(chars.len());
        if chars.get(first).is_some_and(char::is_ascii_digit)
            && matches!(self.elems.last(), Some(Elem::Bar(_)))
            && !self.other_voice
        {
            i = self.ending(&chars, first, at)?;
        }
        while i < chars.len() {
            let c = chars[i];
            let col = i + 1;
            match c {
                ' ' | '\t' | '`' | '$' | 'y' | '\\' | ')' => i += 1,
                '%' => break,
                '"' => {
                    let end = find(&chars, i + 1, '"').ok_or_else(|| {
                        at.syntax(
                            col,
                            "unclosed chord symbol: expected a closing '\"' on the same line",
                        )
                    })?;
                    let symbol: String = chars[i + 1..end].iter().collect();
                    self.chord_symbol(&symbol);
                    i = end + 1;
                }
                '!' | '+' => match find(&chars, i + 1, c) {
                    Some(end) => {
                        self.report.decorations_skipped += 1;
                        i = end + 1;
                    }
                    // A lone '!' is an old line-break mark.
                    None if c == '!' => i += 1,
                    None => {
                        return Err(at.syntax(
                            col,
                            "unclosed decoration: expected a closing '+' on the same line",
                        ))
                    }
                },
                '.' | '~' | 'H'..='W' | 'h'..='w' => {
                    self.report.decorations_skipped += 1;
                    i += 1;
                }
                '{' => {
                    let end = find(&chars, i + 1, '}').ok_or_else(|| {
                        at.syntax(
                            col,
                            "unclosed grace notes: expected a closing '}' on the same line",
                        )
                    })?;
                    self.report.grace_notes_skipped += 1;
                    i = end + 1;
                }
                '&' => return Err(at.unsupported("voice overlay (&): only one voice is read")),
                '(' => {
                    if chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                        i = self.tuplet(&chars, i + 1, at)?;
                    } else {
                        i += 1; // a slur
                    }
                }
                '-' => {
                    if let Some(Elem::Note {
                        tie,
                        pitch: Some(_),
                        ..
                    }) = self.elems.last_mut()
                    {
                        if !self.other_voice {
                            *tie = true;
                        }
                    }
                    i += 1;
                }
                '>' | '<' => i = self.broken_rhythm(&chars, i, at)?,
                '|' | ':' => i = self.bar(&chars, i, at)?,
                '[' => i = self.bracket(&chars, i, at)?,
                'z' | 'x' | 'Z' | 'X' => {
                    let (length, next) = parse_length(&chars, i + 1).ok_or_else(|| {
                        at.syntax(
                            i + 2,
                            "a rest length: expected a number, '/' or a fraction such as 3/2",
                        )
                    })?;
                    let length = if c == 'Z' || c == 'X' {
                        let bar = self.fields.bar_length.ok_or_else(|| {
                            at.syntax(
                                col,
                                "a multi-bar rest (Z) needs a meter (M:) to know the bar length",
                            )
                        })?;
                        // Z4 is four bars: the "length" counts bars, not unit notes.
                        bar.mul(length)
                            .ok_or_else(|| at.syntax(col, "rest too long"))?
                    } else {
                        self.note_length(length, at, col)?
                    };
                    self.push(Elem::Note {
                        pitch: None,
                        length,
                        tie: false,
                    });
                    i = next;
                }
                '^' | '_' | '=' | 'A'..='G' | 'a'..='g' => {
                    let (pitch, length, next) = self.note(&chars, i, at)?;
                    let length = self.note_length(length, at, col)?;
                    self.push(Elem::Note {
                        pitch: Some(pitch),
                        length,
                        tie: false,
                    });
                    i = next;
                }
                _ => {
                    return Err(at.syntax(
                        col,
                        format!(
                            "unexpected {c:?}: expected a note (A-G, a-g), a rest (z), a bar line, \
                             a chord symbol in quotes or a decoration"
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// A written length in whole notes: times the unit, the tuplet and a broken rhythm.
    fn note_length(&mut self, written: Ratio, at: &At<'_>, col: usize) -> Result<Ratio, AbcError> {
        let too_long = || at.syntax(col, "a note length too large or too fine to read");
        let mut length = self.fields.unit().mul(written).ok_or_else(too_long)?;
        if let Some((factor, left)) = self.tuplet {
            length = length.mul(factor).ok_or_else(too_long)?;
            self.tuplet = (left > 1).then_some((factor, left - 1));
        }
        if let Some(factor) = self.broken.take() {
            length = length.mul(factor).ok_or_else(too_long)?;
        }
        Ok(length)
    }

    /// A note at `chars[i..]`: (MIDI pitch, written length, next index).
    fn note(
        &mut self,
        chars: &[char],
        mut i: usize,
        at: &At<'_>,
    ) -> Result<(u8, Ratio, usize), AbcError> {
        let start = i;
        let mut explicit: Option<i8> = None;
        while let Some(&c) = chars.get(i) {
            let step = match c {
                '^' => 1,
                '_' => -1,
                '=' => 0,
                _ => break,
            };
            explicit = Some(match explicit {
                None => step,
                Some(a) if step != 0 && a.signum() == step && a.abs() == 1 => a + step,
                Some(_) => {
                    return Err(at.syntax(i + 1, format!("accidental {c:?}: expected at most two sharps (^^) or flats (__), or one natural (=), then a note letter")))
                }
            });
            i += 1;
        }
        let c = chars.get(i).copied().unwrap_or(' ');
        let (letter, mut octave) = match c {
            'C'..='G' | 'A' | 'B' => (letter_index(c.to_ascii_uppercase()), 0i32),
            'a'..='g' => (letter_index(c.to_ascii_uppercase()), 1),
            _ => {
                return Err(at.syntax(
                    i + 1,
                    format!("an accidental without a note: found {c:?} after it, expected a note letter A-G or a-g"),
                ))
            }
        };
        i += 1;
        while let Some(&c) = chars.get(i) {
            match c {
                '\'' => octave += 1,
                ',' => octave -= 1,
                _ => break,
            }
            i += 1;
        }
        let alter = match explicit {
            Some(a) => {
                self.bar_accidentals
                    .retain(|&(l, o, _)| !(l == letter && o == octave));
                self.bar_accidentals.push((letter, octave, a));
                a
            }
            None => self
                .bar_accidentals
                .iter()
                .find(|&&(l, o, _)| l == letter && o == octave)
                .map_or(self.fields.key[letter], |&(_, _, a)| a),
        };
        let midi = 60 + 12 * i64::from(octave) + i64::from(NATURAL[letter]) + i64::from(alter);
        let pitch = u8::try_from(midi)
            .ok()
            .filter(|&p| p <= 127)
            .ok_or_else(|| {
                at.syntax(
                    start + 1,
                    format!("the note is MIDI pitch {midi}, outside 0..=127"),
                )
            })?;
        let (length, next) = parse_length(chars, i).ok_or_else(|| {
            at.syntax(
                i + 1,
                "a note length: expected a number, '/' or a fraction such as 3/2",
            )
        })?;
        Ok((pitch, length, next))
    }

    fn tuplet(&mut self, chars: &[char], mut i: usize, at: &At<'_>) -> Result<usize, AbcError> {
        let col = i;
        let mut numbers: [Option<u64>; 3] = [None; 3];
        let mut k = 0;
        loop {
            let (n, next) = number(chars, i);
            numbers[k] = n;
            i = next;
            if k < 2 && chars.get(i) == Some(&':') {
                k += 1;
                i += 1;
            } else {
                break;
            }
        }
        let p = numbers[0]
            .filter(|&p| (2..=MAX_NUMBER).contains(&p))
            .ok_or_else(|| at.syntax(col, "a tuplet: expected (p, (p:q or (p:q:r with p >= 2"))?;
        let compound = self
            .fields
            .meter
            .is_some_and(|(n, d)| d >= 8 && n % 3 == 0 && n > 3);
        let q = numbers[1].unwrap_or(match p {
            3 | 6 => 2,
            2 | 4 | 8 => 3,
            _ if compound => 3,
            _ => 2,
        });
        let r = numbers[2].unwrap_or(p);
        if q == 0 || q > MAX_NUMBER || r == 0 || r > MAX_NUMBER {
            return Err(at.syntax(col, "a tuplet: expected q and r between 1 and 4096"));
        }
        self.tuplet = Some((Ratio::of(q, p).unwrap_or(Ratio { n: 1, d: 1 }), r));
        Ok(i)
    }

    fn broken_rhythm(&mut self, chars: &[char], i: usize, at: &At<'_>) -> Result<usize, AbcError> {
        let c = chars[i];
        let mut n = 0;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        if n > 3 {
            return Err(at.syntax(
                i + 1,
                "a broken rhythm: expected >, >> or >>> (or <, <<, <<<)",
            ));
        }
        // > : 3/2 then 1/2; >> : 7/4 then 1/4; >>> : 15/8 then 1/8.
        let den = 1u64 << n;
        let long = Ratio::of(2 * den - 1, den).unwrap_or(Ratio { n: 1, d: 1 });
        let short = Ratio::of(1, den).unwrap_or(Ratio { n: 1, d: 1 });
        let (before, after) = if c == '>' {
            (long, short)
        } else {
            (short, long)
        };
        match self.elems.last_mut() {
            Some(Elem::Note { length, .. }) if !self.other_voice => {
                *length = length
                    .mul(before)
                    .ok_or_else(|| at.syntax(i + 1, "a note length too fine to read"))?;
            }
            _ if self.other_voice => {}
            _ => {
                return Err(at.syntax(
                    i + 1,
                    format!("{c:?} (broken rhythm): expected a note or rest before it"),
                ))
            }
        }
        self.broken = Some(after);
        Ok(i + n)
    }

    fn bar(&mut self, chars: &[char], mut i: usize, at: &At<'_>) -> Result<usize, AbcError> {
        let start = i;
        let mut bar = Bar::default();
        let mut pipes = 0;
        while let Some(&c) = chars.get(i) {
            match c {
                ':' if pipes == 0 => bar.repeat_end = true,
                ':' => bar.repeat_start = true,
                '|' => pipes += 1,
                ']' if pipes > 0 => bar.double = true,
                _ => break,
            }
            i += 1;
        }
        if pipes == 0 && !(bar.repeat_end) {
            return Err(at.syntax(start + 1, "expected a bar line"));
        }
        if pipes == 0 {
            // "::" (end and start of repeats) has no pipe.
            let colons = i - start;
            bar.repeat_end = true;
            bar.repeat_start = colons >= 2;
        }
        if pipes >= 2 {
            bar.double = true;
        }
        self.bar_accidentals.clear();
        self.push(Elem::Bar(bar));
        // `|1`, `:|2`: an ending right after the bar line.
        if chars.get(i).is_some_and(char::is_ascii_digit) {
            i = self.ending(chars, i, at)?;
        }
        Ok(i)
    }

    fn ending(&mut self, chars: &[char], mut i: usize, at: &At<'_>) -> Result<usize, AbcError> {
        let col = i + 1;
        let mut list = Vec::new();
        loop {
            let (n, next) = number(chars, i);
            let Some(n) = n
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=MAX_ENDING).contains(n))
            else {
                return Err(at.syntax(
                    col,
                    format!(
                        "an ending: expected numbers 1..={MAX_ENDING} such as [1 or [1,3 or [1-2"
                    ),
                ));
            };
            i = next;
            if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                let (m, next) = number(chars, i + 1);
                let m = m
                    .and_then(|m| u32::try_from(m).ok())
                    .filter(|&m| m >= n && m <= MAX_ENDING)
                    .ok_or_else(|| {
                        at.syntax(
                            col,
                            format!("an ending range: expected n-m with n <= m <= {MAX_ENDING}"),
                        )
                    })?;
                list.extend(n..=m);
                i = next;
            } else {
                list.push(n);
            }
            if chars.get(i) == Some(&',') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
            } else {
                break;
            }
        }
        self.push(Elem::Ending(list));
        Ok(i)
    }

    /// `[`: an inline field, an ending, a thick-thin bar line or a chord.
    fn bracket(&mut self, chars: &[char], i: usize, at: &At<'_>) -> Result<usize, AbcError> {
        let next = chars.get(i + 1).copied();
        if next.is_some_and(|c| c.is_ascii_alphabetic()) && chars.get(i + 2) == Some(&':') {
            let end = find(chars, i + 3, ']').ok_or_else(|| {
                at.syntax(
                    i + 1,
                    "unclosed inline field: expected ']' on the same line",
                )
            })?;
            let value: String = chars[i + 3..end].iter().collect();
            let field = next.unwrap_or(' ');
            self.field(field, &value, at, i + 4)?;
            return Ok(end + 1);
        }
        if next.is_some_and(|c| c.is_ascii_digit()) {
            return self.ending(chars, i + 1, at);
        }
        if next == Some('|') {
            return self.bar(chars, i + 1, at);
        }
        // A chord: the highest note sounds, for the length of the first note.
        let mut j = i + 1;
        let mut best: Option<(u8, Ratio)> = None;
        let mut count = 0usize;
        let mut tie = false;
        loop {
            match chars.get(j) {
                None => {
                    return Err(at.syntax(i + 1, "unclosed chord: expected ']' on the same line"))
                }
                Some(']') => break,
                Some(' ') => j += 1,
                // A rest among a chord's notes sounds nothing over them.
                Some('z' | 'x') => {
                    let (_, next) = parse_length(chars, j + 1).ok_or_else(|| {
                        at.syntax(j + 2, "a rest length: expected a number, '/' or a fraction")
                    })?;
                    j = next;
                }
                Some('-') => {
                    tie = true;
                    j += 1;
                }
                Some('.' | '~' | 'H'..='W' | 'h'..='w') => {
                    self.report.decorations_skipped += 1;
                    j += 1;
                }
                Some('!') => {
                    let end = find(chars, j + 1, '!')
                        .ok_or_else(|| at.syntax(j + 1, "unclosed decoration: expected '!'"))?;
                    self.report.decorations_skipped += 1;
                    j = end + 1;
                }
                Some('^' | '_' | '=' | 'A'..='G' | 'a'..='g') => {
                    let (pitch, length, next) = self.note(chars, j, at)?;
                    count += 1;
                    best = match best {
                        None => Some((pitch, length)),
                        Some((p, l)) => Some((p.max(pitch), l)),
                    };
                    j = next;
                }
                Some(&c) => {
                    return Err(at.syntax(
                        j + 1,
                        format!("unexpected {c:?} in a chord: expected notes and then ']'"),
                    ))
                }
            }
        }
        let (outer, next) = parse_length(chars, j + 1).ok_or_else(|| {
            at.syntax(
                j + 2,
                "a chord length: expected a number, '/' or a fraction",
            )
        })?;
        let Some((pitch, first)) = best else {
            // An empty chord `[]` holds nothing.
            return Ok(next);
        };
        self.report.simultaneous_dropped += count - 1;
        let written = first
            .mul(outer)
            .ok_or_else(|| at.syntax(i + 1, "chord length too fine"))?;
        let length = self.note_length(written, at, i + 1)?;
        self.push(Elem::Note {
            pitch: Some(pitch),
            length,
            tie,
        });
        Ok(next)
    }

    fn chord_symbol(&mut self, text: &str) {
        if self.other_voice {
            return;
        }
        let text = text.trim();
        if text.starts_with(['^', '_', '<', '>', '@']) {
            self.report.annotations_skipped += 1;
            return;
        }
        // "G(Em)": an alternative chord in parentheses; the first is the one played.
        let main = text.split('(').next().unwrap_or(text).trim();
        match main.parse::<Chord>() {
            Ok(chord) => self.push(Elem::Chord(chord)),
            Err(_) => self.report.chord_symbols_unread += 1,
        }
    }

    /// Repeats played, ties joined, the timeline quantised.
    fn finish(&mut self, title: Option<String>) -> Result<ImportedMelody, AbcError> {
        let played = expand(&self.elems);
        let limit_ticks = (MAX_MELODY_STEPS as u128 + 1) * u128::from(ABC_TICKS_PER_QUARTER)
            / u128::from(self.options.steps_per_quarter);
        let too_long = || AbcError::TooLong {
            file: None,
            tune: self.tune.to_string(),
            max: MAX_MELODY_STEPS,
        };
        let mut time = Ratio::ZERO;
        let mut timed: Vec<TimedNote> = Vec::new();
        let mut tied = false;
        let mut chords: Vec<(u64, Chord)> = Vec::new();
        for elem in played {
            match elem {
                Elem::Note { pitch, length, tie } => {
                    let start = time.ticks();
                    time = time.add(*length).ok_or_else(too_long)?;
                    let end = time.ticks();
                    if end > limit_ticks {
                        return Err(too_long());
                    }
                    let (start, end) = (start as u64, end as u64);
                    match pitch {
                        Some(p) => {
                            let joined = tied
                                && timed
                                    .last()
                                    .is_some_and(|n| n.pitch == *p && n.end == start);
                            match (joined, timed.last_mut()) {
                                (true, Some(last)) => last.end = end,
                                _ if end > start => timed.push(TimedNote {
                                    pitch: *p,
                                    start,
                                    end,
                                }),
                                _ => self.report.zero_length_dropped += 1,
                            }
                            tied = *tie;
                        }
                        None => tied = false,
                    }
                }
                Elem::Chord(c) => {
                    let tick = time.ticks() as u64;
                    chords.push((tick, c.clone()));
                }
                Elem::Bar(_) | Elem::Ending(_) => {}
            }
        }
        if timed.is_empty() {
            return Err(AbcError::NoNotes {
                file: None,
                tune: self.tune.to_string(),
            });
        }
        let spq = self.options.steps_per_quarter;
        let raw = timed.len();
        let notes: Vec<Note> = quantize(&timed, 0, ABC_TICKS_PER_QUARTER, spq, &mut self.report)
            .map_err(|_| too_long())?;
        let mut harmony: Vec<(u32, Chord)> = Vec::with_capacity(chords.len());
        for (tick, chord) in chords {
            let step = ((u128::from(tick) * u128::from(spq) * 2
                + u128::from(ABC_TICKS_PER_QUARTER))
                / (2 * u128::from(ABC_TICKS_PER_QUARTER))) as u32;
            match harmony.last_mut() {
                // Two symbols on one step: the later one is what sounds.
                Some(last) if last.0 == step => last.1 = chord,
                _ => harmony.push((step, chord)),
            }
        }
        Ok(ImportedMelody {
            title,
            ticks_per_quarter: ABC_TICKS_PER_QUARTER,
            steps_per_quarter: spq,
            tempo_qpm: self.first_tempo.unwrap_or(120.0),
            time_signature: self.first_meter.flatten(),
            key_signature: self.first_signature.flatten(),
            notes,
            raw_note_count: raw,
            report: std::mem::take(&mut self.report),
            harmony,
        })
    }
}

/// The elements in the order they are played: repeats and first/second endings expanded.
fn expand(elems: &[Elem]) -> Vec<&Elem> {
    // Segments: the elements between bar lines, each with the ending it opens (if any) and
    // the bar line that closes it.
    struct Segment<'e> {
        ending: Option<&'e [u32]>,
        items: Vec<&'e Elem>,
        close: Option<Bar>,
    }
    let mut segments = vec![Segment {
        ending: None,
        items: Vec::new(),
        close: None,
    }];
    for elem in elems {
        match elem {
            Elem::Bar(bar) => {
                if let Some(last) = segments.last_mut() {
                    last.close = Some(*bar);
                }
                segments.push(Segment {
                    ending: None,
                    items: Vec::new(),
                    close: None,
                });
            }
            Elem::Ending(list) => {
                let needs_new = segments.last().is_some_and(|s| !s.items.is_empty());
                if needs_new {
                    segments.push(Segment {
                        ending: None,
                        items: Vec::new(),
                        close: None,
                    });
                }
                if let Some(last) = segments.last_mut() {
                    last.ending = Some(list);
                }
            }
            other => {
                if let Some(last) = segments.last_mut() {
                    last.items.push(other);
                }
            }
        }
    }
    // Whether an ending ahead of `from` (before the section ends) is played on `pass`.
    let ending_ahead = |from: usize, pass: u32| {
        for s in &segments[from..] {
            if s.ending.is_some_and(|e| e.contains(&pass)) {
                return true;
            }
            if s.close
                .is_some_and(|b| b.repeat_start || b.double && !b.repeat_end)
            {
                return false;
            }
        }
        false
    };
    let mut out = Vec::new();
    let (mut i, mut repeat_start, mut pass) = (0usize, 0usize, 1u32);
    let mut ending: Option<&[u32]> = None;
    // Each jump back raises the pass, which is bounded by the ending numbers: the loop ends.
    let mut jumps = 0usize;
    while i < segments.len() {
        let s = &segments[i];
        if s.ending.is_some() {
            ending = s.ending;
        }
        let skip = ending.is_some_and(|e| !e.contains(&pass));
        if !skip {
            out.extend(s.items.iter().copied());
        }
        let bar = s.close.unwrap_or_default();
        if bar.repeat_end {
            if skip {
                i += 1;
                continue;
            }
            let again = match ending {
                Some(_) => ending_ahead(i + 1, pass + 1),
                None => pass == 1,
            };
            if again && jumps < 4 * MAX_ENDING as usize * segments.len() {
                jumps += 1;
                pass += 1;
                ending = None;
                i = repeat_start;
                continue;
            }
            pass = 1;
            ending = None;
            repeat_start = i + 1;
        } else if bar.repeat_start || bar.double {
            pass = 1;
            ending = None;
            repeat_start = i + 1;
        }
        i += 1;
    }
    out
}

fn letter_index(c: char) -> usize {
    match c {
        'C' => 0,
        'D' => 1,
        'E' => 2,
        'F' => 3,
        'G' => 4,
        'A' => 5,
        _ => 6,
    }
}

fn find(chars: &[char], from: usize, c: char) -> Option<usize> {
    chars
        .get(from..)?
        .iter()
        .position(|&x| x == c)
        .map(|p| p + from)
}

/// A decimal number at `chars[i..]` (None when there is none or it is too large).
fn number(chars: &[char], mut i: usize) -> (Option<u64>, usize) {
    let mut value: Option<u64> = None;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        value = Some(
            value
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(u64::from(d)),
        );
        i += 1;
    }
    (value.filter(|&v| v <= MAX_NUMBER), i)
}

/// A written length after a note: `2`, `/`, `//`, `/4`, `3/2`, `3/`; `None` when malformed
/// or out of range. Returns the length in unit notes and the next index.
fn parse_length(chars: &[char], i: usize) -> Option<(Ratio, usize)> {
    let (num, mut i) = match chars.get(i) {
        Some(c) if c.is_ascii_digit() => {
            let (n, next) = number(chars, i);
            (n.filter(|&n| n > 0)?, next)
        }
        _ => (1, i),
    };
    let mut den = 1u64;
    while chars.get(i) == Some(&'/') {
        i += 1;
        if chars.get(i).is_some_and(char::is_ascii_digit) {
            let (d, next) = number(chars, i);
            den = den.checked_mul(d.filter(|&d| d > 0)?)?;
            i = next;
        } else {
            den = den.checked_mul(2)?;
        }
        if den > MAX_NUMBER {
            return None;
        }
    }
    Some((Ratio::of(num, den)?, i))
}

/// A field line `K:G`: its letter and value.
fn field_line(text: &str) -> Option<(char, &str)> {
    let mut chars = text.chars();
    let c = chars.next()?;
    (c.is_ascii_alphabetic() && chars.next() == Some(':')).then(|| (c, &text[2..]))
}

fn strip_comment(value: &str) -> &str {
    value.split('%').next().unwrap_or(value)
}

fn parse_fraction(text: &str) -> Option<Ratio> {
    let (n, d) = text.trim().split_once('/')?;
    let (n, d) = (n.trim().parse::<u64>().ok()?, d.trim().parse::<u64>().ok()?);
    if n == 0 || n > MAX_NUMBER || d == 0 || d > MAX_NUMBER {
        return None;
    }
    Ratio::of(n, d)
}

/// `M:` values: `6/8`, `C` (4/4), `C|` (2/2), `2+3/8`, `none`.
fn parse_meter(text: &str) -> Result<Option<(u8, u8)>, String> {
    let t = text.split_whitespace().next().unwrap_or("");
    let expected = "expected a meter such as 6/8, C, C| or none";
    match t {
        "" | "none" => return Ok(None),
        "C" => return Ok(Some((4, 4))),
        "C|" => return Ok(Some((2, 2))),
        _ => {}
    }
    let (n, d) = t.split_once('/').ok_or_else(|| expected.to_string())?;
    let mut num = 0u32;
    for part in n.trim_matches(['(', ')']).split('+') {
        num += part
            .trim()
            .parse::<u32>()
            .map_err(|_| expected.to_string())?;
    }
    let den: u32 = d.trim().parse().map_err(|_| expected.to_string())?;
    if num == 0 || num > 255 || !den.is_power_of_two() || den > 128 {
        return Err(format!(
            "{expected} (a numerator 1..=255 over a power of two up to 128)"
        ));
    }
    Ok(Some((num as u8, den as u8)))
}

/// `Q:` values: `1/4=120`, `3/8=80`, `"Allegro" 1/4=120`, `120` (unit notes per minute).
fn parse_tempo(text: &str, unit: Ratio) -> Option<f64> {
    let mut rest = text.trim();
    while let Some(start) = rest.find('"') {
        let end = rest[start + 1..].find('"')? + start + 1;
        rest = if start == 0 {
            rest[end + 1..].trim()
        } else {
            rest[..start].trim()
        };
    }
    let (beats, bpm) = match rest.split_once('=') {
        Some((beats, bpm)) => {
            let mut whole = Ratio::ZERO;
            for beat in beats.split_whitespace() {
                whole = whole.add(parse_fraction(beat)?)?;
            }
            (whole, bpm.trim().parse::<f64>().ok()?)
        }
        None => (unit, rest.parse::<f64>().ok()?),
    };
    let qpm = bpm * 4.0 * beats.n as f64 / beats.d as f64;
    (qpm.is_finite() && qpm > 0.0 && qpm < 10_000.0).then_some(qpm)
}

/// `K:` values: a tonic with an optional mode and explicit accidentals (`G`, `Em`,
/// `A dorian`, `F#m`, `Bb mix`, `D exp ^f ^c`, `none`, `HP`), then optional clef settings.
fn parse_key(text: &str) -> Result<([i8; 7], Option<KeySignature>), String> {
    let expected = "expected a key such as G, Em, F#m, Bb, A dorian, D mix or none";
    let mut tokens = text.split_whitespace().filter(|t| !t.contains('='));
    let Some(first) = tokens.next() else {
        return Ok(([0; 7], None));
    };
    let lower = first.to_ascii_lowercase();
    if lower == "none" {
        return Ok(([0; 7], None));
    }
    if first == "HP" {
        return Ok(([0; 7], None));
    }
    if first == "Hp" {
        let mut key = [0i8; 7];
        key[3] = 1;
        key[0] = 1;
        return Ok((
            key,
            Some(KeySignature {
                sharps: 2,
                minor: false,
            }),
        ));
    }
    if matches!(
        lower.as_str(),
        "treble" | "bass" | "alto" | "tenor" | "perc" | "clef"
    ) {
        return Ok(([0; 7], None));
    }
    let mut chars = first.chars();
    let letter_char = chars.next().unwrap_or(' ');
    if !matches!(letter_char, 'A'..='G') {
        if first.starts_with(['^', '_', '=']) {
            // Only explicit accidentals: K:^f_b.
            let mut key = [0i8; 7];
            apply_explicit(&mut key, std::iter::once(first).chain(tokens))?;
            return Ok((key, None));
        }
        return Err(expected.to_string());
    }
    let letter = letter_index(letter_char);
    let rest: String = chars.collect();
    let (alter, mode_text) = match rest.chars().next() {
        Some('#') => (1i8, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest.as_str()),
    };
    let mut mode_word = mode_text.to_string();
    let mut pending: Vec<&str> = Vec::new();
    if mode_word.is_empty() {
        if let Some(t) = tokens.next() {
            if t.starts_with(['^', '_', '=']) {
                pending.push(t);
            } else {
                mode_word = t.to_string();
            }
        }
    }
    let mode = mode_word.to_ascii_lowercase();
    let mode3: String = mode.chars().take(3).collect();
    let (shift, minor) = match mode3.as_str() {
        "" | "maj" | "ion" => (0, false),
        "m" | "min" | "aeo" => (3, true),
        "dor" => (2, false),
        "phr" => (4, false),
        "lyd" => (-1, false),
        "mix" => (1, false),
        "loc" => (5, false),
        "exp" => (0, false),
        _ => return Err(format!("unknown mode {mode_word:?}: {expected}")),
    };
    let sharps = major_sharps(letter, alter) - shift;
    if !(-7..=7).contains(&sharps) {
        return Err(format!(
            "{first} {mode_word} needs {} {}, more than the 7 a key signature holds",
            sharps.abs(),
            if sharps > 0 { "sharps" } else { "flats" }
        ));
    }
    let sharps = sharps as i8;
    let mut key = if mode3 == "exp" {
        [0; 7]
    } else {
        signature_accidentals(sharps)
    };
    apply_explicit(&mut key, pending.into_iter().chain(tokens))?;
    Ok((key, Some(KeySignature { sharps, minor })))
}

fn apply_explicit<'t>(
    key: &mut [i8; 7],
    tokens: impl Iterator<Item = &'t str>,
) -> Result<(), String> {
    for token in tokens {
        let lower = token.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "treble" | "bass" | "alto" | "tenor" | "perc" | "clef" | "none"
        ) || lower.starts_with("clef")
            || lower.starts_with("octave")
            || lower.starts_with("transpose")
            || lower.starts_with("middle")
            || lower.starts_with("stafflines")
            || lower
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
        {
            continue;
        }
        let mut acc = 0i8;
        let mut letter = None;
        for c in token.chars() {
            match c {
                '^' => acc += 1,
                '_' => acc -= 1,
                '=' => acc = 0,
                'a'..='g' | 'A'..='G' => {
                    letter = Some(letter_index(c.to_ascii_uppercase()));
                    break;
                }
                _ => {
                    return Err(format!(
                        "explicit accidental {token:?}: expected ^f, _b or =c"
                    ))
                }
            }
        }
        let letter = letter
            .ok_or_else(|| format!("explicit accidental {token:?}: expected ^f, _b or =c"))?;
        key[letter] = acc.clamp(-2, 2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> ImportedMelody {
        let tunes = import_str(text, &ImportOptions::default());
        assert_eq!(tunes.len(), 1, "{tunes:?}");
        tunes[0].melody.clone().unwrap_or_else(|e| panic!("{e}"))
    }

    fn pitches(m: &ImportedMelody) -> Vec<u8> {
        m.notes.iter().map(|n| n.pitch).collect()
    }

    fn timing(m: &ImportedMelody) -> Vec<(u32, u32)> {
        m.notes.iter().map(|n| (n.start, n.duration)).collect()
    }

    #[test]
    fn keys_accidentals_and_octaves() {
        let m = one("X:1\nT:t\nM:4/4\nL:1/8\nK:G\nF ^F =F F | F, f f' _B, |\n");
        // F is sharp in G; =F holds for the rest of the bar at that octave; the bar line clears it.
        assert_eq!(pitches(&m), [66, 66, 65, 65, 54, 78, 90, 58]);
        assert_eq!(
            m.key_signature,
            Some(KeySignature {
                sharps: 1,
                minor: false
            })
        );
        assert_eq!(m.time_signature, Some((4, 4)));
        // A dorian borrows G major's signature: F is sharp.
        let m = one("X:1\nK:Ador\nF c\n");
        assert_eq!(
            m.key_signature,
            Some(KeySignature {
                sharps: 1,
                minor: false
            })
        );
        assert_eq!(pitches(&m), [66, 72]);
        let m = one("X:1\nK:Bbm\nD\n");
        assert_eq!(
            m.key_signature,
            Some(KeySignature {
                sharps: -5,
                minor: true
            })
        );
        assert_eq!(pitches(&m), [61]);
        let m = one("X:1\nK:D exp ^f\nc f\n");
        assert_eq!(pitches(&m), [72, 78]);
    }

    #[test]
    fn lengths_broken_rhythm_ties_and_tuplets() {
        // L:1/8 at 4 steps per quarter: an eighth is 2 steps.
        let m = one("X:1\nL:1/8\nK:C\nC2 D/ E/ F3/2 G> A | B-B c<d (3efg a4 |\n");
        assert_eq!(
            timing(&m),
            [
                (0, 4),
                (4, 1),
                (5, 1),
                (6, 3),
                (9, 3),
                (12, 1),
                (13, 4),
                (17, 1),
                (18, 3)
            ]
            .into_iter()
            .chain([(21, 1), (22, 2), (24, 1), (25, 8)])
            .collect::<Vec<_>>()
        );
        // The tuplet's notes are 4/3 steps: quantised, with the move reported.
        assert!(m.report.moved_onset_fraction > 0.0);
        // Ties join B-B into one note of 4 steps.
        assert_eq!(pitches(&m)[6], 71);
    }

    #[test]
    fn repeats_and_endings_are_played() {
        let m = one("X:1\nL:1/4\nK:C\n|: C D |1 E :|2 F |] G A :: B c :|\n");
        assert_eq!(
            pitches(&m),
            [60, 62, 64, 60, 62, 65, 67, 69, 67, 69, 71, 72, 71, 72]
        );
        let m = one("X:1\nL:1/4\nK:C\nC |: D |1 E :|2 F :|3 G | A ||\n");
        assert_eq!(pitches(&m), [60, 62, 64, 62, 65, 62, 67, 69]);
        let m = one("X:1\nL:1/4\nK:C\nC D :| E\n");
        assert_eq!(pitches(&m), [60, 62, 60, 62, 64]);
        let m = one("X:1\nL:1/4\nK:C\n|: C [1 D :| [2 E |]\n");
        assert_eq!(pitches(&m), [60, 62, 60, 64]);
    }

    #[test]
    fn habits_of_real_collections_are_read() {
        // An ending number on the line after its bar line (Ryan's Mammoth), a %% directive
        // continued by a backslash (Aird's Airs), a rest inside a chord.
        let m = one("X:1\nL:1/4\nK:C\n%%Bfly 0 3 \\\n 0 0 3\n|: C D |\n1 E :|\n2 F [C2z2] |]\n");
        assert_eq!(pitches(&m), [60, 62, 64, 60, 62, 65, 60]);
    }

    #[test]
    fn chord_symbols_become_the_harmony() {
        let m = one("X:1\nM:3/4\nL:1/4\nK:G\n\"G\"B \"^up\"A G | \"D7\"A2 \"Em(G)\"B |\n");
        let harmony: Vec<(u32, String)> =
            m.harmony.iter().map(|(s, c)| (*s, c.to_string())).collect();
        assert_eq!(
            harmony,
            [(0, "G".into()), (12, "D7".into()), (20, "Em".into())]
        );
        assert_eq!(m.report.annotations_skipped, 1);
    }

    #[test]
    fn chords_decorations_graces_lyrics_and_voices() {
        let m = one("X:1\nL:1/4\nK:C\n[CEG]2 ~A {g}B !trill!c .d\nw: la la\nV:2\nC D E\nV:1\nf\n");
        assert_eq!(pitches(&m), [67, 69, 71, 72, 74, 77]);
        assert_eq!(m.report.simultaneous_dropped, 2);
        assert_eq!(m.report.decorations_skipped, 3);
        assert_eq!(m.report.grace_notes_skipped, 1);
        assert_eq!(m.report.lyric_lines_skipped, 1);
        // The music before V:2 is the first voice; V:2's notes are skipped, V:1 returns to it.
        assert_eq!(m.report.other_voice_notes_skipped, 3);
    }

    #[test]
    fn several_tunes_and_errors_name_tune_line_and_column() {
        let text = "%abc\nL:1/4\n\nX:1\nT:Good\nK:C\nCDE\n\nX:2\nT:Bad\nK:C\nC D ? E\n\nX:3\nT:Silent\nK:C\nz4|\n";
        let tunes = import_str(text, &ImportOptions::default());
        assert_eq!(tunes.len(), 3);
        assert_eq!(
            timing(tunes[0].melody.as_ref().unwrap()),
            [(0, 4), (4, 4), (8, 4)]
        );
        let err = tunes[1].melody.clone().unwrap_err().to_string();
        assert!(err.contains("X:2 \"Bad\""), "{err}");
        assert!(err.contains("line 12, column 5"), "{err}");
        assert!(err.contains("expected a note"), "{err}");
        assert!(matches!(tunes[2].melody, Err(AbcError::NoNotes { .. })));
    }

    #[test]
    fn unit_length_defaults_follow_the_meter() {
        // Below 3/4 the unit is a sixteenth.
        let m = one("X:1\nM:2/4\nK:C\nC D\n");
        assert_eq!(timing(&m), [(0, 1), (1, 1)]);
        let m = one("X:1\nM:6/8\nK:C\nC D Z2\n");
        assert_eq!(timing(&m), [(0, 2), (2, 2)]);
    }
}
