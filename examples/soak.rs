//! Soak test of the web session under attack (driven by scripts/soak.sh; not part of
//! `cargo test`). Loopback only, bounded in time and traffic.
//!
//! A session is served on 127.0.0.1 with a log. While slow clients hold `POST /api/rate`
//! bodies open (headers with `Content-Length: 100`, then one byte; reconnecting when the
//! server closes them) and waves of concurrent `POST /api/settings` flood the server, a
//! scripted listener rates `--phrases` phrases and a prober times `GET /api/state` every
//! 25 ms (the listener waits `--pace-ms`, 75 ms, before each rating, so that the attacks
//! last: 200 phrases take at least 15 s). At the end it checks that every rating the server acknowledged (a 200) is in the
//! log, that the log replays to exactly those ratings, and that a session resumed from the
//! log shows the same state as the live one; and it reports the latencies a normal client
//! saw. Exit status 0 only if every check holds and the slowest probe was within
//! `--latency-ms`.
//!
//! ```text
//! cargo run --example soak -- --phrases 200 --slow-clients 4 --flood 40 --latency-ms 100 --pace-ms 75
//! ```

use anyhow::{bail, ensure, Context, Result};
use cadenza_session::web::{state_json, BindOptions, WebServer};
use cadenza_session::{replay, Session, SessionConfig};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    phrases: usize,
    slow_clients: usize,
    flood: usize,
    flood_every: Duration,
    latency_ms: f64,
    time_limit: Duration,
    pretrain_steps: u64,
    /// Time between two ratings, so that the attacks last (a listener takes its time too).
    pace: Duration,
}

fn options() -> Result<Options> {
    let mut o = Options {
        phrases: 200,
        slow_clients: 4,
        flood: 40,
        flood_every: Duration::from_secs(2),
        latency_ms: 100.0,
        time_limit: Duration::from_secs(600),
        pretrain_steps: 50_000,
        pace: Duration::from_millis(75),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            bail!("expected --flag value pairs, got {pair:?}")
        };
        let number = || -> Result<u64> {
            value
                .parse()
                .with_context(|| format!("{flag} {value}: expected a whole number"))
        };
        match flag.as_str() {
            "--phrases" => o.phrases = number()? as usize,
            "--slow-clients" => o.slow_clients = number()? as usize,
            "--flood" => o.flood = number()? as usize,
            "--flood-every-ms" => o.flood_every = Duration::from_millis(number()?),
            "--latency-ms" => o.latency_ms = number()? as f64,
            "--time-limit-s" => o.time_limit = Duration::from_secs(number()?),
            "--pretrain-steps" => o.pretrain_steps = number()?,
            "--pace-ms" => o.pace = Duration::from_millis(number()?),
            _ => bail!("unknown flag {flag}: expected --phrases, --slow-clients, --flood, --flood-every-ms, --latency-ms, --time-limit-s, --pretrain-steps, --pace-ms"),
        }
    }
    Ok(o)
}

