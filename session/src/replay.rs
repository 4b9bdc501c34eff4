//! What a session log rebuilds without the agent: the listener model ([`replay_model`]), the
//! whole session as one MIDI file ([`export_midi`]), and its duet exchanges as another
//! ([`export_duet`]).
//!
//! Both read the log's [timeline](crate::log::LogContents::timeline): a damaged line costs
//! the round it belongs to and no other, and [`LogReport`] says exactly what was skipped.

use crate::duet::{duet_task, same_duet};
use crate::error::SessionError;
use crate::log::{self, Entry, LogReport, LoggedRound, Record};
use crate::round::{Candidate, Round};
use cadenza_env::duet::DuetPhrase;
use cadenza_env::formats::Format;
use cadenza_env::improv::ImprovConfig;
use cadenza_env::midi::{ChordSpan, KeySignature, MidiSong};
use cadenza_env::{Note, TaskSpec};
use cadenza_reward::listener::{self, FeatureExtractor, ListenerConfig, ListenerModel};
use std::path::Path;

/// What [`replay_model`] found.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The rebuilt listener model.
    pub model: ListenerModel,
    /// Answered rounds replayed.
    pub rounds: usize,
    /// Ratings, by round.
    pub ratings: Vec<(u64, u8)>,
    /// What was skipped or worked around: corrupt lines, rounds left out, lines out of
    /// order, unchecked records.
    pub report: LogReport,
}

/// Rebuilds the listener model from a log, without the agent: the features of the logged
/// phrases, standardised by the logged calibration, fed in the logged order. A log written
/// before the note profile calibrated the named features only, and its model reads those.
pub fn replay_model(path: &Path) -> Result<Replay, SessionError> {
    let contents = log::read(path)?;
    let (config, calibration) = contents.header(path)?;
    let mut task = config.task.to_task()?;
    let dim = calibration.center.len();
    let mut model = ListenerModel::for_phrase_prefix(
        dim,
        ListenerConfig {
            prior_variance: config.prior_variance,
        },
    )
    .map_err(|_| crate::engine::feature_count_error(dim))?;
    model.set_standardisation(&calibration.center, &calibration.scale)?;
    let mut extractor = FeatureExtractor::new();
    let mut ratings = Vec::new();
    let mut rounds = 0;
    let timeline = contents.timeline();
    let mut session_config = config;
    // The duet answer waiting for a rating, with its features.
    let mut duet_pending: Option<(u64, Vec<f64>)> = None;
    for entry in timeline.entries {
        let (logged, feedback) = match entry {
            Entry::Settings(config) => {
                task = config.to_task()?;
                session_config.task = config;
                continue;
            }
            // The controls steer only what is sampled next: the model learns from the
            // logged phrases.
            Entry::Controls(_) => continue,
            // A rated duet answer teaches the model as a rated phrase does.
            Entry::DuetCall { exchange, answer } => {
                let setting = crate::duet::duet_task(&session_config.task)?
                    .setting
                    .answer_frame();
                let mut features = extractor.extract(&setting, &answer)?;
                features.truncate(dim);
                duet_pending = Some((exchange, features));
                continue;
            }
            Entry::DuetRating { exchange, rating } => {
                if let Some((_, features)) = duet_pending.take_if(|(e, _)| *e == exchange) {
                    model.observe(listener::Feedback::Rating { features, rating })?;
                }
                continue;
            }
            Entry::Answered(logged, feedback) => (logged, feedback),
        };
        let round = model_round(path, &task, &mut extractor, dim, &logged)?;
        round.teach(&mut model, feedback)?;
        if let Some(r) = feedback.rating {
            ratings.push((logged.round, r));
        }
        rounds += 1;
    }
    Ok(Replay {
        model,
        rounds,
        ratings,
        report: LogReport {
            corrupt: contents.corrupt,
            skipped: timeline.skipped,
            notices: contents.notices,
            unchecked: contents.unchecked,
        },
    })
}

