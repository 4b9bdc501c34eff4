//! Adapting a trained policy online, one batch of finished episodes at a time: REINFORCE with
//! a per-step batch baseline on rewards supplied by the caller (for example a listener model's
//! score of each phrase), an entropy bonus, and a KL penalty towards the policy as it was
//! loaded so that a few noisy batches cannot make it forget what it was trained for.
//!
//! This is what human-in-the-loop sessions use between phrases; the algorithms' own training
//! (`Agent::learn`) does not go through here. The update is a function of the weights, the
//! optimiser state and the episodes: on the CPU with libtorch's single intra-op thread (see
//! [`init_backend`](super::init_backend)) replaying the same episodes in the same order from
//! the same checkpoint gives the same weights, bit for bit.

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use super::algorithms::PG_KINDS;
use super::backend::resolve_device;
use super::models::{masked_log_softmax, ModelConfig, Net};
use super::policy::{self, Policy};
use crate::adapt::{Adapter, RatedEpisode};
use crate::agent::DeviceChoice;
use crate::agent::{ActMode, AgentError, Observation};
use crate::checksum::fnv1a;
use cadenza_env::Environment;

/// One finished episode to learn from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Episode {
    /// The observation before each step, concatenated (`steps × obs_dim`).
    pub obs: Vec<f32>,
    /// The action mask before each step, concatenated (`steps × num_actions`).
    pub masks: Vec<bool>,
    /// The action taken at each step.
    pub actions: Vec<usize>,
    /// The reward of each step (the return is computed from these with `gamma`).
    pub rewards: Vec<f64>,
}

/// How [`PolicyAdapter::reinforce_on_episodes`] updates.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptConfig {
    /// Adam's learning rate, in (0, 1].
    pub learning_rate: f64,
    /// Gradient steps on each batch, 1..=100.
    pub epochs: usize,
    /// Discount of the returns, in [0, 1].
    pub gamma: f64,
    /// Weight of the entropy bonus, in [0, 1].
    pub entropy_coef: f64,
    /// Weight of the KL penalty KL(π ‖ π_loaded) on the batch's states, in [0, 100].
    pub kl_coef: f64,
    /// Global gradient-norm clip, in (0, 100].
    pub max_grad_norm: f64,
}

impl Default for AdaptConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            epochs: 4,
            gamma: 0.99,
            entropy_coef: 0.01,
            kl_coef: 0.1,
            max_grad_norm: 0.5,
        }
    }
}

impl AdaptConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        super::config::check_real("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        super::config::check_count("epochs", self.epochs, 100)?;
        super::config::check_real("gamma", self.gamma, 0.0, 1.0, false)?;
        super::config::check_real("entropy_coef", self.entropy_coef, 0.0, 1.0, false)?;
        super::config::check_real("kl_coef", self.kl_coef, 0.0, 100.0, false)?;
        super::config::check_real("max_grad_norm", self.max_grad_norm, 0.0, 100.0, true)
    }
}

/// What one call of [`PolicyAdapter::reinforce_on_episodes`] did (means over its epochs).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AdaptStats {
    /// The policy-gradient loss.
    pub policy_loss: f64,
    /// The policy's mean entropy on the batch's states.
    pub entropy: f64,
    /// KL(π ‖ π_loaded) on the batch's states.
    pub kl: f64,
}

/// A trained policy-gradient policy (REINFORCE, A2C or PPO checkpoint) that acts one step at
/// a time and adapts with [`reinforce_on_episodes`](Self::reinforce_on_episodes).
pub struct PolicyAdapter {
    kind: String,
    /// The checkpoint's algorithm config, written back by [`Adapter::save`].
    checkpoint_config: serde_json::Value,
    policy: Policy,
    reference: Net,
    optimizer: nn::Optimizer,
    config: AdaptConfig,
}

impl std::fmt::Debug for PolicyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyAdapter")
            .field("kind", &self.kind)
            .field("obs_dim", &self.policy.net.obs_dim)
            .field("num_actions", &self.policy.net.num_actions)
            .field("config", &self.config)
            .finish()
    }
}

