//! `cadenza session --web` over plain TCP: malformed requests get 4xx answers and change
//! nothing, the server binds loopback only unless told otherwise, and a web session resumes
//! from its log. Also `--agent` (a trained tabular agent) and `--midi-out` without the
//! feature. The browser end of the web mode is tested by scripts/web-test.sh.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn cadenza() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
}

const SMALL: &[&str] = &["--pretrain-steps", "20000", "--candidates", "6"];

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("cadenza-session-web-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `cadenza session --web`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Server {
    let mut child = cadenza()
        .args(["session", "--web", "--port", "0"])
        .args(SMALL)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no URL on stdout: {line:?}"));
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Server { child, port }
}

/// One HTTP/1.1 request; (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body and close: ignore the error.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn get(port: u16, path: &str) -> Value {
    let (status, body) = request(port, "GET", path, &[], b"");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn post(port: u16, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = request(port, "POST", path, &[JSON], body.as_bytes());
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn feedback_lines(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"type\":\"feedback\""))
        .count()
}

#[test]
fn malformed_requests_get_4xx_and_change_nothing() {
    let dir = temp_dir("malformed");
    let log = dir.join("web.jsonl");
    let server = serve(&["--log", log.to_str().unwrap()]);
    let port = server.port;
    let before = get(port, "/api/state");
    let phrase = get(port, "/api/phrase");
    assert_eq!(phrase["round"], 0);
    assert!(!phrase["notes"].as_array().unwrap().is_empty());
    assert!(!phrase["chords"].as_array().unwrap().is_empty());

    let big = format!(
        "{{\"round\":0,\"rating\":3,\"pad\":\"{}\"}}",
        "x".repeat(20_000)
    );
    // (method, path, headers, body, expected status, a word of the error message)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        String,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/rate",
            vec![JSON],
            "{not json".into(),
            400,
            "request body",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":3,"extra":1}"#.into(),
            400,
            "unknown field",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":0}"#.into(),
            400,
            "rating",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":6}"#.into(),
            400,
            "rating",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":300}"#.into(),
            400,
            "request body",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":-1}"#.into(),
            400,
            "request body",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"rating":3}"#.into(),
            400,
            "round",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":7,"rating":3}"#.into(),
            409,
            "round 7",
        ),
        (
            "POST",
            "/api/rate",
            vec![JSON],
            r#"{"round":0,"rating":3,"preference":"c"}"#.into(),
            400,
            "request body",
        ),
        (
            "POST",
            "/api/prefer",
            vec![JSON],
            r#"{"round":0}"#.into(),
            400,
            "choice",
        ),
        (
            "POST",
            "/api/settings",
            vec![JSON],
            r#"{"key":"H major"}"#.into(),
            400,
            "key",
        ),
        (
            "POST",
            "/api/settings",
            vec![JSON],
            r#"{"tempo":-5}"#.into(),
            400,
            "tempo",
        ),
        (
            "POST",
            "/api/settings",
            vec![JSON],
            r#"{"progression":"| Xq7 |"}"#.into(),
            400,
            "progression",
        ),
        (
            "POST",
            "/api/settings",
            vec![JSON],
            "{}".into(),
            400,
            "at least one",
        ),
        ("POST", "/api/rate", vec![JSON], big, 413, "at most"),
        (
            "POST",
            "/api/rate",
            vec![],
            r#"{"round":0,"rating":3}"#.into(),
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/rate",
            vec![("Content-Type", "text/plain")],
            r#"{"round":0,"rating":3}"#.into(),
            415,
            "application/json",
        ),
        (
            "GET",
            "/api/rate",
            vec![],
            String::new(),
            405,
            "expected POST",
        ),
        (
            "POST",
            "/api/state",
            vec![JSON],
            "{}".into(),
            405,
            "expected GET",
        ),
        (
            "DELETE",
            "/api/phrase",
            vec![],
            String::new(),
            405,
            "expected GET",
        ),
        (
            "GET",
            "/api/nothing",
            vec![],
            String::new(),
            404,
            "no such path",
        ),
        (
            "GET",
            "/../../etc/passwd",
            vec![],
            String::new(),
            404,
            "no such path",
        ),
        (
            "GET",
            "/api/state",
            vec![("Host", "attacker.example:80")],
            String::new(),
            403,
            "Host",
        ),
    ];
    for (method, path, headers, body, status, needle) in &cases {
        let (got, text) = request(port, method, path, headers, body.as_bytes());
        assert_eq!(got, *status, "{method} {path} {body:.80}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
        let message = v["error"].as_str().unwrap();
        assert!(message.contains(needle), "{method} {path}: {message}");
    }
    // Nothing changed: the state, the phrase, and the log has no answer.
    assert_eq!(get(port, "/api/state"), before);
    assert_eq!(get(port, "/api/phrase")["events"], phrase["events"]);
    assert_eq!(feedback_lines(&log), 0);

    // A good rating goes through, to the log, and the next phrase comes with the answer.
    let (status, v) = post(port, "/api/rate", r#"{"round":0,"rating":4}"#);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["phrase"]["round"], 1);
    assert_eq!(v["state"]["ratings"][0]["rating"], 4);
    assert!(v["phrase"]["propose_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(feedback_lines(&log), 1);
    // The same round again is stale now.
    assert_eq!(post(port, "/api/rate", r#"{"round":0,"rating":4}"#).0, 409);
    // The page and its assets are served from the binary.
    for (path, needle) in [
        ("/", "<canvas id=\"roll\""),
        ("/app.js", "AudioContext"),
        ("/style.css", "--accent"),
    ] {
        let (status, body) = request(port, "GET", path, &[], b"");
        assert_eq!(status, 200);
        assert!(body.contains(needle), "{path}");
        assert!(!body.contains("://cdn"), "{path} fetches from elsewhere");
    }
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binds_loopback_only_unless_allowed() {
    for host in ["0.0.0.0", "192.0.2.1", "::"] {
        let out = cadenza()
            .args(["session", "--web", "--port", "0", "--host", host])
            .args(SMALL)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{host}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("loopback") && err.contains("--allow-remote"),
            "{host}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = cadenza()
        .args(["session", "--web", "--host", "nowhere.example"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("IP address"));
    // --allow-remote without --web is a usage error.
    assert!(!cadenza()
        .args(["session", "--allow-remote"])
        .output()
        .unwrap()
        .status
        .success());

    // With --allow-remote, 0.0.0.0 binds (and any Host header is accepted).
    let mut child = cadenza()
        .args([
            "session",
            "--web",
            "--port",
            "0",
            "--host",
            "0.0.0.0",
            "--allow-remote",
        ])
        .args(SMALL)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
}

#[test]
fn a_web_session_resumes_with_its_settings() {
    let dir = temp_dir("resume");
    let log = dir.join("web.jsonl");
    let state = {
        let server = serve(&["--log", log.to_str().unwrap()]);
        let port = server.port;
        get(port, "/api/phrase");
        assert_eq!(post(port, "/api/rate", r#"{"round":0,"rating":2}"#).0, 200);
        let (status, v) = post(
            port,
            "/api/settings",
            r#"{"key":"F major","progression":"blues","tempo":96}"#,
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["phrase"]["chords"][0]["symbol"], "F7");
        let (status, v) = post(port, "/api/prefer", r#"{"round":1,"choice":"b"}"#);
        assert_eq!(status, 200, "{v}");
        assert_eq!(post(port, "/api/rate", r#"{"round":2,"rating":5}"#).0, 200);
        get(port, "/api/state")
    };
    assert_eq!(feedback_lines(&log), 3);
    let server = serve(&["--resume", log.to_str().unwrap()]);
    let resumed = get(server.port, "/api/state");
    assert_eq!(resumed, state);
    assert_eq!(resumed["settings"]["tempo"], 96.0);
    drop(server);

    // Replay and export follow the change of task.
    let out = cadenza()
        .args(["session", "replay"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rounds"], 3);
    assert_eq!(v["bias"], state["model"]["bias"]);
    let mid = dir.join("web.mid");
    let out = cadenza()
        .args(["session", "export"])
        .arg(&log)
        .arg("--out")
        .arg(&mid)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_trained_tabular_agent_adapts_in_a_session() {
    let dir = temp_dir("agent");
    let run = dir.join("run");
    let out = cadenza()
        .args([
            "train",
            "--task",
            "improv",
            "--agent",
            "q",
            "--steps",
            "30000",
            "--samples",
            "0",
            "--quiet",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cadenza()
        .args([
            "session",
            "--listener",
            "sim:stepwise",
            "--rounds",
            "4",
            "--held-out",
            "10",
            "--json",
            "--candidates",
            "6",
            "--agent",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ratings"].as_array().unwrap().len(), 4);

    // An agent of the wrong task is refused with the reason.
    let rl = dir.join("rl");
    let out = cadenza()
        .args([
            "train",
            "--task",
            "rl-tuner",
            "--agent",
            "q",
            "--steps",
            "2000",
            "--samples",
            "0",
            "--quiet",
            "--out",
        ])
        .arg(&rl)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = cadenza()
        .args(["session", "--listener", "sim:stepwise", "--agent"])
        .arg(&rl)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--task improv"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(not(feature = "midi-out"))]
#[test]
fn midi_out_without_the_feature_says_how_to_get_it() {
    let out = cadenza()
        .args(["session", "--midi-out", "Synth"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features midi-out"), "{err}");
}
