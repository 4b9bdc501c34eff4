//! [`VecEnv`]: N environments stepped in one call, straight into the caller's numpy arrays.
//!
//! The semantics are those of `cadenza_env::VecEnv` and of Gymnasium's vector envs:
//! sub-env `i` is seeded with `seed + i`, a sub-env whose episode ended is reset by the
//! *next* `step` (its action ignored, reward 0, both flags false), and `reset` can take a
//! mask of the sub-envs to reset. The stepping loop lives here rather than in
//! `cadenza_env::VecEnv` so that it writes into the arrays Python hands over instead of
//! into buffers of its own, which would cost a copy of every observation per step.

use crate::error::Error;
use crate::spec::{self, DynEnv};
use cadenza_env::{EnvError, Environment};
use numpy::{PyReadonlyArray1, PyReadwriteArray1, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::sync::{Mutex, PoisonError};

/// The arrays a step or reset writes, one row per sub-env.
struct Out<'a> {
    observations: &'a mut [f32],
    rewards: &'a mut [f64],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
    masks: &'a mut [bool],
    terms: &'a mut [f64],
    steps: &'a mut [i64],
}

/// The sub-envs and what the vector env remembers about each.
struct Inner {
    envs: Vec<DynEnv>,
    /// Reset at least once.
    started: Vec<bool>,
    /// The episode ended on the last step: the next step resets instead.
    needs_reset: Vec<bool>,
    obs_dim: usize,
    num_actions: usize,
    num_terms: usize,
}

impl Inner {
    /// Writes sub-env `i`'s mask, terms and step count after a reset or a step.
    #[inline]
    fn write_state(&self, i: usize, out: &mut Out<'_>) {
        let env = &self.envs[i];
        let (na, nt) = (self.num_actions, self.num_terms);
        out.masks[i * na..(i + 1) * na].copy_from_slice(env.action_mask());
        out.terms[i * nt..(i + 1) * nt].copy_from_slice(env.term_values());
        out.steps[i] = env.elapsed_steps() as i64;
    }

    fn reset_one(&mut self, i: usize, seed: Option<u64>, out: &mut Out<'_>) -> Result<(), Error> {
        let dim = self.obs_dim;
        self.envs[i]
            .reset_into(seed, &mut out.observations[i * dim..(i + 1) * dim])
            .map_err(|source| Error::SubEnv { index: i, source })?;
        out.rewards[i] = 0.0;
        out.terminated[i] = false;
        out.truncated[i] = false;
        self.started[i] = true;
        self.needs_reset[i] = false;
        self.write_state(i, out);
        Ok(())
    }

    /// Checks every action before any sub-env moves, so that bad input changes nothing.
    fn validate(&self, actions: &[i64]) -> Result<(), Error> {
        let n = self.num_actions;
        for (i, &action) in actions.iter().enumerate() {
            if !self.started[i] {
                return Err(Error::Order(format!(
                    "step called before reset (sub-env {i} was never reset): call reset(seed=...) first"
                )));
            }
            if self.needs_reset[i] {
                continue; // ignored: this step resets the sub-env
            }
            let a =
                spec::action_index(action, n, "actions", || format!("actions[{i}] = {action}"))?;
            if !self.envs[i].action_mask()[a] {
                return Err(Error::SubEnv {
                    index: i,
                    source: EnvError::ActionMasked {
                        action: a,
                        step: self.envs[i].elapsed_steps(),
                    },
                });
            }
        }
        Ok(())
    }

    /// Steps (or autoresets) every sub-env. Allocates nothing.
    fn step(&mut self, actions: &[i64], out: &mut Out<'_>) -> Result<(), Error> {
        let dim = self.obs_dim;
        for (i, &action) in actions.iter().enumerate() {
            if self.needs_reset[i] {
                self.reset_one(i, None, out)?;
                continue;
            }
            let t = self.envs[i]
                .step_into(
                    action as usize,
                    &mut out.observations[i * dim..(i + 1) * dim],
                )
                .map_err(|source| Error::SubEnv { index: i, source })?;
            out.rewards[i] = t.reward;
            out.terminated[i] = t.terminated;
            out.truncated[i] = t.truncated;
            self.needs_reset[i] = t.terminated || t.truncated;
            self.write_state(i, out);
        }
        Ok(())
    }
}

