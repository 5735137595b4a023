//! The request's credential, read in one place: which scheme, which token, which proof.
//!
//! The token comes from the configured sources (`sources`: the `Authorization` header with a
//! scheme, another header with an optional prefix, a cookie, a query parameter). A token in
//! two places is refused (400, RFC 6750 §3.1: "more than one method"), as are two values in
//! one place, e.g. two `Authorization` headers. Schemes are compared case-insensitively (RFC
//! 9110 §11.1): `Bearer` (RFC 6750) or `DPoP` (RFC 9449, with the proof in the `DPoP`
//! header); an `Authorization` header with another scheme (e.g. `Basic`) counts as no
//! credential. The token must be a single token68 value.
//!
//! Sources are read the way the upstream reads them, so that what the filter judges is what
//! the API will use:
//! - header names compare as [`same_header_name`] says (`x_api_token` is `x-api-token`);
//! - query parameter and cookie names compare as [`query_name_is`] says (percent-decoded, `+`
//!   as a space, PHP's `.`/space/`[` → `_`, ignoring case), and `;` separates query
//!   parameters too: every spelling an application decodes to the configured name is that
//!   source, and two of them are [`RequestError::MultipleTokens`];
//! - a token value in the query or a cookie must be sent as is: one with `%` or `+` (which an
//!   application would decode into another value than the one checked here) is
//!   [`RequestError::EncodedToken`];
//! - an `Authorization` value that is not `<scheme> <token>` with a known scheme but that a
//!   lenient upstream could still read a token from (`Bearer` followed by something other
//!   than a space or tab, such as U+00A0 or `:`; a bare JWT without scheme; a JWT after an
//!   unknown scheme such as `JWT` or `Token`) is [`RequestError::MalformedAuthorization`],
//!   never "no token": on an `allow_missing` route it would otherwise pass unchecked.

use crate::config::TokenSource;
use crate::request::{query_name_is, query_pairs, same_header_name, RequestError};

/// The credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No `Authorization` header, or one with a scheme tollgate does not accept.
    None,
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` (RFC 9449) and what the `DPoP` header holds.
    Dpop {
        /// The access token.
        token: &'a str,
        /// The proof.
        proof: Proof<'a>,
    },
}

/// The `DPoP` request header(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof<'a> {
    /// No `DPoP` header.
    Missing,
    /// Exactly one.
    One(&'a str),
    /// More than one (RFC 9449 §4.3: refused).
    Several,
}

impl<'a> Proof<'a> {
    /// The `DPoP` header(s) of a request.
    pub fn from_headers(headers: &'a [(String, String)]) -> Proof<'a> {
        let mut values = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("dpop"))
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (None, _) => Proof::Missing,
            (Some(v), None) => Proof::One(v),
            (Some(_), Some(_)) => Proof::Several,
        }
    }
}

impl Credential<'_> {
    /// The access token, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Credential::None => None,
            Credential::Bearer(t) | Credential::Dpop { token: t, .. } => Some(t),
        }
    }
}

impl<'a> Credential<'a> {
    /// Read the credential from the `Authorization` header (`Bearer` or `DPoP`) only.
    pub fn from_headers(headers: &'a [(String, String)]) -> Result<Credential<'a>, RequestError> {
        match authorization(headers, "Bearer")? {
            Authorization::Credential(c) => Ok(c),
            Authorization::OtherScheme { lenient: true } => {
                Err(RequestError::MalformedAuthorization)
            }
            Authorization::OtherScheme { lenient: false } | Authorization::Absent => {
                Ok(Credential::None)
            }
        }
    }
}

/// The one source of `sources` that the request fills, and which one it was;
/// `Ok((Credential::None, None))` when none is present. A token in two sources is
/// [`RequestError::MultipleTokens`]: which one the client meant is a guess, and the other would
/// travel on to the API untouched (`forward_token: false` takes out the one it read).
pub fn find<'a, 'c>(
    headers: &'a [(String, String)],
    query: &'a str,
    sources: &'c [TokenSource],
) -> Result<(Credential<'a>, Option<&'c TokenSource>), RequestError> {
    let mut found = (Credential::None, None);
    // An `Authorization` value that no source's scheme reads but a lenient upstream would.
    let mut lenient = false;
    for source in sources {
        let credential = match source {
            TokenSource::Authorization { scheme } => match authorization(headers, scheme)? {
                Authorization::Credential(c) => c,
                Authorization::OtherScheme { lenient: l } => {
                    lenient |= l;
                    Credential::None
                }
                Authorization::Absent => Credential::None,
            },
            TokenSource::Header { name, prefix } => {
                match single(
                    headers
                        .iter()
                        .filter(|(n, _)| same_header_name(n, name))
                        .map(|(_, v)| v.as_str()),
                )? {
                    None => Credential::None,
                    Some(v) => {
                        let v = v.trim_matches(|c| c == ' ' || c == '\t');
                        match prefix {
                            None => bearer(v)?,
                            Some(p) => match v.get(..p.len()) {
                                Some(head) if head.eq_ignore_ascii_case(p) => {
                                    bearer(v.get(p.len()..).unwrap_or("").trim_start())?
                                }
                                _ => Credential::None,
                            },
                        }
                    }
                }
            }
            TokenSource::Cookie { name } => {
                let values = cookies(headers)
                    .filter(|(n, _)| query_name_is(n, name))
                    .map(|(_, v)| {
                        v.strip_prefix('"')
                            .and_then(|x| x.strip_suffix('"'))
                            .unwrap_or(v)
                    });
                match single(values)? {
                    None => Credential::None,
                    Some(v) => as_sent(v)?,
                }
            }
            TokenSource::Query { name } => {
                let values = query_pairs(query)
                    .filter(|(n, _)| query_name_is(n, name))
                    .map(|(_, v)| v);
                match single(values)? {
                    None => Credential::None,
                    Some(v) => as_sent(v)?,
                }
            }
        };
        if !matches!(credential, Credential::None) {
            if found.1.is_some() {
                return Err(RequestError::MultipleTokens);
            }
            found = (credential, Some(source));
        }
    }
    if lenient && !matches!(found.1, Some(TokenSource::Authorization { .. })) {
        return Err(RequestError::MalformedAuthorization);
    }
    Ok(found)
}

/// At most one value: two are ambiguous (RFC 6750 §3.1: one method only).
fn single<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<Option<&'a str>, RequestError> {
    let first = values.next();
    if first.is_some() && values.next().is_some() {
        return Err(RequestError::MultipleTokens);
    }
    Ok(first)
}

fn bearer(token: &str) -> Result<Credential<'_>, RequestError> {
    if token.is_empty() {
        return Err(RequestError::MalformedAuthorization);
    }
    Ok(Credential::Bearer(token))
}

/// A token from the query or a cookie: an application percent-decodes it (and reads `+` as a
/// space) before use, so one that decoding would change is refused rather than checked in
/// another form than the one the API uses.
fn as_sent(token: &str) -> Result<Credential<'_>, RequestError> {
    if token.contains(['%', '+']) {
        return Err(RequestError::EncodedToken);
    }
    bearer(token)
}

/// The `name=value` pairs of every `Cookie` header, names and values trimmed (as sent, not
/// decoded); a pair without `=` is skipped.
pub(crate) fn cookies(headers: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            Some((n.trim(), v.trim()))
        })
}

/// Three or five non-empty base64url segments separated by dots: a JWS or JWE compact
/// serialization, which a lenient upstream would take for a token wherever it finds one.
fn looks_like_jwt(s: &str) -> bool {
    let parts = s.split('.');
    let mut count = 0;
    for part in parts {
        count += 1;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    count == 3 || count == 5
}

/// An `Authorization` value without a scheme this filter reads, from which a lenient upstream
/// could still take a token: it starts (after any white space) with one of the schemes but is
/// not followed by a space or tab, or some part of it (split at any Unicode white space, `:`
/// or `"`) is a JWT.
fn lenient_token(value: &str, bearer_scheme: &str) -> bool {
    let start = value.trim_start();
    let starts_with = |scheme: &str| {
        start
            .get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    };
    starts_with(bearer_scheme)
        || starts_with("dpop")
        || value
            .split(|c: char| c.is_whitespace() || c == ':' || c == '"')
            .any(looks_like_jwt)
}

