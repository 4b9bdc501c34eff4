//! `motif_development`: restating and developing motifs, within limits.

use super::common::{onset_in_episode, write_one, Meter};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Most notes [`MotifDevelopment`] remembers: motifs are searched among the last this many.
pub const MOTIF_MEMORY: usize = 32;

/// Most rewarded matches remembered for the cap (the upper bound of `max_rewards`).
const MAX_REWARDS_CAP: usize = 16;

/// Parameters of [`MotifDevelopment`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotifDevelopmentParams {
    /// Length of a motif, in notes (3..=8).
    pub motif_notes: u8,
    /// Reward when the last notes repeat an earlier motif exactly: same pitches, same
    /// rhythm (0..=100).
    pub exact_reward: f64,
    /// Reward when they repeat it transposed: same intervals and rhythm, another starting
    /// pitch (0..=100).
    pub transposed_reward: f64,
    /// Reward when they repeat only its rhythm: same inter-onset pattern, other intervals
    /// (0..=100).
    pub rhythmic_reward: f64,
    /// Factor applied to a reward for each match already rewarded within the cap window
    /// (0..=1).
    pub repeat_decay: f64,
    /// Most matches rewarded within the cap window (0..=16).
    pub max_rewards: u8,
    /// Length of the cap window, in bars (1..=64).
    pub cap_window_bars: u8,
}

impl Default for MotifDevelopmentParams {
    fn default() -> Self {
        Self {
            motif_notes: 4,
            exact_reward: 1.0,
            transposed_reward: 0.75,
            rhythmic_reward: 0.5,
            repeat_decay: 0.5,
            max_rewards: 3,
            cap_window_bars: 4,
        }
    }
}

impl TermParams for MotifDevelopmentParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("motif_notes", self.motif_notes.into(), 3, 8)?;
        check_real("exact_reward", self.exact_reward, 0.0, MAX_MAGNITUDE)?;
        check_real(
            "transposed_reward",
            self.transposed_reward,
            0.0,
            MAX_MAGNITUDE,
        )?;
        check_real("rhythmic_reward", self.rhythmic_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("repeat_decay", self.repeat_decay, 0.0, 1.0)?;
        check_int(
            "max_rewards",
            self.max_rewards.into(),
            0,
            MAX_REWARDS_CAP as u64,
        )?;
        check_int("cap_window_bars", self.cap_window_bars.into(), 1, 64)
    }
}

/// Length of the note buffers: twice the memory, so that windows stay contiguous slices.
/// When the buffers fill, the newest [`MOTIF_MEMORY`] notes move to the front: one short
/// copy every [`MOTIF_MEMORY`] notes instead of modulo arithmetic in every comparison.
const BUFFER: usize = 2 * MOTIF_MEMORY;

/// Term `motif_development`: rewards the last `motif_notes` notes when they restate an
/// earlier motif exactly, transposed, or only rhythmically, with diminishing returns.
///
/// The last [`MOTIF_MEMORY`] notes live in fixed-size buffers; at each attack the newest
/// `motif_notes` notes are compared with every earlier, non-overlapping window of that many
/// notes (a bounded number of byte comparisons, whatever the melody's length). The best
/// match pays `exact_reward`, `transposed_reward` or `rhythmic_reward` (by default
/// decreasing as the match loosens), times `repeat_decay` for each match already rewarded
/// within the last `cap_window_bars` bars; after `max_rewards` of them nothing more is paid
/// until the window moves on. Trivial motifs do not count: exact and transposed matches
/// need at least one non-zero interval, rhythmic ones at least two different note lengths.
///
/// **Why:** motifs and their development (sequence, rhythmic variation) are what make an
/// improvisation sound composed rather than a string of licks. But repetition pays less each
/// time it is heard, so the cap and decay make endless copying a losing strategy.
///
/// **Example:** with 4-note motifs in sixteenth steps, C–D–E–C played quarter, eighth,
/// eighth, then later G–A–B–G in the same rhythm (same intervals, a fifth higher) scores
/// `+0.75` on that G; E–D–C–G in that rhythm would score `+0.5`; C–D–E–C again scores `+1`.
/// Further matches within the cap window pay half as much each time (`+0.5`, `+0.25`), and
/// after three nothing more until the window moves on.
#[derive(Debug, Clone)]
pub struct MotifDevelopment {
    params: MotifDevelopmentParams,
    /// Recent notes, oldest first: pitch, interval from the previous note (stored because
    /// every comparison needs it) and steps since the previous attack.
    pitches: [u8; BUFFER],
    intervals: [i16; BUFFER],
    iois: [u16; BUFFER],
    /// Filled length of the buffers; only the last [`MOTIF_MEMORY`] notes are searched.
    len: usize,
    /// Step of the last attack.
    last_onset: Option<usize>,
    /// Ring buffer of the steps of the latest rewarded matches.
    rewarded: [usize; MAX_REWARDS_CAP],
    rewarded_head: usize,
    rewarded_len: usize,
}

