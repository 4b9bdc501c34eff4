//! Phrase features: what a listener model sees of a phrase.
//!
//! A phrase becomes [`NUM_FEATURES`] numbers, named by [`FEATURE_NAMES`]: the per-step mean
//! of each improvisation term over the phrase, then interval, rhythm and pitch statistics.
//! The features are raw (not standardised); the model standardises them with its own
//! calibration, so that a weight reads as "per standard deviation across the agent's
//! phrases".

use super::error::ListenerError;
use crate::improv::{ImprovReward, ImprovWeights, IMPROV_TERM_COUNT, IMPROV_TERM_NAMES};
use cadenza_env::{Event, Reward, Setting, StepContext, HOLD, REST};

/// The improvisation terms a listener sees: the first ten of
/// [`IMPROV_TERMS`](crate::improv::IMPROV_TERMS), with their default parameters and weight 1,
/// whatever the `improv` preset's weights. Terms added to the preset later are not features,
/// so saved listener models and the models replayed from old session logs keep their meaning.
pub const LISTENER_TERM_COUNT: usize = 10;

/// Number of named features: the improvisation terms and the statistics, the whole feature
/// vector before the note profile. Session logs written before it calibrate this many.
pub const NAMED_FEATURE_COUNT: usize = LISTENER_TERM_COUNT + 10;

/// Number of note-profile features, after the named ones (see [`FEATURE_NAMES`]).
pub const NOTE_PROFILE_COUNT: usize = 31;

/// Number of phrase features.
pub const NUM_FEATURES: usize = NAMED_FEATURE_COUNT + NOTE_PROFILE_COUNT;

/// The smallest difference in each feature ([`FEATURE_NAMES`] order) that a listener is taken
/// to hear: half the standard deviation of the feature over real tunes (the tuning half of
/// the held-out corpus, 64 steps each; `tests/listener_resolution.rs` measures it and checks
/// these values against it). A session standardises features by the spread of its agent's
/// phrases; an agent that plays consistently has a tiny spread, and without this floor a
/// difference nobody hears would count as several standard deviations of taste.
/// `syncopation_fraction` does not vary in the folk corpus (its tunes barely syncopate): its
/// resolution is one syncopated note in twenty; so for `register_low` and `register_high`
/// (the corpus tunes keep to the middle of the range).
pub const FEATURE_RESOLUTION: [f64; NUM_FEATURES] = [
    0.013, 0.013, 0.014, 0.0075, 0.0035, 0.005, 0.034, 0.0085, 0.004, 0.01, // terms
    0.08, 0.038, 0.017, 0.47, 0.05, 0.13, 0.11, 0.039, 0.063, 0.039, // statistics
    0.025, 0.021, 0.019, 0.022, // pitch by quarter
    0.05, 0.066, 0.066, 0.05, // register
    0.017, 0.042, 0.056, 0.038, 0.066, 0.046, 0.016, // intervals
    0.054, 0.049, 0.032, 0.03, // motion
    0.033, 0.064, 0.063, 0.1, // onsets
    0.11, 0.15, 0.092, 0.025, 0.0064, // durations
    0.029, 0.05, 0.038, // silences
];

/// Names of the note profile, after the statistics.
const PROFILE_NAMES: [&str; NOTE_PROFILE_COUNT] = [
    "pitch_quarter_1",
    "pitch_quarter_2",
    "pitch_quarter_3",
    "pitch_quarter_4",
    "register_low",
    "register_low_mid",
    "register_high_mid",
    "register_high",
    "interval_down_large",
    "interval_down_skip",
    "interval_down_step",
    "interval_repeat",
    "interval_up_step",
    "interval_up_skip",
    "interval_up_large",
    "motion_up_up",
    "motion_down_down",
    "motion_up_down",
    "motion_down_up",
    "onset_downbeat",
    "onset_beat",
    "onset_half_beat",
    "onset_off_beat",
    "duration_1",
    "duration_2",
    "duration_3_4",
    "duration_5_8",
    "duration_9_plus",
    "silence_short",
    "silence_beat",
    "silence_long",
];

