//! [`Env`]: one composition environment, the native core of `cadenza.CadenzaEnv`.

use crate::error::Error;
use crate::spec::{self, DynEnv};
use cadenza_env::Environment;
use numpy::PyArray1;
use pyo3::prelude::*;
use std::sync::{Mutex, PoisonError};

/// What `reset` returns: the observation and the action mask.
type ResetOut<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<bool>>);

/// What `step` returns: observation, reward, terminated, truncated, action mask, term values.
type StepOut<'py> = (
    Bound<'py, PyArray1<f32>>,
    f64,
    bool,
    bool,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<f64>>,
);

/// One composition environment.
///
/// `Env(task, config=None, reward=None)`: `task` is a task name (`"rl-tuner"`, `"improv"`),
/// `config` the TOML text of a configurable task, `reward` a reward preset name or the path
/// of a `.toml` reward definition (default: the task's own reward).
///
/// Every call returns fresh arrays, never views of the env's state.
#[pyclass(module = "cadenza._cadenza")]
pub struct Env {
    /// Behind a lock only so that the class may be shared between threads; `&mut self`
    /// methods reach it without locking.
    env: Mutex<DynEnv>,
    obs_dim: usize,
    num_actions: usize,
    term_names: Vec<String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("obs_dim", &self.obs_dim)
            .field("num_actions", &self.num_actions)
            .finish()
    }
}

impl Env {
    fn inner(&mut self) -> &mut DynEnv {
        self.env.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn inner_ref(&self) -> std::sync::MutexGuard<'_, DynEnv> {
        self.env.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Env {
    #[new]
    #[pyo3(signature = (task, config=None, reward=None))]
    fn new(task: &str, config: Option<&str>, reward: Option<&str>) -> PyResult<Self> {
        let env = spec::env(task, config, reward)?;
        Ok(Self {
            obs_dim: env.observation_space().dim(),
            num_actions: env.action_space().n,
            term_names: env.term_names().to_vec(),
            env: Mutex::new(env),
        })
    }

    /// Starts an episode; `seed` reseeds the env's generator. Returns `(observation, mask)`.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> PyResult<ResetOut<'py>> {
        let mut observation = vec![0.0f32; self.obs_dim];
        let env = self.inner();
        env.reset_into(seed, &mut observation)
            .map_err(Error::from)?;
        let mask = PyArray1::from_slice(py, env.action_mask());
        Ok((PyArray1::from_vec(py, observation), mask))
    }

    /// Takes one action. Returns `(observation, reward, terminated, truncated, mask, terms)`.
    fn step<'py>(&mut self, py: Python<'py>, action: i64) -> PyResult<StepOut<'py>> {
        let n = self.num_actions;
        let action = spec::action_index(action, n, "action", || action.to_string())?;
        let mut observation = vec![0.0f32; self.obs_dim];
        let env = self.inner();
        let t = env
            .step_into(action, &mut observation)
            .map_err(Error::from)?;
        let mask = PyArray1::from_slice(py, env.action_mask());
        let terms = PyArray1::from_slice(py, env.term_values());
        Ok((
            PyArray1::from_vec(py, observation),
            t.reward,
            t.terminated,
            t.truncated,
            mask,
            terms,
        ))
    }

    /// The current action mask (a fresh array).
    fn action_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        PyArray1::from_slice(py, self.inner_ref().action_mask())
    }

    /// The events chosen so far in this episode.
    fn melody<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let events: Vec<i64> = self
            .inner_ref()
            .melody()
            .iter()
            .map(|&e| e.into())
            .collect();
        PyArray1::from_vec(py, events)
    }

    /// A fingerprint of the env's random generator: equal states give equal values.
    fn rng_fingerprint(&self) -> u64 {
        self.inner_ref().rng_fingerprint()
    }

    /// Releases resources; may be called more than once.
    fn close(&mut self) {
        self.inner().close();
    }

    /// Lower bounds of the observation.
    #[getter]
    fn obs_low<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, &self.inner_ref().observation_space().low)
    }

    /// Upper bounds of the observation.
    #[getter]
    fn obs_high<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, &self.inner_ref().observation_space().high)
    }

    /// Length of the observation vector.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Number of actions (events).
    #[getter]
    fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// Names of the reward terms, in the order of `terms`.
    #[getter]
    fn term_names(&self) -> Vec<String> {
        self.term_names.clone()
    }

    /// Steps taken in the current episode.
    #[getter]
    fn elapsed_steps(&self) -> usize {
        self.inner_ref().elapsed_steps()
    }

    /// The task's name.
    #[getter]
    fn task_name(&self) -> String {
        self.inner_ref().task().name.clone()
    }

    /// Steps per episode.
    #[getter]
    fn length(&self) -> usize {
        self.inner_ref().task().setting.length
    }

    /// MIDI pitch of the lowest pitch event (event 2; events 0 and 1 are rest and hold).
    #[getter]
    fn min_pitch(&self) -> u8 {
        self.inner_ref().task().setting.encoding.min_pitch()
    }

    /// The task's key, e.g. `C major`.
    #[getter]
    fn key_name(&self) -> String {
        self.inner_ref().task().key_name.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Env(task={:?}, obs_dim={}, num_actions={})",
            self.inner_ref().task().name,
            self.obs_dim,
            self.num_actions
        )
    }
}
