//! Partners: who plays the calls of a duet.
//!
//! - [`ScriptedPartner`]: a motif player. It picks a one-bar rhythm and a short stepwise
//!   motif that starts on a chord tone, then sequences it (same rhythm, moved a scale step)
//!   through the call's bars, lands on a chord tone and breathes for the call's last beat.
//! - [`CorpusCalls`]: phrase pairs of real tunes. Consecutive phrases of a tune are a call
//!   and its response, as a fiddler's second phrase answers the first; the pairs are moved to
//!   the task's key and register, and a tune in another meter or mode is left out. The
//!   responses are kept beside the calls: they are what an answer is measured against.
//! - [`LoggedCalls`]: calls read from a text file, one a line (a person's calls from a
//!   session, or another agent's in self-play).
//! - [`GivenCall`]: a call set from outside before each reset: what a person just played,
//!   or the other agent's last answer when two agents trade phrases.
//!
//! Any other source implements [`Partner`] and is given to
//! [`TaskSpec::with_partner`](crate::TaskSpec::with_partner).

use crate::encoding::{Event, EventEncoding, HOLD, REST};
use crate::midi::{import_file, ImportOptions, OutOfRange};
use crate::reward::Setting;
use crate::task::duet::{CallPair, Partner};
use crate::task::error::TaskError;
use crate::task::spec::TaskSpec;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

/// The scripted motif player (see the module docs). Deterministic under the env's seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptedPartner;

/// Most pitches of a scale within an encoding (128 MIDI pitches).
const MAX_PITCHES: usize = 128;

impl Partner for ScriptedPartner {
    fn name(&self) -> &str {
        "scripted"
    }

    fn call(&self, rng: &mut ChaCha8Rng, setting: &Setting, out: &mut [Event]) {
        out.fill(REST);
        let n = out.len();
        let encoding = setting.encoding;
        let mut scale = [0u8; MAX_PITCHES];
        let mut count = 0;
        for pitch in encoding.min_pitch()..=encoding.max_pitch() {
            if setting.scale & (1 << (pitch % 12)) != 0 && count < MAX_PITCHES {
                scale[count] = pitch;
                count += 1;
            }
        }
        if count < 3 || n == 0 {
            return;
        }
        let scale = &scale[..count];
        let per_beat = usize::from(setting.steps_per_beat.max(1));
        let per_bar = setting.steps_per_bar().max(1);
        let unit = if per_beat % 2 == 0 {
            per_beat / 2
        } else {
            per_beat
        };
        // One bar's rhythm, in units (an eighth in 4/4): never all the shortest value.
        let bar_units = per_bar / unit;
        let mut rhythm = [0usize; 64];
        let mut notes = 0;
        let mut filled = 0;
        while filled < bar_units && notes < rhythm.len() {
            let left = bar_units - filled;
            let choice = [1, 1, 2, 2, 3, 4][rng.random_range(0..6)].min(left);
            rhythm[notes] = choice;
            filled += choice;
            notes += 1;
        }
        if rhythm[..notes].iter().all(|&d| d == 1) && notes >= 2 {
            rhythm[0] = 2;
            notes -= 1;
        }
        let rhythm = &rhythm[..notes];
        // The motif's scale degrees, relative to its first note: steps, now and then a third.
        let mut degrees = [0i32; 64];
        let mut direction = if rng.random_bool(0.5) { 1 } else { -1 };
        for k in 1..notes {
            if k == 2 && rng.random_bool(0.4) {
                direction = -direction;
            }
            let size = if rng.random_bool(0.25) { 2 } else { 1 };
            degrees[k] = degrees[k - 1] + direction * size;
        }
        let middle = count as i32 / 2;
        let chord_tone_near = |step: usize, degree: i32| -> i32 {
            let tones = setting.chord_tones_at(step);
            for d in [0, -1, 1, -2, 2] {
                let index = (degree + d).clamp(0, count as i32 - 1);
                if tones & (1 << (scale[index as usize] % 12)) != 0 {
                    return index;
                }
            }
            degree.clamp(0, count as i32 - 1)
        };
        let start = chord_tone_near(0, middle + rng.random_range(-2..=2));
        // Each bar moves the motif by a scale step the same way (a sequence).
        let shift = if rng.random_bool(0.5) { 1 } else { -1 };
        // The call breathes over its last beat.
        let silent_from = n.saturating_sub(per_beat).max(1);
        let mut last_onset = None;
        let mut step = 0;
        let mut bar = 0i32;
        while step < silent_from {
            let mut position = 0;
            for (k, &units) in rhythm.iter().enumerate() {
                let at = step + position;
                if at >= silent_from {
                    break;
                }
                let mut degree = start + degrees[k] + bar * shift;
                let strong = at % per_bar == 0 || (at % per_bar) * 2 == per_bar;
                if strong {
                    degree = chord_tone_near(at, degree);
                }
                let degree = degree.clamp(0, count as i32 - 1);
                let length = (units * unit).min(silent_from - at);
                if let Some(event) = encoding.event_of_pitch(scale[degree as usize]) {
                    out[at] = event;
                    for held in &mut out[at + 1..at + length] {
                        *held = HOLD;
                    }
                    last_onset = Some((at, degree));
                }
                position += units * unit;
            }
            step += per_bar;
            bar += 1;
        }
        // The last note lands on a chord tone.
        if let Some((at, degree)) = last_onset {
            let landed = chord_tone_near(at, degree);
            if let Some(event) = encoding.event_of_pitch(scale[landed as usize]) {
                out[at] = event;
            }
        }
    }
}

