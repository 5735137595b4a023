//! `tollgate-site serve`: a small HTTP/1.1 static server (std only) for the demo and
//! the tests, sending exactly the headers of [`crate::headers`].
//!
//! GET and HEAD only; `/a/b` is served from `a/b.html` (or the file `a/b` itself),
//! never with a redirect; only known file types are served; `.html` names, `_…`
//! and dot files other than `.well-known` are not; everything else is 404 — the same
//! set the generated nginx snippets serve. One thread per connection,
//! `Connection: close`, bounded request size and timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::headers::{content_type, security_headers};

/// Longest request head read.
const MAX_HEAD: u64 = 16 * 1024;
/// Longest request path written to the log (longer ones end with `…`).
const MAX_LOGGED_PATH: usize = 200;

/// What the server answers for a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Serve this file with this content type.
    File(PathBuf, &'static str),
    /// 404.
    NotFound,
}

/// True for a path the server may map to a file: `/seg/seg` of `[A-Za-z0-9._~-]`,
/// no empty, `.` or `..` segment (so `/.well-known` is fine, traversal is not).
fn is_safe(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        !rest.is_empty()
            && rest.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-')
                    })
            })
    })
}

/// Maps a request target (query and fragment ignored) to a file in `root`.
pub fn resolve(root: &Path, target: &str) -> Resolved {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !is_safe(path) {
        return Resolved::NotFound;
    }
    let rel = path.trim_start_matches('/');
    // Build-tool files are not part of the site, and a page has one address only.
    let hidden = rel
        .split('/')
        .any(|seg| seg.starts_with('_') || (seg.starts_with('.') && seg != ".well-known"));
    if hidden || rel.ends_with(".html") {
        return Resolved::NotFound;
    }
    for candidate in [rel.to_owned(), format!("{rel}.html")] {
        let file = root.join(&candidate);
        if file.is_file() {
            return match content_type(&candidate) {
                Some(ct) => Resolved::File(file, ct),
                None => Resolved::NotFound,
            };
        }
    }
    Resolved::NotFound
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    ct: &str,
    body: &[u8],
    head_only: bool,
    hsts: u64,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in security_headers(hsts) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

/// `secs` since the Unix epoch as an RFC 3339 UTC time, `2026-12-01T20:01:13Z`.
pub fn rfc3339_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`, for days >= 0).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The log line of one request: time, method, path without the query, status. Characters
/// outside printable ASCII are escaped, so a request cannot write terminal controls or
/// fake lines into the log.
pub fn log_line(secs: u64, method: &str, target: &str, status: u16) -> String {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let clean = |s: &str, max: usize| {
        let mut out: String = s
            .chars()
            .take(max)
            .flat_map(|c| {
                if c.is_ascii_graphic() {
                    vec![c]
                } else {
                    c.escape_unicode().collect()
                }
            })
            .collect();
        if s.chars().count() > max {
            out.push('…');
        }
        if out.is_empty() {
            out.push('-');
        }
        out
    };
    format!(
        "{} {} {} {status}",
        rfc3339_utc(secs),
        clean(method, 16),
        clean(path, MAX_LOGGED_PATH)
    )
}

const NOT_FOUND: (u16, &str, &str, &[u8]) = (
    404,
    "404 Not Found",
    "text/plain; charset=utf-8",
    b"not found\n",
);

fn handle(mut stream: TcpStream, root: &Path, hsts: u64) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the header lines (bounded by MAX_HEAD).
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let head_only = method == "HEAD";
    let file;
    let (code, status, ct, body): (u16, &str, &str, &[u8]) = if method != "GET" && !head_only {
        (
            405,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"method not allowed\n",
        )
    } else {
        match resolve(root, target) {
            Resolved::File(path, ct) => match std::fs::read(&path) {
                Ok(bytes) => {
                    file = bytes;
                    (200, "200 OK", ct, &file)
                }
                Err(_) => NOT_FOUND,
            },
            Resolved::NotFound => NOT_FOUND,
        }
    };
    let result = respond(&mut stream, status, ct, body, head_only, hsts);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!("{}", log_line(now, method, target, code));
    result
}

/// Serves `root` on `listener` until the process ends.
pub fn serve(listener: TcpListener, root: PathBuf, hsts: u64) {
    for stream in listener.incoming().flatten() {
        let root = root.clone();
        std::thread::spawn(move || {
            // A broken connection only affects that client.
            let _ = handle(stream, &root, hsts);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;

    fn site() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tollgate-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".well-known")).unwrap();
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::write(dir.join(".well-known/apple-app-site-association"), "{}").unwrap();
        std::fs::write(dir.join("app/callback.html"), "<p>page</p>").unwrap();
        std::fs::write(dir.join("app/x_bg.wasm"), "wasm").unwrap();
        std::fs::write(dir.join("app/secret.key"), "k").unwrap();
        std::fs::write(dir.join("_headers"), "h").unwrap();
        std::fs::write(dir.join(".tollgate-site"), "m").unwrap();
        std::fs::write(dir.join("app/.hidden.html"), "h").unwrap();
        dir
    }

    #[test]
    fn resolves_without_redirects_and_refuses_traversal() {
        let root = site();
        assert!(matches!(
            resolve(&root, "/app/callback?code=x"),
            Resolved::File(_, "text/html; charset=utf-8")
        ));

        assert!(matches!(
            resolve(&root, "/.well-known/apple-app-site-association"),
            Resolved::File(_, "application/json")
        ));
        assert!(matches!(
            resolve(&root, "/app/x_bg.wasm"),
            Resolved::File(_, "application/wasm")
        ));
        for bad in [
            "/",
            "",
            "/app/",
            "/app/../app/callback",
            "/app//callback",
            "/app/secret.key",
            "/_headers",
            "/app/callback.html",
            "/.tollgate-site",
            "/app/.hidden",
            "/.well-known/../_headers",
            "/app/%2e%2e/x",
            "//etc/passwd",
            "/app/callback/",
            "*",
        ] {
            assert_eq!(resolve(&root, bad), Resolved::NotFound, "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_796_155_273), "2026-12-01T20:01:13Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn log_lines_drop_the_query_and_escape_controls() {
        assert_eq!(
            log_line(0, "GET", "/example/callback?code=SECRET&state=s", 200),
            "1970-01-01T00:00:00Z GET /example/callback 200"
        );
        assert_eq!(
            log_line(0, "GET", "/a#frag", 404),
            "1970-01-01T00:00:00Z GET /a 404"
        );
        assert_eq!(
            log_line(0, "G\x1bT", "/x\u{1b}[2J\nfake 200", 404),
            "1970-01-01T00:00:00Z G\\u{1b}T /x\\u{1b}[2J\\u{a}fake\\u{20}200 404"
        );
        assert_eq!(log_line(0, "", "", 405), "1970-01-01T00:00:00Z - - 405");
        let long = format!("/{}", "a".repeat(500));
        let line = log_line(0, "GET", &long, 404);
        assert!(line.ends_with("a… 404"), "{line}");
        assert_eq!(
            line.len(),
            "1970-01-01T00:00:00Z GET ".len() + 200 + "… 404".len()
        );
    }

    #[test]
    fn serves_with_security_headers() {
        let root = site();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || serve(listener, root, 60));
        let origin = http::Origin::parse(&base).unwrap();
        let mut client = http::Client::new(None);
        let r = client.get(&origin, "/app/callback?code=abc").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"<p>page</p>");
        for (name, value) in security_headers(60) {
            assert_eq!(
                r.header(&name.to_ascii_lowercase()),
                Some(value.as_str()),
                "{name}"
            );
        }
        let r = client.get(&origin, "/app/x_bg.wasm").unwrap();
        assert_eq!(r.header("content-type"), Some("application/wasm"));
        let r = client.get(&origin, "/nope").unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}
