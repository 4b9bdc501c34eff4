//! `call_rhythm`: the answer echoes the call's rhythm, or calms a busy call down.

use super::call::CallMemory;
use crate::improv::common::{write_one, Ev, Meter};
use crate::improv::error::{check_real, ImprovError, MAX_MAGNITUDE};
use crate::improv::{ImprovTerm, TermParams};
use cadenza_env::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Parameters of [`CallRhythm`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallRhythmParams {
    /// Reward per answer bar, times the overlap (Jaccard index) of its onsets with those of
    /// the call's bar at the same place (0..=100).
    pub echo_reward: f64,
    /// Reward per answer bar that plays at least two notes but at most three quarters as
    /// many as the busy call's bar at the same place (0..=100).
    pub contrast_reward: f64,
    /// Onsets per step above which a call is busy (0..=1): its answer is paid for contrast,
    /// not for echo.
    pub busy_fraction: f64,
}

impl Default for CallRhythmParams {
    fn default() -> Self {
        Self {
            echo_reward: 1.0,
            contrast_reward: 1.0,
            busy_fraction: 0.6,
        }
    }
}

impl TermParams for CallRhythmParams {
    fn validate(&self) -> Result<(), ImprovError> {
        check_real("echo_reward", self.echo_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("contrast_reward", self.contrast_reward, 0.0, MAX_MAGNITUDE)?;
        check_real("busy_fraction", self.busy_fraction, 0.0, 1.0)
    }
}

/// Term `call_rhythm`: at the end of each answer bar, rewards the overlap of its onsets
/// with the call's bar at the same place (a rhythmic echo); after a busy call, rewards a
/// calmer bar instead (contrast).
///
/// **Why:** the quickest way to be heard answering is rhythm: a player echoes the
/// question's rhythm with new notes. A phrase full of notes is answered with space, not with
/// a second wall of notes.
///
/// **Example:** a call of quarter notes on every beat; an answer bar of quarters on beats
/// 1, 2 and 3 and a rest on 4 overlaps by 3 of 4 onsets: `+0.75`. After a call of
/// sixteenths, an answer bar of four quarters scores `+1` and one of sixteenths `0`; a bar
/// with fewer than two notes scores `0` either way.
///
/// The call is the setting's first `call_steps` events; without a call the term is always 0.
/// A step costs a few integer operations.
#[derive(Debug, Clone, Default)]
pub struct CallRhythm {
    params: CallRhythmParams,
    call: CallMemory,
    /// Onsets of the answer's current bar, of the call's aligned bar, and of both.
    answer: u32,
    called: u32,
    both: u32,
}

impl ImprovTerm for CallRhythm {
    const NAME: &'static str = "call_rhythm";
    type Params = CallRhythmParams;

    fn from_valid(params: CallRhythmParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    fn params(&self) -> &CallRhythmParams {
        &self.params
    }
}

impl Reward for CallRhythm {
    fn term_names(&self) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    fn reset(&mut self, _setting: &Setting) {
        self.call.clear();
        self.answer = 0;
        self.called = 0;
        self.both = 0;
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
        if calls == 0 {
            return write_one(terms, 0.0);
        }
        let struck = matches!(event, Ev::Onset(_));
        let echoed = self.call.onset_at((ctx.step - calls) % calls);
        self.answer += u32::from(struck);
        self.called += u32::from(echoed);
        self.both += u32::from(struck && echoed);
        let bar = Meter::of(ctx.setting).bar;
        let bar_ends = (ctx.step + 1).is_multiple_of(bar) || ctx.step + 1 == ctx.setting.length;
        if !bar_ends {
            return write_one(terms, 0.0);
        }
        let busy = self.call.onsets() as f64 > self.params.busy_fraction * calls as f64;
        let value = if busy {
            if self.answer >= 2 && self.answer * 4 <= self.called * 3 {
                self.params.contrast_reward
            } else {
                0.0
            }
        } else {
            let union = self.answer + self.called - self.both;
            if union == 0 {
                0.0
            } else {
                self.params.echo_reward * f64::from(self.both) / f64::from(union)
            }
        };
        self.answer = 0;
        self.called = 0;
        self.both = 0;
        write_one(terms, value)
    }
}
