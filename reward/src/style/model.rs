//! The chord-conditioned style model: its features, counts, fitting and probabilities.

use std::path::Path;

use cadenza_env::{ChordFrame, Event, Setting, HOLD, REST};
use serde::{Deserialize, Serialize};

use super::estimate::estimate_chords;
use crate::corpus::error::{read_text, write_json};
use crate::corpus::CorpusError;

/// Metric classes of a step: downbeat, the mid-bar beat, another beat, the half beat, finer.
pub const METRIC_CLASSES: usize = 5;
/// What the previous step was: nothing yet (the first step), an onset, a hold, a rest.
pub const PREVIOUS_KINDS: usize = 4;
/// Buckets of steps since the last onset: 1, 2, 3, 4-5, 6-7, 8-11, 12 or more (or none yet).
pub const SINCE_ONSET_BUCKETS: usize = 7;
/// Event kinds: onset, hold, rest.
pub const KINDS: usize = 3;
/// Chord qualities as the model reads them: major, minor, dominant seventh, other.
pub const QUALITIES: usize = 4;
/// Metric strength of an onset for the chord-relative pitch: strong beat, other beat, off beat.
pub const STRENGTHS: usize = 3;
/// Key modes: major, minor.
pub const MODES: usize = 2;
/// Buckets of the previous melodic interval: none yet, leap down, step down, repeat, step up,
/// leap up.
pub const INTERVAL_CONTEXTS: usize = 6;
/// Largest interval the model tells apart; wider ones share the outermost bucket.
pub const MAX_INTERVAL: i32 = 12;
/// Interval buckets: -12..=12 semitones.
pub const INTERVALS: usize = 2 * MAX_INTERVAL as usize + 1;

/// Additive smoothing of every count table: every outcome keeps a pseudo-count, so no event has
/// zero probability.
const PSEUDO_COUNT: f64 = 0.5;
/// Weight (in counts) of the back-off distribution in the rhythm table, where a full context
/// was seen rarely.
const RHYTHM_BACKOFF: f64 = 4.0;

/// Format of a style model file.
const FORMAT: &str = "cadenza-style-model";
/// Version of the file format this build reads and writes.
const VERSION: u32 = 1;

/// Counts of a style model: what is saved, and what its probabilities are derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleCounts {
    /// Rhythm: event kind (onset, hold, rest) per metric class × previous kind × steps since
    /// the last onset, flattened in that order.
    pub rhythm: Vec<[f64; KINDS]>,
    /// Chord-relative pitch class of onsets per chord quality × metric strength.
    pub chord_pitch: Vec<[f64; 12]>,
    /// Key-relative pitch class of onsets per mode.
    pub key_pitch: Vec<[f64; 12]>,
    /// Melodic interval of onsets (-12..=12, clamped) per previous-interval bucket.
    pub interval: Vec<[f64; INTERVALS]>,
}

impl StyleCounts {
    fn zero() -> Self {
        Self {
            rhythm: vec![[0.0; KINDS]; METRIC_CLASSES * PREVIOUS_KINDS * SINCE_ONSET_BUCKETS],
            chord_pitch: vec![[0.0; 12]; QUALITIES * STRENGTHS],
            key_pitch: vec![[0.0; 12]; MODES],
            interval: vec![[0.0; INTERVALS]; INTERVAL_CONTEXTS],
        }
    }

    fn check(&self) -> Result<(), String> {
        let lens = [
            (
                "rhythm",
                self.rhythm.len(),
                METRIC_CLASSES * PREVIOUS_KINDS * SINCE_ONSET_BUCKETS,
            ),
            ("chord_pitch", self.chord_pitch.len(), QUALITIES * STRENGTHS),
            ("key_pitch", self.key_pitch.len(), MODES),
            ("interval", self.interval.len(), INTERVAL_CONTEXTS),
        ];
        for (field, found, expected) in lens {
            if found != expected {
                return Err(format!(
                    "`counts.{field}` has {found} rows, expected {expected}"
                ));
            }
        }
        let all = self
            .rhythm
            .iter()
            .flatten()
            .chain(self.chord_pitch.iter().flatten())
            .chain(self.key_pitch.iter().flatten())
            .chain(self.interval.iter().flatten());
        for &count in all {
            if !(count.is_finite() && count >= 0.0) {
                return Err(format!(
                    "counts must be finite and non-negative, found {count}"
                ));
            }
        }
        Ok(())
    }
}