/// A checkpoint's kind, algorithm config and network.
fn load_net(
    dir: &Path,
    device: DeviceChoice,
) -> Result<(String, serde_json::Value, Net), AgentError> {
    let device = resolve_device(device)?;
    let header = policy::read_header(dir)?;
    if !PG_KINDS.contains(&header.kind.as_str()) {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!(
                "a '{}' policy: expected one of {}",
                header.kind,
                PG_KINDS.join(", ")
            ),
        });
    }
    if header.obs_dim == 0 || header.num_actions == 0 {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: "obs_dim and num_actions must be positive".to_string(),
        });
    }
    let model: ModelConfig = match header.config.get("model") {
        Some(m) => serde_json::from_value(m.clone()).map_err(|e| AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!("bad model config: {e}"),
        })?,
        None => ModelConfig::default(),
    };
    model.validate()?;
    let mut net = Net::new(device, header.obs_dim, header.num_actions, &model, 0);
    policy::load_weights(&mut net, &header.weights)?;
    Ok((header.kind, header.config, net))
}

/// What a policy checkpoint in `dir` records: its kind, its header file, and the bytes that
/// its checksum covers (the header, then the weights).
pub(crate) fn recorded_checkpoint(dir: &Path) -> Result<(String, PathBuf, Vec<u8>), AgentError> {
    let header = policy::read_header(dir)?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| AgentError::Checkpoint {
            path: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })
    };
    let mut bytes = read(&header.path)?;
    bytes.extend(read(&header.weights)?);
    Ok((header.kind, header.path, bytes))
}

/// The observation size and number of actions the policy checkpoint in `dir` records.
pub(crate) fn recorded_dims(dir: &Path) -> Result<(usize, usize), AgentError> {
    let header = policy::read_header(dir)?;
    Ok((header.obs_dim, header.num_actions))
}

impl PolicyAdapter {
    /// The policy saved in checkpoint directory `dir` (of `reinforce`, `a2c` or `ppo`), on
    /// `device`, adapting with `config`.
    pub fn load(dir: &Path, device: DeviceChoice, config: AdaptConfig) -> Result<Self, AgentError> {
        config.validate()?;
        let (kind, checkpoint_config, net) = load_net(dir, device)?;
        let (_, _, reference) = load_net(dir, device)?;
        let optimizer = nn::adam(0.9, 0.999, 0.0)
            .build(&net.vs, config.learning_rate)
            .map_err(|e| AgentError::Other(format!("optimiser: {e}")))?;
        Ok(Self {
            kind,
            checkpoint_config,
            policy: Policy::new(net),
            reference,
            optimizer,
            config,
        })
    }

    /// The checkpoint's agent kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Length of the observations the policy reads.
    pub fn obs_dim(&self) -> usize {
        self.policy.net.obs_dim
    }

    /// Number of actions.
    pub fn num_actions(&self) -> usize {
        self.policy.net.num_actions
    }

    /// Starts an episode (forgets a recurrent policy's state).
    pub fn begin_episode(&mut self) {
        self.policy.begin_episode();
    }

    /// Samples an action for one observation at `temperature` (1: the policy's own
    /// distribution).
    pub fn act(&mut self, obs: &Observation<'_>, temperature: f64, rng: &mut ChaCha8Rng) -> usize {
        self.policy.act(obs, ActMode::Sample { temperature }, rng)
    }

    /// Every weight, in the order of the sorted parameter names (for checksums and tests).
    pub fn parameters(&self) -> Vec<f32> {
        let _guard = tch::no_grad_guard();
        let mut named = self
            .policy
            .net
            .vs
            .variables()
            .into_iter()
            .collect::<Vec<_>>();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (_, t) in named {
            let flat = t
                .to_device(tch::Device::Cpu)
                .to_kind(Kind::Float)
                .flatten(0, -1);
            let n = flat.numel();
            let start = out.len();
            out.resize(start + n, 0.0);
            flat.copy_data(&mut out[start..], n);
        }
        out
    }

