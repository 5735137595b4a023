//! A tiny HTTP/1.1 client (std only) for `check --url` against a loopback server.
//! Plain `http://` only; `https://` needs a TLS client (use `curl -sI` there).

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response body read.
const MAX_RESPONSE: u64 = 1024 * 1024;

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Only `http://host:port` URLs are supported.
    UnsupportedUrl(String),
    /// Connecting, sending or reading failed.
    Io(String),
    /// The response is not parseable HTTP/1.x.
    Malformed,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::UnsupportedUrl(u) => write!(
                f,
                "{u}: only http://host:port URLs are supported (for https use curl -sI, or check a local `serve`)"
            ),
            HttpError::Io(e) => write!(f, "request failed: {e}"),
            HttpError::Malformed => f.write_str("malformed HTTP response"),
        }
    }
}

/// `GET base + path`, no redirects followed.
pub fn get(base: &str, path: &str) -> Result<Response, HttpError> {
    let authority = base
        .strip_prefix("http://")
        .map(|r| r.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| HttpError::UnsupportedUrl(base.to_owned()))?;
    let io = |e: std::io::Error| HttpError::Io(e.to_string());
    let mut stream = TcpStream::connect(authority).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: tollgate-site-check\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .map_err(io)?;
    parse_response(&raw)
}

/// Parses a whole `Connection: close` response.
pub fn parse_response(raw: &[u8]) -> Result<Response, HttpError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpError::Malformed)?;
    let head = std::str::from_utf8(raw.get(..split).ok_or(HttpError::Malformed)?)
        .map_err(|_| HttpError::Malformed)?;
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(HttpError::Malformed)?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed);
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(HttpError::Malformed)?;
    let headers = lines
        .map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .ok_or(HttpError::Malformed)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response() {
        let r = parse_response(
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Type: text/plain\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/x"));
        assert_eq!(r.body, b"body");
    }

    #[test]
    fn rejects_garbage_and_https() {
        assert_eq!(parse_response(b"nonsense"), Err(HttpError::Malformed));
        assert_eq!(
            parse_response(b"SMTP 200 x\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        assert!(matches!(
            get("https://example.com", "/"),
            Err(HttpError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            get("http://", "/"),
            Err(HttpError::UnsupportedUrl(_))
        ));
    }
}
