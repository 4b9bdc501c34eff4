//! The web front end: a local page that plays the agent's phrases in the browser and sends
//! back ratings and A/B answers.
//!
//! [`WebServer::bind`] listens, and [`WebServer::run`] serves one [`Session`] over HTTP with
//! a small server of threads (no async runtime): one thread per connection up to
//! [`BindOptions::max_connections`] (more are answered 503), and every request must arrive,
//! headers and body, within [`BindOptions::request_deadline`] (else 408), so slow or
//! flooding clients hold at most a bounded number of connections for a bounded time. The
//! page's state is answered from a copy published after every change, never from behind the
//! session's lock, and a change of task pre-trains its agent outside that lock, as does the
//! first `GET /api/duet` its duet answerer (one at a time: a second one asked meanwhile gets
//! a 503 with `Retry-After`); so `GET /api/state`
//! answers at once while ratings, retasks and floods are being served. The page, its script
//! and its style sheet are compiled into the binary;
//! the browser synthesises the lead, a pad and a bass with WebAudio, so nothing is fetched
//! from anywhere else. Every answer goes through [`Session::feedback`], so it lands in the
//! session's durable log exactly as in the terminal, and `--resume` continues a web session.
//!
//! The server binds a loopback address unless told otherwise ([`BindOptions::allow_remote`]):
//! the session has no authentication, so serving other machines is an explicit choice. On
//! loopback it also refuses requests whose `Host` header names another machine (DNS
//! rebinding), and every `POST` must carry `Content-Type: application/json`, which a
//! cross-site form cannot send without the browser asking first.
//!
//! # The JSON API
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/state` | the [state](#state): round, ratings, settings, what the listener model learnt |
//! | `GET /api/phrase` | the [phrase](#phrase) waiting for feedback (proposed on first request) |
//! | `POST /api/rate` `{"round": 3, "rating": 4, "preference": "a"}` | rates the phrase of round 3 (1..=5), optionally answering its A/B question; `{"state", "phrase"}` with the next phrase |
//! | `POST /api/prefer` `{"round": 3, "choice": "b"}` | answers round 3's A/B question without a rating; `{"state", "phrase"}` |
//! | `POST /api/settings` `{"key": "F major", "progression": "blues", "tempo": 100}` | changes the task between phrases (any subset of the three; see [`Session::retask`]); `{"state", "phrase"}` |
//! | `POST /api/controls` `{"low": 62, "high": 76, "density": -0.5, "space": 1, "chromatic": 0}` | asks for a range, a density, space, chromaticism ([`Controls`](crate::Controls); any subset, the others kept; `null` clears `low`/`high`); the phrase waiting is replaced by one that follows them; `{"state", "phrase"}` |
//! | `GET /api/duet` | duet mode's frame (pre-training the [`crate::duet`] answerer on first use): `{"state", "duet": {"call_bars", "answer_bars", "call_steps", "length", "steps_per_bar", "steps_per_quarter", "tempo", "key", "low", "high", "scale", "chords", "ready_ms"}}` |
//! | `POST /api/duet/call` `{"notes": [{"pitch": 64, "start": 0, "duration": 4}]}` | the answer to the listener's call (checked by [`DuetPlayer::call_events`](crate::duet::DuetPlayer::call_events); logged): `{"state", "exchange": {"exchange", "call", "answer", "answer_start", "answer_ms"}}`, `answer_ms` the time from the call received to the answer ready |
//! | `POST /api/duet/rate` `{"exchange": 0, "rating": 4}` | rates the answer of that exchange, which must be the one waiting (logged); `{"state"}` |
//!
//! `round` must be the round of the phrase waiting for feedback, so that a double click or a
//! stale page cannot rate the wrong phrase. Malformed requests change nothing and get a 4xx
//! answer `{"error": "..."}` naming the field: 400 for bad JSON, unknown fields, missing
//! fields or values out of range; 404 for an unknown path; 405 (with `Allow`) for a wrong
//! method; 409 for a stale `round` or a change of task that the agent cannot follow; 411/413
//! for a body without a length or over [`MAX_BODY`] bytes; 415 for a `POST` that is not JSON;
//! 403 for a foreign `Host`; 408 for a request that did not arrive within the deadline; 503
//! (with `Retry-After: 1`) while the server is at its connection limit or another change of
//! task is being prepared. Feedback is checked once, by [`Session::feedback`]: a rating
//! outside 1..=5 or an A/B answer to a round that asked none is a 400 from there. A fault of
//! the server (the log cannot be written, the agent fails) is a 500.
//!
//! ## State
//!
//! ```json
//! {"round": 3, "ratings": [{"round": 0, "rating": 4}], "observations": 5,
//!  "settings": {"key": "C major", "progression": "ii-v-i", "tempo": 120.0},
//!  "task_locked": false, "agent": "pre-trained", "adaptation": "preference", "logging": true,
//!  "model": {"bias": 0.1, "features": [{"name": "step_fraction", "weight": 0.4, "sd": 0.7}]},
//!  "controls": {"low": 48, "high": 84, "density": 0.0, "space": 1.0, "chromatic": 0.0},
//!  "taste": [{"name": "register", "preference": 0.2, "sd": 0.3, "steer": 0.8}, ...],
//!  "steering": 4.0, "musicianship_guard": true,
//!  "progressions": ["ii-v-i", "blues", ...],
//!  "duet": {"exchanges": 1, "pending": 0, "ratings": [{"exchange": 0, "rating": 4}]}}
//! ```
//!
//! `controls` holds the range in force (the task's where none was asked); `taste` is what the
//! listener model has learnt along each musical dimension ([`controls::learnt`]) and how far
//! the next phrase is steered along it (controls and learnt taste together).
//!
//! ## Phrase
//!
//! ```json
//! {"round": 3, "events": [...], "notes": [{"pitch": 64, "start": 0, "duration": 2}],
//!  "chords": [{"start": 0, "steps": 16, "symbol": "Dm7", "pitches": [62, 65, 69, 72]}],
//!  "tempo": 120.0, "steps_per_quarter": 4, "steps_per_bar": 16, "length": 64,
//!  "low": 60, "high": 84, "key": "C major", "theory": 0.8, "utility": 0.2,
//!  "musicianship": {"harmony": 0.95, "line": 0.8, "rhythm": 0.6, "variety": 0.93, "failures": []},
//!  "measures": {"notes_per_beat": 1.5, "rest_share": 0.1, "chromatic_share": 0.05,
//!               "lowest": 62, "highest": 79, "mean_pitch": 70.2},
//!  "pair": {"a": {"notes": [...], "utility": 0.1}, "b": {"notes": [...], "utility": -0.3}},
//!  "propose_ms": 4.2}
//! ```

