//! Musical controls and the learnt taste in the same terms.
//!
//! A listener can say what they want in musical terms, besides rating: a range (the lowest
//! and highest pitch the agent may play), a note density, more or less space (rests), more
//! chromatic or more in key ([`Controls`]). The session applies them to the very next phrase
//! by steering how the agent's phrase is sampled, without touching the agent: notes outside
//! the range are masked out, and each other control adds a bias, in nats, to the
//! log-probability of the events it is about ([`Adapter::sample`](cadenza_agents::Adapter::sample)).
//!
//! The listener model's weights are read back in the same terms ([`learnt`]): each musical
//! dimension ([`DIMENSIONS`]) is a fixed direction in the space of standardised phrase
//! features (`register`: the high registers and pitch quarters up, the low ones down;
//! `density`: notes per beat and short notes; ...), and the model's preference along it is
//! its utility's slope along that unit direction, with its posterior standard deviation.
//! With a positive [`SessionConfig::steering`](crate::SessionConfig::steering) the learnt
//! preference (shrunk towards 0 by [`SHRINK`] posterior standard deviations, so that what the
//! model is unsure of steers little) steers the sampling too, through the same biases, so that what the model has
//! learnt shows in the next phrase at once, even when the agent's own updates cannot follow
//! it yet; and the candidates of a round spread around that steering (each but the first
//! gets a seeded random offset per dimension), so that the model hears contrasts along
//! every musical direction.
//!
//! | dimension | biased events (per unit of steering) |
//! |---|---|
//! | `register` | a note, by its height in the range: ±[`REGISTER_NATS`] at the top and bottom |
//! | `density` | every note attack: [`DENSITY_NATS`] |
//! | `space` | a rest: [`SPACE_NATS`] |
//! | `chromatic` | a note outside the key's scale: [`CHROMATIC_NATS`] |
//! | `falling` | a note below the previous one `+`, above it `−`: [`FALLING_NATS`] |
//! | `skips` | a note 3 to 7 semitones from the previous one, on in the line's direction (an arpeggio): [`SKIPS_NATS`] |
//! | `arc` | a note, by its height times its place in the phrase (high late, low early): [`ARC_NATS`] |

use crate::config::config_error;
use crate::error::SessionError;
use cadenza_env::{Event, Setting, HOLD, REST};
use cadenza_reward::listener::ListenerModel;
use serde::{Deserialize, Serialize};

/// The musical dimensions, in the order of a [`Steering`].
pub const DIMENSIONS: [&str; 7] = [
    "register",
    "density",
    "space",
    "chromatic",
    "falling",
    "skips",
    "arc",
];

/// Number of musical dimensions.
pub const DIMENSION_COUNT: usize = DIMENSIONS.len();

/// Bias at the top (and, negated, the bottom) of the range per unit of `register`.
pub const REGISTER_NATS: f64 = 2.0;
/// Bias of a note attack per unit of `density`.
pub const DENSITY_NATS: f64 = 2.5;
/// Bias of a rest per unit of `space`.
pub const SPACE_NATS: f64 = 2.5;
/// Bias of a note outside the key per unit of `chromatic`.
pub const CHROMATIC_NATS: f64 = 2.5;
/// Bias of a falling note (and, negated, a rising one) per unit of `falling`.
pub const FALLING_NATS: f64 = 1.0;
/// Bias of a skip of 3 to 7 semitones per unit of `skips`.
pub const SKIPS_NATS: f64 = 1.5;
/// Bias at the top of the range at the end of the phrase per unit of `arc`.
pub const ARC_NATS: f64 = 2.0;

/// The fewest semitones between the lowest and highest pitch of a [`Controls`] range: a
/// fifth, so that a phrase can still move.
pub const MIN_RANGE: u8 = 7;

/// Steering per musical dimension ([`DIMENSIONS`] order), each in
/// [-[`MAX_STEER`], [`MAX_STEER`]].
pub type Steering = [f64; DIMENSION_COUNT];

/// The most steering along one dimension (controls and learnt taste together).
pub const MAX_STEER: f64 = 1.5;

