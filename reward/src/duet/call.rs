//! What the answer terms remember of the call.

use crate::improv::common::Ev;

/// Notes of a call the terms remember.
pub const CALL_MEMORY_NOTES: usize = 128;

/// Steps of a call the terms remember (longer calls are heard up to here).
pub const CALL_MEMORY_STEPS: usize = 512;

/// The call as the answer terms remember it: the pitch struck at each step, and its notes in
/// order. Fixed-size: nothing is allocated per episode or step.
#[derive(Debug, Clone)]
pub(crate) struct CallMemory {
    /// Pitch + 1 struck at each step, 0 where none.
    struck: [u8; CALL_MEMORY_STEPS],
    /// The call's notes in order: (pitch, step).
    notes: [(u8, usize); CALL_MEMORY_NOTES],
    count: usize,
    onsets: usize,
}

impl Default for CallMemory {
    fn default() -> Self {
        Self {
            struck: [0; CALL_MEMORY_STEPS],
            notes: [(0, 0); CALL_MEMORY_NOTES],
            count: 0,
            onsets: 0,
        }
    }
}

impl CallMemory {
    pub(crate) fn clear(&mut self) {
        self.struck.fill(0);
        self.count = 0;
        self.onsets = 0;
    }

    /// Where the answer terms start a step: during the call (the setting's first
    /// `call_steps` steps) records the call's event and gives `None`, for a step the terms
    /// score 0; after it, the answer's event.
    #[inline]
    pub(crate) fn hear(&mut self, ctx: &cadenza_env::StepContext<'_>) -> Option<Ev> {
        let event = crate::improv::common::classify(ctx.setting, ctx.action);
        if ctx.step < ctx.setting.call_steps {
            self.push(ctx.step, event);
            None
        } else {
            Some(event)
        }
    }

    /// Takes the call's event at `step`.
    #[inline]
    pub(crate) fn push(&mut self, step: usize, event: Ev) {
        if let Ev::Onset(pitch) = event {
            self.onsets += 1;
            if let Some(slot) = self.struck.get_mut(step) {
                *slot = pitch.saturating_add(1);
            }
            if self.count < CALL_MEMORY_NOTES {
                self.notes[self.count] = (pitch, step);
                self.count += 1;
            }
        }
    }

    /// The pitch the call struck at `step`.
    #[inline]
    pub(crate) fn pitch_at(&self, step: usize) -> Option<u8> {
        self.struck.get(step).and_then(|&p| p.checked_sub(1))
    }

    /// Whether the call struck a note at `step`.
    #[inline]
    pub(crate) fn onset_at(&self, step: usize) -> bool {
        self.struck.get(step).is_some_and(|&p| p != 0)
    }

    /// The call's onsets.
    #[inline]
    pub(crate) fn onsets(&self) -> usize {
        self.onsets
    }

    /// How `cell` (the answer's last notes: pitch and step from the answer's start) relates
    /// to the call of `calls` steps: the best match among the call's runs of as many notes,
    /// `None` if none has its intervals (and, with `same_rhythm`, its inter-onset times).
    /// Cells of unisons match nothing.
    #[inline]
    pub(crate) fn match_cell(
        &self,
        cell: &[(u8, usize)],
        calls: usize,
        same_rhythm: bool,
    ) -> Option<CellMatch> {
        let k = cell.len();
        if k < 2 || cell.windows(2).all(|w| w[0].0 == w[1].0) {
            return None;
        }
        let interval = |w: &[(u8, usize)], i: usize| i16::from(w[i + 1].0) - i16::from(w[i].0);
        let gap = |w: &[(u8, usize)], i: usize| w[i + 1].1.wrapping_sub(w[i].1);
        let (mut varied, mut inverted) = (false, false);
        for window in self.notes[..self.count].windows(k) {
            if same_rhythm && (0..k - 1).any(|i| gap(window, i) != gap(cell, i)) {
                continue;
            }
            if (0..k - 1).all(|i| interval(window, i) == interval(cell, i)) {
                let in_place = window
                    .iter()
                    .zip(cell)
                    .all(|(c, a)| c.0 == a.0 && c.1 == a.1 % calls.max(1));
                // A cell restated in place is a copy, whatever else it matches.
                if in_place {
                    return Some(CellMatch::Literal);
                }
                varied = true;
            } else if (0..k - 1).all(|i| interval(window, i) == -interval(cell, i)) {
                inverted = true;
            }
        }
        if varied {
            Some(CellMatch::Varied)
        } else if inverted {
            Some(CellMatch::Inverted)
        } else {
            None
        }
    }
}

/// How a cell of the answer relates to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellMatch {
    /// At the call's own pitches and place.
    Literal,
    /// Upside down.
    Inverted,
    /// Moved: other pitches, or another place.
    Varied,
}