/// Writes the whole session as one MIDI file; see [`export_song`].
pub fn export_midi(path: &Path, out: &Path) -> Result<usize, SessionError> {
    export_song(path, out, Some(Format::Midi))
}

/// Writes the whole session as one file (MIDI, ABC or MusicXML: `format`, else the one the
/// extension of `out` names): the phrase of every answered round, once, in
/// order (the rounds [`replay_model`] replays), each over its own pass of the backing chords
/// of the task it was played in. A phrase proposed again (after a resume or a change of
/// task) counts once, as the one that was answered. Returns the number of phrases written.
pub fn export_song(path: &Path, out: &Path, format: Option<Format>) -> Result<usize, SessionError> {
    let contents = log::read(path)?;
    let (config, _) = contents.header(path)?;
    let first = config.task.to_task()?;
    let mut task = first.clone();
    let mut melody: Vec<Note> = Vec::new();
    let mut chords = Vec::new();
    let mut phrases = 0usize;
    let mut offset = 0u32;
    for entry in contents.timeline().entries {
        let logged = match entry {
            Entry::Settings(config) => {
                // A log whose later task does not build keeps the task it had.
                if let Ok(spec) = config.to_task() {
                    task = spec;
                }
                continue;
            }
            Entry::Controls(_) | Entry::DuetCall { .. } | Entry::DuetRating { .. } => continue,
            Entry::Answered(logged, _) => logged,
        };
        let Some(events) = logged.candidates.get(logged.played) else {
            continue;
        };
        let Ok(notes) = task.setting.encoding.to_notes(events) else {
            continue;
        };
        let length = task.setting.length as u32;
        melody.extend(notes.into_iter().map(|n| Note {
            start: n.start + offset,
            ..n
        }));
        chords.extend(task.backing.iter().map(|b| ChordSpan {
            start: b.start + offset,
            duration: b.steps,
            pitches: b.pitches.clone(),
            symbol: Some(b.symbol.clone()),
        }));
        offset += length;
        phrases += 1;
    }
    let task = first;
    let steps_per_quarter = config.task.steps_per_quarter;
    let song = MidiSong {
        title: Some("Cadenza session".to_string()),
        tempo_qpm: task.tempo_qpm,
        time_signature: task.meter,
        key_signature: Some(KeySignature {
            sharps: task.key_signature.0,
            minor: task.key_signature.1,
        }),
        chords,
        ..MidiSong::new(melody, steps_per_quarter)
    };
    cadenza_env::formats::write_song(&song, out, format)?;
    Ok(phrases)
}

/// Who played the calls and the answers of a session's duet, as [`export_duet`] names them.
pub const DUET_PLAYERS: (&str, &str) = ("you", "cadenza");

/// What [`export_duet`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuetExport {
    /// Exchanges (a call and its answer each).
    pub exchanges: usize,
    /// Steps of the whole file.
    pub steps: usize,
}