use crate::controls;
use crate::duet::{self, CallNote, DuetPlayer};
use crate::engine::{RetaskPlan, Session};
use crate::error::SessionError;
use crate::http::{self, Head, Limits, Service};
use crate::round::{Candidate, Choice, Feedback, Round};
use cadenza_env::improv::ImprovConfig;
use cadenza_env::{Event, TaskSpec};
use cadenza_reward::musicianship::{self, MUSIC};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

pub use crate::http::Reply;

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 16 * 1024;

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const STYLE_CSS: &str = include_str!("../web/style.css");

/// Where and how to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOptions {
    /// An IP address, or `localhost` (default `127.0.0.1`).
    pub host: String,
    /// The port; 0 picks a free one (see [`WebServer::url`]).
    pub port: u16,
    /// Allow an address other than loopback (the page has no authentication).
    pub allow_remote: bool,
    /// Connections served at once; more are answered 503 at once (default 64).
    pub max_connections: usize,
    /// Time for a whole request, headers and body, to arrive (default 5 s); a slower one
    /// gets a 408 and its connection is closed.
    pub request_deadline: Duration,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_string(),
            port: 8765,
            allow_remote: false,
            max_connections: 64,
            request_deadline: Duration::from_secs(5),
        }
    }
}

impl BindOptions {
    /// The address to bind, after checking it: an IP address (or `localhost`), and a
    /// loopback one unless [`BindOptions::allow_remote`].
    pub fn address(&self) -> Result<SocketAddr, SessionError> {
        let ip: IpAddr = if self.host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| SessionError::Bind {
                    address: self.host.clone(),
                    message: "expected an IP address such as 127.0.0.1 or ::1, or localhost".into(),
                })?
        };
        if !ip.is_loopback() && !self.allow_remote {
            return Err(SessionError::Bind {
                address: ip.to_string(),
                message: "not a loopback address: the session page has no authentication, so \
                          it is served to this machine only; pass --allow-remote to serve \
                          other machines"
                    .into(),
            });
        }
        Ok(SocketAddr::new(ip, self.port))
    }
}

