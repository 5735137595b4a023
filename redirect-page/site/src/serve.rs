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
use std::time::Duration;

use crate::headers::{content_type, security_headers};

/// Longest request head read.
const MAX_HEAD: u64 = 16 * 1024;

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
    if method != "GET" && !head_only {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"method not allowed\n",
            false,
            hsts,
        );
    }
    match resolve(root, target) {
        Resolved::File(file, ct) => match std::fs::read(&file) {
            Ok(body) => respond(&mut stream, "200 OK", ct, &body, head_only, hsts),
            Err(_) => respond(
                &mut stream,
                "404 Not Found",
                "text/plain; charset=utf-8",
                b"not found\n",
                head_only,
                hsts,
            ),
        },
        Resolved::NotFound => respond(
            &mut stream,
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"not found\n",
            head_only,
            hsts,
        ),
    }
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
