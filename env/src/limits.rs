//! The sizes Cadenza accepts, in one place, so that nothing a user types or loads can make it
//! allocate without bound.
//!
//! Every size that comes from a flag, a settings file or an input file is checked against
//! one of these limits *before* anything of that size is allocated, and a size past its
//! limit is an error that names the input and the limit. The README's "Limits" section lists
//! them with the commands they bound; the command-line limits that concern one command only
//! (how many melodies `generate` samples, how many held-out questions a simulated session
//! asks) live beside that command and are listed there too.

/// Most steps a melody may last: an improvisation task's `length`, a melody read from JSON or
/// event text, and a MIDI file once quantised (up to the end of its last note). At the
/// default grid of four steps per quarter note and 120 quarter notes per minute this is more
/// than 34 hours of music; at 48 steps per quarter, nearly three hours. The limit keeps a
/// small file whose few notes each last billions of ticks from expanding into gigabytes of
/// events.
pub const MAX_MELODY_STEPS: usize = 1_000_000;

/// Most sub-environments a vector env holds, and so the most envs training steps together
/// (`[train] num_envs`, `train --envs`, a policy-gradient agent's `num_envs`). Each sub-env
/// owns its state, observation and reward buffers, so the limit bounds that memory; four
/// thousand envs are far more than the cores of any machine this runs on can step.
pub const MAX_ENVS: usize = 4096;

/// Checks a count of sub-envs against [`MAX_ENVS`] (and against 0) before any env is built;
/// `what` names where the count came from in the error (e.g. `--envs` or `[train] num_envs`).
///
/// ```
/// use cadenza_env::limits::{check_envs, MAX_ENVS};
/// assert!(check_envs("--envs", 8).is_ok());
/// let err = check_envs("--envs", 1_000_000_000).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     format!("--envs: 1000000000 sub-envs asked for, but at most {MAX_ENVS} are allowed (1..={MAX_ENVS})")
/// );
/// ```
pub fn check_envs(what: &str, count: usize) -> Result<(), LimitError> {
    check(what, count, 1, MAX_ENVS, "sub-envs")
}

/// Checks that `value` (a count of `unit`, from the input `what`) lies in `min..=max`.
pub fn check(
    what: &str,
    value: usize,
    min: usize,
    max: usize,
    unit: &'static str,
) -> Result<(), LimitError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(LimitError {
            what: what.to_string(),
            value,
            min,
            max,
            unit,
        })
    }
}

/// A size outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {value} {unit} asked for, but {} are allowed ({min}..={max})", allowed(*.value, *.min, *.max))]
#[non_exhaustive]
pub struct LimitError {
    /// Where the size came from: a flag, a settings field, a file.
    pub what: String,
    /// The size asked for.
    pub value: usize,
    /// The smallest allowed.
    pub min: usize,
    /// The largest allowed.
    pub max: usize,
    /// What is counted (`sub-envs`, `melodies`, ...).
    pub unit: &'static str,
}

fn allowed(value: usize, min: usize, max: usize) -> String {
    if value > max {
        format!("at most {max}")
    } else {
        format!("at least {min}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outside_the_range_name_the_input_and_the_limit() {
        assert!(check_envs("x", 1).is_ok());
        assert!(check_envs("x", MAX_ENVS).is_ok());
        let err = check_envs("[train] num_envs", MAX_ENVS + 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[train] num_envs: 4097 sub-envs asked for, but at most 4096 are allowed (1..=4096)"
        );
        let err = check_envs("--envs", 0).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }
}
