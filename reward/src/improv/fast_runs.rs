//! `fast_runs`: room between the notes; runs of the shortest value only now and then.

use super::common::{onset_in_episode, write_one};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Most inter-onset intervals [`FastRuns`] remembers (the largest `window_notes`).
pub const FAST_RUNS_MEMORY: usize = 32;

/// Parameters of [`FastRuns`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FastRunsParams {
    /// An interval between two onsets of at most this many steps is fast: with the default
    /// grid of four steps per quarter, 1 means a sixteenth note (1..=16).
    pub fast_steps: u8,
    /// Intervals between onsets over which fast ones are counted (2..=32).
    pub window_notes: u8,
    /// Fast intervals allowed among the last `window_notes` (0..=window_notes).
    pub max_fast: u8,
    /// Penalty (subtracted) for each fast onset beyond `max_fast` in the window (0..=100).
    pub fast_penalty: f64,
}

impl Default for FastRunsParams {
    fn default() -> Self {
        Self {
            fast_steps: 1,
            window_notes: 8,
            max_fast: 3,
            fast_penalty: 2.0,
        }
    }
}

impl TermParams for FastRunsParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int("fast_steps", self.fast_steps.into(), 1, 16)?;
        check_int(
            "window_notes",
            self.window_notes.into(),
            2,
            FAST_RUNS_MEMORY as u64,
        )?;
        check_int(
            "max_fast",
            self.max_fast.into(),
            0,
            self.window_notes.into(),
        )?;
        check_real("fast_penalty", self.fast_penalty, 0.0, MAX_MAGNITUDE)
    }
}

/// Term `fast_runs`: penalises a wall of the shortest note value. Each onset that comes
/// `fast_steps` or fewer steps after the previous one is fast; when more than `max_fast` of
/// the last `window_notes` intervals are fast, the new fast onset costs `fast_penalty`.
///
/// **Why:** most improvisation terms pay per note (a chord-scale note, a resolved passing
/// tone), so without a counterweight the more notes the better, and an optimizer fills every
/// step with a sixteenth. Players and folk tunes use runs of sixteenths as ornaments and
/// fills, between longer values: in the project's folk corpus under a fifth of the intervals
/// are sixteenths, and a wall of them is what a keyboard arpeggiator plays, not a melody.
///
/// **Example:** straight sixteenths pay nothing for their first three notes after the first,
/// then `-2` on every further note; a line in eighths with an occasional pair of
/// sixteenths pays nothing.
///
/// Keeps a ring of [`FAST_RUNS_MEMORY`] flags and a running count: a step costs a few
/// integer operations.
#[derive(Debug, Clone)]
pub struct FastRuns {
    params: FastRunsParams,
    /// Whether each remembered interval was fast, oldest at `head`.
    fast: [bool; FAST_RUNS_MEMORY],
    head: usize,
    len: usize,
    /// Fast intervals among the last `window_notes`.
    fast_in_window: usize,
    last_onset: Option<usize>,
}

impl Default for FastRuns {
    fn default() -> Self {
        Self::from_valid(FastRunsParams::default())
    }
}

impl ImprovTerm for FastRuns {
    const NAME: &'static str = "fast_runs";
    type Params = FastRunsParams;

    fn from_valid(params: FastRunsParams) -> Self {
        Self {
            params,
            fast: [false; FAST_RUNS_MEMORY],
            head: 0,
            len: 0,
            fast_in_window: 0,
            last_onset: None,
        }
    }

    fn params(&self) -> &FastRunsParams {
        &self.params
    }
}

impl FastRuns {
    /// Takes one interval into the window, dropping the oldest beyond `window_notes`.
    #[inline]
    fn push(&mut self, fast: bool) {
        let window = usize::from(self.params.window_notes);
        if self.len == window {
            self.fast_in_window -= usize::from(self.fast[self.head]);
            self.head = (self.head + 1) % FAST_RUNS_MEMORY;
            self.len -= 1;
        }
        self.fast[(self.head + self.len) % FAST_RUNS_MEMORY] = fast;
        self.len += 1;
        self.fast_in_window += usize::from(fast);
    }
}

impl Reward for FastRuns {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.head = 0;
        self.len = 0;
        self.fast_in_window = 0;
        self.last_onset = None;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if onset_in_episode(self, ctx).is_none() {
            return write_one(terms, 0.0);
        }
        let previous = self.last_onset.replace(ctx.step);
        let Some(previous) = previous else {
            return write_one(terms, 0.0);
        };
        let fast = ctx.step.saturating_sub(previous) <= usize::from(self.params.fast_steps);
        self.push(fast);
        let value = if fast && self.fast_in_window > usize::from(self.params.max_fast) {
            -self.params.fast_penalty
        } else {
            0.0
        };
        write_one(terms, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::{HOLD, REST};

    fn run(events: &[u8]) -> Vec<f64> {
        let setting = Setting::rl_tuner();
        let mut term = FastRuns::default();
        term.reset(&setting);
        (0..events.len())
            .map(|step| {
                let ctx = StepContext {
                    setting: &setting,
                    step,
                    history: &events[..step],
                    action: events[step],
                };
                term.step(&ctx, &mut [0.0])
            })
            .collect()
    }

    #[test]
    fn a_wall_of_sixteenths_pays_after_max_fast() {
        let values = run(&[20u8; 12]);
        assert!(values[..4].iter().all(|&v| v == 0.0), "{values:?}");
        assert!(values[4..].iter().all(|&v| v == -2.0), "{values:?}");
    }

    #[test]
    fn eighths_with_a_few_sixteenths_pay_nothing() {
        let mut events = Vec::new();
        for bar in 0..4 {
            for beat in 0..4u8 {
                if beat == 3 && bar % 2 == 0 {
                    events.extend([20 + beat, 22 + beat, 21, HOLD]);
                } else {
                    events.extend([20 + beat, HOLD, 22, HOLD]);
                }
            }
        }
        events.extend([REST; 4]);
        assert!(run(&events).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_parameters_are_named() {
        let params = FastRunsParams {
            max_fast: 9,
            ..FastRunsParams::default()
        };
        let err = FastRuns::new(params).unwrap_err().to_string();
        assert!(err.contains("max_fast") && err.contains("0..=8"), "{err}");
    }
}
