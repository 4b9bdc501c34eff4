//! The compact discrete state that tabular agents read ([`Environment::discrete_state`]):
//! what each task keeps of the melody so far, as a `u64` key, and how it is followed one event
//! at a time without slowing the step path.
//!
//! Two kinds ([`CompactState`]):
//!
//! - **Recent events** (`rl-tuner`): the last events themselves, RL Tuner's melodic context
//!   and the step index. Magenta's rules look at raw events and the step, so that is what a
//!   table needs.
//! - **Harmonic** (`improv`): what a player over changes keeps in mind, relative to the
//!   harmony rather than to the step: the chord sounding now (its tones), where the beat is,
//!   the last note and the direction and size of the move into it, how long the current note
//!   or rest has lasted, whether the line has been running in the shortest value, and where
//!   the phrase is (odd or even bar, the last bar). Steps that differ only in which bar of the
//!   progression they fall in, but share a chord and a phrase position, share values: a 12-bar
//!   blues has three chords, not twelve bars, to learn. The reward terms of `improv` judge
//!   exactly these things (chord tones on strong beats, steps after leaps, runs of
//!   sixteenths, breaths at phrase ends, the final cadence), so the values a table learns for
//!   them carry over between the places they recur.
//!
//! - **Duet** (`duet`): the harmonic state, plus what an answer echoes of the call: whether
//!   the call struck a note at the same place in its bars (its echo position), the move into
//!   that note, and whether the call was busy. Values learnt for answering one call carry
//!   over to every call with the same rhythm and shape in another key or register.
//!
//! [`Environment::discrete_state`]: crate::Environment::discrete_state

use crate::encoding::{Event, HOLD, NUM_SPECIAL_EVENTS, REST};
use crate::reward::Setting;

/// What the compact discrete state of a task's env holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactState {
    /// The last `history` events (at most 4; oldest dropped, most recent in the highest byte;
    /// bits 0..32), RL Tuner's melodic context where `melodic_context` is set (bits 32..40),
    /// and from bit 40 the step index (tasks without chords) or the position in the bar and,
    /// from bit 48, the chord segment.
    ///
    /// The melodic context is what RL Tuner-style rewards remember beyond the last events:
    /// the number of distinct pitches among the last seven events (capped at 3: an eighth
    /// event makes a motif with three) and the direction of a pending leap (a leap of a fifth
    /// or more not yet answered by a step back past its origin or a leap the other way).
    /// `rl-tuner` keeps two events and the context: it lets a tabular agent learn the motif
    /// and leap terms, and about doubles the states visited (99k instead of 43k in 5 million
    /// steps).
    RecentEvents {
        /// Events kept (at most 4).
        history: usize,
        /// Whether RL Tuner's melodic context is kept.
        melodic_context: bool,
    },
    /// The harmony-relative state of improvisation (see the module docs), bit by bit:
    ///
    /// | bits | what |
    /// |---|---|
    /// | 0..8 | the last pitch event (0 before the first note; pitch events start at 2) |
    /// | 8..11 | the move into it: 0 none, 1 leap down (5+ semitones), 2 skip down (3-4), 3 step down (1-2), 4 repeat, 5 step up, 6 skip up, 7 leap up |
    /// | 11..13 | 0 silent, 1 a note attacked on the last step, 2 a note held 2-3 steps, 3 held 4 or more |
    /// | 13 | more than half of the last 8 intervals between onsets were a single step |
    /// | 16..24 | the position in the bar, in steps |
    /// | 24..36 | the chord tones sounding now (pitch-class bits; the tonic triad without chords) |
    /// | 36 | an odd bar (the second half of a two-bar phrase) |
    /// | 37 | the melody's last bar |
    Harmonic,
    /// [`CompactState::Harmonic`]'s bits 0..38, and from the partner's call (the setting's
    /// `call_steps` first events), at the echo position of the next step (the step as far
    /// into the call as the next step is into the answer):
    ///
    /// | bits | what |
    /// |---|---|
    /// | 38 | the call struck a note there |
    /// | 39..42 | the move into that note (as bits 8..11) |
    /// | 42 | a busy call (more than one onset a beat) |
    /// | 43..45 | where the call's note there lies from the last pitch played: 0 no note or no pitch yet, 1 more than a whole tone below, 2 within a whole tone, 3 more than a whole tone above |
    Duet,
}

/// What the compact state has taken in of the melody, brought up to date when the state is
/// read (tabular agents) and never on the step path, which most users of the env never pay.
#[derive(Debug, Default)]
pub(crate) struct StateTracker {
    melodic: MelodicContext,
    harmonic: HarmonicContext,
    /// Events of the melody taken in so far.
    seen: usize,
    /// Set by a reset: the context belongs to the previous episode.
    stale: bool,
    /// Per call step: 1 + twice the move into a note struck there, 0 where none (duets).
    call_codes: Vec<u8>,
    /// Per call step: the pitch event struck there (0 where none).
    call_pitches: Vec<Event>,
    /// Onsets of the call.
    call_onsets: usize,
}

