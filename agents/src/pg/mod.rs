//! Policy-gradient agents on libtorch (feature `tch`): REINFORCE with a learned baseline
//! ([`reinforce`]), A2C ([`a2c`]) and PPO ([`ppo`]); behaviour cloning of a prior from
//! melodies and KL-controlled fine-tuning from it ([`bc`]); online adaptation of a trained
//! policy on rewards given from outside, a batch of episodes at a time ([`adapt`]).
//!
//! Each algorithm reads top to bottom in its own file (citation, config, advantages, update);
//! they share one agent type around them, [`PgAgent`] (the policy, its optimizer, the
//! learning-rate schedule, the training loop, acting and checkpoints), the networks (an MLP
//! actor-critic by default, a GRU for long melodies, see [`ModelConfig`]) and the batched
//! rollout over a [`VecEnv`](cadenza_env::vector::VecEnv). Nothing public here
//! mentions a tensor: agents are built by name with [`build`], restored with [`load`], and
//! used through the [`Agent`] trait.
//!
//! ```no_run
//! use cadenza_agents::pg::{self, BuildSpec, DeviceChoice};
//! let config: toml::Table = "learning_rate = 3e-4\n[model]\narch = \"gru\"".parse()?;
//! let agent = pg::build(&BuildSpec {
//!     kind: "ppo",
//!     config: &config,
//!     task: None,
//!     obs_dim: 184,
//!     num_actions: 38,
//!     device: DeviceChoice::Auto,
//!     seed: 0,
//!     total_steps: Some(200_000),
//! })?;
//! assert_eq!(agent.kind(), "ppo");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! CPU threads: [`init_backend`] gives libtorch one intra-op thread (environment variable
//! `CADENZA_TORCH_THREADS` overrides): the matrices here are small, and on 2 busy cores a
//! 20,000-step PPO run took 36 s with two threads and 3 s with one.
//! CUDA: Rust's linker drops `libtorch_cuda.so` (it is not referenced by symbol), so
//! [`init_backend`] loads it at run time; where it is absent the agents run on the CPU.

pub mod a2c;
pub mod adapt;
mod algorithms;
mod backend;
pub mod bc;
mod config;
mod models;
mod optim;
mod policy;
pub mod ppo;
mod prior;
pub mod reinforce;
mod rollout;
mod trainer;

pub use a2c::{A2cAgent, A2cConfig};
pub use adapt::{AdaptConfig, AdaptStats, Episode, PolicyAdapter};
pub use algorithms::BuildSpec;
pub use algorithms::PG_KINDS;
pub use backend::{cuda_available, init_backend};
pub use bc::{BcAgent, BcConfig};
pub use models::{Activation, ModelConfig, PolicyArch};
pub use policy::{HEADER_FILE, OPTIMIZER_FILE, WEIGHTS_FILE};
pub use ppo::{EntropyTarget, PpoAgent, PpoConfig, PpoState};
pub use reinforce::{ReinforceAgent, ReinforceConfig};
pub use rollout::LossConfig;
pub use trainer::{PgAgent, TrainingConfig};

pub use crate::agent::DeviceChoice;
use crate::agent::{ActMode, Agent, AgentError, Observation};
use algorithms::{algorithm, ALGORITHMS};
use backend::resolve_device;
use cadenza_env::{ComposeEnv, Environment, Reward, TaskSpec};
use config::{parse, to_json};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A fresh agent of `spec.kind`.
pub fn build(spec: &BuildSpec<'_>) -> Result<Box<dyn Agent>, AgentError> {
    if spec.obs_dim == 0 || spec.num_actions == 0 {
        return Err(models::config_error(
            "obs_dim/num_actions",
            "the env must have a non-empty observation and at least one action",
        ));
    }
    let device = resolve_device(spec.device)?;
    (algorithm(spec.kind)?.build)(spec, device)
}

/// The number of sub-envs the config of `kind` asks the training loop for on `task` (none:
/// with the agent's plain defaults).
pub fn recommended_envs(
    kind: &str,
    config: &toml::Table,
    task: Option<&TaskSpec>,
) -> Result<usize, AgentError> {
    (algorithm(kind)?.num_envs)(config, task)
}

/// The whole config of `kind` (one of [`PG_KINDS`] or [`bc::KIND`]): `config` laid over the
/// agent's defaults for `task` (none: its plain defaults; [`PpoConfig::defaults_for`]), as
/// JSON.
pub fn effective_config(
    kind: &str,
    config: &toml::Table,
    task: Option<&TaskSpec>,
) -> Result<serde_json::Value, AgentError> {
    if kind == bc::KIND {
        return to_json(&parse::<BcConfig>(config)?);
    }
    (algorithm(kind)?.effective_config)(config, task)
}

/// Whether `dir` holds a policy-gradient checkpoint (its header file exists).
pub fn is_checkpoint(dir: &Path) -> bool {
    dir.join(HEADER_FILE).is_file()
}

