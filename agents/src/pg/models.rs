//! The networks the policy-gradient agents share: an MLP actor-critic (the default) and a GRU
//! actor-critic for long melodies.
//!
//! Both map observations to action logits and a state value. The MLP keeps actor and critic
//! apart (two `hidden`-wide tanh towers, as Stable-Baselines3's `MlpPolicy`, the baseline to
//! beat). The GRU encodes each observation with one tanh layer, carries a hidden state across
//! the steps of an episode (zeroed at every episode start) and reads both heads off it.
//!
//! Weights are orthogonally initialised (gain √2, policy head 0.01, value head 1), the
//! initialisation of the PPO implementation-details study (Huang et al., 2022).

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::agent::AgentError;

/// Logit given to masked actions. Finite (not -inf) so that `p * log p` stays 0, not NaN, in
/// the entropy; after the softmax their probability is exactly 0.
pub(crate) const MASKED_LOGIT: f64 = -1e9;

/// Which network the policy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PolicyArch {
    /// Feed-forward actor and critic on the current observation.
    #[default]
    Mlp,
    /// A recurrent trunk whose hidden state summarises the episode so far.
    Gru,
}

/// The network's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `mlp` (default) or `gru`.
    pub arch: PolicyArch,
    /// Width of the hidden layers and of the GRU state. Default 64, range 1..=4096.
    pub hidden: usize,
    /// Hidden layers of each MLP tower (ignored by the GRU). Default 2, range 1..=8.
    pub layers: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: PolicyArch::Mlp,
            hidden: 64,
            layers: 2,
        }
    }
}

impl ModelConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        if !(1..=4096).contains(&self.hidden) {
            return Err(config_error("model.hidden", "must be in 1..=4096"));
        }
        if !(1..=8).contains(&self.layers) {
            return Err(config_error("model.layers", "must be in 1..=8"));
        }
        Ok(())
    }
}

