//! Duet mode through the JSON API: a good call gets an answer over the answer's bars, bad
//! calls get a 400 naming the field and change nothing, a rating lands in the durable log,
//! and a resumed session reads the duet records back.

use cadenza_session::log::{self, Record};
use cadenza_session::web::handle;
use cadenza_session::{Session, SessionConfig};
use serde_json::Value;

fn config() -> SessionConfig {
    SessionConfig {
        pretrain_steps: 3_000,
        calibration_phrases: 8,
        candidates: 4,
        seed: 5,
        ..SessionConfig::default()
    }
}

fn call(session: &mut Session, method: &str, path: &str, body: &str) -> (u16, Value) {
    let reply = handle(session, method, path, body.as_bytes());
    let value =
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", reply.body));
    (reply.status, value)
}

const GOOD_CALL: &str = r#"{"notes":[{"pitch":64,"start":0,"duration":4},{"pitch":67,"start":4,"duration":2},{"pitch":72,"start":8,"duration":8},{"pitch":71,"start":20,"duration":4}]}"#;

#[test]
fn a_call_is_answered_bad_calls_are_refused_and_the_log_holds_call_and_rating() {
    let dir = std::env::temp_dir().join(format!("cadenza-duet-web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.jsonl");
    let _ = std::fs::remove_file(&path);
    let mut session = Session::new(config(), Some(&path)).unwrap();

    let (status, frame) = call(&mut session, "GET", "/api/duet", "");
    assert_eq!(status, 200, "{frame}");
    let frame = &frame["duet"];
    assert_eq!(frame["call_bars"], 2);
    assert_eq!(frame["call_steps"], 32);
    assert_eq!(frame["length"], 64);
    let scale: Vec<u64> = frame["scale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(scale.contains(&60) && scale.contains(&62) && !scale.contains(&61));

    let bad = [
        (r#"{"notes":[]}"#, "no notes"),
        (
            r#"{"notes":[{"pitch":20,"start":0,"duration":2}]}"#,
            "notes[0].pitch",
        ),
        (
            r#"{"notes":[{"pitch":64,"start":0,"duration":2},{"pitch":65,"start":32,"duration":1}]}"#,
            "notes[1].start",
        ),
        (
            r#"{"notes":[{"pitch":64,"start":30,"duration":4}]}"#,
            "notes[0].duration",
        ),
        (
            r#"{"notes":[{"pitch":64,"start":0,"duration":0}]}"#,
            "notes[0].duration",
        ),
        (
            r#"{"notes":[{"pitch":64,"start":0,"duration":4},{"pitch":65,"start":2,"duration":2}]}"#,
            "one note at a time",
        ),
        (r#"{"notes":[{"pitch":64,"start":0}]}"#, "duration"),
        (
            r#"{"notes":[{"pitch":64,"start":0,"duration":1,"velocity":3}]}"#,
            "velocity",
        ),
        (r#"{"calls":[]}"#, "calls"),
    ];
    for (body, word) in bad {
        let (status, reply) = call(&mut session, "POST", "/api/duet/call", body);
        assert_eq!(status, 400, "{body}: {reply}");
        let message = reply["error"].as_str().unwrap();
        assert!(message.contains(word), "{body}: {message}");
    }
    assert_eq!(session.duet_exchanges(), 0, "a bad call changes nothing");
    let (status, reply) = call(
        &mut session,
        "POST",
        "/api/duet/rate",
        r#"{"exchange":0,"rating":4}"#,
    );
    assert_eq!(status, 400, "no answer to rate yet: {reply}");

    let (status, reply) = call(&mut session, "POST", "/api/duet/call", GOOD_CALL);
    assert_eq!(status, 200, "{reply}");
    let exchange = &reply["exchange"];
    assert_eq!(exchange["exchange"], 0);
    assert_eq!(exchange["answer_start"], 32);
    assert!(exchange["answer_ms"].as_f64().unwrap() >= 0.0);
    let heard: Vec<(u64, u64, u64)> = exchange["call"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["pitch"].as_u64().unwrap(),
                n["start"].as_u64().unwrap(),
                n["duration"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        heard,
        vec![(64, 0, 4), (67, 4, 2), (72, 8, 8), (71, 20, 4)],
        "the call as the server heard it"
    );
    let answer = exchange["answer"].as_array().unwrap();
    assert!(!answer.is_empty(), "an answer with notes: {reply}");
    for n in answer {
        let end = n["start"].as_u64().unwrap() + n["duration"].as_u64().unwrap();
        assert!(end <= 32, "the answer fits its 2 bars: {n}");
    }
    assert_eq!(reply["state"]["duet"]["pending"], 0);

    // Deterministic under the seed: another session with the same config answers alike.
    let mut twin = Session::new(config(), None).unwrap();
    let (status, twin_reply) = call(&mut twin, "POST", "/api/duet/call", GOOD_CALL);
    assert_eq!(status, 200, "{twin_reply}");
    assert_eq!(twin_reply["exchange"]["answer"], exchange["answer"]);

    // A stale or out-of-range rating is refused; the right one is logged.
    for (body, word) in [
        (r#"{"exchange":3,"rating":4}"#, "exchange"),
        (r#"{"exchange":0,"rating":9}"#, "rating"),
    ] {
        let (status, reply) = call(&mut session, "POST", "/api/duet/rate", body);
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply["error"].as_str().unwrap().contains(word), "{reply}");
    }
    let (status, reply) = call(
        &mut session,
        "POST",
        "/api/duet/rate",
        r#"{"exchange":0,"rating":5}"#,
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["state"]["duet"]["ratings"][0]["rating"], 5);
    assert_eq!(reply["state"]["duet"]["pending"], Value::Null);

    // The durable log holds the call, the answer and the rating, checked lines.
    let contents = log::read(&path).unwrap();
    assert!(contents.corrupt.is_empty(), "{:?}", contents.corrupt);
    assert_eq!(contents.unchecked, 0);
    let logged_call = contents.records.iter().find_map(|(_, r)| match r {
        Record::DuetCall {
            exchange: 0,
            call,
            answer,
        } => Some((call.clone(), answer.clone())),
        _ => None,
    });
    let (logged_call, logged_answer) = logged_call.expect("a duet_call record");
    assert_eq!(logged_call.len(), 32);
    assert_eq!(logged_answer.len(), 32);
    assert!(contents.records.iter().any(|(_, r)| matches!(
        r,
        Record::DuetRating {
            exchange: 0,
            rating: 5
        }
    )));

    // A resumed session reads them back and numbers the next exchange on.
    drop(session);
    let (mut resumed, report) = Session::resume(&path).unwrap();
    assert!(report.corrupt.is_empty(), "{report:?}");
    assert_eq!(resumed.duet_exchanges(), 1);
    assert_eq!(resumed.duet_ratings(), &[(0, 5)]);
    let (status, reply) = call(&mut resumed, "POST", "/api/duet/call", GOOD_CALL);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["exchange"]["exchange"], 1);

    // A change of tempo gives a duet at the new tempo.
    let (status, reply) = call(&mut resumed, "POST", "/api/settings", r#"{"tempo":150}"#);
    assert_eq!(status, 200, "{reply}");
    let (status, frame) = call(&mut resumed, "GET", "/api/duet", "");
    assert_eq!(status, 200, "{frame}");
    assert_eq!(frame["duet"]["tempo"], 150.0);
    drop(resumed);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_duet_record_is_strict_and_a_log_without_duet_records_still_reads() {
    // A misspelt field makes the line corrupt rather than lose a value.
    let line = log::SessionLog::line(
        &Record::DuetRating {
            exchange: 2,
            rating: 4,
        },
        0,
    )
    .unwrap();
    let good = log::parse(format!("{line}\n").as_bytes());
    assert!(good.corrupt.is_empty(), "{:?}", good.corrupt);
    let unchecked = r#"{"type":"duet_rating","exchange":2,"rating":4}"#;
    let contents = log::parse(format!("{unchecked}\n").as_bytes());
    assert!(contents.corrupt.is_empty(), "{:?}", contents.corrupt);
    for misspelt in [
        r#"{"type":"duet_rating","exchange":2,"ratin":4}"#,
        r#"{"type":"duet_call","exchange":2,"call":[1],"answer":[1],"extra":0}"#,
    ] {
        let contents = log::parse(format!("{misspelt}\n").as_bytes());
        assert_eq!(contents.corrupt.len(), 1, "{misspelt}");
    }
    // An old line without seq and checksum, of a kind that existed before, still reads.
    let old = r#"{"type":"feedback","round":0,"rating":4,"preference":null}"#;
    let contents = log::parse(format!("{old}\n").as_bytes());
    assert!(contents.corrupt.is_empty());
    assert_eq!(contents.unchecked, 1);
}

/// One request over HTTP/1.1 (the server closes after answering); (status, body).
fn request(address: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn the_server_prepares_the_duet_and_answers_a_call() {
    use cadenza_session::web::{BindOptions, WebServer};
    let session = Session::new(config(), None).unwrap();
    let server = WebServer::bind(&BindOptions {
        port: 0,
        ..BindOptions::default()
    })
    .unwrap();
    let address = server.address();
    std::thread::spawn(move || server.run(session));
    let (status, state) = request(address, "GET", "/api/state", "");
    assert_eq!(status, 200);
    assert_eq!(state["duet"]["exchanges"], 0);
    let (status, frame) = request(address, "GET", "/api/duet", "");
    assert_eq!(status, 200, "{frame}");
    assert_eq!(frame["duet"]["call_steps"], 32);
    let (status, reply) = request(address, "POST", "/api/duet/call", GOOD_CALL);
    assert_eq!(status, 200, "{reply}");
    assert!(!reply["exchange"]["answer"].as_array().unwrap().is_empty());
    // The published state follows the exchange.
    let (_, state) = request(address, "GET", "/api/state", "");
    assert_eq!(state["duet"]["exchanges"], 1);
    assert_eq!(state["duet"]["pending"], 0);
    let (status, reply) = request(address, "POST", "/api/duet/call", r#"{"notes":[]}"#);
    assert_eq!(status, 400, "{reply}");
    let (status, _) = request(address, "POST", "/api/duet", "{}");
    assert_eq!(status, 405);
}
