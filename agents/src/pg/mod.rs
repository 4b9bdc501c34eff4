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
pub mod bc;
mod models;
mod optim;
mod policy;
pub mod ppo;
pub mod reinforce;
mod rollout;
mod trainer;

pub use a2c::{A2cAgent, A2cConfig};
pub use adapt::{AdaptConfig, AdaptStats, Episode, PolicyAdapter};
pub use bc::{BcAgent, BcConfig};
pub use models::{Activation, ModelConfig, PolicyArch};
pub use policy::{HEADER_FILE, OPTIMIZER_FILE, WEIGHTS_FILE};
pub use ppo::{PpoAgent, PpoConfig};
pub use reinforce::{ReinforceAgent, ReinforceConfig};
pub use trainer::{LossConfig, PgAgent, TrainingConfig};

pub use crate::agent::DeviceChoice;
use crate::agent::{ActMode, Agent, AgentError, Observation};
use cadenza_env::{ComposeEnv, Environment, Reward, TaskSpec};
use policy::HeaderInfo;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Once;
use tch::Device;
use trainer::Algorithm;

/// An agent, or why there is none.
type AgentResult = Result<Box<dyn Agent>, AgentError>;

/// One algorithm, as [`build`], [`load`], [`recommended_envs`] and [`effective_config`] see
/// it.
struct Entry {
    kind: &'static str,
    build: fn(&BuildSpec<'_>, Device) -> AgentResult,
    restore: fn(&HeaderInfo, Device) -> AgentResult,
    num_envs: fn(&toml::Table) -> Result<usize, AgentError>,
    effective_config: fn(&toml::Table) -> Result<serde_json::Value, AgentError>,
}

impl Entry {
    const fn of<A: Algorithm>() -> Self {
        Self {
            kind: A::KIND,
            build: |spec, device| {
                let config = parse::<A>(spec.config)?;
                let (d, a) = (spec.obs_dim, spec.num_actions);
                let agent = PgAgent::new(config, d, a, device, spec.seed, spec.total_steps)?;
                Ok(Box::new(agent))
            },
            restore: |header, device| Ok(Box::new(PgAgent::<A>::restore(header, device)?)),
            num_envs: |config| Ok(parse::<A>(config)?.shared().0.num_envs),
            effective_config: |config| to_json(&parse::<A>(config)?),
        }
    }
}

/// The algorithms this module builds, one row each (also the order of [`PG_KINDS`]).
const ALGORITHMS: [Entry; 3] = [
    Entry::of::<ReinforceConfig>(),
    Entry::of::<A2cConfig>(),
    Entry::of::<PpoConfig>(),
];

/// The agent kinds this module builds, as named on the command line.
pub const PG_KINDS: &[&str] = &{
    let mut kinds = [""; ALGORITHMS.len()];
    let mut i = 0;
    while i < kinds.len() {
        kinds[i] = ALGORITHMS[i].kind;
        i += 1;
    }
    kinds
};

/// The algorithm named `kind`.
fn algorithm(kind: &str) -> Result<&'static Entry, AgentError> {
    ALGORITHMS.iter().find(|a| a.kind == kind).ok_or_else(|| {
        models::config_error(
            "agent",
            &format!(
                "unknown policy-gradient agent '{kind}': expected one of {}",
                PG_KINDS.join(", ")
            ),
        )
    })
}

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
    /// The algorithm's config, as parsed from TOML (fields of [`ReinforceConfig`],
    /// [`A2cConfig`] or [`PpoConfig`]; missing fields take their defaults, an empty table
    /// gives the defaults).
    pub config: &'a toml::Table,
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

/// An agent's config from the user's table: every field the table leaves out, inside tables
/// too, keeps the agent's default (so `[model] hidden = 128` keeps PPO's default activation).
fn parse<C>(given: &toml::Table) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize + Default,
{
    overlay(given, C::default())
}

/// The fields of `given` over those of `base`, inside tables too. Unknown keys and wrong
/// types are refused, naming the key.
fn overlay<C>(given: &toml::Table, base: C) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    refuse_unknown_keys(given, &base)?;
    // Read on its own first, so that wrong types are reported as the user wrote them.
    let _: C =
        C::deserialize(toml::Value::Table(given.clone())).map_err(|e| config_error(e.message()))?;
    let mut merged = toml::Table::try_from(&base).map_err(|e| config_error(&e.to_string()))?;
    merge_tables(&mut merged, given.clone());
    C::deserialize(toml::Value::Table(merged)).map_err(|e| config_error(e.message()))
}

/// Refuses a top-level key of `given` that the config `base` does not have, in serde's words
/// ("unknown field ..., expected one of ..."). Serde cannot say it itself: the shared fields
/// of the algorithms' configs are flattened in, and a struct with flattened fields does not
/// know its own field names.
fn refuse_unknown_keys<C: serde::Serialize>(
    given: &toml::Table,
    base: &C,
) -> Result<(), AgentError> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(base) else {
        return Ok(());
    };
    match given.keys().find(|key| !fields.contains_key(key.as_str())) {
        None => Ok(()),
        Some(key) => {
            let expected: Vec<String> = fields.keys().map(|name| format!("`{name}`")).collect();
            Err(config_error(&format!(
                "unknown field `{key}`, expected one of {}",
                expected.join(", ")
            )))
        }
    }
}

/// [`overlay`] of a config given as TOML text (none: `base` itself).
fn parse_over<C>(text: Option<&str>, base: C) -> Result<C, AgentError>
where
    C: serde::de::DeserializeOwned + serde::Serialize,
{
    match text {
        None => Ok(base),
        Some(text) => {
            let given: toml::Table = toml::from_str(text).map_err(|e| config_error(e.message()))?;
            overlay(&given, base)
        }
    }
}

fn config_error(message: &str) -> AgentError {
    models::config_error("config", message)
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

/// The number of sub-envs the config of `kind` asks the training loop for.
pub fn recommended_envs(kind: &str, config: &toml::Table) -> Result<usize, AgentError> {
    (algorithm(kind)?.num_envs)(config)
}

/// The whole config of `kind` (one of [`PG_KINDS`] or [`bc::KIND`]): `config` laid over the
/// agent's defaults, as JSON.
pub fn effective_config(kind: &str, config: &toml::Table) -> Result<serde_json::Value, AgentError> {
    if kind == bc::KIND {
        return to_json(&parse::<BcConfig>(config)?);
    }
    (algorithm(kind)?.effective_config)(config)
}

fn to_json<C: serde::Serialize>(config: &C) -> Result<serde_json::Value, AgentError> {
    serde_json::to_value(config).map_err(|e| AgentError::Other(format!("config as JSON: {e}")))
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

#[cfg(test)]
mod tests {
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
