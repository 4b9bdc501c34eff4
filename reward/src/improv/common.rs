//! Small helpers shared by the improvisation terms: how an event reads, where a step falls in
//! the meter, and which pitch classes count as chord tones or chord-scale tones.
//!
//! Everything here is a handful of integer operations so that terms can call it on every
//! step without caching anything that could go stale when the setting changes.

use cadenza_env::{Event, Reward, Setting, StepContext, HOLD, REST};

/// What one event means for a monophonic line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ev {
    /// A new note of this MIDI pitch starts.
    Onset(u8),
    /// Nothing new happens. Events outside the encoding land here too: they carry no pitch,
    /// and treating them as "no change" keeps the terms' running state consistent.
    Hold,
    /// The sounding note (if any) stops.
    Rest,
}

/// Reads an event under the setting's encoding; never panics.
#[inline]
pub(crate) fn classify(setting: &Setting, event: Event) -> Ev {
    match event {
        REST => Ev::Rest,
        HOLD => Ev::Hold,
        _ => match setting.encoding.pitch_of(event) {
            Some(pitch) => Ev::Onset(pitch),
            None => Ev::Hold,
        },
    }
}

/// The meter in steps, guarded against zero-sized beats or bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meter {
    /// Steps per beat (at least 1).
    pub beat: usize,
    /// Steps per bar (at least one beat).
    pub bar: usize,
    /// Beats per bar (at least 1).
    pub beats: usize,
}

impl Meter {
    #[inline]
    pub(crate) fn of(setting: &Setting) -> Self {
        let beat = (setting.steps_per_beat as usize).max(1);
        let beats = (setting.beats_per_bar as usize).max(1);
        Self {
            beat,
            bar: beat * beats,
            beats,
        }
    }

    /// Whether `step` falls on a beat.
    #[inline]
    pub(crate) fn is_beat(self, step: usize) -> bool {
        step.is_multiple_of(self.beat)
    }

    /// Whether `step` is the downbeat of a bar.
    #[inline]
    pub(crate) fn is_downbeat(self, step: usize) -> bool {
        step.is_multiple_of(self.bar)
    }

    /// Whether `step` is the mid-bar beat (beat 3 of 4/4). Only even meters of four beats or
    /// more have one: in 2/4 and 3/4 the second beat is weak.
    #[inline]
    pub(crate) fn is_mid_bar(self, step: usize) -> bool {
        self.beats >= 4 && self.beats.is_multiple_of(2) && step % self.bar == self.bar / 2
    }
}

/// Bit of a pitch's pitch class in a 12-bit mask.
#[inline]
pub(crate) fn pc_bit(pitch: u8) -> u16 {
    1 << (pitch % 12)
}

/// Chord-scale under `step`: the chord's scale (always including its tones), or the key scale
/// without a progression or when a frame leaves its scale empty.
#[inline]
pub(crate) fn chord_scale_at(setting: &Setting, step: usize) -> u16 {
    match setting.chord_at(step) {
        Some(chord) if chord.scale != 0 => chord.scale | chord.tones,
        _ => setting.scale,
    }
}

/// Writes the single value of a one-term reward, tolerating a caller that passes no slot.
#[inline]
pub(crate) fn write_one(terms: &mut [f64], value: f64) -> f64 {
    if let Some(slot) = terms.first_mut() {
        *slot = value;
    }
    value
}

/// Clears a term's running state on the first step of an episode, so that a term stepped
/// into a new episode without `reset` still starts clean.
#[inline]
pub(crate) fn restart_on_first_step<R: Reward + ?Sized>(term: &mut R, ctx: &StepContext<'_>) {
    if ctx.step == 0 {
        term.reset(ctx.setting);
    }
}

/// The pitch attacked at this step (`None` on holds and rests), after
/// [`restart_on_first_step`]: the start of every term that only acts on attacks.
#[inline]
pub(crate) fn onset_in_episode<R: Reward + ?Sized>(
    term: &mut R,
    ctx: &StepContext<'_>,
) -> Option<u8> {
    restart_on_first_step(term, ctx);
    match classify(ctx.setting, ctx.action) {
        Ev::Onset(pitch) => Some(pitch),
        Ev::Hold | Ev::Rest => None,
    }
}