/// The saved form of a model.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleFile {
    format: String,
    version: u64,
    melodies: usize,
    events: usize,
    counts: StyleCounts,
}

/// A melody model over the harmony: how likely each next event is, given where the step falls
/// in the bar, the rhythm so far, the chord under the step, the key and the last interval.
///
/// See the [module docs](super) for the model and why it is built this way.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleModel {
    counts: StyleCounts,
    melodies: usize,
    events: usize,
    rhythm: Vec<[f64; KINDS]>,
    chord_pitch: Vec<[f64; 12]>,
    key_pitch: Vec<[f64; 12]>,
    interval: Vec<[f64; INTERVALS]>,
    /// The pitch experts as probabilities (the exponentials of the log tables), so that the
    /// normaliser over the encoding's pitches costs two multiplications a pitch, no `exp`.
    chord_pitch_p: Vec<[f64; 12]>,
    key_pitch_p: Vec<[f64; 12]>,
    interval_p: Vec<[f64; INTERVALS]>,
}

/// What the model remembers of a melody so far: a few numbers, updated per event, so a step
/// costs the same whatever the melody's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StyleState {
    last_pitch: Option<u8>,
    interval_context: u8,
    previous_kind: u8,
    since_onset: Option<u32>,
}

impl StyleState {
    /// The state before the first event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves past `event` (read under `setting`'s encoding; events outside it count as holds).
    #[inline]
    pub fn advance(&mut self, setting: &Setting, event: Event) {
        match Kind::of(setting, event) {
            Kind::Onset(pitch) => {
                self.interval_context = match self.last_pitch {
                    None => 0,
                    Some(last) => interval_context(i32::from(pitch) - i32::from(last)),
                };
                self.last_pitch = Some(pitch);
                self.since_onset = Some(1);
                self.previous_kind = 1;
            }
            Kind::Hold => {
                self.since_onset = self.since_onset.map(|n| n.saturating_add(1));
                self.previous_kind = 2;
            }
            Kind::Rest => {
                self.since_onset = self.since_onset.map(|n| n.saturating_add(1));
                self.previous_kind = 3;
            }
        }
    }
}

/// An event as the model reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Onset(u8),
    Hold,
    Rest,
}

impl Kind {
    #[inline]
    fn of(setting: &Setting, event: Event) -> Self {
        match event {
            REST => Kind::Rest,
            HOLD => Kind::Hold,
            _ => setting
                .encoding
                .pitch_of(event)
                .map_or(Kind::Hold, Kind::Onset),
        }
    }

    #[inline]
    fn index(self) -> usize {
        match self {
            Kind::Onset(_) => 0,
            Kind::Hold => 1,
            Kind::Rest => 2,
        }
    }
}

#[inline]
fn interval_context(semitones: i32) -> u8 {
    match semitones {
        i32::MIN..=-3 => 1,
        -2..=-1 => 2,
        0 => 3,
        1..=2 => 4,
        _ => 5,
    }
}

#[inline]
fn since_bucket(since: Option<u32>) -> usize {
    match since {
        None => 6,
        Some(0..=1) => 0,
        Some(2) => 1,
        Some(3) => 2,
        Some(4..=5) => 3,
        Some(6..=7) => 4,
        Some(8..=11) => 5,
        Some(_) => 6,
    }
}

