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
}

impl ObservationLayout {
    /// Length of the observation vector for a task with these sizes.
    pub fn dim(&self, num_events: usize, length: usize, steps_per_bar: usize) -> usize {
        self.history * num_events
            + if self.step_index { length } else { 0 }
            + if self.bar_position { steps_per_bar } else { 0 }
            + if self.chords { 48 } else { 0 }
            + usize::from(self.progress)
    }
}
