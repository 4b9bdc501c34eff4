//! The agent that REINFORCE, A2C and PPO share: a policy network, its optimizer, the
//! learning-rate schedule, the rollout buffers, acting and the checkpoint, around one training
//! loop. An algorithm is its config plus what differs ([`Algorithm`]): how a rollout's
//! advantages are computed and how the network is updated on them.
//!
//! One pass of [`PgAgent::learn`](crate::Agent::learn), per rollout:
//!
//! 1. **Schedule**: the learning rate, annealed linearly to 0 over the whole budget.
//! 2. **Rollout**: one forward pass per step for all sub-envs, no gradients
//!    ([`rollout::collect`]).
//! 3. **Advantages**: the algorithm's ([`Algorithm::advantages`]).
//! 4. **Update**: the algorithm's loss ([`Algorithm::update`]).

use rand_chacha::ChaCha8Rng;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use tch::{nn, Device};

use super::models::{ModelConfig, Net};
use super::optim::Optim;
use super::policy::{self, HeaderInfo, Policy, TrainingState};
use super::prior::RolloutPrior;
use super::rollout::{self, LossConfig, Rollout, RunState};
use crate::agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
use cadenza_env::vector::VecEnv;
use cadenza_env::TaskSpec;

/// What differs between the policy-gradient algorithms, implemented by each one's config.
pub(crate) trait Algorithm:
    Serialize + DeserializeOwned + Default + std::fmt::Debug + Send + 'static
{
    /// The kind, as named on the command line and in checkpoint headers.
    const KIND: &'static str;

    /// Whether `learn` reports where its time goes (`rollout_s` and `update_s`).
    const TIMES_PHASES: bool = false;

    /// What the algorithm learns besides the weights and the optimizer's moments (PPO's
    /// tuned entropy coefficient): saved in the checkpoint header, where a value that
    /// serialises to nothing (`()`, `None`) leaves no field.
    type State: Serialize + DeserializeOwned + std::fmt::Debug + Send;

    /// The state a fresh agent starts from (and one restored from a checkpoint written
    /// without it).
    fn initial_state(&self) -> Self::State;

    /// The defaults for `task`: [`Default::default`] unless the algorithm has settings of
    /// its own for some tasks.
    fn defaults_for(_task: &TaskSpec) -> Self {
        Self::default()
    }

    /// The parts of the config every algorithm has.
    fn shared(&self) -> (&TrainingConfig, &LossConfig);

    /// Checks the fields the config has besides the shared ones, naming the first bad one.
    fn validate(&self) -> Result<(), AgentError> {
        Ok(())
    }

    /// A fresh optimizer over the weights in `vs`: Adam with ε = 1e-5 unless the algorithm
    /// says otherwise.
    fn optimizer(&self, vs: &nn::VarStore, learning_rate: f64) -> Optim {
        Optim::adam(vs, learning_rate, 1e-5)
    }

    /// Fills the advantages and returns of a freshly collected rollout (after reshaping its
    /// rewards, where the algorithm does).
    fn advantages(&self, state: &Self::State, ro: &mut Rollout, stats: &mut LearnStats);

    /// Improves `net` on the rollout: by default one gradient step on all of it
    /// ([`rollout::one_step_update`]).
    fn update(
        &self,
        _state: &mut Self::State,
        net: &Net,
        opt: &mut Optim,
        ro: &Rollout,
        _rng: &mut ChaCha8Rng,
        stats: &mut LearnStats,
    ) {
        rollout::one_step_update(net, opt, ro, self.shared().1, stats);
    }
}

/// The network, the rollout, the learning-rate schedule and the discount: the first fields of
/// every policy-gradient config (in TOML they stand with the algorithm's own fields, at the
/// top level). Each algorithm has its own defaults; these are A2C's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// The network.
    pub model: ModelConfig,
    /// Sub-envs the training loop should step together. Range
    /// 1..=[`MAX_ENVS`](cadenza_env::limits::MAX_ENVS).
    pub num_envs: usize,
    /// Steps per sub-env in one rollout. Range 1..=65536.
    pub num_steps: usize,
    /// The optimizer's learning rate at the start. Range (0, 1].
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over the training budget.
    pub anneal_lr: bool,
    /// Discount factor. Range [0, 1].
    pub gamma: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            num_envs: 32,
            num_steps: 8,
            learning_rate: 1e-3,
            anneal_lr: true,
            gamma: 0.99,
        }
    }
}

impl TrainingConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        self.model.validate()?;
        super::config::check_count("num_envs", self.num_envs, cadenza_env::limits::MAX_ENVS)?;
        super::config::check_count("num_steps", self.num_steps, 65536)?;
        super::config::check_real("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        super::config::check_real("gamma", self.gamma, 0.0, 1.0, false)
    }

    /// The learning rate after `done` of `total` env steps: linear decay to 0 when annealing.
    fn learning_rate_at(&self, done: u64, total: Option<u64>) -> f64 {
        match (self.anneal_lr, total) {
            (true, Some(total)) if total > 0 => {
                self.learning_rate * (1.0 - (done as f64 / total as f64).min(1.0))
            }
            _ => self.learning_rate,
        }
    }
}

/// A policy-gradient agent running algorithm `A` ([`PpoAgent`](super::PpoAgent),
/// [`A2cAgent`](super::A2cAgent), [`ReinforceAgent`](super::ReinforceAgent)). Build one with
/// [`crate::pg::build`].
#[derive(Debug)]
#[allow(private_bounds)]
pub struct PgAgent<A: Algorithm> {
    config: A,
    policy: Policy,
    opt: Optim,
    /// Env steps over which the learning rate anneals to 0 (none: constant).
    total_steps: Option<u64>,
    steps_done: u64,
    /// Where each sub-env of the envs being trained on is (none before the first `learn`).
    run: RunState,
    /// The rollout buffer for those envs.
    rollout: Rollout,
    /// What the algorithm learns besides the weights.
    state: A::State,
    /// The frozen prior of KL-controlled fine-tuning ([`Agent::attach_prior`]).
    prior: Option<RolloutPrior>,
}

