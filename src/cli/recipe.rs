//! Front-door recipes: the reward and agent settings a task trains with when the command line
//! names no reward, chosen so that what `train` writes with no other flags is music by the
//! musicianship report (`docs/musicianship.md`).
//!
//! A task's *environment* reward stays its own (`cadenza_reward::registry::default_preset`:
//! `rl-tuner` keeps Magenta's reward exactly, as `score`, `bench env`, the Python bindings and
//! the Stable-Baselines3 comparison see it). A recipe is what `train` and the reward bench's
//! exploitation audit lay under the user's settings:
//!
//! - `train` without `--reward` trains on the recipe's reward;
//! - whenever the reward is a recipe's (named or by default), the recipe's agent fields are
//!   the defaults a `--config` file's fields override.
//!
//! KL-controlled fine-tuning (`train --agent ppo --prior`) has its own recipe on `rl-tuner`
//! ([`kl_reward`], [`kl_agent_defaults`], [`default_kl_coef`], [`KL_EVAL_EVERY`]): the
//! `rl-tuner-kl` reward, c = 3, γ = 0.8 and one PPO epoch, the setting
//! `docs/learning-from-examples.md` measured best.
//!
//! So `train --task rl-tuner --agent q` trains on `rl-tuner+` with Boltzmann sampling, and
//! `train --task rl-tuner --agent q --reward rl-tuner` is Magenta's setting with the agent's
//! plain defaults, as before.

use anyhow::{Context, Result};
use cadenza_agents::registry::Family;
use cadenza_agents::AgentKind;
use cadenza_env::TaskSpec;

/// A task's front-door reward and the agent fields that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// The reward preset `train` uses when `--reward` is not given.
    pub reward: &'static str,
    /// Fields of the tabular agents (TOML).
    tabular: &'static str,
    /// Fields laid over `tabular` for one tabular kind, by kind name (TOML).
    tabular_kind: &'static [(&'static str, &'static str)],
    /// Env steps the tabular agents train for when neither `--steps` nor a [train] table
    /// says.
    tabular_steps: u64,
    /// Fields of PPO (TOML).
    ppo: &'static str,
}

/// `rl-tuner`'s recipe: the `rl-tuner+` preset, which keeps Magenta's nine terms and charges
/// what their optimum gets wrong.
///
/// Tabular agents sample a Boltzmann policy over the learnt values at temperature 3, leaving
/// out actions worth 12 or more less than the best (the untried ones of ε-greedy from
/// optimistic values, the task's plain defaults, are wrong notes), with the learning rate of
/// the improvisation defaults, for 3 M steps (about 2 s; at 2 M the line of one seed in three
/// fell under 90% of the corpus's; at temperature 2.5, 4 of 11 sets of 100 melodies were too
/// alike by the set-level edit distance, at 3 none of 15 over Q-learning, soft Q-learning and
/// Expected SARSA). SARSA keeps 2.5: it learns the values of the policy it samples, and at 3
/// its harmony and line fell under the floors on seeds 0-2. PPO holds an entropy of 1.4 nats per step: with the entropy
/// bonus alone it collapses onto one melody (1-2 of 100 distinct on seeds 0-2).
/// `docs/musicianship.md` has the measurements.
const RL_TUNER: Recipe = Recipe {
    reward: "rl-tuner+",
    tabular: r#"
exploration = "boltzmann"
temperature = 3.0
sample_margin = 12.0
epsilon_start = 0.05
epsilon_end = 0.0
initial_value = 0.0
learning_rate = 0.5
learning_rate_schedule = "visits"
learning_rate_power = 0.6
"#,
    tabular_kind: &[("sarsa", "temperature = 2.5\n")],
    tabular_steps: 3_000_000,
    ppo: r#"
kl_coef = 0.3
[entropy_target]
entropy = 1.4
"#,
};

/// `improv`'s recipe: its own reward and the agents' defaults for it
/// (`TabularConfig::defaults_for`, `PpoConfig::defaults_for`), but tabular agents sample at
/// temperature 0.55 rather than 0.5: at 0.5 one of nine sets of 100 melodies (three
/// progressions, seeds 0-2) was too alike by the set-level edit distance, at 0.55 none, with
/// harmony 0.77-0.94 (at 0.6 the blues fell to 0.74-0.76). Sessions and duets keep 0.5: their
/// freshness rule and musicianship guard choose among candidates instead.
const IMPROV: Recipe = Recipe {
    reward: "improv",
    tabular: "temperature = 0.55\n",
    tabular_kind: &[],
    tabular_steps: 2_000_000,
    ppo: "",
};