/// A bound address, ready to serve a session. See the module docs.
pub struct WebServer {
    listener: TcpListener,
    address: SocketAddr,
    options: BindOptions,
}

impl std::fmt::Debug for WebServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServer")
            .field("address", &self.address)
            .finish()
    }
}

impl WebServer {
    /// Binds the address (checked by [`BindOptions::address`]). Bind before making the
    /// session: an address in use then costs no pre-training and leaves no log behind.
    pub fn bind(options: &BindOptions) -> Result<Self, SessionError> {
        let wanted = options.address()?;
        if options.max_connections == 0 || options.request_deadline.is_zero() {
            return Err(SessionError::Bind {
                address: wanted.to_string(),
                message: "max_connections and request_deadline must be positive".into(),
            });
        }
        let bind_error = |e: std::io::Error| SessionError::Bind {
            address: wanted.to_string(),
            message: e.to_string(),
        };
        let listener = TcpListener::bind(wanted).map_err(bind_error)?;
        let address = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            listener,
            address,
            options: options.clone(),
        })
    }

    /// The address bound (with the port picked when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Serves `session` until the process ends.
    pub fn run(self, session: Session) {
        let limits = Limits {
            max_connections: self.options.max_connections,
            request_deadline: self.options.request_deadline,
            max_body: MAX_BODY,
        };
        let service = WebService {
            view: Mutex::new(View::of(&session)),
            session: Mutex::new(session),
            retasking: Mutex::new(()),
            allow_remote: self.options.allow_remote,
            port: self.address.port(),
        };
        http::serve(self.listener, limits, Arc::new(service));
    }
}

/// What the page is shown, published after every change of the session, so that reading it
/// never waits for the session.
struct View {
    state: Value,
    /// The phrase waiting for feedback, once proposed.
    phrase: Option<Value>,
}

impl View {
    fn of(session: &Session) -> Self {
        Self {
            state: state_json(session),
            phrase: session
                .pending()
                .map(|round| pending_phrase_json(session, round)),
        }
    }
}

/// The session behind the server.
struct WebService {
    session: Mutex<Session>,
    view: Mutex<View>,
    /// Held while a change of task is prepared (pre-training, outside the session's lock).
    retasking: Mutex<()>,
    allow_remote: bool,
    port: u16,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl WebService {
    /// Runs `f` on the session, then publishes what the page is shown.
    fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut session = lock(&self.session);
        let result = f(&mut session);
        let view = View::of(&session);
        *lock(&self.view) = view;
        result
    }

    fn phrase(&self) -> Reply {
        let start = Instant::now();
        let cached = lock(&self.view).phrase.clone();
        let result = match cached {
            Some(phrase) => Ok(phrase),
            None => self.with_session(phrase_json),
        };
        match result {
            Ok(mut phrase) => {
                phrase["propose_ms"] = json!(start.elapsed().as_secs_f64() * 1e3);
                Reply::json(200, &phrase)
            }
            Err(reply) => reply,
        }
    }

    /// `POST /api/settings`, pre-training outside the session's lock.
    fn settings(&self, body: &[u8]) -> Reply {
        let request: SettingsRequest = match parse(body) {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        let _gate = match self.retasking.try_lock() {
            Ok(gate) => gate,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Reply::error(
                    503,
                    "another change of task is being prepared: try again in a moment",
                )
            }
        };
        let plan = plan_settings(&lock(&self.session), request);
        let prepared = match plan.and_then(|plan| plan.prepare().map_err(session_error)) {
            Ok(prepared) => prepared,
            Err(reply) => return reply,
        };
        let result = self.with_session(|session| {
            session.apply_retask(prepared).map_err(retask_error)?;
            let phrase = phrase_json(session)?;
            Ok(json!({ "state": state_json(session), "phrase": phrase }))
        });
        match result {
            Ok(value) => Reply::json(200, &value),
            Err(reply) => reply,
        }
    }
}

