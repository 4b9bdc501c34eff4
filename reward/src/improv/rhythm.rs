//! `rhythmic_variety`: a mix of note lengths and the odd syncopation.

use super::common::{classify, restart_on_first_step, write_one, Ev, Meter};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Most inter-onset intervals [`RhythmicVariety`] remembers: the cap of its sliding window.
pub const RHYTHM_WINDOW_CAPACITY: usize = 32;

/// Inter-onset intervals are bucketed into this many classes (1..=63 steps, then "longer"),
/// so that the distinct values of a window fit one 64-bit mask.
const IOI_CLASSES: u16 = 64;

/// Parameters of [`RhythmicVariety`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RhythmicVarietyParams {
    /// Sliding window, in inter-onset intervals, over which variety is judged (2..=32).
    pub window_notes: u8,
    /// Number of distinct inter-onset intervals that earns the full variety reward (2..=8).
    pub target_distinct: u8,
    /// Reward at each onset when the window holds `target_distinct` or more distinct
    /// inter-onset intervals; fewer (but more than one) earn a proportional share (0..=100).
    pub variety_reward: f64,
    /// Penalty (subtracted) at each onset when every interval in the window is the same
    /// (0..=100).
    pub same_penalty: f64,
    /// Reward for a syncopation: a note attacked off the beat and held across the next beat
    /// (0..=100).
    pub syncopation_reward: f64,
    /// Fewest beats between two rewarded syncopations, so that they stay occasional
    /// (0..=64).
    pub syncopation_gap_beats: u8,
}

impl Default for RhythmicVarietyParams {
    fn default() -> Self {
        Self {
            window_notes: 8,
            target_distinct: 3,
            variety_reward: 0.2,
            same_penalty: 0.5,
            syncopation_reward: 0.5,
            syncopation_gap_beats: 4,
        }
    }
}

impl TermParams for RhythmicVarietyParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int(
            "window_notes",
            self.window_notes.into(),
            2,
            RHYTHM_WINDOW_CAPACITY as u64,
        )?;
        check_int("target_distinct", self.target_distinct.into(), 2, 8)?;
        check_real("variety_reward", self.variety_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("same_penalty", self.same_penalty, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "syncopation_reward",
            self.syncopation_reward,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_int(
            "syncopation_gap_beats",
            self.syncopation_gap_beats.into(),
            0,
            64,
        )
    }
}

/// Term `rhythmic_variety`: rewards a mix of note lengths over a sliding window, penalises
/// an all-same rhythm, and rewards occasional syncopation.
///
/// Note lengths are measured as inter-onset intervals (steps from one attack to the next,
/// rests included), kept in a ring buffer of at most [`RHYTHM_WINDOW_CAPACITY`]. At each
/// attack, once `window_notes` intervals are known, the number `d` of distinct intervals in
/// the window scores `-same_penalty` when `d = 1`, else
/// `variety_reward × (min(d, target_distinct) − 1) / (target_distinct − 1)`.
/// A syncopation, scored on the beat it crosses, is a note attacked off the beat and still
/// sounding (held) on the next beat; at most one every `syncopation_gap_beats` beats earns
/// `+syncopation_reward`.
///
/// **Why:** rhythm carries as much of a melody's identity as pitch. A line of equal note
/// values is a drill; mixing longs and shorts creates phrasing, and anticipations (the
/// "push" of an eighth note tied over the beat) are the heart of swing and pop phrasing.
///
/// **Example:** in 4/4 sixteenths, eight straight eighth notes score `-0.5` at each attack
/// once the window is full; a quarter–eighth–eighth pattern scores `+0.1` per attack (two
/// distinct lengths). An eighth note attacked on the "and" of beat 1 and held through beat 2
/// scores `+0.5` on beat 2.
#[derive(Debug, Clone)]
pub struct RhythmicVariety {
    params: RhythmicVarietyParams,
    /// Ring buffer of inter-onset interval classes, newest at `(head + len - 1) % CAP`.
    iois: [u8; RHYTHM_WINDOW_CAPACITY],
    head: usize,
    len: usize,
    /// Step of the last attack.
    last_onset: Option<usize>,
    /// Attack step of the note sounding now (`None` in silence).
    sounding_since: Option<usize>,
    /// Step of the last rewarded syncopation.
    last_syncopation: Option<usize>,
}

impl Default for RhythmicVariety {
    fn default() -> Self {
        Self {
            params: RhythmicVarietyParams::default(),
            iois: [0; RHYTHM_WINDOW_CAPACITY],
            head: 0,
            len: 0,
            last_onset: None,
            sounding_since: None,
            last_syncopation: None,
        }
    }
}

impl ImprovTerm for RhythmicVariety {
    const NAME: &'static str = "rhythmic_variety";
    type Params = RhythmicVarietyParams;

    fn from_valid(params: RhythmicVarietyParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &RhythmicVarietyParams {
        &self.params
    }
}

impl RhythmicVariety {
    /// Inter-onset intervals currently remembered; never more than
    /// [`RHYTHM_WINDOW_CAPACITY`], however long the melody.
    pub fn remembered_intervals(&self) -> usize {
        self.len
    }

    fn push(&mut self, ioi: usize) {
        let class = ioi.min(usize::from(IOI_CLASSES - 1)) as u8;
        if self.len < RHYTHM_WINDOW_CAPACITY {
            self.iois[(self.head + self.len) % RHYTHM_WINDOW_CAPACITY] = class;
            self.len += 1;
        } else {
            self.iois[self.head] = class;
            self.head = (self.head + 1) % RHYTHM_WINDOW_CAPACITY;
        }
    }

    /// Score of the window of the newest `window_notes` intervals.
    fn variety(&self) -> f64 {
        let window = usize::from(self.params.window_notes);
        if self.len < window {
            return 0.0;
        }
        let mut seen = 0u64;
        for k in self.len - window..self.len {
            seen |= 1 << self.iois[(self.head + k) % RHYTHM_WINDOW_CAPACITY];
        }
        let distinct = seen.count_ones();
        if distinct <= 1 {
            -self.params.same_penalty
        } else {
            let target = u32::from(self.params.target_distinct);
            self.params.variety_reward * f64::from(distinct.min(target) - 1) / f64::from(target - 1)
        }
    }
}

impl Reward for RhythmicVariety {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.head = 0;
        self.len = 0;
        self.last_onset = None;
        self.sounding_since = None;
        self.last_syncopation = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        restart_on_first_step(self, ctx);
        let step = ctx.step;
        let value = match classify(ctx.setting, ctx.action) {
            Ev::Onset(_) => {
                if let Some(last) = self.last_onset {
                    self.push(step.saturating_sub(last));
                }
                self.last_onset = Some(step);
                self.sounding_since = Some(step);
                self.variety()
            }
            Ev::Rest => {
                self.sounding_since = None;
                0.0
            }
            Ev::Hold => {
                let meter = Meter::of(ctx.setting);
                match self.sounding_since {
                    // Attacked off the beat within the last beat, still sounding on this one.
                    Some(onset)
                        if meter.is_beat(step)
                            && !meter.is_beat(onset)
                            && step.saturating_sub(onset) < meter.beat =>
                    {
                        let gap = usize::from(self.params.syncopation_gap_beats) * meter.beat;
                        if !matches!(self.last_syncopation, Some(s) if step.saturating_sub(s) < gap)
                        {
                            self.last_syncopation = Some(step);
                            self.params.syncopation_reward
                        } else {
                            0.0
                        }
                    }
                    _ => 0.0,
                }
            }
        };
        write_one(terms, value)
    }
}
