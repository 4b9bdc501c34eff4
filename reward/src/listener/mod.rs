//! The listener: a model of one person's taste, learnt online from their reactions.
//!
//! A person listening to an improviser reacts to whole phrases: a rating from 1 to 5, a
//! like or a dislike, or a choice between two phrases ("A or B?"). This module turns those
//! reactions into a reward:
//!
//! 1. [`FeatureExtractor`] describes a phrase by [`NUM_FEATURES`] numbers ([`FEATURE_NAMES`]):
//!    the per-step mean of each improvisation term, and interval, rhythm and pitch
//!    statistics (steps and leaps, density, syncopation, range, chord tones on strong beats,
//!    blue notes).
//! 2. [`ListenerModel`] is a Bayesian logistic / Bradley-Terry regression over the
//!    standardised features: a Gaussian posterior (Laplace approximation) that learns from
//!    tens of reactions, knows how unsure it is, and picks the most informative A/B pair to
//!    ask about next ([`ListenerModel::choose_pair`]).
//! 3. [`ListenerReward`] makes a saved model a reward term, `listener`, usable in any reward
//!    TOML as `[listener] model = "taste.json"`.
//!
//! ```
//! use cadenza_env::TaskSpec;
//! use cadenza_reward::listener::{Feedback, FeatureExtractor, ListenerConfig, ListenerModel};
//!
//! let task = TaskSpec::by_name("improv", Some("length = 16")).unwrap();
//! let enc = task.setting.encoding;
//! let up: Vec<u8> = [62u8, 64, 65, 67].iter().flat_map(|&p| [enc.event_of_pitch(p).unwrap(), 1, 1, 1]).collect();
//! let jumpy: Vec<u8> = [62u8, 74, 60, 79].iter().flat_map(|&p| [enc.event_of_pitch(p).unwrap(), 1, 1, 1]).collect();
//! let mut x = FeatureExtractor::new();
//! let (a, b) = (x.extract(&task.setting, &up).unwrap(), x.extract(&task.setting, &jumpy).unwrap());
//!
//! let mut model = ListenerModel::for_phrases(ListenerConfig::default()).unwrap();
//! model.calibrate(&[a.clone(), b.clone()]).unwrap();
//! for _ in 0..3 {
//!     model.observe(Feedback::Preference { a: a.clone(), b: b.clone(), a_preferred: true }).unwrap();
//! }
//! assert!(model.utility(&a).unwrap() > model.utility(&b).unwrap());
//! assert!(model.prob_prefers(&a, &b).unwrap() > 0.5);
//! ```

mod features;
mod model;
mod reward;

pub use features::{feature_index, FeatureExtractor, FEATURE_NAMES, NUM_FEATURES};
pub use model::{Feedback, ListenerConfig, ListenerModel, MODEL_FORMAT, MODEL_VERSION};
pub use reward::ListenerReward;

/// Errors of the listener model and its features.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// A feature vector of the wrong length.
    #[error("expected {expected} features, got {got}")]
    Dimension {
        /// Length required.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A NaN or infinite feature (or a non-positive scale).
    #[error("feature '{feature}' is {value}: expected a finite number")]
    NonFinite {
        /// The feature.
        feature: String,
        /// The value.
        value: f64,
    },
    /// A rating outside 1..=5.
    #[error("rating {0}: expected 1..=5")]
    Rating(u8),
    /// A phrase with no events (or no samples to calibrate from).
    #[error("empty phrase: expected at least one event")]
    EmptyPhrase,
    /// An event outside the setting's encoding.
    #[error("event {event} at position {position} is outside the encoding")]
    BadEvent {
        /// The event.
        event: u8,
        /// Its position in the phrase.
        position: usize,
    },
    /// A bad configuration field.
    #[error("invalid listener config: field '{field}': {message}")]
    Config {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A model file that cannot be read or written.
    #[error("listener model {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A model file that is not a valid model.
    #[error("listener model {path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}