/// What a listener asks for in musical terms. Plain data, logged when it changes; checked
/// by [`Controls::validate`]. The default asks for nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Controls {
    /// The lowest pitch to play (MIDI), none for the task's lowest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<u8>,
    /// The highest pitch to play (MIDI), none for the task's highest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<u8>,
    /// Fewer (−1) to more (+1) notes; 0 as the agent plays.
    pub density: f64,
    /// Less (−1) to more (+1) space: rests, breaths.
    pub space: f64,
    /// More in key (−1) to more chromatic (+1).
    pub chromatic: f64,
}

impl Controls {
    /// Checks every field against the task's `setting`, naming the first bad one
    /// (`controls.low`, ...) and what was expected.
    pub fn validate(&self, setting: &Setting) -> Result<(), SessionError> {
        let (min, max) = (setting.encoding.min_pitch(), setting.encoding.max_pitch());
        for (field, pitch) in [("controls.low", self.low), ("controls.high", self.high)] {
            if let Some(p) = pitch {
                if !(min..=max).contains(&p) {
                    return Err(config_error(
                        field,
                        format!("{p}: expected a MIDI pitch in {min}..={max}, the task's range"),
                    ));
                }
            }
        }
        let (low, high) = self.range(setting);
        if high < low.saturating_add(MIN_RANGE) {
            return Err(config_error(
                "controls.high",
                format!(
                    "{high}: expected at least {MIN_RANGE} semitones above the lowest pitch {low}"
                ),
            ));
        }
        for (field, v) in [
            ("controls.density", self.density),
            ("controls.space", self.space),
            ("controls.chromatic", self.chromatic),
        ] {
            if !(v.is_finite() && (-1.0..=1.0).contains(&v)) {
                return Err(config_error(field, format!("{v}: expected -1..=1")));
            }
        }
        Ok(())
    }

    /// The range asked for, within the task's.
    pub fn range(&self, setting: &Setting) -> (u8, u8) {
        let (min, max) = (setting.encoding.min_pitch(), setting.encoding.max_pitch());
        (
            self.low.unwrap_or(min).clamp(min, max),
            self.high.unwrap_or(max).clamp(min, max),
        )
    }

    /// The steering the controls ask for (register, falling, skips and arc are left to the
    /// learnt taste; the range is a mask, see [`Controls::range`]).
    pub fn steering(&self) -> Steering {
        let mut s = [0.0; DIMENSION_COUNT];
        s[1] = self.density;
        s[2] = self.space;
        s[3] = self.chromatic;
        s
    }
}

/// The words of a control command typed in the terminal ([`Controls::command`]).
pub const COMMAND_HELP: &str = "range LOW HIGH (MIDI pitches; 'range' alone for the whole range), \
density X, space X, chromatic X (X in -1..=1), reset";

impl Controls {
    /// The controls after a command typed in the terminal (see [`COMMAND_HELP`]): `None` if
    /// `line` is no control command, else the new controls, checked against `setting`, or
    /// an error naming the field.
    pub fn command(&self, setting: &Setting, line: &str) -> Option<Result<Self, SessionError>> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (&word, args) = words.split_first()?;
        let mut next = self.clone();
        let number = |field: &str, text: Option<&&str>| -> Result<f64, SessionError> {
            let text = text.ok_or_else(|| {
                config_error(field, "expected a number in -1..=1 after the word".into())
            })?;
            text.parse::<f64>()
                .map_err(|_| config_error(field, format!("'{text}': expected a number in -1..=1")))
        };
        let pitch = |field: &str, text: &str| -> Result<u8, SessionError> {
            text.parse::<u8>()
                .map_err(|_| config_error(field, format!("'{text}': expected a MIDI pitch")))
        };
        let result = match (word.to_ascii_lowercase().as_str(), args) {
            ("range", []) => {
                next.low = None;
                next.high = None;
                Ok(())
            }
            ("range", [low, high]) => pitch("controls.low", low).and_then(|low| {
                next.low = Some(low);
                next.high = Some(pitch("controls.high", high)?);
                Ok(())
            }),
            ("range", _) => Err(config_error(
                "controls.low",
                "expected 'range LOW HIGH' or 'range'".into(),
            )),
            ("density", [..]) => number("controls.density", args.first()).map(|x| next.density = x),
            ("space", [..]) => number("controls.space", args.first()).map(|x| next.space = x),
            ("chromatic", [..]) => {
                number("controls.chromatic", args.first()).map(|x| next.chromatic = x)
            }
            ("reset", []) => {
                next = Self::default();
                Ok(())
            }
            _ => return None,
        };
        Some(result.and_then(|()| next.validate(setting).map(|()| next)))
    }
}