impl StateTracker {
    /// Forgets the episode (the next read starts over).
    pub(crate) fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// The compact state of kind `kind` after `melody` in `setting`.
    #[inline]
    pub(crate) fn state(&mut self, kind: CompactState, setting: &Setting, melody: &[Event]) -> u64 {
        let step = melody.len();
        match kind {
            CompactState::RecentEvents {
                history,
                melodic_context,
            } => {
                let mut key = 0u64;
                for &event in melody.iter().rev().take(history.min(4)) {
                    key = (key << 8) | (event as u64 + 1);
                }
                let context = if melodic_context {
                    self.catch_up(setting, melody);
                    self.melodic.code()
                } else {
                    0
                };
                let position = if setting.chords.is_empty() {
                    step as u64
                } else {
                    let chord = setting.chord_at(step).map_or(0, |c| c.index as u64);
                    ((step % setting.steps_per_bar()) as u64) | (chord << 8)
                };
                key | (context << 32) | (position << 40)
            }
            CompactState::Harmonic => {
                self.catch_up(setting, melody);
                self.harmonic.code(setting, step)
            }
            CompactState::Duet => {
                self.catch_up(setting, melody);
                let calls = setting.call_steps.min(self.call_codes.len());
                let (echo, pitch) = match step.checked_sub(calls) {
                    Some(into) if calls > 0 && step >= calls => (
                        u64::from(self.call_codes[into % calls]),
                        self.call_pitches[into % calls],
                    ),
                    _ => (0, 0),
                };
                let last = self.harmonic.last_pitch;
                let toward = match (
                    setting.encoding.pitch_of(pitch),
                    setting.encoding.pitch_of(last),
                ) {
                    (Some(call), Some(played)) => match i16::from(call) - i16::from(played) {
                        d if d < -2 => 1u64,
                        d if d > 2 => 3,
                        _ => 2,
                    },
                    _ => 0,
                };
                let per_beat = usize::from(setting.steps_per_beat.max(1));
                let busy = u64::from(calls > 0 && self.call_onsets * per_beat > calls);
                self.harmonic.code(setting, step) | (echo << 38) | (busy << 42) | (toward << 43)
            }
        }
    }

    /// Takes in the events of `melody` not seen yet (one per step for an agent that reads
    /// the state every step).
    #[inline]
    fn catch_up(&mut self, setting: &Setting, melody: &[Event]) {
        if self.stale || self.seen > melody.len() {
            self.melodic = MelodicContext::default();
            self.harmonic = HarmonicContext::default();
            self.seen = 0;
            self.stale = false;
            self.call_onsets = 0;
        }
        if self.call_codes.len() != setting.call_steps {
            // Once per tracker: a task's call length never changes.
            self.call_codes.resize(setting.call_steps, 0);
            self.call_pitches.resize(setting.call_steps, 0);
        }
        while self.seen < melody.len() {
            self.melodic.push(&melody[..self.seen], melody[self.seen]);
            self.harmonic.push(setting, self.seen, melody[self.seen]);
            if let Some(code) = self.call_codes.get_mut(self.seen) {
                let struck = setting.encoding.pitch_of(melody[self.seen]).is_some();
                self.call_pitches[self.seen] = if struck { melody[self.seen] } else { 0 };
                *code = if struck {
                    self.call_onsets += 1;
                    1 | ((self.harmonic.move_class & 7) << 1)
                } else {
                    0
                };
            }
            self.seen += 1;
        }
    }
}

/// Intervals between onsets over which runs of single steps are counted.
const FAST_WINDOW: usize = 8;

/// What [`CompactState::Harmonic`] keeps of the melody, updated one event at a time.
#[derive(Debug, Clone, Default)]
struct HarmonicContext {
    /// The last pitch event (0 before the first).
    last_pitch: Event,
    /// The move into it (see [`CompactState::Harmonic`]).
    move_class: u8,
    /// Whether a note sounds after the last event.
    sounding: bool,
    /// Steps the current note (or silence) has lasted.
    duration: u32,
    /// Step of the last onset.
    last_onset: Option<usize>,
    /// Whether each of the last [`FAST_WINDOW`] intervals between onsets was one step,
    /// newest in bit 0.
    fast_bits: u8,
}

