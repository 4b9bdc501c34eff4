//! The [`Agent`] contract that every learner implements, and what the shared training loop
//! needs from it.
//!
//! An agent owns its inner loop ([`Agent::learn`]: per-step updates for tabular agents,
//! rollouts and minibatch epochs for policy-gradient ones); the shared loop in
//! [`crate::train`] owns everything around it: the budget, evaluation on fixed seeds, metrics,
//! the progress bar, checkpoints and Ctrl-C.

use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, Reward};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// The environment type agents train on: any task, any reward.
pub type TrainEnv = ComposeEnv<Box<dyn Reward>>;

/// How to pick an action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActMode {
    /// Sample from the policy (policy-gradient agents: their distribution; tabular agents: a
    /// softmax over Q-values at this temperature).
    Sample {
        /// Softmax temperature (1.0 = the policy's own distribution).
        temperature: f64,
    },
    /// Take the most probable / highest-valued allowed action.
    Greedy,
}

/// What an agent sees when it acts.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The dense observation vector.
    pub dense: &'a [f32],
    /// The compact discrete state (for tabular agents).
    pub state: u64,
    /// Which actions are allowed.
    pub mask: &'a [bool],
}

/// Statistics of one call to [`Agent::learn`], for the metrics log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnStats {
    /// Env steps taken.
    pub steps: u64,
    /// Returns of the episodes that finished during the call.
    pub episode_returns: Vec<f64>,
    /// Named scalars: losses, entropy, epsilon, learning rate, states in a table...
    pub scalars: BTreeMap<String, f64>,
}

/// Where a policy network lives (tabular agents ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU; an error where there is none.
    Cuda,
    /// CUDA when a GPU is usable, else the CPU.
    #[default]
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "auto" => Ok(Self::Auto),
            _ => Err(AgentError::Config {
                field: "device".to_string(),
                message: format!("unknown device '{s}': expected cpu, cuda or auto"),
            }),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Auto => "auto",
        })
    }
}

/// Errors of agents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The environment failed.
    #[error("environment: {0}")]
    Env(#[from] cadenza_env::vector::VecEnvError),
    /// A configuration value is out of range.
    #[error("invalid agent config: field '{field}': {message}")]
    Config {
        /// The field.
        field: String,
        /// What is expected.
        message: String,
    },
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Something else (backend errors).
    #[error("{0}")]
    Other(String),
}

/// A learning agent. See the module docs.
pub trait Agent: Send {
    /// The agent's kind, as named on the command line (`q`, `sarsa`, `ppo`, ...).
    fn kind(&self) -> &'static str;

    /// Trains for about `steps` env steps on `envs` (which the agent may leave mid-episode;
    /// the next call continues from there).
    fn learn(
        &mut self,
        envs: &mut VecEnv<TrainEnv>,
        steps: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<LearnStats, AgentError>;

    /// Picks an action.
    fn act(&mut self, obs: &Observation<'_>, mode: ActMode, rng: &mut ChaCha8Rng) -> usize;

    /// Picks one action per observation, each observation from its own episode and each with
    /// its own generator in `rngs`, writing them to `actions`; a network evaluates the whole
    /// batch in one pass. Returns false, writing nothing, when the agent cannot: an agent with
    /// per-episode state (a recurrent policy, see [`Agent::begin_episode`]) plays one episode
    /// at a time. The default cannot.
    fn act_batch(
        &mut self,
        observations: &[Observation<'_>],
        mode: ActMode,
        rngs: &mut [ChaCha8Rng],
        actions: &mut [usize],
    ) -> bool {
        let _ = (observations, mode, rngs, actions);
        false
    }

    /// Writes into `probs` (one per action) the distribution [`Agent::act`] samples from for
    /// `obs` in [`ActMode::Sample`] at `temperature` (at 0, the greedy choice with
    /// probability 1): what likelihood measures read (`docs/duet.md`). The default answers
    /// with an error: not every agent exposes it.
    fn action_probs(
        &mut self,
        obs: &Observation<'_>,
        temperature: f64,
        probs: &mut [f64],
    ) -> Result<(), AgentError> {
        let _ = (obs, temperature, probs);
        Err(AgentError::Other(format!(
            "a '{}' agent does not expose its action probabilities",
            self.kind()
        )))
    }

    /// Tells the agent that the next [`Agent::act`] starts a new episode. Agents with memory
    /// (recurrent policies) forget it here; call it before the first step of every episode
    /// that is generated with `act`.
    fn begin_episode(&mut self) {}

    /// Writes a checkpoint into `dir` (which exists). Must not leave a half-written file in
    /// place of a good one.
    fn save(&self, dir: &Path) -> Result<(), AgentError>;

    /// Tells an agent loaded from a checkpoint the whole run's budget in env steps, so that
    /// its schedules (learning-rate annealing, exploration decay) go on where they stopped
    /// instead of starting over. The default has no schedules.
    fn set_total_steps(&mut self, total_steps: u64) {
        let _ = total_steps;
    }

    /// The agent's whole config as it trains with it (defaults filled in), for `run.json`.
    fn effective_config(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Makes [`Agent::learn`] pay each step `kl_coef · log p_prior(a|s)` on top of the env's
    /// reward, where `p_prior` is the frozen behaviour-cloned prior saved in `prior` (a `bc`
    /// checkpoint or its run directory) for the observations of `task`: the prior's half of
    /// KL-controlled fine-tuning. The agent scores all sub-envs of a step in one batched pass.
    /// The prior is not saved with the agent (a resumed run attaches it again). Only a
    /// policy network can; the default answers with an error.
    fn attach_prior(
        &mut self,
        prior: &Path,
        task: &cadenza_env::TaskSpec,
        kl_coef: f64,
    ) -> Result<(), AgentError> {
        let _ = (prior, task, kl_coef);
        Err(AgentError::Config {
            field: "prior".to_string(),
            message: format!(
                "a '{}' agent cannot learn from a prior (KL-controlled fine-tuning is PPO's)",
                self.kind()
            ),
        })
    }
}
