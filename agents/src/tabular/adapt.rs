//! A tabular agent adapting to a listener between episodes: the [`Adapter`] of the tabular
//! family.
//!
//! It samples from a softmax over the agent's Q-values plus a per-listener preference table,
//! at the session's temperature. Untried actions (whose values are only the optimistic
//! initial guess) take part only where a state has no tried allowed action. It adapts in one
//! of two ways ([`AdaptMode`]):
//!
//! - **Preference**: Monte-Carlo updates of the preference table. Every rated episode's
//!   (state, action) pairs move towards its advantage: the states of episodes the listener
//!   likes more than the batch's average get a lift, the others a push down, while the
//!   agent's own Q-values keep what it was trained for.
//! - **Q-learning**: updates of the agent's own table over every rated episode, in one
//!   backward sweep, towards `r(t) + γ · max_a Q(s_{t+1}, a) + L_t`. The first two terms are
//!   the one-step Q-learning target of the reward the agent was trained on (bootstrapped from
//!   the table as it was before the batch, over learned entries only); `L_t` is the
//!   discounted return from step t of the listener's per-step reward
//!   `advantage · reward_scale`. The listener's part is a Monte-Carlo return so that one
//!   batch already reaches the early steps of an episode, with the low-variance bootstrap
//!   kept for the trained reward.

use crate::adapt::{Adapter, RatedEpisode};
use crate::agent::{Agent, AgentError, Observation};
use cadenza_env::Environment;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::path::Path;

use super::agent::TabularAgent;
use super::config::check_range;
use super::table::QTable;

/// How a [`TabularAdapter`] moves towards the listener. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdaptMode {
    /// Monte-Carlo updates of a preference table added to the agent's Q-values; the agent's
    /// own table is left as trained.
    Preference,
    /// Q-learning updates of the agent's own table.
    QLearning,
}

/// How a [`TabularAdapter`] samples and adapts. Plain data, checked by
/// [`TabularAdaptConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct TabularAdaptConfig {
    /// What the updates change (default [`AdaptMode::Preference`]).
    pub mode: AdaptMode,
    /// Step size of the updates, in (0, 1] (default 0.3).
    pub step_size: f64,
    /// Softmax temperature over the values when sampling, in (0, 1000] (default 0.5).
    pub temperature: f64,
}

impl Default for TabularAdaptConfig {
    fn default() -> Self {
        Self {
            mode: AdaptMode::Preference,
            step_size: 0.3,
            temperature: 0.5,
        }
    }
}

impl TabularAdaptConfig {
    /// Checks every field, naming the first bad one and its allowed range.
    pub fn validate(&self) -> Result<(), AgentError> {
        check_range("step_size", self.step_size, 0.0, 1.0, true)?;
        check_range("temperature", self.temperature, 0.0, 1000.0, true)
    }
}

/// A tabular agent that samples and adapts. See the module docs.
#[derive(Debug, Clone)]
pub struct TabularAdapter {
    agent: TabularAgent,
    config: TabularAdaptConfig,
    /// What the listener's reactions add to the agent's Q-values.
    preference: QTable,
    /// Scratch for one step's sampling weights.
    logits: Vec<f64>,
}

impl TabularAdapter {
    /// Adapts `agent` as `config` says.
    pub fn new(agent: TabularAgent, config: TabularAdaptConfig) -> Result<Self, AgentError> {
        config.validate()?;
        let num_actions = agent.table().num_actions();
        Ok(Self {
            agent,
            config,
            preference: QTable::new(num_actions, 0.0, false),
            logits: vec![0.0; num_actions],
        })
    }

    /// The agent (its Q-table is what [`AdaptMode::QLearning`] updates).
    pub fn agent(&self) -> &TabularAgent {
        &self.agent
    }

    /// The preference table (what [`AdaptMode::Preference`] updates).
    pub fn preference(&self) -> &QTable {
        &self.preference
    }

