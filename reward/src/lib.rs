//! # cadenza-reward
//!
//! Reward terms for Cadenza's composition environments (in progress).

#![warn(missing_docs)]

pub mod bench;
pub mod combine;
pub mod corpus;
pub mod diversity;
pub mod improv;
pub mod listener;
pub mod metrics;
pub mod registry;
pub mod rl_tuner;
pub mod score;
