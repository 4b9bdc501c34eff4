//! Duet mode: the listener plays a call, the session's duet answerer answers it.
//!
//! The answerer is a tabular Q agent pre-trained on the `duet` task (the scripted partner's
//! calls, the `duet` reward preset) in the session's key, range, meter and tempo, over the
//! `call-response` progression, for the session's `pretrain_steps` with its own stream of
//! the seed; it answers a person's call through the task's
//! [`GivenCall`](cadenza_env::duet::partner::GivenCall) partner
//! ([`cadenza_agents::duet::Answerer`]). It is built on the first use of duet mode
//! ([`Session::duet`](crate::Session::duet)), so a session that never duets pays nothing, and
//! built again after a change of key, range or tempo.
//!
//! A call arrives as notes ([`CallNote`]) and is checked ([`DuetPlayer::call_events`]):
//! at least one note, pitches within the task's range, each note starting and ending
//! within the call's bars, one note at a time. Each answered call and each rating of an
//! answer is a record of the session's log (`duet_call`, `duet_rating`).
//!
//! The session samples several candidate answers, steered by the
//! listener's controls and learnt taste as its phrases are, and plays the one its listener
//! model likes best among those that are music; a rating of an answer teaches that model
//! ([`Session::duet_call`](crate::Session::duet_call), [`Session::duet_rate`](crate::Session::duet_rate)).

use crate::config::SessionConfig;
use crate::controls::{Context, Steering, StepSteer};
use crate::error::SessionError;
use crate::rng;
use cadenza_agents::duet::Answerer;
use cadenza_agents::tabular::{AdaptMode, TabularAdaptConfig, TabularAdapter};
use cadenza_agents::Adapter;
use cadenza_env::duet::DuetConfig;
use cadenza_env::improv::ImprovConfig;
use cadenza_env::{Event, Note, Setting, TaskSpec};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// Pre-training the duet answerer.
const STREAM_DUET_PRETRAIN: u64 = 4;
/// Exchange `n` draws its answer's seed from stream `STREAM_EXCHANGES + n`.
const STREAM_EXCHANGES: u64 = 1 << 33;

/// Bars of a call and of its answer.
pub const CALL_BARS: usize = 2;

/// One note of a call, in steps from the call's first downbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallNote {
    /// MIDI pitch.
    pub pitch: u8,
    /// First step.
    pub start: u32,
    /// Steps it sounds (at least 1).
    pub duration: u32,
}

/// The duet task a session plays in duet mode when its task is `task`: the `duet` task in
/// its key, range, meter, tempo and grid, with calls and answers of [`CALL_BARS`] bars over
/// the `call-response` progression. Duet mode builds its answerer on it, and `session
/// export --duet` rebuilds it from the log to write the exchanges.
pub fn duet_task(task: &ImprovConfig) -> Result<TaskSpec, SessionError> {
    let duet = DuetConfig {
        key: task.key.clone(),
        low: task.low.clone(),
        high: task.high.clone(),
        meter: task.meter.clone(),
        tempo: task.tempo,
        steps_per_quarter: task.steps_per_quarter,
        call_bars: CALL_BARS,
        answer_bars: CALL_BARS,
        ..DuetConfig::default()
    };
    Ok(duet.to_task()?)
}

/// Whether the session tasks `a` and `b` give the same duet task ([`duet_task`]): the same
/// key, range, meter, tempo and grid.
pub fn same_duet(a: &ImprovConfig, b: &ImprovConfig) -> bool {
    a.key == b.key
        && a.low == b.low
        && a.high == b.high
        && a.meter == b.meter
        && a.tempo == b.tempo
        && a.steps_per_quarter == b.steps_per_quarter
}

/// The duet answerer of a session (see the module docs).
pub struct DuetPlayer {
    task: TaskSpec,
    /// The answer's own bars and chords: what its features and musicianship are measured in.
    answer_setting: Setting,
    /// The pre-trained agent, sampled at the session's temperature with the steering's
    /// biases added (its preference table stays empty: the answers follow the listener's
    /// taste through the steering).
    sampler: TabularAdapter,
    answerer: Answerer,
    steer: StepSteer,
    seed: u64,
    /// The session's task the duet was built for: a change of key, range or tempo builds
    /// a new answerer.
    built_for: ImprovConfig,
}

impl std::fmt::Debug for DuetPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuetPlayer")
            .field("task", &self.task.name)
            .finish()
    }
}

