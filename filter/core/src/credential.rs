//! The request's credential, read in one place: which scheme, which token.
//!
//! Exactly one `Authorization` header is read (two → 400, RFC 6750 §3.1: "more than one
//! method"); the scheme is compared case-insensitively (RFC 9110 §11.1). A header with
//! another scheme (e.g. `Basic`) counts as no credential. The token must be a single
//! token68 value. The query string and cookies are never read.

use crate::request::RequestError;

/// The credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No `Authorization` header, or one with a scheme tollgate does not accept.
    None,
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer(&'a str),
}

impl<'a> Credential<'a> {
    /// Read the credential from all request headers.
    pub fn from_headers(headers: &'a [(String, String)]) -> Result<Credential<'a>, RequestError> {
        let mut values = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        let Some(value) = values.next() else {
            return Ok(Credential::None);
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
            return Ok(Credential::None);
        }
        let token = rest.trim_start_matches([' ', '\t']);
        if token.is_empty() || !is_token68(token) {
            return Err(RequestError::MalformedAuthorization);
        }
        Ok(Credential::Bearer(token))
    }
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}
