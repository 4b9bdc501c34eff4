//! Policy-gradient agents on libtorch (feature `tch`): REINFORCE with a learned baseline
//! ([`reinforce`]), A2C ([`a2c`]) and PPO ([`ppo`]); behaviour cloning of a prior from
//! melodies and KL-controlled fine-tuning from it ([`bc`]); online adaptation of a trained
//! policy on rewards given from outside, a batch of episodes at a time ([`adapt`]).
//!
//! Each algorithm reads top to bottom in its own file (citation, config, agent, rollout,
//! advantages, update); they share the networks (an MLP actor-critic by default, a GRU for
//! long melodies, see [`ModelConfig`]), the batched rollout over a
//! [`VecEnv`](cadenza_env::vector::VecEnv) and the checkpoint format. Nothing public here
//! mentions a tensor: agents are built by name with [`build`], restored with [`load`], and
//! used through the [`Agent`] trait.
//!
//! ```no_run
//! use cadenza_agents::pg::{self, BuildSpec, DeviceChoice};
//! let agent = pg::build(&BuildSpec {
//!     kind: "ppo",
//!     config_toml: Some("learning_rate = 3e-4\n[model]\narch = \"gru\""),
//!     obs_dim: 184,
//!     num_actions: 38,
//!     device: DeviceChoice::Auto,
//!     seed: 0,
//!     total_steps: Some(200_000),
//! })?;
//! assert_eq!(agent.kind(), "ppo");
//! # Ok::<(), cadenza_agents::AgentError>(())
//! ```
//!
//! CPU threads: [`init_backend`] gives libtorch one intra-op thread (environment variable
//! `CADENZA_TORCH_THREADS` overrides): the matrices here are small, and on 2 busy cores a
//! 20,000-step PPO run took 36 s with two threads and 3 s with one.
//! CUDA: Rust's linker drops `libtorch_cuda.so` (it is not referenced by symbol), so
//! [`init_backend`] loads it at run time; where it is absent the agents run on the CPU.

/// The [`Agent`](crate::Agent) methods that every policy-gradient agent hands to its
/// `policy` field: acting one observation or a batch at a time, and starting an episode.
macro_rules! delegate_acting_to_policy {
    () => {
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
    };
}

/// The [`Agent`](crate::Agent) methods of the agents that train with an optimizer (fields
/// `policy`, `config`, `opt`, `steps_done`, `total_steps`): a checkpoint with the optimizer's
/// state and the steps trained, and the budget a resumed run anneals over.
macro_rules! checkpoint_with_training_state {
    () => {
        fn save(&self, dir: &Path) -> Result<(), AgentError> {
            policy::save(
                dir,
                self.kind(),
                &self.policy.net,
                &self.config,
                Some(policy::TrainingState {
                    optimizer: &self.opt,
                    steps_done: self.steps_done,
                }),
            )
        }

        fn set_total_steps(&mut self, total_steps: u64) {
            self.total_steps = Some(total_steps);
        }
    };
}

/// The update of the agents that take one gradient step on the whole rollout (fields
/// `policy`, `opt`, `rollout`, and a `config` with the fields of [`rollout::LossWeights`]).
macro_rules! update_in_one_step {
    () => {
        fn update(&mut self, stats: &mut LearnStats) {
            let weights = rollout::LossWeights {
                norm_adv: self.config.norm_adv,
                ent_coef: self.config.ent_coef,
                vf_coef: self.config.vf_coef,
                max_grad_norm: self.config.max_grad_norm,
            };
            if let Some(ro) = self.rollout.as_ref() {
                rollout::one_step_update(&self.policy.net, &mut self.opt, ro, &weights, stats);
            }
        }
    };
}

pub mod a2c;
pub mod adapt;
pub mod bc;
mod models;
mod optim;
mod policy;
pub mod ppo;
pub mod reinforce;
mod rollout;

pub use a2c::{A2cAgent, A2cConfig};
pub use adapt::{AdaptConfig, AdaptStats, Episode, PolicyAdapter};
pub use bc::{BcAgent, BcConfig};
pub use models::{Activation, ModelConfig, PolicyArch};
pub use policy::{HEADER_FILE, OPTIMIZER_FILE, WEIGHTS_FILE};
pub use ppo::{PpoAgent, PpoConfig};
pub use reinforce::{ReinforceAgent, ReinforceConfig};

