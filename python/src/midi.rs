//! `to_midi`, `write_song` and `from_midi`: melodies of a task as Standard MIDI Files, ABC
//! tunes and MusicXML scores.

use crate::error::Error;
use crate::spec;
use cadenza_env::formats::{self, Format};
use cadenza_env::midi::{import_file, ImportOptions, MidiSong, OutOfRange};
use cadenza_env::Event;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

/// Writes `events` (int64, one per step) as a MIDI file at `path`, with the task's tempo,
/// meter, key and backing chords (the chords only with `chords=True`).
#[pyfunction]
#[pyo3(signature = (events, path, task="rl-tuner", config=None, title=None, tempo=None, program=None, chords=true))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn to_midi(
    py: Python<'_>,
    events: PyReadonlyArray1<'_, i64>,
    path: std::path::PathBuf,
    task: &str,
    config: Option<&str>,
    title: Option<String>,
    tempo: Option<f64>,
    program: Option<u8>,
    chords: bool,
) -> PyResult<()> {
    let song = song_of(events, task, config, title, tempo, program, chords)?;
    py.detach(|| song.write(&path)).map_err(Error::from)?;
    Ok(())
}

/// Writes `events` as a song at `path` in `format` (`midi`, `abc`, `musicxml`; default: the
/// one the extension names), with the task's tempo, meter, key and chords (as chord symbols
/// in ABC and MusicXML).
#[pyfunction]
#[pyo3(signature = (events, path, task="rl-tuner", config=None, title=None, tempo=None, chords=true, format=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_song(
    py: Python<'_>,
    events: PyReadonlyArray1<'_, i64>,
    path: std::path::PathBuf,
    task: &str,
    config: Option<&str>,
    title: Option<String>,
    tempo: Option<f64>,
    chords: bool,
    format: Option<&str>,
) -> PyResult<()> {
    let format: Option<Format> = format
        .map(|f| f.parse())
        .transpose()
        .map_err(|e: formats::FormatError| Error::argument("format", e.to_string()))?;
    let song = song_of(events, task, config, title, tempo, None, chords)?;
    py.detach(|| formats::write_song(&song, &path, format))
        .map_err(|e| Error::argument("path", e.to_string()))?;
    Ok(())
}

fn song_of(
    events: PyReadonlyArray1<'_, i64>,
    task: &str,
    config: Option<&str>,
    title: Option<String>,
    tempo: Option<f64>,
    program: Option<u8>,
    chords: bool,
) -> PyResult<MidiSong> {
    let task = spec::task(task, config)?;
    let encoding = task.setting.encoding;
    let events: Vec<u32> = events
        .as_array()
        .iter()
        .map(|&e| {
            u32::try_from(e)
                .map_err(|_| Error::argument("events", format!("event {e} is negative")))
        })
        .collect::<Result<_, _>>()?;
    encoding.validate(&events).map_err(Error::from)?;
    let melody: Vec<Event> = events.iter().map(|&e| e as Event).collect();
    let song = task.melody_song(&melody).map_err(Error::from)?;
    Ok(MidiSong {
        title: title.or_else(|| Some(format!("Cadenza: {}", task.name))),
        tempo_qpm: tempo.unwrap_or(song.tempo_qpm),
        melody_program: program.unwrap_or(song.melody_program),
        chords: if chords { song.chords } else { Vec::new() },
        ..song
    })
}

/// Writes a duet's exchange (`calls_and_answers`: (events, is_call, player) per phrase, in
/// order) as one MIDI file with each phrase over the backing chords it was played over (see
/// `TaskSpec::exchange_song`).
#[pyfunction]
#[pyo3(signature = (phrases, path, config=None))]
pub(crate) fn duet_to_midi(
    py: Python<'_>,
    phrases: Vec<(Vec<i64>, bool, String)>,
    path: std::path::PathBuf,
    config: Option<&str>,
) -> PyResult<()> {
    let task = spec::task("duet", config)?;
    let encoding = task.setting.encoding;
    let mut parts = Vec::with_capacity(phrases.len());
    for (k, (events, is_call, player)) in phrases.into_iter().enumerate() {
        let events: Vec<u32> = events
            .iter()
            .map(|&e| {
                u32::try_from(e).map_err(|_| {
                    Error::argument("phrases", format!("phrase {k}: event {e} is negative"))
                })
            })
            .collect::<Result<_, _>>()?;
        encoding.validate(&events).map_err(Error::from)?;
        parts.push(cadenza_env::duet::DuetPhrase {
            player,
            events: events.iter().map(|&e| e as Event).collect(),
            is_call,
        });
    }
    let song = task.exchange_song(&parts).map_err(Error::from)?;
    py.detach(|| song.write(&path)).map_err(Error::from)?;
    Ok(())
}

/// Reads the melody of the MIDI file at `path` as events of the task's encoding on the
/// task's step grid (int64, one per step). `track` picks a track (default: the one with the
/// most notes, chord tracks aside); `fold_octaves` moves out-of-range notes by octaves
/// instead of failing.
#[pyfunction]
#[pyo3(signature = (path, task="rl-tuner", config=None, track=None, fold_octaves=false))]
pub(crate) fn from_midi<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    task: &str,
    config: Option<&str>,
    track: Option<usize>,
    fold_octaves: bool,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let task = spec::task(task, config)?;
    let options = ImportOptions {
        steps_per_quarter: task.steps_per_quarter(),
        track,
        ..ImportOptions::default()
    };
    let out_of_range = if fold_octaves {
        OutOfRange::FoldOctaves
    } else {
        OutOfRange::Error
    };
    let events = py
        .detach(|| import_file(&path, &options)?.to_events(task.setting.encoding, out_of_range))
        .map_err(Error::from)?;
    Ok(PyArray1::from_vec(
        py,
        events.into_iter().map(i64::from).collect(),
    ))
}
