//! Simulated listeners: hidden, parametric tastes with noise, so that sessions run and are
//! tested without a person.
//!
//! A simulated listener's hidden utility is a weighted sum of standardised phrase features
//! (standardised by the session's calibration, so "one unit" is one standard deviation of
//! the agent's own phrases). It rates a phrase `3 + 2·tanh(u / 2.5)` plus Gaussian noise
//! (σ = 0.6), rounded and clamped to 1..=5, and answers "A or B?" with Bradley-Terry
//! probability `σ(2·(u_A − u_B))`. Its noise is seeded per round, so a session is
//! reproducible and a resumed session hears the same answers.
//!
//! | name | likes | dislikes |
//! |---|---|---|
//! | `sim:stepwise` | steps, chord tones on strong beats | leaps, wide intervals |
//! | `sim:syncopated` | syncopation, a wide range, busy lines | — |
//! | `sim:bluesy` | blue notes (b3, b5, b7), the blues scale | strict chord-scale playing |
//!
//! These tastes lie in the span of the model's features, and they rate relative to the
//! agent's own phrases (a listener of the calibration's average rates 3, random notes
//! included). The note listeners of [`notes`] (`sim:high`, `sim:falling`, `sim:arpeggio`,
//! `sim:climax`) test the rest: tastes computed from the notes by criteria that are not
//! model features, on an absolute scale gated by musicianship.

pub mod notes;

use crate::engine::Session;
use crate::error::SessionError;
use crate::round::{Candidate, Choice, Feedback};
use cadenza_env::Event;
use cadenza_reward::listener::feature_index;
use cadenza_reward::musicianship::{self, MusicianshipReport};
use notes::{Heard, NoteTaste};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// Names of the simulated listeners.
pub const SIM_NAMES: &[&str] = &[
    "sim:stepwise",
    "sim:syncopated",
    "sim:bluesy",
    "sim:high",
    "sim:falling",
    "sim:arpeggio",
    "sim:climax",
];

const RATING_NOISE: f64 = 0.6;
const RATING_SPREAD: f64 = 2.5;
const CHOICE_SLOPE: f64 = 2.0;

/// A simulated listener. See the module docs.
#[derive(Debug, Clone)]
pub struct SimListener {
    name: String,
    taste: Taste,
    seed: u64,
}

#[derive(Debug, Clone)]
enum Taste {
    /// Weights over the model's standardised features.
    Features(Vec<(usize, f64)>),
    /// A criterion over the notes, gated by musicianship.
    Notes(NoteTaste),
}

impl SimListener {
    /// A listener by name (one of [`SIM_NAMES`]; the `sim:` prefix may be left out), its
    /// noise seeded by `seed`.
    pub fn by_name(name: &str, seed: u64) -> Result<Self, SessionError> {
        let short = name.strip_prefix("sim:").unwrap_or(name);
        if let Some(taste) = NoteTaste::by_name(short) {
            return Ok(Self {
                name: format!("sim:{short}"),
                taste: Taste::Notes(taste),
                seed,
            });
        }
        let taste: &[(&str, f64)] = match short {
            "stepwise" => &[
                ("step_fraction", 1.0),
                ("chord_tone_strong_fraction", 0.7),
                ("leap_fraction", -0.7),
                ("mean_abs_interval", -0.4),
            ],
            "syncopated" => &[
                ("syncopation_fraction", 1.0),
                ("range", 0.8),
                ("note_density", 0.3),
            ],
            "bluesy" => &[
                ("blue_note_fraction", 1.2),
                ("blues_scale_fraction", 0.6),
                ("chord_scale", -0.2),
            ],
            _ => return Err(SessionError::UnknownListener(name.to_string())),
        };
        let taste = taste
            .iter()
            .map(|&(f, w)| (feature_index(f).expect("a known feature"), w))
            .collect();
        Ok(Self {
            name: format!("sim:{short}"),
            taste: Taste::Features(taste),
            seed,
        })
    }