/// The metric class of `step` (see [`METRIC_CLASSES`]).
#[inline]
fn metric_class(setting: &Setting, step: usize) -> usize {
    let beat = usize::from(setting.steps_per_beat.max(1));
    let beats = usize::from(setting.beats_per_bar.max(1));
    let bar = beat * beats;
    let in_bar = step % bar;
    if in_bar == 0 {
        0
    } else if beats >= 4 && beats.is_multiple_of(2) && in_bar == bar / 2 {
        1
    } else if in_bar.is_multiple_of(beat) {
        2
    } else if beat.is_multiple_of(2) && in_bar.is_multiple_of(beat / 2) {
        3
    } else {
        4
    }
}

/// Root and quality class of the chord under `step` (the tonic triad without a progression).
#[inline]
fn chord_under(setting: &Setting, step: usize) -> (u8, usize) {
    let (root, tones) = match setting.chord_at(step) {
        Some(ChordFrame { root, tones, .. }) if *tones != 0 => (*root % 12, *tones),
        _ => (setting.tonic % 12, setting.tonic_triad()),
    };
    let has = |interval: u8| tones & (1 << ((root + interval) % 12)) != 0;
    let quality = if has(4) && has(10) {
        2
    } else if has(4) {
        0
    } else if has(3) {
        1
    } else {
        3
    };
    (root, quality)
}

/// Whether the setting's key is minor: its scale holds the minor third above the tonic and
/// not the major one.
#[inline]
fn mode_of(setting: &Setting) -> usize {
    let tonic = setting.tonic % 12;
    let has = |interval: u8| setting.scale & (1 << ((tonic + interval) % 12)) != 0;
    usize::from(has(3) && !has(4))
}

/// `setting` with chords: its own, or where it has none, those [`estimate_chords`] hears in
/// `melody`.
fn harmonised<'a>(setting: &'a Setting, melody: &[Event]) -> std::borrow::Cow<'a, Setting> {
    if setting.chords.is_empty() {
        std::borrow::Cow::Owned(Setting {
            chords: estimate_chords(setting, melody),
            ..setting.clone()
        })
    } else {
        std::borrow::Cow::Borrowed(setting)
    }
}

/// Where one step's probabilities are read in the tables.
#[derive(Debug, Clone, Copy)]
struct Lookup {
    rhythm_row: usize,
    chord_row: usize,
    root: u8,
    key_row: usize,
    tonic: u8,
    interval_row: usize,
    last_pitch: Option<u8>,
}

impl Lookup {
    #[inline]
    fn new(setting: &Setting, step: usize, state: &StyleState) -> Self {
        let metric = metric_class(setting, step);
        let (root, quality) = chord_under(setting, step);
        let strength = match metric {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        };
        Self {
            rhythm_row: (metric * PREVIOUS_KINDS + usize::from(state.previous_kind))
                * SINCE_ONSET_BUCKETS
                + since_bucket(state.since_onset),
            chord_row: quality * STRENGTHS + strength,
            root,
            key_row: mode_of(setting),
            tonic: setting.tonic % 12,
            interval_row: usize::from(state.interval_context),
            last_pitch: state.last_pitch,
        }
    }