/// The recipe of `task`, where it has one (`rl-tuner` and `improv`; a duet trains with its
/// own reward and the agents' defaults).
pub fn for_task(task: &TaskSpec) -> Option<Recipe> {
    match task.name.as_str() {
        "rl-tuner" => Some(RL_TUNER),
        "improv" => Some(IMPROV),
        _ => None,
    }
}

/// The theory reward a KL-controlled run (`--prior`) uses on `task` when `--reward` is not
/// given: `rl-tuner-kl` on `rl-tuner` (Magenta's terms with the unique-extrema reward 20:
/// with Magenta's 3, the prior's pull leaves the unique lowest note under the prior's own
/// rate), the task's own reward elsewhere.
pub fn kl_reward(task: &TaskSpec) -> &'static str {
    match task.name.as_str() {
        "rl-tuner" => KL_REWARD,
        name => cadenza_reward::registry::default_preset(name),
    }
}

/// The KL recipe's reward preset.
const KL_REWARD: &str = "rl-tuner-kl";

/// PPO's fields in the KL recipe: a short horizon, so that the motif rewards do not compound
/// over the 32 steps into a pull stronger than the prior's, and one pass over each rollout at
/// a larger step with a value tower 64 wide (the policy's is the prior's), a third of the
/// learner's work of two passes for the same melodies (docs/learning-from-examples.md,
/// "Speed").
const KL_PPO: &str = r#"
gamma = 0.8
epochs = 1
learning_rate = 4.5e-3
[model]
critic_hidden = 64
"#;

/// Env steps between a KL recipe run's evaluations: four over its 200,000 steps, which serve
/// the learning curve only.
pub const KL_EVAL_EVERY: u64 = 50_000;

/// Whether a KL-controlled run with `reward` follows the KL recipe.
pub fn is_kl_recipe(reward: &str) -> bool {
    reward == KL_REWARD
}

/// The agent fields a KL-controlled run of `kind` with `reward` starts from: the recipe's
/// PPO fields with the recipe's reward, else none (PPO's own defaults).
pub fn kl_agent_defaults(reward: &str, kind: &AgentKind) -> Result<toml::Table> {
    if is_kl_recipe(reward) && kind.name == "ppo" {
        KL_PPO.parse().context("the KL recipe's ppo fields")
    } else {
        Ok(toml::Table::new())
    }
}

/// `c` of a KL-controlled run with `reward` when `--kl-coef` is not given: 3 with the
/// recipe's reward and γ = 0.8; 15 otherwise, which keeps melodies tuned at PPO's default
/// γ = 0.99 on Magenta's reward within 20% of the prior's corpus NLL.
pub fn default_kl_coef(reward: &str) -> f64 {
    if is_kl_recipe(reward) {
        3.0
    } else {
        15.0
    }
}

/// The reward `train` uses on `task` when `--reward` is not given.
pub fn default_reward(task: &TaskSpec) -> &'static str {
    match for_task(task) {
        Some(recipe) => recipe.reward,
        None => cadenza_reward::registry::default_preset(&task.name),
    }
}

/// The agent fields `kind` starts from on `task` with `reward` (a preset name or a TOML
/// path): the recipe's when `reward` is the recipe's, else none (the agent's own defaults).
pub fn agent_defaults(task: &TaskSpec, reward: &str, kind: &AgentKind) -> Result<toml::Table> {
    let Some(recipe) = for_task(task).filter(|r| r.reward == reward) else {
        return Ok(toml::Table::new());
    };
    let parse = |text: &str| -> Result<toml::Table> {
        text.parse()
            .with_context(|| format!("the {} recipe's {} fields", task.name, kind.name))
    };
    match (kind.family, kind.name) {
        (Family::Tabular(_), name) => {
            let fields = parse(recipe.tabular)?;
            match recipe.tabular_kind.iter().find(|(k, _)| *k == name) {
                Some((_, own)) => Ok(overlay(fields, &parse(own)?)),
                None => Ok(fields),
            }
        }
        (Family::PolicyGradient, "ppo") => parse(recipe.ppo),
        _ => Ok(toml::Table::new()),
    }
}

/// The env steps `kind` trains for on `task` with `reward` when neither `--steps` nor a
/// [train] table says: the recipe's where it sets them, else `None` (`train`'s default).
pub fn default_steps(task: &TaskSpec, reward: &str, kind: &AgentKind) -> Option<u64> {
    let recipe = for_task(task).filter(|r| r.reward == reward)?;
    matches!(kind.family, Family::Tabular(_)).then_some(recipe.tabular_steps)
}

