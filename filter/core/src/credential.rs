//! The request's credential, read in one place: which scheme, which token, which proof.
//!
//! The token comes from the configured sources (`sources`: the `Authorization` header with a
//! scheme, another header with an optional prefix, a cookie, a query parameter). A token in
//! two places is refused (400, RFC 6750 §3.1: "more than one method"), as are two values in
//! one place, e.g. two `Authorization` headers. Schemes are compared case-insensitively (RFC
//! 9110 §11.1): `Bearer` (RFC 6750) or `DPoP` (RFC 9449, with the proof in the `DPoP`
//! header); an `Authorization` header with another scheme (e.g. `Basic`) counts as no
//! credential. The token must be a single token68 value.

use crate::config::TokenSource;
use crate::request::RequestError;

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
        authorization(headers, "Bearer")
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
    for source in sources {
        let credential = match source {
            TokenSource::Authorization { scheme } => authorization(headers, scheme)?,
            TokenSource::Header { name, prefix } => {
                match single(
                    headers
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
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
                let values = headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .flat_map(|(_, v)| v.split(';'))
                    .filter_map(|pair| {
                        let (n, v) = pair.trim().split_once('=')?;
                        (n.trim() == name).then(|| {
                            let v = v.trim();
                            v.strip_prefix('"')
                                .and_then(|x| x.strip_suffix('"'))
                                .unwrap_or(v)
                        })
                    });
                match single(values)? {
                    None => Credential::None,
                    Some(v) => bearer(v)?,
                }
            }
            TokenSource::Query { name } => {
                let values = query.trim_start_matches('?').split('&').filter_map(|pair| {
                    let (n, v) = pair.split_once('=')?;
                    (n == name).then_some(v)
                });
                match single(values)? {
                    None => Credential::None,
                    Some(v) => bearer(v)?,
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

/// The `Authorization` header: `<scheme> <token>` or `DPoP <token>`; another scheme is no
/// credential. Envoy joins two `Authorization` headers with a comma, which no token68
/// contains: that is reported as two headers.
fn authorization<'a>(
    headers: &'a [(String, String)],
    bearer_scheme: &str,
) -> Result<Credential<'a>, RequestError> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str());
    let Some(value) = values.next() else {
        return Ok(Credential::None);
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
        return Ok(Credential::None);
    }
    // The token68 grammar is checked by the engine, on a cache miss only: a value that
    // breaks it can never equal a cached (verified) token.
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(RequestError::MalformedAuthorization);
    }
    if dpop {
        return Ok(Credential::Dpop {
            token,
            proof: Proof::from_headers(headers),
        });
    }
    Ok(Credential::Bearer(token))
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