    #[inline]
    fn interval_index(&self, pitch: u8) -> Option<usize> {
        self.last_pitch.map(|last| {
            let interval = i32::from(pitch) - i32::from(last);
            (interval.clamp(-MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL) as usize
        })
    }
}

/// Log of normalised smoothed counts.
fn log_normalise<const N: usize>(counts: &[f64; N], prior: &[f64; N], weight: f64) -> [f64; N] {
    let total: f64 = counts.iter().sum::<f64>() + weight;
    let mut out = [0.0; N];
    for ((o, c), p) in out.iter_mut().zip(counts).zip(prior) {
        *o = ((c + weight * p) / total).ln();
    }
    out
}

fn uniform<const N: usize>() -> [f64; N] {
    [1.0 / N as f64; N]
}

impl StyleModel {
    /// Fits the model on melodies, each in its own setting (encoding, meter, key and, where
    /// known, chords). A setting without chords has them estimated from the melody
    /// ([`estimate_chords`]).
    pub fn fit<'a>(
        examples: impl IntoIterator<Item = (&'a Setting, &'a [Event])>,
    ) -> Result<Self, CorpusError> {
        let mut counts = StyleCounts::zero();
        let (mut melodies, mut events) = (0, 0);
        for (setting, melody) in examples {
            melodies += 1;
            events += melody.len();
            let setting = &*harmonised(setting, melody);
            let mut state = StyleState::new();
            for (step, &event) in melody.iter().enumerate() {
                let at = Lookup::new(setting, step, &state);
                let kind = Kind::of(setting, event);
                counts.rhythm[at.rhythm_row][kind.index()] += 1.0;
                if let Kind::Onset(pitch) = kind {
                    let chord_pc = (pitch + 12 - at.root) % 12;
                    counts.chord_pitch[at.chord_row][usize::from(chord_pc)] += 1.0;
                    let key_pc = (pitch + 12 - at.tonic) % 12;
                    counts.key_pitch[at.key_row][usize::from(key_pc)] += 1.0;
                    if let Some(i) = at.interval_index(pitch) {
                        counts.interval[at.interval_row][i] += 1.0;
                    }
                }
                state.advance(setting, event);
            }
        }
        if events == 0 {
            return Err(CorpusError::EmptyTrainingSet { melodies });
        }
        Ok(Self::from_counts(counts, melodies, events))
    }

    fn from_counts(counts: StyleCounts, melodies: usize, events: usize) -> Self {
        // Rhythm: full context backed off to (metric class, previous kind), that to the
        // metric class, that to uniform.
        let mut rhythm = Vec::with_capacity(counts.rhythm.len());
        for metric in 0..METRIC_CLASSES {
            let rows = |kind: usize| {
                let start = (metric * PREVIOUS_KINDS + kind) * SINCE_ONSET_BUCKETS;
                &counts.rhythm[start..start + SINCE_ONSET_BUCKETS]
            };
            let sum = |rows: &[[f64; KINDS]]| {
                let mut s = [0.0; KINDS];
                for r in rows {
                    for (a, b) in s.iter_mut().zip(r) {
                        *a += b;
                    }
                }
                s
            };
            let metric_counts = sum(&(0..PREVIOUS_KINDS)
                .flat_map(|k| rows(k).iter().copied())
                .collect::<Vec<_>>());
            let metric_p = log_normalise(&metric_counts, &uniform(), KINDS as f64 * PSEUDO_COUNT)
                .map(f64::exp);
            for kind in 0..PREVIOUS_KINDS {
                let kind_counts = sum(rows(kind));
                let kind_p = log_normalise(&kind_counts, &metric_p, RHYTHM_BACKOFF).map(f64::exp);
                for row in rows(kind) {
                    rhythm.push(log_normalise(row, &kind_p, RHYTHM_BACKOFF));
                }
            }
        }
        let smooth = |rows: &[[f64; 12]]| -> Vec<[f64; 12]> {
            rows.iter()
                .map(|r| log_normalise(r, &uniform(), 12.0 * PSEUDO_COUNT))
                .collect()
        };
        let chord_pitch = smooth(&counts.chord_pitch);
        let key_pitch = smooth(&counts.key_pitch);
        let interval: Vec<[f64; INTERVALS]> = counts
            .interval
            .iter()
            .map(|r| log_normalise(r, &uniform(), INTERVALS as f64 * PSEUDO_COUNT))
            .collect();
        let chord_pitch_p = chord_pitch.iter().map(|r| r.map(f64::exp)).collect();
        let key_pitch_p = key_pitch.iter().map(|r| r.map(f64::exp)).collect();
        let interval_p = interval.iter().map(|r| r.map(f64::exp)).collect();
        Self {
            chord_pitch_p,
            key_pitch_p,
            interval_p,
            counts,
            melodies,
            events,
            rhythm,
            chord_pitch,
            key_pitch,
            interval,
        }
    }

