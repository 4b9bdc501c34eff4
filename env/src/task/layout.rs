//! [`ObservationLayout`]: which parts a task's observation vector holds.

/// Which parts the observation vector holds (see [`crate::compose`] for their order and
/// encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservationLayout {
    /// Number of recent events, each a one-hot block.
    pub history: usize,
    /// A one-hot of the step index.
    pub step_index: bool,
    /// A one-hot of the position in the bar.
    pub bar_position: bool,
    /// Current and next chord (root one-hot and chord tones, 24 floats each).
    pub chords: bool,
    /// The fraction of the melody written so far.
    pub progress: bool,
    /// The partner's call (duets): see [`crate::compose`] for its blocks.
    pub call: bool,
}

impl ObservationLayout {
    /// Length of the observation vector for a task with these sizes.
    pub fn dim(&self, num_events: usize, length: usize, steps_per_bar: usize) -> usize {
        self.history * num_events
            + if self.step_index { length } else { 0 }
            + if self.bar_position { steps_per_bar } else { 0 }
            + if self.chords { 48 } else { 0 }
            + usize::from(self.progress)
            + if self.call {
                call_dim(self.history, steps_per_bar)
            } else {
                0
            }
    }
}

/// Floats of one call event in the observation: rest, hold, and the pitch class relative to
/// the root of the chord under it.
pub const CALL_EVENT_DIM: usize = 14;

/// Floats of the call's summary: onset density, net direction, range, share of rising moves.
pub const CALL_SUMMARY_DIM: usize = 4;

/// Length of the call part of the observation: the aligned call event and the call's last
/// `history` events ([`CALL_EVENT_DIM`] each), its rhythm by bar position (`steps_per_bar`),
/// and its summary ([`CALL_SUMMARY_DIM`]).
pub fn call_dim(history: usize, steps_per_bar: usize) -> usize {
    (history + 1) * CALL_EVENT_DIM + steps_per_bar + CALL_SUMMARY_DIM
}
