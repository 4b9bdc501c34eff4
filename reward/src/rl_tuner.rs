//! Magenta RL Tuner's music-theory reward (`reward_music_theory`), reproduced exactly.
//!
//! This is the reward of Jaques et al., "Tuning Recurrent Neural Networks with Reinforcement
//! Learning" (2016), as implemented in Magenta's `rl_tuner.py`. It scores each step of a
//! melody in the 38-event RL Tuner encoding (0 = note-off, 1 = no-event/hold, 2..=37 = MIDI
//! 48..=83) with nine terms, summed left to right in Magenta's order:
//!
//! | term | Magenta function | rule (defaults) |
//! |---|---|---|
//! | `key` | `reward_key` | −1 for a pitch outside C major |
//! | `tonic` | `reward_tonic` | +3 for C4 at beats 0 and 28, for a hold at 29, for a hold or note-off at 30-31 |
//! | `penalize_repeating` | `reward_penalize_repeating` | −100 for an excessively repeated event |
//! | `penalize_autocorrelation` | `reward_penalize_autocorrelation` | −3·\|c\| for each lag 1..3 with \|c\| > 0.15 |
//! | `motif` | `reward_motif` | +3 (+0.3 per extra distinct pitch) when the last 8 events hold ≥ 3 distinct pitches |
//! | `repeated_motif` | `reward_repeated_motif` | +4 (+1 per extra pitch) when that 8-event motif occurred earlier |
//! | `preferred_intervals` | `reward_preferred_intervals` | 5 × a table over the melodic interval |
//! | `leap_up_back` | `reward_leap_up_back` | +5 for a resolved leap, −5 for a second leap the same way |
//! | `high_low_unique` | `reward_high_low_unique` | +3 each for a unique highest / lowest note at the last beat |
//!
//! ## State and resets
//!
//! Every term is a function of the composition so far, the beat, the action and (for
//! `leap_up_back`) a small leap state machine. Like Magenta's `RLTuner.train()`, the reward keeps
//! that state itself and starts a fresh composition every
//! [`melody_length`](RlTunerConfig::melody_length) steps (32): a 64- or 100-step melody is
//! scored as consecutive 32-step compositions. It also starts afresh on [`Reward::reset`] and
//! whenever it is handed step 0. The leap detector runs exactly once per step, so a breakdown
//! into terms never corrupts the leap state (calling it twice would, in Magenta).
//!
//! ## Quirks kept from Magenta
//!
//! * Note-off and hold (0 and 1) are "in key", and take part in the autocorrelation as the raw
//!   integers 0 and 1.
//! * Only C4 (event 14) is the tonic; other octaves of C are not.
//! * Repetition counts holds as repeats of a hold: a note held for six or more steps is
//!   penalised from the sixth hold on; a third note-off in a run of silence is penalised.
//! * The autocorrelation divides by the full length at every lag; a constant prefix (and the
//!   first step) gives 0/0, which is skipped. The coefficient is computed exactly from
//!   integer sums; when it lands exactly on the threshold (e.g. |c| = 3/20), numpy's rounding
//!   decides whether Magenta penalises it, so that rare case is recomputed with numpy's
//!   arithmetic (mean, deviations, pairwise sums) to land on the same side.
//! * A "bar" for motifs is 8 steps (half a 4/4 bar of sixteenths); a repeated motif must lie
//!   entirely before the current window.
//! * Rest and hold intervals named "after third or fifth" test for a tonic or fifth (C or G).
//! * A leap that is followed by a leap back within 6 steps is cleared without a bonus.
//!
//! ## Speed
//!
//! The reward is on the environment's hot path, so every term is incremental: running
//! integer sums for the autocorrelation (exact, shared by the three lags, then one division
//! per lag), running counts of the last 7 events for the motif's distinct pitches, 8-byte
//! windows packed into `u64`s for the repeated-motif search behind a small Bloom filter, bit
//! masks for the extrema and running counters for repetition. Values that depend only on the
//! config are tabulated once, so that the melody-dependent choices are loads rather than
//! branches that mispredict. Nothing allocates per step.
//!
//! ## Out-of-range events
//!
//! Magenta only ever sees events 0..=37. An event above 37 (which the environment rejects
//! before calling rewards) is scored, and recorded in the composition, as a hold (1), so a
//! bad action can never panic or index out of bounds.
//!
//! ```
//! use cadenza_reward::rl_tuner::{RlTunerReward, NUM_TERMS};
//!
//! let mut reward = RlTunerReward::default();
//! let mut terms = [0.0; NUM_TERMS];
//! // C4 at beat 0: the tonic bonus only.
//! assert_eq!(reward.score_event(14, &mut terms), 3.0);
//! // C4 -> D4 at beat 1: autocorrelation -1.5, a major second +0.4.
//! let total = reward.score_event(16, &mut terms);
//! assert!((total - -1.1).abs() < 1e-12);
//! assert!((terms[3] - -1.5).abs() < 1e-12 && (terms[6] - 0.4).abs() < 1e-12);
//! ```

use cadenza_env::encoding::{Event, HOLD, REST};
use cadenza_env::reward::{Reward, Setting, StepContext};
use serde::{Deserialize, Serialize};

/// Number of terms of [`RlTunerReward`].
pub const NUM_TERMS: usize = 9;

/// Names of the terms, in Magenta's summing order (`reward_music_theory`).
pub const TERM_NAMES: [&str; NUM_TERMS] = [
    "key",
    "tonic",
    "penalize_repeating",
    "penalize_autocorrelation",
    "motif",
    "repeated_motif",
    "preferred_intervals",
    "leap_up_back",
    "high_low_unique",
];

/// Largest valid event of the RL Tuner encoding (B5).
pub const MAX_EVENT: Event = 37;