    /// The counts the model was fitted to.
    pub fn counts(&self) -> &StyleCounts {
        &self.counts
    }

    /// Melodies and events the model was fitted on.
    pub fn training_size(&self) -> (usize, usize) {
        (self.melodies, self.events)
    }

    /// Unnormalised log-score of attacking `pitch`: the sum of the three pitch experts.
    #[inline]
    fn pitch_score(&self, at: &Lookup, pitch: u8) -> f64 {
        let chord_pc = usize::from((pitch % 12 + 12 - at.root) % 12);
        let key_pc = usize::from((pitch % 12 + 12 - at.tonic) % 12);
        let mut score =
            self.chord_pitch[at.chord_row][chord_pc] + self.key_pitch[at.key_row][key_pc];
        if let Some(i) = at.interval_index(pitch) {
            score += self.interval[at.interval_row][i];
        }
        score
    }

    /// Log of the normaliser of the pitch experts over the encoding's pitches.
    #[inline]
    fn log_pitch_normaliser(&self, setting: &Setting, at: &Lookup) -> f64 {
        let (lo, hi) = (setting.encoding.min_pitch(), setting.encoding.max_pitch());
        let chord = &self.chord_pitch_p[at.chord_row];
        let key = &self.key_pitch_p[at.key_row];
        let interval = &self.interval_p[at.interval_row];
        let mut z = 0.0;
        for pitch in lo..=hi {
            let pc = pitch % 12;
            let mut w = chord[usize::from((pc + 12 - at.root) % 12)]
                * key[usize::from((pc + 12 - at.tonic) % 12)];
            if let Some(i) = at.interval_index(pitch) {
                w *= interval[i];
            }
            z += w;
        }
        z.ln()
    }

    /// For an onset of `event`: `log P(pitch | onset) + ln(pitches in the encoding)`, how much
    /// likelier the model finds this pitch than a uniform choice among the encoding's pitches
    /// (positive for a likely note, negative for an unlikely one); `None` for a hold, a rest
    /// or an event outside the encoding. The rhythm is left out, so a term built on it charges
    /// nothing for playing a note rather than holding one.
    #[inline]
    pub fn pitch_log_ratio(
        &self,
        setting: &Setting,
        step: usize,
        state: &StyleState,
        event: Event,
    ) -> Option<f64> {
        if event == REST || event == HOLD {
            return None;
        }
        let pitch = setting.encoding.pitch_of(event)?;
        let at = Lookup::new(setting, step, state);
        let pitches = f64::from(setting.encoding.max_pitch() - setting.encoding.min_pitch()) + 1.0;
        Some(self.pitch_score(&at, pitch) - self.log_pitch_normaliser(setting, &at) + pitches.ln())
    }

    /// `log P(event | state, step)` under `setting`; `-inf` for an event outside the encoding.
    /// Costs one pass over the encoding's pitches when the event is an onset, no allocation.
    #[inline]
    pub fn log_prob(
        &self,
        setting: &Setting,
        step: usize,
        state: &StyleState,
        event: Event,
    ) -> f64 {
        let at = Lookup::new(setting, step, state);
        let rhythm = &self.rhythm[at.rhythm_row];
        match event {
            REST => rhythm[2],
            HOLD => rhythm[1],
            _ => match setting.encoding.pitch_of(event) {
                Some(pitch) => {
                    rhythm[0] + self.pitch_score(&at, pitch)
                        - self.log_pitch_normaliser(setting, &at)
                }
                None => f64::NEG_INFINITY,
            },
        }
    }