    /// [`AdaptMode::Preference`]: every (state, action) pair of an episode moves towards its
    /// advantage.
    fn preference_updates(&mut self, episodes: &[RatedEpisode<'_>]) {
        let alpha = self.config.step_size as f32;
        for episode in episodes {
            let target = episode.advantage as f32;
            for (&state, &action) in episode.states.iter().zip(episode.actions) {
                let row = self.preference.row_index(state);
                let q = &mut self.preference.row_mut(row)[action as usize];
                *q += alpha * (target - *q);
            }
        }
    }

    /// [`AdaptMode::QLearning`]: one backward sweep over every episode (see the module docs).
    fn q_updates(&mut self, episodes: &[RatedEpisode<'_>], reward_scale: f64) {
        let alpha = self.config.step_size as f32;
        let gamma = self.agent.config().gamma;
        let table = &mut self.agent.table;
        // The bootstrap values come from the table as it was before this batch, so that the
        // batch's own updates are not counted twice.
        let next_values: Vec<Vec<f64>> = episodes
            .iter()
            .map(|e| {
                (0..e.states.len())
                    .map(|t| e.states.get(t + 1).map_or(0.0, |&s| best_tried(table, s)))
                    .collect()
            })
            .collect();
        for (episode, next) in episodes.iter().zip(&next_values) {
            let bonus = episode.advantage * reward_scale;
            let n = episode.states.len().min(episode.rewards.len());
            let mut listener_return = 0.0;
            for t in (0..n).rev() {
                listener_return = bonus + gamma * listener_return;
                let target = episode.rewards[t] + gamma * next[t] + listener_return;
                let row = table.row_index(episode.states[t]);
                let action = episode.actions[t] as usize;
                let q = &mut table.row_mut(row)[action];
                *q += alpha * (target as f32 - *q);
                table.mark_tried(row, action);
            }
        }
    }
}

/// The largest learned value of a state's row: the Q-learning bootstrap. Untried entries
/// hold only the (optimistic) initial value, so they are left out; an unseen state is worth 0.
fn best_tried(table: &QTable, state: u64) -> f64 {
    let Some(row) = table.find(state) else {
        return 0.0;
    };
    let values = table.row(row);
    let best = (0..values.len())
        .filter(|&a| table.is_tried(row, a))
        .map(|a| values[a])
        .fold(f32::NEG_INFINITY, f32::max);
    if best.is_finite() {
        f64::from(best)
    } else {
        0.0
    }
}

impl Adapter for TabularAdapter {
    fn kind(&self) -> &str {
        self.agent.kind()
    }

    /// A table has no per-episode state.
    fn begin_episode(&mut self) {}

    /// A softmax at the configured temperature over Q-value plus preference, among the
    /// allowed actions that are tried (all allowed ones where none is), each logit plus its
    /// `bias`.
    fn sample(
        &mut self,
        obs: &Observation<'_>,
        bias: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let inv_t = 1.0 / self.config.temperature;
        let mask = obs.mask;
        let allowed_at = |a: usize| mask.get(a).copied().unwrap_or(false);
        let table = self.agent.table();
        let row = table.find(obs.state);
        let n = self.logits.len();
        let any_tried =
            row.is_some_and(|r| (0..mask.len().min(n)).any(|a| mask[a] && table.is_tried(r, a)));
        let extra = self.preference.values_of(obs.state);
        let mut max = f64::NEG_INFINITY;
        for (a, logit) in self.logits.iter_mut().enumerate() {
            let allowed =
                allowed_at(a) && (!any_tried || row.is_some_and(|r| table.is_tried(r, a)));
            *logit = if allowed {
                let base = row.map_or(0.0, |r| f64::from(table.row(r)[a]));
                let add = extra.map_or(0.0, |e| f64::from(e[a]));
                (base + add) * inv_t + bias.get(a).copied().unwrap_or(0.0)
            } else {
                f64::NEG_INFINITY
            };
            max = max.max(*logit);
        }
        if max == f64::NEG_INFINITY {
            return None;
        }
        let mut total = 0.0;
        for logit in self.logits.iter_mut() {
            *logit = (*logit - max).exp();
            total += *logit;
        }
        let mut u = rng.random::<f64>() * total;
        let mut action = 0;
        for (a, &w) in self.logits.iter().enumerate() {
            if w > 0.0 {
                action = a;
                if u < w {
                    break;
                }
                u -= w;
            }
        }
        Some(action)
    }

    /// Updates from the recorded states and rewards: the env is not needed.
    fn adapt(
        &mut self,
        _env: &mut dyn Environment,
        episodes: &[RatedEpisode<'_>],
        reward_scale: f64,
    ) -> Result<(), AgentError> {
        let num_actions = self.logits.len();
        if let Some(i) = episodes
            .iter()
            .position(|e| e.actions.iter().any(|&a| a as usize >= num_actions))
        {
            return Err(AgentError::Other(format!(
                "adaptation: episode {i} takes an action outside the table's {num_actions}"
            )));
        }
        match self.config.mode {
            AdaptMode::Preference => self.preference_updates(episodes),
            AdaptMode::QLearning => self.q_updates(episodes, reward_scale),
        }
        Ok(())
    }

    /// Plain `f32` updates in a fixed order replay exactly.
    fn checksum(&self) -> Option<u64> {
        None
    }

    /// The agent's checkpoint: with [`AdaptMode::QLearning`] its adapted table. The
    /// preference table belongs to the listener and is not saved.
    fn save(&self, dir: &Path) -> Result<(), AgentError> {
        self.agent.save(dir)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{Algorithm, TabularConfig};
    use super::*;
    use cadenza_env::{ComposeEnv, TaskSpec, ZeroReward};
    use rand::SeedableRng;

    fn adapter(mode: AdaptMode) -> TabularAdapter {
        let agent =
            TabularAgent::new(Algorithm::QLearning, TabularConfig::default(), "t", 4, 10).unwrap();
        let config = TabularAdaptConfig {
            mode,
            step_size: 0.5,
            temperature: 1.0,
        };
        TabularAdapter::new(agent, config).unwrap()
    }

    /// Two steps from state 10 to 11, rewarded 1 then 0, with advantage 1.
    const EPISODE: RatedEpisode<'static> = RatedEpisode {
        actions: &[1, 2],
        states: &[10, 11],
        rewards: &[1.0, 0.0],
        advantage: 1.0,
    };

    fn adapt(
        adapter: &mut TabularAdapter,
        episodes: &[RatedEpisode<'_>],
    ) -> Result<(), AgentError> {
        let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), ZeroReward);
        adapter.adapt(&mut env, episodes, 2.0)
    }

    #[test]
    fn preference_updates_move_towards_the_advantage_and_leave_the_agent() {
        let mut a = adapter(AdaptMode::Preference);
        adapt(&mut a, &[EPISODE]).unwrap();
        // 0 + 0.5 (1 - 0) for each (state, action) of the episode, nothing else.
        assert_eq!(a.preference().values_of(10).unwrap(), &[0.0, 0.5, 0.0, 0.0]);
        assert_eq!(a.preference().values_of(11).unwrap(), &[0.0, 0.0, 0.5, 0.0]);
        assert!(a.agent().table().is_empty());
    }

    #[test]
    fn q_updates_by_hand() {
        let mut a = adapter(AdaptMode::QLearning);
        adapt(&mut a, &[EPISODE]).unwrap();
        // The listener's reward is 1 · 2 per step; γ = 0.9; new rows start at 20; no state
        // was learned before the batch, so every bootstrap is 0.
        // t = 1: L = 2, target 0 + 2 = 2, Q = 20 + 0.5 (2 - 20) = 11.
        // t = 0: L = 2 + 0.9 · 2 = 3.8, target 1 + 3.8 = 4.8, Q = 20 + 0.5 (4.8 - 20) = 12.4.
        let table = a.agent().table();
        let q = |state, action: usize| table.values_of(state).unwrap()[action];
        assert_eq!(q(11, 2), 11.0);
        assert!((q(10, 1) - 12.4).abs() < 1e-5, "{}", q(10, 1));
        let (r10, r11) = (table.find(10).unwrap(), table.find(11).unwrap());
        assert!(table.is_tried(r10, 1) && table.is_tried(r11, 2));
        assert!(!table.is_tried(r10, 0));
        assert!(a.preference().is_empty());
    }

    #[test]
    fn an_action_outside_the_table_is_an_error() {
        let mut a = adapter(AdaptMode::QLearning);
        let bad = RatedEpisode {
            actions: &[1, 4],
            ..EPISODE
        };
        let err = adapt(&mut a, &[EPISODE, bad]).unwrap_err().to_string();
        assert!(err.contains("episode 1"), "{err}");
        assert!(a.agent().table().is_empty(), "nothing changed");
    }

    #[test]
    fn samples_only_allowed_actions() {
        let mut a = adapter(AdaptMode::Preference);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mask = [false, true, false, true];
        let obs = |mask| Observation {
            dense: &[],
            state: 3,
            mask,
        };
        let mut seen = [0; 4];
        for _ in 0..200 {
            seen[a.sample(&obs(&mask), &[], &mut rng).unwrap()] += 1;
        }
        assert_eq!((seen[0], seen[2]), (0, 0), "{seen:?}");
        assert!(seen[1] > 50 && seen[3] > 50, "{seen:?}");
        assert_eq!(a.sample(&obs(&[false; 4]), &[], &mut rng), None);
    }

    #[test]
    fn a_bias_tilts_the_samples() {
        let mut a = adapter(AdaptMode::Preference);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mask = [true; 4];
        let obs = Observation {
            dense: &[],
            state: 3,
            mask: &mask,
        };
        let bias = [0.0, 3.0, 0.0, -30.0];
        let mut seen = [0; 4];
        for _ in 0..400 {
            seen[a.sample(&obs, &bias, &mut rng).unwrap()] += 1;
        }
        // e^3 ≈ 20 times as likely as each unbiased action; -30 nats is never.
        assert_eq!(seen[3], 0, "{seen:?}");
        assert!(seen[1] > 300, "{seen:?}");
    }
}