/// The model's preference along one musical dimension.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Learnt {
    /// The dimension ([`DIMENSIONS`]).
    pub name: &'static str,
    /// The slope of the model's utility along the dimension's unit direction of standardised
    /// features (posterior mean).
    pub preference: f64,
    /// Its posterior standard deviation (weights taken as independent).
    pub sd: f64,
}

/// Each dimension's direction: (feature name, coefficient).
const DIRECTIONS: [&[(&str, f64)]; DIMENSION_COUNT] = [
    &[
        ("register_high", 1.0),
        ("register_high_mid", 0.5),
        ("register_low_mid", -0.5),
        ("register_low", -1.0),
        ("pitch_quarter_1", 0.5),
        ("pitch_quarter_2", 0.5),
        ("pitch_quarter_3", 0.5),
        ("pitch_quarter_4", 0.5),
    ],
    &[
        ("note_density", 1.0),
        ("duration_1", 0.5),
        ("duration_2", 0.5),
        ("duration_5_8", -0.5),
        ("duration_9_plus", -0.5),
    ],
    &[
        ("rest_fraction", 1.0),
        ("silence_beat", 0.5),
        ("silence_long", 0.5),
    ],
    &[("chord_scale", -1.0), ("blue_note_fraction", 0.5)],
    &[
        ("interval_down_large", 0.5),
        ("interval_down_skip", 1.0),
        ("interval_down_step", 1.0),
        ("interval_up_step", -1.0),
        ("interval_up_skip", -1.0),
        ("interval_up_large", -0.5),
        ("motion_down_down", 1.0),
        ("motion_up_up", -1.0),
    ],
    &[
        ("interval_down_skip", 1.0),
        ("interval_up_skip", 1.0),
        ("step_fraction", -0.5),
        ("motion_up_up", 0.5),
        ("motion_down_down", 0.5),
    ],
    &[
        ("pitch_quarter_4", 1.0),
        ("pitch_quarter_3", 0.5),
        ("pitch_quarter_2", -0.5),
        ("pitch_quarter_1", -1.0),
    ],
];

/// What `model` has learnt along each musical dimension (see the module docs). Features the
/// model does not read (a log from before the note profile) count as 0.
pub fn learnt(model: &ListenerModel) -> [Learnt; DIMENSION_COUNT] {
    let names = model.feature_names();
    let weights = model.weights();
    let variances = model.weight_variances();
    std::array::from_fn(|d| {
        let (mut mean, mut var, mut norm) = (0.0, 0.0, 0.0);
        for &(feature, c) in DIRECTIONS[d] {
            norm += c * c;
            if let Some(i) = names.iter().position(|n| n == feature) {
                mean += c * weights[i];
                var += c * c * variances[i].max(0.0);
            }
        }
        let norm = norm.sqrt();
        Learnt {
            name: DIMENSIONS[d],
            preference: mean / norm,
            sd: var.sqrt() / norm,
        }
    })
}

/// How many posterior standard deviations a learnt preference is shrunk towards 0 before it
/// steers (see [`learnt_steering`]).
pub const SHRINK: f64 = 0.25;

/// The steering of the learnt taste: `gain` times each preference shrunk towards 0 by
/// [`SHRINK`] posterior standard deviations (a preference the model is unsure of steers
/// little), within ±1.
pub fn learnt_steering(model: &ListenerModel, gain: f64) -> Steering {
    let learnt = learnt(model);
    std::array::from_fn(|d| {
        let l = learnt[d];
        let sure = (l.preference.abs() - SHRINK * l.sd).max(0.0) * l.preference.signum();
        (gain * sure).clamp(-1.0, 1.0)
    })
}

/// The biases and the mask of one step of a steered phrase (see the module docs); the
/// session's scratch buffers, so that a step allocates nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepSteer {
    /// Bias per event, in nats.
    pub bias: Vec<f64>,
    /// The env's mask, less the notes outside the range.
    pub mask: Vec<bool>,
}