/// Restores the agent saved in `dir` by [`Agent::save`], on `device` (a checkpoint trained on
/// CUDA loads on the CPU). A missing, corrupt or truncated file, or one of another kind, is
/// an [`AgentError::Checkpoint`] naming the file.
pub fn load(dir: &Path, device: DeviceChoice) -> Result<Box<dyn Agent>, AgentError> {
    let device = resolve_device(device)?;
    let header = policy::read_header(dir)?;
    let (d, a) = (header.obs_dim, header.num_actions);
    if d == 0 || a == 0 {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: "obs_dim and num_actions must be positive".to_string(),
        });
    }
    if header.kind == bc::KIND {
        let mut agent = BcAgent::new(header.config()?, d, a, device, 0)?;
        policy::load_weights(agent.net_mut(), &header.weights)?;
        return Ok(Box::new(agent));
    }
    match ALGORITHMS.iter().find(|entry| entry.kind == header.kind) {
        Some(entry) => (entry.restore)(&header, device),
        None => Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!(
                "kind '{}' is not one of {}, {}",
                header.kind,
                PG_KINDS.join(", "),
                bc::KIND
            ),
        }),
    }
}

/// [`load`], also checking that the checkpoint is of `kind`.
pub fn load_kind(
    dir: &Path,
    kind: &str,
    device: DeviceChoice,
) -> Result<Box<dyn Agent>, AgentError> {
    let header = policy::read_header(dir)?;
    if header.kind != kind {
        return Err(AgentError::Checkpoint {
            path: header.path.display().to_string(),
            message: format!("holds a '{}' agent, not a '{kind}' agent", header.kind),
        });
    }
    load(dir, device)
}

/// One melody played by an agent, with its return.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The events, one per step.
    pub events: Vec<u8>,
    /// The episode's return.
    pub total: f64,
}

/// Plays `n` episodes of `task` scored by `reward` with `agent` (env seeds `seed`, `seed + 1`,
/// ...; the agent's RNG is seeded with `seed`).
pub fn sample_melodies(
    agent: &mut dyn Agent,
    task: &TaskSpec,
    reward: Box<dyn Reward>,
    n: usize,
    seed: u64,
    mode: ActMode,
) -> Result<Vec<Sample>, AgentError> {
    let mut env = ComposeEnv::new(task.clone(), reward);
    let mut obs = vec![0.0f32; env.observation_space().dim()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let env_error = |e| AgentError::Other(format!("sampling env: {e}"));
    let mut out = Vec::with_capacity(n);
    for episode in 0..n {
        env.reset_into(Some(seed.wrapping_add(episode as u64)), &mut obs)
            .map_err(env_error)?;
        agent.begin_episode();
        let mut total = 0.0;
        loop {
            let observation = Observation {
                dense: &obs,
                state: env.discrete_state(),
                mask: env.action_mask(),
            };
            let action = agent.act(&observation, mode, &mut rng);
            let t = env.step_into(action, &mut obs).map_err(env_error)?;
            total += t.reward;
            if t.terminated || t.truncated {
                break;
            }
        }
        out.push(Sample {
            events: env.melody().to_vec(),
            total,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::config::parse_over;
    use super::*;

    /// Fields a config leaves out keep the agent's defaults, inside `[model]` too; unknown
    /// keys are still refused by name.
    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn a_partial_config_keeps_the_agents_defaults() {
        let config: PpoConfig = parse(&table("gamma = 0.9\n[model]\nhidden = 32\n")).unwrap();
        assert_eq!(config.training.gamma, 0.9);
        assert_eq!(config.training.model.hidden, 32);
        assert_eq!(config.training.model.activation, Activation::Relu);
        let defaults = PpoConfig::default();
        assert_eq!(config.training.num_envs, defaults.training.num_envs);
        assert_eq!(config.loss, defaults.loss);
        let a2c: A2cConfig = parse(&table("[model]\nlayers = 1\n")).unwrap();
        assert_eq!(a2c.training.model.activation, Activation::Tanh);
        let err = parse::<PpoConfig>(&table("[model]\nwidth = 3\n")).unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
        let err = parse::<A2cConfig>(&table("epoch = 3\n")).unwrap_err();
        assert!(
            err.to_string().contains(
                "unknown field `epoch`, expected one of `model`, `num_envs`, `num_steps`, \
                 `learning_rate`, `anneal_lr`, `gamma`, `gae_lambda`, `ent_coef`, `vf_coef`, \
                 `max_grad_norm`, `norm_adv`"
            ),
            "{err}"
        );
        let err = parse::<PpoConfig>(&table("epochs = \"two\"\n")).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    /// The same, for a config given as text (behaviour cloning's PPO config).
    #[test]
    fn a_partial_config_text_keeps_the_base() {
        let base = PpoConfig::for_prior(ModelConfig::default());
        let config = parse_over(Some("gamma = 0.9\n"), base.clone()).unwrap();
        assert_eq!(config.training.gamma, 0.9);
        assert_eq!(config.training.num_envs, base.training.num_envs);
        assert_eq!(parse_over(None, base.clone()).unwrap(), base);
        let err = parse_over(Some("[model]\nwidth = 3\n"), base).unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
    }

    /// A network saved before the activation could be chosen names none: it was tanh.
    #[test]
    fn a_config_without_an_activation_means_tanh() {
        let old: PpoConfig =
            serde_json::from_str(r#"{"model": {"arch": "mlp", "hidden": 64, "layers": 2}}"#)
                .unwrap();
        assert_eq!(old.training.model.activation, Activation::Tanh);
    }
}
