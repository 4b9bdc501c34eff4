//! The networks the policy-gradient agents share: an MLP actor-critic (the default) and a GRU
//! actor-critic for long melodies.
//!
//! Both map observations to action logits and a state value. The MLP keeps actor and critic
//! apart (two `hidden`-wide towers, as Stable-Baselines3's `MlpPolicy`, the baseline to
//! beat). The GRU encodes each observation with one layer, carries a hidden state across
//! the steps of an episode (zeroed at every episode start) and reads both heads off it. The
//! hidden layers' activation is tanh (as `MlpPolicy`) or ReLU, which PPO uses by default.
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

/// The nonlinearity after each hidden layer (and after the GRU's input encoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Activation {
    /// tanh: the default, and the activation of every network saved before this choice
    /// existed (their configs do not name one). Computed as `2 · sigmoid(2x) − 1`, the same
    /// values to float rounding: libtorch's own tanh (to high accuracy, through MKL on the
    /// CPU) took a fifth of a KL-controlled run's time, its sigmoid a fraction of that.
    #[default]
    Tanh,
    /// max(0, x). On a CPU it costs a fraction of tanh, forward and backward.
    Relu,
}

impl Activation {
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Self::Tanh => (x * 2.0).sigmoid() * 2.0 - 1.0,
            Self::Relu => x.relu(),
        }
    }
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
    /// `tanh` (default) or `relu`. PPO's default config sets `relu`.
    pub activation: Activation,
    /// Width of the MLP's value tower (the critic), when it differs from `hidden`: acting
    /// needs only the policy tower, so a narrower critic cuts the learner's work without
    /// changing the policy's network. Default none (`hidden` wide), range 1..=4096. The GRU
    /// reads its value off its hidden state and refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critic_hidden: Option<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: PolicyArch::Mlp,
            hidden: 64,
            layers: 2,
            activation: Activation::Tanh,
            critic_hidden: None,
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
        match (self.critic_hidden, self.arch) {
            (Some(width), _) if !(1..=4096).contains(&width) => Err(config_error(
                "model.critic_hidden",
                &format!("must be in 1..=4096, got {width}"),
            )),
            (Some(_), PolicyArch::Gru) => Err(config_error(
                "model.critic_hidden",
                "only the MLP has a value tower of its own; the GRU reads its value off its \
                 hidden state (leave critic_hidden out)",
            )),
            _ => Ok(()),
        }
    }

    /// Width of the value tower: `critic_hidden`, or `hidden` when not given.
    pub fn critic_width(&self) -> usize {
        self.critic_hidden.unwrap_or(self.hidden)
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
    activation: Activation,
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
        let hc = match config.arch {
            PolicyArch::Mlp => config.critic_width(),
            PolicyArch::Gru => h,
        };
        let sqrt2 = std::f64::consts::SQRT_2;
        let mut actor = Vec::new();
        let mut critic = Vec::new();
        let mut gru = None;
        match config.arch {
            PolicyArch::Mlp => {
                for l in 0..config.layers {
                    let (input, critic_input) = if l == 0 { (obs_dim, obs_dim) } else { (h, hc) };
                    actor.push(layer(root.sub("actor").sub(l), input, h, sqrt2));
                    critic.push(layer(root.sub("critic").sub(l), critic_input, hc, sqrt2));
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
        let v_head = layer(root.sub("v"), hc, 1, 1.0);
        Self {
            vs,
            hidden: h,
            obs_dim,
            num_actions,
            activation: config.activation,
            actor,
            critic,
            gru,
            pi_head,
            v_head,
        }
    }

    /// Whether the variable `name` belongs to the value tower or the value head (the MLP's
    /// critic), which a fine-tuned network may rebuild at another width than its prior's.
    pub fn is_critic_variable(name: &str) -> bool {
        name.starts_with("critic.") || name.starts_with("v.")
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

    fn tower(&self, layers: &[nn::Linear], x: &Tensor) -> Tensor {
        layers.iter().fold(x.shallow_clone(), |x, l| {
            self.activation.apply(&l.forward(&x))
        })
    }

    /// The policy's half of [`Net::step`]: logits and the next hidden state. The MLP skips
    /// its critic tower, which acting does not need.
    pub fn act_step(&self, obs: &Tensor, state: Option<&Tensor>) -> (Tensor, Option<Tensor>) {
        match (&self.gru, state) {
            // The GRU's value head is one small layer on the shared state: not worth a path.
            (Some(_), Some(_)) => {
                let (logits, _, next) = self.step(obs, state);
                (logits, next)
            }
            _ => (self.pi_head.forward(&self.tower(&self.actor, obs)), None),
        }
    }

    /// The first layer of the MLP's policy tower as a table to gather rows from: its weights
    /// transposed, `[obs_dim, hidden]`, a copy without gradient (`None` for the GRU). Valid
    /// until the weights change: a rollout takes one at its start.
    pub fn gather_table(&self) -> Option<Tensor> {
        if self.gru.is_some() {
            return None;
        }
        let _guard = tch::no_grad_guard();
        Some(self.actor[0].ws.detach().tr().contiguous())
    }

    /// The MLP policy's logits `[B, A]` of observations read into `rows`
    /// ([`SparseRows::read`]), as [`Net::act_step`] gives them to float rounding: the first
    /// layer sums the rows of `table` ([`Net::gather_table`]) of each observation's nonzero
    /// entries, scaled by them, instead of multiplying the whole matrix. For passes without
    /// gradient (acting, scoring a prior).
    pub fn sparse_logits(&self, rows: &SparseRows, table: &Tensor) -> Tensor {
        let device = table.device();
        let indices = Tensor::from_slice(&rows.indices).to_device(device);
        let offsets = Tensor::from_slice(&rows.offsets).to_device(device);
        let values = Tensor::from_slice(&rows.values).to_device(device);
        let (summed, _, _, _) = Tensor::embedding_bag(
            table,
            &indices,
            &offsets,
            false,
            0, // sum
            false,
            Some(&values),
            false,
        );
        let first = match &self.actor[0].bs {
            Some(bias) => summed + bias,
            None => summed,
        };
        let hidden = self.actor[1..]
            .iter()
            .fold(self.activation.apply(&first), |x, l| {
                self.activation.apply(&l.forward(&x))
            });
        self.pi_head.forward(&hidden)
    }

    /// The MLP critic's values `[B]` of `obs` `[B, obs_dim]`, without the actor. (A GRU's
    /// values depend on its hidden state: they come from [`Net::step`].)
    pub fn mlp_values(&self, obs: &Tensor) -> Tensor {
        self.v_head
            .forward(&self.tower(&self.critic, obs))
            .squeeze_dim(-1)
    }

    /// One step for a batch: `obs` is `[B, obs_dim]`; `state` the hidden state `[B, hidden]`
    /// (GRU only), already zeroed where an episode starts. Returns logits `[B, A]`, values
    /// `[B]` and the next hidden state.
    pub fn step(&self, obs: &Tensor, state: Option<&Tensor>) -> (Tensor, Tensor, Option<Tensor>) {
        match (&self.gru, state) {
            (Some(cell), Some(h)) => {
                let x = self.activation.apply(&self.actor[0].forward(obs));
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
                let logits = self.pi_head.forward(&self.tower(&self.actor, obs));
                let values = self.mlp_values(obs);
                (logits, values, None)
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

/// A batch of observations by the nonzero entries of each row, read on the host, for
/// [`Net::sparse_logits`]. The `rl-tuner` observation is one-hot (at most 5 of its 184 floats
/// are nonzero), so the policy's first layer on it is a sum of a few rows of its transposed
/// weights: a fraction of the dense product's arithmetic, which on a CPU is most of a forward
/// pass. The buffers are kept between batches.
#[derive(Debug, Default)]
pub(crate) struct SparseRows {
    /// The column of each nonzero entry, row after row.
    indices: Vec<i64>,
    /// Where each row's entries start in `indices`.
    offsets: Vec<i64>,
    /// The value of each nonzero entry.
    values: Vec<f32>,
}

impl SparseRows {
    /// Most nonzero entries, as a share of all, for which gathering pays off.
    const MAX_DENSITY: usize = 8;

    /// Reads `obs`, rows of `dim` floats. False, and the rows are to be multiplied densely,
    /// when more than an eighth of the entries are nonzero or none is.
    pub fn read(&mut self, obs: &[f32], dim: usize) -> bool {
        self.indices.clear();
        self.offsets.clear();
        self.values.clear();
        if dim == 0 {
            return false;
        }
        let limit = obs.len() / Self::MAX_DENSITY;
        for row in obs.chunks_exact(dim) {
            self.offsets.push(self.indices.len() as i64);
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    self.indices.push(j as i64);
                    self.values.push(v);
                }
            }
            if self.indices.len() > limit {
                return false;
            }
        }
        !self.indices.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn net(arch: PolicyArch, activation: Activation) -> Net {
        let config = ModelConfig {
            arch,
            hidden: 16,
            layers: 2,
            activation,
            critic_hidden: None,
        };
        Net::new(Device::Cpu, 10, 5, &config, 7)
    }

    /// Acting's half of a step gives the step's logits and next state, and the MLP's values
    /// of a whole batch at once are its per-step values.
    #[test]
    fn act_step_and_batched_values_agree_with_step() {
        let _guard = tch::no_grad_guard();
        let obs = Tensor::randn([6, 10], (Kind::Float, Device::Cpu));
        for activation in [Activation::Tanh, Activation::Relu] {
            let mlp = net(PolicyArch::Mlp, activation);
            let (logits, values, _) = mlp.step(&obs, None);
            let (act_logits, next) = mlp.act_step(&obs, None);
            assert!(act_logits.allclose(&logits, 1e-6, 1e-6, false));
            assert!(next.is_none());
            assert!(mlp.mlp_values(&obs).allclose(&values, 1e-6, 1e-6, false));
            let row = mlp.mlp_values(&obs.narrow(0, 2, 1));
            assert!(row.allclose(&values.narrow(0, 2, 1), 1e-5, 1e-5, false));

            let gru = net(PolicyArch::Gru, activation);
            let h = gru.initial_state(6);
            let (logits, _, next) = gru.step(&obs, h.as_ref());
            let (act_logits, act_next) = gru.act_step(&obs, h.as_ref());
            assert!(act_logits.equal(&logits));
            assert!(act_next.unwrap().equal(&next.unwrap()));
        }
    }

    /// The tanh layers compute tanh (as `2 · sigmoid(2x) − 1`, which libtorch computes faster
    /// on the CPU than its tanh): the values and the gradients of `Tensor::tanh` to float
    /// rounding, saturating at ±1.
    #[test]
    fn tanh_layers_compute_tanh() {
        let edges = Tensor::from_slice(&[0f32, 1e-6, -1e-6, 30.0, -30.0, 1e4, -1e4])
            .view([1, 7])
            .repeat([64, 1]);
        let x = Tensor::cat(
            &[
                Tensor::randn([64, 256], (Kind::Float, Device::Cpu)) * 4.0,
                edges,
            ],
            1,
        )
        .set_requires_grad(true);
        let ours = Activation::Tanh.apply(&x);
        let torch = x.tanh();
        let gap = (&ours - &torch).abs().max().double_value(&[]);
        assert!(gap <= 2e-7, "values differ by {gap}");
        assert_eq!(ours.max().double_value(&[]), 1.0);
        assert_eq!(ours.min().double_value(&[]), -1.0);
        let weights = Tensor::randn([64, 263], (Kind::Float, Device::Cpu));
        let grad_of = |y: &Tensor| {
            Tensor::run_backward(&[(y * &weights).sum(Kind::Float)], &[&x], false, false)
                .pop()
                .unwrap()
        };
        let gap = (grad_of(&ours) - grad_of(&torch))
            .abs()
            .max()
            .double_value(&[]);
        assert!(gap <= 1e-5, "gradients differ by {gap}");
    }

    /// The gathered first layer gives the dense pass's logits: on one-hot rows, on rows with
    /// other values and on empty rows among them; rows with too many nonzero entries (or none
    /// at all) are left to the dense product.
    #[test]
    fn sparse_logits_equal_the_dense_ones() {
        let _guard = tch::no_grad_guard();
        let dim = 40;
        let mut obs = vec![0f32; 6 * dim];
        for (row, cols) in [[1, 24], [0, 39], [2, 3], [7, 8], [5, 16], [9, 31]]
            .iter()
            .enumerate()
        {
            obs[row * dim + cols[0]] = 1.0;
            obs[row * dim + cols[1]] = if row == 2 { -0.5 } else { 1.0 };
        }
        obs[3 * dim + 7] = 0.0;
        obs[3 * dim + 8] = 0.0; // an empty row
        let mut rows = SparseRows::default();
        for activation in [Activation::Tanh, Activation::Relu] {
            let config = ModelConfig {
                hidden: 16,
                activation,
                ..ModelConfig::default()
            };
            let mlp = Net::new(Device::Cpu, dim, 5, &config, 7);
            let table = mlp.gather_table().unwrap();
            assert!(rows.read(&obs, dim));
            let dense = mlp
                .act_step(&Tensor::from_slice(&obs).view([6, dim as i64]), None)
                .0;
            let sparse = mlp.sparse_logits(&rows, &table);
            assert!(sparse.allclose(&dense, 1e-6, 1e-6, false), "{activation:?}");
            assert!(net(PolicyArch::Gru, activation).gather_table().is_none());
        }
        assert!(!rows.read(&[1.0; 20], 10), "dense rows");
        assert!(!rows.read(&[0.0; 20], 10), "no nonzero entry");
    }

    /// The MLP's value tower is `critic_hidden` wide where given (`hidden` otherwise), and the
    /// policy tower keeps `hidden`; the GRU and a width of 0 are refused, naming the field.
    #[test]
    fn the_value_tower_has_its_own_width() {
        let _guard = tch::no_grad_guard();
        let config = ModelConfig {
            hidden: 16,
            layers: 2,
            critic_hidden: Some(4),
            ..ModelConfig::default()
        };
        config.validate().unwrap();
        let net = Net::new(Device::Cpu, 10, 5, &config, 7);
        let sizes: std::collections::HashMap<String, Vec<i64>> = net
            .vs
            .variables()
            .into_iter()
            .map(|(name, t)| (name, t.size()))
            .collect();
        assert_eq!(sizes["actor.0.weight"], [16, 10]);
        assert_eq!(sizes["actor.1.weight"], [16, 16]);
        assert_eq!(sizes["critic.0.weight"], [4, 10]);
        assert_eq!(sizes["critic.1.weight"], [4, 4]);
        assert_eq!(sizes["v.weight"], [1, 4]);
        assert_eq!(sizes["pi.weight"], [5, 16]);
        let obs = Tensor::randn([3, 10], (Kind::Float, Device::Cpu));
        let (logits, values, _) = net.step(&obs, None);
        assert_eq!((logits.size(), values.size()), (vec![3, 5], vec![3]));
        assert!(sizes.keys().filter(|n| Net::is_critic_variable(n)).count() == 6);
        for bad in [
            ModelConfig {
                critic_hidden: Some(0),
                ..config.clone()
            },
            ModelConfig {
                arch: PolicyArch::Gru,
                ..config.clone()
            },
        ] {
            match bad.validate() {
                Err(AgentError::Config { field, .. }) => assert_eq!(field, "model.critic_hidden"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // Without it, the critic is as wide as the policy tower (and serialises as before).
        let plain = ModelConfig {
            critic_hidden: None,
            ..config
        };
        assert_eq!(plain.critic_width(), 16);
        assert!(!serde_json::to_string(&plain)
            .unwrap()
            .contains("critic_hidden"));
    }

    /// The activation is what the config names: ReLU layers give no negative hidden values,
    /// and tanh and ReLU networks from one seed differ.
    #[test]
    fn the_activation_is_the_configured_one() {
        let _guard = tch::no_grad_guard();
        let obs = Tensor::randn([4, 10], (Kind::Float, Device::Cpu));
        let relu = net(PolicyArch::Mlp, Activation::Relu);
        let hidden = relu.tower(&relu.actor, &obs);
        assert!(hidden.min().double_value(&[]) >= 0.0);
        let tanh = net(PolicyArch::Mlp, Activation::Tanh);
        let hidden = tanh.tower(&tanh.actor, &obs);
        assert!(hidden.abs().max().double_value(&[]) < 1.0);
        assert!(hidden.min().double_value(&[]) < 0.0);
    }
}