impl WebService {
    /// `GET /api/duet`, pre-training the duet answerer outside the session's lock (behind
    /// the same gate as a change of task).
    fn duet(&self) -> Reply {
        let config = {
            let session = lock(&self.session);
            (!session.duet_ready()).then(|| session.config().clone())
        };
        if let Some(config) = config {
            let _gate = match self.retasking.try_lock() {
                Ok(gate) => gate,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Reply::error(
                        503,
                        "the duet answerer or a change of task is being prepared: try again in a moment",
                    )
                }
            };
            match DuetPlayer::new(&config) {
                Ok(player) => self.with_session(|session| session.install_duet(player)),
                Err(e) => return session_error(e),
            }
        }
        match self.with_session(duet_frame) {
            Ok(value) => Reply::json(200, &value),
            Err(reply) => reply,
        }
    }
}

impl Service for WebService {
    fn check(&self, head: &Head) -> Result<(), Reply> {
        check_head(head, self.allow_remote, self.port)
    }

    fn respond(&self, head: &Head, body: &[u8]) -> Reply {
        match head.path.as_str() {
            "/api/state" => Reply::json(200, &lock(&self.view).state),
            "/api/phrase" => self.phrase(),
            "/api/settings" => self.settings(body),
            "/api/duet" => self.duet(),
            path => self.with_session(|session| handle(session, &head.method, path, body)),
        }
    }
}

fn asset(content_type: &'static str, body: &str) -> Reply {
    Reply {
        status: 200,
        content_type,
        body: body.to_string(),
        allow: None,
    }
}

/// Checks what does not need the session (host, route, content type), before the body is
/// read.
fn check_head(head: &Head, allow_remote: bool, port: u16) -> Result<(), Reply> {
    if !allow_remote {
        let host = head.header("Host").unwrap_or("");
        if !host_is_local(host, port) {
            return Err(Reply::error(
                403,
                format!(
                    "Host header '{host}': expected this machine's loopback address (127.0.0.1:{port} or localhost:{port})"
                ),
            ));
        }
    }
    check_route(&head.method, &head.path)?;
    if head.method == "POST" {
        let content_type = head.header("Content-Type").unwrap_or("");
        if !content_type
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(Reply::error(
                415,
                format!("Content-Type '{content_type}': expected application/json"),
            ));
        }
    }
    Ok(())
}

fn host_is_local(host: &str, port: u16) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        // "[::1]:8765", "127.0.0.1:8765", "localhost:8765"
        Some((name, p)) if !name.is_empty() && !name.ends_with(':') => {
            if p.parse::<u16>().ok() != Some(port) {
                return false;
            }
            name.to_string()
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip: IpAddr| ip.is_loopback())
}

/// `POST /api/rate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateRequest {
    round: u64,
    rating: u8,
    #[serde(default)]
    preference: Option<Choice>,
}

/// `POST /api/prefer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferRequest {
    round: u64,
    choice: Choice,
}

/// `POST /api/settings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    progression: Option<String>,
    #[serde(default)]
    tempo: Option<f64>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| Reply::error(400, format!("request body: {e}")))
}

