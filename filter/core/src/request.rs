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
    /// A token in the query or a cookie contains `%` or `+`: the application would decode it
    /// into another value than the one checked, so it is refused.
    EncodedToken,
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
    /// `x-method-override`, in any spelling [`same_header_name`] equates) or `_method` query
    /// parameter: frameworks that honour them run another method's handler than the one the
    /// rules saw.
    MethodOverride,
    /// A path-override header (`x-original-url`, `x-rewrite-url`): older Symfony and Zend
    /// applications and IIS rewrite set-ups route by it instead of the request line, so the
    /// upstream would serve another path than the one the rules saw.
    PathOverride,
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
            RequestError::EncodedToken => "encoded_token",
            RequestError::MissingMethod => "missing_method",
            RequestError::MissingPath => "missing_path",
            RequestError::InvalidMethod => "invalid_method",
            RequestError::MethodOverride => "method_override",
            RequestError::PathOverride => "path_override",
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
            RequestError::EncodedToken => "the token must not be percent-encoded",
            RequestError::MissingMethod => "the request has no method",
            RequestError::MissingPath => "the request has no path",
            RequestError::InvalidMethod => "the request method is not an upper-case HTTP token",
            RequestError::MethodOverride => "method overrides are not accepted",
            RequestError::PathOverride => "path overrides are not accepted",
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

/// True when two header names name the same header for an upstream: equal ignoring ASCII
/// case, with `_` and `-` the same character. CGI-style gateways (WSGI, PHP, Rack, Go's
/// `net/http/cgi`) turn both `x-user-id` and `x_user_id` into `HTTP_X_USER_ID`, so every header
/// the filter reasons about (claim headers, method and path overrides, token sources) is
/// compared this way.
pub fn same_header_name(a: &str, b: &str) -> bool {
    let fold = |x: u8| {
        if x == b'_' {
            b'-'
        } else {
            x.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// Headers through which frameworks let a client replace the method (Express
/// `method-override`, Symfony, ASP.NET, Laravel, Google APIs).
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers through which some applications let a client replace the path (Symfony before 5,
/// Zend Framework, IIS URL Rewrite set-ups read `X-Original-URL` / `X-Rewrite-URL`).
pub const PATH_OVERRIDE_HEADERS: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// The request asks for another method or path than the one the rules see: one of
/// [`METHOD_OVERRIDE_HEADERS`] or [`PATH_OVERRIDE_HEADERS`] in any spelling
/// [`same_header_name`] equates, or a `_method` query parameter (Laravel, Spring's
/// `HiddenHttpMethodFilter`, Rails-style forms) in any spelling [`query_name_is`] equates.
/// A `_method` in a form body cannot be seen here: disable method overrides in the
/// application.
pub fn check_overrides(headers: &[(String, String)], query: &str) -> Result<(), RequestError> {
    for (n, _) in headers {
        if METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|o| same_header_name(n, o))
        {
            return Err(RequestError::MethodOverride);
        }
        if PATH_OVERRIDE_HEADERS.iter().any(|o| same_header_name(n, o)) {
            return Err(RequestError::PathOverride);
        }
    }
    if query_pairs(query).any(|(name, _)| query_name_is(name, "_method")) {
        return Err(RequestError::MethodOverride);
    }
    Ok(())
}

/// The `name=value` pairs of a query string (with or without its `?`), split at `&` and at
/// `;` (older Python and Go parsers, and Java servlet containers with some settings, split at
/// both); a pair without `=` has an empty value. Names and values are as sent (not decoded).
pub fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .strip_prefix('?')
        .unwrap_or(query)
        .split(['&', ';'])
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// True when an application reads the query parameter (or cookie) name `raw` as `name`:
/// percent-decoded once, `+` as a space, leading spaces dropped, `.`, space and `[` read as
/// `_` (as PHP does with variable names), compared ignoring ASCII case (ASP.NET binds query
/// parameters and cookies case-insensitively). `name` is a plain name as configured. A name
/// followed by `[…]` (`_method[]`, PHP's array syntax) counts as that name too.
pub fn query_name_is(raw: &str, name: &str) -> bool {
    let decoded = percent_decode_form(raw);
    let start = decoded.iter().take_while(|b| **b == b' ').count();
    let got = decoded.get(start..).unwrap_or(&[]);
    let fold = |c: u8| match c {
        b'.' | b' ' | b'[' => b'_',
        c => c.to_ascii_lowercase(),
    };
    let equal = |n: &[u8]| {
        n.len() == name.len() && n.iter().zip(name.bytes()).all(|(c, w)| fold(*c) == fold(w))
    };
    let before_bracket = got.split(|b| *b == b'[').next().unwrap_or(&[]);
    equal(got) || (before_bracket.len() < got.len() && equal(before_bracket))
}

/// Percent-decode once (`%XX`; a `%` not followed by two hex digits stays), `+` as a space:
/// how form and query decoders read names and values.
pub fn percent_decode_form(raw: &str) -> Vec<u8> {
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
    decoded
}

fn hex_value(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
