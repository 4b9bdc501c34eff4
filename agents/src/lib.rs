//! # cadenza-agents
//!
//! Agents that learn to compose: tabular Q-learning and its relatives, and (feature `tch`)
//! policy-gradient agents on libtorch.

#![warn(missing_docs)]

pub mod adapt;
pub mod agent;
mod checksum;
#[cfg(feature = "tch")]
pub mod pg;
pub mod tabular;
pub mod train;

pub use adapt::{Adapter, RatedEpisode};
pub use agent::{ActMode, Agent, AgentError, LearnStats, Observation, TrainEnv};