/// Answers one request against the session: the whole API, without sockets (the server
/// adds the checks of host, size and content type in front).
pub fn handle(session: &mut Session, method: &str, path: &str, body: &[u8]) -> Reply {
    if let Err(reply) = check_route(method, path) {
        return reply;
    }
    let result = match path {
        "/" | "/index.html" => return asset("text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => return asset("text/javascript; charset=utf-8", APP_JS),
        "/style.css" => return asset("text/css; charset=utf-8", STYLE_CSS),
        "/api/state" => Ok(state_json(session)),
        "/api/phrase" => phrase_reply(session),
        "/api/rate" => rate(session, body),
        "/api/prefer" => prefer(session, body),
        "/api/controls" => set_controls(session, body),
        "/api/duet" => duet_frame(session),
        "/api/duet/call" => duet_call(session, body),
        "/api/duet/rate" => duet_rate(session, body),
        _ => settings(session, body),
    };
    match result {
        Ok(value) => Reply::json(200, &value),
        Err(reply) => reply,
    }
}

/// 404 for an unknown path, 405 for a method the path does not take.
fn check_route(method: &str, path: &str) -> Result<(), Reply> {
    let allowed = match path {
        "/" | "/index.html" | "/app.js" | "/style.css" | "/api/state" | "/api/phrase"
        | "/api/duet" => "GET",
        "/api/rate" | "/api/prefer" | "/api/settings" | "/api/controls" | "/api/duet/call"
        | "/api/duet/rate" => "POST",
        _ => return Err(Reply::error(404, format!("no such path: {path}"))),
    };
    if method != allowed {
        let mut reply = Reply::error(405, format!("{method} {path}: expected {allowed}"));
        reply.allow = Some(allowed);
        return Err(reply);
    }
    Ok(())
}

/// The caller's fault (feedback that does not fit the round, settings out of range) is a
/// 400; anything else went wrong in the server (the log cannot be written, the agent or
/// the listener model failed) and is a 500.
fn session_error(e: SessionError) -> Reply {
    match e {
        SessionError::Feedback(_) | SessionError::Config { .. } | SessionError::Task(_) => {
            Reply::error(400, e)
        }
        other => Reply::error(500, other),
    }
}

fn check_round(session: &mut Session, round: u64) -> Result<(), Reply> {
    let pending = session.propose().map_err(session_error)?.index;
    if round != pending {
        return Err(Reply::error(
            409,
            format!("round {round}: the phrase waiting for feedback is round {pending}"),
        ));
    }
    Ok(())
}

/// Answers the phrase of `round` (which must be the one waiting) with `feedback`, which the
/// session checks.
fn answer(session: &mut Session, round: u64, feedback: Feedback) -> Result<Value, Reply> {
    check_round(session, round)?;
    let start = Instant::now();
    session.feedback(feedback).map_err(session_error)?;
    let mut phrase = phrase_json(session)?;
    phrase["propose_ms"] = json!(start.elapsed().as_secs_f64() * 1e3);
    Ok(json!({ "state": state_json(session), "phrase": phrase }))
}

fn rate(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    let RateRequest {
        round,
        rating,
        preference,
    } = parse(body)?;
    let rating = Some(rating);
    answer(session, round, Feedback { rating, preference })
}

fn prefer(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    let PreferRequest { round, choice } = parse(body)?;
    let preference = Some(choice);
    answer(
        session,
        round,
        Feedback {
            rating: None,
            preference,
        },
    )
}

fn settings(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    let prepared = plan_settings(session, parse(body)?)?
        .prepare()
        .map_err(session_error)?;
    session.apply_retask(prepared).map_err(retask_error)?;
    let phrase = phrase_json(session)?;
    Ok(json!({ "state": state_json(session), "phrase": phrase }))
}

/// `POST /api/controls`: the fields given replace the session's; each is checked here for
/// its type and by [`Controls::validate`] for its range, and a bad one is a 400 naming it.
fn set_controls(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    const FIELDS: &str = "low, high, density, space, chromatic";
    let value: Value = parse(body)?;
    let Value::Object(fields) = value else {
        return Err(Reply::error(
            400,
            format!("request body: expected a JSON object with any of the fields {FIELDS}"),
        ));
    };
    let mut controls = session.controls().clone();
    for (name, v) in &fields {
        match name.as_str() {
            "low" | "high" => {
                let pitch = if v.is_null() {
                    None
                } else {
                    let p = v.as_u64().filter(|&p| p <= 127).ok_or_else(|| {
                        Reply::error(
                            400,
                            format!("field '{name}': {v}: expected a MIDI pitch (an integer 0..=127) or null"),
                        )
                    })?;
                    Some(p as u8)
                };
                if name == "low" {
                    controls.low = pitch;
                } else {
                    controls.high = pitch;
                }
            }
            "density" | "space" | "chromatic" => {
                let x = v.as_f64().ok_or_else(|| {
                    Reply::error(
                        400,
                        format!("field '{name}': {v}: expected a number in -1..=1"),
                    )
                })?;
                match name.as_str() {
                    "density" => controls.density = x,
                    "space" => controls.space = x,
                    _ => controls.chromatic = x,
                }
            }
            other => {
                return Err(Reply::error(
                    400,
                    format!("unknown field '{other}': expected {FIELDS}"),
                ))
            }
        }
    }
    let start = Instant::now();
    session.set_controls(controls).map_err(session_error)?;
    let mut phrase = phrase_json(session)?;
    phrase["propose_ms"] = json!(start.elapsed().as_secs_f64() * 1e3);
    Ok(json!({ "state": state_json(session), "phrase": phrase }))
}

/// A change of task the session cannot follow is a 409; anything else as [`session_error`].
fn retask_error(e: SessionError) -> Reply {
    match e {
        e @ SessionError::Config { .. } => Reply::error(409, e),
        e => session_error(e),
    }
}

/// The change of task a settings request asks of `session`, checked.
fn plan_settings(session: &Session, request: SettingsRequest) -> Result<RetaskPlan, Reply> {
    if request.key.is_none() && request.progression.is_none() && request.tempo.is_none() {
        return Err(Reply::error(
            400,
            "expected at least one of the fields 'key', 'progression', 'tempo'",
        ));
    }
    let mut task: ImprovConfig = session.config().task.clone();
    if let Some(key) = request.key {
        task.key = key;
    }
    if let Some(progression) = request.progression {
        task.progression = progression;
    }
    if let Some(tempo) = request.tempo {
        task.tempo = tempo;
    }
    // Validate before touching the session: a bad field changes nothing.
    task.to_task()
        .map_err(|e| Reply::error(400, format!("settings: {e}")))?;
    session.plan_retask(task).map_err(retask_error)
}

fn notes_json(session: &Session, candidate: &Candidate) -> Value {
    let notes = session
        .task()
        .setting
        .encoding
        .to_notes(&candidate.events)
        .unwrap_or_default();
    Value::Array(
        notes
            .iter()
            .map(|n| json!({ "pitch": n.pitch, "start": n.start, "duration": n.duration }))
            .collect(),
    )
}

fn phrase_reply(session: &mut Session) -> Result<Value, Reply> {
    let start = Instant::now();
    let mut phrase = phrase_json(session)?;
    phrase["propose_ms"] = json!(start.elapsed().as_secs_f64() * 1e3);
    Ok(phrase)
}

/// The phrase waiting for feedback, proposing it first if needed.
fn phrase_json(session: &mut Session) -> Result<Value, Reply> {
    session.propose().map_err(session_error)?;
    let round = session
        .pending()
        .ok_or_else(|| Reply::error(500, "internal error: no phrase after proposing one"))?;
    Ok(pending_phrase_json(session, round))
}

/// The phrase of `round`, as the page shows it.
fn pending_phrase_json(session: &Session, round: &Round) -> Value {
    let task = session.task();
    let played = round.played();
    let pair = round.pair.map(|(a, b)| {
        let side = |i: usize| {
            let c = &round.candidates[i];
            json!({ "notes": notes_json(session, c), "utility": c.utility })
        };
        json!({ "a": side(a), "b": side(b) })
    });
    let config = &session.config().task;
    let scores = musicianship::measure(&task.setting, &played.events).scores();
    json!({
        "round": round.index,
        "events": played.events,
        "measures": controls::describe(&task.setting, &played.events),
        "musicianship": {
            "harmony": scores.harmony, "line": scores.line, "rhythm": scores.rhythm,
            "variety": scores.variety, "failures": MUSIC.failures(&scores),
        },
        "notes": notes_json(session, played),
        "chords": task.backing.iter().map(|c| json!({
            "start": c.start, "steps": c.steps, "symbol": c.symbol, "pitches": c.pitches,
        })).collect::<Vec<_>>(),
        "tempo": task.tempo_qpm,
        "steps_per_quarter": config.steps_per_quarter,
        "steps_per_bar": task.setting.steps_per_bar(),
        "length": task.setting.length,
        "low": task.setting.encoding.pitch_of(2).unwrap_or(60),
        "high": task.setting.encoding.pitch_of(task.setting.encoding.num_events().saturating_sub(1) as u8).unwrap_or(84),
        "key": task.key_name,
        "theory": played.theory,
        "utility": played.utility,
        "pair": pair,
    })
}

/// `POST /api/duet/call`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DuetCallRequest {
    notes: Vec<CallNote>,
}

