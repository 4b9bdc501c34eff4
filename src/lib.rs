//! # Cadenza
//!
//! Agents that learn to compose and improvise melodies by reinforcement learning.
//!
//! This facade re-exports the workspace's crates:
//! - [`mod@env`]: the music model, event encodings, the Gymnasium-style composition environment,
//!   vector envs, the conformance checker and MIDI I/O;
//! - [`reward`]: reward terms (Magenta RL Tuner's music theory, harmony-aware improvisation
//!   terms, corpus models) and their composition;
//! - [`agents`]: the agent registry, tabular and policy-gradient agents, run directories and
//!   the training loop;
//! - [`session`]: human-in-the-loop improvisation sessions (simulated listeners, the durable
//!   log, the web page).
//!
//! ```
//! use cadenza::env::{ComposeEnv, Environment, TaskSpec};
//! let mut env = ComposeEnv::new(TaskSpec::rl_tuner(), cadenza::env::ZeroReward);
//! let (obs, _info) = env.reset(Some(0)).unwrap();
//! assert_eq!(obs.len(), 184);
//! ```

#![warn(missing_docs)]

pub use cadenza_agents as agents;
pub use cadenza_env as env;
pub use cadenza_reward as reward;
pub use cadenza_session as session;