/// Where a phrase being sampled is: its last attacked pitch, the direction of the last
/// interval (-1, 0 or 1) and its step.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Context {
    pub previous: Option<u8>,
    pub direction: i8,
    pub step: usize,
}

impl Context {
    /// After `event`.
    pub fn after(self, setting: &Setting, event: Event) -> Self {
        let (previous, direction) = match (event, self.previous) {
            (REST | HOLD, _) => (self.previous, self.direction),
            (e, last) => match (setting.encoding.pitch_of(e), last) {
                (Some(p), Some(q)) if p != q => (Some(p), if p > q { 1 } else { -1 }),
                (Some(p), _) => (Some(p), self.direction),
                (None, _) => (self.previous, self.direction),
            },
        };
        Self {
            previous,
            direction,
            step: self.step + 1,
        }
    }
}

impl StepSteer {
    /// Fills the bias and mask of one step: `env_mask` less the notes outside `range` (the
    /// env's own mask alone if that leaves nothing), and the biases of `steering` at
    /// `context`.
    pub fn fill(
        &mut self,
        setting: &Setting,
        env_mask: &[bool],
        range: (u8, u8),
        steering: &Steering,
        context: Context,
    ) {
        let n = env_mask.len();
        self.bias.resize(n, 0.0);
        self.mask.resize(n, false);
        let (min, max) = (
            f64::from(setting.encoding.min_pitch()),
            f64::from(setting.encoding.max_pitch()),
        );
        let (mid, half) = ((min + max) / 2.0, ((max - min) / 2.0).max(1.0));
        let when = if setting.length > 1 {
            2.0 * context.step as f64 / (setting.length - 1) as f64 - 1.0
        } else {
            0.0
        };
        let mut any = false;
        for (a, &env_allows) in env_mask.iter().enumerate() {
            let (allowed, bias) = match setting.encoding.pitch_of(a as Event) {
                None if a as Event == REST => (env_allows, steering[2] * SPACE_NATS),
                None => (env_allows, 0.0),
                Some(p) => {
                    let height = (f64::from(p) - mid) / half;
                    let mut b = steering[0] * REGISTER_NATS * height
                        + steering[1] * DENSITY_NATS
                        + steering[6] * ARC_NATS * height * when;
                    if setting.scale & (1 << (p % 12)) == 0 {
                        b += steering[3] * CHROMATIC_NATS;
                    }
                    if let Some(q) = context.previous {
                        if p < q {
                            b += steering[4] * FALLING_NATS;
                        } else if p > q {
                            b -= steering[4] * FALLING_NATS;
                        }
                        // A skip that carries on the line's direction: an arpeggio.
                        let turn = context.direction != 0 && (p > q) != (context.direction > 0);
                        if (3..=7).contains(&p.abs_diff(q)) && !turn {
                            b += steering[5] * SKIPS_NATS;
                        }
                    }
                    (env_allows && (range.0..=range.1).contains(&p), b)
                }
            };
            self.mask[a] = allowed;
            self.bias[a] = bias;
            any |= allowed;
        }
        if !any {
            self.mask.copy_from_slice(env_mask);
        }
    }
}

/// The spread (standard deviation per dimension) of the candidates around a round's
/// steering, when the learnt taste steers.
pub const EXPLORATION: f64 = 0.3;

/// A seeded random offset of a candidate's steering: [`EXPLORATION`] times a standard normal
/// per dimension.
pub(crate) fn exploration(rng: &mut impl rand::Rng) -> Steering {
    std::array::from_fn(|_| {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random();
        EXPLORATION * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    })
}

/// What a phrase does in the controls' terms: what the page shows beside it, and what a
/// test of the controls measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measures {
    /// Note attacks per beat.
    pub notes_per_beat: f64,
    /// The share of steps that are silent.
    pub rest_share: f64,
    /// The share of notes outside the key's scale.
    pub chromatic_share: f64,
    /// The lowest pitch played (0 for a silent phrase).
    pub lowest: u8,
    /// The highest pitch played (0 for a silent phrase).
    pub highest: u8,
    /// The mean pitch of the notes, weighted by duration (0 for a silent phrase).
    pub mean_pitch: f64,
}

