//! Batched rollouts from a [`VecEnv`] and their advantages, shared by the three algorithms.
//!
//! One forward pass per step for all sub-envs, under `no_grad`; the observation is copied once
//! (from the VecEnv's flat buffer into the rollout's) and the tensor for the forward pass is
//! made from the rollout's copy. Actions are sampled here, in Rust, from the log-probabilities
//! with the caller's seeded RNG: one copy of `N x A` floats off the device, and a run is a
//! function of its seed.
//!
//! The VecEnv autoresets on the *next* step (Gymnasium's default): after a sub-env's episode
//! ends, its next step only resets it (action ignored, reward 0). Such steps are recorded as
//! *invalid* and left out of every loss; the observation they carry in is the episode's final
//! observation, which gives truncated episodes their bootstrap value for free.

use cadenza_env::vector::VecEnv;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::models::{masked_log_softmax, Net, SparseRows};
use super::optim::Optim;
use super::prior::RolloutPrior;
use crate::agent::{AgentError, LearnStats, TrainEnv};

/// What carries over from one rollout to the next: where each sub-env is in its episode
/// (the default tracks none).
#[derive(Debug, Default)]
pub(crate) struct RunState {
    /// The next step of sub-env i only resets it (its last step ended an episode).
    pending_reset: Vec<bool>,
    /// The next observation of sub-env i starts an episode (hidden state is zeroed).
    episode_start: Vec<bool>,
    /// Return so far of the running episode of each sub-env.
    episode_return: Vec<f64>,
    /// The recurrent state of each sub-env (GRU only).
    hidden: Option<Tensor>,
    /// The step index of each sub-env's next action in its episode.
    step_index: Vec<usize>,
}

/// One rollout of `steps` steps of `envs` sub-envs, time-major (`index = t * envs + i`) (the
/// default holds none).
#[derive(Debug, Default)]
pub(crate) struct Rollout {
    pub steps: usize,
    pub envs: usize,
    pub obs_dim: usize,
    pub num_actions: usize,
    pub obs: Vec<f32>,
    pub actions: Vec<i64>,
    pub logprobs: Vec<f32>,
    pub values: Vec<f32>,
    pub rewards: Vec<f32>,
    pub done: Vec<bool>,
    pub terminated: Vec<bool>,
    pub valid: Vec<bool>,
    pub starts: Vec<f32>,
    /// `log p_prior(a|s)` of each action taken, in a KL-controlled run (0 elsewhere): what the
    /// prior's half of the reward, `c · log p_prior`, was computed from.
    pub prior_logp: Vec<f32>,
    /// The env's reward of each step, before the prior's half is added to it.
    env_rewards: Vec<f64>,
    /// The step index of each action in its episode, and the action, as the prior scores them.
    step_indices: Vec<usize>,
    taken: Vec<usize>,
    /// Action masks, 1.0 = allowed; only filled when some action was masked in this rollout.
    pub masks: Vec<f32>,
    pub any_masked: bool,
    pub last_values: Vec<f32>,
    /// The recurrent state at the start of the rollout (GRU only).
    pub h0: Option<Tensor>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
    // Scratch space for one step, kept to avoid allocating per step.
    sparse: SparseRows,
    step_logp: Vec<f32>,
    step_actions: Vec<usize>,
}

impl Rollout {
    pub fn new(steps: usize, envs: usize, obs_dim: usize, num_actions: usize) -> Self {
        let n = steps * envs;
        Self {
            steps,
            envs,
            obs_dim,
            num_actions,
            obs: vec![0.0; n * obs_dim],
            actions: vec![0; n],
            logprobs: vec![0.0; n],
            values: vec![0.0; n],
            rewards: vec![0.0; n],
            done: vec![false; n],
            terminated: vec![false; n],
            valid: vec![false; n],
            starts: vec![0.0; n],
            prior_logp: vec![0.0; n],
            env_rewards: vec![0.0; n],
            step_indices: vec![0; n],
            taken: vec![0; n],
            masks: vec![1.0; n * num_actions],
            any_masked: false,
            last_values: vec![0.0; envs],
            h0: None,
            advantages: vec![0.0; n],
            returns: vec![0.0; n],
            sparse: SparseRows::default(),
            step_logp: vec![0.0; envs * num_actions],
            step_actions: vec![0; envs],
        }
    }
}

