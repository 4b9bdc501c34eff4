//! `pitch_variety`: a line that keeps moving to new notes rather than circling a few.

use super::common::{onset_in_episode, write_one};
use super::error::{check_int, check_real, ImprovError, MAX_MAGNITUDE};
use super::term::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Most notes [`PitchVariety`] remembers (the largest `window_notes`, and twice the largest
/// `max_period` plus one).
pub const PITCH_VARIETY_MEMORY: usize = 16;

/// Parameters of [`PitchVariety`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PitchVarietyParams {
    /// Notes over which distinct pitches are counted (4..=16).
    pub window_notes: u8,
    /// Distinct pitches wanted among the last `window_notes` notes (2..=window_notes).
    pub min_distinct: u8,
    /// Penalty (subtracted) per pitch missing from `min_distinct`, on every note once the
    /// window is full (0..=100).
    pub narrow_penalty: f64,
    /// Longest figure, in notes, whose back-to-back repetition counts as a loop (1..=7).
    pub max_period: u8,
    /// Penalty (subtracted) for a note that starts the third statement in a row of a figure
    /// of at most `max_period` notes (a trill, an ostinato, a one-note drone) (0..=100).
    pub loop_penalty: f64,
}

impl Default for PitchVarietyParams {
    fn default() -> Self {
        Self {
            window_notes: 8,
            min_distinct: 4,
            narrow_penalty: 0.5,
            max_period: 4,
            loop_penalty: 1.0,
        }
    }
}

impl TermParams for PitchVarietyParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_int(
            "window_notes",
            self.window_notes.into(),
            4,
            PITCH_VARIETY_MEMORY as u64,
        )?;
        check_int(
            "min_distinct",
            self.min_distinct.into(),
            2,
            self.window_notes.into(),
        )?;
        check_real("narrow_penalty", self.narrow_penalty, 0.0, MAX_MAGNITUDE)?;
        check_int(
            "max_period",
            self.max_period.into(),
            1,
            (PITCH_VARIETY_MEMORY as u64 - 1) / 2,
        )?;
        check_real("loop_penalty", self.loop_penalty, 0.0, MAX_MAGNITUDE)
    }
}

/// Term `pitch_variety`: penalises a line that circles a few notes: a trill, a one-note
/// drone, a short figure looped (ostinato), or any stretch that keeps to fewer than
/// `min_distinct` pitches.
///
/// **Why:** the other terms pay a note for fitting the chord and the line; a trill between
/// two chord-scale neighbours earns those payments on every sixteenth, and an optimizer finds
/// it. A melody moves through its range: a figure may be stated twice, but a third statement
/// back to back is a loop, and eight notes that use three pitches are a trill or a drone, not
/// a line. Real tunes rarely trigger either (measured in `tests/anti_gaming.rs` on the
/// project's folk corpus).
///
/// **Example:** the trill C5 B4 C5 D5 C5 B4 … loses `loop_penalty` from its ninth note on
/// (the third statement of the four-note figure) and, with three pitches in eight notes,
/// `narrow_penalty` on every note once eight have sounded.
///
/// Keeps the last [`PITCH_VARIETY_MEMORY`] pitches in a ring: a step costs a few dozen
/// integer operations, whatever the melody's length.
#[derive(Debug, Clone)]
pub struct PitchVariety {
    params: PitchVarietyParams,
    /// The last pitches, newest at `(head + len - 1) % PITCH_VARIETY_MEMORY`.
    pitches: [u8; PITCH_VARIETY_MEMORY],
    head: usize,
    len: usize,
}

impl Default for PitchVariety {
    fn default() -> Self {
        Self::from_valid(PitchVarietyParams::default())
    }
}

impl ImprovTerm for PitchVariety {
    const NAME: &'static str = "pitch_variety";
    type Params = PitchVarietyParams;

    fn from_valid(params: PitchVarietyParams) -> Self {
        Self {
            params,
            pitches: [0; PITCH_VARIETY_MEMORY],
            head: 0,
            len: 0,
        }
    }

    fn params(&self) -> &PitchVarietyParams {
        &self.params
    }
}

