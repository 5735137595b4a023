//! TEST ONLY: loopback HTTP/HTTPS servers that answer each request path with raw
//! bytes chosen by the test, and certificates made in memory for them (rcgen).
//! Nothing here is written to disk except a CA certificate a test asks for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A TEST-ONLY certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA with a fresh P-256 key.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} (TEST ONLY)"));
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA certificate to a fresh file and returns its path.
    pub fn write_pem(&self, tag: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("tollgate-test-ca-{tag}-{}.pem", std::process::id()));
        std::fs::write(&path, self.pem()).unwrap();
        path
    }

    /// A server configuration with a leaf certificate for `names` (DNS names or IP
    /// literals); `expired` makes one that ended in 2001.
    pub fn server(&self, names: &[&str], expired: bool) -> Arc<ServerConfig> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            });
        }
        params
            .distinguished_name
            .push(DnType::CommonName, "tollgate test server (TEST ONLY)");
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![cert.der().clone(), self.issuer.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Arc::new(
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }
}

/// A raw HTTP/1.1 response with `Content-Length` and `Connection: close`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

type Handler = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

fn read_path<S: Read>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_owned();
    line.split_whitespace().nth(1).map(str::to_owned)
}

fn handle(stream: TcpStream, tls: Option<Arc<ServerConfig>>, handler: &Handler) {
    match tls {
        None => {
            let mut stream = stream;
            if let Some(path) = read_path(&mut stream) {
                let _ = stream.write_all(&handler(&path));
            }
        }
        Some(config) => {
            let Ok(conn) = ServerConnection::new(config) else {
                return;
            };
            let mut tls = StreamOwned::new(conn, stream);
            if let Some(path) = read_path(&mut tls) {
                let _ = tls.write_all(&handler(&path));
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    }
}

/// Starts a server on a free loopback port (https when `tls` is given); returns its
/// base URL (`https://127.0.0.1:PORT`). It runs until the test process ends.
pub fn start(
    tls: Option<Arc<ServerConfig>>,
    handler: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let handler: Handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (tls, handler) = (tls.clone(), handler.clone());
            std::thread::spawn(move || handle(stream, tls, &handler));
        }
    });
    format!("{scheme}://127.0.0.1:{port}")
}