    /// The listener's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hidden utility of a phrase: for a listener of features, standardised by the
    /// session's calibration; for a note listener, its gated taste in [0, 1].
    pub fn utility(&self, session: &Session, phrase: &Candidate) -> f64 {
        match &self.taste {
            Taste::Features(weights) => {
                let c = session.calibration();
                weights
                    .iter()
                    .map(|&(i, w)| w * (phrase.features[i] - c.center[i]) / c.scale[i])
                    .sum()
            }
            Taste::Notes(taste) => taste.hear(&session.task().setting, &phrase.events).utility,
        }
    }

    /// What a note listener hears in a phrase (its taste, musicianship and utility); `None`
    /// for a listener of features.
    pub fn hear(&self, session: &Session, events: &[Event]) -> Option<Heard> {
        match &self.taste {
            Taste::Features(_) => None,
            Taste::Notes(taste) => Some(taste.hear(&session.task().setting, events)),
        }
    }

    fn rng(&self, round: u64, purpose: u64) -> ChaCha8Rng {
        // Each listener hears its own noise, even under the same seed.
        let salt = self.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ salt);
        rng.set_stream(round.wrapping_mul(4).wrapping_add(purpose));
        rng
    }

    /// A rating 1..=5 of a phrase heard in `round`.
    pub fn rate(&self, session: &Session, phrase: &Candidate, round: u64) -> u8 {
        let noise = gaussian(&mut self.rng(round, 0));
        match &self.taste {
            Taste::Features(_) => {
                let u = self.utility(session, phrase);
                (3.0 + 2.0 * (u / RATING_SPREAD).tanh() + noise * RATING_NOISE)
                    .round()
                    .clamp(1.0, 5.0) as u8
            }
            Taste::Notes(taste) => {
                NoteTaste::rate(&taste.hear(&session.task().setting, &phrase.events), noise)
            }
        }
    }

    /// Whether A is preferred to B, asked in `round` (`purpose` separates several questions
    /// in one round).
    pub fn prefers_a(
        &self,
        session: &Session,
        a: &Candidate,
        b: &Candidate,
        round: u64,
        purpose: u64,
    ) -> bool {
        let slope = match self.taste {
            Taste::Features(_) => CHOICE_SLOPE,
            Taste::Notes(_) => notes::CHOICE_SLOPE,
        };
        let d = self.utility(session, a) - self.utility(session, b);
        let p = 1.0 / (1.0 + (-slope * d).exp());
        self.rng(round, 1 + purpose).random::<f64>() < p
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Mean of the last `k` minus mean of the first `k` ratings, `k = min(10, n / 2)`; 0 for
/// fewer than two ratings.
pub fn improvement(ratings: &[u8]) -> f64 {
    let values: Vec<f64> = ratings.iter().map(|&r| f64::from(r)).collect();
    let (first, last) = first_and_last(&values);
    last - first
}

/// Means of the first `k` and the last `k` values, `k = min(10, n / 2)`; zeros for fewer than
/// two values.
pub fn first_and_last(values: &[f64]) -> (f64, f64) {
    let k = (values.len() / 2).min(10);
    if k == 0 {
        return (0.0, 0.0);
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&values[..k]), mean(&values[values.len() - k..]))
}