/// N composition environments stepped together.
///
/// `VecEnv(num_envs, task, config=None, reward=None)`. `reset` and `step` write into arrays
/// the caller owns (C-contiguous, one row per sub-env): observations `(n, obs_dim)` float32,
/// rewards `(n,)` float64, terminated and truncated `(n,)` bool, action masks
/// `(n, num_actions)` bool, reward terms `(n, num_terms)` float64 and episode steps `(n,)`
/// int64. `step` runs with the GIL released.
#[pyclass(module = "cadenza._cadenza")]
pub struct VecEnv {
    inner: Mutex<Inner>,
    term_names: Vec<String>,
}

impl std::fmt::Debug for VecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VecEnv")
            .field("term_names", &self.term_names)
            .finish()
    }
}

/// Borrows the caller's arrays, checking their shapes.
struct Arrays<'py> {
    observations: PyReadwriteArray2<'py, f32>,
    rewards: PyReadwriteArray1<'py, f64>,
    terminated: PyReadwriteArray1<'py, bool>,
    truncated: PyReadwriteArray1<'py, bool>,
    masks: PyReadwriteArray2<'py, bool>,
    terms: PyReadwriteArray2<'py, f64>,
    steps: PyReadwriteArray1<'py, i64>,
}

fn contiguous<'a, T>(
    what: &'static str,
    result: Result<&'a mut [T], numpy::AsSliceError>,
) -> Result<&'a mut [T], Error> {
    result.map_err(|_| Error::argument(what, "must be a C-contiguous array"))
}

fn check_shape(what: &'static str, got: &[usize], expected: &[usize]) -> Result<(), Error> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::argument(
            what,
            format!("has shape {got:?}, expected {expected:?}"),
        ))
    }
}

impl<'py> Arrays<'py> {
    fn check(&self, inner: &Inner) -> Result<(), Error> {
        let n = inner.envs.len();
        check_shape(
            "observations",
            self.observations.shape(),
            &[n, inner.obs_dim],
        )?;
        check_shape("rewards", self.rewards.shape(), &[n])?;
        check_shape("terminated", self.terminated.shape(), &[n])?;
        check_shape("truncated", self.truncated.shape(), &[n])?;
        check_shape("masks", self.masks.shape(), &[n, inner.num_actions])?;
        check_shape("terms", self.terms.shape(), &[n, inner.num_terms])?;
        check_shape("steps", self.steps.shape(), &[n])
    }

    fn slices(&mut self) -> Result<Out<'_>, Error> {
        Ok(Out {
            observations: contiguous("observations", self.observations.as_slice_mut())?,
            rewards: contiguous("rewards", self.rewards.as_slice_mut())?,
            terminated: contiguous("terminated", self.terminated.as_slice_mut())?,
            truncated: contiguous("truncated", self.truncated.as_slice_mut())?,
            masks: contiguous("masks", self.masks.as_slice_mut())?,
            terms: contiguous("terms", self.terms.as_slice_mut())?,
            steps: contiguous("steps", self.steps.as_slice_mut())?,
        })
    }
}