pub use crate::agent::DeviceChoice;
use crate::agent::{ActMode, Agent, AgentError, Observation};
use cadenza_env::{ComposeEnv, Environment, Reward, TaskSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Once;
use tch::Device;

/// The agent kinds this module builds, as named on the command line.
pub const PG_KINDS: &[&str] = &["reinforce", "a2c", "ppo"];

/// Prepares libtorch once per process: loads the CUDA backend where there is one and sizes
/// the CPU thread pool. [`build`] and [`load`] call it; call it yourself only to ask
/// [`cuda_available`] first.
pub fn init_backend() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: dlopen with a constant, NUL-terminated name; the handle is deliberately
        // kept open for the life of the process (libtorch registers its CUDA backend on load).
        unsafe {
            let name = b"libtorch_cuda.so\0";
            let _ = libc::dlopen(name.as_ptr().cast(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        }
        // One intra-op thread: the matrices are small, the env steps on the same core, and
        // libtorch's spinning worker threads slow everything down (10x measured) as soon as
        // other processes compete for the cores. CADENZA_TORCH_THREADS overrides.
        let threads: i32 = std::env::var("CADENZA_TORCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n >= 1)
            .unwrap_or(1);
        tch::set_num_threads(threads);
    });
}

/// Whether a CUDA GPU is usable by libtorch in this process.
pub fn cuda_available() -> bool {
    init_backend();
    tch::Cuda::is_available()
}

fn resolve_device(choice: DeviceChoice) -> Result<Device, AgentError> {
    init_backend();
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(models::config_error(
            "device",
            "cuda was asked for, but libtorch finds no usable CUDA GPU \
             (no GPU, no driver, or a CPU-only libtorch); use --device cpu or auto",
        )),
    }
}

/// Everything [`build`] needs.
#[derive(Debug, Clone, Copy)]
pub struct BuildSpec<'a> {
    /// `reinforce`, `a2c` or `ppo`.
    pub kind: &'a str,
    /// The algorithm's config as TOML (fields of [`ReinforceConfig`], [`A2cConfig`] or
    /// [`PpoConfig`]; missing fields take their defaults).
    pub config_toml: Option<&'a str>,
    /// Length of the observation vector.
    pub obs_dim: usize,
    /// Number of actions.
    pub num_actions: usize,
    /// Where the network lives.
    pub device: DeviceChoice,
    /// Seed of the weight initialisation.
    pub seed: u64,
    /// The whole training budget in env steps, over which the learning rate anneals (none:
    /// constant learning rate).
    pub total_steps: Option<u64>,
}

/// An agent's config from its TOML text: every field the text leaves out, inside tables too,
/// keeps the agent's default (so `[model] hidden = 128` keeps PPO's default activation).
fn parse<C>(text: Option<&str>) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize + Default,
{
    parse_over(text, C::default())
}

/// [`parse`] over `base` instead of the type's defaults.
fn parse_over<C>(text: Option<&str>, base: C) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    let config_error = |message: String| AgentError::Config {
        field: "config".to_string(),
        message,
    };
    let Some(text) = text else {
        return Ok(base);
    };
    // Parsed on its own first, so that unknown keys and wrong types are reported as the
    // text has them.
    let _: C = toml::from_str(text).map_err(|e| config_error(e.message().to_string()))?;
    let given: toml::Table = toml::from_str(text).map_err(|e| config_error(e.to_string()))?;
    let mut merged = toml::Table::try_from(&base).map_err(|e| config_error(e.to_string()))?;
    merge_tables(&mut merged, given);
    C::deserialize(toml::Value::Table(merged)).map_err(|e| config_error(e.message().to_string()))
}