/// One request; (status, body). Status 0: no answer (connection failed).
fn request(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return (0, String::new());
    }
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<()> {
    let o = options()?;
    let dir = std::env::temp_dir().join(format!("cadenza-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("soak.jsonl");
    let config = SessionConfig {
        seed: 7,
        pretrain_steps: o.pretrain_steps,
        candidates: 8,
        calibration_phrases: 16,
        ..SessionConfig::default()
    };
    let server = WebServer::bind(&BindOptions {
        port: 0,
        ..BindOptions::default()
    })?;
    let address = server.address();
    ensure!(address.ip().is_loopback(), "the soak serves loopback only");
    let session = Session::new(config, Some(&log))?;
    std::thread::spawn(move || server.run(session));
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));

    // --- attackers -------------------------------------------------------------------------
    let slow_opened = Arc::new(AtomicUsize::new(0));
    let slow_closed_408 = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..o.slow_clients {
        let (stop, opened, timed_out) = (
            Arc::clone(&stop),
            Arc::clone(&slow_opened),
            Arc::clone(&slow_closed_408),
        );
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut stream) = TcpStream::connect(address) else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                let head = format!(
                    "POST /api/rate HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let mut response = Vec::new();
                let mut chunk = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    match stream.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => response.extend_from_slice(&chunk[..n]),
                        Err(_) => continue,
                    }
                }
                if response.starts_with(b"HTTP/1.1 408") {
                    timed_out.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let settings_status = Arc::new(Mutex::new(Vec::<u16>::new()));
    {
        let (stop, statuses) = (Arc::clone(&stop), Arc::clone(&settings_status));
        let (flood, every) = (o.flood, o.flood_every);
        workers.push(std::thread::spawn(move || {
            let keys = ["F major", "G major", "D minor", "C major"];
            let mut wave = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let senders: Vec<_> = (0..flood)
                    .map(|i| {
                        let key = keys[(wave + i) % keys.len()];
                        std::thread::spawn(move || {
                            let body = format!("{{\"key\":\"{key}\"}}");
                            request(address, "POST", "/api/settings", &body).0
                        })
                    })
                    .collect();
                for s in senders {
                    let status = s.join().unwrap_or(0);
                    statuses.lock().unwrap().push(status);
                }
                wave += 1;
                std::thread::sleep(every);
            }
        }));
    }
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let probe_failures = Arc::new(AtomicUsize::new(0));
    {
        let (stop, latencies, failures) = (
            Arc::clone(&stop),
            Arc::clone(&latencies),
            Arc::clone(&probe_failures),
        );
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _) = request(address, "GET", "/api/state", "");
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if status == 200 {
                    latencies.lock().unwrap().push(ms);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }));
    }

    // --- the scripted listener ---------------------------------------------------------------
    let mut acknowledged: Vec<(u64, u8)> = Vec::new();
    let (mut stale, mut busy, mut requests) = (0usize, 0usize, 0usize);
    while acknowledged.len() < o.phrases {
        ensure!(
            started.elapsed() < o.time_limit,
            "time limit: {} of {} phrases rated in {:?}",
            acknowledged.len(),
            o.phrases,
            o.time_limit
        );
        requests += 1;
        let (status, body) = request(address, "GET", "/api/phrase", "");
        if status != 200 {
            busy += 1;
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let phrase: Value = serde_json::from_str(&body)?;
        let round = phrase["round"].as_u64().context("a round")?;
        // A deterministic taste: the played events decide the rating.
        let sum: u64 = phrase["events"]
            .as_array()
            .context("events")?
            .iter()
            .filter_map(Value::as_u64)
            .sum();
        let rating = (sum % 5) as u8 + 1;
        requests += 1;
        let body = format!("{{\"round\":{round},\"rating\":{rating}}}");
        std::thread::sleep(o.pace);
        match request(address, "POST", "/api/rate", &body).0 {
            200 => acknowledged.push((round, rating)),
            // The phrase changed under us (a change of task): ask again.
            409 => stale += 1,
            _ => busy += 1,
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let (status, live) = request(address, "GET", "/api/state", "");
    ensure!(status == 200, "final state: {status}");
    let live: Value = serde_json::from_str(&live)?;

    // --- checks ------------------------------------------------------------------------------
    let replayed = replay::replay_model(&log)?;
    let mut failures = Vec::new();
    if replayed.ratings != acknowledged {
        let missing = acknowledged
            .iter()
            .filter(|a| !replayed.ratings.contains(a))
            .count();
        failures.push(format!(
            "the log replays {} ratings, {} acknowledged ({missing} acknowledged ratings missing)",
            replayed.ratings.len(),
            acknowledged.len()
        ));
    }
    let report = &replayed.report;
    if !report.corrupt.is_empty() || !report.skipped.is_empty() || !report.notices.is_empty() {
        failures.push(format!("the log has findings: {report:?}"));
    }
    let (resumed, _) = Session::resume(&log)?;
    let resumed_state = state_json(&resumed);
    for field in ["round", "ratings", "observations", "settings", "model"] {
        if resumed_state[field] != live[field] {
            failures.push(format!(
                "the resumed session's {field} differs from the live one"
            ));
        }
    }

    let mut ms = latencies.lock().unwrap().clone();
    ms.sort_by(f64::total_cmp);
    let max = ms.last().copied().unwrap_or(0.0);
    let over = ms.iter().filter(|&&m| m > o.latency_ms).count();
    let statuses = settings_status.lock().unwrap().clone();
    let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
    println!(
        "soak: {} phrases rated in {:.1} s over http://{address}/",
        acknowledged.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  listener: {requests} requests, {} ratings acknowledged, {stale} stale (409 after a change of task), {busy} other non-200",
        acknowledged.len()
    );
    println!(
        "  settings flood: {} requests in waves of {}: {} changed the task (200), {} told to retry (503), {} other",
        statuses.len(),
        o.flood,
        count(200),
        count(503),
        statuses.len() - count(200) - count(503)
    );
    println!(
        "  slow clients: {} at a time, {} connections opened, {} closed with 408 at the deadline",
        o.slow_clients,
        slow_opened.load(Ordering::Relaxed),
        slow_closed_408.load(Ordering::Relaxed)
    );
    println!(
        "  GET /api/state (a normal client, every 25 ms): {} probes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {over} over {} ms, {} failed",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        max,
        o.latency_ms,
        probe_failures.load(Ordering::Relaxed)
    );
    println!(
        "  log: {} rounds replayed = {} acknowledged; resumed state = live state: {}",
        replayed.rounds,
        acknowledged.len(),
        failures.iter().all(|f| !f.starts_with("the resumed"))
    );
    if probe_failures.load(Ordering::Relaxed) > 0 {
        failures.push("some GET /api/state probes failed".into());
    }
    if over > 0 {
        failures.push(format!("{over} probes over {} ms", o.latency_ms));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if failures.is_empty() {
        println!("soak: PASS");
        Ok(())
    } else {
        for f in &failures {
            println!("  FAIL: {f}");
        }
        bail!("soak: {} check(s) failed", failures.len())
    }
}