impl DuetPlayer {
    /// Builds the duet task from the session's (`config.task`, see [`duet_task`]) and
    /// pre-trains the answerer.
    pub fn new(config: &SessionConfig) -> Result<Self, SessionError> {
        let task = duet_task(&config.task)?;
        let reward = cadenza_reward::registry::preset("duet")
            .map_err(|e| SessionError::Internal(format!("duet reward: {e}")))?;
        let agent = crate::agent::pretrain_q(config, &task, reward, STREAM_DUET_PRETRAIN)?;
        let sampler = TabularAdapter::new(
            agent,
            TabularAdaptConfig {
                mode: AdaptMode::Preference,
                step_size: config.adapt_rate,
                temperature: config.temperature,
            },
        )?;
        let answerer = Answerer::new(&task)?;
        Ok(Self {
            answer_setting: task.setting.answer_frame(),
            task,
            sampler,
            answerer,
            steer: StepSteer::default(),
            seed: config.seed,
            built_for: config.task.clone(),
        })
    }

    /// Whether this answerer was built for the session's task `task` (its key, range,
    /// meter and tempo).
    pub(crate) fn fits(&self, task: &ImprovConfig) -> bool {
        same_duet(&self.built_for, task)
    }

    /// The duet task the answerer plays.
    pub fn task(&self) -> &TaskSpec {
        &self.task
    }

    /// Steps of a call.
    pub fn call_steps(&self) -> usize {
        self.task.setting.call_steps
    }

    /// Checks a call's notes and encodes them as the call's events; an error names the
    /// note and the field at fault.
    pub fn call_events(&self, notes: &[CallNote]) -> Result<Vec<Event>, SessionError> {
        let bad = |message: String| SessionError::Feedback(message);
        if notes.is_empty() {
            return Err(bad(
                "notes: the call has no notes: play at least one note before the call's bars end"
                    .into(),
            ));
        }
        let encoding = self.task.setting.encoding;
        let (low, high) = (encoding.min_pitch(), encoding.max_pitch());
        let steps = self.call_steps() as u32;
        let mut sorted: Vec<CallNote> = notes.to_vec();
        for (i, n) in notes.iter().enumerate() {
            if !(low..=high).contains(&n.pitch) {
                return Err(bad(format!(
                    "notes[{i}].pitch: {}: expected a MIDI pitch in {low}..={high}",
                    n.pitch
                )));
            }
            if n.start >= steps {
                return Err(bad(format!(
                    "notes[{i}].start: {}: expected a step in 0..{steps} (the call's {CALL_BARS} bars)",
                    n.start
                )));
            }
            if n.duration == 0 || n.start + n.duration > steps {
                return Err(bad(format!(
                    "notes[{i}].duration: {}: expected 1..={} steps (the note must end within the call's {CALL_BARS} bars)",
                    n.duration,
                    steps - n.start
                )));
            }
        }
        sorted.sort_by_key(|n| n.start);
        for pair in sorted.windows(2) {
            if pair[1].start < pair[0].start + pair[0].duration {
                return Err(bad(format!(
                    "notes: the note at step {} starts before the one at step {} ends: a call plays one note at a time",
                    pair[1].start, pair[0].start
                )));
            }
        }
        let notes: Vec<Note> = sorted
            .iter()
            .map(|n| Note {
                pitch: n.pitch,
                start: n.start,
                duration: n.duration,
            })
            .collect();
        encoding
            .from_notes(&notes, self.call_steps())
            .map_err(|e| bad(format!("notes: {e}")))
    }

    /// The answer's own bars and chords (see [`Setting::answer_frame`]).
    pub fn answer_setting(&self) -> &Setting {
        &self.answer_setting
    }

    /// The generator of exchange `exchange`: its candidates' seeds and their steering's
    /// random spread.
    pub(crate) fn exchange_rng(&self, exchange: u64) -> ChaCha8Rng {
        rng::stream(self.seed, STREAM_EXCHANGES + exchange)
    }

    /// One candidate answer to `call` (checked events), sampled at the session's
    /// temperature with a seed drawn from `rng`; with `steering`, within `range` and biased
    /// as the session's phrases are (see [`crate::controls`]).
    pub(crate) fn answer(
        &mut self,
        call: &[Event],
        rng: &mut ChaCha8Rng,
        steering: Option<&Steering>,
        range: (u8, u8),
    ) -> Result<Vec<Event>, SessionError> {
        let seed: u64 = rng.random();
        let Self {
            answer_setting,
            sampler,
            answerer,
            steer,
            ..
        } = self;
        sampler.begin_episode();
        let mut context = Context::default();
        let mut answer = Vec::new();
        answerer.answer_with(call, seed, &mut answer, |observation, rng| {
            let action = match steering {
                Some(steering) => {
                    steer.fill(answer_setting, observation.mask, range, steering, context);
                    let steered = cadenza_agents::Observation {
                        mask: &steer.mask,
                        ..*observation
                    };
                    sampler.sample(&steered, &steer.bias, rng)
                }
                None => sampler.sample(observation, &[], rng),
            }?;
            context = context.after(answer_setting, action as Event);
            Some(action)
        })?;
        Ok(answer)
    }
}