impl HarmonicContext {
    /// Takes `event`, played at `step`.
    #[inline]
    fn push(&mut self, setting: &Setting, step: usize, event: Event) {
        match event {
            REST => {
                if self.sounding {
                    self.sounding = false;
                    self.duration = 0;
                }
                self.duration = self.duration.saturating_add(1);
            }
            HOLD => self.duration = self.duration.saturating_add(1),
            _ => match setting.encoding.pitch_of(event) {
                Some(pitch) => {
                    let previous = setting.encoding.pitch_of(self.last_pitch);
                    self.move_class = match previous {
                        None => 0,
                        Some(previous) => {
                            let interval = i16::from(pitch) - i16::from(previous);
                            let size = match interval.unsigned_abs() {
                                0 => 0,
                                1..=2 => 1,
                                3..=4 => 2,
                                _ => 3,
                            };
                            (4 + interval.signum() * size) as u8
                        }
                    };
                    self.last_pitch = event;
                    self.sounding = true;
                    self.duration = 1;
                    if let Some(last) = self.last_onset {
                        let fast = step.saturating_sub(last) <= 1;
                        self.fast_bits = (self.fast_bits << 1) | u8::from(fast);
                    }
                    self.last_onset = Some(step);
                }
                // Events outside the encoding read as holds, as the reward terms read them.
                None => self.duration = self.duration.saturating_add(1),
            },
        }
    }

    /// The state's key before the event of `step`.
    #[inline]
    fn code(&self, setting: &Setting, step: usize) -> u64 {
        let sound = match (self.sounding, self.duration) {
            (false, _) => 0u64,
            (true, 0..=1) => 1,
            (true, 2..=3) => 2,
            (true, _) => 3,
        };
        let fast = u64::from(self.fast_bits.count_ones() as usize * 2 > FAST_WINDOW);
        let bar = setting.steps_per_bar().max(1);
        let position = (step % bar) as u64 & 0xff;
        let tones = u64::from(setting.chord_tones_at(step)) & 0xfff;
        let bar_index = step / bar;
        let odd_bar = (bar_index % 2) as u64;
        let last_bar = u64::from(bar_index + 1 >= setting.length.div_ceil(bar));
        u64::from(self.last_pitch)
            | (u64::from(self.move_class & 7) << 8)
            | (sound << 11)
            | (fast << 13)
            | (position << 16)
            | (tones << 24)
            | (odd_bar << 36)
            | (last_bar << 37)
    }
}

/// The events a motif spans in RL Tuner's reward (half a 4/4 bar of sixteenths).
const MOTIF_WINDOW: usize = 8;

/// The smallest interval, in semitones, that counts as a leap (a fifth).
const LEAP: u8 = 7;

/// What the compact state keeps of the melody beyond its last events (see
/// [`CompactState::RecentEvents`]), updated one event at a time.
///
/// The pending leap is followed as RL Tuner's leap detector follows it (pitch events are
/// ordered by pitch in every encoding, so intervals are event differences): a leap of a
/// fifth or more sets the direction, unless one is pending, in which case a leap the other
/// way clears it; a smaller step back to or past the leap's origin also clears it.
#[derive(Debug, Clone)]
struct MelodicContext {
    /// How often each event occurs among the last `MOTIF_WINDOW - 1` events.
    window_counts: [u8; 256],
    /// How many distinct pitch events (rests and holds excluded) those hold.
    window_pitches: u32,
    /// +1 up, -1 down, 0 none.
    direction: i8,
    leapt_from: Event,
    /// The last pitch event (0 before the first).
    last_pitch: Event,
}

impl Default for MelodicContext {
    fn default() -> Self {
        Self {
            window_counts: [0; 256],
            window_pitches: 0,
            direction: 0,
            leapt_from: 0,
            last_pitch: 0,
        }
    }
}

impl MelodicContext {
    /// Takes `event`, the next event after `melody`.
    #[inline]
    fn push(&mut self, melody: &[Event], event: Event) {
        let is_pitch = |e: Event| e >= NUM_SPECIAL_EVENTS;
        let added = usize::from(event);
        self.window_pitches += u32::from(is_pitch(event) && self.window_counts[added] == 0);
        self.window_counts[added] += 1;
        if melody.len() >= MOTIF_WINDOW - 1 {
            let dropped = melody[melody.len() + 1 - MOTIF_WINDOW];
            self.window_counts[usize::from(dropped)] -= 1;
            self.window_pitches -=
                u32::from(is_pitch(dropped) && self.window_counts[usize::from(dropped)] == 0);
        }
        if !is_pitch(event) {
            return;
        }
        let prev = self.last_pitch;
        self.last_pitch = event;
        if prev == 0 {
            return;
        }
        if event.abs_diff(prev) >= LEAP {
            let direction = if event > prev { 1 } else { -1 };
            if self.direction == 0 {
                self.direction = direction;
                self.leapt_from = prev;
            } else if self.direction != direction {
                self.direction = 0;
            }
        } else if (self.direction == 1 && event <= self.leapt_from)
            || (self.direction == -1 && event >= self.leapt_from)
        {
            self.direction = 0;
        }
    }

    /// Bits 0..2: the distinct pitches of the window, capped at 3; bits 2..4: the pending
    /// leap's direction (0 down, 1 none, 2 up).
    #[inline]
    fn code(&self) -> u64 {
        u64::from(self.window_pitches.min(3)) | (((self.direction + 1) as u64) << 2)
    }
}