/// Length of a "bar" for motifs: Magenta's `bar_length = 8` (eight sixteenths).
pub const BAR_LENGTH: usize = 8;

/// Largest accepted [`RlTunerConfig::melody_length`]; keeps the running integer sums exact.
pub const MAX_MELODY_LENGTH: usize = 1 << 16;

/// `rl_tuner_ops.C_MAJOR_KEY` as a bit mask (bit `e` set for event `e`). Includes the special
/// events 0 and 1, which Magenta therefore counts as in key.
const C_MAJOR_KEY: u64 = {
    let events = [
        0u8, 1, 2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30, 31, 33, 35, 37,
    ];
    let mut mask = 0u64;
    let mut i = 0;
    while i < events.len() {
        mask |= 1 << events[i];
        i += 1;
    }
    mask
};
/// The C notes of `detect_sequential_interval` (`c_notes`, also `tonic_notes`): C3, C4, C5.
const C_NOTES: u64 = (1 << 2) | (1 << 14) | (1 << 26);
/// Its `g_notes` (also `fifth_notes`): G3, G4, G5.
const G_NOTES: u64 = (1 << 9) | (1 << 21) | (1 << 33);
/// Its `e_notes`: E3, E4, E5.
const E_NOTES: u64 = (1 << 6) | (1 << 18) | (1 << 30);
/// The special events (note-off and hold) as a mask.
const SPECIAL: u64 = 0b11;

#[inline]
fn bit(event: Event) -> u64 {
    // Events are sanitised to 0..=37 before they get here; the mask keeps this total anyway.
    1u64 << (event & 63)
}

/// `value` if `hit`, else 0.0 (positive zero, as Magenta's `0.0`). Used for terms that
/// rarely fire, where the compiler may well emit a branch that predicts well; the frequent,
/// unpredictable choices use the tables of [`Tables`] instead.
#[inline(always)]
fn select(hit: bool, value: f64) -> f64 {
    f64::from_bits(value.to_bits() & u64::from(hit).wrapping_neg())
}

/// Maps an event outside the encoding to a hold (see the module docs).
#[inline]
pub(crate) fn sanitize(event: Event) -> Event {
    if event > MAX_EVENT {
        HOLD
    } else {
        event
    }
}

/// Whether `event` is in `rl_tuner_ops.C_MAJOR_KEY` (0 and 1 included).
#[inline]
pub(crate) fn in_c_major_key(event: Event) -> bool {
    event <= MAX_EVENT && C_MAJOR_KEY & bit(event) != 0
}

/// Errors of the RL Tuner reward.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RlTunerError {
    /// A configuration field has an unusable value.
    #[error("invalid RL Tuner config field `{field}`: {reason}")]
    InvalidConfig {
        /// Name of the offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// The constants of Magenta's reward functions; [`Default`] gives Magenta's defaults.
///
/// The key (C major), the 8-step motif bar and the interval table are fixed, as they are in
/// Magenta's `reward_music_theory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlTunerConfig {
    /// Steps per composition (`num_notes_in_melody`, 32). The reward starts a new
    /// composition after this many steps; the tonic rule's final bar starts 4 steps before
    /// the end and the unique-extrema rule fires at its last step. 1..=65536.
    pub melody_length: usize,
    /// Event rewarded as the tonic by `reward_tonic` (`C_MAJOR_TONIC`, 14 = C4). 0..=37.
    pub tonic: Event,
    /// `reward_key`'s `penalty_amount` for an event outside C major (−1.0).
    pub key_penalty: f64,
    /// `reward_tonic`'s `reward_amount` (3.0).
    pub tonic_reward: f64,
    /// `reward_penalize_repeating`'s `penalty_amount` (−100.0).
    pub repeating_penalty: f64,
    /// `reward_penalize_autocorrelation`'s `penalty_weight`, multiplied by each |coefficient|
    /// over the threshold (3.0).
    pub autocorrelation_weight: f64,
    /// Coefficients with an absolute value above this are penalised (0.15, fixed in Magenta's
    /// code).
    pub autocorrelation_threshold: f64,
    /// `reward_motif`'s `reward_amount` (3.0).
    pub motif_reward: f64,
    /// `reward_motif`'s complexity bonus per distinct pitch beyond three (0.3, fixed in
    /// Magenta's code).
    pub motif_bonus_per_note: f64,
    /// `reward_repeated_motif`'s `reward_amount` (4.0).
    pub repeated_motif_reward: f64,
    /// `reward_repeated_motif`'s complexity bonus per distinct pitch beyond three (1.0, fixed
    /// in Magenta's code).
    pub repeated_motif_bonus_per_note: f64,
    /// `reward_preferred_intervals`' `scaler`, multiplied by the interval table (5.0).
    pub interval_scaler: f64,
    /// `reward_leap_up_back`'s `resolving_leap_bonus` (5.0).
    pub leap_resolved_bonus: f64,
    /// `reward_leap_up_back`'s `leaping_twice_punishment` (−5.0).
    pub leap_doubled_penalty: f64,
    /// `detect_leap_up_back`'s `steps_between_leaps`: a leap back counts as a resolution only
    /// after more than this many steps (6).
    pub steps_between_leaps: u32,
    /// `reward_high_low_unique`'s `reward_amount`, given once for a unique highest and once
    /// for a unique lowest note (3.0).
    pub high_low_unique_reward: f64,
}

