//! REINFORCE with a learned baseline.
//!
//! Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist
//! Reinforcement Learning", Machine Learning 8 (1992); the baseline is a learned state value
//! (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., §13.4).
//!
//! Returns are Monte-Carlo returns to the end of the episode, and the value only serves as a
//! baseline: the advantage is `G_t - V(s_t)`. Rollouts are long enough to hold whole episodes
//! of the default task (32 steps plus the VecEnv's autoreset step); where a rollout still
//! cuts an episode, the tail is bootstrapped from the value (GAE with λ = 1, which is exactly
//! `G_t - V(s_t)` inside an episode). One gradient step per rollout, with Adam.

use serde::{Deserialize, Serialize};

use super::rollout::LossConfig;
use super::rollout::{self, Rollout};
use super::trainer::{Algorithm, PgAgent, TrainingConfig};
use crate::agent::LearnStats;

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// REINFORCE's hyper-parameters: only the ones every policy-gradient algorithm has, with
/// REINFORCE's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReinforceConfig {
    /// The network, the rollout and the schedule. Default: 32 envs of 66 steps per rollout
    /// (two `rl-tuner` episodes with their autoreset steps), Adam at 1e-3 annealed to 0,
    /// γ = 0.99, two 64-wide tanh layers per tower.
    #[serde(flatten)]
    pub training: TrainingConfig,
    /// The loss. Default: no entropy bonus, value loss at 0.5, gradient norm clipped at 0.5,
    /// advantages normalised per rollout.
    #[serde(flatten)]
    pub loss: LossConfig,
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        let training = TrainingConfig {
            num_steps: 66,
            ..TrainingConfig::default()
        };
        Self {
            training,
            loss: LossConfig::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Agent: the shared policy-gradient agent, with REINFORCE's advantages and Adam
// ---------------------------------------------------------------------------------------------

/// A REINFORCE agent. Build one with [`crate::pg::build`].
pub type ReinforceAgent = PgAgent<ReinforceConfig>;

impl Algorithm for ReinforceConfig {
    const KIND: &'static str = "reinforce";
    type State = ();

    fn initial_state(&self) {}

    fn shared(&self) -> (&TrainingConfig, &LossConfig) {
        (&self.training, &self.loss)
    }

    // -----------------------------------------------------------------------------------------
    // Advantages: Monte-Carlo returns minus the baseline (GAE with λ = 1)
    // -----------------------------------------------------------------------------------------
    fn advantages(&self, _state: &(), ro: &mut Rollout, _stats: &mut LearnStats) {
        rollout::compute_advantages(ro, self.training.gamma as f32, 1.0);
    }

    // Update: one gradient step on the whole rollout (the default, shared with A2C).
}
