//! Adapting a trained agent to a listener between episodes: the [`Adapter`] contract that a
//! human-in-the-loop session drives.
//!
//! A session plays episodes sampled from the adapter ([`Adapter::begin_episode`], then
//! [`Adapter::sample`] at every step of an env the session owns), scores them with its
//! listener model, and hands them back rated ([`Adapter::adapt`] with [`RatedEpisode`]s): the
//! adapter moves its own state towards what the listener liked. How it moves is the agent's
//! business; the session only proposes, reacts and logs.
//!
//! Two families implement it: the tabular agents
//! ([`TabularAdapter`](crate::tabular::TabularAdapter): a preference table added to the
//! Q-values, or Q-updates of the agent's own table) and, with the `tch` feature, the
//! policy-gradient agents (`pg::PolicyAdapter`: REINFORCE steps of the network). The contract
//! itself needs no libtorch.
//!
//! Every update is a function of the adapter's state and the episodes handed to it, so a
//! session that replays the same rated episodes from the same checkpoint ends with the same
//! state; [`Adapter::checksum`] lets it check that where the arithmetic is not its own.

use crate::agent::{AgentError, Observation};
use cadenza_env::{Environment, Event};
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::path::Path;

/// One episode that a listener reacted to, with what it earned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatedEpisode<'a> {
    /// The actions taken, from a reset of the env.
    pub actions: &'a [Event],
    /// The compact discrete state before each action
    /// ([`Environment::discrete_state`]).
    pub states: &'a [u64],
    /// The env's own reward for each action: the reward the agent was trained on.
    pub rewards: &'a [f64],
    /// How much more the listener likes this episode than the batch's average, in the units
    /// of the session's score (in [-10, 10]). Added to every step's reward it is scaled by
    /// the `reward_scale` of [`Adapter::adapt`].
    pub advantage: f64,
}

/// An agent that samples episodes and adapts to rated ones. See the module docs.
pub trait Adapter: Send + std::fmt::Debug {
    /// The agent's kind (`q`, `ppo`, ...).
    fn kind(&self) -> &str;

    /// Starts an episode (a recurrent policy forgets its state).
    fn begin_episode(&mut self);

    /// The adapted policy's next action for `obs`, sampled with `rng`; `None` when every
    /// action is masked out. `bias[a]` (empty for none, else one per action) is added to
    /// action `a`'s log-probability before sampling, in nats: how a session steers the
    /// phrase towards what the listener asks (more rests, fewer notes, ...) without changing
    /// the agent.
    fn sample(
        &mut self,
        obs: &Observation<'_>,
        bias: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Option<usize>;

    /// Moves the agent towards the listener's taste on one batch of rated episodes, all
    /// played from resets of `env`. The listener's per-step reward is an episode's
    /// `advantage · reward_scale`, so that it is measured against the env's own rewards.
    fn adapt(
        &mut self,
        env: &mut dyn Environment,
        episodes: &[RatedEpisode<'_>],
        reward_scale: f64,
    ) -> Result<(), AgentError>;

    /// A fingerprint of the adapted state (FNV-1a 64), for a resumed session to check its
    /// replay against where the updates run on a backend whose arithmetic is not plain,
    /// ordered `f32` code (libtorch); `None` where replay is exact by construction.
    fn checksum(&self) -> Option<u64>;

    /// Writes the adapted agent's checkpoint into `dir` (which exists), as its family's
    /// `load` reads it.
    fn save(&self, dir: &Path) -> Result<(), AgentError>;

    /// The adapter as [`Any`], to reach the concrete type (its table, its weights).
    fn as_any(&self) -> &dyn Any;
}
