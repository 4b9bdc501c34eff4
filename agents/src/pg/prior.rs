//! The frozen prior of KL-controlled fine-tuning, as a rollout evaluates it.
//!
//! KL-controlled fine-tuning (Jaques et al., 2017; Ziegler et al., 2019; see
//! [`bc`](super::bc)) pays each step `c · log p_prior(a|s)`. The prior reads the observation
//! the policy reads, so the rollout scores it in batched forward passes under `no_grad` (an MLP
//! prior the whole rollout after it, in passes of 256 rows; a GRU prior every sub-env of a
//! step beside the policy's pass), and keeps the log-probabilities of the actions taken in
//! the rollout ([`RolloutPrior`]). Scoring one env at a time inside its reward (the
//! per-env [`PriorReward`](super::bc::PriorReward), kept as the reference) costs a forward
//! pass per env step, most of a fine-tuning run's time.
//!
//! This file also holds what reading a prior needs: the observation layout a prior is trained
//! on ([`Shape`]) and the loading and checks of a prior's checkpoint.

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use super::models::{ModelConfig, Net, SparseRows};
use super::policy::{self, HEADER_FILE};
use crate::agent::AgentError;
use cadenza_env::encoding::Event;
use cadenza_env::{Setting, TaskSpec};
use cadenza_reward::prior::StepPrior;

/// The kind name of a behaviour-cloned checkpoint.
pub(super) const PRIOR_KIND: &str = "bc";

/// What the observation holds, read off the task (only history blocks and the step index are
/// supported: the `rl-tuner` layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) history: usize,
    pub(super) num_events: usize,
    pub(super) length: usize,
}

impl Shape {
    pub(super) fn of(task: &TaskSpec) -> Result<Self, AgentError> {
        let l = &task.layout;
        if l.bar_position || l.chords || l.progress || !l.step_index {
            return Err(super::models::config_error(
                "task",
                &format!(
                    "behaviour cloning supports observations of recent events and the step index \
                     (the rl-tuner task), not the layout of task '{}'",
                    task.name
                ),
            ));
        }
        Ok(Self {
            history: l.history,
            num_events: task.setting.encoding.num_events(),
            length: task.setting.length,
        })
    }

    pub(super) fn dim(&self) -> usize {
        self.history * self.num_events + self.length
    }

    /// Length of the non-overlapping scoring windows of a tune with this bar length.
    pub(super) fn eval_stride(&self, steps_per_bar: usize) -> usize {
        let bar = steps_per_bar.max(1);
        if bar >= self.length {
            self.length
        } else {
            bar * (self.length / bar)
        }
    }

    /// Writes the observation before event `t` of `events`, in the window starting at
    /// `start` (`t - start < length`), into `out` (`dim()` floats, overwritten).
    pub(super) fn write(&self, events: &[Event], t: usize, start: usize, out: &mut [f32]) {
        self.write_recent(&events[t.saturating_sub(self.history)..t], t - start, out);
    }

    /// Writes the observation at step `index` of the window after the events `recent` (the
    /// last `history` of them count) into `out` (`dim()` floats, overwritten).
    pub(super) fn write_recent(&self, recent: &[Event], index: usize, out: &mut [f32]) {
        out.fill(0.0);
        let ne = self.num_events;
        let recent = &recent[recent.len().saturating_sub(self.history)..];
        for (block, &e) in out.chunks_exact_mut(ne).zip(recent.iter().rev()) {
            if let Some(x) = block.get_mut(e as usize) {
                *x = 1.0;
            }
        }
        out[self.history * ne + index] = 1.0;
    }
}

/// The checkpoint directory of `dir`: `dir` itself when it holds a checkpoint, else
/// `dir/checkpoint` (a run directory written by `cadenza train`).
pub fn checkpoint_dir(dir: &Path) -> PathBuf {
    if dir.join(HEADER_FILE).is_file() {
        dir.to_path_buf()
    } else {
        dir.join(crate::train::CHECKPOINT_DIR)
    }
}

