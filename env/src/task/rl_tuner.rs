//! The `rl-tuner` task: Magenta RL Tuner's setting, exactly.
//!
//! 38 events (rest, hold, MIDI 48..=83), 32 sixteenth-note steps in 4/4, C major, terminated
//! after step 32, every action legal at every step (the reward, not the mask, teaches what
//! is musical), and the 184-float observation described in [`crate::compose`].

use super::layout::ObservationLayout;
use super::spec::TaskSpec;
use crate::compact_state::CompactState;
use crate::reward::Setting;

impl TaskSpec {
    /// Magenta RL Tuner's task (see the module docs).
    pub fn rl_tuner() -> Self {
        Self {
            name: "rl-tuner".to_string(),
            setting: Setting::rl_tuner(),
            layout: ObservationLayout {
                history: 4,
                step_index: true,
                bar_position: false,
                chords: false,
                progress: false,
                call: false,
            },
            state: CompactState::RecentEvents {
                history: 2,
                melodic_context: true,
            },
            tempo_qpm: 120.0,
            meter: (4, 4),
            key_signature: (0, false),
            key_name: "C major".to_string(),
            backing: Vec::new(),
            mask_out_of_scale: false,
            improv: None,
            duet: None,
        }
    }
}