impl RunState {
    /// Starts tracking `envs`, which the caller has reset (as the shared training loop
    /// does): every sub-env is at an episode start.
    pub fn start(net: &Net, envs: &VecEnv<TrainEnv>) -> Result<Self, AgentError> {
        let n = envs.num_envs();
        if envs.obs_dim() != net.obs_dim || envs.num_actions() != net.num_actions {
            return Err(AgentError::Other(format!(
                "the envs have {} observation floats and {} actions, the policy was built for {} and {}",
                envs.obs_dim(),
                envs.num_actions(),
                net.obs_dim,
                net.num_actions
            )));
        }
        Ok(Self {
            pending_reset: vec![false; n],
            episode_start: vec![true; n],
            episode_return: vec![0.0; n],
            hidden: net.initial_state(n),
            step_index: vec![0; n],
        })
    }

    /// Whether this state fits `envs` (the shared loop passes the same VecEnv every time).
    pub fn fits(&self, envs: &VecEnv<TrainEnv>) -> bool {
        self.pending_reset.len() == envs.num_envs()
    }
}

/// Samples one action from log-probabilities `logp` (masked actions hold ~-1e9, so `exp` is 0).
pub(crate) fn sample(logp: &[f32], rng: &mut ChaCha8Rng) -> usize {
    let u: f32 = rng.random();
    let mut acc = 0.0f32;
    let mut last_allowed = 0;
    for (a, &lp) in logp.iter().enumerate() {
        let p = lp.exp();
        if p > 0.0 {
            last_allowed = a;
            acc += p;
            if u < acc {
                return a;
            }
        }
    }
    // Rounding left the sum a hair below u: take the last action with any probability.
    last_allowed
}

/// Rows an MLP prior scores in one pass after a rollout: enough for efficient matrix
/// products, few enough that the activations stay in the CPU's caches.
const PRIOR_BLOCK: usize = 256;

