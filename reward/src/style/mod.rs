//! The style prior: a melody model conditioned on the harmony, learned from example melodies.
//!
//! The corpus n-gram ([`crate::corpus`]) predicts the next event from the last few events and
//! the position in the bar, in the key the corpus was transposed to. That serves `rl-tuner`,
//! whose melodies live in C major with no chords, but it cannot say what a line should do over
//! a G7 in bar 3 of a blues in F. [`StyleModel`] can: it reads every step relative to the
//! harmony, so what it learns from Irish reels in D carries over to a ii-V-I in B flat.
//!
//! # The model
//!
//! The probability of the next event factors into its rhythm and, for a new note, its pitch:
//!
//! ```text
//! P(event)        = P(kind | metric class, previous kind, steps since the last onset)
//! P(pitch | onset) ∝ P_chord(pitch − chord root | chord quality, metric strength)
//!                  · P_key(pitch − tonic | mode)
//!                  · P_interval(pitch − last pitch | last interval's direction and size)
//! ```
//!
//! * **Rhythm** (onset, hold or rest) depends on where the step falls in the bar (downbeat,
//!   mid-bar beat, other beat, half beat, finer), what the previous step was, and how long the
//!   current note or rest has lasted (1, 2, 3, 4-5, 6-7, 8-11, 12+ steps). Sparse contexts back
//!   off to the metric class and the previous kind.
//! * **Pitch** is a product of three experts, renormalised over the encoding's pitches: the
//!   chord-relative pitch class (by chord quality: major, minor, dominant seventh, other; and by
//!   metric strength: strong beat, beat, off beat), which is where "chord tones on the beat,
//!   passing tones between" lives; the key-relative pitch class (major or minor), which keeps
//!   the line in the key where the chord says little; and the interval from the last note (by
//!   the last interval's direction and size: steps, leaps, repeats), which is where "leaps come
//!   back by step" lives. A product of experts needs far less data than one joint table over
//!   all these conditions, which matters for corpora of a few hundred tunes.
//!
//! Every table is smoothed with pseudo-counts, so every event keeps a non-zero probability.
//! Melodies that come with chords (a task's progression, a lead sheet's chord symbols) are
//! fitted over them; melodies without are harmonised first by [`estimate_chords`], one chord
//! per half bar (or bar) from the key's diatonic triads and its dominant seventh.
//!
//! # Uses
//!
//! * **A reward term**, `style_log_prob` ([`StyleReward`], the registry's `[style]` section):
//!   the log-probability of each chosen event, clamped below at a floor. It costs one pass over
//!   the encoding's pitches on an onset and a table read otherwise, whatever the melody's
//!   length, with no allocation.
//! * **A prior for agents**, as the n-gram is for `rl-tuner`: [`StyleModel::distribution`]
//!   gives the whole next-event distribution.
//! * **A density model**: [`StyleModel::nll_per_event`] scores held-out melodies.
//!
//! [`StyleModel::builtin`] is a model fitted on the training part of the repository's O'Neill's
//! corpus (every file but every fifth, which the musicianship calibration holds out), shipped
//! in the crate so that the `improv` presets can use it with no file; `cadenza corpus fit
//! --model style` fits one on any corpus.
//!
//! ```
//! use cadenza_env::{Setting, HOLD};
//! use cadenza_reward::style::{StyleModel, StyleState};
//!
//! let model = StyleModel::builtin();
//! let setting = Setting::rl_tuner();
//! let mut dist = vec![0.0; setting.encoding.num_events()];
//! model.distribution(&setting, 0, &StyleState::new(), &mut dist)?;
//! assert!((dist.iter().sum::<f64>() - 1.0).abs() < 1e-9);
//! # Ok::<(), cadenza_reward::corpus::CorpusError>(())
//! ```

mod estimate;
mod model;
mod reward;

pub use estimate::estimate_chords;
pub use model::{StyleCounts, StyleModel, StyleState};
pub use reward::{StylePart, StylePrior, StyleReward};

use std::sync::{Arc, OnceLock};

/// The shipped model's file: fitted on the repository's O'Neill's corpus without its held-out
/// fifth (reproduced byte for byte by the `style_prior` test with
/// `CADENZA_WRITE_STYLE_MODEL=1`).
pub const BUILTIN_MODEL_JSON: &str = include_str!("../../data/style-oneills.json");

impl StyleModel {
    /// The model shipped with Cadenza (see [`BUILTIN_MODEL_JSON`]), parsed once per process.
    pub fn builtin() -> Arc<StyleModel> {
        static MODEL: OnceLock<Arc<StyleModel>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                // The shipped file is checked by the test that reproduces it; a parse failure
                // here would be a build defect, not user input.
                Arc::new(
                    StyleModel::from_json_str(BUILTIN_MODEL_JSON)
                        .expect("the shipped style model parses"),
                )
            })
            .clone()
    }
}