    /// The whole next-event distribution into `out` (one probability per event of the
    /// setting's encoding; they sum to one).
    pub fn distribution(
        &self,
        setting: &Setting,
        step: usize,
        state: &StyleState,
        out: &mut [f64],
    ) -> Result<(), CorpusError> {
        let n = setting.encoding.num_events();
        if out.len() != n {
            return Err(CorpusError::OutputLength {
                expected: n,
                found: out.len(),
            });
        }
        let at = Lookup::new(setting, step, state);
        let rhythm = &self.rhythm[at.rhythm_row];
        let log_z = self.log_pitch_normaliser(setting, &at);
        for (event, slot) in out.iter_mut().enumerate() {
            let event = event as Event;
            *slot = match event {
                REST => rhythm[2].exp(),
                HOLD => rhythm[1].exp(),
                _ => setting.encoding.pitch_of(event).map_or(0.0, |pitch| {
                    (rhythm[0] + self.pitch_score(&at, pitch) - log_z).exp()
                }),
            };
        }
        Ok(())
    }

    /// Mean negative log-likelihood per event of melodies, each in its setting (chords
    /// estimated where the setting has none).
    pub fn nll_per_event<'a>(
        &self,
        examples: impl IntoIterator<Item = (&'a Setting, &'a [Event])>,
    ) -> Result<f64, CorpusError> {
        let (mut total, mut events, mut melodies) = (0.0, 0usize, 0usize);
        for (index, (setting, melody)) in examples.into_iter().enumerate() {
            melodies += 1;
            let setting = &*harmonised(setting, melody);
            let mut state = StyleState::new();
            for (step, &event) in melody.iter().enumerate() {
                let lp = self.log_prob(setting, step, &state, event);
                if !lp.is_finite() {
                    return Err(CorpusError::EventOutOfRange {
                        melody: index,
                        step,
                        event,
                        encoding: setting.encoding.to_string(),
                        max: (setting.encoding.num_events() - 1) as u8,
                    });
                }
                total -= lp;
                events += 1;
                state.advance(setting, event);
            }
        }
        if events == 0 {
            return Err(CorpusError::NoEvents { melodies });
        }
        Ok(total / events as f64)
    }

    /// Writes the model as JSON (atomically: a failed write leaves any previous file).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CorpusError> {
        write_json(
            path.as_ref(),
            &StyleFile {
                format: FORMAT.to_string(),
                version: u64::from(VERSION),
                melodies: self.melodies,
                events: self.events,
                counts: self.counts.clone(),
            },
        )
    }

    /// Reads a model written by [`StyleModel::save`]; errors name the file and what is wrong.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CorpusError> {
        let path = path.as_ref();
        Self::from_json(&read_text(path)?).map_err(|e| match e {
            JsonError::Kind(found) => CorpusError::WrongKind {
                path: path.to_path_buf(),
                found,
                expected: FORMAT,
            },
            JsonError::Version(found) => CorpusError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: VERSION,
            },
            JsonError::Malformed(message) => CorpusError::Malformed {
                path: path.to_path_buf(),
                message,
            },
        })
    }

    /// The model of a JSON text written by [`StyleModel::save`].
    pub fn from_json_str(text: &str) -> Result<Self, String> {
        Self::from_json(text).map_err(|e| match e {
            JsonError::Kind(found) => {
                format!("holds a model of kind '{found}', expected '{FORMAT}'")
            }
            JsonError::Version(found) => {
                format!("has format version {found}, this build reads version {VERSION}")
            }
            JsonError::Malformed(message) => message,
        })
    }

    fn from_json(text: &str) -> Result<Self, JsonError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| JsonError::Malformed(e.to_string()))?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT {
            return Err(JsonError::Kind(format.to_string()));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(VERSION) {
            return Err(JsonError::Version(version));
        }
        let file: StyleFile =
            serde_json::from_value(value).map_err(|e| JsonError::Malformed(e.to_string()))?;
        file.counts.check().map_err(JsonError::Malformed)?;
        Ok(Self::from_counts(file.counts, file.melodies, file.events))
    }
}

enum JsonError {
    Kind(String),
    Version(u64),
    Malformed(String),
}
