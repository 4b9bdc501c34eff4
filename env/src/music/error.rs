//! The one error type of the music model.

/// Errors of the music model: every variant names the offending input and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MusicError {
    /// Text that is not a note name.
    #[error(
        "invalid note name {text:?}: expected a letter A-G followed by at most two accidentals \
         (#, b, ##, bb or x)"
    )]
    InvalidNoteName {
        /// The text as given.
        text: String,
    },
    /// A pitch class number outside 0..12.
    #[error("pitch class {value} is out of range: expected 0..=11")]
    PitchClassOutOfRange {
        /// The number as given.
        value: i32,
    },
    /// Text that is not a pitch.
    #[error("invalid pitch {text:?}: {reason}")]
    InvalidPitch {
        /// The text as given.
        text: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A MIDI pitch number outside 0..=127.
    #[error("MIDI pitch {value} is out of range: expected 0..=127")]
    PitchOutOfRange {
        /// The number that was asked for.
        value: i32,
    },
    /// Text that is not a mode name.
    #[error("unknown mode {text:?}: expected one of {expected}")]
    UnknownMode {
        /// The text as given.
        text: String,
        /// The accepted names.
        expected: String,
    },
    /// Text that is not a key.
    #[error("invalid key {text:?}: {reason}")]
    InvalidKey {
        /// The text as given.
        text: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A key signature outside -7..=7.
    #[error("invalid key signature {sharps}: expected -7..=7 sharps (negative numbers are flats)")]
    InvalidKeySignature {
        /// The number of sharps asked for.
        sharps: i8,
    },
    /// Text that is not a chord symbol.
    #[error("invalid chord symbol {symbol:?}: {reason}")]
    InvalidChord {
        /// The symbol as given.
        symbol: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// Text or numbers that are not a meter.
    #[error("invalid meter {text:?}: {reason}")]
    InvalidMeter {
        /// The meter as given.
        text: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A bar that does not divide into a whole number of steps.
    #[error(
        "a bar of {meter} is not a whole number of steps at {steps_per_quarter} steps per quarter \
         note: expected steps_per_quarter >= 1 with numerator * 4 * steps_per_quarter divisible \
         by the denominator"
    )]
    StepsNotIntegral {
        /// The meter.
        meter: String,
        /// The grid asked for.
        steps_per_quarter: u32,
    },
    /// A tempo outside the accepted range.
    #[error(
        "invalid tempo {text:?}: expected a finite number of quarter notes per minute in 10..=400"
    )]
    InvalidTempo {
        /// The tempo as given.
        text: String,
    },
    /// Text or chords that are not a progression.
    #[error("invalid progression {text:?}: {reason}")]
    InvalidProgression {
        /// The progression as given.
        text: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A progression preset name that does not exist.
    #[error("unknown progression preset {name:?}: expected one of {expected}")]
    UnknownPreset {
        /// The name as given.
        name: String,
        /// The valid preset names.
        expected: String,
    },
}

/// Result of the music model.
pub type Result<T, E = MusicError> = std::result::Result<T, E>;