/// What a simulated session measured.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// The listener.
    pub listener: String,
    /// One rating per round, every round of the session (resumed rounds included).
    pub ratings: Vec<u8>,
    /// Mean of the last 10 ratings minus the first 10 (see [`improvement`]).
    pub improvement: f64,
    /// Share of held-out A/B questions (fresh phrases) where the model predicted the
    /// listener's (noisy) answer.
    pub ab_accuracy: f64,
    /// Share of held-out pairs where the model agrees with the listener's noiseless
    /// preference.
    pub ab_agreement: f64,
    /// Held-out pairs asked.
    pub held_out_pairs: usize,
    /// Median time from feedback to the next phrase ready, in milliseconds (rounds run in
    /// this process only).
    pub latency_ms_median: f64,
    /// Rounds run in this process.
    pub rounds_run: u64,
    /// The listener's hidden utility of each phrase played in this process, in order (for a
    /// note listener its gated taste in [0, 1]; for a listener of features, standardised by
    /// the calibration).
    pub utilities: Vec<f64>,
    /// Mean utility of the first 10 of [`SimReport::utilities`] (`k = min(10, n / 2)`).
    pub utility_first: f64,
    /// Mean utility of the last 10.
    pub utility_last: f64,
    /// Musicianship of the first 10 phrases played in this process.
    pub musicianship_first: MusicianshipReport,
    /// Musicianship of the last 10 phrases played in this process.
    pub musicianship_last: MusicianshipReport,
    /// What the listener model has learnt at the end, in musical terms.
    pub taste: Vec<crate::controls::Learnt>,
}

pub use crate::config::{check_held_out, MAX_HELD_OUT_PAIRS};

