//! OpenID Connect discovery (OpenID Connect Discovery 1.0 §4): where the document lives and
//! what is taken from it.
//!
//! Only two members are read, and both are checked:
//! - `issuer` must equal the configured issuer **byte for byte** (§4.3: a document for
//!   another issuer must not be used, or one server could vouch for another's tokens);
//! - `jwks_uri` must be an absolute URL ([`HttpUrl`]) using `https`, or `http` only when its
//!   host is a loopback address (local development and the end-to-end tests). A plain-http
//!   key URL on a real network is refused as [`DiscoveryError::InsecureJwksUri`].
//!
//! The JWKS is then fetched from `jwks_uri` through the **same** configured cluster, with
//! `:authority` and `:path` taken from it. Every other member is ignored.

use std::fmt;

use serde::Deserialize;

use super::url::{HttpUrl, Scheme, UrlError};

/// Path appended to the issuer (after removing one trailing `/`, as §4 requires).
pub const WELL_KNOWN_PATH: &str = "/.well-known/openid-configuration";

/// Why a discovery document was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Not a JSON object.
    NotJson,
    /// No `issuer` string member.
    MissingIssuer,
    /// `issuer` differs from the configured issuer.
    IssuerMismatch,
    /// No `jwks_uri` string member.
    MissingJwksUri,
    /// `jwks_uri` is not an acceptable URL.
    BadJwksUri(UrlError),
    /// `jwks_uri` uses plain `http` to a host that is not loopback.
    InsecureJwksUri,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::NotJson => f.write_str("discovery document is not a JSON object"),
            DiscoveryError::MissingIssuer => f.write_str("discovery document has no issuer"),
            DiscoveryError::IssuerMismatch => {
                f.write_str("discovery document issuer differs from the configured issuer")
            }
            DiscoveryError::MissingJwksUri => f.write_str("discovery document has no jwks_uri"),
            DiscoveryError::BadJwksUri(e) => write!(f, "discovery jwks_uri: {e}"),
            DiscoveryError::InsecureJwksUri => {
                f.write_str("discovery jwks_uri uses http to a host that is not loopback")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// The discovery document URL for `issuer`: `<issuer without one trailing '/'>` +
/// [`WELL_KNOWN_PATH`].
pub fn discovery_url(issuer: &str) -> Result<HttpUrl, UrlError> {
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    HttpUrl::parse(&format!("{base}{WELL_KNOWN_PATH}"))
}

/// The two members read; unknown members are ignored (documents carry dozens).
#[derive(Deserialize)]
struct Document {
    issuer: Option<serde_json::Value>,
    jwks_uri: Option<serde_json::Value>,
}

/// Reads a discovery document and returns its checked `jwks_uri`.
/// The caller caps the body size before calling (see [`super::MAX_BODY_BYTES`]).
pub fn parse_discovery(body: &[u8], expected_issuer: &str) -> Result<HttpUrl, DiscoveryError> {
    let doc: Document = serde_json::from_slice(body).map_err(|_| DiscoveryError::NotJson)?;
    let issuer = match doc.issuer {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(DiscoveryError::MissingIssuer),
    };
    if issuer != expected_issuer {
        return Err(DiscoveryError::IssuerMismatch);
    }
    let raw = match doc.jwks_uri {
        Some(serde_json::Value::String(s)) => s,
        _ => return Err(DiscoveryError::MissingJwksUri),
    };
    let url = HttpUrl::parse(&raw).map_err(DiscoveryError::BadJwksUri)?;
    if url.scheme() == Scheme::Http && !url.is_loopback() {
        return Err(DiscoveryError::InsecureJwksUri);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://login.example.com/oauth/v2/anon";

    fn doc(issuer: &str, jwks_uri: &str) -> Vec<u8> {
        serde_json::json!({
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "token_endpoint": "https://login.example.com/token",
            "response_types_supported": ["code"],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn well_known_url_strips_one_trailing_slash() {
        assert_eq!(
            discovery_url(ISS).unwrap().path(),
            "/oauth/v2/anon/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://a.example/").unwrap().path(),
            "/.well-known/openid-configuration"
        );
        let url = discovery_url("http://127.0.0.1:4000").unwrap();
        assert_eq!(url.authority(), "127.0.0.1:4000");
        assert_eq!(url.path(), "/.well-known/openid-configuration");
        assert_eq!(discovery_url("not a url"), Err(UrlError::InvalidCharacter));
    }

    #[test]
    fn accepts_matching_issuer_and_https_jwks_uri() {
        let url = parse_discovery(&doc(ISS, "https://keys.example.com/v2/jwks"), ISS).unwrap();
        assert_eq!(url.authority(), "keys.example.com");
        assert_eq!(url.path(), "/v2/jwks");
    }

    #[test]
    fn accepts_http_jwks_uri_on_loopback_only() {
        let iss = "http://127.0.0.1:4000";
        let url = parse_discovery(&doc(iss, "http://127.0.0.1:4000/jwks"), iss).unwrap();
        assert_eq!(url.path(), "/jwks");
        assert_eq!(
            parse_discovery(&doc(iss, "http://keys.example.com/jwks"), iss),
            Err(DiscoveryError::InsecureJwksUri)
        );
    }

    #[test]
    fn issuer_must_match_exactly() {
        for other in [
            "https://login.example.com/oauth/v2/anon/",
            "https://LOGIN.example.com/oauth/v2/anon",
            "https://login.example.com/oauth/v2/anon2",
            "",
        ] {
            assert_eq!(
                parse_discovery(&doc(other, "https://k.example/jwks"), ISS),
                Err(DiscoveryError::IssuerMismatch),
                "{other:?}"
            );
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        let cases: Vec<(Vec<u8>, DiscoveryError)> = vec![
            (b"".to_vec(), DiscoveryError::NotJson),
            (b"<html>".to_vec(), DiscoveryError::NotJson),
            (b"[]".to_vec(), DiscoveryError::NotJson),
            (b"\"x\"".to_vec(), DiscoveryError::NotJson),
            (b"{}".to_vec(), DiscoveryError::MissingIssuer),
            (
                br#"{"issuer":7,"jwks_uri":"https://k/j"}"#.to_vec(),
                DiscoveryError::MissingIssuer,
            ),
            (
                br#"{"issuer":null}"#.to_vec(),
                DiscoveryError::MissingIssuer,
            ),
            (
                format!(r#"{{"issuer":"{ISS}"}}"#).into_bytes(),
                DiscoveryError::MissingJwksUri,
            ),
            (
                format!(r#"{{"issuer":"{ISS}","jwks_uri":["https://k/j"]}}"#).into_bytes(),
                DiscoveryError::MissingJwksUri,
            ),
            (
                doc(ISS, "/jwks"),
                DiscoveryError::BadJwksUri(UrlError::NotAbsolute),
            ),
            (
                doc(ISS, "javascript:alert(1)"),
                DiscoveryError::BadJwksUri(UrlError::NotAbsolute),
            ),
            (
                doc(ISS, "ftp://k.example/jwks"),
                DiscoveryError::BadJwksUri(UrlError::UnsupportedScheme),
            ),
            (
                doc(ISS, "https://u:p@k.example/jwks"),
                DiscoveryError::BadJwksUri(UrlError::UserInfo),
            ),
            (
                doc(ISS, "http://k.example/jwks"),
                DiscoveryError::InsecureJwksUri,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_discovery(&body, ISS),
                Err(want.clone()),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn hostile_bodies_do_not_panic() {
        let deep = "[".repeat(100_000);
        let bodies: Vec<Vec<u8>> = vec![
            vec![0xff; 10],
            deep.into_bytes(),
            "a".repeat(100_000).into_bytes(),
            br#"{"issuer":"x","issuer":"y"}"#.to_vec(),
            b"{\"issuer\":\"\\ud800\"}".to_vec(),
        ];
        for body in bodies {
            assert!(parse_discovery(&body, ISS).is_err());
        }
    }
}
