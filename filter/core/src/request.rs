//! Reading what the core needs from the request headers: the method, method overrides and
//! single header values (the path is [`crate::path`]'s, the credential [`crate::credential`]'s).

use std::fmt;

use crate::path::PathError;
use crate::tchar::is_tchar;

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
    /// The token appears twice in one source (two headers of that name, two cookies, two
    /// query parameters): ambiguous, so refused.
    MultipleTokens,
    /// No `:method` pseudo header.
    MissingMethod,
    /// No `:path` pseudo header.
    MissingPath,
    /// `:method` is not an RFC 9110 token in upper case (e.g. `post` over HTTP/2, which
    /// Envoy forwards unchanged and many frameworks upper-case before routing).
    InvalidMethod,
    /// A method-override header (`x-http-method-override`, `x-http-method`,
    /// `x-method-override`) or `_method` query parameter: frameworks that honour them run
    /// another method's handler than the one the rules saw.
    MethodOverride,
    /// The path cannot be canonicalised unambiguously (see [`crate::path`]): such a path
    /// could match one rule here and mean another resource upstream, so it is refused.
    InvalidPath(PathError),
}

impl RequestError {
    /// Stable metric/log reason.
    pub fn reason(&self) -> &'static str {
        match self {
            RequestError::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            RequestError::MalformedAuthorization => "malformed_authorization",
            RequestError::MultipleTokens => "multiple_tokens",
            RequestError::MissingMethod => "missing_method",
            RequestError::MissingPath => "missing_path",
            RequestError::InvalidMethod => "invalid_method",
            RequestError::MethodOverride => "method_override",
            RequestError::InvalidPath(_) => "invalid_path",
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
            RequestError::MultipleTokens => "the request carries its token more than once",
            RequestError::MissingMethod => "the request has no method",
            RequestError::MissingPath => "the request has no path",
            RequestError::InvalidMethod => "the request method is not an upper-case HTTP token",
            RequestError::MethodOverride => "method overrides are not accepted",
            RequestError::InvalidPath(e) => return e.fmt(f),
        })
    }
}

/// Find the value of a header (names are expected lower-case, as proxy-wasm gives them;
/// compared case-insensitively anyway).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request method the rules can be trusted with: a non-empty RFC 9110 token without
/// lower-case letters. Methods are case-sensitive (RFC 9110 §9.1) and every registered one
/// is upper case, but Envoy forwards an HTTP/2 `:method post` unchanged and frameworks
/// (Flask, Express, Django) upper-case it before routing: matching `post` against a `POST`
/// rule would be wrong either way, so it is refused.
pub fn check_method(method: &str) -> Result<(), RequestError> {
    let ok = !method.is_empty()
        && method
            .bytes()
            .all(|b| is_tchar(b) && !b.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(RequestError::InvalidMethod)
    }
}

/// Headers through which frameworks let a client replace the method (Express
/// `method-override`, Symfony, ASP.NET, Laravel, Google APIs).
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// True when the request asks for another method than `:method`: one of
/// [`METHOD_OVERRIDE_HEADERS`], or a `_method` query parameter (Laravel, Spring's
/// `HiddenHttpMethodFilter`, Rails-style forms). A `_method` in a form body cannot be seen
/// here: disable method overrides in the application.
pub fn asks_method_override(headers: &[(String, String)], query: &str) -> bool {
    let by_header = headers.iter().any(|(n, _)| {
        METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|o| n.eq_ignore_ascii_case(o))
    });
    by_header
        || query
            .trim_start_matches('?')
            .split(['&', ';'])
            .any(|pair| is_method_override_name(pair.split('=').next().unwrap_or("")))
}

/// A query parameter name that an application reads as `_method`: percent-decoded once,
/// `+` as a space, leading spaces dropped and `.`, space and `[` read as `_` (as PHP does with
/// variable names), compared ignoring case. `;` separates parameters too (older Python and
/// Go parsers).
fn is_method_override_name(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| Some(hex_value(bytes.get(i + 1)?)? * 16 + hex_value(bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(v) => {
                decoded.push(v);
                i += 3;
            }
            None => {
                decoded.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    let start = decoded.iter().take_while(|b| **b == b' ').count();
    let name = decoded.get(start..).unwrap_or(&[]);
    let is_override = |n: &[u8]| {
        n.len() == 7
            && n.iter().zip(b"_method").all(|(c, want)| {
                let c = match c {
                    b'.' | b' ' | b'[' => b'_',
                    c => c.to_ascii_lowercase(),
                };
                c == *want
            })
    };
    // `_method[]=…` or `_method[x]=…` is the array `_method` in PHP.
    let before_bracket = name.split(|b| *b == b'[').next().unwrap_or(&[]);
    is_override(name) || (before_bracket.len() < name.len() && is_override(before_bracket))
}

fn hex_value(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