#[derive(serde::Deserialize)]
struct ModelOnly {
    #[serde(default)]
    model: ModelConfig,
}

/// A policy network restored from any policy-gradient checkpoint (its `model` config and
/// weights), with the checkpoint's kind.
pub(super) fn load_net(dir: &Path, device: Device) -> Result<(Net, String), AgentError> {
    let dir = checkpoint_dir(dir);
    let header = policy::read_header(&dir)?;
    let model: ModelOnly =
        serde_json::from_value(header.config.clone()).map_err(|e| AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!("bad model config: {e}"),
        })?;
    model.model.validate()?;
    if header.obs_dim == 0 || header.num_actions == 0 {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: "obs_dim and num_actions must be positive".to_string(),
        });
    }
    let mut net = Net::new(device, header.obs_dim, header.num_actions, &model.model, 0);
    policy::load_weights(&mut net, &header.weights)?;
    Ok((net, header.kind))
}

pub(super) fn check_prior_shape(dir: &Path, net: &Net, shape: Shape) -> Result<(), AgentError> {
    if net.obs_dim != shape.dim() || net.num_actions != shape.num_events {
        return Err(AgentError::Checkpoint {
            path: checkpoint_dir(dir).join(HEADER_FILE).display().to_string(),
            message: format!(
                "the prior was trained for {} observation floats and {} actions, this task has \
                 {} and {}",
                net.obs_dim,
                net.num_actions,
                shape.dim(),
                shape.num_events
            ),
        });
    }
    Ok(())
}

/// The behaviour-cloned network as a [`StepPrior`]: one forward pass per step, on the CPU,
/// under `no_grad`. This is the per-step path (the reference that
/// [`PriorReward`](super::bc::PriorReward) pays); a rollout scores the same network for all
/// its steps at once ([`RolloutPrior`]).
#[derive(Debug)]
pub struct NetPrior {
    net: Net,
    shape: Shape,
}

/// Where a [`NetPrior`] stands in a melody: the recent events its observation shows and, for a
/// recurrent prior, its state.
#[derive(Debug)]
pub struct NetCursor {
    recent: Vec<Event>,
    hidden: Option<Tensor>,
    obs: Vec<f32>,
}

impl NetPrior {
    /// The behaviour-cloned prior saved in `dir` for the observations of `task`. Wrong kind,
    /// sizes or shapes are an [`AgentError::Checkpoint`] naming the file.
    pub fn load(dir: &Path, task: &TaskSpec) -> Result<Self, AgentError> {
        let shape = Shape::of(task)?;
        super::backend::init_backend();
        let (net, kind) = load_net(dir, Device::Cpu)?;
        check_prior_kind(dir, &kind)?;
        check_prior_shape(dir, &net, shape)?;
        Ok(Self { net, shape })
    }
}

impl StepPrior for NetPrior {
    type Cursor = NetCursor;
    const TERM: &'static str = "prior_logp";

    /// From scratch: a recurrent prior replays the history's forward passes.
    fn seek(&self, setting: &Setting, history: &[Event]) -> NetCursor {
        let mut cursor = NetCursor {
            recent: Vec::with_capacity(self.shape.history + 1),
            hidden: None,
            obs: vec![0.0; self.shape.dim()],
        };
        if self.net.is_recurrent() {
            for (step, &event) in history.iter().enumerate() {
                self.step(&mut cursor, setting, step, event);
            }
        } else {
            let keep = history.len().saturating_sub(self.shape.history);
            cursor.recent.extend_from_slice(&history[keep..]);
        }
        cursor
    }

