//! The request-level pieces the glue asks about before deciding: whether a request is on a
//! token-endpoint gate (its body must be gathered first), and the challenge endpoint, which
//! the filter answers itself (`POST` → 200 `{"attestation_challenge": "…"}`, any other
//! method → 405 with `Allow: POST`), without the request reaching the upstream.

use crate::config::{Access, Config};
use crate::path;
use crate::request;
use crate::response::LocalResponse;
use crate::rules;

/// A request on a token-endpoint gate: what the glue needs before its body arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyGate {
    /// The rule's `max_body_bytes`.
    pub max_body_bytes: usize,
    /// The canonical `:path` to forward when it differs from what the client sent: the glue
    /// writes it while the headers can still change (before the body arrives), and decides
    /// with it.
    pub path: Option<String>,
    /// Headers to remove from the request as its headers go on (`forward_attestation: false`).
    pub remove: &'static [&'static str],
}

/// The gate when the request's first matching rule is a token-endpoint gate; `None`
/// otherwise (including requests the engine will refuse before any rule).
pub fn body_gate(config: &Config, headers: &[(String, String)]) -> Option<BodyGate> {
    let method = request::header(headers, ":method")?;
    let raw_path = request::header(headers, ":path")?;
    let target = path::canonicalize(raw_path, config.path_parameters).ok()?;
    let index = rules::first_match(&config.rules, method, target.path())?;
    let rule = config.rules.get(index)?;
    let wanted = rule.client_attestation.as_ref()?;
    (rule.access == Access::Anonymous && wanted.is_gate()).then(|| BodyGate {
        max_body_bytes: wanted.max_body_bytes,
        path: target.rewritten(),
        remove: if wanted.forward_attestation {
            &[]
        } else {
            &super::ATTESTATION_HEADERS
        },
    })
}

/// The answer of the challenge endpoint when the request's canonical path is it (query
/// ignored); `None` for every other request and when challenges are off.
pub fn answer(config: &Config, headers: &[(String, String)], now: u64) -> Option<LocalResponse> {
    let challenges = config.client_attestation.as_ref()?.challenges.as_ref()?;
    let raw_path = request::header(headers, ":path")?;
    let target = path::canonicalize(raw_path, config.path_parameters).ok()?;
    if target.path() != challenges.endpoint {
        return None;
    }
    let mut response_headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
    ];
    if request::header(headers, ":method") != Some("POST") {
        response_headers.push(("allow".to_owned(), "POST".to_owned()));
        return Some(LocalResponse {
            status: 405,
            headers: response_headers,
            body: serde_json::json!({
                "error": "invalid_request",
                "error_description": "the attestation challenge endpoint takes POST"
            })
            .to_string(),
        });
    }
    Some(LocalResponse {
        status: 200,
        headers: response_headers,
        body: serde_json::json!({ "attestation_challenge": challenges.key.issue(now) }).to_string(),
    })
}