    /// Some gradient steps of REINFORCE on `episodes`, all of the same length: the return
    /// `G_t` of each step, minus the batch's mean return at that step (the baseline), divided
    /// by the spread of those advantages, weights `log π(a_t | s_t)`; an entropy bonus and a
    /// KL penalty towards the policy as loaded are added. Fewer than two episodes, or
    /// returns that do not vary, change nothing.
    pub fn reinforce_on_episodes(
        &mut self,
        episodes: &[Episode],
    ) -> Result<AdaptStats, AgentError> {
        let bad = |m: String| AgentError::Other(format!("policy adaptation: {m}"));
        let (d, na) = (self.obs_dim(), self.num_actions());
        let Some(first) = episodes.first() else {
            return Ok(AdaptStats::default());
        };
        let steps = first.actions.len();
        for (i, e) in episodes.iter().enumerate() {
            if e.actions.len() != steps
                || e.rewards.len() != steps
                || e.obs.len() != steps * d
                || e.masks.len() != steps * na
                || e.actions.iter().any(|&a| a >= na)
            {
                return Err(bad(format!(
                    "episode {i}: expected {steps} steps of {d} observations, {na} mask entries, an action and a reward each"
                )));
            }
        }
        let b = episodes.len();
        if b < 2 || steps == 0 {
            return Ok(AdaptStats::default());
        }
        // Returns, time-major [T, B], and advantages against the per-step batch mean.
        let gamma = self.config.gamma;
        let mut returns = vec![0.0f64; steps * b];
        for (j, e) in episodes.iter().enumerate() {
            let mut g = 0.0;
            for t in (0..steps).rev() {
                g = e.rewards[t] + gamma * g;
                returns[t * b + j] = g;
            }
        }
        let mut adv = vec![0.0f64; steps * b];
        for t in 0..steps {
            let row = &returns[t * b..(t + 1) * b];
            let mean = row.iter().sum::<f64>() / b as f64;
            for j in 0..b {
                adv[t * b + j] = row[j] - mean;
            }
        }
        let var = adv.iter().map(|a| a * a).sum::<f64>() / adv.len() as f64;
        if !var.is_finite() || var.sqrt() < 1e-8 {
            return Ok(AdaptStats::default());
        }
        let std = var.sqrt();
        let adv: Vec<f32> = adv.iter().map(|a| (a / std) as f32).collect();

        let device = self.policy.net.device();
        let (ti, bi) = (steps as i64, b as i64);
        let mut obs = Vec::with_capacity(steps * b * d);
        let mut masks = Vec::with_capacity(steps * b * na);
        let mut actions = Vec::with_capacity(steps * b);
        for t in 0..steps {
            for e in episodes {
                obs.extend_from_slice(&e.obs[t * d..(t + 1) * d]);
                masks.extend(
                    e.masks[t * na..(t + 1) * na]
                        .iter()
                        .map(|&m| f32::from(u8::from(m))),
                );
                actions.push(e.actions[t] as i64);
            }
        }
        let obs = Tensor::from_slice(&obs)
            .view([ti, bi, d as i64])
            .to_device(device);
        let masks = Tensor::from_slice(&masks)
            .view([ti * bi, na as i64])
            .to_device(device);
        let actions = Tensor::from_slice(&actions).to_device(device);
        let adv = Tensor::from_slice(&adv).to_device(device);
        let mut starts = vec![0.0f32; steps * b];
        starts[..b].iter_mut().for_each(|s| *s = 1.0);
        let starts = Tensor::from_slice(&starts).view([ti, bi]).to_device(device);

        let ref_logp = tch::no_grad(|| {
            let h0 = self.reference.initial_state(b);
            let (logits, _) = self.reference.sequence(&obs, &starts, h0.as_ref());
            masked_log_softmax(&logits, Some(&masks))
        });
        let mut stats = AdaptStats::default();
        let cfg = &self.config;
        for _ in 0..cfg.epochs {
            let h0 = self.policy.net.initial_state(b);
            let (logits, _) = self.policy.net.sequence(&obs, &starts, h0.as_ref());
            let logp = masked_log_softmax(&logits, Some(&masks));
            let logp_a = logp
                .gather(1, &actions.unsqueeze(-1), false)
                .squeeze_dim(-1);
            let p = logp.exp();
            let entropy = -(&p * &logp)
                .sum_dim_intlist(-1, false, Kind::Float)
                .mean(Kind::Float);
            let kl = (&p * (&logp - &ref_logp))
                .sum_dim_intlist(-1, false, Kind::Float)
                .mean(Kind::Float);
            let pg_loss = -(&logp_a * &adv).mean(Kind::Float);
            let loss = &pg_loss - &entropy * cfg.entropy_coef + &kl * cfg.kl_coef;
            self.optimizer.zero_grad();
            loss.backward();
            self.optimizer.clip_grad_norm(cfg.max_grad_norm);
            self.optimizer.step();
            stats.policy_loss += pg_loss.double_value(&[]);
            stats.entropy += entropy.double_value(&[]);
            stats.kl += kl.double_value(&[]);
        }
        let n = cfg.epochs as f64;
        stats.policy_loss /= n;
        stats.entropy /= n;
        stats.kl /= n;
        if !(stats.policy_loss.is_finite() && stats.kl.is_finite()) {
            return Err(bad("the loss is not finite".to_string()));
        }
        Ok(stats)
    }
}

