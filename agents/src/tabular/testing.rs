//! What the tests of several parts share: a small agent and envs with a known best action.

use super::{Algorithm, TabularAgent, TabularConfig};
use crate::agent::TrainEnv;
use cadenza_env::reward::{Reward, Setting, StepContext};
use cadenza_env::vector::VecEnv;
use cadenza_env::{ComposeEnv, TaskSpec};

/// An agent for the `rl-tuner` task's 38 actions.
pub(super) fn agent(algorithm: Algorithm, config: TabularConfig) -> TabularAgent {
    TabularAgent::new(algorithm, config, "rl-tuner", 38, 1000).unwrap()
}

/// +1 for event 5, else 0.
struct Five;
impl Reward for Five {
    fn term_names(&self) -> Vec<String> {
        vec!["five".into()]
    }
    fn reset(&mut self, _setting: &Setting) {}
    fn step(&mut self, ctx: &StepContext<'_>, terms: &mut [f64]) -> f64 {
        terms[0] = f64::from(ctx.action == 5);
        terms[0]
    }
}

/// `n` rl-tuner envs whose reward is 1 for action 5, reset with seed 0.
pub(super) fn five_envs(n: usize) -> VecEnv<TrainEnv> {
    let envs: Vec<TrainEnv> = (0..n)
        .map(|_| ComposeEnv::new(TaskSpec::rl_tuner(), Box::new(Five) as Box<dyn Reward>))
        .collect();
    let mut envs = VecEnv::new(envs, 1).unwrap();
    envs.reset(Some(0)).unwrap();
    envs
}