/// `given` laid over `defaults`: a field `given` names wins; a table both name is merged the
/// same way, so `[entropy_target] rate = 0` keeps the recipe's entropy.
pub fn overlay(mut defaults: toml::Table, given: &toml::Table) -> toml::Table {
    for (key, value) in given {
        match (defaults.get_mut(key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(over)) => {
                let merged = overlay(std::mem::take(base), over);
                *base = merged;
            }
            _ => {
                defaults.insert(key.clone(), value.clone());
            }
        }
    }
    defaults
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_agents::registry;

    fn rl_tuner() -> TaskSpec {
        TaskSpec::by_name("rl-tuner", None).unwrap()
    }

    /// Every recipe's fields are valid settings of the kinds they are for.
    #[test]
    fn recipe_fields_are_valid_agent_settings() {
        let task = rl_tuner();
        for kind in registry::AGENT_KINDS {
            let fields = agent_defaults(&task, "rl-tuner+", kind).unwrap();
            if matches!(kind.family, Family::Tabular(_)) || kind.name == "ppo" {
                assert!(!fields.is_empty(), "{}", kind.name);
            }
            if kind.ensure_built().is_ok() && kind.family != Family::BehaviourCloning {
                kind.effective_config(&fields, &task)
                    .unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            }
        }
    }

    /// Magenta's reward, named, keeps the agents' plain defaults (the reproduction of the
    /// published setting); improvisation tasks have no recipe.
    #[test]
    fn only_the_recipe_reward_takes_the_recipe_fields() {
        let q = registry::lookup("q").unwrap();
        assert!(agent_defaults(&rl_tuner(), "rl-tuner", q)
            .unwrap()
            .is_empty());
        assert_eq!(default_steps(&rl_tuner(), "rl-tuner", q), None);
        assert_eq!(default_steps(&rl_tuner(), "rl-tuner+", q), Some(3_000_000));
        assert_eq!(default_reward(&rl_tuner()), "rl-tuner+");
        let temperature = |name: &str| {
            agent_defaults(&rl_tuner(), "rl-tuner+", registry::lookup(name).unwrap()).unwrap()
                ["temperature"]
                .as_float()
        };
        assert_eq!(temperature("q"), Some(3.0));
        assert_eq!(temperature("sarsa"), Some(2.5));
        let improv = TaskSpec::by_name("improv", None).unwrap();
        assert_eq!(default_reward(&improv), "improv");
        let fields = agent_defaults(&improv, "improv", q).unwrap();
        assert_eq!(fields["temperature"].as_float(), Some(0.55));
        assert!(
            agent_defaults(&improv, "improv", registry::lookup("ppo").unwrap())
                .unwrap()
                .is_empty()
        );
        assert!(agent_defaults(&improv, "zero", q).unwrap().is_empty());
    }

    /// A KL-controlled run on rl-tuner defaults to the recipe of the document: its reward,
    /// c = 3 and PPO's fields (valid PPO settings); another reward keeps PPO's defaults and
    /// c = 15.
    #[test]
    fn the_kl_recipe_is_the_prior_runs_default() {
        let ppo = registry::lookup("ppo").unwrap();
        assert_eq!(kl_reward(&rl_tuner()), "rl-tuner-kl");
        assert_eq!(default_kl_coef("rl-tuner-kl"), 3.0);
        assert_eq!(default_kl_coef("rl-tuner"), 15.0);
        let fields = kl_agent_defaults("rl-tuner-kl", ppo).unwrap();
        assert_eq!(fields["gamma"].as_float(), Some(0.8));
        assert_eq!(fields["model"]["critic_hidden"].as_integer(), Some(64));
        if ppo.ensure_built().is_ok() {
            ppo.effective_config(&fields, &rl_tuner()).unwrap();
        }
        assert!(kl_agent_defaults("rl-tuner", ppo).unwrap().is_empty());
        cadenza_reward::registry::preset(kl_reward(&rl_tuner())).unwrap();
        let improv = TaskSpec::by_name("improv", None).unwrap();
        assert_eq!(kl_reward(&improv), "improv");
    }

    #[test]
    fn given_fields_win_and_nested_tables_merge() {
        let defaults: toml::Table = "kl_coef = 0.3\n[entropy_target]\nentropy = 1.4\n"
            .parse()
            .unwrap();
        let given: toml::Table = "kl_coef = 0.1\n[entropy_target]\nrate = 0.0\n"
            .parse()
            .unwrap();
        let merged = overlay(defaults, &given);
        assert_eq!(merged["kl_coef"].as_float(), Some(0.1));
        assert_eq!(merged["entropy_target"]["entropy"].as_float(), Some(1.4));
        assert_eq!(merged["entropy_target"]["rate"].as_float(), Some(0.0));
    }
}
