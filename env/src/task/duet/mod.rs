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
//! [`Partner`] given to [`TaskSpec::with_partner`].
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

pub mod partner;

use super::error::TaskError;
use super::improv::ImprovConfig;
use super::spec::TaskSpec;
use crate::compact_state::CompactState;
use crate::encoding::{EncodingError, Event};
use crate::midi::{ChordSpan, MidiSong};
use crate::music::Meter;
use partner::{CorpusCalls, LoggedCalls, ScriptedPartner, Split};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use partner::{CallPair, Partner};

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

fn field(name: &str, message: impl ToString) -> TaskError {
    TaskError::InvalidField {
        field: name.to_string(),
        message: message.to_string(),
    }
}

impl DuetConfig {
    /// Parses TOML; unknown or misspelt fields are errors that name them.
    pub fn from_toml(text: &str) -> Result<Self, TaskError> {
        toml::from_str(text).map_err(|e| TaskError::Parse(e.to_string()))
    }

    /// Builds the task with the configured partner, validating every field (a corpus or a
    /// calls file is read here, once).
    pub fn to_task(&self) -> Result<TaskSpec, TaskError> {
        let mut task = self.to_task_without_partner()?;
        let partner: Arc<dyn Partner> = match self.partner.as_str() {
            "scripted" => Arc::new(ScriptedPartner),
            "corpus" => {
                let split: Split = self.split.parse().map_err(|e| field("split", e))?;
                Arc::new(CorpusCalls::load(Path::new(&self.corpus), split, &task)?)
            }
            "calls" => {
                if self.calls.is_empty() {
                    return Err(field(
                        "calls",
                        "empty: partner = \"calls\" needs the path of a calls file",
                    ));
                }
                Arc::new(LoggedCalls::load(Path::new(&self.calls), &task)?)
            }
            other => {
                return Err(field(
                    "partner",
                    format!("'{other}': expected scripted, corpus or calls"),
                ))
            }
        };
        if let Some(duet) = task.duet.as_mut() {
            duet.partner = partner;
        }
        Ok(task)
    }

    /// The task with the scripted partner, whatever `partner` says (for building frames).
    fn to_task_without_partner(&self) -> Result<TaskSpec, TaskError> {
        for (name, bars) in [
            ("call_bars", self.call_bars),
            ("answer_bars", self.answer_bars),
        ] {
            if !(1..=8).contains(&bars) {
                return Err(field(name, format!("{bars}: expected 1..=8 bars")));
            }
        }
        let meter: Meter = self.meter.parse().map_err(|e| field("meter", e))?;
        let steps_per_bar = meter
            .steps_per_bar(self.steps_per_quarter.clamp(1, 48))
            .map_err(|e| field("steps_per_quarter", e))? as usize;
        let improv = ImprovConfig {
            key: self.key.clone(),
            low: self.low.clone(),
            high: self.high.clone(),
            meter: self.meter.clone(),
            tempo: self.tempo,
            steps_per_quarter: self.steps_per_quarter,
            length: (self.call_bars + self.answer_bars) * steps_per_bar,
            progression: self.progression.clone(),
            mask_out_of_scale: self.mask_out_of_scale,
            history: self.history,
        };
        let mut task = improv.to_task()?;
        task.name = "duet".to_string();
        task.setting.call_steps = self.call_bars * steps_per_bar;
        if self.hear_call {
            task.layout.call = true;
            task.state = CompactState::Duet;
        }
        task.improv = None;
        task.duet = Some(DuetSpec {
            config: self.clone(),
            partner: Arc::new(ScriptedPartner),
        });
        Ok(task)
    }
}

/// One phrase of a duet's exchange, for [`TaskSpec::exchange_song`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuetPhrase {
    /// Who played it (`partner`, `agent`, a person's name...): the song's title lists them.
    pub player: String,
    /// Its events, one per step.
    pub events: Vec<Event>,
    /// Played over the call's bars of the progression (else over the answer's).
    pub is_call: bool,
}

