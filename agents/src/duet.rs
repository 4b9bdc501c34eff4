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
        agent.begin_episode();
        self.answer_with(call, seed, answer, |observation, rng| {
            Some(agent.act(observation, mode, rng))
        })
    }

    /// The mean log-probability per step with which `agent`, sampling at `temperature`,
    /// would play `response` after `call` (the call-conditioned likelihood, in nats): each
    /// step's probability is [`Agent::action_probs`] mixed with `smoothing` of a uniform
    /// choice among the allowed events, so that an event the agent never plays costs
    /// `ln(smoothing / allowed)` instead of an infinite penalty. A response event the env
    /// does not allow at its step is an error.
    pub fn log_likelihood(
        &mut self,
        agent: &mut dyn Agent,
        call: &[Event],
        response: &[Event],
        temperature: f64,
        smoothing: f64,
    ) -> Result<f64, AgentError> {
        if !(0.0..=1.0).contains(&smoothing) {
            return Err(AgentError::Config {
                field: "smoothing".to_string(),
                message: format!("{smoothing}: expected a share in [0, 1]"),
            });
        }
        agent.begin_episode();
        let mut probs = vec![0.0; self.env.action_space().n];
        let (mut sum, mut steps) = (0.0, 0usize);
        let mut failure = None;
        let mut scratch = Vec::new();
        self.answer_with(call, 0, &mut scratch, |observation, _| {
            let Some(&event) = response.get(steps) else {
                failure = Some(AgentError::Other(format!(
                    "the response has {} events: fewer than the answer's steps",
                    response.len()
                )));
                return None;
            };
            let event = usize::from(event);
            if !observation.mask.get(event).copied().unwrap_or(false) {
                failure = Some(AgentError::Other(format!(
                    "response event {event} at answer step {steps} is not allowed there"
                )));
                return None;
            }
            if let Err(e) = agent.action_probs(observation, temperature, &mut probs) {
                failure = Some(e);
                return None;
            }
            let allowed = observation.mask.iter().filter(|&&ok| ok).count().max(1);
            let p = (1.0 - smoothing) * probs[event] + smoothing / allowed as f64;
            sum += p.ln();
            steps += 1;
            Some(event)
        })
        .map_err(|e| failure.take().unwrap_or(e))?;
        Ok(sum / steps.max(1) as f64)
    }

    /// [`Answerer::answer`] with the choice of each step left to `pick` (the observation
    /// of the step, with the env's mask, and the generator seeded by `seed`): how a session
    /// samples an answer steered by what its listener asked for. `pick` returning `None`
    /// (every action refused) is an error.
    pub fn answer_with(
        &mut self,
        call: &[Event],
        seed: u64,
        answer: &mut Vec<Event>,
        mut pick: impl FnMut(&Observation<'_>, &mut ChaCha8Rng) -> Option<usize>,
    ) -> Result<(), AgentError> {
        self.call.set(call);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let env_error = |e: cadenza_env::EnvError| AgentError::Other(format!("duet env: {e}"));
        self.env
            .reset_into(Some(seed), &mut self.observation)
            .map_err(env_error)?;
        loop {
            let state = self.env.discrete_state();
            let action = pick(
                &Observation {
                    dense: &self.observation,
                    state,
                    mask: self.env.action_mask(),
                },
                &mut rng,
            )
            .ok_or_else(|| {
                AgentError::Other("every action of an answer step was refused".to_string())
            })?;
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

/// A tabular answerer learnt from examples: for every compact state of the duet task, how
/// often each event followed in the responses of real call/response pairs, smoothed with
/// `alpha` per event; it plays by sampling that distribution (at temperature 1; greedy takes
/// the most frequent event). Fed with the `hear_call = false` task, the same counts ignore
/// the call: the unconditioned model of the same kind.
///
/// [`CallResponseCounts::log_prob`] is the call-conditioned likelihood of a response, the
/// measure of `docs/duet.md` besides the answers' distances.
#[derive(Debug, Clone)]
pub struct CallResponseCounts {
    counts: std::collections::HashMap<u64, Vec<u32>>,
    alpha: f64,
    actions: usize,
    task: TaskSpec,
}

impl CallResponseCounts {
    /// Counts the responses of `pairs` (call, response) played in `task` (a duet) after
    /// their calls; `alpha` (> 0) is added to every count.
    pub fn fit(
        task: &TaskSpec,
        pairs: &[(Vec<Event>, Vec<Event>)],
        alpha: f64,
    ) -> Result<Self, AgentError> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(AgentError::Config {
                field: "alpha".to_string(),
                message: format!("{alpha}: expected a finite number above 0"),
            });
        }
        let actions = task.setting.encoding.num_events();
        let mut model = Self {
            counts: std::collections::HashMap::new(),
            alpha,
            actions,
            task: task.clone(),
        };
        let mut walker = Walker::new(task)?;
        for (call, response) in pairs {
            walker.walk(call, response, |state, event| {
                let row = model
                    .counts
                    .entry(state)
                    .or_insert_with(|| vec![0; actions]);
                if let Some(count) = row.get_mut(usize::from(event)) {
                    *count += 1;
                }
            })?;
        }
        Ok(model)
    }

    /// States seen in the examples.
    pub fn states(&self) -> usize {
        self.counts.len()
    }

    /// The smoothed probability of `event` in `state`.
    pub fn prob(&self, state: u64, event: usize) -> f64 {
        let a = self.alpha;
        match self.counts.get(&state) {
            Some(row) => {
                let total: u32 = row.iter().sum();
                (f64::from(row.get(event).copied().unwrap_or(0)) + a)
                    / (f64::from(total) + a * self.actions as f64)
            }
            None => 1.0 / self.actions as f64,
        }
    }

    /// The mean log-probability per step of `response` after `call` (the call-conditioned
    /// likelihood, in nats).
    pub fn log_prob(&self, call: &[Event], response: &[Event]) -> Result<f64, AgentError> {
        let mut walker = Walker::new(&self.task)?;
        let (mut sum, mut steps) = (0.0, 0usize);
        walker.walk(call, response, |state, event| {
            sum += self.prob(state, usize::from(event)).ln();
            steps += 1;
        })?;
        Ok(sum / steps.max(1) as f64)
    }
}

/// Plays a call and then a given response through a duet env, reporting the compact state
/// before each response event.
struct Walker {
    env: ComposeEnv<ZeroReward>,
    call: Arc<GivenCall>,
}

impl Walker {
    fn new(task: &TaskSpec) -> Result<Self, AgentError> {
        let call = Arc::new(GivenCall::new());
        let task = task
            .with_partner(Arc::clone(&call) as Arc<dyn cadenza_env::duet::Partner>)
            .map_err(|e| AgentError::Other(e.to_string()))?;
        Ok(Self {
            env: ComposeEnv::new(task, ZeroReward),
            call,
        })
    }

    fn walk(
        &mut self,
        call: &[Event],
        response: &[Event],
        mut visit: impl FnMut(u64, Event),
    ) -> Result<(), AgentError> {
        let env_error = |e: cadenza_env::EnvError| AgentError::Other(format!("duet env: {e}"));
        self.call.set(call);
        let mut observation = vec![0.0; self.env.observation_space().dim()];
        self.env
            .reset_into(Some(0), &mut observation)
            .map_err(env_error)?;
        for &event in response {
            visit(self.env.discrete_state(), event);
            let step = self.env.step_state(usize::from(event)).map_err(env_error)?;
            if step.terminated {
                break;
            }
        }
        Ok(())
    }
}

impl Agent for CallResponseCounts {
    fn kind(&self) -> &'static str {
        "call-response-counts"
    }

    fn learn(
        &mut self,
        _envs: &mut cadenza_env::vector::VecEnv<crate::agent::TrainEnv>,
        _steps: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<crate::agent::LearnStats, AgentError> {
        Err(AgentError::Other(
            "a call/response count model learns from examples (CallResponseCounts::fit), not from a reward".to_string(),
        ))
    }

    fn act(&mut self, obs: &Observation<'_>, mode: ActMode, rng: &mut ChaCha8Rng) -> usize {
        use rand::Rng;
        let allowed = |a: usize| obs.mask.get(a).copied().unwrap_or(false);
        let fallback = (0..self.actions).find(|&a| allowed(a)).unwrap_or(0);
        let temperature = match mode {
            ActMode::Greedy => 0.0,
            ActMode::Sample { temperature } => temperature,
        };
        let mut probs = vec![0.0; self.actions];
        if self.action_probs(obs, temperature, &mut probs).is_err() {
            return fallback;
        }
        let mut draw = rng.random::<f64>();
        for (a, p) in probs.iter().enumerate() {
            if *p > 0.0 && draw < *p {
                return a;
            }
            draw -= p;
        }
        probs.iter().rposition(|&p| p > 0.0).unwrap_or(fallback)
    }

    /// The smoothed counts of the state raised to `1 / temperature` (1 where it is not a
    /// finite positive number), over the allowed actions; at 0 the most frequent event.
    fn action_probs(
        &mut self,
        obs: &Observation<'_>,
        temperature: f64,
        probs: &mut [f64],
    ) -> Result<(), AgentError> {
        if probs.len() < self.actions {
            return Err(AgentError::Other(format!(
                "action_probs: {} slots for {} actions",
                probs.len(),
                self.actions
            )));
        }
        let allowed = |a: usize| obs.mask.get(a).copied().unwrap_or(false);
        probs.fill(0.0);
        if temperature == 0.0 {
            let best = (0..self.actions)
                .filter(|&a| allowed(a))
                .max_by(|&a, &b| self.prob(obs.state, a).total_cmp(&self.prob(obs.state, b)))
                .ok_or_else(|| AgentError::Other("every action is masked out".into()))?;
            probs[best] = 1.0;
            return Ok(());
        }
        let t = if temperature.is_finite() && temperature > 0.0 {
            temperature
        } else {
            1.0
        };
        let mut total = 0.0;
        for (a, p) in probs.iter_mut().enumerate().take(self.actions) {
            if allowed(a) {
                *p = self.prob(obs.state, a).powf(1.0 / t);
                total += *p;
            }
        }
        if total <= 0.0 {
            return Err(AgentError::Other("every action is masked out".into()));
        }
        for p in probs.iter_mut() {
            *p /= total;
        }
        Ok(())
    }

    fn save(&self, _dir: &std::path::Path) -> Result<(), AgentError> {
        Err(AgentError::Other(
            "a call/response count model is refitted from its examples, not saved".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::{HOLD, REST};

    fn quarters(task: &TaskSpec, pitches: &[u8]) -> Vec<Event> {
        let enc = task.setting.encoding;
        pitches
            .iter()
            .flat_map(|&p| match p {
                0 => [REST, HOLD, HOLD, HOLD],
                _ => [enc.event_of_pitch(p).unwrap(), HOLD, HOLD, HOLD],
            })
            .collect()
    }

    /// The likelihood an answerer reads is the distribution it plays from: for the counts
    /// model, whose events are all allowed, at temperature 1 and without smoothing it is the
    /// model's own log-probability.
    #[test]
    fn the_answerers_likelihood_is_the_distribution_it_plays_from() {
        let task = TaskSpec::by_name("duet", Some("call_bars = 1\nanswer_bars = 1")).unwrap();
        let call = quarters(&task, &[60, 62, 64, 67]);
        let response = quarters(&task, &[65, 64, 62, 60]);
        let mut model =
            CallResponseCounts::fit(&task, &[(call.clone(), response.clone())], 0.1).unwrap();
        let mut answerer = Answerer::new(&task).unwrap();
        let read = answerer
            .log_likelihood(&mut model, &call, &response, 1.0, 0.0)
            .unwrap();
        let own = model.log_prob(&call, &response).unwrap();
        assert!((read - own).abs() < 1e-9, "{read} vs {own}");
        // Smoothing lifts an event the model never plays above ln 0.
        let other = quarters(&task, &[72, 0, 71, 0]);
        let smoothed = answerer
            .log_likelihood(&mut model, &call, &other, 0.0, 0.05)
            .unwrap();
        assert!(smoothed.is_finite() && smoothed < own);
        assert!(answerer
            .log_likelihood(&mut model, &call, &response[..2], 1.0, 0.0)
            .is_err());
        assert!(answerer
            .log_likelihood(&mut model, &call, &response, 1.0, 1.5)
            .is_err());
    }

    #[test]
    fn counts_make_the_examples_likelier_and_answers_follow_them() {
        let task = TaskSpec::by_name("duet", Some("call_bars = 1\nanswer_bars = 1")).unwrap();
        let call = quarters(&task, &[60, 62, 64, 67]);
        let response = quarters(&task, &[65, 64, 62, 60]);
        let other = quarters(&task, &[72, 0, 71, 0]);
        let model =
            CallResponseCounts::fit(&task, &[(call.clone(), response.clone())], 0.1).unwrap();
        assert!(model.states() >= 4);
        let seen = model.log_prob(&call, &response).unwrap();
        let unseen = model.log_prob(&call, &other).unwrap();
        assert!(seen > unseen, "{seen} vs {unseen}");
        // Greedy answers replay the one example.
        let mut model = model;
        let mut answerer = Answerer::new(&task).unwrap();
        let mut answer = Vec::new();
        answerer
            .answer(&mut model, &call, 0, ActMode::Greedy, &mut answer)
            .unwrap();
        assert_eq!(answer, response);
        assert!(CallResponseCounts::fit(&task, &[], 0.0).is_err());
        assert!(model.save(std::path::Path::new(".")).is_err());
        // Answering is deterministic under a seed.
        let mut again = Vec::new();
        let mode = ActMode::Sample { temperature: 1.0 };
        answerer
            .answer(&mut model, &call, 5, mode, &mut answer)
            .unwrap();
        answerer
            .answer(&mut model, &call, 5, mode, &mut again)
            .unwrap();
        assert_eq!(answer, again);
    }

    #[test]
    fn only_a_duet_has_an_answerer() {
        let improv = TaskSpec::by_name("improv", None).unwrap();
        assert!(Answerer::new(&improv).is_err());
    }
}