pub(crate) fn config_error(field: &str, message: &str) -> AgentError {
    AgentError::Config {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Torch's weight initialisation draws from its one global generator: holding this while
/// seeding and building makes a network a function of its seed even when other threads (tests)
/// build networks at the same time.
static INIT_LOCK: Mutex<()> = Mutex::new(());

fn layer(path: nn::Path<'_>, input: usize, output: usize, gain: f64) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: nn::Init::Orthogonal { gain },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(path, input as i64, output as i64, config)
}

/// GRU weights in the layout of `torch.nn.GRUCell` (gates r, z, n stacked).
#[derive(Debug)]
struct GruCell {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

/// An actor-critic network and the VarStore that owns its weights.
#[derive(Debug)]
pub(crate) struct Net {
    pub vs: nn::VarStore,
    pub hidden: usize,
    pub obs_dim: usize,
    pub num_actions: usize,
    actor: Vec<nn::Linear>,
    critic: Vec<nn::Linear>,
    gru: Option<GruCell>,
    pi_head: nn::Linear,
    v_head: nn::Linear,
}

impl Net {
    /// A freshly initialised network on `device`, its weights a function of `seed`.
    pub fn new(
        device: Device,
        obs_dim: usize,
        num_actions: usize,
        config: &ModelConfig,
        seed: u64,
    ) -> Self {
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(seed as i64);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let h = config.hidden;
        let sqrt2 = std::f64::consts::SQRT_2;
        let mut actor = Vec::new();
        let mut critic = Vec::new();
        let mut gru = None;
        match config.arch {
            PolicyArch::Mlp => {
                for l in 0..config.layers {
                    let input = if l == 0 { obs_dim } else { h };
                    actor.push(layer(root.sub("actor").sub(l), input, h, sqrt2));
                    critic.push(layer(root.sub("critic").sub(l), input, h, sqrt2));
                }
            }
            PolicyArch::Gru => {
                actor.push(layer(root.sub("encoder"), obs_dim, h, sqrt2));
                let p = root.sub("gru");
                let bound = 1.0 / (h as f64).sqrt();
                let uniform = nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                };
                let h3 = 3 * h as i64;
                gru = Some(GruCell {
                    w_ih: p.var("w_ih", &[h3, h as i64], uniform),
                    w_hh: p.var("w_hh", &[h3, h as i64], uniform),
                    b_ih: p.var("b_ih", &[h3], uniform),
                    b_hh: p.var("b_hh", &[h3], uniform),
                });
            }
        }
        let pi_head = layer(root.sub("pi"), h, num_actions, 0.01);
        let v_head = layer(root.sub("v"), h, 1, 1.0);
        Self {
            vs,
            hidden: h,
            obs_dim,
            num_actions,
            actor,
            critic,
            gru,
            pi_head,
            v_head,
        }
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn is_recurrent(&self) -> bool {
        self.gru.is_some()
    }

    /// A zero hidden state for `batch` episodes (`None` for the MLP).
    pub fn initial_state(&self, batch: usize) -> Option<Tensor> {
        self.gru.as_ref().map(|_| {
            Tensor::zeros(
                [batch as i64, self.hidden as i64],
                (Kind::Float, self.device()),
            )
        })
    }

    fn tower(layers: &[nn::Linear], x: &Tensor) -> Tensor {
        layers
            .iter()
            .fold(x.shallow_clone(), |x, l| l.forward(&x).tanh())
    }

    /// One step for a batch: `obs` is `[B, obs_dim]`; `state` the hidden state `[B, hidden]`
    /// (GRU only), already zeroed where an episode starts. Returns logits `[B, A]`, values
    /// `[B]` and the next hidden state.
    pub fn step(&self, obs: &Tensor, state: Option<&Tensor>) -> (Tensor, Tensor, Option<Tensor>) {
        match (&self.gru, state) {
            (Some(cell), Some(h)) => {
                let x = self.actor[0].forward(obs).tanh();
                let h = x.gru_cell(
                    h,
                    &cell.w_ih,
                    &cell.w_hh,
                    Some(&cell.b_ih),
                    Some(&cell.b_hh),
                );
                let logits = self.pi_head.forward(&h);
                let value = self.v_head.forward(&h).squeeze_dim(-1);
                (logits, value, Some(h))
            }
            _ => {
                let logits = self.pi_head.forward(&Self::tower(&self.actor, obs));
                let value = self
                    .v_head
                    .forward(&Self::tower(&self.critic, obs))
                    .squeeze_dim(-1);
                (logits, value, None)
            }
        }
    }

    /// A whole segment: `obs` is `[T, B, obs_dim]`, `starts` `[T, B]` (1.0 where the hidden
    /// state is zeroed before the step), `h0` `[B, hidden]`. Returns logits `[T*B, A]` and
    /// values `[T*B]`, time-major. The MLP ignores `starts` and `h0`.
    pub fn sequence(&self, obs: &Tensor, starts: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        let (t, b) = (obs.size()[0], obs.size()[1]);
        match (&self.gru, h0) {
            (Some(_), Some(h0)) => {
                let keep = starts.neg() + 1.0;
                let mut h = h0.shallow_clone();
                let mut logits = Vec::with_capacity(t as usize);
                let mut values = Vec::with_capacity(t as usize);
                for i in 0..t {
                    let h_in = &h * keep.get(i).unsqueeze(-1);
                    let (l, v, next) = self.step(&obs.get(i), Some(&h_in));
                    logits.push(l);
                    values.push(v);
                    h = next.unwrap_or(h_in);
                }
                (Tensor::cat(&logits, 0), Tensor::cat(&values, 0))
            }
            _ => {
                let flat = obs.reshape([t * b, -1]);
                let (l, v, _) = self.step(&flat, None);
                (l, v)
            }
        }
    }
}

/// Log-probabilities of `logits` with the masked actions (`mask` 0.0) pushed to
/// [`MASKED_LOGIT`]. `mask` is `None` when every action is allowed.
pub(crate) fn masked_log_softmax(logits: &Tensor, mask: Option<&Tensor>) -> Tensor {
    match mask {
        Some(m) => logits
            .masked_fill(&m.eq(0.0), MASKED_LOGIT)
            .log_softmax(-1, Kind::Float),
        None => logits.log_softmax(-1, Kind::Float),
    }
}