    /// `ln p_prior(event | observation)`. The episode is one window from its start (the step
    /// index is the step), as the env observes it: past the window, or for an event outside
    /// the prior's actions, the prior has no say (`None`) and its state does not move.
    fn step(
        &self,
        cursor: &mut NetCursor,
        _setting: &Setting,
        step: usize,
        event: Event,
    ) -> Option<f64> {
        let scored =
            (step < self.shape.length && usize::from(event) < self.shape.num_events).then(|| {
                self.shape
                    .write_recent(&cursor.recent, step, &mut cursor.obs);
                let _guard = tch::no_grad_guard();
                let x = Tensor::from_slice(&cursor.obs).view([1, self.shape.dim() as i64]);
                let h = self.net.is_recurrent().then(|| {
                    cursor
                        .hidden
                        .take()
                        .or_else(|| self.net.initial_state(1))
                        .unwrap_or_else(|| x.zeros_like())
                });
                let (logits, next) = self.net.act_step(&x, h.as_ref());
                cursor.hidden = next;
                logits
                    .log_softmax(-1, Kind::Float)
                    .double_value(&[0, i64::from(event)])
            });
        if cursor.recent.len() == self.shape.history {
            cursor.recent.remove(0);
        }
        if self.shape.history > 0 {
            cursor.recent.push(event);
        }
        scored
    }
}

/// A frozen prior network and its coefficient `c`, evaluated for all sub-envs of a rollout
/// step at once. Its recurrent state (a GRU prior) is zeroed at each sub-env's episode start,
/// as the policy's is. PPO holds one after [`Agent::attach_prior`](crate::Agent::attach_prior);
/// [`RolloutPrior::open`] and [`RolloutPrior::score_host`] serve benchmarks and tests.
pub struct RolloutPrior {
    net: Net,
    coef: f64,
    /// Steps of the observation window: a step at or past it has no observation and scores 0.
    length: usize,
    hidden: Option<Tensor>,
    /// `n × A` log-probabilities of the last batch, on the host (kept to avoid allocating).
    logp: Vec<f32>,
    /// The MLP's first layer as a table to gather from ([`Net::gather_table`]; the prior is
    /// frozen), and the nonzero entries of the last batch read on the host.
    table: Option<Tensor>,
    rows: SparseRows,
}

