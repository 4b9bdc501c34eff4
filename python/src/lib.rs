//! # cadenza-python
//!
//! The native half of the `cadenza` Python package: Cadenza's composition environments,
//! a vector env that steps all its sub-envs in one call with the GIL released, melody
//! scoring and MIDI import/export, exposed to Python through PyO3 and rust-numpy.
//!
//! Python users never import this module directly: `python/cadenza/` wraps it into a
//! `gymnasium.Env`, a `gymnasium.vector.VectorEnv` and plain functions, and registers the
//! tasks with Gymnasium:
//!
//! ```python
//! import cadenza, gymnasium as gym
//! env = gym.make("cadenza/RLTuner-v0")
//! obs, info = env.reset(seed=0)
//! obs, reward, terminated, truncated, info = env.step(14)  # C4
//! ```
//!
//! Every error becomes a Python exception (`ValueError` for bad input, `RuntimeError` for a
//! call out of order, `OSError` for files) whose message names what is wrong; nothing a
//! caller passes can crash the interpreter.

#![warn(missing_docs)]

mod env;
mod error;
mod midi;
mod score;
mod spec;
mod vector;

use pyo3::prelude::*;

pub use error::Error;

/// The native module `cadenza._cadenza`.
#[pymodule]
fn _cadenza(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<env::Env>()?;
    m.add_class::<vector::VecEnv>()?;
    m.add_function(wrap_pyfunction!(score::score, m)?)?;
    m.add_function(wrap_pyfunction!(midi::to_midi, m)?)?;
    m.add_function(wrap_pyfunction!(midi::duet_to_midi, m)?)?;
    m.add_function(wrap_pyfunction!(midi::write_song, m)?)?;
    m.add_function(wrap_pyfunction!(midi::from_midi, m)?)?;
    m.add_function(wrap_pyfunction!(spec::task_names, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
