//! The session engine: it proposes (the agent samples candidates, the listener model and the
//! theory floor score them), reacts (the feedback teaches the model, the agent adapts on the
//! rated candidates) and logs. See the crate docs.

use crate::agent;
use crate::config::{config_error, SessionConfig};
use crate::controls::{self, Context, Controls, Steering, StepSteer};
use crate::duet::{CallNote, DuetPlayer};
use crate::error::SessionError;
use crate::log::{self, Entry, LogLock, LogReport, LoggedRound, Record, SessionLog};
use crate::rng::{self, STREAM_CALIBRATION, STREAM_HELD_OUT, STREAM_ROUNDS};
use crate::round::{Calibration, Candidate, Feedback, Round};
use cadenza_agents::tabular::{TabularAdapter, TabularAgent};
use cadenza_agents::{Adapter, Observation, RatedEpisode};
use cadenza_env::improv::ImprovConfig as TaskConfig;
use cadenza_env::{ComposeEnv, Environment, Event, TaskSpec};
use cadenza_reward::improv::ImprovReward;
use cadenza_reward::listener::{
    FeatureExtractor, ListenerConfig, ListenerModel, FEATURE_RESOLUTION, NAMED_FEATURE_COUNT,
    NUM_FEATURES,
};
use cadenza_reward::musicianship::{
    edit_distance_per_note, measure, note_tokens, NoteToken, MUSIC,
};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A duet call, checked, and the answer chosen for it with its phrase features.
struct ChosenAnswer {
    call: Vec<Event>,
    answer: Vec<Event>,
    features: Vec<f64>,
}

/// The error of a logged calibration over a number of features this build cannot model.
pub(crate) fn feature_count_error(dim: usize) -> SessionError {
    config_error(
        "calibration",
        format!(
            "{dim} features: this build models {NUM_FEATURES} (or {NAMED_FEATURE_COUNT}, as logs written before the note profile calibrated)"
        ),
    )
}

/// A change of task, checked against the session (see [`Session::plan_retask`]), not yet
/// prepared.
#[derive(Debug, Clone)]
pub struct RetaskPlan {
    from: TaskConfig,
    config: SessionConfig,
    tempo_only: bool,
}

impl RetaskPlan {
    /// Builds the new task and, unless only the tempo changes, pre-trains its agent: the slow
    /// part of a change of task, which needs no session.
    pub fn prepare(self) -> Result<PreparedTask, SessionError> {
        let spec = self.config.task.to_task()?;
        let agent = if self.tempo_only {
            None
        } else {
            Some(agent::load(&self.config, &spec)?)
        };
        Ok(PreparedTask {
            from: self.from,
            task: self.config.task,
            spec,
            agent,
        })
    }
}

/// A change of task ready to apply ([`Session::apply_retask`]).
pub struct PreparedTask {
    from: TaskConfig,
    task: TaskConfig,
    spec: TaskSpec,
    agent: Option<Box<dyn Adapter>>,
}

impl std::fmt::Debug for PreparedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedTask")
            .field("task", &self.task)
            .field("pretrained", &self.agent.is_some())
            .finish()
    }
}

/// A session: agent, listener model and log. See the crate docs.
pub struct Session {
    config: SessionConfig,
    task: TaskSpec,
    /// The agent: it samples the candidates and adapts to the rated rounds.
    agent: Box<dyn Adapter>,
    env: ComposeEnv<ImprovReward>,
    model: ListenerModel,
    extractor: FeatureExtractor,
    calibration: Calibration,
    round: u64,
    pending: Option<Round>,
    ratings: Vec<(u64, u8)>,
    obs: Vec<f32>,
    log: Option<SessionLog>,
    /// What the listener asked for in musical terms.
    controls: Controls,
    /// Scratch of one steered step.
    steer: StepSteer,
    /// The duet answerer, built on the first use of duet mode.
    duet: Option<DuetPlayer>,
    /// Duet exchanges answered so far (the next one's number).
    duet_exchanges: u64,
    /// The duet exchange whose answer waits for a rating.
    duet_pending: Option<u64>,
    /// The phrase features of that answer, in its own bars: what its rating teaches the
    /// listener model.
    duet_pending_features: Vec<f64>,
    /// Ratings of duet answers, by exchange.
    duet_ratings: Vec<(u64, u8)>,
    /// The phrases played in the last [`FRESH_ROUNDS`] rated rounds, oldest first.
    recent: std::collections::VecDeque<Vec<Event>>,
}

/// How many of the last rated rounds' phrases a new phrase must differ from (see
/// [`FRESH_DISTANCE`]).
pub const FRESH_ROUNDS: usize = 4;

