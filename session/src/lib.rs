//! # cadenza-session
//!
//! Human-in-the-loop improvisation: the agent plays a phrase over a backing progression, a
//! listener reacts (a rating from 1 to 5, or "A or B?"), and the agent adapts to that
//! listener's taste within the session, phrase by phrase.
//!
//! One round of a [`Session`]:
//!
//! 1. **Propose** ([`Session::propose`]): sample candidate phrases from a tabular Q agent
//!    (pre-trained on the `improv` reward at session start, seeded) plus a per-session
//!    preference table, with a softmax temperature; score each by the theory floor (the
//!    `improv` reward, standardised) plus `λ ·` the listener model's utility; play the best.
//!    The listener model also picks the most informative pair of candidates for an A/B
//!    question.
//! 2. **React** ([`Session::feedback`]): the feedback is checked once, then the rating and/or
//!    the A/B answer update the [`ListenerModel`](cadenza_reward::listener::ListenerModel)
//!    (a Bayesian logistic / Bradley-Terry model), and the agent adapts on every candidate of
//!    the round, rated by the model's utility: Monte-Carlo Q-updates move the preference
//!    table towards the candidates the model now likes, so that the very next proposal
//!    already reflects the reaction.
//!
//! A listener can also ask in musical terms ([`Controls`]: a range, a density, space,
//! chromaticism; [`Session::set_controls`]): the next phrase is sampled within the range and
//! biased towards what was asked. The listener model's learnt taste, read in the same terms
//! ([`controls::learnt`]), steers the sampling too ([`SessionConfig::steering`]), and a
//! musicianship guard plays the best candidate that is music
//! ([`SessionConfig::musicianship_guard`]).
//!
//! How the agent samples and adapts is the agent's business: the session drives it through
//! the [`Adapter`](cadenza_agents::Adapter) contract of `cadenza-agents`, and itself only
//! proposes, reacts and logs.
//!
//! Everything is recorded in a durable JSONL [`log`]: a session killed at any moment resumes
//! ([`Session::resume`]) losing at most the phrase being rated, a log rebuilds the listener
//! model ([`replay::replay_model`]) and exports as one MIDI, ABC or MusicXML file
//! ([`replay::export_song`]; its duet exchanges, [`replay::export_duet`]).
//! [`sim`] holds simulated listeners with hidden tastes, so sessions run without a person;
//! [`audio`] renders phrases with their backing chords to WAV.
//!
//! [`web`] serves a session as a local web page (WebAudio playback, a piano roll, ratings and
//! A/B answers with keyboard shortcuts, key/progression/tempo controls, a live chart of the
//! listener model, and a [`duet`] mode: the listener plays a call on the computer keyboard or
//! a MIDI keyboard (Web MIDI) and an agent trained on the `duet` task answers it) over a small JSON API, documented there;
//! `midi_out` (feature `midi-out`)
//! plays phrases live through a MIDI port, and `midi_in` (feature `midi-in`) takes a duet's
//! calls from a MIDI keyboard through [`call_recorder`].
//!
//! The agent is the session's own, pre-trained on the `improv` reward, or a trained agent
//! loaded from a checkpoint ([`AgentSource`]): tabular, or (feature `tch`) a policy-gradient
//! agent. A tabular agent adapts between phrases either through a preference table added to
//! its Q-values ([`Adaptation::Preference`], the default) or by Q-updates of its own table on
//! the theory reward plus the listener model's reward ([`Adaptation::QLearning`]); a
//! policy-gradient agent by REINFORCE steps of its own network on the same reward
//! ([`Adaptation::PolicyGradient`]). [`Session::retask`] changes key, progression or tempo
//! between phrases; the change is logged and replayed on resume.
//!
//! ```
//! use cadenza_session::{sim::SimListener, Session, SessionConfig};
//! let config = SessionConfig { pretrain_steps: 5_000, calibration_phrases: 16, candidates: 4, ..SessionConfig::default() };
//! let mut session = Session::new(config, None).unwrap();
//! let listener = SimListener::by_name("sim:stepwise", 7).unwrap();
//! let report = cadenza_session::sim::run(&mut session, &listener, 3, 20).unwrap();
//! assert_eq!(report.ratings.len(), 3);
//! assert!(report.ratings.iter().all(|r| (1..=5).contains(r)));
//! ```

#![warn(missing_docs)]

mod agent;
pub mod audio;
pub mod call_recorder;
mod config;
pub mod controls;
pub mod duet;
mod engine;
mod error;
mod http;
pub mod log;
#[cfg(feature = "midi-in")]
pub mod midi_in;
#[cfg(feature = "midi-out")]
pub mod midi_out;
pub mod midi_ports;
pub mod replay;
mod rng;
mod round;
pub mod sim;
pub mod web;

pub use config::{Adaptation, AgentSource, SessionConfig, DEFAULT_STEERING};
pub use controls::Controls;
pub use engine::{PreparedTask, RetaskPlan, Session};
pub use error::SessionError;
pub use round::{Calibration, Candidate, Choice, Feedback, Round};
