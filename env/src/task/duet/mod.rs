//! The `duet` task: call and response over a backing progression.
//!
//! A partner plays a phrase (the *call*, `call_bars` bars), then the agent answers over the
//! next `answer_bars` bars. An episode is the whole exchange: on reset the env draws a call
//! from the task's [`Partner`], feeds it through the reward (so every term hears the answer
//! in the context of the call, as a listener does) and hands the agent the first step of the
//! answer. `elapsed_steps` counts the agent's steps only; the melody (`ComposeEnv::melody`)
//! holds the call followed by the answer, which is how an exchange is exported.
//!
//! Configured in TOML (every field optional; defaults shown):
//!
//! ```toml
//! key = "C major"
//! low = "C4"
//! high = "C6"
//! meter = "4/4"
//! tempo = 120.0
//! steps_per_quarter = 4
//! progression = "call-response"  # | C | G7 | C | G7 C |: a half cadence, then a full one
//! call_bars = 2
//! answer_bars = 2
//! partner = "scripted"           # "scripted", "corpus" or "calls"
//! corpus = "data/corpus/oneills-dev"  # partner = "corpus": a folder of MIDI tunes
//! split = "train"                # partner = "corpus": "train", "held-out" or "all"
//! calls = ""                     # partner = "calls": a file of logged calls
//! mask_out_of_scale = false
//! history = 4
//! hear_call = true               # false: the agent's observation and state leave the call
//!                                # out (an unconditioned baseline; the reward still hears it)
//! ```
//!
//! The partners ([`partner`]): a scripted motif player, phrase pairs of real tunes (the call
//! is one phrase, the response the next: consecutive phrases of a tune are examples of
//! answering), a file of logged calls (a person's, or another agent's in self-play), or any
//! [`Partner`] given to [`TaskSpec::with_partner`](crate::TaskSpec::with_partner).
//!
//! The observation is the `improv` task's (recent events, bar position, chords, progress)
//! followed by the call (see [`crate::compose`]); the compact state for tabular agents is
//! [`CompactState::Duet`](crate::compact_state::CompactState::Duet).
//!
//! ```
//! use cadenza_env::{ComposeEnv, Environment, TaskSpec, ZeroReward};
//! let task = TaskSpec::by_name("duet", None).unwrap();
//! assert_eq!(task.setting.call_steps, 32);
//! assert_eq!(task.setting.length, 64);
//! let mut env = ComposeEnv::new(task, ZeroReward);
//! env.reset(Some(7)).unwrap();
//! assert_eq!(env.elapsed_steps(), 0);
//! assert_eq!(env.melody().len(), 32); // the call, played by the partner
//! ```

mod build;
pub mod partner;

use super::error::TaskError;
use crate::encoding::Event;
use crate::reward::Setting;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// One call and the phrase that answered it in a real tune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPair {
    /// The tune's file name.
    pub file: String,
    /// The bar the call starts on.
    pub bar: usize,
    /// The call (`call_steps` events in the task's encoding).
    pub call: Vec<Event>,
    /// The response (`length - call_steps` events).
    pub response: Vec<Event>,
}

/// A partner of a duet: writes one call per episode. The partners Cadenza ships are in
/// [`partner`].
pub trait Partner: Send + Sync + fmt::Debug {
    /// A name for logs and equality of tasks (`scripted`, `corpus:DIR:train`, ...).
    fn name(&self) -> &str;

    /// Writes a call of `out.len()` events (the task's `call_steps`) in `setting`'s frame,
    /// drawing what it needs from `rng` (the env's, so episodes follow the env's seed).
    fn call(&self, rng: &mut ChaCha8Rng, setting: &Setting, out: &mut [Event]);
}

/// Configuration of the `duet` task. See the module docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuetConfig {
    /// Key: tonic and mode. Default `C major`.
    pub key: String,
    /// Lowest pitch of both parts. Default `C4`.
    pub low: String,
    /// Highest pitch. Default `C6`.
    pub high: String,
    /// Time signature. Default `4/4`.
    pub meter: String,
    /// Tempo in quarter notes per minute. Default 120.
    pub tempo: f64,
    /// Steps per quarter note. Default 4.
    pub steps_per_quarter: u32,
    /// A progression preset (moved to the key) or bar notation, looped over the exchange.
    /// Default `call-response`.
    pub progression: String,
    /// Bars of the call (1..=8). Default 2.
    pub call_bars: usize,
    /// Bars of the answer (1..=8). Default 2.
    pub answer_bars: usize,
    /// Who plays the calls: `scripted`, `corpus` or `calls`. Default `scripted`.
    pub partner: String,
    /// With `partner = "corpus"`: a folder of MIDI tunes. Default `data/corpus/oneills-dev`.
    pub corpus: String,
    /// With `partner = "corpus"`: which tunes (`train`: all but every fifth file by name,
    /// `held-out`: every fifth, `all`). Default `train`.
    pub split: String,
    /// With `partner = "calls"`: a file of logged calls (see [`partner::LoggedCalls`]).
    pub calls: String,
    /// Forbid pitches outside the key and the current chord-scale. Default false.
    pub mask_out_of_scale: bool,
    /// Recent events (the agent's, and the call's) in the observation (1..=16). Default 4.
    pub history: usize,
    /// Whether the observation and the compact state carry the call. `false` gives the
    /// `improv` task's observation and state: an agent that answers without listening, the
    /// baseline a listening answerer is measured against. Default true.
    pub hear_call: bool,
}

impl Default for DuetConfig {
    fn default() -> Self {
        Self {
            key: "C major".to_string(),
            low: "C4".to_string(),
            high: "C6".to_string(),
            meter: "4/4".to_string(),
            tempo: 120.0,
            steps_per_quarter: 4,
            progression: "call-response".to_string(),
            call_bars: 2,
            answer_bars: 2,
            partner: "scripted".to_string(),
            corpus: "data/corpus/oneills-dev".to_string(),
            split: "train".to_string(),
            calls: String::new(),
            mask_out_of_scale: false,
            history: 4,
            hear_call: true,
        }
    }
}

/// What makes a task a duet: its configuration and its partner.
#[derive(Clone)]
pub struct DuetSpec {
    /// The configuration the task was built from.
    pub config: DuetConfig,
    /// Who plays the calls.
    pub partner: Arc<dyn Partner>,
}

impl fmt::Debug for DuetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuetSpec")
            .field("config", &self.config)
            .field("partner", &self.partner.name())
            .finish()
    }
}

impl PartialEq for DuetSpec {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config && self.partner.name() == other.partner.name()
    }
}

/// One phrase of a duet's exchange, for [`TaskSpec::exchange_song`](crate::TaskSpec::exchange_song).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuetPhrase {
    /// Who played it (`partner`, `agent`, a person's name...): the song's title lists them.
    pub player: String,
    /// Its events, one per step.
    pub events: Vec<Event>,
    /// Played over the call's bars of the progression (else over the answer's).
    pub is_call: bool,
}

impl DuetConfig {
    /// Parses TOML; unknown or misspelt fields are errors that name them.
    pub fn from_toml(text: &str) -> Result<Self, TaskError> {
        toml::from_str(text).map_err(|e| TaskError::Parse(e.to_string()))
    }
}
