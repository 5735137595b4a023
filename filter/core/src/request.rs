//! Reading what the core needs from the request headers: method, path and the bearer token.

use std::fmt;

/// The request itself is malformed (answered 400 `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// More than one `Authorization` header: ambiguous, so refused (RFC 6750 §3.1
    /// "uses more than one method for including an access token").
    MultipleAuthorizationHeaders,
    /// `Authorization: Bearer` with no token, or with something that is not a single
    /// token68 value (spaces inside, empty).
    MalformedAuthorization,
    /// No `:method` pseudo header.
    MissingMethod,
    /// No `:path` pseudo header.
    MissingPath,
    /// The path does not start with `/`, or contains a `.`/`..` segment (also
    /// percent-encoded) or a backslash: such paths could match one rule here and mean
    /// another path upstream after normalisation, so they are refused.
    InvalidPath,
}

impl RequestError {
    /// Stable metric/log reason.
    pub fn reason(&self) -> &'static str {
        match self {
            RequestError::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            RequestError::MalformedAuthorization => "malformed_authorization",
            RequestError::MissingMethod => "missing_method",
            RequestError::MissingPath => "missing_path",
            RequestError::InvalidPath => "invalid_path",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::MultipleAuthorizationHeaders => {
                "the request carries more than one Authorization header"
            }
            RequestError::MalformedAuthorization => "the Authorization header is malformed",
            RequestError::MissingMethod => "the request has no method",
            RequestError::MissingPath => "the request has no path",
            RequestError::InvalidPath => {
                "the request path is not in normal form (dot segments or backslashes)"
            }
        })
    }
}

/// What the bearer-token lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerToken<'a> {
    /// No `Authorization` header, or one with another scheme (e.g. `Basic`).
    Missing,
    /// The token (not yet checked in any way beyond being one token68 value).
    Present(&'a str),
}

/// Find the value of a header (names are expected lower-case, as proxy-wasm gives them;
/// compared case-insensitively anyway).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Extract the bearer token from exactly one `Authorization` header (scheme compared
/// case-insensitively). The query string is never consulted.
pub fn bearer_token(headers: &[(String, String)]) -> Result<BearerToken<'_>, RequestError> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str());
    let Some(value) = values.next() else {
        return Ok(BearerToken::Missing);
    };
    if values.next().is_some() {
        return Err(RequestError::MultipleAuthorizationHeaders);
    }
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match value.find([' ', '\t']) {
        Some(i) => (value.get(..i).unwrap_or(""), value.get(i..).unwrap_or("")),
        None => (value, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(BearerToken::Missing);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() || !is_token68(token) {
        return Err(RequestError::MalformedAuthorization);
    }
    Ok(BearerToken::Present(token))
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The path without query string and fragment, after checking it is in normal form.
pub fn route_path(raw: &str) -> Result<&str, RequestError> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = raw.get(..end).unwrap_or(raw);
    if !path.starts_with('/') || path.contains('\\') {
        return Err(RequestError::InvalidPath);
    }
    for segment in path.split('/') {
        if is_dot_segment(segment) {
            return Err(RequestError::InvalidPath);
        }
        // Encoded backslashes and slashes need a `%`; most segments have none, so they are
        // checked without copying (this runs on every request).
        if !segment.contains('%') {
            continue;
        }
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%5c") || lower.contains("%2f") && is_dot_segment_encoded(&lower) {
            return Err(RequestError::InvalidPath);
        }
    }
    Ok(path)
}

fn is_dot_segment(segment: &str) -> bool {
    // `.`, `..` and their percent-encoded spellings use only these bytes (at most 6 of
    // them); anything else cannot be a dot segment, which saves copying every segment.
    if segment.is_empty()
        || segment.len() > 6
        || !segment
            .bytes()
            .all(|b| matches!(b, b'.' | b'%' | b'2' | b'e' | b'E'))
    {
        return false;
    }
    let lower = segment.to_ascii_lowercase();
    let decoded = lower.replace("%2e", ".");
    decoded == "." || decoded == ".."
}

fn is_dot_segment_encoded(lower_segment: &str) -> bool {
    lower_segment
        .replace("%2f", "/")
        .replace("%2e", ".")
        .split('/')
        .any(|s| s == "." || s == "..")
}
