//! `phrase_breath`: breathing at phrase ends, neither too rarely nor too often.

use super::common::{classify, restart_on_first_step, write_one, Ev, Meter};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`PhraseBreath`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhraseBreathParams {
    /// Length of a phrase, in bars: a breath is expected every this many bars (1..=16).
    pub phrase_bars: u8,
    /// How close, in beats either side of a phrase boundary, a rest must start to count as a
    /// breath there (0..=16).
    pub breath_window_beats: u8,
    /// Reward for the first breath near each phrase boundary (0..=100).
    pub breath_reward: f64,
    /// A note released near a phrase boundary is a breath too when it lasted at least this
    /// many times as long as the note before it (0..=16; 0: only rests are breaths).
    pub held_ratio: u8,
    /// Longest stretch of sound, in bars, before the lack of a rest is penalised (1..=64).
    pub max_stretch_bars: u8,
    /// Penalty (subtracted) on each beat of a stretch longer than `max_stretch_bars`
    /// (0..=100).
    pub long_penalty: f64,
    /// Shortest span of sound, in beats, that a rest may end without fragmenting the line
    /// (0..=64).
    pub min_phrase_beats: u8,
    /// Penalty (subtracted) for a rest ending a span of sound shorter than
    /// `min_phrase_beats` (0..=100).
    pub fragment_penalty: f64,
}

impl Default for PhraseBreathParams {
    fn default() -> Self {
        Self {
            phrase_bars: 2,
            breath_window_beats: 1,
            breath_reward: 1.0,
            held_ratio: 2,
            max_stretch_bars: 4,
            long_penalty: 0.25,
            min_phrase_beats: 2,
            fragment_penalty: 0.5,
        }
    }
}

impl TermParams for PhraseBreathParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("phrase_bars", self.phrase_bars.into(), 1, 16)?;
        check_int(
            "breath_window_beats",
            self.breath_window_beats.into(),
            0,
            16,
        )?;
        check_real("breath_reward", self.breath_reward, 0.0, MAX_MAGNITUDE)?;
        check_int("held_ratio", self.held_ratio.into(), 0, 16)?;
        check_int("max_stretch_bars", self.max_stretch_bars.into(), 1, 64)?;
        check_real("long_penalty", self.long_penalty, 0.0, MAX_MAGNITUDE)?;
        check_int("min_phrase_beats", self.min_phrase_beats.into(), 0, 64)?;
        check_real(
            "fragment_penalty",
            self.fragment_penalty,
            0.0,
            MAX_MAGNITUDE,
        )
    }
}

/// Term `phrase_breath`: rewards breaths near phrase ends, penalises very long stretches
/// without one and rests that chop the line into fragments.
///
/// Phrase boundaries fall every `phrase_bars` bars. A breath is a rest, or a held note: a
/// note at least `held_ratio` times as long as the note before it, released (by the next
/// note) near a boundary. A rest *starts* when a rest event silences a sounding note;
/// consecutive rest events in silence are just more silence. Per step, the value is the sum
/// of:
/// - a breath (a rest starting, or a held note released) within `breath_window_beats` beats
///   of a boundary, the first for that boundary: `+breath_reward`;
/// - a rest ending a span of sound shorter than `min_phrase_beats` beats:
///   `-fragment_penalty`;
/// - each beat sounding after `max_stretch_bars` bars without a breath: `-long_penalty`.
///   A rest anywhere ends the stretch; a held note ends it only at a phrase boundary.
///
/// **Why:** phrases are breaths. Singers and horn players must breathe, and listeners parse
/// melodies into phrases at the silences; rests at the ends of regular 2- or 4-bar units make
/// a line intelligible, while a rest every beat makes it stutter.
///
/// **Why held notes count:** many melodies, dance tunes above all, hardly ever rest: they
/// mark a phrase end by lengthening its last note (a crotchet after a run of quavers, a
/// dotted crotchet closing a jig phrase), and that is where the player breathes, shortening
/// the long note. Counting only rests would score such a tune like a line of equal notes
/// that never articulates a phrase at all. A note merely as long as its neighbours is no
/// breath, nor is a long note away from a phrase end.
///
/// **Example:** in 4/4 with 2-bar phrases, a note released by a rest on beat 4 of bar 2
/// scores `+1` on that step; playing nonstop for more than 4 bars scores `-0.25` on every
/// further beat; two sixteenths followed by a rest score `-0.5` at the rest; in 4/4 with
/// eighth notes, a half note from beat 3 of bar 2 released by the next note on the downbeat
/// of bar 3 scores `+1` there.
#[derive(Debug, Clone, Default)]
pub struct PhraseBreath {
    params: PhraseBreathParams,
    /// First attack after the last breath, while sound continues.
    sounding_since: Option<usize>,
    /// Attack of the note now sounding.
    note_start: Option<usize>,
    /// Length, in steps, of the note before it (unknown after a silence).
    prev_len: Option<usize>,
    /// The boundary (as a step) whose breath has been rewarded last.
    last_breath: Option<usize>,
}

impl ImprovTerm for PhraseBreath {
    const NAME: &'static str = "phrase_breath";
    type Params = PhraseBreathParams;

    fn from_valid(params: PhraseBreathParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &PhraseBreathParams {
        &self.params
    }
}

impl Reward for PhraseBreath {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.sounding_since = None;
        self.note_start = None;
        self.prev_len = None;
        self.last_breath = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        restart_on_first_step(self, ctx);
        let meter = Meter::of(ctx.setting);
        let step = ctx.step;
        let p = self.params;
        let phrase = usize::from(p.phrase_bars) * meter.bar;
        let window = usize::from(p.breath_window_beats) * meter.beat;
        // Nearest boundary, rounding halves up; the melody's start is no boundary.
        let boundary = step.saturating_add(phrase / 2) / phrase * phrase;
        let near_boundary = boundary > 0 && step.abs_diff(boundary) <= window;
        let mut value = 0.0;
        match classify(ctx.setting, ctx.action) {
            Ev::Onset(_) => {
                if let Some(start) = self.note_start {
                    let len = step - start;
                    let held = p.held_ratio > 0
                        && self
                            .prev_len
                            .is_some_and(|prev| len >= usize::from(p.held_ratio) * prev);
                    if held && near_boundary && self.last_breath != Some(boundary) {
                        self.last_breath = Some(boundary);
                        value += p.breath_reward;
                        // The breath is taken at the end of the long note: a new stretch.
                        self.sounding_since = Some(step);
                    }
                    self.prev_len = Some(len);
                }
                self.note_start = Some(step);
                if self.sounding_since.is_none() {
                    self.sounding_since = Some(step);
                }
            }
            Ev::Rest => {
                self.note_start = None;
                self.prev_len = None;
                if let Some(start) = self.sounding_since.take() {
                    if near_boundary && self.last_breath != Some(boundary) {
                        self.last_breath = Some(boundary);
                        value += p.breath_reward;
                    }
                    if step.saturating_sub(start) < usize::from(p.min_phrase_beats) * meter.beat {
                        value -= p.fragment_penalty;
                    }
                }
            }
            Ev::Hold => {}
        }
        if let Some(start) = self.sounding_since {
            let limit = usize::from(p.max_stretch_bars) * meter.bar;
            if meter.is_beat(step) && step.saturating_sub(start) >= limit {
                value -= p.long_penalty;
            }
        }
        write_one(terms, value)
    }
}