impl Default for RlTunerConfig {
    fn default() -> Self {
        Self {
            melody_length: 32,
            tonic: 14,
            key_penalty: -1.0,
            tonic_reward: 3.0,
            repeating_penalty: -100.0,
            autocorrelation_weight: 3.0,
            autocorrelation_threshold: 0.15,
            motif_reward: 3.0,
            motif_bonus_per_note: 0.3,
            repeated_motif_reward: 4.0,
            repeated_motif_bonus_per_note: 1.0,
            interval_scaler: 5.0,
            leap_resolved_bonus: 5.0,
            leap_doubled_penalty: -5.0,
            steps_between_leaps: 6,
            high_low_unique_reward: 3.0,
        }
    }
}

impl RlTunerConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), RlTunerError> {
        let bad = |field: &'static str, reason: String| {
            Err(RlTunerError::InvalidConfig { field, reason })
        };
        if !(1..=MAX_MELODY_LENGTH).contains(&self.melody_length) {
            return bad(
                "melody_length",
                format!("{} is outside 1..={MAX_MELODY_LENGTH}", self.melody_length),
            );
        }
        if self.tonic > MAX_EVENT {
            return bad(
                "tonic",
                format!("event {} is outside 0..={MAX_EVENT}", self.tonic),
            );
        }
        let amounts = [
            ("key_penalty", self.key_penalty),
            ("tonic_reward", self.tonic_reward),
            ("repeating_penalty", self.repeating_penalty),
            ("autocorrelation_weight", self.autocorrelation_weight),
            ("autocorrelation_threshold", self.autocorrelation_threshold),
            ("motif_reward", self.motif_reward),
            ("motif_bonus_per_note", self.motif_bonus_per_note),
            ("repeated_motif_reward", self.repeated_motif_reward),
            (
                "repeated_motif_bonus_per_note",
                self.repeated_motif_bonus_per_note,
            ),
            ("interval_scaler", self.interval_scaler),
            ("leap_resolved_bonus", self.leap_resolved_bonus),
            ("leap_doubled_penalty", self.leap_doubled_penalty),
            ("high_low_unique_reward", self.high_low_unique_reward),
        ];
        for (field, value) in amounts {
            if !value.is_finite() {
                return bad(field, format!("{value} is not a finite number"));
            }
        }
        Ok(())
    }
}

/// The melodic interval of `detect_sequential_interval`, with Magenta's special codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    /// Code 0: no earlier pitch in the composition (or an empty composition).
    NoPrevious,
    /// `REST_INTERVAL` (−1): a note-off after a pitch other than C or G.
    Rest,
    /// `HOLD_INTERVAL` (−1.5): a hold after a pitch other than C or G.
    Hold,
    /// `REST_INTERVAL_AFTER_THIRD_OR_FIFTH` (−2): a note-off after C or G.
    RestAfterTonicOrFifth,
    /// `HOLD_INTERVAL_AFTER_THIRD_OR_FIFTH` (−2.5): a hold after C or G.
    HoldAfterTonicOrFifth,
    /// `IN_KEY_FIFTH` (−5): 7 semitones away from a C or G.
    InKeyFifth,
    /// `IN_KEY_THIRD` (−3): 4 semitones away from a C or E.
    InKeyThird,
    /// A plain distance in semitones (0 = the same pitch again).
    Semitones(u8),
}

// An interval as a small integer code, so that the hot path looks its reward up in a table
// instead of walking a match. Codes 0..=35 are plain distances (pitch events span 2..=37);
// the special intervals follow. A hold's code is the rest's plus one, and the "after C or G"
// variants are two further on, so both are computed with arithmetic rather than branches.
const CODE_NO_PREVIOUS: u8 = 36;
const CODE_REST: u8 = 37;
const CODE_HOLD: u8 = CODE_REST + 1;
const CODE_REST_AFTER_TONIC_OR_FIFTH: u8 = CODE_REST + 2;
const CODE_HOLD_AFTER_TONIC_OR_FIFTH: u8 = CODE_REST + 3;
const CODE_IN_KEY_FIFTH: u8 = 41;
const CODE_IN_KEY_THIRD: u8 = 42;
/// Size of the per-code tables: a power of two, so that masking the index proves it in
/// bounds.
const NUM_CODES: usize = 64;

impl Interval {
    /// The interval a code of [`Tracker::interval_code`] stands for.
    #[inline]
    fn from_code(code: u8) -> Self {
        match code {
            CODE_NO_PREVIOUS => Interval::NoPrevious,
            CODE_REST => Interval::Rest,
            CODE_HOLD => Interval::Hold,
            CODE_REST_AFTER_TONIC_OR_FIFTH => Interval::RestAfterTonicOrFifth,
            CODE_HOLD_AFTER_TONIC_OR_FIFTH => Interval::HoldAfterTonicOrFifth,
            CODE_IN_KEY_FIFTH => Interval::InKeyFifth,
            CODE_IN_KEY_THIRD => Interval::InKeyThird,
            iv => Interval::Semitones(iv),
        }
    }

    /// `reward_preferred_intervals`' table, before the scaler.
    #[inline]
    fn preference(self) -> f64 {
        match self {
            Interval::NoPrevious | Interval::Semitones(0) => 0.0,
            Interval::Rest => 0.05,
            Interval::Hold => 0.075,
            Interval::RestAfterTonicOrFifth => 0.15,
            Interval::HoldAfterTonicOrFifth => 0.3,
            Interval::InKeyFifth => 0.1,
            Interval::InKeyThird => 0.15,
            Interval::Semitones(11) => -0.3,
            Interval::Semitones(iv) if iv > 12 => -1.0,
            Interval::Semitones(4) => 0.09,
            Interval::Semitones(2) => 0.08,
            Interval::Semitones(5) => 0.07,
            Interval::Semitones(9) => 0.05,
            Interval::Semitones(7) => 0.02,
            Interval::Semitones(_) => 0.0,
        }
    }

