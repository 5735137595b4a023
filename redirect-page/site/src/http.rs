//! A small HTTP/1.1 client for `check --url`: `https://` with rustls, verified against
//! the operating system's roots plus any `--ca` file; plain `http://` only for a
//! loopback server (`tollgate-site serve`). It never follows redirects (the check
//! must see them), asks for an uncompressed body and reads at most
//! [`MAX_RESPONSE`] bytes.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Largest response body read; a longer one is [`HttpError::BodyTooLarge`].
pub const MAX_RESPONSE: usize = 1024 * 1024;
/// Connect, read and write timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
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

/// Why a request (or setting up TLS) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Not `https://host[:port]` or `http://host:port` without path.
    UnsupportedUrl(String),
    /// `http://` to a host that is not loopback: the platforms only fetch over https.
    PlainHttp(String),
    /// `--ca`: the file cannot be read.
    CaUnreadable(String, String),
    /// `--ca`: the file holds no PEM certificate.
    CaEmpty(String),
    /// `--ca`: the PEM blocks do not hold a usable X.509 certificate.
    CaInvalid(String),
    /// No trusted root certificate at all (no system roots and no `--ca`).
    NoRoots,
    /// The host name does not resolve, or the connection was refused or timed out.
    Connect(String),
    /// The server's certificate does not chain to a trusted root.
    CertificateUntrusted(String),
    /// The server's certificate is not valid for the host name.
    CertificateWrongHost(String),
    /// The server's certificate has expired.
    CertificateExpired,
    /// The server's certificate is not valid yet.
    CertificateNotYetValid,
    /// Any other TLS failure (handshake, protocol).
    Tls(String),
    /// Sending or reading failed.
    Io(String),
    /// The response is not parseable HTTP/1.x.
    Malformed(&'static str),
    /// The body is longer than [`MAX_RESPONSE`].
    BodyTooLarge,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::UnsupportedUrl(u) => write!(
                f,
                "{u:?}: give a base URL, https://host[:port] (or http://127.0.0.1:PORT for a local serve), without a path"
            ),
            HttpError::PlainHttp(u) => write!(
                f,
                "{u}: iOS and Android fetch these files over https only; plain http is accepted only for a loopback server"
            ),
            HttpError::CaUnreadable(p, e) => write!(f, "--ca {p}: cannot read: {e}"),
            HttpError::CaEmpty(p) => write!(f, "--ca {p}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"),
            HttpError::CaInvalid(p) => write!(f, "--ca {p}: the PEM certificates are not valid X.509 certificates"),
            HttpError::NoRoots => f.write_str(
                "no trusted root certificates: install the system's CA certificates (Debian: ca-certificates) or pass --ca FILE",
            ),
            HttpError::Connect(e) => write!(f, "cannot connect: {e}"),
            HttpError::CertificateUntrusted(e) => write!(
                f,
                "TLS certificate not trusted ({e}): Apple's CDN and Android verify against public roots; for a test CA pass --ca FILE"
            ),
            HttpError::CertificateWrongHost(e) => {
                write!(f, "TLS certificate is not valid for this host name ({e})")
            }
            HttpError::CertificateExpired => f.write_str("TLS certificate has expired"),
            HttpError::CertificateNotYetValid => f.write_str("TLS certificate is not valid yet"),
            HttpError::Tls(e) => write!(f, "TLS failed: {e}"),
            HttpError::Io(e) => write!(f, "request failed: {e}"),
            HttpError::Malformed(why) => write!(f, "malformed HTTP response: {why}"),
            HttpError::BodyTooLarge => write!(f, "response body larger than {MAX_RESPONSE} bytes"),
        }
    }
}

/// `scheme://host[:port]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// True for https.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (default 443 / 80).
    pub port: u16,
}

