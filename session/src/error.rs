//! The errors of sessions.

/// Errors of sessions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A configuration field out of range.
    #[error("invalid session config: field '{field}': {message}")]
    Config {
        /// The field.
        field: String,
        /// What is expected.
        message: String,
    },
    /// The task could not be built.
    #[error("task: {0}")]
    Task(#[from] cadenza_env::TaskError),
    /// The agent failed.
    #[error("agent: {0}")]
    Agent(#[from] cadenza_agents::AgentError),
    /// The environment failed.
    #[error("environment: {0}")]
    Env(#[from] cadenza_env::EnvError),
    /// The listener model refused an input.
    #[error("listener model: {0}")]
    Listener(#[from] cadenza_reward::listener::ListenerError),
    /// Feedback that does not fit the current round (the caller's fault: nothing changed).
    #[error("feedback: {0}")]
    Feedback(String),
    /// Something that should not happen went wrong inside the session (a fault of the
    /// session or its agent, not of the caller's input).
    #[error("internal error: {0}")]
    Internal(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A session log that cannot be used.
    #[error("session log {path}: {message}")]
    Log {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A MIDI file could not be written.
    #[error("MIDI: {0}")]
    Midi(#[from] cadenza_env::midi::MidiError),
    /// A song could not be written in the format asked for.
    #[error(transparent)]
    Format(#[from] cadenza_env::formats::FormatError),
    /// The web server could not listen where asked.
    #[error("cannot serve on {address}: {message}")]
    Bind {
        /// The address asked for.
        address: String,
        /// Why not.
        message: String,
    },
    /// A MIDI output port could not be used.
    #[error("MIDI output: {0}")]
    MidiOut(String),
    /// A MIDI input port could not be used.
    #[error("MIDI input: {0}")]
    MidiIn(String),
    /// An unknown simulated listener.
    #[error("unknown listener '{0}': expected sim:stepwise, sim:syncopated or sim:bluesy")]
    UnknownListener(String),
}