/// What the `Authorization` header holds for one configured scheme.
enum Authorization<'a> {
    /// No `Authorization` header.
    Absent,
    /// `<scheme> <token>` or `DPoP <token>`.
    Credential(Credential<'a>),
    /// Another scheme; `lenient` when a lenient upstream could still read a token from it.
    OtherScheme { lenient: bool },
}

/// The `Authorization` header: `<scheme> <token>` or `DPoP <token>`; another scheme is no
/// credential. Envoy joins two `Authorization` headers with a comma, which no token68
/// contains: that is reported as two headers.
fn authorization<'a>(
    headers: &'a [(String, String)],
    bearer_scheme: &str,
) -> Result<Authorization<'a>, RequestError> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str());
    let Some(value) = values.next() else {
        return Ok(Authorization::Absent);
    };
    if values.next().is_some() || value.contains(',') {
        return Err(RequestError::MultipleAuthorizationHeaders);
    }
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match value.find([' ', '\t']) {
        Some(i) => (value.get(..i).unwrap_or(""), value.get(i..).unwrap_or("")),
        None => (value, ""),
    };
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case(bearer_scheme) {
        return Ok(Authorization::OtherScheme {
            lenient: lenient_token(value, bearer_scheme),
        });
    }
    // The token68 grammar is checked by the engine, on a cache miss only: a value that
    // breaks it can never equal a cached (verified) token.
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(RequestError::MalformedAuthorization);
    }
    if dpop {
        return Ok(Authorization::Credential(Credential::Dpop {
            token,
            proof: Proof::from_headers(headers),
        }));
    }
    Ok(Authorization::Credential(Credential::Bearer(token)))
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| TOKEN68.get(usize::from(b)) == Some(&true))
}

/// The token68 characters before the `=` padding, as a table (one look-up per byte: this
/// runs over every token that misses the cache). Built at compile time, where an index out
/// of bounds is a compile error, not a panic.
#[allow(clippy::indexing_slicing)]
const TOKEN68: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        i += 1;
    }
    t
};
