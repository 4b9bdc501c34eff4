//! Advantage Actor-Critic: the synchronous, batched variant of A3C.
//!
//! Mnih, Badia, Mirza, Graves, Lillicrap, Harley, Silver, Kavukcuoglu, "Asynchronous Methods
//! for Deep Reinforcement Learning" (ICML 2016), arXiv:1602.01783; synchronous as in OpenAI
//! Baselines and Stable-Baselines3, whose defaults these are: short n-step rollouts from many
//! sub-envs, one gradient step per rollout, RMSprop, n-step returns (GAE with λ = 1).

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::Device;

use super::models::{ModelConfig, Net};
use super::optim::Optim;
use super::policy::{self, Policy};
use super::rollout::{self, Rollout, RunState};
use crate::agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
use cadenza_env::vector::VecEnv;

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// A2C's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct A2cConfig {
    /// The network.
    pub model: ModelConfig,
    /// Sub-envs the training loop should step together. Default 32, range 1..=4096.
    pub num_envs: usize,
    /// Steps per sub-env in one rollout (the n of n-step returns). Default 8, range 1..=65536.
    pub num_steps: usize,
    /// RMSprop's learning rate at the start. Default 1e-3, range (0, 1].
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over the training budget. Default true.
    pub anneal_lr: bool,
    /// Discount factor. Default 0.99, range [0, 1].
    pub gamma: f64,
    /// GAE's λ (1 = plain n-step returns). Default 1.0, range [0, 1].
    pub gae_lambda: f64,
    /// Weight of the entropy bonus. Default 0.0, range [0, 1].
    pub ent_coef: f64,
    /// Weight of the value loss. Default 0.5, range [0, 100].
    pub vf_coef: f64,
    /// Maximum global gradient norm. Default 0.5, range (0, 1e6].
    pub max_grad_norm: f64,
    /// Normalise advantages per rollout. Default false.
    pub norm_adv: bool,
}

impl Default for A2cConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            num_envs: 32,
            num_steps: 8,
            learning_rate: 1e-3,
            anneal_lr: true,
            gamma: 0.99,
            gae_lambda: 1.0,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            norm_adv: false,
        }
    }
}

impl A2cConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), AgentError> {
        self.model.validate()?;
        super::check_count("num_envs", self.num_envs, 4096)?;
        super::check_count("num_steps", self.num_steps, 65536)?;
        super::check_real("learning_rate", self.learning_rate, 0.0, 1.0, true)?;
        super::check_real("gamma", self.gamma, 0.0, 1.0, false)?;
        super::check_real("gae_lambda", self.gae_lambda, 0.0, 1.0, false)?;
        super::check_real("ent_coef", self.ent_coef, 0.0, 1.0, false)?;
        super::check_real("vf_coef", self.vf_coef, 0.0, 100.0, false)?;
        super::check_real("max_grad_norm", self.max_grad_norm, 0.0, 1e6, true)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------------------------

/// An A2C agent. Build one with [`crate::pg::build`].
#[derive(Debug)]
pub struct A2cAgent {
    config: A2cConfig,
    policy: Policy,
    pub(super) opt: Optim,
    total_steps: Option<u64>,
    pub(super) steps_done: u64,
    run: Option<RunState>,
    rollout: Option<Rollout>,
}

impl A2cAgent {
    pub(crate) fn new(
        config: A2cConfig,
        obs_dim: usize,
        num_actions: usize,
        device: Device,
        seed: u64,
        total_steps: Option<u64>,
    ) -> Result<Self, AgentError> {
        config.validate()?;
        let net = Net::new(device, obs_dim, num_actions, &config.model, seed);
        // RMSprop as in the paper and SB3 (α = 0.99, ε = 1e-5).
        let opt = Optim::rms_prop(&net.vs, config.learning_rate, 0.99, 1e-5);
        Ok(Self {
            config,
            policy: Policy::new(net),
            opt,
            total_steps,
            steps_done: 0,
            run: None,
            rollout: None,
        })
    }

    pub(crate) fn net_mut(&mut self) -> &mut Net {
        &mut self.policy.net
    }

    /// The configuration.
    pub fn config(&self) -> &A2cConfig {
        &self.config
    }

    // -----------------------------------------------------------------------------------------
    // Update: one gradient step on the whole rollout
    // -----------------------------------------------------------------------------------------
    update_in_one_step!();
}

impl Agent for A2cAgent {
    fn kind(&self) -> &'static str {
        "a2c"
    }

    fn learn(
        &mut self,
        envs: &mut VecEnv<TrainEnv>,
        steps: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<LearnStats, AgentError> {
        let mut stats = LearnStats::default();
        if !self.run.as_ref().is_some_and(|r| r.fits(envs)) {
            self.run = Some(RunState::start(&self.policy.net, envs)?);
        }
        let n = envs.num_envs();
        if self.rollout.as_ref().map(|r| r.envs) != Some(n) {
            self.rollout = Some(Rollout::new(
                self.config.num_steps,
                n,
                envs.obs_dim(),
                envs.num_actions(),
            ));
        }
        while stats.steps < steps {
            let lr = super::annealed_lr(
                self.config.learning_rate,
                self.config.anneal_lr,
                self.steps_done,
                self.total_steps,
            );
            self.opt.set_lr(lr);

            // Rollout: n steps of every sub-env, one forward pass per step.
            let before = stats.steps;
            if let (Some(run), Some(ro)) = (self.run.as_mut(), self.rollout.as_mut()) {
                rollout::collect(&self.policy.net, envs, run, ro, rng, &mut stats)?;
                // Advantages: n-step returns (GAE with the configured λ).
                rollout::compute_advantages(
                    ro,
                    self.config.gamma as f32,
                    self.config.gae_lambda as f32,
                );
            }
            self.steps_done += stats.steps - before;

            self.update(&mut stats);
            stats.scalars.insert("learning_rate".to_string(), lr);
        }
        Ok(stats)
    }

    delegate_acting_to_policy!();

    checkpoint_with_training_state!();
}