/// Fills `ro` with `ro.steps` steps of every sub-env. Returns env steps taken (valid ones)
/// and finished episodes' returns into `stats`, with the seconds spent stepping the envs
/// (`env_s`) and scoring the prior (`prior_s`).
///
/// With a `prior` (KL-controlled fine-tuning) the actions are scored by it on the
/// observations the policy saw, and `c · log p_prior(a|s)` is added to the env's reward of
/// every valid step (its mean `log p_prior` goes to the `prior_logp` scalar). An MLP prior
/// scores the rollout after it (its scores do not steer the rollout), in passes of
/// [`PRIOR_BLOCK`] rows; a GRU prior, whose state follows the episodes, scores each step in
/// one pass for all sub-envs.
pub(crate) fn collect(
    net: &Net,
    mut prior: Option<&mut RolloutPrior>,
    envs: &mut VecEnv<TrainEnv>,
    state: &mut RunState,
    ro: &mut Rollout,
    rng: &mut ChaCha8Rng,
    stats: &mut LearnStats,
) -> Result<(), AgentError> {
    let _guard = tch::no_grad_guard();
    let device = net.device();
    let (n, d, na) = (ro.envs, ro.obs_dim, ro.num_actions);
    let recurrent = net.is_recurrent();
    ro.h0 = state.hidden.as_ref().map(|h| h.copy());
    ro.any_masked = false;
    let (mut env_s, mut prior_s) = (0.0f64, 0.0f64);
    let (mut prior_sum, mut prior_count) = (0.0f64, 0usize);
    let prior_per_step = prior.as_ref().is_some_and(|p| p.is_recurrent());
    // The MLP policy's first layer, gathered on sparse observations: the weights are fixed
    // for the rollout.
    let table = net.gather_table();
    for t in 0..ro.steps {
        let base = t * n;
        ro.obs[base * d..(base + n) * d].copy_from_slice(envs.observations());
        let env_masks = envs.action_masks();
        let masked_now = env_masks.iter().any(|&m| !m);
        if masked_now && !ro.any_masked {
            // First masked step of this rollout: the earlier steps were all-allowed.
            ro.masks[..base * na].fill(1.0);
            ro.any_masked = true;
        }
        if ro.any_masked {
            for (dst, &m) in ro.masks[base * na..(base + n) * na]
                .iter_mut()
                .zip(env_masks)
            {
                *dst = if m { 1.0 } else { 0.0 };
            }
        }
        for i in 0..n {
            ro.valid[base + i] = !state.pending_reset[i];
            ro.starts[base + i] = if state.episode_start[i] { 1.0 } else { 0.0 };
        }

        // Forward pass for all sub-envs at once.
        let obs = Tensor::from_slice(&ro.obs[base * d..(base + n) * d])
            .view([n as i64, d as i64])
            .to_device(device);
        let hidden = state.hidden.as_ref().map(|h| {
            let keep = Tensor::from_slice(&ro.starts[base..base + n]).to_device(device);
            h * (keep.neg() + 1.0).unsqueeze(-1)
        });
        // The MLP's values do not steer the rollout: they are computed for all its steps at
        // once after it, in one large pass instead of many small ones.
        let (logits, next_hidden) = if recurrent {
            let (logits, value, next_hidden) = net.step(&obs, hidden.as_ref());
            copy_to_host(&value, &mut ro.values[base..base + n]);
            (logits, next_hidden)
        } else {
            match &table {
                Some(table) if ro.sparse.read(&ro.obs[base * d..(base + n) * d], d) => {
                    (net.sparse_logits(&ro.sparse, table), None)
                }
                _ => net.act_step(&obs, None),
            }
        };
        let mask = masked_now.then(|| {
            Tensor::from_slice(&ro.masks[base * na..(base + n) * na])
                .view([n as i64, na as i64])
                .to_device(device)
        });
        let logp = masked_log_softmax(&logits, mask.as_ref()).to_device(Device::Cpu);
        logp.copy_data(&mut ro.step_logp, n * na);
        state.hidden = next_hidden;

        for i in 0..n {
            let lp = &ro.step_logp[i * na..(i + 1) * na];
            let a = sample(lp, rng);
            ro.step_actions[i] = a;
            ro.actions[base + i] = a as i64;
            ro.logprobs[base + i] = lp[a];
            ro.taken[base + i] = a;
            ro.step_indices[base + i] = state.step_index[i];
        }
        if let Some(prior) = prior.as_deref_mut().filter(|_| prior_per_step) {
            let started = std::time::Instant::now();
            prior.score(
                &obs,
                &ro.starts[base..base + n],
                &state.step_index,
                &ro.step_actions,
                &mut ro.prior_logp[base..base + n],
            );
            prior_s += started.elapsed().as_secs_f64();
        }
        let started = std::time::Instant::now();
        envs.step(&ro.step_actions)?;
        env_s += started.elapsed().as_secs_f64();
        let (rewards, term, trunc) = (envs.rewards(), envs.terminated(), envs.truncated());
        for i in 0..n {
            let idx = base + i;
            let valid = ro.valid[idx];
            let done = valid && (term[i] || trunc[i]);
            ro.env_rewards[idx] = rewards[i];
            ro.done[idx] = done;
            ro.terminated[idx] = valid && term[i];
            state.step_index[i] = if valid && !done {
                state.step_index[i] + 1
            } else {
                0
            };
            state.pending_reset[i] = done;
            // An autoreset step brings in the first observation of the next episode.
            state.episode_start[i] = !valid;
        }
    }

    let coef = match prior.as_deref_mut() {
        Some(prior) => {
            if !prior_per_step {
                let started = std::time::Instant::now();
                let rows = ro.steps * n;
                for start in (0..rows).step_by(PRIOR_BLOCK) {
                    let end = (start + PRIOR_BLOCK).min(rows);
                    prior.score_host(
                        &ro.obs[start * d..end * d],
                        &ro.starts[start..end],
                        &ro.step_indices[start..end],
                        &ro.taken[start..end],
                        &mut ro.prior_logp[start..end],
                    );
                }
                prior_s += started.elapsed().as_secs_f64();
            }
            prior.coef()
        }
        None => 0.0,
    };
    // The rewards, and the returns of the episodes that ended, in the order of the steps.
    for idx in 0..ro.steps * n {
        let i = idx % n;
        let valid = ro.valid[idx];
        // The prior's half of the KL reward, as the per-env `PriorReward` adds it: in f64, to
        // the env's total, on valid steps only (an autoreset step scores nothing).
        let reward = if valid && coef != 0.0 {
            let logp = ro.prior_logp[idx];
            prior_sum += f64::from(logp);
            prior_count += 1;
            ro.env_rewards[idx] + coef * f64::from(logp)
        } else {
            ro.env_rewards[idx]
        };
        ro.rewards[idx] = reward as f32;
        if valid {
            stats.steps += 1;
            state.episode_return[i] += reward;
        }
        if ro.done[idx] {
            stats.episode_returns.push(state.episode_return[i]);
            state.episode_return[i] = 0.0;
        }
    }

    *stats.scalars.entry("env_s".to_string()).or_default() += env_s;
    if prior.is_some() {
        *stats.scalars.entry("prior_s".to_string()).or_default() += prior_s;
        if prior_count > 0 {
            stats
                .scalars
                .insert("prior_logp".to_string(), prior_sum / prior_count as f64);
        }
    }

    // Values of the observations after the last step, to bootstrap unfinished episodes.
    let obs = Tensor::from_slice(envs.observations())
        .view([n as i64, d as i64])
        .to_device(device);
    let starts: Vec<f32> = state
        .episode_start
        .iter()
        .map(|&s| if s { 1.0 } else { 0.0 })
        .collect();
    let hidden = state.hidden.as_ref().map(|h| {
        let keep = Tensor::from_slice(&starts).to_device(device);
        h * (keep.neg() + 1.0).unsqueeze(-1)
    });
    let value = if recurrent {
        net.step(&obs, hidden.as_ref()).1
    } else {
        net.mlp_values(&obs)
    };
    copy_to_host(&value, &mut ro.last_values);
    if !recurrent {
        let all = Tensor::from_slice(&ro.obs)
            .view([(ro.steps * n) as i64, d as i64])
            .to_device(device);
        copy_to_host(&net.mlp_values(&all), &mut ro.values);
    }
    Ok(())
}

