//! Building the `duet` task from its configuration (on the `improv` task's frame), giving a
//! duet another partner, and writing an exchange as one song.

use super::partner::{CorpusCalls, LoggedCalls, ScriptedPartner, Split};
use super::{DuetConfig, DuetPhrase, DuetSpec, Partner};
use crate::compact_state::CompactState;
use crate::encoding::EncodingError;
use crate::midi::{ChordSpan, MidiSong};
use crate::music::Meter;
use crate::task::error::TaskError;
use crate::task::improv::ImprovConfig;
use crate::task::spec::TaskSpec;
use std::path::Path;
use std::sync::Arc;

fn field(name: &str, message: impl ToString) -> TaskError {
    TaskError::InvalidField {
        field: name.to_string(),
        message: message.to_string(),
    }
}

impl DuetConfig {
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
    use crate::task::duet::partner::ScriptedPartner;

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