/// The [`Measures`] of `events`, a phrase in `setting` (events outside the encoding make a
/// silent phrase).
pub fn describe(setting: &Setting, events: &[Event]) -> Measures {
    let notes = setting.encoding.to_notes(events).unwrap_or_default();
    let steps = events.len().max(1) as f64;
    let sounding: u32 = notes.iter().map(|n| n.duration).sum();
    let beats = steps / f64::from(setting.steps_per_beat.max(1));
    let chromatic = notes
        .iter()
        .filter(|n| setting.scale & (1 << (n.pitch % 12)) == 0)
        .count();
    let weight = f64::from(sounding.max(1));
    Measures {
        notes_per_beat: notes.len() as f64 / beats,
        rest_share: (1.0 - f64::from(sounding) / steps).max(0.0),
        chromatic_share: chromatic as f64 / notes.len().max(1) as f64,
        lowest: notes.iter().map(|n| n.pitch).min().unwrap_or(0),
        highest: notes.iter().map(|n| n.pitch).max().unwrap_or(0),
        mean_pitch: notes
            .iter()
            .map(|n| f64::from(n.pitch) * f64::from(n.duration))
            .sum::<f64>()
            / weight,
    }
}

/// The sum of two steerings, each dimension within ±[`MAX_STEER`].
pub(crate) fn add(a: &Steering, b: &Steering) -> Steering {
    std::array::from_fn(|d| (a[d] + b[d]).clamp(-MAX_STEER, MAX_STEER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_env::TaskSpec;

    fn setting() -> Setting {
        TaskSpec::by_name("improv", None).unwrap().setting
    }

    #[test]
    fn validation_names_the_field() {
        let s = setting();
        let (min, max) = (s.encoding.min_pitch(), s.encoding.max_pitch());
        let bad = [
            (
                Controls {
                    low: Some(min - 1),
                    ..Controls::default()
                },
                "controls.low",
            ),
            (
                Controls {
                    high: Some(max + 1),
                    ..Controls::default()
                },
                "controls.high",
            ),
            (
                Controls {
                    low: Some(min + 10),
                    high: Some(min + 12),
                    ..Controls::default()
                },
                "controls.high",
            ),
            (
                Controls {
                    density: 1.5,
                    ..Controls::default()
                },
                "controls.density",
            ),
            (
                Controls {
                    space: f64::NAN,
                    ..Controls::default()
                },
                "controls.space",
            ),
            (
                Controls {
                    chromatic: -2.0,
                    ..Controls::default()
                },
                "controls.chromatic",
            ),
        ];
        for (controls, field) in bad {
            let err = controls.validate(&s).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        assert!(Controls::default().validate(&s).is_ok());
    }

    /// A listener who rates high registers up: the model's learnt taste reads as "higher"
    /// and steers the register up, and little else.
    #[test]
    fn the_learnt_taste_reads_the_models_weights_in_musical_terms() {
        use cadenza_reward::listener::{feature_index, ListenerConfig, NUM_FEATURES};
        let mut model =
            ListenerModel::for_phrase_prefix(NUM_FEATURES, ListenerConfig::default()).unwrap();
        let high = feature_index("register_high").unwrap();
        let low = feature_index("register_low").unwrap();
        for k in 0..30 {
            let up = k % 2 == 0;
            let mut features = vec![0.0; NUM_FEATURES];
            features[high] = if up { 1.0 } else { -1.0 };
            features[low] = -features[high];
            model
                .observe(cadenza_reward::listener::Feedback::Rating {
                    features,
                    rating: if up { 5 } else { 1 },
                })
                .unwrap();
        }
        let learnt = learnt(&model);
        let steering = learnt_steering(&model, 2.0);
        assert_eq!(learnt[0].name, "register");
        assert!(learnt[0].preference > 0.5, "{learnt:?}");
        assert!(steering[0] > 0.5, "{steering:?}");
        for d in 1..DIMENSION_COUNT {
            if d != 6 {
                assert!(steering[d].abs() < 0.05, "{}: {steering:?}", DIMENSIONS[d]);
            }
        }
        let fresh =
            ListenerModel::for_phrase_prefix(NUM_FEATURES, ListenerConfig::default()).unwrap();
        assert_eq!(learnt_steering(&fresh, 2.0), [0.0; DIMENSION_COUNT]);
    }

    #[test]
    fn terminal_commands_set_the_controls() {
        let s = setting();
        let c = Controls::default();
        let set = |c: &Controls, line: &str| c.command(&s, line).unwrap().unwrap();
        let c = set(&c, "range 62 79");
        assert_eq!((c.low, c.high), (Some(62), Some(79)));
        let c = set(&c, "space 0.5");
        let c = set(&c, "Density -1");
        assert_eq!((c.space, c.density), (0.5, -1.0));
        assert_eq!(set(&c, "range").low, None);
        assert_eq!(set(&c, "reset"), Controls::default());
        assert!(c.command(&s, "4").is_none() && c.command(&s, "").is_none());
        for (line, field) in [
            ("space lots", "controls.space"),
            ("chromatic", "controls.chromatic"),
            ("chromatic 3", "controls.chromatic"),
            ("range 60", "controls.low"),
            ("range 60 62", "controls.high"),
            ("range C4 G5", "controls.low"),
        ] {
            let err = c.command(&s, line).unwrap().unwrap_err().to_string();
            assert!(err.contains(field), "{line}: {err}");
        }
    }

    #[test]
    fn biases_follow_the_steering() {
        let s = setting();
        let n = s.encoding.num_events();
        let env_mask = vec![true; n];
        let mut step = StepSteer::default();
        let ev = |p: u8| s.encoding.event_of_pitch(p).unwrap() as usize;
        let context = Context {
            previous: Some(67),
            direction: 1,
            step: 0,
        };
        let (low, high) = (s.encoding.min_pitch(), s.encoding.max_pitch());

        // The range masks notes out, never rests or holds.
        step.fill(&s, &env_mask, (64, 76), &[0.0; 7], context);
        assert!(!step.mask[ev(63)] && step.mask[ev(64)] && step.mask[ev(76)]);
        assert!(!step.mask[ev(77)] && step.mask[REST as usize] && step.mask[HOLD as usize]);
        assert!(step.bias.iter().all(|&b| b == 0.0));

        let one = |d: usize| {
            let mut st = [0.0; 7];
            st[d] = 1.0;
            st
        };
        step.fill(&s, &env_mask, (low, high), &one(2), context);
        assert_eq!(step.bias[REST as usize], SPACE_NATS);
        assert_eq!(step.bias[ev(67)], 0.0);
        step.fill(&s, &env_mask, (low, high), &one(1), context);
        assert_eq!(step.bias[ev(60)], DENSITY_NATS);
        assert_eq!(step.bias[HOLD as usize], 0.0);
        // C major: F# is out of the key, G in it.
        step.fill(&s, &env_mask, (low, high), &one(3), context);
        assert_eq!(
            (step.bias[ev(66)], step.bias[ev(67)]),
            (CHROMATIC_NATS, 0.0)
        );
        step.fill(&s, &env_mask, (low, high), &one(4), context);
        assert!(step.bias[ev(65)] > 0.0 && step.bias[ev(69)] < 0.0);
        step.fill(&s, &env_mask, (low, high), &one(5), context);
        // Up from G after a rise: C above is an arpeggio, E below turns back, A is a step.
        assert_eq!(step.bias[ev(72)], SKIPS_NATS);
        assert_eq!((step.bias[ev(64)], step.bias[ev(69)]), (0.0, 0.0));
        step.fill(&s, &env_mask, (low, high), &one(0), context);
        assert!(step.bias[ev(high)] > 1.9 && step.bias[ev(low)] < -1.9);
        // The arc: high notes are pushed down early and up late.
        step.fill(&s, &env_mask, (low, high), &one(6), context);
        assert!(step.bias[ev(high)] < -1.9);
        let late = Context {
            step: s.length - 1,
            ..context
        };
        step.fill(&s, &env_mask, (low, high), &one(6), late);
        assert!(step.bias[ev(high)] > 1.9);
    }

    #[test]
    fn a_range_that_leaves_no_note_falls_back_to_the_env_mask() {
        let s = setting();
        let n = s.encoding.num_events();
        let mut env_mask = vec![false; n];
        let only = s.encoding.event_of_pitch(60).unwrap() as usize;
        env_mask[only] = true;
        let mut step = StepSteer::default();
        step.fill(&s, &env_mask, (70, 80), &[0.0; 7], Context::default());
        assert_eq!(step.mask, env_mask);
    }
}
