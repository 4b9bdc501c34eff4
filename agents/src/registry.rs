//! The one list of agent kinds: every consumer (the command line, sessions, run directories)
//! asks it instead of keeping its own.
//!
//! Each [`AgentKind`] carries its name, the aliases users type, a one-line summary, its
//! family, and how to settle its config, build it, count its default sub-envs and restore it
//! from a checkpoint. A kind whose family needs libtorch is listed in every build, so that a
//! build without the `tch` feature answers with one clear error instead of "unknown agent".
//!
//! ```
//! use cadenza_agents::registry;
//! let kind = registry::lookup("q-learning")?;
//! assert_eq!(kind.name, "q");
//! assert!(!kind.needs_libtorch());
//! # Ok::<(), cadenza_agents::AgentError>(())
//! ```

use crate::agent::{Agent, AgentError, DeviceChoice};
use crate::tabular::{self, Algorithm, TabularAgent, TabularConfig};
use cadenza_env::TaskSpec;
use std::path::Path;

/// How a kind learns, which decides what it needs and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// A table of action values over the task's compact state (no libtorch).
    Tabular(Algorithm),
    /// A policy network trained by a policy-gradient method on libtorch.
    PolicyGradient,
    /// A policy network fitted to example melodies (a prior), on libtorch.
    BehaviourCloning,
}

/// One kind of agent. See the module docs.
#[derive(Debug)]
pub struct AgentKind {
    /// The name on the command line, in `run.json` and in checkpoints.
    pub name: &'static str,
    /// Other names users type for it.
    pub aliases: &'static [&'static str],
    /// What it is, in one line (for `--help` and error messages).
    pub summary: &'static str,
    /// How it learns.
    pub family: Family,
}

/// Every agent kind, in the order `--help` lists them.
pub static AGENT_KINDS: &[AgentKind] = &[
    AgentKind {
        name: "q",
        aliases: &["q-learning"],
        summary: "tabular Q-learning",
        family: Family::Tabular(Algorithm::QLearning),
    },
    AgentKind {
        name: "sarsa",
        aliases: &[],
        summary: "tabular SARSA",
        family: Family::Tabular(Algorithm::Sarsa),
    },
    AgentKind {
        name: "expected-sarsa",
        aliases: &[],
        summary: "tabular Expected SARSA",
        family: Family::Tabular(Algorithm::ExpectedSarsa),
    },
    AgentKind {
        name: "soft-q",
        aliases: &["soft-q-learning"],
        summary: "tabular soft (maximum-entropy) Q-learning",
        family: Family::Tabular(Algorithm::SoftQ),
    },
    AgentKind {
        name: "reinforce",
        aliases: &[],
        summary: "REINFORCE with a learned baseline (libtorch)",
        family: Family::PolicyGradient,
    },
    AgentKind {
        name: "a2c",
        aliases: &[],
        summary: "advantage actor-critic (libtorch)",
        family: Family::PolicyGradient,
    },
    AgentKind {
        name: "ppo",
        aliases: &[],
        summary: "proximal policy optimisation (libtorch)",
        family: Family::PolicyGradient,
    },
    AgentKind {
        name: "bc",
        aliases: &["behaviour-cloning", "behavior-cloning"],
        summary: "a prior behaviour-cloned from example melodies (libtorch)",
        family: Family::BehaviourCloning,
    },
];

/// The kind named `name` (or one of its aliases).
pub fn lookup(name: &str) -> Result<&'static AgentKind, AgentError> {
    AGENT_KINDS
        .iter()
        .find(|k| k.name == name || k.aliases.contains(&name))
        .ok_or_else(|| AgentError::Config {
            field: "agent".to_string(),
            message: format!("unknown agent '{name}': expected one of {}", names()),
        })
}

