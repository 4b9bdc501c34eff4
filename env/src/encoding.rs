//! Event encodings: how a melody becomes a sequence of per-step choices.
//!
//! Every encoding shares two special events, [`REST`] (note-off: silence from this step on)
//! and [`HOLD`] (no new event: whatever sounds, or is silent, continues), followed by one event
//! per pitch of a contiguous MIDI range. `rl-tuner-38` is Magenta RL Tuner's encoding exactly:
//! 0 = rest, 1 = hold, 2..=37 = MIDI 48..=83.
//!
//! ```
//! use cadenza_env::encoding::{EventEncoding, HOLD, REST};
//! let enc = EventEncoding::RL_TUNER_38;
//! assert_eq!(enc.num_events(), 38);
//! assert_eq!(enc.event_of_pitch(60), Some(14));
//! let notes = enc.to_notes(&[14, HOLD, REST, 16]).unwrap();
//! assert_eq!(notes.len(), 2);
//! assert_eq!((notes[0].pitch, notes[0].start, notes[0].duration), (60, 0, 2));
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One step's choice: [`REST`], [`HOLD`] or a pitch event. Kept as a byte so that melodies
/// are compact and cheap to scan in reward terms.
pub type Event = u8;

/// Note-off: the sounding note (if any) stops at this step.
pub const REST: Event = 0;
/// No new event: the previous state (a note or silence) continues.
pub const HOLD: Event = 1;
/// Number of non-pitch events at the start of every encoding.
pub const NUM_SPECIAL_EVENTS: u8 = 2;

/// Errors of event encodings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The pitch range is empty or leaves MIDI's 0..=127.
    #[error("invalid pitch range {min}..={max}: expected 0 <= min <= max <= 127")]
    InvalidRange {
        /// Lowest pitch asked for.
        min: u8,
        /// Highest pitch asked for.
        max: u8,
    },
    /// An event number outside the encoding.
    #[error("event {event} at position {position} is outside the encoding {encoding} (valid: 0..={max})")]
    EventOutOfRange {
        /// The offending event.
        event: u32,
        /// Its index in the melody.
        position: usize,
        /// The encoding's name.
        encoding: String,
        /// The largest valid event.
        max: u32,
    },
    /// A MIDI pitch that the encoding cannot represent.
    #[error("pitch {pitch} is outside the encoding {encoding} (MIDI {min}..={max})")]
    PitchOutOfRange {
        /// The offending MIDI pitch.
        pitch: u8,
        /// The encoding's name.
        encoding: String,
        /// Lowest representable pitch.
        min: u8,
        /// Highest representable pitch.
        max: u8,
    },
    /// Two notes sound at once, which a monophonic encoding cannot hold.
    #[error("notes overlap at step {step}: the encoding is monophonic")]
    Overlap {
        /// Step where the second note starts.
        step: u32,
    },
    /// An encoding name that is not known.
    #[error("unknown encoding '{0}': expected 'rl-tuner-38' or 'range-LOW-HIGH' (MIDI numbers, e.g. 'range-55-88')")]
    UnknownName(String),
}

/// A note decoded from events, in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// MIDI pitch.
    pub pitch: u8,
    /// First step of the note.
    pub start: u32,
    /// Number of steps the note sounds (at least 1).
    pub duration: u32,
}

/// A contiguous pitch range with rest/hold events in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventEncoding {
    min_pitch: u8,
    max_pitch: u8,
}

impl EventEncoding {
    /// Magenta RL Tuner's 38-event encoding: MIDI 48..=83.
    pub const RL_TUNER_38: EventEncoding = EventEncoding {
        min_pitch: 48,
        max_pitch: 83,
    };

    /// An encoding over MIDI `min_pitch..=max_pitch`.
    pub fn new(min_pitch: u8, max_pitch: u8) -> Result<Self, EncodingError> {
        if min_pitch > max_pitch || max_pitch > 127 {
            return Err(EncodingError::InvalidRange {
                min: min_pitch,
                max: max_pitch,
            });
        }
        Ok(Self {
            min_pitch,
            max_pitch,
        })
    }

    /// Lowest representable MIDI pitch.
    pub fn min_pitch(self) -> u8 {
        self.min_pitch
    }

    /// Highest representable MIDI pitch.
    pub fn max_pitch(self) -> u8 {
        self.max_pitch
    }

    /// Number of pitches.
    pub fn num_pitches(self) -> usize {
        (self.max_pitch - self.min_pitch) as usize + 1
    }

    /// Number of events (actions): the pitches plus rest and hold.
    pub fn num_events(self) -> usize {
        self.num_pitches() + NUM_SPECIAL_EVENTS as usize
    }

    /// Whether `event` is valid in this encoding.
    #[inline]
    pub fn contains(self, event: usize) -> bool {
        event < self.num_events()
    }

    /// The MIDI pitch of a pitch event; `None` for rest, hold and out-of-range events.
    #[inline]
    pub fn pitch_of(self, event: Event) -> Option<u8> {
        if event >= NUM_SPECIAL_EVENTS && (event as usize) < self.num_events() {
            Some(event - NUM_SPECIAL_EVENTS + self.min_pitch)
        } else {
            None
        }
    }

    /// The event of a MIDI pitch; `None` when outside the range.
    #[inline]
    pub fn event_of_pitch(self, pitch: u8) -> Option<Event> {
        if (self.min_pitch..=self.max_pitch).contains(&pitch) {
            Some(pitch - self.min_pitch + NUM_SPECIAL_EVENTS)
        } else {
            None
        }
    }

