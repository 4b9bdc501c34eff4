//! What the three algorithms share around the network: acting one observation at a time (for
//! `generate`), and checkpoints.
//!
//! A checkpoint is two or three files in its directory: `policy.json`, a header naming the
//! format, its version, the agent's kind, the sizes, the full config and the env steps
//! trained; `policy.safetensors`, the weights (always stored from CPU copies, so a policy
//! trained on CUDA loads on a CPU-only machine); and for agents that train,
//! `optimizer.safetensors`, the optimizer's moments and step count, so that a resumed run goes
//! on with them. Each is written to a temporary name and renamed into place, so a crash never
//! leaves a half-written file where a good one was.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

use super::models::Net;
use super::optim::Optim;
use crate::agent::{ActMode, AgentError, Observation};

/// Name of the checkpoint header inside a checkpoint directory.
pub const HEADER_FILE: &str = "policy.json";
/// Name of the weights file inside a checkpoint directory.
pub const WEIGHTS_FILE: &str = "policy.safetensors";
/// Name of the optimizer state file inside a checkpoint directory.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The `format` field of the header.
pub const FORMAT: &str = "cadenza-pg-policy";
/// The current header version.
pub const VERSION: u32 = 1;

/// A network plus the recurrent state of the episode being generated.
#[derive(Debug)]
pub(crate) struct Policy {
    pub net: Net,
    act_state: Option<Tensor>,
    logits: Vec<f32>,
}

impl Policy {
    pub fn new(net: Net) -> Self {
        let logits = vec![0.0; net.num_actions];
        Self {
            net,
            act_state: None,
            logits,
        }
    }

    /// Forgets the recurrent state: the next `act` starts an episode.
    pub fn begin_episode(&mut self) {
        self.act_state = None;
    }

    /// Picks an action for one observation. Infallible by contract: an observation of the
    /// wrong length gets the first allowed action.
    pub fn act(&mut self, obs: &Observation<'_>, mode: ActMode, rng: &mut ChaCha8Rng) -> usize {
        self.act_biased(obs, mode, &[], rng)
    }