/// Names of the statistics after the improvisation terms.
const STAT_NAMES: [&str; 10] = [
    "step_fraction",
    "leap_fraction",
    "mean_abs_interval",
    "note_density",
    "syncopation_fraction",
    "range",
    "chord_tone_strong_fraction",
    "blue_note_fraction",
    "blues_scale_fraction",
    "rest_fraction",
];

/// Names of the features, in order: the first [`LISTENER_TERM_COUNT`] improvisation terms
/// ([`IMPROV_TERM_NAMES`], each the per-step mean of its value over the phrase), then:
///
/// - `step_fraction`: intervals of 1 or 2 semitones, over all intervals between notes;
/// - `leap_fraction`: intervals of 5 semitones or more;
/// - `mean_abs_interval`: mean absolute interval, in octaves;
/// - `note_density`: notes per beat;
/// - `syncopation_fraction`: notes attacked off the beat and held across the next beat;
/// - `range`: highest minus lowest pitch, in octaves;
/// - `chord_tone_strong_fraction`: of the strong beats (downbeat, and mid-bar in even meters
///   of four beats or more) on which a note sounds, those where it is a chord tone;
/// - `blue_note_fraction`: notes on the flat third, flat fifth or flat seventh of the key's
///   tonic;
/// - `blues_scale_fraction`: notes in the tonic's blues scale (1, b3, 4, b5, 5, b7);
/// - `rest_fraction`: silent steps;
///
/// then the note profile: a description of the notes themselves, in shares, that names no
/// taste, so that the model can learn tastes nobody wrote a feature for (register, contour,
/// arpeggiation, the shape of a phrase):
///
/// - `pitch_quarter_1..4`: the mean pitch of the notes attacked in each quarter of the phrase,
///   as a share of the encoding's range (a quarter without notes takes the phrase's mean);
/// - `register_*`: the share of notes in each quarter of the encoding's range, low to high;
/// - `interval_*`: the share of intervals between notes falling by 7 semitones or more, by
///   3 to 6, by 1 or 2, repeating, rising by 1 or 2, by 3 to 6, by 7 or more;
/// - `motion_*`: the share of consecutive interval pairs (of moving intervals) that go up
///   then up, down then down, up then down, down then up;
/// - `onset_*`: the share of notes attacked on the downbeat, on another beat, on the half
///   beat, elsewhere;
/// - `duration_*`: the share of notes lasting 1, 2, 3–4, 5–8, 9 or more steps;
/// - `silence_*`: silences (runs of silent steps) per bar shorter than a beat, of one or two
///   beats, longer.
pub const FEATURE_NAMES: [&str; NUM_FEATURES] = {
    let mut names = [""; NUM_FEATURES];
    let mut i = 0;
    while i < LISTENER_TERM_COUNT {
        names[i] = IMPROV_TERM_NAMES[i];
        i += 1;
    }
    let mut j = 0;
    while j < STAT_NAMES.len() {
        names[LISTENER_TERM_COUNT + j] = STAT_NAMES[j];
        j += 1;
    }
    let mut k = 0;
    while k < NOTE_PROFILE_COUNT {
        names[NAMED_FEATURE_COUNT + k] = PROFILE_NAMES[k];
        k += 1;
    }
    names
};

/// Index of a feature by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURE_NAMES.iter().position(|n| *n == name)
}