/// Writes the duet exchanges of a session log (its `duet_call` records, in order) as one
/// file (MIDI, ABC or MusicXML: `format`, else the one the extension of `out` names): each
/// call followed by its answer, each over the backing chords it was played over, the way
/// `cadenza duet --out` writes an exchange ([`TaskSpec::exchange_song`]). The duet task is
/// rebuilt from the session's task in force when the call was played (the log's session and
/// settings records) exactly as duet mode builds it ([`duet_task`]). Exchanges played in
/// different keys, ranges or tempi follow one another in the one file, in the tempo, meter
/// and key of the first. A log without duet records is an error naming it.
pub fn export_duet(
    path: &Path,
    out: &Path,
    format: Option<Format>,
) -> Result<DuetExport, SessionError> {
    let contents = log::read(path)?;
    let (config, _) = contents.header(path)?;
    let bad = |message: String| SessionError::Log {
        path: path.display().to_string(),
        message,
    };
    let mut current = config.task.clone();
    // Runs of exchanges played in one duet task.
    let mut runs: Vec<(ImprovConfig, TaskSpec, Vec<DuetPhrase>)> = Vec::new();
    let mut exchanges = 0usize;
    for (line, record) in &contents.records {
        let (exchange, call, answer) = match record {
            Record::Settings { task, .. } => {
                current = task.clone();
                continue;
            }
            Record::DuetCall {
                exchange,
                call,
                answer,
            } => (exchange, call, answer),
            _ => continue,
        };
        if !runs.last().is_some_and(|(c, _, _)| same_duet(c, &current)) {
            let task = duet_task(&current).map_err(|e| {
                bad(format!(
                    "line {line}: duet exchange {exchange}: its duet task does not build: {e}"
                ))
            })?;
            runs.push((current.clone(), task, Vec::new()));
        }
        let Some((_, task, phrases)) = runs.last_mut() else {
            continue;
        };
        let setting = &task.setting;
        let answer_steps = setting.length - setting.call_steps;
        for (field, events, steps) in [
            ("call", call, setting.call_steps),
            ("answer", answer, answer_steps),
        ] {
            if events.len() != steps {
                return Err(bad(format!(
                    "line {line}: duet exchange {exchange}: {field}: {} events, expected {steps} (the duet's {} bars)",
                    events.len(),
                    crate::duet::CALL_BARS
                )));
            }
            setting.encoding.to_notes(events).map_err(|e| {
                bad(format!(
                    "line {line}: duet exchange {exchange}: {field}: {e}"
                ))
            })?;
        }
        phrases.push(DuetPhrase {
            player: DUET_PLAYERS.0.into(),
            events: call.clone(),
            is_call: true,
        });
        phrases.push(DuetPhrase {
            player: DUET_PLAYERS.1.into(),
            events: answer.clone(),
            is_call: false,
        });
        exchanges += 1;
    }
    let mut song: Option<MidiSong> = None;
    let mut steps = 0u32;
    for (config, task, phrases) in &runs {
        let part = task
            .exchange_song(phrases)
            .map_err(|e| SessionError::Internal(format!("duet exchange as a song: {e}")))?;
        let length: u32 = phrases.iter().map(|p| p.events.len() as u32).sum();
        match &mut song {
            None => song = Some(part),
            Some(song) => {
                if part.steps_per_quarter != song.steps_per_quarter {
                    return Err(bad(format!(
                        "duet exchanges on a grid of {} steps a quarter (task {}) follow ones on {}: one file holds one grid",
                        part.steps_per_quarter, config.key, song.steps_per_quarter
                    )));
                }
                song.melody.extend(part.melody.into_iter().map(|n| Note {
                    start: n.start + steps,
                    ..n
                }));
                song.chords
                    .extend(part.chords.into_iter().map(|c| ChordSpan {
                        start: c.start + steps,
                        ..c
                    }));
            }
        }
        steps += length;
    }
    let Some(song) = song else {
        return Err(bad(
            "no duet_call records: the log holds no duet exchanges to export (play some in the page's duet mode)"
                .into(),
        ));
    };
    cadenza_env::formats::write_song(&song, out, format)?;
    Ok(DuetExport {
        exchanges,
        steps: steps as usize,
    })
}

/// A logged round (of the log at `path`) rebuilt for the listener model only: features, no
/// scores.
fn model_round(
    path: &Path,
    task: &TaskSpec,
    extractor: &mut FeatureExtractor,
    dim: usize,
    logged: &LoggedRound,
) -> Result<Round, SessionError> {
    logged.check(path, None)?;
    let mut candidates = Vec::new();
    for events in &logged.candidates {
        let mut features = extractor.extract(&task.setting, events)?;
        features.truncate(dim);
        candidates.push(Candidate {
            features,
            events: events.clone(),
            theory: 0.0,
            utility: 0.0,
            score: 0.0,
            musical: false,
            states: Vec::new(),
            rewards: Vec::new(),
        });
    }
    Ok(Round {
        index: logged.round,
        candidates,
        played: logged.played,
        pair: logged.pair,
    })
}