impl std::fmt::Debug for RolloutPrior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutPrior")
            .field("net", &self.net)
            .field("coef", &self.coef)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl RolloutPrior {
    /// The behaviour-cloned prior saved in `dir` (a `bc` checkpoint or its run directory), for
    /// the observations of `task`, on `device`, weighted by `coef`. Wrong kind, sizes or
    /// shapes are an [`AgentError::Checkpoint`] naming the file.
    pub(crate) fn load(
        dir: &Path,
        task: &TaskSpec,
        coef: f64,
        device: Device,
    ) -> Result<Self, AgentError> {
        super::config::check_real("kl_coef", coef, 0.0, 1e6, false)?;
        let shape = Shape::of(task)?;
        let (net, kind) = load_net(dir, device)?;
        check_prior_kind(dir, &kind)?;
        check_prior_shape(dir, &net, shape)?;
        Ok(Self {
            table: net.gather_table(),
            net,
            coef,
            length: shape.length,
            hidden: None,
            logp: Vec::new(),
            rows: SparseRows::default(),
        })
    }

    /// The behaviour-cloned prior saved in `dir` (a `bc` checkpoint or its run directory),
    /// for the observations of `task`, weighted by `coef`, on the device `device` chooses.
    /// Wrong kind, sizes or shapes are an [`AgentError::Checkpoint`] naming the file.
    pub fn open(
        dir: &Path,
        task: &TaskSpec,
        coef: f64,
        device: crate::agent::DeviceChoice,
    ) -> Result<Self, AgentError> {
        Self::load(dir, task, coef, super::backend::resolve_device(device)?)
    }

    /// Scores one step of `n` sub-envs from observations in host memory (`n × obs_dim`
    /// floats): `starts[i]` is 1.0 where sub-env `i` starts an episode, `steps[i]` is the
    /// step index of its action. Writes `log p_prior(actions[i] | obs_i)` into `out[i]`, 0
    /// for a step past the observation window or an action outside the prior's. One forward
    /// pass, no gradients. An MLP prior keeps no state, so the `n` rows may be any steps (a
    /// whole rollout at once), and it gathers its first layer where the observations are
    /// sparse (a sum of the rows of its transposed weights picked by the nonzero entries).
    pub fn score_host(
        &mut self,
        obs: &[f32],
        starts: &[f32],
        steps: &[usize],
        actions: &[usize],
        out: &mut [f32],
    ) {
        if let Some(table) = &self.table {
            if self.rows.read(obs, self.net.obs_dim) {
                let _guard = tch::no_grad_guard();
                let logits = self.net.sparse_logits(&self.rows, table);
                self.write_scores(&logits, steps, actions, out);
                return;
            }
        }
        let n = actions.len() as i64;
        let x = Tensor::from_slice(obs)
            .view([n, self.net.obs_dim as i64])
            .to_device(self.net.device());
        self.score(&x, starts, steps, actions, out);
    }

    /// Whether the prior carries a state along the episodes (a GRU), so that it scores one
    /// step at a time; an MLP scores any batch of steps at once.
    pub(crate) fn is_recurrent(&self) -> bool {
        self.net.is_recurrent()
    }

    /// `c`, the prior's weight in the reward.
    pub(crate) fn coef(&self) -> f64 {
        self.coef
    }

    /// The observations' floats and the actions the prior was trained for.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.net.obs_dim, self.net.num_actions)
    }

    /// Forgets the recurrent state (the next batch starts every sub-env's episode).
    pub fn reset(&mut self) {
        self.hidden = None;
    }

    /// Scores one step of `n` sub-envs: `obs` (`n × obs_dim`, on the prior's device) are the
    /// observations the actions were taken in, `starts[i]` is 1.0 where sub-env `i` starts an
    /// episode, `steps[i]` is the step index of its action. Writes `log p_prior(actions[i] |
    /// obs_i)` into `out[i]`, 0 for a step past the window or an action outside the prior's.
    /// One forward pass, no gradients. An MLP prior (not [`RolloutPrior::is_recurrent`])
    /// keeps no state, so its `n` rows may be any steps: a whole rollout at once.
    pub(crate) fn score(
        &mut self,
        obs: &Tensor,
        starts: &[f32],
        steps: &[usize],
        actions: &[usize],
        out: &mut [f32],
    ) {
        let _guard = tch::no_grad_guard();
        let n = actions.len();
        let device = self.net.device();
        let hidden = if self.net.is_recurrent() {
            let h = match self.hidden.take() {
                Some(h) if h.size()[0] == n as i64 => {
                    let keep = Tensor::from_slice(starts).to_device(device);
                    h * (keep.neg() + 1.0).unsqueeze(-1)
                }
                _ => self
                    .net
                    .initial_state(n)
                    .expect("a recurrent net has an initial state"),
            };
            Some(h)
        } else {
            None
        };
        let (logits, next) = self.net.act_step(obs, hidden.as_ref());
        self.hidden = next;
        self.write_scores(&logits, steps, actions, out);
    }

    /// Writes the log-probabilities of `actions` under `logits` into `out` (0 past the window
    /// or outside the prior's actions).
    fn write_scores(
        &mut self,
        logits: &Tensor,
        steps: &[usize],
        actions: &[usize],
        out: &mut [f32],
    ) {
        let n = actions.len();
        let na = self.net.num_actions;
        self.logp.resize(n * na, 0.0);
        logits
            .log_softmax(-1, Kind::Float)
            .to_device(Device::Cpu)
            .copy_data(&mut self.logp, n * na);
        for i in 0..n {
            out[i] = if steps[i] < self.length && actions[i] < na {
                self.logp[i * na + actions[i]]
            } else {
                0.0
            };
        }
    }
}

/// Checks that a checkpoint read as a prior holds a behaviour-cloned one.
pub(super) fn check_prior_kind(dir: &Path, kind: &str) -> Result<(), AgentError> {
    if kind != PRIOR_KIND {
        return Err(AgentError::Checkpoint {
            path: checkpoint_dir(dir).join(HEADER_FILE).display().to_string(),
            message: format!(
                "holds a '{kind}' agent, but --prior needs a behaviour-cloned prior (kind '{PRIOR_KIND}')"
            ),
        });
    }
    Ok(())
}
