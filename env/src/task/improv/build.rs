//! Building the `improv` task from its configuration: every field validated, the
//! progression laid on the step grid, the backing voiced and the key signature chosen.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::ImprovConfig;
use crate::compact_state::CompactState;
use crate::encoding::EventEncoding;
use crate::limits::MAX_MELODY_STEPS;
use crate::music::{Key, Meter, Mode, Pitch, Progression, Tempo};
use crate::reward::{ChordFrame, Setting};
use crate::task::error::TaskError;
use crate::task::layout::ObservationLayout;
use crate::task::spec::{BackingChord, TaskSpec};

fn field(name: &str, message: impl ToString) -> TaskError {
    TaskError::InvalidField {
        field: name.to_string(),
        message: message.to_string(),
    }
}

/// Checks that field `name` lies in `range`; the error gives the range and its `unit`.
fn in_range<T: PartialOrd + Display>(
    name: &str,
    value: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<(), TaskError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(field(
        name,
        format!(
            "{value}: expected {}..={}{unit}",
            range.start(),
            range.end()
        ),
    ))
}

impl ImprovConfig {
    /// Builds the task, validating every field.
    pub fn to_task(&self) -> Result<TaskSpec, TaskError> {
        let key: Key = self.key.parse().map_err(|e| field("key", e))?;
        let low: Pitch = self.low.parse().map_err(|e| field("low", e))?;
        let high: Pitch = self.high.parse().map_err(|e| field("high", e))?;
        if low.midi() > high.midi() {
            return Err(field(
                "low",
                format!("{low} is above high = {high}: expected low <= high"),
            ));
        }
        if high.midi() - low.midi() < 11 {
            return Err(field(
                "high",
                format!(
                    "the range {low}..{high} is less than an octave: expected at least 12 pitches"
                ),
            ));
        }
        let encoding = EventEncoding::new(low.midi(), high.midi()).map_err(|e| field("low", e))?;
        let meter: Meter = self.meter.parse().map_err(|e| field("meter", e))?;
        let tempo = Tempo::new(self.tempo).map_err(|e| field("tempo", e))?;
        in_range("steps_per_quarter", self.steps_per_quarter, 1..=48, "")?;
        in_range("length", self.length, 1..=MAX_MELODY_STEPS, " steps")?;
        in_range("history", self.history, 1..=16, "")?;
        let steps_per_bar = meter
            .steps_per_bar(self.steps_per_quarter)
            .map_err(|e| field("steps_per_quarter", e))?;
        let beats_per_bar = u32::from(meter.numerator());
        if steps_per_bar % beats_per_bar != 0 {
            return Err(field(
                "steps_per_quarter",
                format!(
                    "a beat of {} is not a whole number of steps at {} steps per quarter",
                    meter, self.steps_per_quarter
                ),
            ));
        }
        let progression = match Progression::preset(&self.progression) {
            Ok(preset) => preset.transpose(i32::from(key.tonic.index())),
            Err(preset_error) => self.progression.parse::<Progression>().map_err(|e| {
                field(
                    "progression",
                    format!("not a preset ({preset_error}) nor bar notation ({e})"),
                )
            })?,
        };
        let per_step = progression
            .chords_per_step(meter, self.steps_per_quarter, self.length)
            .map_err(|e| field("progression", e))?;
        let chords: Vec<ChordFrame> = per_step
            .iter()
            .map(|(index, chord)| ChordFrame::of(chord, *index))
            .collect();
        let mut backing: Vec<BackingChord> = Vec::new();
        for (step, (index, chord)) in per_step.iter().enumerate() {
            let continues = step > 0 && per_step[step - 1].0 == *index;
            match backing.last_mut() {
                Some(last) if continues => last.steps += 1,
                _ => backing.push(BackingChord {
                    start: step as u32,
                    steps: 1,
                    symbol: chord.symbol(),
                    pitches: chord.voicing(48),
                }),
            }
        }
        let minor = matches!(
            key.mode,
            Mode::NaturalMinor
                | Mode::HarmonicMinor
                | Mode::MelodicMinor
                | Mode::MinorPentatonic
                | Mode::Blues
        );
        let key_signature = if minor {
            // MIDI writes a minor key by its own tonic with the relative major's signature.
            (
                Key::new(key.tonic, Mode::NaturalMinor).key_signature_sharps(),
                true,
            )
        } else {
            (key.key_signature_sharps(), false)
        };
        Ok(TaskSpec {
            name: "improv".to_string(),
            setting: Setting {
                encoding,
                length: self.length,
                steps_per_beat: (steps_per_bar / beats_per_bar) as u16,
                beats_per_bar: beats_per_bar as u16,
                tonic: key.tonic.index(),
                scale: key.scale_mask(),
                chords,
                call_steps: 0,
            },
            layout: ObservationLayout {
                history: self.history,
                step_index: false,
                bar_position: true,
                chords: true,
                progress: true,
                call: false,
            },
            state: CompactState::Harmonic,
            tempo_qpm: tempo.bpm(),
            meter: (meter.numerator(), meter.denominator()),
            key_signature,
            key_name: key.to_string(),
            backing,
            mask_out_of_scale: self.mask_out_of_scale,
            improv: Some(self.clone()),
            duet: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_a_ii_v_i_in_c() {
        let task = ImprovConfig::default().to_task().unwrap();
        let symbols: Vec<_> = task.backing.iter().map(|b| b.symbol.as_str()).collect();
        // `%` repeats a bar as its own segment, so the last chord is struck again.
        assert_eq!(symbols, ["Dm7", "G7", "Cmaj7", "Cmaj7"]);
        assert_eq!(task.backing[2].steps, 16);
        assert_eq!(task.setting.steps_per_bar(), 16);
        assert_eq!(task.setting.encoding.num_events(), 27);
    }

    #[test]
    fn bad_values_name_their_field() {
        for (toml, name) in [
            ("key = \"H major\"", "key"),
            ("progression = \"| Cxyz7 |\"", "progression"),
            ("low = \"C6\"\nhigh = \"C4\"", "low"),
            ("tempo = -1.0", "tempo"),
            ("length = 0", "length"),
            ("meter = \"4/3\"", "meter"),
        ] {
            let err = ImprovConfig::from_toml(toml)
                .unwrap()
                .to_task()
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{toml}: {err}");
        }
    }

    #[test]
    fn range_errors_give_the_range() {
        let message = |config: ImprovConfig| config.to_task().unwrap_err().to_string();
        assert_eq!(
            message(ImprovConfig {
                length: 0,
                ..ImprovConfig::default()
            }),
            "invalid task config: field 'length': 0: expected 1..=1000000 steps"
        );
        assert_eq!(
            message(ImprovConfig {
                steps_per_quarter: 49,
                ..ImprovConfig::default()
            }),
            "invalid task config: field 'steps_per_quarter': 49: expected 1..=48"
        );
        assert_eq!(
            message(ImprovConfig {
                history: 17,
                ..ImprovConfig::default()
            }),
            "invalid task config: field 'history': 17: expected 1..=16"
        );
    }

    #[test]
    fn blues_in_a_and_six_eight() {
        let config = ImprovConfig {
            key: "A blues".into(),
            progression: "blues".into(),
            meter: "6/8".into(),
            length: 12 * 12,
            ..ImprovConfig::default()
        };
        let task = config.to_task().unwrap();
        assert_eq!(task.backing[0].symbol, "A7");
        assert_eq!(task.setting.steps_per_bar(), 12);
        assert_eq!(task.key_signature, (0, true));
    }
}
