//! A small HTTP/1.1 server for the session page: one request per connection, a thread per
//! connection up to a bound, and a deadline on every request.
//!
//! The page makes a handful of small JSON requests on loopback, so the server keeps to what
//! they need and guards what a slow or flooding client could exhaust:
//!
//! - **A deadline per request** ([`Limits::request_deadline`]): the request line, the
//!   headers and the body must all arrive within it, or the client gets a 408 and the
//!   connection is closed. A client that sends headers and then dribbles its body one byte
//!   at a time holds a connection for at most the deadline.
//! - **A bound on connections** ([`Limits::max_connections`]): past it, a new connection is
//!   answered 503 at once and closed, so a flood cannot exhaust threads or memory.
//! - **No shared queue**: each connection is served by its own thread, so a slow client
//!   never waits in front of another (a pool with a queue puts a fast request behind slow
//!   ones as soon as the pool is busy).
//!
//! What a request means is the [`Service`]'s business: it checks the head before the body is
//! read (so a foreign `Host`, a wrong path or a body too large is refused without reading
//! it), then answers the whole request.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;

/// What a connection may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are answered 503 and closed (default 64).
    pub max_connections: usize,
    /// Time for a whole request to arrive, head and body (default 5 s).
    pub request_deadline: Duration,
    /// The largest body accepted, in bytes.
    pub max_body: usize,
}

/// An answer before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
    /// Methods allowed, for a 405.
    pub allow: Option<&'static str>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string(),
            allow: None,
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl std::fmt::Display) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.to_string() }))
    }
}

/// A request's line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method, upper case.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server serves.
pub trait Service: Send + Sync + 'static {
    /// Checks a request before its body is read: an error reply is sent as it is.
    fn check(&self, head: &Head) -> Result<(), Reply>;
    /// Answers a whole request.
    fn respond(&self, head: &Head, body: &[u8]) -> Reply;
}

/// Serves `service` on `listener` until the process ends.
pub fn serve(listener: TcpListener, limits: Limits, service: Arc<dyn Service>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of file descriptors, or a connection reset before it was accepted: the
            // next accept may well succeed.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= limits.max_connections {
            active.fetch_sub(1, Ordering::AcqRel);
            refuse(stream, limits.max_connections);
            continue;
        }
        let guard = Active(Arc::clone(&active));
        let service = Arc::clone(&service);
        let spawned = std::thread::Builder::new()
            .name("cadenza-web".into())
            .spawn(move || {
                let _guard = guard;
                connection(stream, limits, service.as_ref());
            });
        // A thread that cannot start drops its guard with the closure.
        drop(spawned);
    }
}

/// Counts a connection while it is served.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection over the bound with a 503, without waiting on it.
fn refuse(mut stream: TcpStream, max: usize) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let reply = Reply::error(
        503,
        format!("the server is serving {max} connections, its limit: try again shortly"),
    );
    let _ = write_reply(&mut stream, &reply);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Serves one request on `stream`.
fn connection(mut stream: TcpStream, limits: Limits, service: &dyn Service) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + limits.request_deadline;
    let reply = match read_request(&mut stream, deadline, limits, service) {
        Ok(Request::Complete(head, body)) => service.respond(&head, &body),
        Ok(Request::Refused(reply)) => {
            let _ = stream.set_write_timeout(Some(limits.request_deadline));
            let _ = write_reply(&mut stream, &reply);
            // The body was not read: take what the client still sends for a moment, so that
            // closing does not reset the connection before it reads the answer.
            let _ = stream.shutdown(Shutdown::Write);
            drain(&mut stream, Instant::now() + Duration::from_secs(1));
            return;
        }
        Err(Failure::Gone) => return,
        Err(Failure::Reply(reply)) => reply,
    };
    let _ = stream.set_write_timeout(Some(limits.request_deadline));
    let _ = write_reply(&mut stream, &reply);
    let _ = stream.shutdown(Shutdown::Write);
}

