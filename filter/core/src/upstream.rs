//! The upstream edits of an allowed request: the route's scopes decide
//! ([`grant`]), then what goes upstream — the claim headers and filter state rendered from the
//! token ([`claim_headers`]), the edits that take the token out of the request with
//! `forward_token: false` (every spelling that was read), and the canonical `:path`.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::binding::Bound;
use crate::cache::CachedToken;
use crate::config::{Rule, TokenSource};
use crate::engine::{Allowed, HeaderEdit};
use crate::path::CanonicalTarget;
use crate::request::{self, same_header_name};
use crate::response::{Challenge, Denial, DenialKind};
use crate::scopes;

/// Largest header value produced from a claim; longer values are not forwarded.
pub const MAX_CLAIM_HEADER_BYTES: usize = 4096;

/// The route's scope check on a verified (or cached) token, then the allow decision.
/// `strip` is set when the token must be taken out of the request (`forward_token: false`).
pub(crate) fn grant(
    rule: &Rule,
    entry: &CachedToken,
    strip: Option<&Bound<'_>>,
    target: &CanonicalTarget<'_>,
    challenge: impl FnOnce() -> Challenge,
) -> Result<Allowed, Denial> {
    if !scopes::has_all(&entry.scopes, &rule.scopes) {
        return Err(Denial {
            kind: DenialKind::InsufficientScope {
                required: rule.scopes.clone(),
            },
            provider: Some(entry.provider),
            challenge: challenge(),
        });
    }
    let (mut token_edits, path) = match strip.and_then(|b| b.source) {
        None => (Vec::new(), target.rewritten()),
        Some(source) => strip_token(source, strip.map_or(&[][..], |b| b.headers), target),
    };
    // Introspection with `forward: "jwt"`: the API gets the authorization server's JWT.
    if let Some(jwt) = &entry.forward_jwt {
        token_edits.push(HeaderEdit::Set(
            "authorization".into(),
            format!("Bearer {jwt}"),
        ));
    }
    Ok(Allowed {
        set_headers: Arc::clone(&entry.headers),
        filter_state: Arc::clone(&entry.filter_state),
        provider: Some(entry.provider),
        token_edits,
        path,
        dpop_nonce: None,
    })
}

/// The edits that take the token out of the request, and the `:path` to forward.
fn strip_token(
    source: &TokenSource,
    headers: &[(String, String)],
    target: &CanonicalTarget<'_>,
) -> (Vec<HeaderEdit>, Option<String>) {
    match source {
        TokenSource::Authorization { .. } => (
            vec![HeaderEdit::Remove("authorization".into())],
            target.rewritten(),
        ),
        // Every spelling an upstream reads as this header (there is one: two are refused).
        TokenSource::Header { name, .. } => (
            headers
                .iter()
                .filter(|(n, _)| same_header_name(n, name))
                .map(|(n, _)| HeaderEdit::Remove(n.clone()))
                .collect(),
            target.rewritten(),
        ),
        TokenSource::Cookie { name } => {
            let rest: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                .flat_map(|(_, v)| v.split(';'))
                .map(str::trim)
                .filter(|pair| {
                    !pair.is_empty()
                        && pair
                            .split_once('=')
                            .is_none_or(|(n, _)| !request::query_name_is(n.trim(), name))
                })
                .collect();
            let edit = if rest.is_empty() {
                HeaderEdit::Remove("cookie".into())
            } else {
                HeaderEdit::Set("cookie".into(), rest.join("; "))
            };
            (vec![edit], target.rewritten())
        }
        TokenSource::Query { name } => {
            // Keep every other parameter with the separator it came with.
            let raw = target.query().strip_prefix('?').unwrap_or(target.query());
            let mut query = String::new();
            let mut start = 0;
            for end in raw
                .match_indices(['&', ';'])
                .map(|(i, _)| i)
                .chain(std::iter::once(raw.len()))
            {
                let piece = raw.get(start..end).unwrap_or("");
                let separator = if start == 0 {
                    ""
                } else {
                    raw.get(start - 1..start).unwrap_or("&")
                };
                start = end + 1;
                let piece_name = piece.split_once('=').map_or(piece, |(n, _)| n);
                if piece.is_empty() || request::query_name_is(piece_name, name) {
                    continue;
                }
                query.push(if query.is_empty() {
                    '?'
                } else {
                    separator.chars().next().unwrap_or('&')
                });
                query.push_str(piece);
            }
            (Vec::new(), Some(format!("{}{query}", target.path())))
        }
    }
}

/// Map configured claims to header values: strings as is, numbers and booleans as JSON
/// text, arrays of scalars joined with single spaces; objects, `null`, arrays containing
/// objects/arrays/null are skipped. An array with an empty element or one containing a space
/// or a comma is skipped too: joined, `["viewer admin"]` would read as two roles to the API
/// (space-separated) or `["a,b"]` as two list members (comma-separated header lists). A
/// value containing control characters (CR, LF, NUL, …) or longer than
/// [`MAX_CLAIM_HEADER_BYTES`] is skipped (never forwarded in part).
pub fn claim_headers(
    mapping: &[(String, String)],
    claims: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (claim, header) in mapping {
        let Some(v) = claim_value(claims, claim) else {
            continue;
        };
        let text = match v {
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items
                    .iter()
                    .map(|item| {
                        scalar_text(item).filter(|t| !t.is_empty() && !t.contains([' ', ',']))
                    })
                    .collect();
                parts.map(|p| p.join(" "))
            }
            other => scalar_text(other),
        };
        let Some(text) = text else { continue };
        if text.len() > MAX_CLAIM_HEADER_BYTES || text.chars().any(char::is_control) {
            continue;
        }
        out.push((header.clone(), text));
    }
    out
}

/// A claim by name, or — when no top-level claim has that name — by dotted path into nested
/// objects (`address.country`). Namespaced claims such as `https://example.com/roles` keep
/// working: the exact name is tried first.
pub fn claim_value<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut v = claims.get(parts.next()?)?;
    for part in parts {
        v = v.as_object()?.get(part)?;
    }
    Some(v)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