    /// Whether `detect_leap_up_back` sees a leap: a fifth or more, or an in-key fifth.
    #[inline]
    fn is_leap(self) -> bool {
        matches!(self, Interval::InKeyFifth) || matches!(self, Interval::Semitones(iv) if iv >= 7)
    }
}

/// Outcome of `detect_leap_up_back` (the discriminant indexes the reward's value table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leap {
    /// Nothing to report.
    None = 0,
    /// `LEAP_RESOLVED`.
    Resolved = 1,
    /// `LEAP_DOUBLED`.
    Doubled = 2,
}

/// What the stateless detectors say about the next action, given the composition so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Analysis {
    /// `detect_sequential_interval`.
    pub interval: Interval,
    /// `detect_repeating_notes`.
    pub repeating: bool,
    /// Distinct pitches in the last 8 events (action included); 0 when fewer than 8 events.
    /// A motif when ≥ 3 (`detect_last_motif`).
    pub motif_notes: u32,
    /// `detect_repeated_motif`.
    pub repeated_motif: bool,
}

/// Bits of the Bloom filter over earlier motif windows.
const WINDOW_FILTER_BITS: usize = 256;

/// The word and bit of `window` in the Bloom filter (a multiplicative hash: the top 8 bits of
/// the product mix all eight events).
#[inline]
fn filter_slot(window: u64) -> (usize, u64) {
    let h = window.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56;
    (
        (h >> 6) as usize % (WINDOW_FILTER_BITS / 64),
        1u64 << (h & 63),
    )
}

/// Running state of one composition (Magenta's `composition` list plus the leap tracker),
/// with the incremental sums every detector needs. Shared by the reward and the metrics.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    /// The composition (the prefix before the current action).
    events: Vec<Event>,
    /// `windows[i]` packs `events[i..i + 8]`, oldest event in the highest byte.
    windows: Vec<u64>,
    /// A Bloom filter over the windows a repeated motif may match (`windows[..len - 14]`,
    /// see [`Tracker::motif`]). Almost no step repeats an earlier motif, and the filter says
    /// so without scanning the windows.
    window_filter: [u64; WINDOW_FILTER_BITS / 64],
    /// The last 8 events packed the same way (missing ones are 0).
    tail: u64,
    /// How often each event occurs among the last 7 events, counting the missing ones as 0
    /// (so entry 0 starts at 7), and how many distinct pitches those 7 hold: the motif's
    /// distinct pitches then take one lookup instead of a scan of the window.
    window_counts: [u8; 64],
    window_pitches: u32,
    /// Σ e, Σ e², and Σ e[i]·e[i-lag] for lags 1..=3.
    sum: i64,
    sum_sq: i64,
    lagged: [i64; 3],
    /// Σ of the first 1, 2, 3 events (fixed once that many exist).
    prefix: [i64; 3],
    /// Last pitch (non-special event), 0 when none yet.
    last_pitch: Event,
    /// Note-offs and holds since the last pitch.
    tail_rests: u32,
    tail_holds: u32,
    /// The last pitch's run: how often it occurs since the previous different pitch, and
    /// whether note-offs / holds occur in that stretch (what `detect_repeating_notes` scans).
    run_count: u32,
    run_rest: bool,
    run_hold: bool,
    /// Leap tracker: `composition_direction`, `leapt_from`, `steps_since_last_leap`.
    direction: i8,
    leapt_from: Event,
    steps_since_leap: u32,
    /// Events that occur at least once, and at least twice, as bit masks. The highest event,
    /// the lowest pitch and whether each is unique follow from them at the last beat, so the
    /// steps before need no branchy running extrema.
    seen: u64,
    seen_twice: u64,
}