impl VecEnv {
    fn inner(&mut self) -> &mut Inner {
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl VecEnv {
    #[new]
    #[pyo3(signature = (num_envs, task, config=None, reward=None))]
    fn new(
        num_envs: usize,
        task: &str,
        config: Option<&str>,
        reward: Option<&str>,
    ) -> PyResult<Self> {
        // Checked before any env is built: a huge count would abort the interpreter.
        cadenza_env::limits::check_envs("num_envs", num_envs)
            .map_err(|e| Error::argument("num_envs", e.to_string()))?;
        let spec = spec::task(task, config)?;
        let mut envs = Vec::with_capacity(num_envs);
        for _ in 0..num_envs {
            let reward = spec::reward(reward, &spec)?;
            envs.push(cadenza_env::ComposeEnv::new(spec.clone(), reward));
        }
        let first = &envs[0];
        let obs_dim = first.observation_space().dim();
        let num_actions = first.action_space().n;
        let term_names = first.term_names().to_vec();
        Ok(Self {
            inner: Mutex::new(Inner {
                started: vec![false; num_envs],
                needs_reset: vec![false; num_envs],
                obs_dim,
                num_actions,
                num_terms: term_names.len(),
                envs,
            }),
            term_names,
        })
    }

    /// Resets the sub-envs whose `which` flag is set (all when `which` is None); `seeds`
    /// holds one seed or None per sub-env (None: continue the sub-env's generator).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (observations, rewards, terminated, truncated, masks, terms, steps, seeds=None, which=None))]
    fn reset<'py>(
        &mut self,
        observations: PyReadwriteArray2<'py, f32>,
        rewards: PyReadwriteArray1<'py, f64>,
        terminated: PyReadwriteArray1<'py, bool>,
        truncated: PyReadwriteArray1<'py, bool>,
        masks: PyReadwriteArray2<'py, bool>,
        terms: PyReadwriteArray2<'py, f64>,
        steps: PyReadwriteArray1<'py, i64>,
        seeds: Option<Vec<Option<u64>>>,
        which: Option<PyReadonlyArray1<'py, bool>>,
    ) -> PyResult<()> {
        let mut arrays = Arrays {
            observations,
            rewards,
            terminated,
            truncated,
            masks,
            terms,
            steps,
        };
        let inner = self.inner();
        let n = inner.envs.len();
        arrays.check(inner)?;
        if let Some(seeds) = &seeds {
            if seeds.len() != n {
                return Err(Error::argument(
                    "seed",
                    format!("{} seeds given for {n} sub-envs", seeds.len()),
                )
                .into());
            }
        }
        let which =
            match &which {
                Some(mask) => {
                    check_shape("reset_mask", mask.shape(), &[n])?;
                    Some(mask.as_slice().map_err(|_| {
                        Error::argument("reset_mask", "must be a C-contiguous array")
                    })?)
                }
                None => None,
            };
        let mut out = arrays.slices()?;
        for i in 0..n {
            if which.is_some_and(|w| !w[i]) {
                continue;
            }
            let seed = seeds.as_ref().and_then(|s| s[i]);
            inner.reset_one(i, seed, &mut out)?;
        }
        Ok(())
    }

    /// Steps every sub-env with its action (int64, one per sub-env), autoresetting those
    /// whose episode ended on the previous step. Bad actions raise before anything moves.
    #[allow(clippy::too_many_arguments)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'py, i64>,
        observations: PyReadwriteArray2<'py, f32>,
        rewards: PyReadwriteArray1<'py, f64>,
        terminated: PyReadwriteArray1<'py, bool>,
        truncated: PyReadwriteArray1<'py, bool>,
        masks: PyReadwriteArray2<'py, bool>,
        terms: PyReadwriteArray2<'py, f64>,
        steps: PyReadwriteArray1<'py, i64>,
    ) -> PyResult<()> {
        let mut arrays = Arrays {
            observations,
            rewards,
            terminated,
            truncated,
            masks,
            terms,
            steps,
        };
        let inner = self.inner();
        arrays.check(inner)?;
        check_shape("actions", actions.shape(), &[inner.envs.len()])?;
        let strided;
        let actions = match actions.as_slice() {
            Ok(slice) => slice,
            Err(_) => {
                strided = actions.as_array().to_vec();
                &strided[..]
            }
        };
        inner.validate(actions)?;
        let mut out = arrays.slices()?;
        py.detach(|| inner.step(actions, &mut out))?;
        Ok(())
    }

    /// Number of sub-envs.
    #[getter]
    fn num_envs(&mut self) -> usize {
        self.inner().envs.len()
    }

    /// Length of one observation.
    #[getter]
    fn obs_dim(&mut self) -> usize {
        self.inner().obs_dim
    }

    /// Number of actions of each sub-env.
    #[getter]
    fn num_actions(&mut self) -> usize {
        self.inner().num_actions
    }

    /// Names of the reward terms, in the order of the columns of `terms`.
    #[getter]
    fn term_names(&self) -> Vec<String> {
        self.term_names.clone()
    }

    /// The RNG fingerprint of every sub-env (equal states give equal values).
    fn rng_fingerprints(&mut self) -> Vec<u64> {
        self.inner()
            .envs
            .iter()
            .map(|e| e.rng_fingerprint())
            .collect()
    }

    /// Releases resources; may be called more than once.
    fn close(&mut self) {
        for env in &mut self.inner().envs {
            env.close();
        }
    }
}
