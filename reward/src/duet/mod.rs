//! Answer terms: the rewards of the `duet` task.
//!
//! In a duet the partner's call is the first `call_steps` events of the melody
//! ([`Setting::call_steps`]), fed through the reward before the agent answers. An answer is
//! judged on three things:
//!
//! - **it relates to the call without copying it**: [`CallMotif`] (`call_motif`) pays for a
//!   three-note cell of the call taken up at other pitches, on another beat, or upside down,
//!   and charges a literal copy; [`CallRhythm`] (`call_rhythm`) pays for the call's rhythm
//!   echoed bar by bar, or for a calmer bar after a busy call;
//! - **it resolves over the harmony**: the improvisation terms ([`crate::improv`]: chord
//!   tones on strong beats, resolutions, the cadence on the last step), which hear the call
//!   and the answer as one line;
//! - **it is music**: the musicianship report ([`crate::musicianship`]) of the answer.
//!
//! The `duet` preset ([`DUET_PRESET`], `--reward duet`) is the improvisation preset plus the
//! two answer terms. [`DUET_TERMS`] is the list of answer terms, found by the reward
//! registry (a term as a TOML section) like the improvisation terms; the reward bench scores
//! them on real call/response pairs of the corpus against shuffled pairs
//! ([`crate::bench::duet`]).
//!
//! Like every improvisation term, each keeps a small fixed-size state (the call's notes, at
//! most [`CALL_MEMORY_STEPS`] steps and [`CALL_MEMORY_NOTES`] notes of it) and allocates
//! nothing per step.
//!
//! ```
//! use cadenza_env::{Reward, TaskSpec};
//! use cadenza_reward::duet::CallMotif;
//! use cadenza_reward::score::score_melody;
//! let task = TaskSpec::by_name("duet", Some("call_bars = 1\nanswer_bars = 1")).unwrap();
//! let enc = task.setting.encoding;
//! let line = |pitches: [u8; 4]| -> Vec<u8> {
//!     pitches.iter().flat_map(|&p| [enc.event_of_pitch(p).unwrap(), 1, 1, 1]).collect()
//! };
//! let call = line([60, 62, 64, 67]); // C D E G in quarters
//! let sequence = [call.clone(), line([65, 67, 69, 72])].concat(); // a fourth higher
//! let parrot = [call.clone(), call.clone()].concat();
//! let mut term = CallMotif::default();
//! let total = |m: &[u8], t: &mut CallMotif| score_melody(t, &task.setting, m).total;
//! assert_eq!(total(&sequence, &mut term), 2.0); // two cells taken up, moved
//! assert_eq!(total(&parrot, &mut term), 0.0); // copied in place: nothing
//! ```

mod call;
mod motif;
mod rhythm;

pub use call::{CALL_MEMORY_NOTES, CALL_MEMORY_STEPS};
pub use motif::{CallMotif, CallMotifParams};
pub use rhythm::{CallRhythm, CallRhythmParams};

use crate::improv::common::{classify, Ev};
use crate::improv::TermEntry;
use cadenza_env::{Event, Setting};

/// How far apart two phrases are, in `[0, 1]` (0: the same notes at the same times): the
/// mean of a rhythm distance (1 − the Jaccard index of their onset steps; two silent phrases
/// are 0 apart) and a pitch distance (over the steps where both sound a note, the mean
/// difference of the sounding pitches in semitones over 12, capped at 1 a step; 1 when they
/// never sound together). Phrases of unequal length are compared over the shorter.
///
/// It is the measure of the held-out duet evaluation (`docs/duet.md`): an answerer that
/// listens answers a call closer to the phrase that answered it in the tune than to a phrase
/// of another tune.
pub fn phrase_distance(setting: &Setting, a: &[Event], b: &[Event]) -> f64 {
    let (mut both, mut either) = (0u32, 0u32);
    let (mut sounding_a, mut sounding_b) = (None::<u8>, None::<u8>);
    let (mut pitch_sum, mut pitch_steps) = (0.0, 0u32);
    for (&x, &y) in a.iter().zip(b) {
        let (ex, ey) = (classify(setting, x), classify(setting, y));
        let (ox, oy) = (matches!(ex, Ev::Onset(_)), matches!(ey, Ev::Onset(_)));
        both += u32::from(ox && oy);
        either += u32::from(ox || oy);
        for (event, sounding) in [(ex, &mut sounding_a), (ey, &mut sounding_b)] {
            match event {
                Ev::Onset(pitch) => *sounding = Some(pitch),
                Ev::Rest => *sounding = None,
                Ev::Hold => {}
            }
        }
        if let (Some(p), Some(q)) = (sounding_a, sounding_b) {
            pitch_sum += (f64::from(p.abs_diff(q)) / 12.0).min(1.0);
            pitch_steps += 1;
        }
    }
    let rhythm = if either == 0 {
        0.0
    } else {
        1.0 - f64::from(both) / f64::from(either)
    };
    let pitch = if pitch_steps == 0 {
        1.0
    } else {
        pitch_sum / f64::from(pitch_steps)
    };
    (rhythm + pitch) / 2.0
}

/// Number of answer terms.
pub const DUET_TERM_COUNT: usize = 2;