impl Tracker {
    /// An empty composition with room for `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut window_counts = [0; 64];
        window_counts[REST as usize] = (BAR_LENGTH - 1) as u8;
        Self {
            events: Vec::with_capacity(capacity),
            windows: Vec::with_capacity(capacity),
            window_filter: [0; WINDOW_FILTER_BITS / 64],
            tail: 0,
            window_counts,
            window_pitches: 0,
            sum: 0,
            sum_sq: 0,
            lagged: [0; 3],
            prefix: [0; 3],
            last_pitch: 0,
            tail_rests: 0,
            tail_holds: 0,
            run_count: 0,
            run_rest: false,
            run_hold: false,
            direction: 0,
            leapt_from: 0,
            steps_since_leap: 0,
            seen: 0,
            seen_twice: 0,
        }
    }

    /// `reset_composition()`: empties the composition and the leap tracker, keeping buffers.
    pub fn clear(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        let mut windows = std::mem::take(&mut self.windows);
        events.clear();
        windows.clear();
        *self = Self {
            events,
            windows,
            ..Self::with_capacity(0)
        };
    }

    /// Number of events in the composition.
    #[inline]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// The composition so far.
    #[inline]
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// `detect_sequential_interval(a)`.
    #[inline]
    pub fn interval(&self, a: Event) -> Interval {
        Interval::from_code(self.interval_code(a))
    }

    /// `detect_sequential_interval(a)` as a code (see [`Interval::from_code`]). Written as
    /// overriding assignments rather than a match: random melodies make every branch of the
    /// match unpredictable, while these compile to conditional moves.
    #[inline]
    pub fn interval_code(&self, a: Event) -> u8 {
        let prev = self.last_pitch;
        let tonic_or_fifth = (C_NOTES | G_NOTES) & bit(prev) != 0;
        let iv = a.abs_diff(prev);
        let mut code = iv;
        if iv == 7 && tonic_or_fifth {
            code = CODE_IN_KEY_FIFTH;
        }
        if iv == 4 && (C_NOTES | E_NOTES) & bit(prev) != 0 {
            code = CODE_IN_KEY_THIRD;
        }
        if a == REST || a == HOLD {
            // REST → Rest, HOLD → Hold; two codes on after C or G.
            code = CODE_REST + a + 2 * u8::from(tonic_or_fifth);
        }
        if prev == 0 {
            code = CODE_NO_PREVIOUS;
        }
        code
    }

    /// `detect_repeating_notes(a)`, from the running counters instead of a backwards scan.
    #[inline]
    pub fn repeating(&self, a: Event) -> bool {
        // The scan walks back over events equal to `a`, note-offs and holds, and stops at the
        // first other pitch: for a special `a` that is the stretch since the last pitch, for a
        // pitch it is the last pitch's run (empty unless that pitch is `a`).
        let (repeats, breaks, held) = match a {
            REST => (self.tail_rests, false, self.tail_holds > 0),
            HOLD => (self.tail_holds, self.tail_rests > 0, false),
            _ if a == self.last_pitch => (self.run_count, self.run_rest, self.run_hold),
            _ => (0, false, false),
        };
        (a == REST && repeats > 1)
            || (!held && !breaks && repeats > 4)
            || ((held || breaks) && repeats > 6)
    }

    /// `detect_last_motif` and `detect_repeated_motif` for action `a`: the distinct pitches
    /// of the last 8 events (0 when fewer than 8 events) and whether that window is a motif
    /// that occurred earlier.
    #[inline]
    pub fn motif(&self, a: Event) -> (u32, bool) {
        let len = self.events.len();
        if len + 1 < BAR_LENGTH {
            return (0, false);
        }
        let new_pitch = a != REST && a != HOLD && self.window_counts[a as usize & 63] == 0;
        let notes = self.window_pitches + u32::from(new_pitch);
        let mut repeated = false;
        if notes >= 3 {
            let window = (self.tail << 8) | a as u64;
            let (word, mask) = filter_slot(window);
            if self.window_filter[word] & mask != 0 {
                // Earlier windows that end before the current one starts: Magenta searches
                // `composition[:-(bar_length - 1)]`.
                let earlier = (len + 2).saturating_sub(2 * BAR_LENGTH);
                repeated = self.windows[..earlier].contains(&window);
            }
        }
        (notes, repeated)
    }

    /// Analyses action `a` against the composition (no state change).
    #[inline]
    pub fn analyse(&self, a: Event) -> Analysis {
        let (motif_notes, repeated_motif) = self.motif(a);
        Analysis {
            interval: self.interval(a),
            repeating: self.repeating(a),
            motif_notes,
            repeated_motif,
        }
    }

    /// `autocorrelate(composition + [a], lag)` for `lag` in 1..=3; `None` for numpy's NaN
    /// (a constant signal, including a single event).
    #[inline]
    pub fn autocorrelation(&self, a: Event, lag: usize) -> Option<f64> {
        let len = self.events.len();
        let n = len as i64 + 1;
        let a = a as i64;
        let s = self.sum + a;
        let q = self.sum_sq + a * a;
        // n² · variance is n·Q - S², exact in integers; zero for a constant signal.
        let small = n as usize <= MAX_MELODY_LENGTH;
        let wide_var_n2 = || n as i128 * q as i128 - s as i128 * s as i128;
        if (small && n * q == s * s) || (!small && wide_var_n2() == 0) {
            return None;
        }
        if lag >= n as usize {
            return Some(0.0);
        }
        // Σ x[i+lag]·x[i] over i < n-lag, with x = s - mean, expanded and scaled by n²:
        // n²·P - n·S·(A + B) + (n - lag)·S², A = Σ s[lag..], B = Σ s[..n-lag].
        // `events[len - lag]` is byte `lag - 1` of the packed tail (len ≥ lag here).
        let lagged = self.lagged[lag - 1] + a * ((self.tail >> (8 * (lag - 1))) & 0xff) as i64;
        let head = self.prefix[lag - 1];
        let mut last = a;
        for k in 0..lag - 1 {
            last += ((self.tail >> (8 * k)) & 0xff) as i64;
        }
        let (a_sum, b_sum) = (s - head, s - last);
        if small {
            // Every product below stays under 4·10^18 for n ≤ 2^16 and events ≤ 37, so i64
            // is exact (and much cheaper than i128 on the hot path).
            let num = n * n * lagged - n * s * (a_sum + b_sum) + (n - lag as i64) * s * s;
            let var_n2 = n * q - s * s;
            // c = Σ/n / var = (num / n²) / n / (var_n2 / n²).
            Some(num as f64 / (n * var_n2) as f64)
        } else {
            let var_n2 = wide_var_n2();
            let (s, n, lag) = (s as i128, n as i128, lag as i128);
            let num = n * n * lagged as i128 - n * s * (a_sum + b_sum) as i128 + (n - lag) * s * s;
            Some(num as f64 / (n * var_n2) as f64)
        }
    }

    /// `reward_penalize_autocorrelation(a)` before the sign: Σ weight·|c| over lags 1..=3
    /// with |c| > threshold, in lag order. Same values as [`Tracker::autocorrelation`], with
    /// what the three lags share (sums, variance, the denominator) computed once. `tie` is
    /// the distance to the threshold below which numpy's rounding decides.
    #[inline]
    pub fn autocorrelation_penalty(&self, a: Event, threshold: f64, tie: f64, weight: f64) -> f64 {
        let len = self.events.len();
        if len >= MAX_MELODY_LENGTH {
            return self.autocorrelation_penalty_wide(a, threshold, tie, weight);
        }
        let n = len as i64 + 1;
        let av = a as i64;
        let s = self.sum + av;
        let q = self.sum_sq + av * av;
        let var_n2 = n * q - s * s;
        // A constant signal (and the first step) is numpy's NaN at every lag: no penalty. A
        // lag ≥ n gives 0, which adds nothing either, so lags 2 and 3 need len ≥ 2 and 3.
        if var_n2 == 0 {
            return 0.0;
        }
        let denominator = (n * var_n2) as f64;
        let (nn, ns, ss) = (n * n, n * s, s * s);
        let t1 = (self.tail & 0xff) as i64;
        let t2 = ((self.tail >> 8) & 0xff) as i64;
        let t3 = ((self.tail >> 16) & 0xff) as i64;
        // The expansion of `autocorrelation`, in exact i64 (n ≤ 2^16 here), per lag:
        // (lag, Σ s[i]·s[i-lag], Σ of the first lag events, Σ of the last lag events).
        let coefficient = |lag: i64, lagged: i64, head: i64, last: i64| {
            let num = nn * lagged - ns * ((s - head) + (s - last)) + (n - lag) * ss;
            num as f64 / denominator
        };
        let mut penalty = 0.0;
        let mut add = |c: f64, lag: usize| {
            let c = if (c.abs() - threshold).abs() <= tie {
                // A tie (e.g. exactly 3/20): numpy's rounding decides, so reproduce it.
                self.numpy_autocorrelation(a, lag)
            } else {
                c
            };
            let c = c.abs();
            // Adding ±0.0 leaves the sum as it is (it is never -0.0), so multiplying by the
            // flag replaces a branch that mispredicts often (the product is finite).
            penalty += c * weight * f64::from(u8::from(c > threshold));
        };
        add(
            coefficient(1, self.lagged[0] + av * t1, self.prefix[0], av),
            1,
        );
        if len >= 2 {
            let c = coefficient(2, self.lagged[1] + av * t2, self.prefix[1], av + t1);
            add(c, 2);
        }
        if len >= 3 {
            let c = coefficient(3, self.lagged[2] + av * t3, self.prefix[2], av + t1 + t2);
            add(c, 3);
        }
        penalty
    }

    /// [`Tracker::autocorrelation_penalty`] for compositions too long for exact i64 sums.
    #[cold]
    fn autocorrelation_penalty_wide(&self, a: Event, threshold: f64, tie: f64, weight: f64) -> f64 {
        let mut penalty = 0.0;
        for lag in 1..=3 {
            if let Some(mut c) = self.autocorrelation(a, lag) {
                if (c.abs() - threshold).abs() <= tie {
                    c = self.numpy_autocorrelation(a, lag);
                }
                let c = c.abs();
                if c > threshold {
                    penalty += c * weight;
                }
            }
        }
        penalty
    }

    /// `autocorrelate(composition + [a], lag)` computed the way numpy does it, rounding
    /// included: mean, deviations, pairwise sums, two divisions. Slow (linear); used only
    /// when the exact coefficient sits on the penalty threshold, where numpy's rounding
    /// decides whether it is penalised.
    #[cold]
    pub fn numpy_autocorrelation(&self, a: Event, lag: usize) -> f64 {
        let events = &self.events;
        let n = events.len() + 1;
        let at = |i: usize| if i < events.len() { events[i] } else { a } as f64;
        // Sums of small integers are exact in f64, whatever the order.
        let mean = (self.sum + a as i64) as f64 / n as f64;
        let c0 = pairwise_sum(n, &|i| {
            let x = at(i) - mean;
            x * x
        }) / n as f64;
        let m = n.saturating_sub(lag);
        let lagged = pairwise_sum(m, &|i| (at(i + lag) - mean) * (at(i) - mean));
        lagged / n as f64 / c0
    }

    /// `detect_leap_up_back(a)`: the only detector with state. Call it once per step, before
    /// [`Tracker::push`], with `interval = self.interval(a)`.
    #[inline]
    pub fn leap(&mut self, a: Event, interval: Interval, steps_between_leaps: u32) -> Leap {
        self.leap_step(a, interval.is_leap(), steps_between_leaps)
    }

    /// [`Tracker::leap`], told whether the interval is a leap.
    #[inline]
    pub fn leap_step(&mut self, a: Event, is_leap: bool, steps_between_leaps: u32) -> Leap {
        if self.events.is_empty() {
            return Leap::None;
        }
        if a == REST || a == HOLD {
            self.steps_since_leap = self.steps_since_leap.saturating_add(1);
            return Leap::None;
        }
        let mut outcome = Leap::None;
        if is_leap {
            let direction = if a > self.last_pitch { 1 } else { -1 };
            if self.direction != 0 {
                if self.direction != direction {
                    if self.steps_since_leap > steps_between_leaps {
                        outcome = Leap::Resolved;
                    }
                    self.direction = 0;
                    self.leapt_from = 0;
                } else {
                    outcome = Leap::Doubled;
                }
            } else {
                self.direction = direction;
                self.leapt_from = self.last_pitch;
            }
            self.steps_since_leap = 0;
        } else {
            self.steps_since_leap = self.steps_since_leap.saturating_add(1);
            if (self.direction == 1 && a <= self.leapt_from)
                || (self.direction == -1 && a >= self.leapt_from)
            {
                outcome = Leap::Resolved;
                self.direction = 0;
                self.leapt_from = 0;
            }
        }
        outcome
    }

    /// Whether the highest event of `composition + [a]` occurs once (`detect_high_unique`).
    #[inline]
    pub fn high_unique(&self, a: Event) -> bool {
        let b = bit(a);
        let seen = self.seen | b;
        let twice = self.seen_twice | (self.seen & b);
        let highest = 63 - seen.leading_zeros();
        twice & (1 << highest) == 0
    }

    /// Whether the lowest pitch of `composition + [a]` occurs once (`detect_low_unique`).
    #[inline]
    pub fn low_unique(&self, a: Event) -> bool {
        let b = bit(a);
        let pitches = (self.seen | b) & !SPECIAL;
        let twice = self.seen_twice | (self.seen & b);
        pitches != 0 && twice & (1 << pitches.trailing_zeros()) == 0
    }

    /// Appends `a` to the composition (Magenta's `composition.append` after a step).
    #[inline]
    pub fn push(&mut self, a: Event) {
        let len = self.events.len();
        let v = a as i64;
        if len < 3 {
            let before = if len == 0 { 0 } else { self.prefix[len - 1] };
            self.prefix[len] = before + v;
        }
        // `events[len - lag]` is byte `lag - 1` of the tail; a missing one is 0 and adds 0.
        let tail = self.tail;
        self.lagged[0] += v * (tail & 0xff) as i64;
        self.lagged[1] += v * ((tail >> 8) & 0xff) as i64;
        self.lagged[2] += v * ((tail >> 16) & 0xff) as i64;
        self.sum += v;
        self.sum_sq += v * v;

        let b = bit(a);
        self.seen_twice |= self.seen & b;
        self.seen |= b;

        // The last 7 events gain `a` and lose the one 7 back (a missing one counts as 0).
        let added = a as usize & 63;
        let dropped = ((tail >> 48) & 63) as usize;
        let pitch = |e: usize| e != REST as usize && e != HOLD as usize;
        self.window_pitches += u32::from(pitch(added) && self.window_counts[added] == 0);
        self.window_counts[added] += 1;
        self.window_counts[dropped] -= 1;
        self.window_pitches -= u32::from(pitch(dropped) && self.window_counts[dropped] == 0);

        match a {
            REST => {
                self.tail_rests += 1;
                self.run_rest = true;
            }
            HOLD => {
                self.tail_holds += 1;
                self.run_hold = true;
            }
            _ => {
                if a == self.last_pitch {
                    self.run_count += 1;
                } else {
                    self.run_count = 1;
                    self.run_rest = self.tail_rests > 0;
                    self.run_hold = self.tail_holds > 0;
                }
                self.tail_rests = 0;
                self.tail_holds = 0;
                self.last_pitch = a;
            }
        }

        self.tail = (tail << 8) | v as u64;
        self.events.push(a);
        let len = len + 1;
        if len >= BAR_LENGTH {
            self.windows.push(self.tail);
            // The next step may match windows[..len - 14]: the filter takes the newest one.
            if len > 2 * BAR_LENGTH - 2 {
                let (word, mask) = filter_slot(self.windows[len - (2 * BAR_LENGTH - 1)]);
                self.window_filter[word] |= mask;
            }
        }
    }
}