/// How far, in edit distance between their notes per note, a played phrase keeps from each of
/// the last [`FRESH_ROUNDS`] played phrases when a candidate that far exists: the musicianship
/// report's floor for a set of melodies, so the phrases a person hears in a row play as a
/// varied set and not as one phrase again and again, however sure the listener model is of
/// the taste.
pub const FRESH_DISTANCE: f64 = cadenza_reward::musicianship::MUSIC.edit_distance_per_note;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("agent", &self.agent.kind())
            .field("round", &self.round)
            .field("observations", &self.model.observations().len())
            .finish()
    }
}

impl Session {
    /// Starts a session: builds the task, pre-trains the agent, calibrates. With a `log`
    /// path, writes a new log there (an existing non-empty file is an error: resume it
    /// instead).
    pub fn new(config: SessionConfig, log: Option<&Path>) -> Result<Self, SessionError> {
        let log = match log {
            Some(path) => Some(SessionLog::create(path)?),
            None => None,
        };
        Self::with_log(config, log)
    }

    /// Starts a session (as [`Session::new`]) that writes to `log`, an open log (a file, or
    /// any [`LogStorage`](crate::log::LogStorage)).
    pub fn with_log(config: SessionConfig, log: Option<SessionLog>) -> Result<Self, SessionError> {
        let mut session = Self::build(config, None)?;
        if let Some(mut log) = log {
            log.append(&Record::Session {
                config: session.config.clone(),
            })?;
            log.append(&Record::Calibration {
                calibration: session.calibration.clone(),
            })?;
            session.log = Some(log);
        }
        Ok(session)
    }