/// `POST /api/duet/rate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DuetRateRequest {
    exchange: u64,
    rating: u8,
}

fn events_notes(task: &TaskSpec, events: &[Event]) -> Value {
    let notes = task.setting.encoding.to_notes(events).unwrap_or_default();
    Value::Array(
        notes
            .iter()
            .map(|n| json!({ "pitch": n.pitch, "start": n.start, "duration": n.duration }))
            .collect(),
    )
}

/// `GET /api/duet`: the duet's frame (pre-training the answerer on first use): bars, steps,
/// tempo, the range and the key's scale, the backing chords of the call and the answer.
fn duet_frame(session: &mut Session) -> Result<Value, Reply> {
    let start = Instant::now();
    let steps_per_quarter = session.config().task.steps_per_quarter;
    let player = session.duet().map_err(session_error)?;
    let task = player.task();
    let setting = &task.setting;
    let encoding = setting.encoding;
    let scale: Vec<u8> = (encoding.min_pitch()..=encoding.max_pitch())
        .filter(|&p| setting.scale & (1 << (p % 12)) != 0)
        .collect();
    let frame = json!({
        "call_bars": duet::CALL_BARS,
        "answer_bars": duet::CALL_BARS,
        "call_steps": setting.call_steps,
        "length": setting.length,
        "steps_per_bar": setting.steps_per_bar(),
        "steps_per_quarter": steps_per_quarter,
        "tempo": task.tempo_qpm,
        "key": task.key_name,
        "low": encoding.min_pitch(),
        "high": encoding.max_pitch(),
        "scale": scale,
        "chords": task.backing.iter().map(|c| json!({
            "start": c.start, "steps": c.steps, "symbol": c.symbol, "pitches": c.pitches,
        })).collect::<Vec<_>>(),
        "ready_ms": start.elapsed().as_secs_f64() * 1e3,
    });
    Ok(json!({ "state": state_json(session), "duet": frame }))
}