    /// Checks every event of a melody, naming the first bad position.
    pub fn validate(self, events: &[u32]) -> Result<(), EncodingError> {
        let max = self.num_events() as u32 - 1;
        match events.iter().position(|&e| e > max) {
            Some(position) => Err(EncodingError::EventOutOfRange {
                event: events[position],
                position,
                encoding: self.to_string(),
                max,
            }),
            None => Ok(()),
        }
    }

    /// Decodes events into notes. A hold after silence keeps the silence; a rest ends a note.
    pub fn to_notes(self, events: &[Event]) -> Result<Vec<Note>, EncodingError> {
        let mut notes: Vec<Note> = Vec::new();
        let mut sounding = false;
        for (step, &event) in events.iter().enumerate() {
            match event {
                REST => sounding = false,
                HOLD => {
                    if sounding {
                        if let Some(last) = notes.last_mut() {
                            last.duration += 1;
                        }
                    }
                }
                _ => {
                    let pitch =
                        self.pitch_of(event)
                            .ok_or_else(|| EncodingError::EventOutOfRange {
                                event: event as u32,
                                position: step,
                                encoding: self.to_string(),
                                max: self.num_events() as u32 - 1,
                            })?;
                    notes.push(Note {
                        pitch,
                        start: step as u32,
                        duration: 1,
                    });
                    sounding = true;
                }
            }
        }
        Ok(notes)
    }

    /// Encodes monophonic notes (sorted by start) as `length` events. A gap between notes
    /// becomes a rest followed by holds; the steps before the first note are rests.
    pub fn from_notes(self, notes: &[Note], length: usize) -> Result<Vec<Event>, EncodingError> {
        let mut events = vec![HOLD; length];
        if let Some(first) = events.first_mut() {
            *first = REST;
        }
        let mut busy_until = 0u32;
        for note in notes {
            let event =
                self.event_of_pitch(note.pitch)
                    .ok_or_else(|| EncodingError::PitchOutOfRange {
                        pitch: note.pitch,
                        encoding: self.to_string(),
                        min: self.min_pitch,
                        max: self.max_pitch,
                    })?;
            if note.start < busy_until {
                return Err(EncodingError::Overlap { step: note.start });
            }
            let start = note.start as usize;
            if start >= length {
                break;
            }
            if note.start > busy_until && (busy_until as usize) < length {
                events[busy_until as usize] = REST;
            }
            events[start] = event;
            let end = (note.start + note.duration.max(1)) as usize;
            for slot in events.iter_mut().take(end.min(length)).skip(start + 1) {
                *slot = HOLD;
            }
            busy_until = end as u32;
        }
        if (busy_until as usize) < length && !notes.is_empty() {
            events[busy_until as usize] = REST;
        }
        Ok(events)
    }
}

impl fmt::Display for EventEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::RL_TUNER_38 {
            f.write_str("rl-tuner-38")
        } else {
            write!(f, "range-{}-{}", self.min_pitch, self.max_pitch)
        }
    }
}

impl FromStr for EventEncoding {
    type Err = EncodingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "rl-tuner-38" {
            return Ok(Self::RL_TUNER_38);
        }
        let unknown = || EncodingError::UnknownName(s.to_string());
        let rest = s.strip_prefix("range-").ok_or_else(unknown)?;
        let (lo, hi) = rest.split_once('-').ok_or_else(unknown)?;
        let lo: u8 = lo.parse().map_err(|_| unknown())?;
        let hi: u8 = hi.parse().map_err(|_| unknown())?;
        Self::new(lo, hi)
    }
}

impl TryFrom<String> for EventEncoding {
    type Error = EncodingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventEncoding> for String {
    fn from(e: EventEncoding) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rl_tuner_mapping_matches_magenta() {
        let enc = EventEncoding::RL_TUNER_38;
        assert_eq!(enc.pitch_of(2), Some(48));
        assert_eq!(enc.pitch_of(14), Some(60));
        assert_eq!(enc.pitch_of(37), Some(83));
        assert_eq!(enc.pitch_of(38), None);
        assert_eq!(enc.pitch_of(REST), None);
        assert_eq!(enc.event_of_pitch(84), None);
        // The paper's example: {4,1,0,1} is an eighth-note D3 then an eighth rest.
        let notes = enc.to_notes(&[4, 1, 0, 1]).unwrap();
        assert_eq!(
            notes,
            vec![Note {
                pitch: 50,
                start: 0,
                duration: 2
            }]
        );
    }

    #[test]
    fn names_round_trip() {
        for enc in [
            EventEncoding::RL_TUNER_38,
            EventEncoding::new(55, 88).unwrap(),
        ] {
            assert_eq!(enc.to_string().parse::<EventEncoding>().unwrap(), enc);
        }
        assert!("range-90-80".parse::<EventEncoding>().is_err());
        assert!("midi".parse::<EventEncoding>().is_err());
    }

    #[test]
    fn notes_round_trip_through_events() {
        let enc = EventEncoding::RL_TUNER_38;
        let events = [14, 1, 1, 0, 1, 16, 18, 1, 0, 0, 21, 1];
        let notes = enc.to_notes(&events).unwrap();
        let back = enc.from_notes(&notes, events.len()).unwrap();
        assert_eq!(enc.to_notes(&back).unwrap(), notes);
    }

    #[test]
    fn validate_names_position() {
        let err = EventEncoding::RL_TUNER_38
            .validate(&[0, 1, 38])
            .unwrap_err();
        assert!(err.to_string().contains("position 2"), "{err}");
    }
}
