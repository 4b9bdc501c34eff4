//! The web server under slow and flooding clients: a normal client's `GET /api/state` is
//! answered while slow clients hold request bodies open, while the connections are at their
//! bound, and while forty changes of task are asked at once. The latencies are printed (run
//! with `--nocapture`); the assertion's bound (2 s) is generous so that a loaded machine does
//! not fail it, and scripts/soak.sh measures the figures that matter.

use cadenza_session::web::{BindOptions, WebServer};
use cadenza_session::{Session, SessionConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(2);

fn serve(options: BindOptions, pretrain_steps: u64) -> SocketAddr {
    let config = SessionConfig {
        pretrain_steps,
        calibration_phrases: 8,
        candidates: 4,
        ..SessionConfig::default()
    };
    let session = Session::new(config, None).unwrap();
    let server = WebServer::bind(&BindOptions { port: 0, ..options }).unwrap();
    let address = server.address();
    std::thread::spawn(move || server.run(session));
    address
}

/// One request; (status, body).
fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
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
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The slowest of `n` `GET /api/state`, each answered 200.
fn state_latency(address: SocketAddr, n: usize) -> Duration {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            let (status, body) = request(address, "GET", "/api/state", "");
            assert_eq!(status, 200, "{body}");
            start.elapsed()
        })
        .max()
        .unwrap()
}

/// A client that sends the head of a rating with `Content-Length: 100`, then one byte.
fn slow_rating(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    let head = format!(
        "POST /api/rate HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

#[test]
fn slow_clients_do_not_stall_the_page_and_get_a_408() {
    let address = serve(
        BindOptions {
            request_deadline: Duration::from_secs(3),
            max_connections: 16,
            ..BindOptions::default()
        },
        5_000,
    );
    let slow: Vec<TcpStream> = (0..4).map(|_| slow_rating(address)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let worst = state_latency(address, 20);
    println!("GET /api/state with 4 slow bodies open: slowest of 20 {worst:?}");
    assert!(worst < BOUND, "{worst:?}");

    // At the bound, a new connection is refused at once, and a normal client is served
    // again as soon as the slow ones pass their deadline.
    let idle: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let (status, body) = request(address, "GET", "/api/state", "");
    println!(
        "GET /api/state over the connection bound: {status} in {:?}",
        start.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("limit"), "{body}");

    for mut stream in slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    }
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert!(state_latency(address, 1) < BOUND);
}

#[test]
fn a_settings_flood_does_not_stall_the_page() {
    // Pre-training long enough that forty retasks behind one lock would take many seconds.
    let address = serve(BindOptions::default(), 100_000);
    let (status, body) = request(address, "GET", "/api/phrase", "");
    assert_eq!(status, 200, "{body}");
    let flood: Vec<_> = (0..40)
        .map(|i| {
            std::thread::spawn(move || {
                let key = ["F major", "G major", "D minor", "Bb major"][i % 4];
                let body = format!("{{\"key\":\"{key}\"}}");
                request(address, "POST", "/api/settings", &body).0
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    let worst = state_latency(address, 20);
    let statuses: Vec<u16> = flood.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let busy = statuses.iter().filter(|&&s| s == 503).count();
    println!(
        "GET /api/state during 40 concurrent retasks: slowest of 20 {worst:?}; retasks {ok} done, {busy} told to retry"
    );
    assert!(worst < BOUND, "{worst:?}");
    assert!(ok >= 1);
    assert_eq!(ok + busy, 40, "{statuses:?}");
    // The session still answers and rates after the flood.
    let (status, phrase) = request(address, "GET", "/api/phrase", "");
    assert_eq!(status, 200, "{phrase}");
    let round: serde_json::Value = serde_json::from_str(&phrase).unwrap();
    let body = format!("{{\"round\":{},\"rating\":4}}", round["round"]);
    assert_eq!(request(address, "POST", "/api/rate", &body).0, 200);
}
