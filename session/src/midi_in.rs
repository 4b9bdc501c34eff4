//! Live MIDI input (feature `midi-in`): a call played on a MIDI keyboard, for the terminal's
//! duet mode. The messages go to a [`CallRecorder`], which places them on the session's grid
//! and ends the call (see [`crate::call_recorder`]). On Linux the ports are ALSA sequencer
//! ports (midir needs ALSA's headers to build: libasound2-dev and pkg-config).

use crate::call_recorder::{CallRecorder, RecordedCall};
use crate::error::SessionError;
use midir::{Ignore, MidiInput, MidiInputConnection};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const CLIENT: &str = "cadenza";

/// How often the recorder's clock is advanced while no message comes.
const TICK: Duration = Duration::from_millis(5);

fn error(message: impl std::fmt::Display) -> SessionError {
    SessionError::MidiIn(message.to_string())
}

/// An open MIDI input port: the messages it receives, each with the time it arrived.
pub struct MidiIn {
    _connection: MidiInputConnection<()>,
    messages: Receiver<(Instant, Vec<u8>)>,
    port: String,
}

impl std::fmt::Debug for MidiIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidiIn").field("port", &self.port).finish()
    }
}

impl MidiIn {
    /// Opens the input port named `name`: an exact name, or else the one port whose name
    /// contains `name` (case-insensitive). When none or several match, the error lists the
    /// ports there are.
    pub fn open(name: &str) -> Result<Self, SessionError> {
        let mut input = MidiInput::new(CLIENT).map_err(|e| {
            error(format!(
                "cannot open the MIDI system ({e}); on Linux this needs the ALSA sequencer (/dev/snd/seq, module snd-seq)"
            ))
        })?;
        // System exclusive, timing and active sensing are not notes.
        input.ignore(Ignore::All);
        let (found, port) = crate::midi_ports::open_port(&input, name, "input").map_err(error)?;
        let (sender, messages) = mpsc::channel();
        let connection = input
            .connect(
                &found,
                "cadenza-call",
                move |_, message, _| {
                    // The session reads until the call ends; a message after it has gone
                    // has no reader, which is not an error.
                    let _ = sender.send((Instant::now(), message.to_vec()));
                },
                (),
            )
            .map_err(|e| error(format!("cannot connect to '{port}': {e}")))?;
        Ok(Self {
            _connection: connection,
            messages,
            port,
        })
    }

    /// The port's name.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// Records one call: forgets what was played before, waits up to `wait` for the first
    /// note, then feeds `recorder` until the call ends. A call with no note in time is an
    /// empty call (the duet's check then says so).
    pub fn record(
        &self,
        mut recorder: CallRecorder,
        wait: Duration,
    ) -> Result<RecordedCall, SessionError> {
        while self.messages.try_recv().is_ok() {}
        let start = Instant::now();
        let micros = |at: Instant| at.saturating_duration_since(start).as_micros() as u64;
        loop {
            match self.messages.recv_timeout(TICK) {
                Ok((at, message)) => {
                    if recorder.push(micros(at), &message) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if recorder.tick(micros(Instant::now())) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(error(format!("'{}' closed", self.port)))
                }
            }
            if !recorder.started() && start.elapsed() > wait {
                break;
            }
        }
        Ok(recorder.finish())
    }
}
