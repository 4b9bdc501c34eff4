//! Advantage Actor-Critic: the synchronous, batched variant of A3C.
//!
//! Mnih, Badia, Mirza, Graves, Lillicrap, Harley, Silver, Kavukcuoglu, "Asynchronous Methods
//! for Deep Reinforcement Learning" (ICML 2016), arXiv:1602.01783; synchronous as in OpenAI
//! Baselines and Stable-Baselines3, whose defaults these are: short n-step rollouts from many
//! sub-envs, one gradient step per rollout, RMSprop, n-step returns (GAE with λ = 1).

use serde::{Deserialize, Serialize};
use tch::nn;

use super::optim::Optim;
use super::rollout::LossConfig;
use super::rollout::{self, Rollout};
use super::trainer::{Algorithm, PgAgent, TrainingConfig};
use crate::agent::{AgentError, LearnStats};

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// A2C's hyper-parameters: the ones every policy-gradient algorithm has, and GAE's λ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct A2cConfig {
    /// The network, the rollout and the schedule. Default: 32 envs of 8 steps per rollout
    /// (the n of n-step returns), RMSprop at 1e-3 annealed to 0, γ = 0.99, two 64-wide tanh
    /// layers per tower.
    #[serde(flatten)]
    pub training: TrainingConfig,
    /// GAE's λ (1 = plain n-step returns). Default 1.0, range [0, 1].
    pub gae_lambda: f64,
    /// The loss. Default: no entropy bonus, value loss at 0.5, gradient norm clipped at 0.5,
    /// advantages not normalised.
    #[serde(flatten)]
    pub loss: LossConfig,
}

impl Default for A2cConfig {
    fn default() -> Self {
        Self {
            training: TrainingConfig::default(),
            gae_lambda: 1.0,
            loss: LossConfig {
                norm_adv: false,
                ..LossConfig::default()
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Agent: the shared policy-gradient agent, with RMSprop and n-step advantages
// ---------------------------------------------------------------------------------------------

/// An A2C agent. Build one with [`crate::pg::build`].
pub type A2cAgent = PgAgent<A2cConfig>;

impl Algorithm for A2cConfig {
    const KIND: &'static str = "a2c";
    type State = ();

    fn initial_state(&self) {}

    fn shared(&self) -> (&TrainingConfig, &LossConfig) {
        (&self.training, &self.loss)
    }

    fn validate(&self) -> Result<(), AgentError> {
        super::config::check_real("gae_lambda", self.gae_lambda, 0.0, 1.0, false)
    }

    /// RMSprop as in the paper and SB3 (α = 0.99, ε = 1e-5).
    fn optimizer(&self, vs: &nn::VarStore, learning_rate: f64) -> Optim {
        Optim::rms_prop(vs, learning_rate, 0.99, 1e-5)
    }

    // -----------------------------------------------------------------------------------------
    // Advantages: n-step returns (GAE with the configured λ)
    // -----------------------------------------------------------------------------------------
    fn advantages(&self, _state: &(), ro: &mut Rollout, _stats: &mut LearnStats) {
        let gamma = self.training.gamma as f32;
        rollout::compute_advantages(ro, gamma, self.gae_lambda as f32);
    }

    // Update: one gradient step on the whole rollout (the default, shared with REINFORCE).
}
