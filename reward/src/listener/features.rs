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

/// Number of phrase features.
pub const NUM_FEATURES: usize = LISTENER_TERM_COUNT + 10;

/// The smallest difference in each feature ([`FEATURE_NAMES`] order) that a listener is taken
/// to hear: half the standard deviation of the feature over real tunes (the tuning half of
/// the held-out corpus, 64 steps each; `tests/listener_resolution.rs` measures it and checks
/// these values against it). A session standardises features by the spread of its agent's
/// phrases; an agent that plays consistently has a tiny spread, and without this floor a
/// difference nobody hears would count as several standard deviations of taste.
/// `syncopation_fraction` does not vary in the folk corpus (its tunes barely syncopate): its
/// resolution is one syncopated note in twenty.
pub const FEATURE_RESOLUTION: [f64; NUM_FEATURES] = [
    0.013, 0.013, 0.014, 0.0075, 0.0035, 0.005, 0.034, 0.0085, 0.004, 0.01, // terms
    0.08, 0.038, 0.017, 0.47, 0.05, 0.13, 0.11, 0.039, 0.063, 0.039, // statistics
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
/// - `rest_fraction`: silent steps.
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