    /// The session without its log; `calibration` from a log, or computed.
    fn build(
        config: SessionConfig,
        calibration: Option<Calibration>,
    ) -> Result<Self, SessionError> {
        config.validate()?;
        let task = config.task.to_task()?;
        let agent = agent::load(&config, &task)?;

        let env = ComposeEnv::new(task.clone(), ImprovReward::preset());
        let obs = vec![0.0; env.observation_space().dim()];
        // A log written before the note profile calibrated the named features only: its
        // model reads those, so that it replays as it was.
        let dim = calibration
            .as_ref()
            .map_or(NUM_FEATURES, |c| c.center.len());
        let model = ListenerModel::for_phrase_prefix(
            dim,
            ListenerConfig {
                prior_variance: config.prior_variance,
            },
        )
        .map_err(|_| feature_count_error(dim))?;
        let mut session = Self {
            calibration: Calibration {
                center: vec![0.0; NUM_FEATURES],
                scale: vec![1.0; NUM_FEATURES],
                theory_mean: 0.0,
                theory_std: 1.0,
            },
            extractor: FeatureExtractor::new(),
            round: 0,
            pending: None,
            recent: std::collections::VecDeque::with_capacity(FRESH_ROUNDS),
            ratings: Vec::new(),
            log: None,
            controls: Controls::default(),
            steer: StepSteer::default(),
            duet: None,
            duet_exchanges: 0,
            duet_pending: None,
            duet_pending_features: Vec::new(),
            duet_ratings: Vec::new(),
            config,
            task,
            agent,
            env,
            model,
            obs,
        };

        // --- calibration: what the agent's phrases look like before any feedback ----------
        let calibration = match calibration {
            Some(c) => c,
            None => {
                let mut rng = rng::stream(session.config.seed, STREAM_CALIBRATION);
                let mut features = Vec::new();
                let mut theory = Vec::new();
                for _ in 0..session.config.calibration_phrases {
                    let events = session.sample_events(&mut rng, None)?;
                    let c = session.evaluate(events)?;
                    features.push(c.features);
                    theory.push(c.theory);
                }
                let mut probe = session.model.clone();
                probe.calibrate(&features)?;
                let (center, scale) = probe.standardisation();
                // No spread below what a listener hears: a consistent agent's phrases barely
                // vary, and standardising by that would turn an inaudible change into
                // several standard deviations of taste.
                let scale: Vec<f64> = scale
                    .iter()
                    .zip(FEATURE_RESOLUTION)
                    .map(|(&s, floor)| s.max(floor))
                    .collect();
                let n = theory.len() as f64;
                let mean = theory.iter().sum::<f64>() / n;
                let std = (theory.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt();
                Calibration {
                    center: center.to_vec(),
                    scale,
                    theory_mean: mean,
                    theory_std: if std > 1e-9 { std } else { 1.0 },
                }
            }
        };
        session
            .model
            .set_standardisation(&calibration.center, &calibration.scale)?;
        if !calibration.is_usable() {
            return Err(SessionError::Internal(
                "calibration: non-finite theory statistics".into(),
            ));
        }
        session.calibration = calibration;
        Ok(session)
    }

    /// Continues a session from its log: rebuilds the agent (same seed, same pre-training),
    /// replays every answered round into the listener model and the agent's adaptation, and
    /// appends to the log from there. A phrase that was proposed but not answered is
    /// proposed again. Corrupt lines, and the rounds they leave unusable, are skipped and
    /// every other round is replayed; the report says what was skipped.
    pub fn resume(path: &Path) -> Result<(Self, LogReport), SessionError> {
        // Locked before it is read: no other writer may add rounds this replay misses.
        let lock = LogLock::acquire(path)?;
        let contents = log::read(path)?;
        let (config, calibration) = contents.header(path)?;
        if !calibration.is_usable() {
            return Err(SessionError::Log {
                path: path.display().to_string(),
                message: "calibration: non-finite theory statistics".into(),
            });
        }
        let mut session = Self::build(config, Some(calibration))?;
        // The policy checksums logged after each round's update, to check the replay against.
        let logged_checksums: std::collections::HashMap<u64, String> = contents
            .records
            .iter()
            .filter_map(|(_, r)| match r {
                Record::Model {
                    round,
                    agent: Some(sum),
                    ..
                } => Some((*round, sum.clone())),
                _ => None,
            })
            .collect();
        let timeline = contents.timeline();
        // Once a round is skipped, the agent adapts without it: its weights no longer match
        // the logged checksums, which are checked only up to there.
        let first_skipped = timeline.skipped.iter().map(|s| s.round).min();
        for entry in timeline.entries {
            match entry {
                Entry::Controls(controls) => {
                    session.controls = controls;
                    session.pending = None;
                }
                Entry::Settings(task) => {
                    if task != session.config.task {
                        let prepared = session.plan_retask(task)?.prepare()?;
                        session.switch_task(prepared);
                    }
                }
                Entry::DuetCall { exchange, answer } => {
                    let setting = crate::duet::duet_task(&session.config.task)?
                        .setting
                        .answer_frame();
                    let features = session.answer_features(&setting, &answer)?;
                    session.duet_exchanges = session.duet_exchanges.max(exchange + 1);
                    session.duet_pending = Some(exchange);
                    session.duet_pending_features = features;
                }
                Entry::DuetRating { exchange, rating } => {
                    if session.duet_pending == Some(exchange) {
                        session.learn_duet_rating(exchange, rating)?;
                    }
                }
                Entry::Answered(round, feedback) => {
                    let round = session.rebuild_round(path, round)?;
                    let index = round.index;
                    round.check(feedback)?;
                    session.react(round, feedback)?;
                    let checked = !matches!(first_skipped, Some(s) if index >= s);
                    if let (true, Some(logged), Some(now)) = (
                        checked,
                        logged_checksums.get(&index),
                        session.agent_checksum(),
                    ) {
                        if *logged != now {
                            return Err(SessionError::Log {
                                path: path.display().to_string(),
                                message: format!(
                                    "round {index}: replaying the logged updates gave agent weights {now}, the log recorded {logged}"
                                ),
                            });
                        }
                    }
                }
            }
        }
        session.log = Some(SessionLog::append_to(path, &contents, lock)?);
        let report = LogReport {
            corrupt: contents.corrupt,
            skipped: timeline.skipped,
            notices: contents.notices,
            unchecked: contents.unchecked,
        };
        Ok((session, report))
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The task (setting, backing chords, tempo).
    pub fn task(&self) -> &TaskSpec {
        &self.task
    }

    /// The agent as it adapts: what samples the candidates and learns from the rated rounds.
    pub fn adapter(&self) -> &dyn Adapter {
        self.agent.as_ref()
    }

    /// The tabular agent (its Q-table is what
    /// [`Adaptation::QLearning`](crate::Adaptation::QLearning) updates); `None` for a
    /// policy-gradient agent.
    pub fn agent(&self) -> Option<&TabularAgent> {
        let adapter = self.agent.as_any().downcast_ref::<TabularAdapter>()?;
        Some(adapter.agent())
    }

    /// The policy-gradient agent (what
    /// [`Adaptation::PolicyGradient`](crate::Adaptation::PolicyGradient) updates); `None` for
    /// a tabular agent.
    #[cfg(feature = "tch")]
    pub fn policy(&self) -> Option<&cadenza_agents::pg::PolicyAdapter> {
        self.agent.as_any().downcast_ref()
    }

    /// Checksum of a policy-gradient agent's weights (FNV-1a 64 of the little-endian `f32`s,
    /// in hex), as logged after each round; `None` for a tabular agent (see
    /// [`Adapter::checksum`]).
    pub fn agent_checksum(&self) -> Option<String> {
        self.agent.checksum().map(|sum| format!("{sum:016x}"))
    }

    /// The round waiting for feedback, if one was proposed.
    pub fn pending(&self) -> Option<&Round> {
        self.pending.as_ref()
    }

    /// Changes the task between phrases: the key, the progression, the tempo (any field of
    /// the `improv` config). A tempo change only changes playback. Any other change
    /// pre-trains a fresh agent for the new task (same seed), drops the phrase waiting for
    /// feedback and what the old agent adapted (its states belong to the old task), and keeps
    /// the listener model and its calibration: the phrase features are relative to the key
    /// and the chords, so the listener's taste carries over. An agent loaded from a
    /// checkpoint is tied to its task: only the tempo may change. Logged, so that a resumed
    /// session changes task at the same point.
    ///
    /// The same in three steps, so that a server can pre-train without holding the session:
    /// [`Session::plan_retask`] (quick), [`RetaskPlan::prepare`] (the pre-training, without
    /// the session) and [`Session::apply_retask`] (quick).
    pub fn retask(&mut self, task: TaskConfig) -> Result<(), SessionError> {
        let prepared = self.plan_retask(task)?.prepare()?;
        self.apply_retask(prepared)
    }

    /// What a change of task to `task` needs (see [`Session::retask`]); an error if the
    /// session cannot change to it.
    pub fn plan_retask(&self, task: TaskConfig) -> Result<RetaskPlan, SessionError> {
        let tempo_only = TaskConfig {
            tempo: self.config.task.tempo,
            ..task.clone()
        } == self.config.task;
        if !tempo_only {
            if let Some(source) = &self.config.agent {
                return Err(config_error(
                    "task",
                    format!(
                        "the agent in {} was trained for this key and progression: only the tempo can change",
                        source.dir
                    ),
                ));
            }
        }
        let mut config = self.config.clone();
        config.task = task;
        Ok(RetaskPlan {
            from: self.config.task.clone(),
            config,
            tempo_only,
        })
    }

    /// Switches to a prepared task and logs the change. An error, and nothing changes, if
    /// the session's task changed since the plan was made.
    pub fn apply_retask(&mut self, prepared: PreparedTask) -> Result<(), SessionError> {
        if prepared.from != self.config.task {
            return Err(config_error(
                "task",
                "the task changed while the new one was being prepared: ask again".into(),
            ));
        }
        if prepared.task == self.config.task {
            return Ok(());
        }
        if let Some(log) = &mut self.log {
            log.append(&Record::Settings {
                round: self.round,
                task: prepared.task.clone(),
            })?;
        }
        self.switch_task(prepared);
        Ok(())
    }

    fn switch_task(&mut self, prepared: PreparedTask) {
        let PreparedTask {
            task, spec, agent, ..
        } = prepared;
        self.config.task = task;
        let Some(agent) = agent else {
            self.task.tempo_qpm = spec.tempo_qpm;
            self.task.improv = spec.improv;
            return;
        };
        self.env = ComposeEnv::new(spec.clone(), ImprovReward::preset());
        self.obs = vec![0.0; self.env.observation_space().dim()];
        self.agent = agent;
        self.task = spec;
        self.pending = None;
    }

    /// Whether the session writes a log.
    pub fn is_logging(&self) -> bool {
        self.log.is_some()
    }

    /// The listener model.
    pub fn model(&self) -> &ListenerModel {
        &self.model
    }

    /// The calibration.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Rounds answered so far.
    pub fn rounds_done(&self) -> u64 {
        self.round
    }

    /// Ratings given so far, by round.
    pub fn ratings(&self) -> &[(u64, u8)] {
        &self.ratings
    }

    /// The duet answerer (see [`crate::duet`]), pre-trained on first use and after a change
    /// of key, range or tempo.
    pub fn duet(&mut self) -> Result<&mut DuetPlayer, SessionError> {
        if !self.duet_ready() {
            self.duet = Some(DuetPlayer::new(&self.config)?);
        }
        self.duet
            .as_mut()
            .ok_or_else(|| SessionError::Internal("no duet answerer after building one".into()))
    }

    /// Whether the duet answerer is built for the session's current task (else
    /// [`Session::duet`] pre-trains one).
    pub fn duet_ready(&self) -> bool {
        self.duet
            .as_ref()
            .is_some_and(|d| d.fits(&self.config.task))
    }

    /// Installs a duet answerer built from this session's configuration outside the
    /// session (see [`DuetPlayer::new`]); one built for another task (the task changed
    /// meanwhile) is dropped, and [`Session::duet`] builds the right one.
    pub fn install_duet(&mut self, player: DuetPlayer) {
        if player.fits(&self.config.task) {
            self.duet = Some(player);
        }
    }

    /// Duet exchanges answered so far.
    pub fn duet_exchanges(&self) -> u64 {
        self.duet_exchanges
    }

    /// The duet exchange whose answer waits for a rating.
    pub fn duet_pending(&self) -> Option<u64> {
        self.duet_pending
    }

    /// Ratings of duet answers, by exchange.
    pub fn duet_ratings(&self) -> &[(u64, u8)] {
        &self.duet_ratings
    }

    /// Answers the listener's call (notes checked by [`DuetPlayer::call_events`]: a bad
    /// note is a [`SessionError::Feedback`] naming it, and nothing changes): the exchange's
    /// number, the call's events and the answer's. Logged (`duet_call`) before it returns.
    ///
    /// The answer is chosen as a round's phrase is: the session's `candidates` answers,
    /// steered by the controls and, on a ladder, by the taste the listener model has learnt
    /// from every rating (of phrases and of answers); the one the model likes best among
    /// those that pass the musicianship report in the answer's own bars (among all, if none
    /// does). Before any rating the model likes them equally and the agent's own answer
    /// plays.
    pub fn duet_call(
        &mut self,
        notes: &[CallNote],
    ) -> Result<(u64, Vec<Event>, Vec<Event>), SessionError> {
        let exchange = self.duet_exchanges;
        // Pre-trained on first use; lent out while the answer is chosen, so that the
        // session's model and controls can be read beside it.
        self.duet()?;
        let mut player = self
            .duet
            .take()
            .ok_or_else(|| SessionError::Internal("no duet answerer after building one".into()))?;
        let chosen = self.choose_answer(&mut player, notes, exchange);
        self.duet = Some(player);
        let ChosenAnswer {
            call,
            answer,
            features,
        } = chosen?;
        if let Some(log) = &mut self.log {
            log.append(&Record::DuetCall {
                exchange,
                call: call.clone(),
                answer: answer.clone(),
            })?;
        }
        self.duet_exchanges = exchange + 1;
        self.duet_pending = Some(exchange);
        self.duet_pending_features = features;
        Ok((exchange, call, answer))
    }

    /// The checked call of `notes`, and the answer [`Session::duet_call`] plays to it, with
    /// its features.
    fn choose_answer(
        &mut self,
        player: &mut DuetPlayer,
        notes: &[CallNote],
        exchange: u64,
    ) -> Result<ChosenAnswer, SessionError> {
        let call = player.call_events(notes)?;
        let steering = self.steering();
        let asked = self.controls.steering();
        let learnt = controls::learnt_steering(&self.model, self.config.steering);
        let range = self.controls.range(&self.task.setting);
        let mut rng = player.exchange_rng(exchange);
        // (music, utility, answer, features) of the best candidate so far.
        let mut best: Option<(bool, f64, Vec<Event>, Vec<f64>)> = None;
        for k in 0..self.config.candidates {
            let own = self.candidate_steering(k, steering, &asked, &learnt, &mut rng);
            let answer = player.answer(&call, &mut rng, own.as_ref(), range)?;
            let features = self.answer_features(player.answer_setting(), &answer)?;
            let utility = self.model.utility(&features)?;
            let musical = MUSIC
                .failures(&measure(player.answer_setting(), &answer).scores())
                .is_empty();
            if best
                .as_ref()
                .is_none_or(|(m, u, ..)| (musical, utility) > (*m, *u))
            {
                best = Some((musical, utility, answer, features));
            }
        }
        let (_, _, answer, features) =
            best.ok_or_else(|| SessionError::Internal("a duet exchange with no answer".into()))?;
        Ok(ChosenAnswer {
            call,
            answer,
            features,
        })
    }

    /// The phrase features of a duet answer in `setting`, its own bars, as the listener
    /// model reads them.
    fn answer_features(
        &mut self,
        setting: &cadenza_env::Setting,
        answer: &[Event],
    ) -> Result<Vec<f64>, SessionError> {
        let mut features = self.extractor.extract(setting, answer)?;
        features.truncate(self.model.dim());
        Ok(features)
    }

    /// Rates the answer of duet exchange `exchange` (1..=5), which must be the one waiting
    /// for a rating. Logged (`duet_rating`) before it returns. The rating teaches the
    /// listener model, as a rated phrase does, so the next answers (and phrases) follow it.
    pub fn duet_rate(&mut self, exchange: u64, rating: u8) -> Result<(), SessionError> {
        if !(1..=5).contains(&rating) {
            return Err(SessionError::Feedback(format!(
                "rating: {rating}: expected 1..=5"
            )));
        }
        if self.duet_pending != Some(exchange) {
            return Err(SessionError::Feedback(match self.duet_pending {
                Some(p) => {
                    format!("exchange: {exchange}: the answer waiting for a rating is exchange {p}")
                }
                None => format!("exchange: {exchange}: no duet answer is waiting for a rating"),
            }));
        }
        if let Some(log) = &mut self.log {
            log.append(&Record::DuetRating { exchange, rating })?;
        }
        self.learn_duet_rating(exchange, rating)
    }

    /// Applies a checked rating of the pending duet answer.
    fn learn_duet_rating(&mut self, exchange: u64, rating: u8) -> Result<(), SessionError> {
        self.model
            .observe(cadenza_reward::listener::Feedback::Rating {
                features: std::mem::take(&mut self.duet_pending_features),
                rating,
            })?;
        self.duet_ratings.push((exchange, rating));
        self.duet_pending = None;
        Ok(())
    }

    /// The steering of candidate `k` of a round's (or a duet exchange's) `config.candidates`:
    /// every candidate follows the controls; the learnt taste steers them on a ladder, from
    /// not at all (the agent as it is) to fully, so that a round always holds the agent's own
    /// phrases beside the steered ones and the model picks how far to go; the candidates
    /// after the first spread around their rung. `steering` is [`Session::steering`].
    fn candidate_steering(
        &self,
        k: usize,
        steering: Option<Steering>,
        asked: &Steering,
        learnt: &Steering,
        rng: &mut ChaCha8Rng,
    ) -> Option<Steering> {
        let n = self.config.candidates;
        match steering {
            Some(_) if self.config.steering > 0.0 => {
                let rung = k as f64 / (n - 1).max(1) as f64;
                let scaled: Steering = std::array::from_fn(|d| rung * learnt[d]);
                let mut s = controls::add(asked, &scaled);
                if k > 0 {
                    s = controls::add(&s, &controls::exploration(rng));
                }
                Some(s)
            }
            other => other,
        }
    }

    /// One phrase sampled from the agent (see [`Adapter::sample`]); with `steering`, within
    /// the controls' range and biased by the steering (see [`crate::controls`]).
    fn sample_events(
        &mut self,
        rng: &mut ChaCha8Rng,
        steering: Option<&Steering>,
    ) -> Result<Vec<Event>, SessionError> {
        let length = self.task.setting.length;
        let mut events = Vec::with_capacity(length);
        self.env.reset_into(None, &mut self.obs)?;
        self.agent.begin_episode();
        let range = self.controls.range(&self.task.setting);
        let mut context = Context::default();
        for _ in 0..length {
            let (mask, bias): (&[bool], &[f64]) = match steering {
                Some(steering) => {
                    self.steer.fill(
                        &self.task.setting,
                        self.env.action_mask(),
                        range,
                        steering,
                        context,
                    );
                    (&self.steer.mask, &self.steer.bias)
                }
                None => (self.env.action_mask(), &[]),
            };
            let observation = Observation {
                dense: &self.obs,
                state: self.env.discrete_state(),
                mask,
            };
            let action = self
                .agent
                .sample(&observation, bias, rng)
                .ok_or_else(|| SessionError::Internal("every action is masked out".into()))?;
            self.env.step_into(action, &mut self.obs)?;
            context = context.after(&self.task.setting, action as Event);
            events.push(action as Event);
        }
        Ok(events)
    }

    /// What the listener asked for in musical terms.
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Sets what the listener asks for in musical terms (checked against the task: a bad
    /// field is a [`SessionError::Config`] naming it, and nothing changes). The phrase
    /// waiting for feedback, if any, is dropped, so that the very next phrase proposed
    /// follows the controls. Logged, so that a resumed session plays on with them.
    pub fn set_controls(&mut self, controls: Controls) -> Result<(), SessionError> {
        controls.validate(&self.task.setting)?;
        if controls == self.controls {
            return Ok(());
        }
        if let Some(log) = &mut self.log {
            log.append(&Record::Controls {
                round: self.round,
                controls: controls.clone(),
            })?;
        }
        self.controls = controls;
        self.pending = None;
        Ok(())
    }

    /// The steering of this round's phrases: the controls plus the learnt taste (see
    /// [`crate::controls`]); `None` when nothing steers (the agent's own phrases).
    pub fn steering(&self) -> Option<Steering> {
        let mut steering = self.controls.steering();
        if self.config.steering > 0.0 {
            let learnt = controls::learnt_steering(&self.model, self.config.steering);
            steering = controls::add(&steering, &learnt);
        }
        let (low, high) = self.controls.range(&self.task.setting);
        let whole = (
            self.task.setting.encoding.min_pitch(),
            self.task.setting.encoding.max_pitch(),
        );
        let steered = steering.iter().any(|&s| s != 0.0)
            || (low, high) != whole
            || self.config.steering > 0.0;
        steered.then_some(steering)
    }

    /// Scores a phrase: states visited, theory floor, features, utility, combined score.
    fn evaluate(&mut self, events: Vec<Event>) -> Result<Candidate, SessionError> {
        if events.len() != self.task.setting.length {
            return Err(SessionError::Internal(format!(
                "a phrase of {} events: expected {}",
                events.len(),
                self.task.setting.length
            )));
        }
        self.env.reset_into(None, &mut self.obs)?;
        let mut states = Vec::with_capacity(events.len());
        let mut rewards = Vec::with_capacity(events.len());
        for &e in &events {
            states.push(self.env.discrete_state());
            rewards.push(self.env.step_into(e as usize, &mut self.obs)?.reward);
        }
        let theory = rewards.iter().sum::<f64>() / events.len() as f64;
        let musical = MUSIC
            .failures(&measure(&self.task.setting, &events).scores())
            .is_empty();
        let mut features = self.extractor.extract(&self.task.setting, &events)?;
        features.truncate(self.model.dim());
        let utility = self.model.utility(&features)?;
        let score = (theory - self.calibration.theory_mean) / self.calibration.theory_std
            + self.config.listener_weight * utility;
        Ok(Candidate {
            events,
            features,
            theory,
            utility,
            score,
            musical,
            states,
            rewards,
        })
    }

    /// The round's proposal: sampled and scored on the first call, then the same until
    /// feedback arrives. Logged before it is returned.
    pub fn propose(&mut self) -> Result<&Round, SessionError> {
        if self.pending.is_none() {
            let mut rng = rng::stream(self.config.seed, STREAM_ROUNDS + self.round);
            let mut candidates = Vec::with_capacity(self.config.candidates);
            let steering = self.steering();
            let asked = self.controls.steering();
            let learnt = controls::learnt_steering(&self.model, self.config.steering);
            let n = self.config.candidates;
            for k in 0..n {
                let own = self.candidate_steering(k, steering, &asked, &learnt, &mut rng);
                let events = self.sample_events(&mut rng, own.as_ref())?;
                candidates.push(self.evaluate(events)?);
            }
            let round = self.finish_round(self.round, candidates)?;
            if let Some(log) = &mut self.log {
                log.append(&Record::Phrase {
                    round: round.index,
                    candidates: round.candidates.iter().map(|c| c.events.clone()).collect(),
                    played: round.played,
                    pair: round.pair,
                })?;
            }
            self.pending = Some(round);
        }
        Ok(self.pending.as_ref().expect("set above"))
    }

    fn finish_round(&self, index: u64, candidates: Vec<Candidate>) -> Result<Round, SessionError> {
        // With the guard, the best of the candidates that are music, if any is; among those,
        // the best that differs from the recently played phrases, if any does.
        let guard = self.config.musicianship_guard && candidates.iter().any(|c| c.musical);
        let mut row = Vec::new();
        let setting = &self.task.setting;
        let recent: Vec<Vec<NoteToken>> = self
            .recent
            .iter()
            .map(|played| note_tokens(setting, played))
            .collect();
        let fresh: Vec<bool> = candidates
            .iter()
            .map(|c| {
                let notes = note_tokens(setting, &c.events);
                recent.iter().all(|played| {
                    edit_distance_per_note(&notes, played, &mut row) >= FRESH_DISTANCE
                })
            })
            .collect();
        let eligible = |c: &Candidate| !guard || c.musical;
        let any_fresh = candidates
            .iter()
            .enumerate()
            .any(|(i, c)| eligible(c) && fresh[i]);
        let played = candidates
            .iter()
            .enumerate()
            .filter(|&(i, c)| eligible(c) && (!any_fresh || fresh[i]))
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
            .map_or(0, |(i, _)| i);
        let features: Vec<Vec<f64>> = candidates.iter().map(|c| c.features.clone()).collect();
        let pair = self.model.choose_pair(&features)?;
        Ok(Round {
            index,
            candidates,
            played,
            pair,
        })
    }

    /// A logged round, scored again as it was when proposed (in `path`, named in errors).
    fn rebuild_round(&mut self, path: &Path, logged: LoggedRound) -> Result<Round, SessionError> {
        let length = self.task.setting.length;
        logged.check(path, Some(length))?;
        let mut candidates = Vec::with_capacity(logged.candidates.len());
        for events in logged.candidates {
            candidates.push(self.evaluate(events)?);
        }
        let mut round = self.finish_round(logged.round, candidates)?;
        // The log is the record of what was played and asked.
        round.played = logged.played;
        round.pair = logged.pair;
        Ok(round)
    }

    /// The listener's reaction to the pending round: checks it, logs it, updates the model
    /// and adapts the agent, logs the model, and moves to the next round. Bad feedback (no
    /// pending round, a rating outside 1..=5, an A/B answer with no question) is a
    /// [`SessionError::Feedback`] and changes nothing.
    pub fn feedback(&mut self, feedback: Feedback) -> Result<(), SessionError> {
        let Some(round) = &self.pending else {
            return Err(SessionError::Feedback(
                "no phrase is waiting for feedback: call propose first".into(),
            ));
        };
        // Checked before logging, so that the log holds only feedback that was applied.
        round.check(feedback)?;
        let index = round.index;
        if let Some(log) = &mut self.log {
            log.append(&Record::Feedback {
                round: index,
                rating: feedback.rating,
                preference: feedback.preference,
            })?;
        }
        let Some(round) = self.pending.take() else {
            return Err(SessionError::Internal("the pending round vanished".into()));
        };
        self.react(round, feedback)?;
        let agent = self.agent_checksum();
        if let Some(log) = &mut self.log {
            log.append(&Record::Model {
                round: index,
                observations: self.model.observations().len(),
                weights: self.model.weights().to_vec(),
                bias: self.model.bias(),
                agent,
            })?;
        }
        Ok(())
    }

    /// Applies checked feedback on `round`: the listener model learns from it, then the agent
    /// adapts on every candidate of the round, rated by the updated model.
    fn react(&mut self, round: Round, feedback: Feedback) -> Result<(), SessionError> {
        round.teach(&mut self.model, feedback)?;
        if let Some(rating) = feedback.rating {
            self.ratings.push((round.index, rating));
        }
        // Each candidate's advantage: λ times its utility under the updated model, centred on
        // the round's mean, so that the phrases the listener would like more than the agent's
        // average pull it their way and the others push it away.
        let utilities: Vec<f64> = round
            .candidates
            .iter()
            .map(|c| self.model.utility(&c.features))
            .collect::<Result<_, _>>()?;
        let mean = utilities.iter().sum::<f64>() / utilities.len() as f64;
        let weight = self.config.listener_weight;
        let episodes: Vec<RatedEpisode<'_>> = round
            .candidates
            .iter()
            .zip(&utilities)
            .map(|(c, u)| RatedEpisode {
                actions: &c.events,
                states: &c.states,
                rewards: &c.rewards,
                advantage: (weight * (u - mean)).clamp(-10.0, 10.0),
            })
            .collect();
        // The listener's reward per step is measured in units of the theory score's spread,
        // as in the candidates' combined score.
        let spread = self.calibration.theory_std;
        self.agent.adapt(&mut self.env, &episodes, spread)?;
        if let Some(played) = round.candidates.get(round.played) {
            if self.recent.len() == FRESH_ROUNDS {
                self.recent.pop_front();
            }
            self.recent.push_back(played.events.clone());
        }
        self.round = round.index + 1;
        Ok(())
    }

    /// Fresh phrases for held-out evaluation, from their own random stream (the session's
    /// rounds are unaffected), as the agent itself plays them (unsteered by the controls
    /// and the learnt taste); at most twice
    /// [`MAX_HELD_OUT_PAIRS`](crate::sim::MAX_HELD_OUT_PAIRS).
    pub fn held_out(&mut self, count: usize) -> Result<Vec<Candidate>, SessionError> {
        crate::config::check_held_out(count.div_ceil(2))?;
        let mut rng = rng::stream(self.config.seed, STREAM_HELD_OUT);
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let events = self.sample_events(&mut rng, None)?;
            out.push(self.evaluate(events)?);
        }
        Ok(out)
    }
}
