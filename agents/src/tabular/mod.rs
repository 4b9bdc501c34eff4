//! Tabular agents: Q-learning, SARSA and Expected SARSA over the env's compact discrete state.
//!
//! References: Watkins (1989), *Learning from Delayed Rewards* (Q-learning); Rummery & Niranjan
//! (1994), *On-line Q-learning using connectionist systems* (SARSA); van Seijen, van Hasselt,
//! Whiteson & Wiering (2009), *A theoretical and empirical analysis of Expected Sarsa*; Sutton &
//! Barto (2018), *Reinforcement Learning: An Introduction*, chapter 6.
//!
//! The module's files follow those parts: `config` holds the algorithms, their
//! [`TabularConfig`] and the schedules; `table` the sparse [`QTable`]; `selection` the choice
//! of an action from a row; `agent` the [`TabularAgent`] with its rollout-and-update loop
//! ([`Agent::learn`](crate::Agent::learn)) and acting ([`Agent::act`](crate::Agent::act));
//! `checkpoint` the file format; `adapt` the [`TabularAdapter`] that moves an agent towards a
//! listener between episodes.
//!
//! The state is [`Environment::discrete_state`]: for the `rl-tuner` task the last two events,
//! the step index and the melodic context (the distinct pitches of the motif window, capped
//! at 3, and the direction of a pending leap), about 100,000 states visited in 5 million
//! steps. A third event of history instead would visit a million states about five times
//! each, and both the learned return and the speed suffer. The context costs far less: it
//! is what RL Tuner's motif and leap terms remember, and without it they look like noise to
//! the agent. Rows of the table are created on first visit. The inner loop steps the
//! sub-envs of the vector env in turn, one step each per round, without writing observations
//! ([`ComposeEnv::step_state`](cadenza_env::ComposeEnv::step_state)). It does one hash lookup
//! per step (the current row is carried over from the previous step), prefetches what the
//! next round reads so that one sub-env's cache misses overlap with the others' work, and
//! allocates nothing: training runs at millions of steps per second on one core.
//!
//! ```
//! use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
//! use cadenza_agents::{Agent, TrainEnv};
//! use cadenza_env::{vector::VecEnv, ComposeEnv, InScaleReward, TaskSpec};
//! use rand::SeedableRng;
//!
//! let env: TrainEnv = ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(InScaleReward));
//! let mut envs = VecEnv::new(vec![env], 1).unwrap();
//! envs.reset(Some(0)).unwrap();
//! let config = TabularConfig::default();
//! let mut agent = TabularAgent::new(Algorithm::QLearning, config, "rl-tuner", 38, 10_000).unwrap();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let stats = agent.learn(&mut envs, 10_000, &mut rng).unwrap();
//! assert_eq!(stats.steps, 10_000);
//! assert!(agent.table().len() > 100);
//! ```
//!
//! [`Environment::discrete_state`]: cadenza_env::Environment::discrete_state

mod adapt;
mod agent;
mod checkpoint;
mod config;
mod selection;
mod table;

pub use adapt::{AdaptMode, TabularAdaptConfig, TabularAdapter};
pub use agent::{
    decode_checkpoint, encode_checkpoint, load, save_checkpoint, TabularAgent, TABULAR_LANES,
};
pub(crate) use checkpoint::header_of;
pub use checkpoint::{
    read_header, write_atomic, CheckpointHeader, TableLayout, CHECKPOINT_FILE, FORMAT, VERSION,
};
pub use config::{
    epsilon_at, learning_rate_at, Algorithm, EpsilonDecay, Exploration, LearningRateSchedule,
    TabularConfig, KINDS,
};
pub use table::QTable;