// Only this crate's algorithms implement `Algorithm`, and everything here is crate-private.
#[allow(private_bounds)]
impl<A: Algorithm> PgAgent<A> {
    pub(crate) fn new(
        config: A,
        obs_dim: usize,
        num_actions: usize,
        device: Device,
        seed: u64,
        total_steps: Option<u64>,
    ) -> Result<Self, AgentError> {
        let (training, loss) = config.shared();
        training.validate()?;
        config.validate()?;
        loss.validate()?;
        let net = Net::new(device, obs_dim, num_actions, &training.model, seed);
        let opt = config.optimizer(&net.vs, training.learning_rate);
        let state = config.initial_state();
        Ok(Self {
            state,
            config,
            policy: Policy::new(net),
            opt,
            total_steps,
            steps_done: 0,
            run: RunState::default(),
            rollout: Rollout::default(),
            prior: None,
        })
    }

    /// The agent saved with the checkpoint header `header`: its weights, its optimizer's
    /// state, the env steps it trained and the algorithm's state.
    pub(crate) fn restore(header: &HeaderInfo, device: Device) -> Result<Self, AgentError> {
        let (d, a) = (header.obs_dim, header.num_actions);
        let mut agent = Self::new(header.config()?, d, a, device, 0, None)?;
        policy::load_weights(&mut agent.policy.net, &header.weights)?;
        policy::restore_training(header, &mut agent.opt, &mut agent.steps_done)?;
        if let Some(state) = header.state()? {
            agent.state = state;
        }
        Ok(agent)
    }

    pub(crate) fn net_mut(&mut self) -> &mut Net {
        &mut self.policy.net
    }
}

#[allow(private_bounds)]
impl<A: Algorithm> PgAgent<A> {
    /// The configuration.
    pub fn config(&self) -> &A {
        &self.config
    }
}

impl<A: Algorithm> Agent for PgAgent<A> {
    fn kind(&self) -> &'static str {
        A::KIND
    }

    fn learn(
        &mut self,
        envs: &mut VecEnv<TrainEnv>,
        steps: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<LearnStats, AgentError> {
        let mut stats = LearnStats::default();
        let training = self.config.shared().0;
        let net = &self.policy.net;
        if !self.run.fits(envs) {
            self.run = RunState::start(net, envs)?;
            if let Some(prior) = &mut self.prior {
                prior.reset();
            }
        }
        let n = envs.num_envs();
        if self.rollout.envs != n {
            let (d, a) = (envs.obs_dim(), envs.num_actions());
            self.rollout = Rollout::new(training.num_steps, n, d, a);
        }
        let (run, ro) = (&mut self.run, &mut self.rollout);
        while stats.steps < steps {
            // Schedule: the learning rate, annealed over the whole budget.
            let lr = training.learning_rate_at(self.steps_done, self.total_steps);
            self.opt.set_lr(lr);

            // Rollout: one forward pass per step for all sub-envs, no gradients.
            let before = stats.steps;
            let started = Instant::now();
            rollout::collect(net, self.prior.as_mut(), envs, run, ro, rng, &mut stats)?;
            // Advantages: the algorithm's.
            self.config.advantages(&self.state, ro, &mut stats);
            self.steps_done += stats.steps - before;

            // Update: the algorithm's loss.
            let collected = Instant::now();
            let state = &mut self.state;
            self.config
                .update(state, net, &mut self.opt, ro, rng, &mut stats);
            if A::TIMES_PHASES {
                let scalars = &mut stats.scalars;
                *scalars.entry("rollout_s".to_string()).or_default() +=
                    (collected - started).as_secs_f64();
                *scalars.entry("update_s".to_string()).or_default() +=
                    collected.elapsed().as_secs_f64();
            }
            stats.scalars.insert("learning_rate".to_string(), lr);
        }
        Ok(stats)
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
        let state = serde_json::to_value(&self.state)
            .map_err(|e| AgentError::Other(format!("{} state as JSON: {e}", A::KIND)))?;
        let training = TrainingState {
            optimizer: &self.opt,
            steps_done: self.steps_done,
            state,
        };
        policy::save(dir, A::KIND, &self.policy.net, &self.config, Some(training))
    }

    fn set_total_steps(&mut self, total_steps: u64) {
        self.total_steps = Some(total_steps);
    }

    fn effective_config(&self) -> serde_json::Value {
        super::config::to_json(&self.config).unwrap_or(serde_json::Value::Null)
    }

    fn attach_prior(
        &mut self,
        prior: &Path,
        task: &TaskSpec,
        kl_coef: f64,
    ) -> Result<(), AgentError> {
        let net = &self.policy.net;
        let loaded = RolloutPrior::load(prior, task, kl_coef, net.device())?;
        if loaded.dims() != (net.obs_dim, net.num_actions) {
            let (d, a) = loaded.dims();
            return Err(AgentError::Checkpoint {
                path: super::prior::checkpoint_dir(prior).display().to_string(),
                message: format!(
                    "the prior was trained for {d} observation floats and {a} actions, the \
                     policy for {} and {}",
                    net.obs_dim, net.num_actions
                ),
            });
        }
        self.prior = Some(loaded);
        Ok(())
    }
}