    /// [`Policy::act`] with `bias[a]` (in nats of the sampling distribution; shorter than
    /// the actions or empty for none) added to each action's log-probability before the
    /// choice: how a session steers a policy's phrases towards what a listener asks.
    pub fn act_biased(
        &mut self,
        obs: &Observation<'_>,
        mode: ActMode,
        bias: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> usize {
        let na = self.net.num_actions;
        let allowed = |a: usize| obs.mask.get(a).copied().unwrap_or(true);
        let first_allowed = (0..na).find(|&a| allowed(a)).unwrap_or(0);
        if obs.dense.len() != self.net.obs_dim {
            return first_allowed;
        }
        {
            let _guard = tch::no_grad_guard();
            let device = self.net.device();
            let x = Tensor::from_slice(obs.dense)
                .view([1, self.net.obs_dim as i64])
                .to_device(device);
            let state =
                if self.net.is_recurrent() {
                    Some(self.act_state.take().unwrap_or_else(|| {
                        self.net.initial_state(1).unwrap_or_else(|| x.zeros_like())
                    }))
                } else {
                    None
                };
            let (logits, next) = self.net.act_step(&x, state.as_ref());
            self.act_state = next;
            logits
                .to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .copy_data(&mut self.logits, na);
        }
        if !bias.is_empty() {
            let scale = match mode {
                ActMode::Sample { temperature } if temperature.is_finite() && temperature > 0.0 => {
                    temperature
                }
                _ => 1.0,
            };
            for (logit, &b) in self.logits.iter_mut().zip(bias) {
                *logit += (b * scale) as f32;
            }
        }
        choose(&mut self.logits, obs.mask, mode, rng)
    }

    /// Picks one action per observation with one forward pass over the whole batch; `rngs`
    /// holds one generator per observation, so each row's choice does not depend on the
    /// others. Returns false, choosing nothing, for a recurrent policy (its state belongs to
    /// one episode at a time) or when an observation has the wrong length.
    pub fn act_batch(
        &mut self,
        observations: &[Observation<'_>],
        mode: ActMode,
        rngs: &mut [ChaCha8Rng],
        actions: &mut [usize],
    ) -> bool {
        let (obs_dim, na) = (self.net.obs_dim, self.net.num_actions);
        let rows = observations.len();
        if self.net.is_recurrent()
            || rows == 0
            || rngs.len() < rows
            || actions.len() < rows
            || observations.iter().any(|o| o.dense.len() != obs_dim)
        {
            return false;
        }
        let mut dense = Vec::with_capacity(rows * obs_dim);
        for o in observations {
            dense.extend_from_slice(o.dense);
        }
        let mut logits = vec![0.0f32; rows * na];
        {
            let _guard = tch::no_grad_guard();
            let x = Tensor::from_slice(&dense)
                .view([rows as i64, obs_dim as i64])
                .to_device(self.net.device());
            let (out, _) = self.net.act_step(&x, None);
            out.to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .copy_data(&mut logits, rows * na);
        }
        for (i, ((o, rng), action)) in observations.iter().zip(rngs).zip(actions).enumerate() {
            *action = choose(&mut logits[i * na..(i + 1) * na], o.mask, mode, rng);
        }
        true
    }
}

/// The action `mode` takes given one row of logits (overwritten as scratch space): the best
/// allowed one, or a sample of the softmax over the allowed ones at the temperature.
fn choose(logits: &mut [f32], mask: &[bool], mode: ActMode, rng: &mut ChaCha8Rng) -> usize {
    let na = logits.len();
    let allowed = |a: usize| mask.get(a).copied().unwrap_or(true);
    let first_allowed = (0..na).find(|&a| allowed(a)).unwrap_or(0);
    let temperature = match mode {
        ActMode::Greedy => None,
        ActMode::Sample { temperature } if temperature.is_finite() && temperature > 0.0 => {
            Some(temperature as f32)
        }
        ActMode::Sample { .. } => None,
    };
    let best = (0..na)
        .filter(|&a| allowed(a) && logits[a].is_finite())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap_or(first_allowed);
    let Some(temperature) = temperature else {
        return best;
    };
    // Softmax over the allowed actions at this temperature, relative to the best logit.
    let top = logits[best];
    let mut total = 0.0f32;
    for (a, logit) in logits.iter_mut().enumerate() {
        let p = if allowed(a) && logit.is_finite() {
            ((*logit - top) / temperature).exp()
        } else {
            0.0
        };
        *logit = p;
        total += p;
    }
    let mut u = rng.random::<f32>() * total;
    for (a, &p) in logits.iter().enumerate() {
        if p > 0.0 {
            if u < p {
                return a;
            }
            u -= p;
        }
    }
    best
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<C> {
    format: String,
    version: u32,
    kind: String,
    obs_dim: usize,
    num_actions: usize,
    weights: String,
    config: C,
    /// The optimizer state file (absent in checkpoints of agents that do not train, and in
    /// those written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optimizer: Option<String>,
    /// Env steps trained (0 where not recorded).
    #[serde(default)]
    steps_done: u64,
    /// What the algorithm learns besides the weights (PPO's tuned entropy coefficient);
    /// absent where it has none.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    state: serde_json::Value,
}

/// What a training agent saves besides its weights.
pub(crate) struct TrainingState<'a> {
    pub optimizer: &'a Optim,
    pub steps_done: u64,
    /// The algorithm's state, as JSON (null: none).
    pub state: serde_json::Value,
}

fn checkpoint_error(path: &Path, message: impl std::fmt::Display) -> AgentError {
    AgentError::Checkpoint {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Writes a checkpoint file through `write` with env's durable replace
/// ([`cadenza_env::io::write_atomic_with`]), naming `path` in any error.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), AgentError> {
    cadenza_env::io::write_atomic_with(path, |tmp| write(tmp).map_err(std::io::Error::other))
        .map_err(|e| checkpoint_error(path, e))
}

/// Saves `net` and a header with `kind` and `config` into `dir`.
pub(crate) fn save<C: Serialize>(
    dir: &Path,
    kind: &str,
    net: &Net,
    config: &C,
    training: Option<TrainingState<'_>>,
) -> Result<(), AgentError> {
    let weights = dir.join(WEIGHTS_FILE);
    let named: Vec<(String, Tensor)> = {
        let _guard = tch::no_grad_guard();
        let mut named: Vec<(String, Tensor)> = net
            .vs
            .variables()
            .into_iter()
            .map(|(name, t)| (name, t.to_device(Device::Cpu).contiguous()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    };
    write_atomically(&weights, |tmp| {
        Tensor::write_safetensors(&named, tmp).map_err(|e| e.to_string())
    })?;
    if let Some(training) = &training {
        write_atomically(&dir.join(OPTIMIZER_FILE), |tmp| {
            training.optimizer.save(tmp)
        })?;
    }
    let header = Header {
        format: FORMAT.to_string(),
        version: VERSION,
        kind: kind.to_string(),
        obs_dim: net.obs_dim,
        num_actions: net.num_actions,
        weights: WEIGHTS_FILE.to_string(),
        config,
        optimizer: training.as_ref().map(|_| OPTIMIZER_FILE.to_string()),
        steps_done: training.as_ref().map_or(0, |t| t.steps_done),
        state: training.map_or(serde_json::Value::Null, |t| t.state),
    };
    let text = serde_json::to_string_pretty(&header)
        .map_err(|e| checkpoint_error(&dir.join(HEADER_FILE), e))?;
    write_atomically(&dir.join(HEADER_FILE), |tmp| {
        std::fs::write(tmp, text.as_bytes()).map_err(|e| e.to_string())
    })
}

/// The parts of a header that decide how to load the rest.
#[derive(Debug)]
pub(crate) struct HeaderInfo {
    pub kind: String,
    pub obs_dim: usize,
    pub num_actions: usize,
    pub weights: PathBuf,
    /// The optimizer state file, where the checkpoint has one.
    pub optimizer: Option<PathBuf>,
    pub steps_done: u64,
    pub config: serde_json::Value,
    /// The algorithm's state (null: none saved).
    pub state: serde_json::Value,
    pub path: PathBuf,
}

/// Reads and checks the header in `dir`.
pub(crate) fn read_header(dir: &Path) -> Result<HeaderInfo, AgentError> {
    let path = dir.join(HEADER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| checkpoint_error(&path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| checkpoint_error(&path, format!("not valid JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        other => {
            return Err(checkpoint_error(
                &path,
                format!(
                    "format is {other:?}, expected \"{FORMAT}\" (not a policy-gradient checkpoint)"
                ),
            ))
        }
    }
    let header: Header<serde_json::Value> = serde_json::from_value(value)
        .map_err(|e| checkpoint_error(&path, format!("bad header: {e}")))?;
    if header.version != VERSION {
        return Err(checkpoint_error(
            &path,
            format!(
                "version {} is not supported (this build reads version {VERSION})",
                header.version
            ),
        ));
    }
    let plain = |name: &str| !name.contains(['/', '\\']) && !name.starts_with('.');
    if !plain(&header.weights) || !header.optimizer.as_deref().is_none_or(plain) {
        return Err(checkpoint_error(
            &path,
            "the weights and optimizer files must be plain file names in the checkpoint directory",
        ));
    }
    Ok(HeaderInfo {
        kind: header.kind,
        obs_dim: header.obs_dim,
        num_actions: header.num_actions,
        weights: dir.join(header.weights),
        optimizer: header.optimizer.map(|name| dir.join(name)),
        steps_done: header.steps_done,
        config: header.config,
        state: header.state,
        path,
    })
}

impl HeaderInfo {
    /// The config, as the type of the header's kind.
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, AgentError> {
        serde_json::from_value(self.config.clone()).map_err(|e| {
            checkpoint_error(
                &self.path,
                format!("bad config for kind '{}': {e}", self.kind),
            )
        })
    }
}

impl HeaderInfo {
    /// The algorithm's state, as type `S` (none where the checkpoint holds none).
    pub fn state<S: DeserializeOwned>(&self) -> Result<Option<S>, AgentError> {
        if self.state.is_null() {
            return Ok(None);
        }
        serde_json::from_value(self.state.clone())
            .map(Some)
            .map_err(|e| checkpoint_error(&self.path, format!("bad state: {e}")))
    }
}

/// Restores what [`save`] wrote besides the weights: the optimizer's state (where the
/// checkpoint has one) and the env steps trained, which the caller keeps.
pub(crate) fn restore_training(
    header: &HeaderInfo,
    optimizer: &mut Optim,
    steps_done: &mut u64,
) -> Result<(), AgentError> {
    if let Some(path) = &header.optimizer {
        optimizer.load(path)?;
    }
    *steps_done = header.steps_done;
    Ok(())
}

/// Loads weights from `path` into `net`, checking every name and shape.
pub(crate) fn load_weights(net: &mut Net, path: &Path) -> Result<(), AgentError> {
    load_weights_where(net, path, |_| true)
}

/// Loads the tensors of `path` whose names pass `keep` into the variables of `net` of the same
/// names, checking every name and shape; the variables `keep` refuses keep their values.
pub(crate) fn load_weights_where(
    net: &mut Net,
    path: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<(), AgentError> {
    let tensors = Tensor::read_safetensors(path).map_err(|e| checkpoint_error(path, e))?;
    let tensors: std::collections::HashMap<String, Tensor> =
        tensors.into_iter().filter(|(name, _)| keep(name)).collect();
    let _guard = tch::no_grad_guard();
    let mut loaded = 0;
    for (name, mut var) in net.vs.variables() {
        if !keep(&name) {
            continue;
        }
        let src = tensors
            .get(&name)
            .ok_or_else(|| checkpoint_error(path, format!("missing tensor '{name}'")))?;
        if src.size() != var.size() {
            return Err(checkpoint_error(
                path,
                format!(
                    "tensor '{name}' has shape {:?}, expected {:?}",
                    src.size(),
                    var.size()
                ),
            ));
        }
        var.f_copy_(&src.to_kind(var.kind()))
            .map_err(|e| checkpoint_error(path, e))?;
        loaded += 1;
    }
    if tensors.len() != loaded {
        return Err(checkpoint_error(
            path,
            format!("holds {} tensors, the network has {loaded}", tensors.len()),
        ));
    }
    Ok(())
}
