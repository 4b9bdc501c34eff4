//! `score`: per-step rewards and terms of whole melodies.

use crate::error::Error;
use crate::spec;
use cadenza_env::Event;
use cadenza_reward::score::score_melody;
use numpy::{PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// What `score` returns: rewards `(m, length)`, terms `(m, length, num_terms)`, term names.
type ScoreOut<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray3<f64>>,
    Vec<String>,
);

/// Scores melodies (an int64 array `(m, length)` of events, each row from a fresh episode)
/// with `reward` in the frame of `task`. Runs with the GIL released.
#[pyfunction]
#[pyo3(signature = (melodies, reward=None, task="rl-tuner", config=None))]
pub(crate) fn score<'py>(
    py: Python<'py>,
    melodies: PyReadonlyArray2<'py, i64>,
    reward: Option<&str>,
    task: &str,
    config: Option<&str>,
) -> PyResult<ScoreOut<'py>> {
    let spec = spec::task(task, config)?;
    let mut reward = spec::reward(reward, &spec)?;
    let term_names = reward.term_names();
    let (m, length) = (melodies.shape()[0], melodies.shape()[1]);
    if length > spec.setting.length {
        return Err(Error::argument(
            "melodies",
            format!(
                "melodies have {length} steps, but task '{}' has {} steps per episode",
                spec.name, spec.setting.length
            ),
        )
        .into());
    }
    let encoding = spec.setting.encoding;
    let num_events = encoding.num_events();
    let events = melodies.as_array();
    let mut melody_events: Vec<Event> = Vec::with_capacity(m * length);
    for ((row, step), &e) in events.indexed_iter() {
        let event = u8::try_from(e)
            .ok()
            .filter(|&e| usize::from(e) < num_events)
            .ok_or_else(|| {
                Error::argument(
                    "melodies",
                    format!(
                        "event {e} at [{row}, {step}] is outside the encoding {encoding} (valid: 0..{num_events})"
                    ),
                )
            })?;
        melody_events.push(event);
    }
    let nt = term_names.len();
    let (rewards, terms) = py.detach(|| {
        let mut rewards = Vec::with_capacity(m * length);
        let mut terms = Vec::with_capacity(m * length * nt);
        for melody in melody_events.chunks(length.max(1)).take(m) {
            let scored = score_melody(&mut reward, &spec.setting, melody);
            for step in scored.steps {
                rewards.push(step.reward);
                terms.extend_from_slice(&step.terms);
            }
        }
        (rewards, terms)
    });
    let rewards = numpy::PyArray1::from_vec(py, rewards).reshape([m, length])?;
    let terms = numpy::PyArray1::from_vec(py, terms).reshape([m, length, nt])?;
    Ok((rewards, terms, term_names))
}