/// Which tunes of a corpus folder a [`CorpusCalls`] reads: files sorted by name, every fifth
/// (indices 0, 5, 10, ...) held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// All files but the held-out ones.
    Train,
    /// Every fifth file.
    HeldOut,
    /// Every file.
    All,
}

impl Split {
    fn keeps(self, index: usize) -> bool {
        match self {
            Self::Train => !index.is_multiple_of(5),
            Self::HeldOut => index.is_multiple_of(5),
            Self::All => true,
        }
    }
}

impl FromStr for Split {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "train" => Ok(Self::Train),
            "held-out" => Ok(Self::HeldOut),
            "all" => Ok(Self::All),
            other => Err(format!("'{other}': expected train, held-out or all")),
        }
    }
}

/// Phrase pairs of the tunes of a corpus folder, in a duet task's key and register (see the
/// module docs).
#[derive(Debug, Clone)]
pub struct CorpusCalls {
    name: String,
    pairs: Vec<CallPair>,
    skipped: usize,
}

/// Onsets a phrase needs to count as one (fewer is a held note or silence).
const MIN_ONSETS: usize = 3;

impl CorpusCalls {
    /// Reads the tunes of `dir` kept by `split` and cuts them into call/response pairs for
    /// `task` (a duet). Tunes in another meter or mode, without a key signature, or that fail
    /// to import are skipped ([`CorpusCalls::skipped`]); no pair at all is an error naming
    /// the folder.
    pub fn load(dir: &Path, split: Split, task: &TaskSpec) -> Result<Self, TaskError> {
        let bad = |message: String| TaskError::InvalidField {
            field: "corpus".to_string(),
            message: format!("{}: {message}", dir.display()),
        };
        let entries =
            std::fs::read_dir(dir).map_err(|e| bad(format!("cannot read the folder: {e}")))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                path.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("mid"))
            })
            .collect();
        files.sort();
        let setting = &task.setting;
        let call_steps = setting.call_steps;
        let answer_steps = setting.length.saturating_sub(call_steps);
        let per_bar = setting.steps_per_bar().max(1);
        if call_steps == 0 || answer_steps == 0 {
            return Err(bad("the task is not a duet (no call steps)".to_string()));
        }
        let options = ImportOptions {
            steps_per_quarter: task.steps_per_quarter(),
            ..ImportOptions::default()
        };
        let mut pairs = Vec::new();
        let mut skipped = 0;
        for (index, path) in files.iter().enumerate() {
            if !split.keeps(index) {
                continue;
            }
            let Some(events) = tune_in_task(path, &options, task) else {
                skipped += 1;
                continue;
            };
            let first_onset = events.iter().position(|&e| e != REST && e != HOLD);
            // A pickup is preceded by silence: phrases then start at the first full bar.
            let first_bar = usize::from(first_onset.is_some_and(|at| at > 0));
            let bars = events.len() / per_bar;
            let pair_bars = (call_steps + answer_steps) / per_bar;
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut bar = first_bar;
            while bar + pair_bars <= bars {
                let start = bar * per_bar;
                let call = &events[start..start + call_steps];
                let response = &events[start + call_steps..start + call_steps + answer_steps];
                if onsets(setting.encoding, call) >= MIN_ONSETS
                    && onsets(setting.encoding, response) >= MIN_ONSETS
                {
                    pairs.push(CallPair {
                        file: file.clone(),
                        bar,
                        call: call.to_vec(),
                        response: response.to_vec(),
                    });
                }
                bar += pair_bars;
            }
        }
        if pairs.is_empty() {
            return Err(bad(format!(
                "no call/response pairs in {} {} (tunes must be in {}/{} and in a {} key)",
                files.len(),
                if files.len() == 1 { "file" } else { "files" },
                task.meter.0,
                task.meter.1,
                if task.key_signature.1 {
                    "minor"
                } else {
                    "major"
                },
            )));
        }
        let split_name = match split {
            Split::Train => "train",
            Split::HeldOut => "held-out",
            Split::All => "all",
        };
        Ok(Self {
            name: format!("corpus:{}:{split_name}", dir.display()),
            pairs,
            skipped,
        })
    }

    /// The pairs, in file order.
    pub fn pairs(&self) -> &[CallPair] {
        &self.pairs
    }

    /// Files of the split that gave no tune (another meter or mode, no key signature, or a
    /// file that did not import).
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

