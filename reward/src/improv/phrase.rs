//! `phrase_breath`: breathing at phrase ends, neither too rarely nor too often.

use super::common::{classify, write_one, Ev, Meter};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
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
    /// Reward for the first rest near each phrase boundary (0..=100).
    pub breath_reward: f64,
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
            max_stretch_bars: 4,
            long_penalty: 0.25,
            min_phrase_beats: 2,
            fragment_penalty: 0.5,
        }
    }
}

impl PhraseBreathParams {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), ImprovError> {
        check_int("phrase_bars", self.phrase_bars.into(), 1, 16)?;
        check_int(
            "breath_window_beats",
            self.breath_window_beats.into(),
            0,
            16,
        )?;
        check_real("breath_reward", self.breath_reward, 0.0, MAX_MAGNITUDE)?;
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

/// Term `phrase_breath`: rewards breaths (rests) near phrase ends, penalises very long
/// stretches without a rest and rests that chop the line into fragments.
///
/// Phrase boundaries fall every `phrase_bars` bars. A rest *starts* when a rest event
/// silences a sounding note; consecutive rest events in silence are just more silence. Per
/// step, the value is the sum of:
/// - a rest starting within `breath_window_beats` beats of a boundary, the first for that
///   boundary: `+breath_reward`;
/// - a rest ending a span of sound shorter than `min_phrase_beats` beats:
///   `-fragment_penalty`;
/// - each beat sounding after `max_stretch_bars` bars without a rest: `-long_penalty`.
///
/// **Why:** phrases are breaths. Singers and horn players must breathe, and listeners parse
/// melodies into phrases at the silences; rests at the ends of regular 2- or 4-bar units make
/// a line intelligible, while a rest every beat makes it stutter.
///
/// **Example:** in 4/4 with 2-bar phrases, a note released by a rest on beat 4 of bar 2
/// scores `+1` on that step; playing nonstop for more than 4 bars scores `-0.25` on every
/// further beat; two sixteenths followed by a rest score `-0.5` at the rest.
#[derive(Debug, Clone, Default)]
pub struct PhraseBreath {
    params: PhraseBreathParams,
    /// First attack after the last silence, while sound continues.
    sounding_since: Option<usize>,
    /// The boundary (as a step) whose breath has been rewarded last.
    last_breath: Option<usize>,
}

impl PhraseBreath {
    /// The term's name.
    pub const NAME: &'static str = "phrase_breath";

    /// A term with checked parameters.
    pub fn new(params: PhraseBreathParams) -> Result<Self, ImprovError> {
        params.validate()?;
        Ok(Self {
            params,
            ..Self::default()
        })
    }

    /// The parameters.
    pub fn params(&self) -> &PhraseBreathParams {
        &self.params
    }
}

impl Reward for PhraseBreath {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.sounding_since = None;
        self.last_breath = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 {
            self.reset(ctx.setting);
        }
        let meter = Meter::of(ctx.setting);
        let step = ctx.step;
        let p = &self.params;
        let mut value = 0.0;
        match classify(ctx.setting, ctx.action) {
            Ev::Onset(_) => {
                if self.sounding_since.is_none() {
                    self.sounding_since = Some(step);
                }
            }
            Ev::Rest => {
                if let Some(start) = self.sounding_since.take() {
                    let phrase = usize::from(p.phrase_bars) * meter.bar;
                    // Nearest boundary, rounding halves up; the melody's start is no boundary.
                    let boundary = step.saturating_add(phrase / 2) / phrase * phrase;
                    let window = usize::from(p.breath_window_beats) * meter.beat;
                    if boundary > 0
                        && step.abs_diff(boundary) <= window
                        && self.last_breath != Some(boundary)
                    {
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