/// The kinds' names, comma-separated, those that need libtorch marked.
pub fn names() -> String {
    AGENT_KINDS
        .iter()
        .map(|k| {
            if k.needs_libtorch() && !cfg!(feature = "tch") {
                format!("{} (needs --features tch)", k.name)
            } else {
                k.name.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The softmax temperature an agent samples melodies at unless told otherwise: the
/// `temperature` of its effective config ([`AgentKind::effective_config`]; the tabular kinds
/// have one), else 1.
pub fn sampling_temperature(config: &serde_json::Value) -> f64 {
    config
        .get("temperature")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(1.0)
}

/// What [`AgentKind::build`] needs besides the kind.
#[derive(Debug, Clone, Copy)]
pub struct BuildSpec<'a> {
    /// The user's config of the agent (the fields of its config type; missing fields keep
    /// their defaults).
    pub config: &'a toml::Table,
    /// The task it learns.
    pub task: &'a TaskSpec,
    /// The whole training budget in env steps (schedules anneal over it).
    pub total_steps: u64,
    /// Seed of the weight initialisation.
    pub seed: u64,
    /// Where a network lives.
    pub device: DeviceChoice,
}

impl AgentKind {
    /// Whether this kind runs on libtorch (the `tch` feature).
    pub fn needs_libtorch(&self) -> bool {
        !matches!(self.family, Family::Tabular(_))
    }

    /// Whether this kind learns by trial and error in the env (every kind but `bc`).
    pub fn learns_from_reward(&self) -> bool {
        !matches!(self.family, Family::BehaviourCloning)
    }

    /// The one error a build without libtorch gives for a kind that needs it; `Ok` where
    /// this build has the kind.
    pub fn ensure_built(&self) -> Result<(), AgentError> {
        if self.needs_libtorch() && !cfg!(feature = "tch") {
            return Err(AgentError::Config {
                field: "agent".to_string(),
                message: format!(
                    "'{}' ({}) runs on libtorch, which this build leaves out: build with \
                     `--features tch` (run scripts/libtorch.sh first)",
                    self.name, self.summary
                ),
            });
        }
        Ok(())
    }

    /// The agent's whole config: `given` laid over the kind's defaults, checked, as JSON
    /// (what `run.json` records). Unknown keys and wrong types are errors naming the key.
    /// Tabular kinds take their defaults from the task's compact state
    /// ([`TabularConfig::defaults_for`]), policy-gradient kinds from the task
    /// (`PpoConfig::defaults_for`: an entropy target on improvisation tasks).
    pub fn effective_config(
        &self,
        given: &toml::Table,
        task: &TaskSpec,
    ) -> Result<serde_json::Value, AgentError> {
        self.ensure_built()?;
        match self.family {
            Family::Tabular(_) => {
                let config = TabularConfig::from_table(given, task.state)?;
                to_json(&config)
            }
            _ => self.effective_network_config(given, task),
        }
    }

    /// How many sub-envs this kind trains on `task` when the user does not say.
    pub fn default_envs(&self, given: &toml::Table, task: &TaskSpec) -> Result<usize, AgentError> {
        self.ensure_built()?;
        match self.family {
            Family::Tabular(_) => Ok(tabular::TABULAR_LANES),
            Family::PolicyGradient => self.network_envs(given, task),
            Family::BehaviourCloning => Ok(1),
        }
    }

    /// A fresh agent.
    pub fn build(&self, spec: &BuildSpec<'_>) -> Result<Box<dyn Agent>, AgentError> {
        self.ensure_built()?;
        let num_actions = spec.task.setting.encoding.num_events();
        match self.family {
            Family::Tabular(algorithm) => Ok(Box::new(TabularAgent::new(
                algorithm,
                TabularConfig::from_table(spec.config, spec.task.state)?,
                &spec.task.name,
                num_actions,
                spec.total_steps,
            )?)),
            Family::BehaviourCloning => Err(AgentError::Config {
                field: "agent".to_string(),
                message: "bc learns from example melodies, not from a reward: train it with \
                          `cadenza train --agent bc --in CORPUS`"
                    .to_string(),
            }),
            Family::PolicyGradient => self.build_network(spec, num_actions),
        }
    }

    /// The agent saved in `checkpoint` (a checkpoint directory) by [`Agent::save`]; an error
    /// naming the file when it holds another kind or is damaged.
    pub fn load(
        &self,
        checkpoint: &Path,
        device: DeviceChoice,
    ) -> Result<Box<dyn Agent>, AgentError> {
        self.ensure_built()?;
        match self.family {
            Family::Tabular(_) => Ok(Box::new(tabular::load(checkpoint, Some(self.name))?)),
            _ => self.load_network(checkpoint, device),
        }
    }
}

fn to_json<T: serde::Serialize>(config: &T) -> Result<serde_json::Value, AgentError> {
    serde_json::to_value(config).map_err(|e| AgentError::Other(format!("config as JSON: {e}")))
}

#[cfg(feature = "tch")]
impl AgentKind {
    fn effective_network_config(
        &self,
        given: &toml::Table,
        task: &TaskSpec,
    ) -> Result<serde_json::Value, AgentError> {
        crate::pg::effective_config(self.name, given, Some(task))
    }

    fn network_envs(&self, given: &toml::Table, task: &TaskSpec) -> Result<usize, AgentError> {
        crate::pg::recommended_envs(self.name, given, Some(task))
    }

    fn build_network(
        &self,
        spec: &BuildSpec<'_>,
        num_actions: usize,
    ) -> Result<Box<dyn Agent>, AgentError> {
        crate::pg::build(&crate::pg::BuildSpec {
            kind: self.name,
            config: spec.config,
            task: Some(spec.task),
            obs_dim: spec.task.observation_dim(),
            num_actions,
            device: spec.device,
            seed: spec.seed,
            total_steps: Some(spec.total_steps),
        })
    }

    fn load_network(
        &self,
        checkpoint: &Path,
        device: DeviceChoice,
    ) -> Result<Box<dyn Agent>, AgentError> {
        crate::pg::load_kind(checkpoint, self.name, device)
    }
}

/// Without libtorch these are unreachable: `ensure_built` refuses first.
#[cfg(not(feature = "tch"))]
impl AgentKind {
    fn effective_network_config(
        &self,
        _given: &toml::Table,
        _task: &TaskSpec,
    ) -> Result<serde_json::Value, AgentError> {
        self.ensure_built().map(|()| serde_json::Value::Null)
    }

    fn network_envs(&self, _given: &toml::Table, _task: &TaskSpec) -> Result<usize, AgentError> {
        self.ensure_built().map(|()| 1)
    }

    fn build_network(
        &self,
        _spec: &BuildSpec<'_>,
        _num_actions: usize,
    ) -> Result<Box<dyn Agent>, AgentError> {
        Err(self
            .ensure_built()
            .err()
            .unwrap_or_else(|| unreachable_kind(self)))
    }

    fn load_network(
        &self,
        _checkpoint: &Path,
        _device: DeviceChoice,
    ) -> Result<Box<dyn Agent>, AgentError> {
        Err(self
            .ensure_built()
            .err()
            .unwrap_or_else(|| unreachable_kind(self)))
    }
}

#[cfg(not(feature = "tch"))]
fn unreachable_kind(kind: &AgentKind) -> AgentError {
    AgentError::Other(format!("agent '{}' is not built", kind.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_finds_its_kind() {
        for kind in AGENT_KINDS {
            assert_eq!(lookup(kind.name).unwrap().name, kind.name);
            for alias in kind.aliases {
                assert_eq!(lookup(alias).unwrap().name, kind.name);
            }
        }
        let err = lookup("dqn").unwrap_err().to_string();
        assert!(
            err.contains("unknown agent 'dqn'") && err.contains("soft-q"),
            "{err}"
        );
    }

    #[test]
    fn tabular_names_match_their_algorithms() {
        for kind in AGENT_KINDS {
            if let Family::Tabular(algorithm) = kind.family {
                assert_eq!(algorithm.kind(), kind.name);
                assert_eq!(Algorithm::from_kind(kind.name), Some(algorithm));
            }
        }
    }

    #[test]
    fn effective_config_fills_the_defaults_and_names_unknown_keys() {
        let kind = lookup("q").unwrap();
        let rl_tuner = TaskSpec::by_name("rl-tuner", None).unwrap();
        let given: toml::Table = toml::from_str("gamma = 0.5").unwrap();
        let config = kind.effective_config(&given, &rl_tuner).unwrap();
        assert_eq!(config["gamma"], 0.5);
        let defaults = serde_json::to_value(TabularConfig::default()).unwrap();
        assert_eq!(config["epsilon_end"], defaults["epsilon_end"]);
        let bad: toml::Table = toml::from_str("gama = 0.5").unwrap();
        let err = kind
            .effective_config(&bad, &rl_tuner)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gama"), "{err}");
    }

    #[test]
    fn tabular_defaults_follow_the_task_state_and_given_fields_win() {
        let kind = lookup("q").unwrap();
        let improv = TaskSpec::by_name("improv", None).unwrap();
        let given: toml::Table = toml::from_str("temperature = 0.7").unwrap();
        let config = kind.effective_config(&given, &improv).unwrap();
        let harmonic = serde_json::to_value(TabularConfig::defaults_for(improv.state)).unwrap();
        assert_eq!(config["exploration"], "boltzmann");
        assert_eq!(config["initial_value"], harmonic["initial_value"]);
        assert_eq!(config["temperature"], 0.7);
        assert_eq!(sampling_temperature(&config), 0.7);
        assert_eq!(sampling_temperature(&serde_json::json!({"lr": 0.1})), 1.0);
        let rl_tuner = TaskSpec::by_name("rl-tuner", None).unwrap();
        let config = kind
            .effective_config(&toml::Table::new(), &rl_tuner)
            .unwrap();
        assert_eq!(
            config,
            serde_json::to_value(TabularConfig::default()).unwrap()
        );
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn a_libtorch_kind_without_tch_is_one_clear_error() {
        let rl_tuner = TaskSpec::by_name("rl-tuner", None).unwrap();
        let err = lookup("ppo")
            .unwrap()
            .default_envs(&toml::Table::new(), &rl_tuner)
            .unwrap_err();
        assert!(err.to_string().contains("--features tch"), "{err}");
    }
}