/// numpy's pairwise summation of `f(0..n)` (`pairwise_sum` in its loops): plain below 8
/// terms, eight interleaved partial sums up to 128, halves (at a multiple of 8) above.
fn pairwise_sum(n: usize, f: &dyn Fn(usize) -> f64) -> f64 {
    fn sum(start: usize, n: usize, f: &dyn Fn(usize) -> f64) -> f64 {
        if n < 8 {
            let mut res = 0.0;
            for i in 0..n {
                res += f(start + i);
            }
            res
        } else if n <= 128 {
            let mut r = [0.0f64; 8];
            for (k, slot) in r.iter_mut().enumerate() {
                *slot = f(start + k);
            }
            let mut i = 8;
            while i < n - n % 8 {
                for (k, slot) in r.iter_mut().enumerate() {
                    *slot += f(start + i + k);
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            while i < n {
                res += f(start + i);
                i += 1;
            }
            res
        } else {
            let half = n / 2;
            let half = half - half % 8;
            sum(start, half, f) + sum(start + half, n - half, f)
        }
    }
    sum(0, n, f)
}

/// Term values that depend only on the config and a small integer, computed once with the
/// same float operations the terms would do per step. Looking a value up replaces a branch
/// on the melody, which mispredicts often (the compiler turns selects back into branches,
/// but cannot do so with a load).
#[derive(Debug, Clone)]
struct Tables {
    /// `reward_key` per event (entries past 37 are unused).
    key: [f64; 64],
    /// `reward_leap_up_back` per [`Leap`] outcome.
    leap: [f64; 3],
    /// `reward_preferred_intervals` per interval code, scaler applied.
    preferred: [f64; NUM_CODES],
    /// Bit `code` set for the interval codes `detect_leap_up_back` counts as a leap.
    leaps: u64,
    /// `reward_motif` and `reward_repeated_motif` (when repeated) by distinct pitches (≤ 8).
    motif: [f64; 16],
    repeated_motif: [f64; 16],
    /// Distance of an autocorrelation coefficient from the threshold below which numpy's
    /// rounding decides (exact ties land within a few ulps).
    tie: f64,
}

impl Tables {
    fn new(cfg: &RlTunerConfig) -> Self {
        let mut preferred = [0.0; NUM_CODES];
        let mut leaps = 0u64;
        for (code, slot) in preferred.iter_mut().enumerate() {
            let interval = Interval::from_code(code as u8);
            *slot = match interval {
                // Magenta returns 0.0 before scaling for "no interval".
                Interval::NoPrevious | Interval::Semitones(0) => 0.0,
                iv => iv.preference() * cfg.interval_scaler,
            };
            if interval.is_leap() {
                leaps |= 1 << code;
            }
        }
        let mut motif = [0.0; 16];
        let mut repeated_motif = [0.0; 16];
        for notes in 3..16 {
            let extra_notes = (notes - 3) as f64;
            motif[notes] = cfg.motif_reward + extra_notes * cfg.motif_bonus_per_note;
            repeated_motif[notes] =
                cfg.repeated_motif_reward + extra_notes * cfg.repeated_motif_bonus_per_note;
        }
        let key = std::array::from_fn(|e| {
            let in_key = e <= MAX_EVENT as usize && C_MAJOR_KEY & (1 << e) != 0;
            if in_key {
                0.0
            } else {
                cfg.key_penalty
            }
        });
        let mut leap = [0.0; 3];
        leap[Leap::Resolved as usize] = cfg.leap_resolved_bonus;
        leap[Leap::Doubled as usize] = cfg.leap_doubled_penalty;
        Self {
            key,
            leap,
            preferred,
            leaps,
            motif,
            repeated_motif,
            tie: 1e-12 * cfg.autocorrelation_threshold.abs().max(1.0),
        }
    }
}

/// Magenta RL Tuner's `reward_music_theory`, term by term. See the module docs.
#[derive(Debug, Clone)]
pub struct RlTunerReward {
    config: RlTunerConfig,
    tables: Tables,
    tracker: Tracker,
}

impl Default for RlTunerReward {
    fn default() -> Self {
        Self::from_valid(RlTunerConfig::default())
    }
}

impl RlTunerReward {
    /// The leap detector's pending leap: +1 after a leap up not yet resolved, −1 after a
    /// leap down, 0 when none is pending. The next pitch earns the resolution bonus or the
    /// doubled-leap penalty only while one is pending.
    pub fn pending_leap(&self) -> i8 {
        self.tracker.direction
    }

    /// The distinct pitches among the last seven events of the composition: with three, any
    /// next event ends a motif; with two, a new pitch does.
    pub fn motif_window_pitches(&self) -> u32 {
        self.tracker.window_pitches
    }

    /// A reward with the given constants, checked by [`RlTunerConfig::validate`].
    pub fn new(config: RlTunerConfig) -> Result<Self, RlTunerError> {
        config.validate()?;
        Ok(Self::from_valid(config))
    }

    fn from_valid(config: RlTunerConfig) -> Self {
        let tracker = Tracker::with_capacity(config.melody_length);
        let tables = Tables::new(&config);
        Self {
            config,
            tables,
            tracker,
        }
    }

    /// The constants in use.
    pub fn config(&self) -> &RlTunerConfig {
        &self.config
    }

    /// The beat of the next step within the current composition (0..melody length; equal to
    /// the melody length right after a composition's last step, before the automatic reset).
    pub fn beat(&self) -> usize {
        self.tracker.len()
    }

    /// Starts a fresh composition (Magenta's `reset_composition`).
    pub fn reset_composition(&mut self) {
        self.tracker.clear();
    }

    /// Scores `event` as the next step of the current composition and records it.
    ///
    /// Writes the nine terms into `terms` in [`TERM_NAMES`] order (only as many as fit, if
    /// the slice is shorter) and returns their left-to-right sum. Starts a new composition
    /// first when the current one is complete. Events above 37 are scored as holds.
    #[inline]
    pub fn score_event(&mut self, event: Event, terms: &mut [f64]) -> f64 {
        if self.tracker.len() >= self.config.melody_length {
            self.tracker.clear();
        }
        let a = sanitize(event);
        let cfg = &self.config;
        let tables = &self.tables;
        let t = &mut self.tracker;
        let beat = t.len() as i64;
        let n = cfg.melody_length as i64;

        let key = tables.key[a as usize & 63];

        let final_bar = n - 4;
        let tonic_hit = if beat == 0 || beat == final_bar {
            a == cfg.tonic
        } else if beat == final_bar + 1 {
            a == HOLD
        } else if beat > final_bar + 1 {
            a == HOLD || a == REST
        } else {
            false
        };
        let tonic = select(tonic_hit, cfg.tonic_reward);

        let repeating = select(t.repeating(a), cfg.repeating_penalty);

        let autocorrelation = -t.autocorrelation_penalty(
            a,
            cfg.autocorrelation_threshold,
            tables.tie,
            cfg.autocorrelation_weight,
        );

        let (motif_notes, repeated) = t.motif(a);
        let motif = tables.motif[motif_notes as usize & 15];
        let repeated_motif = select(repeated, tables.repeated_motif[motif_notes as usize & 15]);

        let code = t.interval_code(a);
        let preferred = tables.preferred[code as usize & (NUM_CODES - 1)];
        let is_leap = (tables.leaps >> (code as usize & (NUM_CODES - 1))) & 1 != 0;
        let leap = tables.leap[t.leap_step(a, is_leap, cfg.steps_between_leaps) as usize];

        let mut high_low = 0.0;
        if beat + 1 == n {
            if t.high_unique(a) {
                high_low += cfg.high_low_unique_reward;
            }
            if t.low_unique(a) {
                high_low += cfg.high_low_unique_reward;
            }
        }

        t.push(a);

        let values = [
            key,
            tonic,
            repeating,
            autocorrelation,
            motif,
            repeated_motif,
            preferred,
            leap,
            high_low,
        ];
        if let Some(out) = terms.get_mut(..NUM_TERMS) {
            out.copy_from_slice(&values);
        } else {
            for (slot, value) in terms.iter_mut().zip(values) {
                *slot = value;
            }
        }
        // Magenta's left-to-right sum, so that the floats agree.
        key + tonic
            + repeating
            + autocorrelation
            + motif
            + repeated_motif
            + preferred
            + leap
            + high_low
    }
}

impl Reward for RlTunerReward {
    fn term_names(&self) -> Vec<String> {
        TERM_NAMES.iter().map(|name| name.to_string()).collect()
    }

    fn reset(&mut self, _setting: &Setting) {
        // The composition length comes from the config, not the episode length: episodes
        // longer than one composition are scored as consecutive compositions.
        self.tracker.clear();
    }

    #[inline]
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        if ctx.step == 0 && self.tracker.len() != 0 {
            self.tracker.clear();
        }
        self.score_event(ctx.action, terms)
    }
}