/// Runs `session` with a simulated listener until it has answered `rounds` rounds in all:
/// each round the listener rates the played phrase and answers the A/B question. Then asks
/// `held_out_pairs` questions (at most [`MAX_HELD_OUT_PAIRS`]) about fresh phrases to
/// measure the model.
pub fn run(
    session: &mut Session,
    listener: &SimListener,
    rounds: u64,
    held_out_pairs: usize,
) -> Result<SimReport, SessionError> {
    check_held_out(held_out_pairs)?;
    let mut latencies = Vec::new();
    let (mut utilities, mut played_events) = (Vec::new(), Vec::new());
    let mut since_feedback: Option<Instant> = None;
    let start_round = session.rounds_done();
    while session.rounds_done() < rounds {
        let round = session.propose()?;
        if let Some(t) = since_feedback.take() {
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let round = round.clone();
        let played = round.played();
        let rating = listener.rate(session, played, round.index);
        utilities.push(listener.utility(session, played));
        played_events.push(played.events.clone());
        let preference = round.pair.map(|(a, b)| {
            let a_wins = listener.prefers_a(
                session,
                &round.candidates[a],
                &round.candidates[b],
                round.index,
                0,
            );
            if a_wins {
                Choice::A
            } else {
                Choice::B
            }
        });
        since_feedback = Some(Instant::now());
        session.feedback(Feedback {
            rating: Some(rating),
            preference,
        })?;
    }
    if let Some(t0) = since_feedback {
        // The phrase after the last answer: part of the rhythm of a session too.
        session.propose()?;
        latencies.push(t0.elapsed().as_secs_f64() * 1e3);
    }

    // --- held-out A/B questions about fresh phrases ------------------------------------
    let phrases = session.held_out(2 * held_out_pairs)?;
    let (mut right, mut agree) = (0usize, 0usize);
    for (k, pair) in phrases.chunks_exact(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        let predicted = session.model().prob_prefers(&a.features, &b.features)? > 0.5;
        let answered = listener.prefers_a(session, a, b, u64::MAX / 4 - k as u64, 2);
        let truth = listener.utility(session, a) > listener.utility(session, b);
        right += usize::from(predicted == answered);
        agree += usize::from(predicted == truth);
    }
    let asked = phrases.len() / 2;
    let share = |n: usize| {
        if asked == 0 {
            0.0
        } else {
            n as f64 / asked as f64
        }
    };
    let ratings: Vec<u8> = session.ratings().iter().map(|&(_, r)| r).collect();
    latencies.sort_by(f64::total_cmp);
    let (utility_first, utility_last) = first_and_last(&utilities);
    let k = (played_events.len() / 2).min(10);
    let setting = &session.task().setting;
    let musicianship_first = musicianship::report(setting, &played_events[..k]);
    let musicianship_last =
        musicianship::report(setting, &played_events[played_events.len() - k..]);
    Ok(SimReport {
        listener: listener.name().to_string(),
        improvement: improvement(&ratings),
        ratings,
        ab_accuracy: share(right),
        ab_agreement: share(agree),
        held_out_pairs: asked,
        latency_ms_median: latencies.get(latencies.len() / 2).copied().unwrap_or(0.0),
        rounds_run: session.rounds_done() - start_round,
        utilities,
        utility_first,
        utility_last,
        musicianship_first,
        musicianship_last,
        taste: crate::controls::learnt(session.model()).to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_compares_first_and_last_ten() {
        let mut r = vec![1u8; 10];
        r.extend([3u8; 20]);
        r.extend([5u8; 10]);
        assert_eq!(improvement(&r), 4.0);
        assert_eq!(improvement(&[2, 4]), 2.0);
        assert_eq!(improvement(&[]), 0.0);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(SimListener::by_name("sim:jazzy", 0).is_err());
        for name in SIM_NAMES {
            assert_eq!(SimListener::by_name(name, 0).unwrap().name(), *name);
        }
    }
}

#[cfg(test)]
mod note_listener_tests {
    use super::*;
    use crate::SessionConfig;
    use cadenza_env::{HOLD, REST};
    use rand::Rng;

    fn candidate(events: Vec<Event>) -> Candidate {
        Candidate {
            events,
            features: Vec::new(),
            theory: 0.0,
            utility: 0.0,
            score: 0.0,
            musical: false,
            states: Vec::new(),
            rewards: Vec::new(),
        }
    }

    /// Notes of a beat each, a beat's rest where the pitch is 0.
    fn beats(session: &Session, pitches: &[u8]) -> Candidate {
        let enc = session.task().setting.encoding;
        let mut events = Vec::new();
        for &p in pitches {
            events.push(if p == 0 {
                REST
            } else {
                enc.event_of_pitch(p).unwrap()
            });
            events.extend([HOLD; 3]);
        }
        candidate(events)
    }

    #[test]
    fn note_listeners_rate_random_notes_low_and_a_tune_they_like_high() {
        let session = Session::new(
            SessionConfig {
                pretrain_steps: 1_000,
                calibration_phrases: 4,
                ..SessionConfig::default()
            },
            None,
        )
        .unwrap();
        let setting = session.task().setting.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // Over | Dm7 | G7 | Cmaj7 | % |: high falling arpeggios, each left by step, then a low
        // line that climbs by step to its peak at the end.
        let arpeggios = beats(
            &session,
            &[
                81, 77, 74, 76, 77, 74, 71, 72, 79, 76, 72, 74, 76, 74, 72, 0,
            ],
        );
        let climbing = beats(
            &session,
            &[
                62, 64, 65, 64, 62, 65, 67, 65, 64, 67, 69, 67, 71, 72, 74, 76,
            ],
        );
        for (name, liked) in [
            ("sim:high", &arpeggios),
            ("sim:falling", &arpeggios),
            ("sim:arpeggio", &arpeggios),
            ("sim:climax", &climbing),
        ] {
            let listener = SimListener::by_name(name, 1).unwrap();
            let heard = listener.hear(&session, &liked.events).unwrap();
            assert!(heard.musical, "{name}: {:?}", heard.scores);
            let mut liked_sum = 0u32;
            for round in 0..10 {
                let random = candidate(
                    (0..setting.length)
                        .map(|_| rng.random_range(0..setting.encoding.num_events()) as Event)
                        .collect(),
                );
                assert!(listener.rate(&session, &random, round) <= 2, "{name}");
                liked_sum += u32::from(listener.rate(&session, liked, round));
                assert!(
                    listener.prefers_a(&session, liked, &random, round, 0),
                    "{name}"
                );
            }
            assert!(liked_sum >= 35, "{name}: {liked_sum} over 10 ratings");
        }
    }
}
