//! `call_motif`: the answer takes up the call's motif and varies it, without copying it.

use super::call::{CallMemory, CellMatch};
use crate::improv::common::{write_one, Ev};
use crate::improv::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use crate::improv::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Longest cell [`CallMotif`] compares, in notes.
pub const MAX_CELL_NOTES: usize = 6;

/// Parameters of [`CallMotif`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallMotifParams {
    /// Notes of a cell (3..=6): the answer's last this many notes are compared with every
    /// run of as many consecutive notes of the call.
    pub cell_notes: u8,
    /// Whether a cell must keep the call's rhythm (its inter-onset times) besides its
    /// intervals.
    pub same_rhythm: bool,
    /// Reward when the answer's last cell has the intervals of a cell of the call, at other
    /// pitches or in another place in the bar: the motif taken up and moved (0..=100).
    pub varied_reward: f64,
    /// Reward when it has them upside down (every interval negated) (0..=100).
    pub inverted_reward: f64,
    /// Reward when it restates a cell of the call at its own pitches and place (0..=100).
    pub literal_reward: f64,
    /// Most rewarded cells per answer (0..=32): the motif is taken up, then left.
    pub max_rewards: u8,
    /// Penalty (subtracted) for each note of a literal copy: the call's pitch at the call's
    /// place, `copy_run` notes or more in a row (0..=100).
    pub copy_penalty: f64,
    /// Notes in a row copied literally before the copy is charged (1..=64).
    pub copy_run: u8,
}

impl Default for CallMotifParams {
    fn default() -> Self {
        Self {
            cell_notes: 3,
            same_rhythm: true,
            varied_reward: 1.0,
            inverted_reward: 0.75,
            literal_reward: 0.0,
            max_rewards: 4,
            copy_penalty: 1.0,
            copy_run: 8,
        }
    }
}

impl TermParams for CallMotifParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int(
            "cell_notes",
            self.cell_notes.into(),
            3,
            MAX_CELL_NOTES as u64,
        )?;
        check_real("varied_reward", self.varied_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("inverted_reward", self.inverted_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("literal_reward", self.literal_reward, 0.0, MAX_MAGNITUDE)?;
        check_int("max_rewards", self.max_rewards.into(), 0, 32)?;
        check_real("copy_penalty", self.copy_penalty, 0.0, MAX_MAGNITUDE)?;
        check_int("copy_run", self.copy_run.into(), 1, 64)
    }
}

/// Term `call_motif`: rewards an answer that takes up a cell of the call (its last
/// `cell_notes` notes have the intervals, and by default the rhythm, of consecutive notes of
/// the call) at other pitches or in another place in the bar, or upside down; pays a little
/// for a cell restated where the call had it; charges an answer that copies the call note
/// for note.
///
/// **Why:** an answer that sounds like an answer keeps something of the question. Trading
/// fours, a player picks up a figure of the other's phrase and moves it (a sequence a step
/// higher, the same cell on another beat, the contour turned over); echoing the whole
/// phrase back is parroting, not answering. A cell keeps its rhythm by default: intervals
/// alone are scale fragments that any two phrases share, and with them the term preferred
/// shuffled pairs to real ones (the bench's duet case, `docs/duet.md`, where the defaults
/// were chosen on the corpus's training tunes).
///
/// **Example:** call C D E G in quarters; an answer F G A C (a fourth
/// higher) scores `+1` on the A and on the C; E D C (inverted) `+0.75`; C D E G on the
/// call's own beats scores `literal_reward` (0) per cell until `copy_run` (8) notes in a
/// row are copied, then `-copy_penalty` a note. Rewards stop after `max_rewards` cells. Repeated
/// notes (a cell of unisons) are no motif and score nothing.
///
/// The call is the setting's first `call_steps` events (a duet's partner part); without a
/// call the term is always 0. A step costs at most one pass over the call's notes, without
/// allocating.
#[derive(Debug, Clone, Default)]
pub struct CallMotif {
    params: CallMotifParams,
    call: CallMemory,
    /// The answer's last notes (pitch, step), oldest first.
    last: [(u8, usize); MAX_CELL_NOTES],
    count: usize,
    rewarded: u8,
    literal_run: u8,
}

impl ImprovTerm for CallMotif {
    const NAME: &'static str = "call_motif";
    type Params = CallMotifParams;

    fn from_valid(params: CallMotifParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &CallMotifParams {
        &self.params
    }
}

impl Reward for CallMotif {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.call.clear();
        self.count = 0;
        self.rewarded = 0;
        self.literal_run = 0;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 {
            self.reset(ctx.setting);
        }
        let Some(event) = self.call.hear(ctx) else {
            return write_one(terms, 0.0);
        };
        let calls = ctx.setting.call_steps;
        let Ev::Onset(pitch) = event else {
            return write_one(terms, 0.0);
        };
        let place = (ctx.step - calls) % calls.max(1);
        let literal = self.call.pitch_at(place) == Some(pitch);
        self.literal_run = if literal {
            self.literal_run.saturating_add(1)
        } else {
            0
        };
        self.last.copy_within(1.., 0);
        self.last[MAX_CELL_NOTES - 1] = (pitch, ctx.step - calls);
        self.count = (self.count + 1).min(MAX_CELL_NOTES);
        let k = usize::from(self.params.cell_notes).min(MAX_CELL_NOTES);
        let mut value = 0.0;
        if self.literal_run >= self.params.copy_run {
            value -= self.params.copy_penalty;
        } else if self.count >= k && self.rewarded < self.params.max_rewards {
            let cell = &self.last[MAX_CELL_NOTES - k..];
            let reward = match self.call.match_cell(cell, calls, self.params.same_rhythm) {
                Some(CellMatch::Literal) => self.params.literal_reward,
                Some(CellMatch::Varied) => self.params.varied_reward,
                Some(CellMatch::Inverted) => self.params.inverted_reward,
                None => 0.0,
            };
            if reward > 0.0 {
                self.rewarded += 1;
                value += reward;
            }
        }
        write_one(terms, value)
    }
}