impl Partner for CorpusCalls {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, rng: &mut ChaCha8Rng, _setting: &Setting, out: &mut [Event]) {
        let pair = &self.pairs[rng.random_range(0..self.pairs.len())];
        let n = out.len().min(pair.call.len());
        out[..n].copy_from_slice(&pair.call[..n]);
        out[n..].fill(REST);
    }
}

fn onsets(encoding: EventEncoding, events: &[Event]) -> usize {
    events
        .iter()
        .filter(|&&e| encoding.pitch_of(e).is_some())
        .count()
}

/// A tune as events of `task`'s encoding, moved to its tonic and register; `None` when it is
/// in another meter or mode, has no key signature, or does not import.
fn tune_in_task(path: &Path, options: &ImportOptions, task: &TaskSpec) -> Option<Vec<Event>> {
    let imported = import_file(path, options).ok()?;
    let (num, den) = imported.time_signature?;
    let per_bar = options.steps_per_quarter as usize * 4 * usize::from(num) / usize::from(den);
    if per_bar != task.setting.steps_per_bar() {
        return None;
    }
    let key = imported.key_signature?;
    if key.minor != task.key_signature.1 {
        return None;
    }
    let major_tonic = (7 * i32::from(key.sharps)).rem_euclid(12);
    let tonic = if key.minor {
        (major_tonic + 9) % 12
    } else {
        major_tonic
    };
    let base = (i32::from(task.setting.tonic) - tonic + 6).rem_euclid(12) - 6;
    let encoding = task.setting.encoding;
    let (low, high) = (
        i32::from(encoding.min_pitch()),
        i32::from(encoding.max_pitch()),
    );
    let shift = (-3..=3)
        .map(|octave| base + 12 * octave)
        .min_by_key(|&shift| {
            let outside = imported
                .notes
                .iter()
                .filter(|n| !(low..=high).contains(&(i32::from(n.pitch) + shift)))
                .count();
            (outside, shift.abs())
        })
        .unwrap_or(base);
    let mut moved = imported;
    for note in &mut moved.notes {
        note.pitch = (i32::from(note.pitch) + shift).clamp(0, 127) as u8;
    }
    moved.to_events(encoding, OutOfRange::FoldOctaves).ok()
}