/// `POST /api/duet/call`: the answer to the listener's call, with `answer_ms`, the time
/// from the call received to the answer ready.
fn duet_call(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    let start = Instant::now();
    let DuetCallRequest { notes } = parse(body)?;
    let (exchange, call, answer) = session.duet_call(&notes).map_err(session_error)?;
    let answer_ms = start.elapsed().as_secs_f64() * 1e3;
    let task = session.duet().map_err(session_error)?.task();
    let exchange_json = json!({
        "exchange": exchange,
        "call": events_notes(task, &call),
        "answer": events_notes(task, &answer),
        "answer_start": task.setting.call_steps,
        "answer_ms": answer_ms,
    });
    Ok(json!({ "state": state_json(session), "exchange": exchange_json }))
}

/// `POST /api/duet/rate`.
fn duet_rate(session: &mut Session, body: &[u8]) -> Result<Value, Reply> {
    let DuetRateRequest { exchange, rating } = parse(body)?;
    session.duet_rate(exchange, rating).map_err(session_error)?;
    Ok(json!({ "state": state_json(session) }))
}

/// The session's state as the page shows it.
pub fn state_json(session: &Session) -> Value {
    let model = session.model();
    let variances = model.weight_variances();
    let features: Vec<Value> = model
        .feature_names()
        .iter()
        .zip(model.weights())
        .zip(&variances)
        .map(|((name, w), v)| json!({ "name": name, "weight": w, "sd": v.max(0.0).sqrt() }))
        .collect();
    let config = session.config();
    json!({
        "round": session.rounds_done(),
        "ratings": session.ratings().iter().map(|&(round, rating)| json!({ "round": round, "rating": rating })).collect::<Vec<_>>(),
        "observations": model.observations().len(),
        "settings": {
            "key": config.task.key,
            "progression": config.task.progression,
            "tempo": config.task.tempo,
        },
        "task_locked": config.agent.is_some(),
        "agent": config.agent.as_ref().map_or_else(|| "pre-trained".to_string(), |a| a.dir.clone()),
        "adaptation": config.adaptation,
        "logging": session.is_logging(),
        "model": { "bias": model.bias(), "features": features },
        "controls": controls_json(session),
        "taste": taste_json(session),
        "steering": config.steering,
        "musicianship_guard": config.musicianship_guard,
        "progressions": cadenza_env::music::Progression::preset_names().collect::<Vec<_>>(),
        "duet": {
            "exchanges": session.duet_exchanges(),
            "pending": session.duet_pending(),
            "ratings": session.duet_ratings().iter().map(|&(exchange, rating)| json!({ "exchange": exchange, "rating": rating })).collect::<Vec<_>>(),
        },
    })
}