enum Request {
    Complete(Head, Vec<u8>),
    /// Refused by the service's check, the body unread.
    Refused(Reply),
}

enum Failure {
    /// The client closed the connection or it broke: nobody to answer.
    Gone,
    /// An answer to send (408, 400, 411, 413, 431).
    Reply(Reply),
}

/// Reads into `buf` before `deadline`; `Ok(0)` at the end of the stream.
fn read_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timeout());
    }
    stream
        .set_read_timeout(Some(left))
        .map_err(|_| Failure::Gone)?;
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timeout())
            }
            Err(_) => return Err(Failure::Gone),
        }
    }
}

fn timeout() -> Failure {
    Failure::Reply(Reply::error(
        408,
        "the request did not arrive in time: the connection was closed",
    ))
}

fn read_request(
    stream: &mut TcpStream,
    deadline: Instant,
    limits: Limits,
    service: &dyn Service,
) -> Result<Request, Failure> {
    // The head, up to the blank line.
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(Failure::Reply(Reply::error(
                431,
                format!("a request head over {MAX_HEAD} bytes"),
            )));
        }
        let n = read_by(stream, &mut chunk, deadline)?;
        if n == 0 {
            return Err(Failure::Gone);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = parse_head(&buf[..head_end]).map_err(|m| Failure::Reply(Reply::error(400, m)))?;
    let mut body = buf.split_off(head_end + 4);
    if let Err(reply) = service.check(&head) {
        return Ok(Request::Refused(reply));
    }
    if head.header("Transfer-Encoding").is_some() {
        return Ok(Request::Refused(Reply::error(
            411,
            "a body without Content-Length: expected Content-Length",
        )));
    }
    let length = match head.header("Content-Length") {
        None if head.method == "POST" => {
            return Ok(Request::Refused(Reply::error(
                411,
                "a POST without Content-Length: expected Content-Length",
            )))
        }
        None => 0,
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            Failure::Reply(Reply::error(
                400,
                format!("Content-Length '{v}': expected a number of bytes"),
            ))
        })?,
    };
    if length > limits.max_body {
        return Ok(Request::Refused(Reply::error(
            413,
            format!(
                "a body of {length} bytes: expected at most {}",
                limits.max_body
            ),
        )));
    }
    if head
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        && body.len() < length
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let n = read_by(stream, &mut chunk[..want], deadline)?;
        if n == 0 {
            return Err(Failure::Gone);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request::Complete(head, body))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(bytes: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "a request head that is not text")?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "request line '{line}': expected METHOD PATH HTTP/1.1"
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("{version}: expected HTTP/1.0 or HTTP/1.1"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("header line '{line}': expected NAME: VALUE"));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Head {
        method: method.to_ascii_uppercase(),
        path: target.split('?').next().unwrap_or("").to_string(),
        headers,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    if let Some(allow) = reply.allow {
        out.push_str(&format!("Allow: {allow}\r\n"));
    }
    if reply.status == 503 {
        out.push_str("Retry-After: 1\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

/// Reads and drops what the client still sends, until it closes, `deadline`, or a bound.
fn drain(stream: &mut TcpStream, deadline: Instant) {
    let mut chunk = [0u8; 4096];
    let mut left = 1 << 20;
    while left > 0 {
        match read_by(stream, &mut chunk, deadline) {
            Ok(0) | Err(_) => return,
            Ok(n) => left -= n.min(left),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_and_bad_ones_are_named() {
        let head =
            parse_head(b"post /api/rate?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3").unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/api/rate");
        assert_eq!(head.header("content-length"), Some("3"));
        assert!(parse_head(b"GET /").unwrap_err().contains("request line"));
        assert!(parse_head(b"GET / HTTP/2")
            .unwrap_err()
            .contains("HTTP/1.1"));
        assert!(parse_head(b"GET / HTTP/1.1\r\nno colon")
            .unwrap_err()
            .contains("header"));
    }
}