/// Calls read from a text file (see the module docs): one call a line, `call_steps` tokens
/// separated by spaces, each a MIDI pitch (a note struck), `-` (hold) or `r` (rest); blank
/// lines and lines starting with `#` are skipped.
///
/// ```text
/// # call 1: C E G, held, a breath
/// 60 - - - 64 - - - 67 - - - - - - - 67 - 65 - 64 - - - 62 - - - r - - -
/// ```
#[derive(Debug, Clone)]
pub struct LoggedCalls {
    name: String,
    calls: Vec<Vec<Event>>,
}

impl LoggedCalls {
    /// Reads the calls of `path` for `task`; an error names the file, the line and the token.
    pub fn load(path: &Path, task: &TaskSpec) -> Result<Self, TaskError> {
        let bad = |message: String| TaskError::InvalidField {
            field: "calls".to_string(),
            message: format!("{}: {message}", path.display()),
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let calls = Self::parse(&text, task).map_err(bad)?;
        Ok(Self {
            name: format!("calls:{}", path.display()),
            calls,
        })
    }

    /// Parses the text of a calls file; the error names the line and the token.
    pub fn parse(text: &str, task: &TaskSpec) -> Result<Vec<Vec<Event>>, String> {
        let steps = task.setting.call_steps;
        let encoding = task.setting.encoding;
        let mut calls = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut call = Vec::with_capacity(steps);
            for token in line.split_whitespace() {
                let event = match token {
                    "-" => HOLD,
                    "r" => REST,
                    _ => {
                        let pitch: u8 = token.parse().map_err(|_| {
                            format!(
                                "line {}: '{token}': expected a MIDI pitch, '-' or 'r'",
                                number + 1
                            )
                        })?;
                        encoding.event_of_pitch(pitch).ok_or_else(|| {
                            format!(
                                "line {}: pitch {pitch} is outside the task's range {}..={}",
                                number + 1,
                                encoding.min_pitch(),
                                encoding.max_pitch()
                            )
                        })?
                    }
                };
                call.push(event);
            }
            if call.len() != steps {
                return Err(format!(
                    "line {}: {} steps: expected {steps} (the task's call)",
                    number + 1,
                    call.len()
                ));
            }
            calls.push(call);
        }
        if calls.is_empty() {
            return Err("no calls: expected one call a line".to_string());
        }
        Ok(calls)
    }

    /// Writes `call` as one line of a calls file.
    pub fn format(call: &[Event], encoding: EventEncoding) -> String {
        call.iter()
            .map(|&event| match (event, encoding.pitch_of(event)) {
                (_, Some(pitch)) => pitch.to_string(),
                (REST, None) => "r".to_string(),
                _ => "-".to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The calls, in file order.
    pub fn calls(&self) -> &[Vec<Event>] {
        &self.calls
    }
}

impl Partner for LoggedCalls {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, rng: &mut ChaCha8Rng, _setting: &Setting, out: &mut [Event]) {
        let call = &self.calls[rng.random_range(0..self.calls.len())];
        let n = out.len().min(call.len());
        out[..n].copy_from_slice(&call[..n]);
        out[n..].fill(REST);
    }
}

/// A call set from outside before each reset (see the module docs): share it through an
/// `Arc` with [`TaskSpec::with_partner`], then [`GivenCall::set`] the call to answer.
#[derive(Debug, Default)]
pub struct GivenCall {
    call: Mutex<Vec<Event>>,
}

impl GivenCall {
    /// A partner that plays silence until a call is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The call the next reset plays (cut or padded with rests to the task's call).
    pub fn set(&self, call: &[Event]) {
        let mut held = self
            .call
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.clear();
        held.extend_from_slice(call);
    }
}

impl Partner for GivenCall {
    fn name(&self) -> &str {
        "given"
    }

    fn call(&self, _rng: &mut ChaCha8Rng, _setting: &Setting, out: &mut [Event]) {
        let held = self
            .call
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = out.len().min(held.len());
        out[..n].copy_from_slice(&held[..n]);
        out[n..].fill(REST);
    }
}