/// The controls in force, with the range resolved against the task.
fn controls_json(session: &Session) -> Value {
    let c = session.controls();
    let (low, high) = c.range(&session.task().setting);
    json!({
        "low": low, "high": high,
        "density": c.density, "space": c.space, "chromatic": c.chromatic,
    })
}

/// What the model has learnt in musical terms, with the steering of the next phrase.
fn taste_json(session: &Session) -> Value {
    let steering = session.steering().unwrap_or_default();
    Value::Array(
        controls::learnt(session.model())
            .iter()
            .zip(steering)
            .map(|(l, steer)| {
                json!({ "name": l.name, "preference": l.preference, "sd": l.sd, "steer": steer })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_allow_remote() {
        let mut options = BindOptions {
            host: "0.0.0.0".into(),
            port: 0,
            ..BindOptions::default()
        };
        let err = options.address().unwrap_err().to_string();
        assert!(err.contains("--allow-remote"), "{err}");
        options.host = "192.168.1.7".into();
        assert!(options.address().is_err());
        options.host = "not an address".into();
        assert!(options
            .address()
            .unwrap_err()
            .to_string()
            .contains("IP address"));
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"] {
            options.host = host.into();
            assert!(options.address().unwrap().ip().is_loopback(), "{host}");
        }
        options.host = "0.0.0.0".into();
        options.allow_remote = true;
        assert!(options.address().is_ok());
    }

    #[test]
    fn hosts_of_this_machine() {
        assert!(host_is_local("127.0.0.1:8765", 8765));
        assert!(host_is_local("localhost:8765", 8765));
        assert!(host_is_local("[::1]:8765", 8765));
        assert!(host_is_local("localhost", 8765));
        assert!(!host_is_local("127.0.0.1:9999", 8765));
        assert!(!host_is_local("evil.example:8765", 8765));
        assert!(!host_is_local("", 8765));
    }

    #[test]
    fn bad_feedback_is_400_and_a_server_fault_is_500() {
        let status = |e: SessionError| session_error(e).status;
        assert_eq!(status(SessionError::Feedback("rating 9".into())), 400);
        assert_eq!(status(SessionError::Internal("no action".into())), 500);
        let agent = cadenza_agents::AgentError::Other("backend".into());
        assert_eq!(status(SessionError::Agent(agent)), 500);

        // Through the API: a rating out of range is refused by the session, with its field.
        let config = crate::config::SessionConfig {
            pretrain_steps: 2_000,
            calibration_phrases: 8,
            candidates: 4,
            ..crate::config::SessionConfig::default()
        };
        let mut session = Session::new(config, None).unwrap();
        let phrase = handle(&mut session, "GET", "/api/phrase", b"");
        assert_eq!(phrase.status, 200, "{}", phrase.body);
        for (body, word) in [
            (r#"{"round":0,"rating":6}"#, "rating"),
            (r#"{"round":0,"rating":0}"#, "rating"),
        ] {
            let reply = handle(&mut session, "POST", "/api/rate", body.as_bytes());
            assert_eq!(reply.status, 400, "{}", reply.body);
            assert!(reply.body.contains(word), "{}", reply.body);
        }
        assert_eq!(session.rounds_done(), 0);
        let reply = handle(
            &mut session,
            "POST",
            "/api/rate",
            br#"{"round":0,"rating":4}"#,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(session.rounds_done(), 1);
    }
}
