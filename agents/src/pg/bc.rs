//! Behaviour cloning: the policy network pretrained as a next-event model on real melodies,
//! and the prior-shaped reward of KL-controlled fine-tuning.
//!
//! Jaques, Gu, Bahdanau, Hernández-Lobato, Turner, Eck, "Sequence Tutor: Conservative
//! Fine-Tuning of Sequence Generation Models with KL-control" (ICML 2017; arXiv:1611.02796
//! as "Tuning Recurrent Neural Networks with Reinforcement Learning"). Their recipe: learn a
//! prior `p(a|s)` from data (here: [`train`], teacher forcing), then improve it by RL on
//! music-theory rewards with the reward `r_MT(a,s)/c + log p(a|s)` (Eq. 3), starting from
//! the prior's weights ([`ppo_from_prior`]). Training scores the prior in batches (an MLP
//! prior the whole rollout after it, a GRU prior all envs of a step at once;
//! [`Agent::attach_prior`], [`RolloutPrior`]);
//! [`PriorReward`] scores it one env step at a time inside a reward, the reference the
//! batched scores are tested against.
//!
//! # Observations from long tunes
//!
//! The network sees exactly the `rl-tuner` observation: the last four events (one-hot, most
//! recent first, zeros before the tune starts) and a one-hot of the step index inside a
//! 32-step episode. Corpus tunes are far longer than 32 steps, so each tune is cut into
//! *windows* that start on bar boundaries (multiples of the tune's `steps_per_bar`, taken
//! from its time signature): the step index of event `t` in the window starting at `s` is
//! `t - s`. The history is the tune's real last four events, not cut at the window start:
//! the only empty history the model sees is the tune's own beginning, which is what an
//! episode of the env (a fresh melody) looks like at step 0.
//!
//! - **MLP, training**: every (window, step) pair, a window starting at every bar line and
//!   spanning 32 steps (or the rest of the tune), so each event is learnt at about
//!   `32 / steps_per_bar` phrase positions.
//! - **Scoring (both models) and GRU training**: each event exactly once, in non-overlapping
//!   windows of `steps_per_bar * floor(32 / steps_per_bar)` steps (32 in 4/4 and 2/4, 24 in
//!   6/8 and 3/4, 18 in 9/8); the GRU carries its hidden state over the whole tune.
//!
//! The validation split is by file, drawn exactly as `cadenza corpus fit`/`orders` draw
//! theirs ([`split`]), so NLL per event is comparable with the n-gram model's figure.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::models::{Activation, ModelConfig, Net, PolicyArch};
use super::policy::{self, Policy};
use super::ppo::{PpoAgent, PpoConfig};
use super::prior::{check_prior_shape, load_net, Shape};
pub use super::prior::{checkpoint_dir, NetCursor, NetPrior, RolloutPrior};
use crate::agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
use cadenza_env::encoding::Event;
use cadenza_env::vector::VecEnv;
use cadenza_env::{Reward, Setting, StepContext, TaskSpec};
use cadenza_reward::prior::PriorTerm;

/// The kind name of a behaviour-cloned checkpoint.
pub const KIND: &str = super::prior::PRIOR_KIND;

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// Behaviour cloning's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BcConfig {
    /// The network (the same shapes PPO uses, so the prior can start a PPO run).
    pub model: ModelConfig,
    /// Passes over the training tunes. Default 12, range 1..=10000.
    pub epochs: usize,
    /// Adam's learning rate. Default 3e-3, range (0, 1].
    pub learning_rate: f64,
    /// MLP: observations per minibatch; GRU: tunes per minibatch. Default 256 (MLP) and 16
    /// (GRU) when 0. Range 0..=1048576.
    pub batch_size: usize,
    /// GRU: steps of truncated backpropagation through time (the hidden state carries on
    /// across chunks, the gradient does not). Default 128, range 1..=65536.
    pub bptt: usize,
    /// Maximum global gradient norm. Default 1.0, range (0, 1e6].
    pub max_grad_norm: f64,
    /// Share of the files held out for validation. Default 0.2, range [0, 1).
    pub valid_fraction: f64,
    /// Seed of the train/validation split (as `cadenza corpus fit --seed`). Default 0.
    pub split_seed: u64,
}