impl Default for MotifDevelopment {
    fn default() -> Self {
        Self {
            params: MotifDevelopmentParams::default(),
            pitches: [0; BUFFER],
            intervals: [0; BUFFER],
            iois: [0; BUFFER],
            len: 0,
            last_onset: None,
            rewarded: [0; MAX_REWARDS_CAP],
            rewarded_head: 0,
            rewarded_len: 0,
        }
    }
}

impl ImprovTerm for MotifDevelopment {
    const NAME: &'static str = "motif_development";
    type Params = MotifDevelopmentParams;

    fn from_valid(params: MotifDevelopmentParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &MotifDevelopmentParams {
        &self.params
    }
}

impl MotifDevelopment {
    /// Notes currently remembered; never more than [`MOTIF_MEMORY`], however long the melody.
    pub fn remembered_notes(&self) -> usize {
        self.len.min(MOTIF_MEMORY)
    }

    fn push(&mut self, pitch: u8, ioi: u16) {
        let interval = match self.len {
            0 => 0,
            n => i16::from(pitch) - i16::from(self.pitches[n - 1]),
        };
        if self.len == BUFFER {
            let keep = BUFFER - MOTIF_MEMORY;
            self.pitches.copy_within(keep.., 0);
            self.intervals.copy_within(keep.., 0);
            self.iois.copy_within(keep.., 0);
            self.len = MOTIF_MEMORY;
        }
        self.pitches[self.len] = pitch;
        self.intervals[self.len] = interval;
        self.iois[self.len] = ioi;
        self.len += 1;
    }

    /// The reward of the best match of the newest motif, before decay and cap.
    fn best_match(&self) -> f64 {
        let k = usize::from(self.params.motif_notes);
        let oldest = self.len.saturating_sub(MOTIF_MEMORY);
        if self.len - oldest < 2 * k {
            return 0.0;
        }
        // The newest motif's shape: its intervals and inter-onset intervals after its first
        // note (how the first note was reached is not part of the motif).
        let c = self.len - k;
        let intervals = &self.intervals[c + 1..self.len];
        let iois = &self.iois[c + 1..self.len];
        let pitched = intervals.iter().any(|&i| i != 0);
        let rhythmic = iois.iter().any(|&d| d != iois[0]);
        if !pitched && !rhythmic {
            return 0.0;
        }
        let p = &self.params;
        let mut best = 0.0f64;
        // Earlier windows end before the newest one starts: overlapping "repeats" of a
        // sequence against itself are not restatements.
        for j in (oldest..=c - k).rev() {
            // Element-wise rather than slice `==`: for a handful of elements the inline loop
            // beats a call to `memcmp`.
            if !same(&self.iois[j + 1..j + k], iois) {
                continue;
            }
            let same_intervals = same(&self.intervals[j + 1..j + k], intervals);
            let value = if same_intervals && pitched {
                if self.pitches[j] == self.pitches[c] {
                    p.exact_reward
                } else {
                    p.transposed_reward
                }
            } else if !same_intervals && rhythmic {
                p.rhythmic_reward
            } else {
                0.0
            };
            best = best.max(value);
        }
        best
    }
}

/// Whether two short slices hold the same elements.
#[inline]
fn same<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl Reward for MotifDevelopment {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.len = 0;
        self.last_onset = None;
        self.rewarded_head = 0;
        self.rewarded_len = 0;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let Some(pitch) = onset_in_episode(self, ctx) else {
            return write_one(terms, 0.0);
        };
        let step = ctx.step;
        let ioi = self.last_onset.map_or(0, |last| {
            step.saturating_sub(last).min(usize::from(u16::MAX)) as u16
        });
        self.last_onset = Some(step);
        self.push(pitch, ioi);
        let base = self.best_match();
        if base <= 0.0 {
            return write_one(terms, 0.0);
        }
        let window = usize::from(self.params.cap_window_bars) * Meter::of(ctx.setting).bar;
        let recent = (0..self.rewarded_len)
            .filter(|&i| self.rewarded[i].saturating_add(window) > step)
            .count();
        if recent >= usize::from(self.params.max_rewards) {
            return write_one(terms, 0.0);
        }
        self.rewarded[self.rewarded_head] = step;
        self.rewarded_head = (self.rewarded_head + 1) % MAX_REWARDS_CAP;
        self.rewarded_len = (self.rewarded_len + 1).min(MAX_REWARDS_CAP);
        let value = base * self.params.repeat_decay.powi(recent as i32);
        write_one(terms, value)
    }
}