impl Adapter for PolicyAdapter {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn begin_episode(&mut self) {
        self.policy.begin_episode();
    }

    /// A sample of the policy's own distribution (temperature 1, so that the updates stay
    /// on-policy), tilted by `bias` where the session steers.
    fn sample(
        &mut self,
        obs: &Observation<'_>,
        bias: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let action = self
            .policy
            .act_biased(obs, ActMode::Sample { temperature: 1.0 }, bias, rng);
        obs.mask
            .get(action)
            .copied()
            .unwrap_or(false)
            .then_some(action)
    }

    /// REINFORCE steps ([`PolicyAdapter::reinforce_on_episodes`]) on every episode, replayed
    /// on `env` for its observations and masks, with the per-step reward
    /// `r(t) + advantage · reward_scale`: the reward the agent was trained on plus the
    /// listener's.
    fn adapt(
        &mut self,
        env: &mut dyn Environment,
        episodes: &[RatedEpisode<'_>],
        reward_scale: f64,
    ) -> Result<(), AgentError> {
        let replay_error =
            |i: usize| move |e| AgentError::Other(format!("replaying episode {i}: {e}"));
        let mut obs = vec![0.0; env.observation_space().dim()];
        let mut batch = Vec::with_capacity(episodes.len());
        for (i, rated) in episodes.iter().enumerate() {
            let bonus = rated.advantage * reward_scale;
            let mut episode = Episode::default();
            env.reset_into(None, &mut obs).map_err(replay_error(i))?;
            for &e in rated.actions {
                episode.obs.extend_from_slice(&obs);
                episode.masks.extend_from_slice(env.action_mask());
                episode.actions.push(e as usize);
                let step = env
                    .step_into(e as usize, &mut obs)
                    .map_err(replay_error(i))?;
                episode.rewards.push(step.reward + bonus);
            }
            batch.push(episode);
        }
        self.reinforce_on_episodes(&batch)?;
        Ok(())
    }

    /// FNV-1a 64 of the weights as little-endian `f32`s, in the order of [`Self::parameters`].
    fn checksum(&self) -> Option<u64> {
        let bytes: Vec<u8> = self
            .parameters()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        Some(fnv1a(&bytes))
    }

    /// The adapted weights with the checkpoint's header, without optimiser state.
    fn save(&self, dir: &Path) -> Result<(), AgentError> {
        policy::save(
            dir,
            &self.kind,
            &self.policy.net,
            &self.checkpoint_config,
            None,
        )
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
