//! Errors of the improvisation terms and their configuration.

/// What can go wrong when building improvisation terms or reading their configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImprovError {
    /// A parameter is NaN, infinite or outside its allowed range.
    #[error("invalid `{field}` = {value}: expected {expected}")]
    InvalidParam {
        /// The parameter, as `field` or `section.field` inside a configuration.
        field: String,
        /// The rejected value, as written.
        value: String,
        /// The allowed range, in words.
        expected: String,
    },
    /// A configuration could not be parsed (syntax, unknown or mistyped fields).
    #[error("invalid improv configuration: {0}")]
    Config(String),
}

impl ImprovError {
    /// Prefixes the field of an [`ImprovError::InvalidParam`] with the section it came from.
    pub(crate) fn in_section(self, section: &str) -> Self {
        match self {
            Self::InvalidParam {
                field,
                value,
                expected,
            } => Self::InvalidParam {
                field: format!("{section}.{field}"),
                value,
                expected,
            },
            other => other,
        }
    }
}

/// Checks that a real parameter is finite and within `lo..=hi`.
pub(crate) fn check_real(field: &str, value: f64, lo: f64, hi: f64) -> Result<(), ImprovError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ImprovError::InvalidParam {
            field: field.to_string(),
            value: value.to_string(),
            expected: format!("a finite number in {lo}..={hi}"),
        })
    }
}

/// Checks that an integer parameter is within `lo..=hi`.
pub(crate) fn check_int(field: &str, value: u64, lo: u64, hi: u64) -> Result<(), ImprovError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ImprovError::InvalidParam {
            field: field.to_string(),
            value: value.to_string(),
            expected: format!("an integer in {lo}..={hi}"),
        })
    }
}

/// Upper bound of reward magnitudes: generous, but it keeps totals far from overflow and
/// catches unit mistakes such as `1e9`.
pub(crate) const MAX_MAGNITUDE: f64 = 100.0;