fn merge_tables(base: &mut toml::Table, given: toml::Table) {
    for (key, value) in given {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(given_inner)) => {
                merge_tables(inner, given_inner)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn unknown_kind(kind: &str) -> AgentError {
    models::config_error(
        "agent",
        &format!(
            "unknown policy-gradient agent '{kind}': expected one of {}",
            PG_KINDS.join(", ")
        ),
    )
}

/// A fresh agent of `spec.kind`.
pub fn build(spec: &BuildSpec<'_>) -> Result<Box<dyn Agent>, AgentError> {
    if spec.obs_dim == 0 || spec.num_actions == 0 {
        return Err(models::config_error(
            "obs_dim/num_actions",
            "the env must have a non-empty observation and at least one action",
        ));
    }
    let device = resolve_device(spec.device)?;
    let (d, a, seed, total) = (spec.obs_dim, spec.num_actions, spec.seed, spec.total_steps);
    Ok(match spec.kind {
        "reinforce" => Box::new(ReinforceAgent::new(
            parse(spec.config_toml)?,
            d,
            a,
            device,
            seed,
            total,
        )?),
        "a2c" => Box::new(A2cAgent::new(
            parse(spec.config_toml)?,
            d,
            a,
            device,
            seed,
            total,
        )?),
        "ppo" => Box::new(PpoAgent::new(
            parse(spec.config_toml)?,
            d,
            a,
            device,
            seed,
            total,
        )?),
        other => return Err(unknown_kind(other)),
    })
}

/// The number of sub-envs the config of `kind` asks the training loop for.
pub fn recommended_envs(kind: &str, config_toml: Option<&str>) -> Result<usize, AgentError> {
    Ok(match kind {
        "reinforce" => parse::<ReinforceConfig>(config_toml)?.num_envs,
        "a2c" => parse::<A2cConfig>(config_toml)?.num_envs,
        "ppo" => parse::<PpoConfig>(config_toml)?.num_envs,
        other => return Err(unknown_kind(other)),
    })
}

/// The whole config of `kind`: `config_toml` laid over the agent's defaults, as JSON.
pub fn effective_config(
    kind: &str,
    config_toml: Option<&str>,
) -> Result<serde_json::Value, AgentError> {
    fn json<C: serde::Serialize>(config: C) -> Result<serde_json::Value, AgentError> {
        serde_json::to_value(config).map_err(|e| AgentError::Other(format!("config as JSON: {e}")))
    }
    match kind {
        "reinforce" => json(parse::<ReinforceConfig>(config_toml)?),
        "a2c" => json(parse::<A2cConfig>(config_toml)?),
        "ppo" => json(parse::<PpoConfig>(config_toml)?),
        bc::KIND => json(parse::<BcConfig>(config_toml)?),
        other => Err(unknown_kind(other)),
    }
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
    let bad_sizes = || AgentError::Checkpoint {
        path: header.path.display().to_string(),
        message: "obs_dim and num_actions must be positive".to_string(),
    };
    if d == 0 || a == 0 {
        return Err(bad_sizes());
    }
    Ok(match header.kind.as_str() {
        "reinforce" => {
            let mut agent = ReinforceAgent::new(header.config()?, d, a, device, 0, None)?;
            policy::load_weights(agent.net_mut(), &header.weights)?;
            policy::restore_training(&header, &mut agent.opt, &mut agent.steps_done)?;
            Box::new(agent)
        }
        "a2c" => {
            let mut agent = A2cAgent::new(header.config()?, d, a, device, 0, None)?;
            policy::load_weights(agent.net_mut(), &header.weights)?;
            policy::restore_training(&header, &mut agent.opt, &mut agent.steps_done)?;
            Box::new(agent)
        }
        "ppo" => {
            let mut agent = PpoAgent::new(header.config()?, d, a, device, 0, None)?;
            policy::load_weights(agent.net_mut(), &header.weights)?;
            policy::restore_training(&header, &mut agent.opt, &mut agent.steps_done)?;
            Box::new(agent)
        }
        bc::KIND => {
            let mut agent = BcAgent::new(header.config()?, d, a, device, 0)?;
            policy::load_weights(agent.net_mut(), &header.weights)?;
            Box::new(agent)
        }
        other => {
            return Err(AgentError::Checkpoint {
                path: header.path.display().to_string(),
                message: format!(
                    "kind '{other}' is not one of {}, {}",
                    PG_KINDS.join(", "),
                    bc::KIND
                ),
            })
        }
    })
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

pub(crate) fn check_count(field: &str, v: usize, hi: usize) -> Result<(), AgentError> {
    if (1..=hi).contains(&v) {
        Ok(())
    } else {
        Err(models::config_error(
            field,
            &format!("must be in 1..={hi}, got {v}"),
        ))
    }
}

/// Checks `v` is finite and in `[lo, hi]` (`(lo, hi]` when `open_lo`).
pub(crate) fn check_real(
    field: &str,
    v: f64,
    lo: f64,
    hi: f64,
    open_lo: bool,
) -> Result<(), AgentError> {
    let ok = v.is_finite() && v <= hi && if open_lo { v > lo } else { v >= lo };
    if ok {
        Ok(())
    } else {
        let open = if open_lo { '(' } else { '[' };
        Err(models::config_error(
            field,
            &format!("must be in {open}{lo}, {hi}], got {v}"),
        ))
    }
}

/// The learning rate after `done` of `total` steps: linear decay to 0 when annealing.
pub(crate) fn annealed_lr(lr: f64, anneal: bool, done: u64, total: Option<u64>) -> f64 {
    match (anneal, total) {
        (true, Some(total)) if total > 0 => lr * (1.0 - (done as f64 / total as f64).min(1.0)),
        _ => lr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields a config leaves out keep the agent's defaults, inside `[model]` too; unknown
    /// keys are still refused by name.
    #[test]
    fn a_partial_config_keeps_the_agents_defaults() {
        let config: PpoConfig = parse(Some("gamma = 0.9\n[model]\nhidden = 32\n")).unwrap();
        assert_eq!(config.gamma, 0.9);
        assert_eq!(config.model.hidden, 32);
        assert_eq!(config.model.activation, Activation::Relu);
        assert_eq!(config.num_envs, PpoConfig::default().num_envs);
        let a2c: A2cConfig = parse(Some("[model]\nlayers = 1\n")).unwrap();
        assert_eq!(a2c.model.activation, Activation::Tanh);
        let err = parse::<PpoConfig>(Some("[model]\nwidth = 3\n")).unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
        let err = parse::<PpoConfig>(Some("epochs = \"two\"\n")).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    /// A network saved before the activation could be chosen names none: it was tanh.
    #[test]
    fn a_config_without_an_activation_means_tanh() {
        let old: PpoConfig =
            serde_json::from_str(r#"{"model": {"arch": "mlp", "hidden": 64, "layers": 2}}"#)
                .unwrap();
        assert_eq!(old.model.activation, Activation::Tanh);
    }
}