impl PitchVariety {
    /// The pitch `back` notes before the newest (0 = the newest); `back < len`.
    #[inline]
    fn back(&self, back: usize) -> u8 {
        self.pitches[(self.head + self.len - 1 - back) % PITCH_VARIETY_MEMORY]
    }

    #[inline]
    fn push(&mut self, pitch: u8) {
        if self.len < PITCH_VARIETY_MEMORY {
            self.pitches[(self.head + self.len) % PITCH_VARIETY_MEMORY] = pitch;
            self.len += 1;
        } else {
            self.pitches[self.head] = pitch;
            self.head = (self.head + 1) % PITCH_VARIETY_MEMORY;
        }
    }

    /// Whether the newest note starts the third back-to-back statement of a figure of
    /// `period` notes: the last `2 * period + 1` notes (two statements and the first note of
    /// a third) repeat with that period, i.e. each of the `period + 1` newest notes equals
    /// the note `period` before it.
    #[inline]
    fn loops_with_period(&self, period: usize) -> bool {
        if self.len < 2 * period + 1 {
            return false;
        }
        (0..=period).all(|back| self.back(back) == self.back(back + period))
    }

    /// Distinct pitches among the last `window_notes` notes (a bit set over the 128 MIDI
    /// pitches).
    #[inline]
    fn distinct_in_window(&self) -> u32 {
        let window = usize::from(self.params.window_notes);
        let mut seen = [0u64; 2];
        for back in 0..window {
            let pitch = self.back(back) & 127;
            seen[usize::from(pitch >> 6)] |= 1 << (pitch & 63);
        }
        seen[0].count_ones() + seen[1].count_ones()
    }
}

impl Reward for PitchVariety {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.head = 0;
        self.len = 0;
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        let Some(pitch) = onset_in_episode(self, ctx) else {
            return write_one(terms, 0.0);
        };
        self.push(pitch);
        let p = self.params;
        let mut value = 0.0;
        if (1..=usize::from(p.max_period)).any(|period| self.loops_with_period(period)) {
            value -= p.loop_penalty;
        }
        if self.len >= usize::from(p.window_notes) {
            let missing = u32::from(p.min_distinct).saturating_sub(self.distinct_in_window());
            value -= p.narrow_penalty * f64::from(missing);
        }
        write_one(terms, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::EventEncoding;

    fn run(term: &mut PitchVariety, pitches: &[u8]) -> Vec<f64> {
        let setting = Setting::rl_tuner();
        let events: Vec<u8> = pitches
            .iter()
            .map(|&p| EventEncoding::RL_TUNER_38.event_of_pitch(p).unwrap())
            .collect();
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
    fn a_trill_loses_from_its_third_statement() {
        let trill: Vec<u8> = [72, 71, 72, 74].iter().cycle().take(16).copied().collect();
        let values = run(&mut PitchVariety::default(), &trill);
        // Period 2 does not loop (C B C D), period 4 does from note 9 on.
        assert!(values[..8].iter().all(|&v| v > -1.0), "{values:?}");
        assert!(values[8..].iter().all(|&v| v <= -1.0 - 0.5), "{values:?}");
    }

    #[test]
    fn a_drone_and_an_alternation_loop() {
        let drone = [72u8; 6];
        let values = run(&mut PitchVariety::default(), &drone);
        assert_eq!(&values[..2], &[0.0, 0.0]);
        assert!(values[2..].iter().all(|&v| v == -1.0), "{values:?}");
        let alternation = [72u8, 74, 72, 74, 72, 74];
        let values = run(&mut PitchVariety::default(), &alternation);
        assert_eq!(&values[..4], &[0.0; 4]);
        assert!(values[4..].iter().all(|&v| v == -1.0), "{values:?}");
    }

    #[test]
    fn a_moving_line_costs_nothing() {
        let line = [
            67u8, 69, 71, 72, 74, 72, 71, 69, 67, 71, 74, 79, 77, 76, 74, 72,
        ];
        assert!(run(&mut PitchVariety::default(), &line)
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn bad_parameters_are_named() {
        let params = PitchVarietyParams {
            min_distinct: 9,
            ..PitchVarietyParams::default()
        };
        let err = PitchVariety::new(params).unwrap_err().to_string();
        assert!(
            err.contains("min_distinct") && err.contains("2..=8"),
            "{err}"
        );
    }
}
