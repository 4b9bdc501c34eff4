//! The table of policy-gradient algorithms that [`build`](super::build), [`load`](super::load)
//! and the config functions of this module dispatch through: one row per algorithm.

use super::a2c::A2cConfig;
use super::config::{overlay, parse, to_json};
use super::models;
use super::policy::HeaderInfo;
use super::ppo::PpoConfig;
use super::reinforce::ReinforceConfig;
use super::trainer::{Algorithm, PgAgent};
use crate::agent::DeviceChoice;
use crate::agent::{Agent, AgentError};
use cadenza_env::TaskSpec;
use tch::Device;

/// Everything [`build`](super::build) needs.
#[derive(Debug, Clone, Copy)]
pub struct BuildSpec<'a> {
    /// `reinforce`, `a2c` or `ppo`.
    pub kind: &'a str,
    /// The algorithm's config, as parsed from TOML (fields of [`ReinforceConfig`],
    /// [`A2cConfig`] or [`PpoConfig`]; missing fields take their defaults, an empty table
    /// gives the defaults).
    pub config: &'a toml::Table,
    /// The task whose defaults the config is laid over ([`PpoConfig::defaults_for`]); none:
    /// the algorithm's plain defaults.
    pub task: Option<&'a TaskSpec>,
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

/// An agent, or why there is none.
type AgentResult = Result<Box<dyn Agent>, AgentError>;

/// One algorithm, as [`build`], [`load`], [`recommended_envs`] and [`effective_config`] see
/// it.
pub(super) struct Entry {
    pub(super) kind: &'static str,
    pub(super) build: fn(&BuildSpec<'_>, Device) -> AgentResult,
    pub(super) restore: fn(&HeaderInfo, Device) -> AgentResult,
    pub(super) num_envs: fn(&toml::Table, Option<&TaskSpec>) -> Result<usize, AgentError>,
    pub(super) effective_config:
        fn(&toml::Table, Option<&TaskSpec>) -> Result<serde_json::Value, AgentError>,
}

/// `given` laid over the defaults of `A` for `task` (none: its plain defaults).
fn settle<A: Algorithm>(given: &toml::Table, task: Option<&TaskSpec>) -> Result<A, AgentError> {
    match task {
        None => parse::<A>(given),
        Some(task) => overlay(given, A::defaults_for(task)),
    }
}

impl Entry {
    const fn of<A: Algorithm>() -> Self {
        Self {
            kind: A::KIND,
            build: |spec, device| {
                let config = settle::<A>(spec.config, spec.task)?;
                let (d, a) = (spec.obs_dim, spec.num_actions);
                let agent = PgAgent::new(config, d, a, device, spec.seed, spec.total_steps)?;
                Ok(Box::new(agent))
            },
            restore: |header, device| Ok(Box::new(PgAgent::<A>::restore(header, device)?)),
            num_envs: |config, task| Ok(settle::<A>(config, task)?.shared().0.num_envs),
            effective_config: |config, task| to_json(&settle::<A>(config, task)?),
        }
    }
}

/// The algorithms this module builds, one row each (also the order of [`PG_KINDS`]).
pub(super) const ALGORITHMS: [Entry; 3] = [
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
pub(super) fn algorithm(kind: &str) -> Result<&'static Entry, AgentError> {
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
