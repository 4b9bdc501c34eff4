//! Errors of the listener model and its features.

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
