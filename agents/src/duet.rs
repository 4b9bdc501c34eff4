//! Answering calls: an agent trained on the `duet` task, handed a call from outside (a
//! person's phrase, the other agent's last answer), plays its answer.
//!
//! [`Answerer`] keeps one env and its buffers, so answering costs the answer's steps and
//! nothing else: it is what a live session runs between the end of a call and the next
//! downbeat (`benches/duet.rs` measures it).
//!
//! ```
//! use cadenza_agents::duet::Answerer;
//! use cadenza_agents::tabular::{Algorithm, TabularAgent, TabularConfig};
//! use cadenza_agents::ActMode;
//! use cadenza_env::TaskSpec;
//! let task = TaskSpec::by_name("duet", None).unwrap();
//! let config = TabularConfig::defaults_for(task.state);
//! let actions = task.setting.encoding.num_events();
//! let mut agent = TabularAgent::new(Algorithm::QLearning, config, "duet", actions, 1).unwrap();
//! let mut answerer = Answerer::new(&task).unwrap();
//! let call = vec![14; task.call_steps()]; // C4 struck on every step
//! let mut answer = Vec::new();
//! answerer.answer(&mut agent, &call, 7, ActMode::Greedy, &mut answer).unwrap();
//! assert_eq!(answer.len(), task.setting.length - task.call_steps());
//! ```

use crate::agent::{ActMode, Agent, AgentError, Observation};
use cadenza_env::duet::partner::GivenCall;
use cadenza_env::{ComposeEnv, Environment, Event, TaskSpec, ZeroReward};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Plays an agent's answers to given calls (see the module docs).
#[derive(Debug)]
pub struct Answerer {
    env: ComposeEnv<ZeroReward>,
    call: Arc<GivenCall>,
    observation: Vec<f32>,
    call_steps: usize,
}

impl Answerer {
    /// An answerer for `task` (a duet; an error otherwise).
    pub fn new(task: &TaskSpec) -> Result<Self, AgentError> {
        let call = Arc::new(GivenCall::new());
        let task = task
            .with_partner(Arc::clone(&call) as Arc<dyn cadenza_env::duet::Partner>)
            .map_err(|e| AgentError::Other(e.to_string()))?;
        let call_steps = task.call_steps();
        let env = ComposeEnv::new(task, ZeroReward);
        let observation = vec![0.0; env.observation_space().dim()];
        Ok(Self {
            env,
            call,
            observation,
            call_steps,
        })
    }

    /// Steps of the calls this answerer takes.
    pub fn call_steps(&self) -> usize {
        self.call_steps
    }

    /// Writes `agent`'s answer to `call` (the task's `call_steps` events; shorter is padded
    /// with rests, longer cut) into `answer`, choosing by `mode` with a generator seeded by
    /// `seed` (the env is reset with the same seed).
    pub fn answer(
        &mut self,
        agent: &mut dyn Agent,
        call: &[Event],
        seed: u64,
        mode: ActMode,
        answer: &mut Vec<Event>,
    ) -> Result<(), AgentError> {
        self.call.set(call);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let env_error = |e: cadenza_env::EnvError| AgentError::Other(format!("duet env: {e}"));
        self.env
            .reset_into(Some(seed), &mut self.observation)
            .map_err(env_error)?;
        agent.begin_episode();
        loop {
            let state = self.env.discrete_state();
            let action = agent.act(
                &Observation {
                    dense: &self.observation,
                    state,
                    mask: self.env.action_mask(),
                },
                mode,
                &mut rng,
            );
            let step = self
                .env
                .step_into(action, &mut self.observation)
                .map_err(env_error)?;
            if step.terminated || step.truncated {
                break;
            }
        }
        answer.clear();
        answer.extend_from_slice(&self.env.melody()[self.call_steps..]);
        Ok(())
    }
}
