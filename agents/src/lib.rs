//! # cadenza-agents
//!
//! Agents that learn to compose: tabular Q-learning and its relatives, and (feature `tch`)
//! policy-gradient agents on libtorch.

#![warn(missing_docs)]

pub mod adapt;
pub mod agent;
mod checksum;
pub mod duet;
#[cfg(feature = "tch")]
pub mod pg;
pub mod registry;
pub mod run;
pub mod tabular;
pub mod train;
pub mod trained;

pub use adapt::{Adapter, RatedEpisode};
pub use agent::{ActMode, Agent, AgentError, DeviceChoice, LearnStats, Observation, TrainEnv};
pub use registry::{AgentKind, Family};
pub use run::{RunDir, RunInfo};