/// Every answer term, in the order the `duet` preset reports them after the improvisation
/// terms.
pub const DUET_TERMS: [TermEntry; DUET_TERM_COUNT] =
    [TermEntry::of::<CallMotif>(), TermEntry::of::<CallRhythm>()];

/// The entry of the answer term called `name`.
pub fn find_term(name: &str) -> Option<&'static TermEntry> {
    DUET_TERMS.iter().find(|entry| entry.name == name)
}

/// The `duet` preset as a reward definition: the improvisation preset and the answer terms.
pub const DUET_PRESET: &str =
    "# What an improviser is paid for, hearing the call and the answer as one line.
[improv]

# What an answer is paid for: the call's motif taken up and varied, its rhythm echoed.
[call_motif]
[call_rhythm]
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::score_melody;
    use cadenza_env::{Event, Reward, TaskSpec, HOLD, REST};

    fn task() -> TaskSpec {
        TaskSpec::by_name("duet", Some("call_bars = 1\nanswer_bars = 1")).unwrap()
    }

    /// Quarter notes of these pitches (0 = a quarter rest).
    fn quarters(task: &TaskSpec, pitches: &[u8]) -> Vec<Event> {
        let enc = task.setting.encoding;
        pitches
            .iter()
            .flat_map(|&p| match p {
                0 => [REST, HOLD, HOLD, HOLD],
                _ => [enc.event_of_pitch(p).unwrap(), HOLD, HOLD, HOLD],
            })
            .collect()
    }

    fn total(reward: &mut dyn Reward, task: &TaskSpec, melody: &[Event]) -> f64 {
        score_melody(reward, &task.setting, melody).total
    }

    #[test]
    fn the_motif_pays_for_variation_and_charges_a_copy() {
        let task = task();
        let call = quarters(&task, &[60, 62, 64, 67]);
        let mut term = CallMotif::default();
        let inverted = [call.clone(), quarters(&task, &[72, 70, 68, 65])].concat();
        assert_eq!(total(&mut term, &task, &inverted), 1.5);
        let unrelated = [call.clone(), quarters(&task, &[72, 65, 71, 60])].concat();
        assert_eq!(total(&mut term, &task, &unrelated), 0.0);
        // Displaced by a beat: the same cell on other beats is taken up, not copied.
        let displaced = [call.clone(), quarters(&task, &[0, 60, 62, 64])].concat();
        assert_eq!(total(&mut term, &task, &displaced), 1.0);
        // Eight notes in a row copied in place cost from the eighth on.
        let task2 = TaskSpec::by_name("duet", None).unwrap();
        let long = quarters(&task2, &[60, 62, 64, 67, 65, 64, 62, 60]);
        assert_eq!(
            total(&mut term, &task2, &[long.clone(), long].concat()),
            -1.0
        );
        // A term without a call scores nothing.
        let solo = TaskSpec::by_name("improv", Some("length = 32")).unwrap();
        assert_eq!(total(&mut term, &solo, &displaced), 0.0);
        // Parameters are checked, naming the field.
        let bad = CallMotifParams {
            copy_run: 0,
            ..CallMotifParams::default()
        };
        let err = <CallMotif as crate::improv::ImprovTerm>::new(bad).unwrap_err();
        assert!(err.to_string().contains("copy_run"), "{err}");
    }

    #[test]
    fn the_rhythm_echoes_a_calm_call_and_contrasts_a_busy_one() {
        let task = task();
        let enc = task.setting.encoding;
        let mut term = CallRhythm::default();
        let call = quarters(&task, &[60, 62, 64, 67]);
        let three = [call.clone(), quarters(&task, &[65, 64, 62, 0])].concat();
        assert_eq!(total(&mut term, &task, &three), 0.75);
        let sixteenths: Vec<Event> = (0..16)
            .map(|k| {
                enc.event_of_pitch([60, 62, 64, 65][k % 4] + (k / 4) as u8)
                    .unwrap()
            })
            .collect();
        let calm = [sixteenths.clone(), quarters(&task, &[67, 65, 64, 62])].concat();
        assert_eq!(total(&mut term, &task, &calm), 1.0);
        let wall = [sixteenths.clone(), sixteenths.clone()].concat();
        assert_eq!(total(&mut term, &task, &wall), 0.0);
        let silence = [sixteenths, vec![REST; 16]].concat();
        assert_eq!(total(&mut term, &task, &silence), 0.0);
    }

    #[test]
    fn phrase_distance_is_zero_for_the_same_phrase_and_grows_with_change() {
        let task = task();
        let a = quarters(&task, &[60, 62, 64, 67]);
        let setting = &task.setting;
        assert_eq!(phrase_distance(setting, &a, &a), 0.0);
        let up = quarters(&task, &[72, 74, 76, 79]);
        assert_eq!(phrase_distance(setting, &a, &up), 0.5); // same rhythm, an octave away
        let half = quarters(&task, &[60, 0, 64, 0]);
        let d = phrase_distance(setting, &a, &half);
        assert!(d > 0.0 && d < 0.5, "{d}");
        let silence = vec![REST; 16];
        assert_eq!(phrase_distance(setting, &a, &silence), 1.0);
        assert_eq!(phrase_distance(setting, &silence, &silence), 0.5);
    }
}