impl Default for BcConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig {
                arch: PolicyArch::Mlp,
                hidden: 256,
                layers: 2,
                activation: Activation::Tanh,
                critic_hidden: None,
            },
            epochs: 12,
            learning_rate: 3e-3,
            batch_size: 0,
            bptt: 128,
            max_grad_norm: 1.0,
            valid_fraction: 0.2,
            split_seed: 0,
        }
    }
}

impl BcConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        self.model.validate()?;
        super::config::check_count("epochs", self.epochs, 10_000)?;
        super::config::check_real("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        if self.batch_size > 1 << 20 {
            return Err(super::models::config_error(
                "batch_size",
                "must be in 0..=1048576 (0: the default)",
            ));
        }
        super::config::check_count("bptt", self.bptt, 65_536)?;
        super::config::check_real("max_grad_norm", self.max_grad_norm, 0.0, 1e6, true)?;
        if !(self.valid_fraction.is_finite() && (0.0..1.0).contains(&self.valid_fraction)) {
            return Err(super::models::config_error(
                "valid_fraction",
                &format!("must be in [0, 1), got {}", self.valid_fraction),
            ));
        }
        Ok(())
    }

    fn batch(&self) -> usize {
        match (self.batch_size, self.model.arch) {
            (0, PolicyArch::Gru) => 16,
            (0, _) => 256,
            (n, _) => n,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data: tunes, windows, observations
// ---------------------------------------------------------------------------------------------

/// One corpus tune in the task's encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tune {
    /// One event per step.
    pub events: Vec<Event>,
    /// Steps per bar of the tune's meter (windows start on bar lines).
    pub steps_per_bar: usize,
}

/// Splits tunes (one per file) into training and validation sets exactly as `cadenza corpus`
/// does: a seeded shuffle of the indices, then `round(n * fraction)` tunes (at least one, and
/// at least one left to train on) held out; both sets keep the input order.
pub fn split(tunes: &[Tune], fraction: f64, seed: u64) -> (Vec<Tune>, Vec<Tune>) {
    let n = tunes.len();
    if fraction <= 0.0 || n < 2 {
        return (tunes.to_vec(), Vec::new());
    }
    let valid_count = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut held_out = vec![false; n];
    for &i in &order[..valid_count] {
        held_out[i] = true;
    }
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (tune, h) in tunes.iter().zip(held_out) {
        if h {
            valid.push(tune.clone());
        } else {
            train.push(tune.clone());
        }
    }
    (train, valid)
}

fn check_tunes(tunes: &[Tune], shape: Shape, what: &str) -> Result<(), AgentError> {
    for (i, tune) in tunes.iter().enumerate() {
        if let Some(&e) = tune
            .events
            .iter()
            .find(|&&e| e as usize >= shape.num_events)
        {
            return Err(AgentError::Other(format!(
                "{what} tune {i}: event {e} is outside the task's {} events",
                shape.num_events
            )));
        }
    }
    if tunes.iter().all(|t| t.events.is_empty()) {
        return Err(AgentError::Other(format!(
            "{what}: no events to learn from"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Agent: a behaviour-cloned policy (acts, saves; learns only through `train`)
// ---------------------------------------------------------------------------------------------

/// A behaviour-cloned prior: a policy network trained by [`train`]. It generates melodies like
/// any policy ([`Agent::act`]) and saves as a checkpoint of kind `bc` that [`super::load`]
/// restores and [`ppo_from_prior`] starts PPO from. It does not learn from an env.
#[derive(Debug)]
pub struct BcAgent {
    config: BcConfig,
    policy: Policy,
}

impl BcAgent {
    pub(crate) fn new(
        config: BcConfig,
        obs_dim: usize,
        num_actions: usize,
        device: Device,
        seed: u64,
    ) -> Result<Self, AgentError> {
        config.validate()?;
        let net = Net::new(device, obs_dim, num_actions, &config.model, seed);
        Ok(Self {
            config,
            policy: Policy::new(net),
        })
    }

    pub(crate) fn net_mut(&mut self) -> &mut Net {
        &mut self.policy.net
    }

    /// The configuration.
    pub fn config(&self) -> &BcConfig {
        &self.config
    }
}

impl Agent for BcAgent {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn learn(
        &mut self,
        _envs: &mut VecEnv<TrainEnv>,
        _steps: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<LearnStats, AgentError> {
        Err(AgentError::Other(
            "a behaviour-cloned prior learns from melodies, not from an env: fine-tune it with \
             `--agent ppo --prior DIR`"
                .to_string(),
        ))
    }

    fn act(&mut self, obs: &Observation<'_>, mode: ActMode, rng: &mut ChaCha8Rng) -> usize {
        self.policy.act(obs, mode, rng)
    }

    fn act_batch(
        &mut self,
        observations: &[Observation<'_>],
        mode: ActMode,
        rngs: &mut [ChaCha8Rng],
        actions: &mut [usize],
    ) -> bool {
        self.policy.act_batch(observations, mode, rngs, actions)
    }

    fn begin_episode(&mut self) {
        self.policy.begin_episode();
    }

    fn save(&self, dir: &Path) -> Result<(), AgentError> {
        policy::save(dir, KIND, &self.policy.net, &self.config, None)
    }
}

// ---------------------------------------------------------------------------------------------
// Training: teacher forcing, cross-entropy on the next event
// ---------------------------------------------------------------------------------------------

/// One epoch of [`train`], for the metrics log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean NLL per event (nats) of the training minibatches of this epoch.
    pub train_nll: f64,
    /// NLL per event of the validation tunes after this epoch (none without a split).
    pub valid_nll: Option<f64>,
    /// Share of validation events whose most probable event was the true one.
    pub valid_accuracy: Option<f64>,
    /// Seconds since training started.
    pub elapsed_s: f64,
}

/// How well a model predicts a set of tunes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NllReport {
    /// Mean negative log-likelihood per event, nats.
    pub nll_per_event: f64,
    /// `exp(nll_per_event)`.
    pub perplexity: f64,
    /// Share of events whose most probable event was the true one.
    pub accuracy: f64,
    /// Events scored.
    pub events: usize,
    /// Tunes scored.
    pub melodies: usize,
}

/// Trains a prior for `task` on `train_tunes` (scored on `valid_tunes` after every epoch,
/// each record passed to `on_epoch`). Everything random follows `seed`.
pub fn train(
    config: &BcConfig,
    task: &TaskSpec,
    train_tunes: &[Tune],
    valid_tunes: &[Tune],
    device: crate::agent::DeviceChoice,
    seed: u64,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<BcAgent, AgentError> {
    config.validate()?;
    let shape = Shape::of(task)?;
    check_tunes(train_tunes, shape, "training")?;
    check_tunes(valid_tunes, shape, "validation")?;
    let device = super::backend::resolve_device(device)?;
    let agent = BcAgent::new(config.clone(), shape.dim(), shape.num_events, device, seed)?;
    let mut opt = nn::adam(0.9, 0.999, 0.0)
        .build(&agent.policy.net.vs, config.learning_rate)
        .map_err(|e| AgentError::Other(e.to_string()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    for epoch in 1..=config.epochs {
        let net = &agent.policy.net;
        let train_nll = match config.model.arch {
            PolicyArch::Gru => gru_epoch(net, &mut opt, config, shape, train_tunes, &mut rng),
            _ => mlp_epoch(net, &mut opt, config, shape, train_tunes, &mut rng),
        };
        let valid = if valid_tunes.is_empty() {
            None
        } else {
            Some(score_net(net, shape, valid_tunes))
        };
        on_epoch(&EpochRecord {
            epoch,
            train_nll,
            valid_nll: valid.map(|v| v.nll_per_event),
            valid_accuracy: valid.map(|v| v.accuracy),
            elapsed_s: started.elapsed().as_secs_f64(),
        });
    }
    Ok(agent)
}

/// One pass of the MLP over every (bar-line window, step) pair, shuffled.
fn mlp_epoch(
    net: &Net,
    opt: &mut nn::Optimizer,
    config: &BcConfig,
    shape: Shape,
    tunes: &[Tune],
    rng: &mut ChaCha8Rng,
) -> f64 {
    // (tune, event index, window start)
    let mut items: Vec<(u32, u32, u32)> = Vec::new();
    for (i, tune) in tunes.iter().enumerate() {
        let bar = tune.steps_per_bar.max(1);
        for start in (0..tune.events.len()).step_by(bar) {
            let end = (start + shape.length).min(tune.events.len());
            items.extend((start..end).map(|t| (i as u32, t as u32, start as u32)));
        }
    }
    items.shuffle(rng);
    let dim = shape.dim();
    let batch = config.batch();
    let mut obs = vec![0.0f32; batch * dim];
    let mut targets = vec![0i64; batch];
    let (mut sum, mut count) = (0.0, 0usize);
    for chunk in items.chunks(batch) {
        let b = chunk.len();
        for (k, &(i, t, s)) in chunk.iter().enumerate() {
            let events = &tunes[i as usize].events;
            shape.write(
                events,
                t as usize,
                s as usize,
                &mut obs[k * dim..(k + 1) * dim],
            );
            targets[k] = i64::from(events[t as usize]);
        }
        let x = Tensor::from_slice(&obs[..b * dim])
            .view([b as i64, dim as i64])
            .to_device(net.device());
        let y = Tensor::from_slice(&targets[..b]).to_device(net.device());
        let (logits, _) = net.act_step(&x, None);
        let loss = logits.cross_entropy_for_logits(&y);
        opt.zero_grad();
        loss.backward();
        opt.clip_grad_norm(config.max_grad_norm);
        opt.step();
        sum += loss.double_value(&[]) * b as f64;
        count += b;
    }
    sum / count.max(1) as f64
}

/// Observations `[T, B, dim]`, targets `[T, B]` and weights `[T, B]` (0 past a tune's end) of
/// whole tunes, in the scoring windows.
fn tune_batch(shape: Shape, tunes: &[&Tune], device: Device) -> (Tensor, Tensor, Tensor) {
    let (b, dim) = (tunes.len(), shape.dim());
    let t_max = tunes.iter().map(|t| t.events.len()).max().unwrap_or(0);
    let mut obs = vec![0.0f32; t_max * b * dim];
    let mut targets = vec![0i64; t_max * b];
    let mut weights = vec![0.0f32; t_max * b];
    for (k, tune) in tunes.iter().enumerate() {
        let stride = shape.eval_stride(tune.steps_per_bar);
        for t in 0..tune.events.len() {
            let row = t * b + k;
            let start = t - t % stride;
            shape.write(&tune.events, t, start, &mut obs[row * dim..(row + 1) * dim]);
            targets[row] = i64::from(tune.events[t]);
            weights[row] = 1.0;
        }
    }
    let (t, b) = (t_max as i64, b as i64);
    (
        Tensor::from_slice(&obs)
            .view([t, b, dim as i64])
            .to_device(device),
        Tensor::from_slice(&targets).view([t, b]).to_device(device),
        Tensor::from_slice(&weights).view([t, b]).to_device(device),
    )
}

/// One pass of the GRU over whole tunes, in minibatches of tunes, with truncated BPTT.
fn gru_epoch(
    net: &Net,
    opt: &mut nn::Optimizer,
    config: &BcConfig,
    shape: Shape,
    tunes: &[Tune],
    rng: &mut ChaCha8Rng,
) -> f64 {
    let mut order: Vec<usize> = (0..tunes.len()).collect();
    order.shuffle(rng);
    let (mut sum, mut count) = (0.0, 0.0);
    for ids in order.chunks(config.batch()) {
        let batch: Vec<&Tune> = ids.iter().map(|&i| &tunes[i]).collect();
        let (obs, targets, weights) = tune_batch(shape, &batch, net.device());
        let t_max = obs.size()[0];
        let mut h = net.initial_state(batch.len());
        let mut t0 = 0;
        while t0 < t_max {
            let t1 = (t0 + config.bptt as i64).min(t_max);
            let mut losses = Vec::with_capacity((t1 - t0) as usize);
            for t in t0..t1 {
                let (logits, next) = net.act_step(&obs.get(t), h.as_ref());
                h = next;
                let nll = -logits
                    .log_softmax(-1, Kind::Float)
                    .gather(1, &targets.get(t).unsqueeze(-1), false)
                    .squeeze_dim(-1);
                losses.push(nll * weights.get(t));
            }
            let w = weights.narrow(0, t0, t1 - t0).sum(Kind::Float);
            let total = Tensor::stack(&losses, 0).sum(Kind::Float);
            let n = w.double_value(&[]);
            if n > 0.0 {
                let loss = &total / n;
                opt.zero_grad();
                loss.backward();
                opt.clip_grad_norm(config.max_grad_norm);
                opt.step();
                sum += total.double_value(&[]);
                count += n;
            }
            // The state carries on; the gradient stops at the chunk boundary.
            h = h.map(|h| h.detach());
            t0 = t1;
        }
    }
    sum / f64::max(count, 1.0)
}

/// NLL per event and accuracy of `net` on `tunes`, every event scored once (see the module
/// docs for the windows).
fn score_net(net: &Net, shape: Shape, tunes: &[Tune]) -> NllReport {
    let _guard = tch::no_grad_guard();
    let (mut nll, mut hits, mut events) = (0.0, 0.0, 0usize);
    // Tunes in groups: one batched forward pass per step for the GRU, per group for the MLP.
    for group in tunes.chunks(32) {
        let refs: Vec<&Tune> = group.iter().collect();
        let (obs, targets, weights) = tune_batch(shape, &refs, net.device());
        let (t_max, b) = (obs.size()[0], obs.size()[1]);
        if t_max == 0 {
            continue;
        }
        // The hidden state starts at zero once per tune and is never reset inside it.
        let starts = Tensor::zeros([t_max, b], (Kind::Float, net.device()));
        let h0 = net.initial_state(b as usize);
        let (logits, _) = net.sequence(&obs, &starts, h0.as_ref());
        let logp = logits.log_softmax(-1, Kind::Float);
        let flat_targets = targets.view([-1]);
        let flat_w = weights.view([-1]);
        let picked = logp
            .gather(1, &flat_targets.unsqueeze(-1), false)
            .squeeze_dim(-1);
        nll -= (&picked * &flat_w).sum(Kind::Float).double_value(&[]);
        let right = logp.argmax(-1, false).eq_tensor(&flat_targets);
        hits += (right.to_kind(Kind::Float) * &flat_w)
            .sum(Kind::Float)
            .double_value(&[]);
        events += group.iter().map(|t| t.events.len()).sum::<usize>();
    }
    let n = events.max(1) as f64;
    NllReport {
        nll_per_event: nll / n,
        perplexity: (nll / n).exp(),
        accuracy: hits / n,
        events,
        melodies: tunes.len(),
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints as priors
// ---------------------------------------------------------------------------------------------

/// NLL per event and accuracy on `tunes` of the policy saved in `dir` (a checkpoint or a run
/// directory; any policy-gradient kind), for the observations of `task`.
pub fn score_checkpoint(
    dir: &Path,
    task: &TaskSpec,
    tunes: &[Tune],
    device: crate::agent::DeviceChoice,
) -> Result<NllReport, AgentError> {
    let shape = Shape::of(task)?;
    let (net, _) = load_net(dir, super::backend::resolve_device(device)?)?;
    check_prior_shape(dir, &net, shape)?;
    check_tunes(tunes, shape, "scored")?;
    Ok(score_net(&net, shape, tunes))
}

/// NLL per event and accuracy of a freshly trained agent on `tunes`.
pub fn score(agent: &BcAgent, task: &TaskSpec, tunes: &[Tune]) -> Result<NllReport, AgentError> {
    let shape = Shape::of(task)?;
    check_tunes(tunes, shape, "scored")?;
    Ok(score_net(&agent.policy.net, shape, tunes))
}

/// A PPO agent whose network starts as the behaviour-cloned prior in `prior` (a checkpoint of
/// kind `bc` or a run directory holding one). `config_toml` is PPO's config; its `[model]`
/// table, when given, must equal the prior's (the prior's is used otherwise), except for
/// `critic_hidden`: a value tower of another width than the prior's starts freshly
/// initialised from `seed`, the policy tower and head from the prior. Wrong kind,
/// sizes or shapes are an [`AgentError::Checkpoint`] naming the file.
pub fn ppo_from_prior(
    prior: &Path,
    config_toml: Option<&str>,
    task: &TaskSpec,
    device: crate::agent::DeviceChoice,
    seed: u64,
    total_steps: Option<u64>,
) -> Result<Box<dyn Agent>, AgentError> {
    let shape = Shape::of(task)?;
    let device = super::backend::resolve_device(device)?;
    let dir = checkpoint_dir(prior);
    let header = policy::read_header(&dir)?;
    if header.kind != KIND {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!(
                "holds a '{}' agent, but --prior needs a behaviour-cloned prior (kind '{KIND}', \
                 written by `cadenza train --agent bc`)",
                header.kind
            ),
        });
    }
    let bc: BcConfig = header.config()?;
    let base = PpoConfig::for_prior(bc.model.clone());
    let mut config: PpoConfig = super::config::parse_over(config_toml, base)?;
    // The value tower may have a width of its own; the policy's network is the prior's.
    let critic_hidden = config.training.model.critic_hidden;
    let policy_model = ModelConfig {
        critic_hidden: bc.model.critic_hidden,
        ..config.training.model.clone()
    };
    if policy_model != bc.model {
        return Err(super::models::config_error(
            "model",
            &format!(
                "the config's [model] ({:?}) differs from the prior's ({:?}); leave [model] out \
                 to use the prior's (only critic_hidden may be set)",
                config.training.model, bc.model
            ),
        ));
    }
    config.training.model = ModelConfig {
        critic_hidden,
        ..bc.model.clone()
    };
    let fresh_critic = config.training.model.critic_width() != bc.model.critic_width();
    if header.obs_dim != shape.dim() || header.num_actions != shape.num_events {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!(
                "the prior was trained for {} observation floats and {} actions, task '{}' has \
                 {} and {}",
                header.obs_dim,
                header.num_actions,
                task.name,
                shape.dim(),
                shape.num_events
            ),
        });
    }
    let mut agent = PpoAgent::new(
        config,
        shape.dim(),
        shape.num_events,
        device,
        seed,
        total_steps,
    )?;
    if fresh_critic {
        // A value tower of another width than the prior's starts from PPO's initialisation.
        policy::load_weights_where(agent.net_mut(), &header.weights, |name| {
            !Net::is_critic_variable(name)
        })?;
    } else {
        policy::load_weights(agent.net_mut(), &header.weights)?;
    }
    Ok(Box::new(agent))
}

// ---------------------------------------------------------------------------------------------
// The KL-controlled reward: r_MT + c · log p_prior(a|s)
// ---------------------------------------------------------------------------------------------

/// The reward of KL-controlled fine-tuning: the inner (music-theory) reward plus
/// `kl_coef · log p_prior(a|s)`, where `p_prior` is a frozen behaviour-cloned prior.
///
/// This is the RL Tuner's Eq. 3, `r_MT/c + log p(a|s)`, multiplied by `c = kl_coef`, so
/// returns stay in the units of the music-theory reward (PPO normalises advantages, so the
/// scale does not change what is learnt). Maximising `E[log p]` alone pulls the policy to the
/// prior's mode; with PPO's entropy bonus at `ent_coef = kl_coef` the objective becomes
/// `E[r_MT] - c·KL(π‖p)`, the KL-control of Sequence Tutor.
///
/// Terms: the inner reward's, then `prior_logp` (already multiplied by `kl_coef`).
///
/// One forward pass per env step: `cadenza train --prior` scores the prior through
/// [`Agent::attach_prior`] instead, for all envs of a step at once (about 5x cheaper per
/// step: `cargo bench --features tch --bench prior`), with the same values
/// (`agents/tests/bc.rs`). This type is that path's reference.
pub struct PriorReward {
    inner: Box<dyn Reward>,
    prior: PriorTerm<NetPrior>,
    kl_coef: f64,
}

impl std::fmt::Debug for PriorReward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriorReward")
            .field("inner_terms", &self.inner.term_names())
            .field("prior", self.prior.prior())
            .field("kl_coef", &self.kl_coef)
            .finish_non_exhaustive()
    }
}

impl PriorReward {
    /// Wraps `inner` with the prior saved in `prior` (a `bc` checkpoint or its run directory)
    /// for the observations of `task`. The prior runs on the CPU: one observation per call.
    pub fn new(
        inner: Box<dyn Reward>,
        prior: &Path,
        task: &TaskSpec,
        kl_coef: f64,
    ) -> Result<Self, AgentError> {
        super::config::check_real("kl_coef", kl_coef, 0.0, 1e6, false)?;
        // The KL reward pays the prior's log-probability as it is: no floor.
        let prior = PriorTerm::with_prior(NetPrior::load(prior, task)?)
            .with_floor(f64::MIN)
            .map_err(|e| AgentError::Other(e.to_string()))?;
        Ok(Self {
            inner,
            prior,
            kl_coef,
        })
    }
}

impl Reward for PriorReward {
    fn term_names(&self) -> Vec<String> {
        let mut names = self.inner.term_names();
        names.extend(self.prior.term_names());
        names
    }

    fn reset(&mut self, setting: &Setting) {
        self.inner.reset(setting);
        self.prior.reset(setting);
    }

    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        self.step_with(ctx, terms, None)
    }

    fn prefetch(&self) {
        self.inner.prefetch();
        self.prior.prefetch();
    }

    fn step_timing_priors(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: &mut Option<f64>,
    ) -> f64 {
        self.step_with(ctx, terms, Some(prior_seconds))
    }
}

impl PriorReward {
    /// One step, timing the prior terms into `prior_seconds` when it is given.
    fn step_with(
        &mut self,
        ctx: &StepContext<'_>,
        terms: &mut [f64],
        prior_seconds: Option<&mut Option<f64>>,
    ) -> f64 {
        let split = terms.len().saturating_sub(1);
        let (inner_terms, prior_term) = terms.split_at_mut(split);
        let (theory, prior) = match prior_seconds {
            None => (
                self.inner.step(ctx, inner_terms),
                self.prior.step(ctx, &mut [0.0]),
            ),
            Some(seconds) => (
                self.inner.step_timing_priors(ctx, inner_terms, seconds),
                self.prior.step_timing_priors(ctx, &mut [0.0], seconds),
            ),
        };
        let bonus = self.kl_coef * prior;
        if let Some(last) = prior_term.first_mut() {
            *last = bonus;
        }
        theory + bonus
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::{ComposeEnv, Environment, ZeroReward};

    #[test]
    fn observations_match_the_env() {
        let task = TaskSpec::rl_tuner();
        let shape = Shape::of(&task).unwrap();
        let melody: Vec<Event> = (0..32).map(|i| (i * 7 % 38) as Event).collect();
        let mut env = ComposeEnv::new(task, ZeroReward);
        let mut obs = vec![0.0; shape.dim()];
        let mut ours = vec![0.0; shape.dim()];
        env.reset_into(Some(0), &mut obs).unwrap();
        for t in 0..32 {
            shape.write(&melody, t, 0, &mut ours);
            assert_eq!(obs, ours, "step {t}");
            env.step_into(melody[t] as usize, &mut obs).unwrap();
        }
    }

    #[test]
    fn scoring_windows_follow_the_meter() {
        let shape = Shape::of(&TaskSpec::rl_tuner()).unwrap();
        assert_eq!(shape.eval_stride(16), 32);
        assert_eq!(shape.eval_stride(12), 24);
        assert_eq!(shape.eval_stride(18), 18);
        assert_eq!(shape.eval_stride(8), 32);
        assert_eq!(shape.eval_stride(48), 32);
    }

    #[test]
    fn split_holds_out_a_seeded_share() {
        let tunes: Vec<Tune> = (0..10)
            .map(|i| Tune {
                events: vec![i as Event],
                steps_per_bar: 16,
            })
            .collect();
        let (t1, v1) = split(&tunes, 0.2, 7);
        let (t2, v2) = split(&tunes, 0.2, 7);
        assert_eq!((t1.len(), v1.len()), (8, 2));
        assert_eq!((t1, v1), (t2, v2));
    }
}