impl Origin {
    /// Parses a base URL (a trailing `/` is allowed, a path is not).
    pub fn parse(base: &str) -> Result<Origin, HttpError> {
        let unsupported = || HttpError::UnsupportedUrl(base.to_owned());
        let (tls, rest) = if let Some(r) = base.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = base.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(unsupported());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(unsupported());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(unsupported)?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(unsupported)?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(unsupported());
        }
        let origin = Origin {
            tls,
            host: host.to_ascii_lowercase(),
            port,
        };
        if !tls && !origin.is_loopback() {
            return Err(HttpError::PlainHttp(base.to_owned()));
        }
        Ok(origin)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The `Host` header value.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Trusted roots for https: the system's, plus the certificates of an extra CA file.
pub fn tls_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, HttpError> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries of the system store are skipped; only an empty result matters.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| HttpError::CaUnreadable(shown.clone(), e.to_string()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(HttpError::CaEmpty(shown));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(HttpError::CaInvalid(shown));
        }
    }
    if roots.is_empty() {
        return Err(HttpError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client: the TLS configuration is built once, on the first https request.
pub struct Client {
    extra_ca: Option<std::path::PathBuf>,
    tls: Option<Arc<ClientConfig>>,
}

impl Client {
    /// A client trusting the system's roots and, if given, the CA certificates in `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Client {
        Client {
            extra_ca: extra_ca.map(Path::to_path_buf),
            tls: None,
        }
    }

    /// `GET origin + path`; redirects are returned, not followed.
    pub fn get(&mut self, origin: &Origin, path: &str) -> Result<Response, HttpError> {
        let tcp = connect(origin)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept-Encoding: identity\r\nUser-Agent: tollgate-site-check\r\n\r\n",
            origin.authority()
        );
        if !origin.tls {
            return exchange(tcp, &request);
        }
        let config = match &self.tls {
            Some(c) => c.clone(),
            None => {
                let c = tls_config(self.extra_ca.as_deref())?;
                self.tls = Some(c.clone());
                c
            }
        };
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|_| HttpError::UnsupportedUrl(origin.host.clone()))?;
        let conn = ClientConnection::new(config, name).map_err(|e| tls_error(&e))?;
        exchange(StreamOwned::new(conn, tcp), &request)
    }
}

fn connect(origin: &Origin) -> Result<TcpStream, HttpError> {
    let addrs = (origin.host.as_str(), origin.port)
        .to_socket_addrs()
        .map_err(|e| HttpError::Connect(format!("{}: {e}", origin.host)))?;
    let mut last = format!("{}: no address", origin.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                let io = |e: std::io::Error| HttpError::Io(e.to_string());
                s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
                s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
                return Ok(s);
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(HttpError::Connect(last))
}

fn tls_error(e: &rustls::Error) -> HttpError {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                HttpError::CertificateExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                HttpError::CertificateNotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                HttpError::CertificateWrongHost(e.to_string())
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                HttpError::CertificateUntrusted(e.to_string())
            }
            _ => HttpError::CertificateUntrusted(e.to_string()),
        },
        other => HttpError::Tls(other.to_string()),
    }
}

/// An I/O error, or the TLS error inside it.
fn io_error(e: &std::io::Error) -> HttpError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls_error(tls),
        None => HttpError::Io(e.to_string()),
    }
}

fn exchange<S: Read + Write>(mut stream: S, request: &str) -> Result<Response, HttpError> {
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| io_error(&e))?;
    // Head plus body, capped; a peer that closes without TLS close_notify has still
    // sent a complete response when the framing says so.
    let cap = MAX_RESPONSE + 64 * 1024;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(buf.get(..n).unwrap_or_default());
                if raw.len() > cap {
                    return Err(HttpError::BodyTooLarge);
                }
                if response_complete(&raw) {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(&e)),
        }
    }
    parse_response(&raw)
}

/// True once `raw` holds a whole response by its Content-Length or chunked framing.
fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let Ok(resp) = parse_head(raw.get(..split).unwrap_or_default()) else {
        return false;
    };
    let body = raw.get(split + 4..).unwrap_or_default();
    if is_chunked(&resp.1) {
        return dechunk(body).is_ok();
    }
    match content_length(&resp.1) {
        Some(Ok(n)) => body.len() >= n,
        _ => false,
    }
}

type Head = (u16, Vec<(String, String)>);

fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let head = std::str::from_utf8(head).map_err(|_| HttpError::Malformed("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(HttpError::Malformed("no status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed("not HTTP/1.x"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(HttpError::Malformed("bad status code"))?;
    let headers = lines
        .map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .ok_or(HttpError::Malformed("bad header line"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((status, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn content_length(headers: &[(String, String)]) -> Option<Result<usize, HttpError>> {
    header(headers, "content-length").map(|v| {
        v.parse::<usize>()
            .map_err(|_| HttpError::Malformed("bad Content-Length"))
    })
}

/// Decodes a whole chunked body (chunk extensions and trailers ignored).
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, HttpError> {
    let incomplete = HttpError::Malformed("incomplete chunked body");
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| incomplete.clone())?;
        let line = std::str::from_utf8(body.get(..line_end).unwrap_or_default())
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        body = body.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_RESPONSE || out.len() + size > MAX_RESPONSE {
            return Err(HttpError::BodyTooLarge);
        }
        let chunk = body.get(..size).ok_or_else(|| incomplete.clone())?;
        out.extend_from_slice(chunk);
        body = body
            .get(size..)
            .and_then(|b| b.strip_prefix(b"\r\n"))
            .ok_or_else(|| incomplete.clone())?;
    }
}

/// Parses a whole `Connection: close` response (Content-Length, chunked, or to the end).
pub fn parse_response(raw: &[u8]) -> Result<Response, HttpError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpError::Malformed("no end of head"))?;
    let (status, headers) = parse_head(raw.get(..split).unwrap_or_default())?;
    let rest = raw.get(split + 4..).unwrap_or_default();
    let body = if is_chunked(&headers) {
        dechunk(rest)?
    } else if let Some(n) = content_length(&headers) {
        let n = n?;
        rest.get(..n)
            .ok_or(HttpError::Malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_RESPONSE {
        return Err(HttpError::BodyTooLarge);
    }
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
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/x"));
        assert_eq!(r.body, b"body");
        let r = parse_response(b"HTTP/1.1 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!(r.body, b"to the end");
    }

    #[test]
    fn decodes_chunked_bodies() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"{\"a\":1}");
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n"
        ));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(HttpError::Malformed("bad chunk size"))
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n"),
            Err(HttpError::BodyTooLarge)
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            parse_response(b"nonsense"),
            Err(HttpError::Malformed("no end of head"))
        );
        assert_eq!(
            parse_response(b"SMTP 200 x\r\n\r\n"),
            Err(HttpError::Malformed("not HTTP/1.x"))
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Err(HttpError::Malformed("bad status code"))
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"),
            Err(HttpError::Malformed("body shorter than Content-Length"))
        );
    }

    #[test]
    fn base_urls() {
        let o = Origin::parse("https://Mobile.Example.com/").unwrap();
        assert_eq!(
            (o.tls, o.host.as_str(), o.port),
            (true, "mobile.example.com", 443)
        );
        assert_eq!(o.authority(), "mobile.example.com");
        let o = Origin::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!((o.port, o.authority()), (8443, "127.0.0.1:8443".to_owned()));
        let o = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert!(!o.tls);
        let o = Origin::parse("https://[::1]:9443").unwrap();
        assert_eq!(
            (o.host.as_str(), o.authority()),
            ("::1", "[::1]:9443".to_owned())
        );
        for bad in [
            "",
            "mobile.example.com",
            "ftp://mobile.example.com",
            "https://",
            "https:///x",
            "https://mobile.example.com/path",
            "https://mobile.example.com?x",
            "https://user@mobile.example.com",
            "https://mobile.example.com:0",
            "https://mobile.example.com:99999",
            "https://mobile.example.com:x",
            "https://[::1",
        ] {
            assert_eq!(
                Origin::parse(bad),
                Err(HttpError::UnsupportedUrl(bad.to_owned())),
                "{bad}"
            );
        }
        for plain in [
            "http://mobile.example.com",
            "http://10.0.0.1:8080",
            "http://127.0.0.1.evil.example",
        ] {
            assert_eq!(
                Origin::parse(plain),
                Err(HttpError::PlainHttp(plain.to_owned())),
                "{plain}"
            );
        }
    }

    #[test]
    fn ca_file_problems_are_named() {
        let dir = std::env::temp_dir().join(format!("tollgate-ca-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        assert!(matches!(
            tls_config(Some(&missing)),
            Err(HttpError::CaUnreadable(p, _)) if p.ends_with("missing.pem")
        ));
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(
            matches!(tls_config(Some(&empty)), Err(HttpError::CaEmpty(p)) if p.ends_with("empty.pem"))
        );
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(
            matches!(tls_config(Some(&garbage)), Err(HttpError::CaInvalid(p)) if p.ends_with("garbage.pem"))
        );
        let e = HttpError::CaEmpty("x.pem".into()).to_string();
        assert_eq!(
            e,
            "--ca x.pem: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