impl TaskSpec {
    /// A duet's exchange as one song: the phrases one after another, each over the backing
    /// chords it was played over (a call over the call's bars of the progression, an answer
    /// over the answer's), in the task's frame. The title lists the players.
    ///
    /// ```
    /// use cadenza_env::duet::DuetPhrase;
    /// use cadenza_env::TaskSpec;
    /// let task = TaskSpec::by_name("duet", None).unwrap();
    /// let phrase = |player: &str, is_call| DuetPhrase {
    ///     player: player.into(),
    ///     events: [14, 1, 1, 1].repeat(8),
    ///     is_call,
    /// };
    /// let phrases = [phrase("partner", true), phrase("agent", false), phrase("agent", false)];
    /// let song = task.exchange_song(&phrases).unwrap();
    /// assert_eq!(song.melody.len(), 24);
    /// // | C | G7 | then | C | G7 C | twice.
    /// let symbols: Vec<_> = song.chords.iter().map(|c| c.symbol.clone().unwrap()).collect();
    /// assert_eq!(symbols, ["C", "G7", "C", "G7", "C", "C", "G7", "C"]);
    /// assert_eq!(song.chords.last().map(|c| c.start + c.duration), Some(96));
    /// ```
    pub fn exchange_song(&self, phrases: &[DuetPhrase]) -> Result<MidiSong, EncodingError> {
        let calls = self.setting.call_steps as u32;
        let length = self.setting.length as u32;
        let mut melody = Vec::new();
        let mut chords = Vec::new();
        let mut offset = 0u32;
        for phrase in phrases {
            melody.extend_from_slice(&phrase.events);
            let (from, to) = if phrase.is_call {
                (0, calls)
            } else {
                (calls, length)
            };
            // The phrase's bars of the progression, looped if the phrase is longer.
            let steps = phrase.events.len() as u32;
            let span = (to - from).max(1);
            let mut done = 0;
            while done < steps {
                let take = (steps - done).min(span);
                for chord in self.chord_spans(0) {
                    let start = chord.start.max(from);
                    let end = (chord.start + chord.duration).min(from + take);
                    if start < end {
                        chords.push(ChordSpan {
                            start: start - from + offset + done,
                            duration: end - start,
                            ..chord
                        });
                    }
                }
                done += take;
            }
            offset += steps;
        }
        let notes = self.setting.encoding.to_notes(&melody)?;
        let players: Vec<&str> = phrases.iter().map(|p| p.player.as_str()).collect();
        Ok(MidiSong {
            title: Some(format!("Cadenza duet: {}", players.join(" / "))),
            ..self.song(notes, chords)
        })
    }

    /// The same duet with another partner (a self-play agent, a person's calls); an error
    /// for a task that is not a duet.
    pub fn with_partner(&self, partner: Arc<dyn Partner>) -> Result<Self, TaskError> {
        let mut task = self.clone();
        match task.duet.as_mut() {
            Some(duet) => {
                duet.partner = partner;
                Ok(task)
            }
            None => Err(field(
                "partner",
                format!(
                    "task '{}' is not a duet: only a duet has a partner",
                    self.name
                ),
            )),
        }
    }

    /// Steps of the call in a duet (0 otherwise).
    pub fn call_steps(&self) -> usize {
        self.setting.call_steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_field() {
        for (toml, name) in [
            ("call_bars = 0", "call_bars"),
            ("answer_bars = 9", "answer_bars"),
            ("partner = \"robot\"", "partner"),
            ("partner = \"corpus\"\nsplit = \"most\"", "split"),
            (
                "partner = \"corpus\"\ncorpus = \"no/such/folder\"",
                "corpus",
            ),
            ("partner = \"calls\"", "calls"),
            ("key = \"H major\"", "key"),
        ] {
            let err = DuetConfig::from_toml(toml)
                .unwrap()
                .to_task()
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{toml}: {err}");
        }
        let err = DuetConfig::from_toml("call_bar = 2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("call_bar"), "{err}");
    }

    #[test]
    fn the_default_duet_answers_a_half_cadence_with_a_full_one() {
        let task = TaskSpec::by_name("duet", None).unwrap();
        let symbols: Vec<_> = task.backing.iter().map(|b| b.symbol.as_str()).collect();
        assert_eq!(symbols, ["C", "G7", "C", "G7", "C"]);
        assert_eq!(task.call_steps(), 32);
        assert!(task.with_partner(Arc::new(ScriptedPartner)).is_ok());
        assert!(TaskSpec::rl_tuner()
            .with_partner(Arc::new(ScriptedPartner))
            .is_err());
    }
}