/// Computes [`FEATURE_NAMES`] for phrases. Reusable: it keeps its reward terms and buffers,
/// so extracting a phrase allocates nothing.
#[derive(Debug, Clone)]
pub struct FeatureExtractor {
    improv: ImprovReward,
    terms: [f64; IMPROV_TERM_COUNT],
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureExtractor {
    /// An extractor of the listener's terms (see [`LISTENER_TERM_COUNT`]).
    pub fn new() -> Self {
        let mut weights = ImprovWeights::default();
        // The parameters the listener's features were defined with, whatever the preset's
        // balance has become since: the leap term paid a recovered leap on balance then.
        weights.leap_recovery.params.leap_penalty = 0.5;
        weights.leap_recovery.params.recovery_reward = 1.0;
        weights.set_weights(std::array::from_fn(|i| {
            if i < LISTENER_TERM_COUNT {
                1.0
            } else {
                0.0
            }
        }));
        Self {
            improv: ImprovReward::new(&weights).expect("default parameters are valid"),
            terms: [0.0; IMPROV_TERM_COUNT],
        }
    }

    /// Writes the features of `events` (a phrase in `setting`) into `out`.
    ///
    /// Errors on an empty phrase, an event outside the setting's encoding, or an `out` of
    /// the wrong length.
    pub fn extract_into(
        &mut self,
        setting: &Setting,
        events: &[Event],
        out: &mut [f64],
    ) -> Result<(), ListenerError> {
        if out.len() != NUM_FEATURES {
            return Err(ListenerError::Dimension {
                expected: NUM_FEATURES,
                got: out.len(),
            });
        }
        if events.is_empty() {
            return Err(ListenerError::EmptyPhrase);
        }
        let encoding = setting.encoding;
        if let Some(position) = events.iter().position(|&e| !encoding.contains(e as usize)) {
            return Err(ListenerError::BadEvent {
                event: events[position],
                position,
            });
        }
        out.fill(0.0);

        // Improvisation terms, per-step mean.
        self.improv.reset(setting);
        let mut sums = [0.0; LISTENER_TERM_COUNT];
        for (step, &action) in events.iter().enumerate() {
            let ctx = StepContext {
                setting,
                step,
                history: &events[..step],
                action,
            };
            self.improv.step(&ctx, &mut self.terms);
            for (sum, value) in sums.iter_mut().zip(&self.terms) {
                *sum += value;
            }
        }
        let len = events.len() as f64;
        for (slot, sum) in out.iter_mut().zip(sums) {
            *slot = sum / len;
        }

        // One pass over the notes: (pitch, start, end) decoded on the fly.
        let steps_per_beat = usize::from(setting.steps_per_beat.max(1));
        let steps_per_bar = setting.steps_per_bar().max(1);
        let beats = usize::from(setting.beats_per_bar);
        let strong = |step: usize| {
            let pos = step % steps_per_bar;
            pos == 0 || (beats >= 4 && beats % 2 == 0 && pos == steps_per_bar / 2)
        };
        let tonic = usize::from(setting.tonic % 12);
        let tonic_triad = setting.tonic_triad();
        let rel = |pitch: u8| (usize::from(pitch) + 12 - tonic) % 12;

        let (mut notes, mut steps, mut leaps, mut intervals) = (0usize, 0usize, 0usize, 0usize);
        let (mut abs_sum, mut syncopated, mut blue, mut blues_scale) = (0usize, 0usize, 0, 0);
        let (mut low, mut high) = (u8::MAX, 0u8);
        let (mut strong_sounding, mut strong_chord) = (0usize, 0usize);
        let mut silent = 0usize;
        let mut sounding: Option<u8> = None;
        let mut previous: Option<u8> = None;
        // The note in progress: its start, to judge syncopation when it ends.
        let mut current_start = 0usize;
        let close = |start: usize, end: usize, syncopated: &mut usize| {
            let next_beat = (start / steps_per_beat + 1) * steps_per_beat;
            if !start.is_multiple_of(steps_per_beat) && end > next_beat {
                *syncopated += 1;
            }
        };
        for (step, &event) in events.iter().enumerate() {
            match event {
                REST => {
                    if sounding.take().is_some() {
                        close(current_start, step, &mut syncopated);
                    }
                }
                HOLD => {}
                _ => {
                    let Some(pitch) = encoding.pitch_of(event) else {
                        continue;
                    };
                    if sounding.is_some() {
                        close(current_start, step, &mut syncopated);
                    }
                    sounding = Some(pitch);
                    current_start = step;
                    notes += 1;
                    low = low.min(pitch);
                    high = high.max(pitch);
                    match rel(pitch) {
                        3 | 6 | 10 => {
                            blue += 1;
                            blues_scale += 1;
                        }
                        0 | 5 | 7 => blues_scale += 1,
                        _ => {}
                    }
                    if let Some(prev) = previous {
                        let d = pitch.abs_diff(prev) as usize;
                        intervals += 1;
                        abs_sum += d;
                        if (1..=2).contains(&d) {
                            steps += 1;
                        } else if d >= 5 {
                            leaps += 1;
                        }
                    }
                    previous = Some(pitch);
                }
            }
            match sounding {
                None => silent += 1,
                Some(pitch) if strong(step) => {
                    strong_sounding += 1;
                    let tones = setting.chord_at(step).map_or(tonic_triad, |c| c.tones);
                    if tones & (1 << (pitch % 12)) != 0 {
                        strong_chord += 1;
                    }
                }
                Some(_) => {}
            }
        }
        if sounding.is_some() {
            close(current_start, events.len(), &mut syncopated);
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let stats = &mut out[LISTENER_TERM_COUNT..];
        stats[0] = ratio(steps, intervals);
        stats[1] = ratio(leaps, intervals);
        stats[2] = ratio(abs_sum, intervals) / 12.0;
        stats[3] = notes as f64 * steps_per_beat as f64 / len;
        stats[4] = ratio(syncopated, notes);
        stats[5] = if notes > 0 {
            f64::from(high - low) / 12.0
        } else {
            0.0
        };
        stats[6] = ratio(strong_chord, strong_sounding);
        stats[7] = ratio(blue, notes);
        stats[8] = ratio(blues_scale, notes);
        stats[9] = silent as f64 / len;
        profile(setting, events, &mut out[NAMED_FEATURE_COUNT..]);
        Ok(())
    }

    /// The features of a phrase, as a new vector.
    pub fn extract(
        &mut self,
        setting: &Setting,
        events: &[Event],
    ) -> Result<Vec<f64>, ListenerError> {
        let mut out = vec![0.0; NUM_FEATURES];
        self.extract_into(setting, events, &mut out)?;
        Ok(out)
    }
}

/// The note profile of a checked phrase (see [`FEATURE_NAMES`]) into `out`, zeroed. One pass
/// over the events, no allocation.
fn profile(setting: &Setting, events: &[Event], out: &mut [f64]) {
    let encoding = setting.encoding;
    let (low, high) = (
        f64::from(encoding.min_pitch()),
        f64::from(encoding.max_pitch()),
    );
    let span = (high - low).max(1.0);
    let length = events.len();
    let steps_per_beat = usize::from(setting.steps_per_beat.max(1));
    let steps_per_bar = setting.steps_per_bar().max(1);
    let bars = (length as f64 / steps_per_bar as f64).max(1.0);
    let (quarter, register, interval, motion, onset, duration, silence) = {
        let (q, rest) = out.split_at_mut(4);
        let (r, rest) = rest.split_at_mut(4);
        let (i, rest) = rest.split_at_mut(7);
        let (m, rest) = rest.split_at_mut(4);
        let (o, rest) = rest.split_at_mut(4);
        let (d, s) = rest.split_at_mut(5);
        (q, r, i, m, o, d, s)
    };
    let mut quarter_notes = [0usize; 4];
    let (mut notes, mut intervals, mut pairs) = (0usize, 0usize, 0usize);
    let mut pitch_sum = 0.0;
    let mut previous: Option<u8> = None;
    let mut last_direction = 0i32;
    // The note or silence in progress: its start, and whether it is a note.
    let mut run: Option<(usize, bool)> = None;
    let end_run =
        |start: usize, end: usize, note: bool, duration: &mut [f64], silence: &mut [f64]| {
            let steps = end - start;
            if note {
                let bin = match steps {
                    1 => 0,
                    2 => 1,
                    3..=4 => 2,
                    5..=8 => 3,
                    _ => 4,
                };
                duration[bin] += 1.0;
            } else {
                let bin = if steps < steps_per_beat {
                    0
                } else if steps <= 2 * steps_per_beat {
                    1
                } else {
                    2
                };
                silence[bin] += 1.0;
            }
        };
    for (step, &event) in events.iter().enumerate() {
        let pitch = match event {
            HOLD => continue,
            REST => None,
            _ => encoding.pitch_of(event),
        };
        if let Some((start, was_note)) = run {
            if pitch.is_some() || was_note {
                end_run(start, step, was_note, duration, silence);
                run = None;
            }
        }
        let Some(pitch) = pitch else {
            if run.is_none() {
                run = Some((step, false));
            }
            continue;
        };
        run = Some((step, true));
        notes += 1;
        let relative = (f64::from(pitch) - low) / span;
        pitch_sum += relative;
        let q = (4 * step / length.max(1)).min(3);
        quarter[q] += relative;
        quarter_notes[q] += 1;
        register[((relative * 4.0) as usize).min(3)] += 1.0;
        let position = step % steps_per_bar;
        let bin = if position == 0 {
            0
        } else if position.is_multiple_of(steps_per_beat) {
            1
        } else if 2 * (position % steps_per_beat) == steps_per_beat {
            2
        } else {
            3
        };
        onset[bin] += 1.0;
        if let Some(prev) = previous {
            let d = i32::from(pitch) - i32::from(prev);
            intervals += 1;
            let bin = match d {
                i32::MIN..=-7 => 0,
                -6..=-3 => 1,
                -2..=-1 => 2,
                0 => 3,
                1..=2 => 4,
                3..=6 => 5,
                _ => 6,
            };
            interval[bin] += 1.0;
            let direction = d.signum();
            if direction != 0 {
                if last_direction != 0 {
                    pairs += 1;
                    let bin = match (last_direction, direction) {
                        (1, 1) => 0,
                        (-1, -1) => 1,
                        (1, -1) => 2,
                        _ => 3,
                    };
                    motion[bin] += 1.0;
                }
                last_direction = direction;
            }
        }
        previous = Some(pitch);
    }
    if let Some((start, was_note)) = run {
        end_run(start, length, was_note, duration, silence);
    }
    let mean = if notes > 0 {
        pitch_sum / notes as f64
    } else {
        0.0
    };
    for (q, &n) in quarter.iter_mut().zip(&quarter_notes) {
        *q = if n > 0 { *q / n as f64 } else { mean };
    }
    let share = |values: &mut [f64], whole: usize| {
        if whole > 0 {
            values.iter_mut().for_each(|v| *v /= whole as f64);
        }
    };
    share(register, notes);
    share(interval, intervals);
    share(motion, pairs);
    share(onset, notes);
    share(duration, notes);
    silence.iter_mut().for_each(|v| *v /= bars);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::TaskSpec;

    fn setting() -> Setting {
        TaskSpec::by_name("improv", Some("length = 16"))
            .unwrap()
            .setting
    }

    #[test]
    fn names_are_complete_and_unique() {
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            assert!(!name.is_empty());
            assert_eq!(feature_index(name), Some(i));
        }
    }

    #[test]
    fn stepwise_line_has_steps_and_no_leaps() {
        let s = setting();
        let enc = s.encoding;
        // D E F G, a quarter each, over Dm7: D and F land on beats 1 and 3.
        let mut events = Vec::new();
        for pitch in [62u8, 64, 65, 67] {
            events.push(enc.event_of_pitch(pitch).unwrap());
            events.extend([HOLD; 3]);
        }
        let f = FeatureExtractor::new().extract(&s, &events).unwrap();
        let at = |n: &str| f[feature_index(n).unwrap()];
        assert_eq!(at("step_fraction"), 1.0);
        assert_eq!(at("leap_fraction"), 0.0);
        assert_eq!(at("note_density"), 1.0);
        assert_eq!(at("chord_tone_strong_fraction"), 1.0);
        assert_eq!(at("syncopation_fraction"), 0.0);
        assert_eq!(at("blue_note_fraction"), 0.0);
        assert!((at("range") - 5.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn blue_and_syncopated_notes_are_counted() {
        let s = setting();
        let enc = s.encoding;
        // Eb on the off-beat held over beat 2, then Bb, then C.
        let mut events = vec![
            REST,
            HOLD,
            enc.event_of_pitch(63).unwrap(),
            HOLD,
            HOLD,
            HOLD,
        ];
        events.extend([enc.event_of_pitch(70).unwrap(), HOLD]);
        events.extend([enc.event_of_pitch(72).unwrap(); 8]);
        let f = FeatureExtractor::new().extract(&s, &events).unwrap();
        let at = |n: &str| f[feature_index(n).unwrap()];
        assert!(at("syncopation_fraction") > 0.0);
        assert!(at("blue_note_fraction") > 0.0);
        assert!(at("rest_fraction") > 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        let s = setting();
        let mut x = FeatureExtractor::new();
        assert!(x.extract(&s, &[]).is_err());
        assert!(x.extract(&s, &[200]).is_err());
        assert!(x.extract_into(&s, &[REST], &mut [0.0; 3]).is_err());
    }
}
