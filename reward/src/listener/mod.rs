//! The listener: a model of one person's taste, learnt online from their reactions.
//!
//! A person listening to an improviser reacts to whole phrases: a rating from 1 to 5, a
//! like or a dislike, or a choice between two phrases ("A or B?"). This module turns those
//! reactions into a reward:
//!
//! 1. [`FeatureExtractor`] describes a phrase by [`NUM_FEATURES`] numbers ([`FEATURE_NAMES`]):
//!    the per-step mean of each improvisation term, and interval, rhythm and pitch
//!    statistics (steps and leaps, density, syncopation, range, chord tones on strong beats,
//!    blue notes), then a note profile that names no taste (pitch by quarter of the phrase,
//!    register, signed intervals, motion, onsets, durations, silences), so that tastes
//!    nobody wrote a feature for can be learnt.
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

mod error;
mod features;
mod model;
mod reward;

pub use error::ListenerError;
pub use features::{
    feature_index, FeatureExtractor, FEATURE_NAMES, FEATURE_RESOLUTION, LISTENER_TERM_COUNT,
    NAMED_FEATURE_COUNT, NOTE_PROFILE_COUNT, NUM_FEATURES,
};
pub use model::{Feedback, ListenerConfig, ListenerModel, MODEL_FORMAT, MODEL_VERSION};
pub use reward::ListenerReward;