/// Copies a float tensor of `dst.len()` elements, on any device, into `dst`.
fn copy_to_host(values: &Tensor, dst: &mut [f32]) {
    let len = dst.len();
    values
        .to_kind(Kind::Float)
        .to_device(Device::Cpu)
        .copy_data(dst, len);
}

/// Adds `−beta · log π(a|s)` (the sampling policy's log-probability of the action taken) to
/// the reward of every valid step: the policy's half of a per-step KL penalty (see
/// [`PpoConfig::kl_coef`](super::ppo::PpoConfig::kl_coef)). Returns the mean `log π(a|s)` over
/// the valid steps (0 when there are none), for the metrics log.
pub(crate) fn penalise_policy_logp(ro: &mut Rollout, beta: f32) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for ((reward, &logp), &valid) in ro.rewards.iter_mut().zip(&ro.logprobs).zip(&ro.valid) {
        if valid {
            *reward -= beta * logp;
            sum += f64::from(logp);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Generalised advantage estimation (Schulman et al., 2016) over the rollout, skipping
/// invalid (autoreset) steps. `lambda = 1` gives Monte-Carlo returns minus the baseline
/// (bootstrapped only where a segment ends mid-episode).
// `i` indexes several parallel buffers at once, which iterators would only obscure.
#[allow(clippy::needless_range_loop)]
pub(crate) fn compute_advantages(ro: &mut Rollout, gamma: f32, lambda: f32) {
    let n = ro.envs;
    let mut last_gae = vec![0.0f32; n];
    for t in (0..ro.steps).rev() {
        for i in 0..n {
            let idx = t * n + i;
            if !ro.valid[idx] {
                ro.advantages[idx] = 0.0;
                ro.returns[idx] = 0.0;
                last_gae[i] = 0.0;
                continue;
            }
            let next_value = if t + 1 < ro.steps {
                ro.values[idx + n]
            } else {
                ro.last_values[i]
            };
            let value = ro.values[idx];
            let gae = if ro.done[idx] {
                // Terminated: no future. Truncated: the next observation is the final one.
                let bootstrap = if ro.terminated[idx] { 0.0 } else { next_value };
                ro.rewards[idx] + gamma * bootstrap - value
            } else {
                ro.rewards[idx] + gamma * next_value - value + gamma * lambda * last_gae[i]
            };
            last_gae[i] = gae;
            ro.advantages[idx] = gae;
            ro.returns[idx] = gae + value;
        }
    }
}

/// The rollout as tensors on `device`, for the update.
#[derive(Debug)]
pub(crate) struct Batch {
    /// `[T, N, D]`
    pub obs: Tensor,
    /// `[T*N]` each
    pub actions: Tensor,
    pub logprobs: Tensor,
    pub values: Tensor,
    pub advantages: Tensor,
    pub returns: Tensor,
    pub valid: Tensor,
    /// `[T, N]`
    pub starts: Tensor,
    /// `[T*N, A]`, when any action was masked.
    pub masks: Option<Tensor>,
    pub h0: Option<Tensor>,
}

impl Batch {
    pub fn new(ro: &Rollout, device: Device) -> Self {
        let (t, n) = (ro.steps as i64, ro.envs as i64);
        let flat = |v: &[f32]| Tensor::from_slice(v).to_device(device);
        let valid: Vec<f32> = ro
            .valid
            .iter()
            .map(|&v| if v { 1.0 } else { 0.0 })
            .collect();
        Self {
            obs: Tensor::from_slice(&ro.obs)
                .view([t, n, ro.obs_dim as i64])
                .to_device(device),
            actions: Tensor::from_slice(&ro.actions).to_device(device),
            logprobs: flat(&ro.logprobs),
            values: flat(&ro.values),
            advantages: flat(&ro.advantages),
            returns: flat(&ro.returns),
            valid: flat(&valid),
            starts: flat(&ro.starts).view([t, n]),
            masks: ro.any_masked.then(|| {
                Tensor::from_slice(&ro.masks)
                    .view([t * n, ro.num_actions as i64])
                    .to_device(device)
            }),
            h0: ro.h0.as_ref().map(|h| h.to_device(device)),
        }
    }
}

/// Masked mean: the mean of `x` over the entries where `w` is 1.
fn masked_mean(x: &Tensor, w: &Tensor) -> Tensor {
    (x * w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0)
}

/// Which rows of a minibatch count in its means.
#[derive(Debug)]
pub(crate) enum RowWeights {
    /// Every row (a plain mean: one libtorch call instead of four).
    All,
    /// Rows weighted 1.0 (a real transition) or 0.0 (padding after an episode's end).
    Mask(Tensor),
}

impl RowWeights {
    /// The weighted mean of `x` over the rows.
    pub fn mean(&self, x: &Tensor) -> Tensor {
        match self {
            Self::All => x.mean(Kind::Float),
            Self::Mask(w) => masked_mean(x, w),
        }
    }

    /// `x` standardised over the rows: weighted mean 0 and standard deviation 1 (advantage
    /// normalisation).
    pub fn standardize(&self, x: &Tensor) -> Tensor {
        let mean = self.mean(x);
        let var = self.mean(&(x - &mean).square());
        (x - mean) / (var.sqrt() + 1e-8)
    }
}

/// Splits the rollout into shuffled minibatches for an update. Feed-forward policies get flat
/// transition indices (valid ones only); recurrent policies get whole sub-env sequences
/// (truncated backpropagation through time over the rollout segment), about `size`
/// transitions each.
pub(crate) fn minibatches(
    ro: &Rollout,
    recurrent: bool,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<i64>> {
    let mut ids: Vec<i64> = if recurrent {
        (0..ro.envs as i64).collect()
    } else {
        (0..ro.valid.len())
            .filter(|&i| ro.valid[i])
            .map(|i| i as i64)
            .collect()
    };
    // Fisher-Yates with the run's RNG, so updates are a function of the seed.
    for i in (1..ids.len()).rev() {
        let j = rng.random_range(0..=i);
        ids.swap(i, j);
    }
    let per = if recurrent {
        (size / ro.steps.max(1)).max(1)
    } else {
        size.max(1)
    };
    ids.chunks(per).map(|c| c.to_vec()).collect()
}

/// The policy re-evaluated on one minibatch (with gradients).
#[derive(Debug)]
pub(crate) struct Evaluated {
    /// Masked log-probabilities, `[M, A]`.
    pub logp: Tensor,
    /// Values, `[M]`.
    pub values: Tensor,
    /// Flat rollout indices of the `M` rows, to gather the stored tensors with.
    pub idx: Tensor,
    /// Whether every row is a real transition.
    all_valid: bool,
}

impl Evaluated {
    /// Log-probabilities of the taken actions and the entropies, `[M]` each.
    pub fn action_logp_entropy(&self, batch: &Batch) -> (Tensor, Tensor) {
        let actions = batch.actions.index_select(0, &self.idx);
        let logp = self
            .logp
            .gather(1, &actions.unsqueeze(-1), false)
            .squeeze_dim(-1);
        let entropy = -(self.logp.exp() * &self.logp).sum_dim_intlist(-1, false, Kind::Float);
        (logp, entropy)
    }

    /// A stored per-transition tensor gathered to the rows of this minibatch.
    pub fn gather(&self, t: &Tensor) -> Tensor {
        t.index_select(0, &self.idx)
    }

    /// The rows that count in this minibatch's means.
    pub fn weights(&self, batch: &Batch) -> RowWeights {
        if self.all_valid {
            RowWeights::All
        } else {
            RowWeights::Mask(self.gather(&batch.valid))
        }
    }
}

/// Runs the network on the minibatch `ids` (from [`minibatches`]).
pub(crate) fn evaluate(net: &Net, ro: &Rollout, batch: &Batch, ids: &[i64]) -> Evaluated {
    let device = net.device();
    let (t, n) = (ro.steps as i64, ro.envs as i64);
    let (logits, values, idx, all_valid) = if net.is_recurrent() {
        let envs = Tensor::from_slice(ids).to_device(device);
        let obs = batch.obs.index_select(1, &envs);
        let starts = batch.starts.index_select(1, &envs);
        let h0 = batch.h0.as_ref().map(|h| h.index_select(0, &envs));
        let (logits, values) = net.sequence(&obs, &starts, h0.as_ref());
        let flat: Vec<i64> = (0..t)
            .flat_map(|s| ids.iter().map(move |&e| s * n + e))
            .collect();
        let all_valid = flat.iter().all(|&i| ro.valid[i as usize]);
        (
            logits,
            values,
            Tensor::from_slice(&flat).to_device(device),
            all_valid,
        )
    } else {
        let idx = Tensor::from_slice(ids).to_device(device);
        let obs = batch.obs.view([t * n, -1]).index_select(0, &idx);
        let (logits, values, _) = net.step(&obs, None);
        let all_valid = ids.iter().all(|&i| ro.valid[i as usize]);
        (logits, values, idx, all_valid)
    };
    let mask = batch.masks.as_ref().map(|m| m.index_select(0, &idx));
    Evaluated {
        logp: masked_log_softmax(&logits, mask.as_ref()),
        values,
        idx,
        all_valid,
    }
}

/// One gradient step on the whole rollout: the policy-gradient loss `−A · log π(a|s)` with
/// the stored advantages, plus the value loss, minus the entropy bonus, as `weights` says.
/// REINFORCE (with
/// Monte-Carlo advantages) and A2C (with n-step bootstrapped ones) share it; they differ in
/// how the rollout's advantages were computed.
pub(crate) fn one_step_update(
    net: &Net,
    opt: &mut Optim,
    ro: &Rollout,
    weights: &LossConfig,
    stats: &mut LearnStats,
) {
    let batch = Batch::new(ro, net.device());
    let ids: Vec<i64> = if net.is_recurrent() {
        (0..ro.envs as i64).collect()
    } else {
        (0..(ro.steps * ro.envs) as i64).collect()
    };
    let ev = evaluate(net, ro, &batch, &ids);
    let (logp, entropy) = ev.action_logp_entropy(&batch);
    let w = ev.weights(&batch);
    let mut adv = ev.gather(&batch.advantages);
    if weights.norm_adv {
        adv = w.standardize(&adv);
    }
    let pg_loss = w.mean(&(-(adv * &logp)));
    let returns = ev.gather(&batch.returns);
    let v_loss = w.mean(&(&ev.values - &returns).square()) * 0.5;
    let ent = w.mean(&entropy);
    let loss = &pg_loss - &ent * weights.ent_coef + &v_loss * weights.vf_coef;
    opt.backward_step_clip(&loss, weights.max_grad_norm);
    for (name, v) in [
        ("policy_loss", &pg_loss),
        ("value_loss", &v_loss),
        ("entropy", &ent),
    ] {
        stats.scalars.insert(name.to_string(), v.double_value(&[]));
    }
}

/// The weights of the actor-critic loss and how a step on it is taken: the last shared fields
/// of every policy-gradient config (at the top level in TOML too). Each algorithm has its own
/// defaults; these are REINFORCE's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Weight of the entropy bonus. Range [0, 1].
    pub ent_coef: f64,
    /// Weight of the value loss. Range [0, 100].
    pub vf_coef: f64,
    /// Maximum global gradient norm. Range (0, 1e6].
    pub max_grad_norm: f64,
    /// Normalise advantages (over the rollout, or per minibatch where the algorithm takes
    /// several).
    pub norm_adv: bool,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            norm_adv: true,
        }
    }
}

impl LossConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        super::config::check_real("ent_coef", self.ent_coef, 0.0, 1.0, false)?;
        super::config::check_real("vf_coef", self.vf_coef, 0.0, 100.0, false)?;
        super::config::check_real("max_grad_norm", self.max_grad_norm, 0.0, 1e6, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_logp_penalty_touches_valid_steps_only() {
        let mut ro = Rollout::new(2, 2, 1, 3);
        ro.rewards = vec![1.0, 1.0, 1.0, 1.0];
        ro.logprobs = vec![-1.0, -2.0, -0.5, -4.0];
        ro.valid = vec![true, true, false, true];
        let mean = penalise_policy_logp(&mut ro, 0.5);
        // −β·log π is a bonus of β·(−log π) >= 0: rarer actions earn more, as in an entropy
        // bonus, and the invalid (autoreset) step is left alone.
        assert_eq!(ro.rewards, vec![1.5, 2.0, 1.0, 3.0]);
        assert!((mean - (-7.0 / 3.0)).abs() < 1e-9, "{mean}");
        let mut empty = Rollout::new(1, 1, 1, 3);
        assert_eq!(penalise_policy_logp(&mut empty, 1.0), 0.0);
    }
}
