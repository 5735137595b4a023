//! The token request a gated token-endpoint rule reads: the form body, treated as hostile.
//!
//! Rules, in order (the first failing one decides, 400 `invalid_request` unless said):
//! 1. The body is at most the rule's `max_body_bytes` → [`BodyError::TooLarge`] (413).
//! 2. No `Content-Encoding` (the filter would read other bytes than the server decodes) →
//!    [`BodyError::ContentEncoding`].
//! 3. Exactly one `Content-Type`, whose media type is `application/x-www-form-urlencoded`
//!    (parameters such as `charset` allowed, case-insensitive) → [`BodyError::ContentType`].
//! 4. No `grant_type` or `client_id` in the query string, in any spelling an application
//!    reads as that name ([`crate::request::query_name_is`]): some servers merge query and
//!    body → [`BodyError::ParameterInQuery`].
//! 5. The body splits at `&` only; a raw `;` is refused, because older form parsers also
//!    split there and would read other parameters than this one → [`BodyError::Malformed`].
//! 6. Names and values are decoded as every form decoder does (`+` as a space, `%XX` once;
//!    [`crate::request::percent_decode_form`]) and must be UTF-8 → [`BodyError::Malformed`].
//! 7. A name an application could read as `grant_type` or `client_id` but spelled otherwise
//!    (`GRANT_TYPE`, `grant_type[]`, `grant.type`, `%20grant_type`) →
//!    [`BodyError::AmbiguousName`]; the same name twice (RFC 6749 §3.2) →
//!    [`BodyError::Repeated`].
//! 8. `grant_type` present and non-empty → [`BodyError::MissingGrantType`].

use std::fmt;

use crate::request::{self, percent_decode_form, query_name_is};

/// Why a token request is refused before its attestation is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than the rule's `max_body_bytes` (413).
    TooLarge,
    /// A `Content-Encoding` header is present.
    ContentEncoding,
    /// No, several, or another `Content-Type` than `application/x-www-form-urlencoded`.
    ContentType,
    /// `grant_type` or `client_id` in the query string.
    ParameterInQuery,
    /// A raw `;`, or a name or value that is not UTF-8 once decoded.
    Malformed,
    /// A name that reads as `grant_type` or `client_id` in another spelling.
    AmbiguousName,
    /// `grant_type` or `client_id` more than once.
    Repeated,
    /// No (or an empty) `grant_type`.
    MissingGrantType,
    /// The glue decided a gated route without reading its body (a defect, refused).
    NotRead,
}

impl BodyError {
    /// Stable metric/log reason.
    pub fn reason(&self) -> &'static str {
        match self {
            BodyError::TooLarge => "token_request_too_large",
            BodyError::ContentEncoding => "token_request_content_encoding",
            BodyError::ContentType => "token_request_content_type",
            BodyError::ParameterInQuery => "token_request_parameter_in_query",
            BodyError::Malformed => "token_request_malformed",
            BodyError::AmbiguousName => "token_request_ambiguous_name",
            BodyError::Repeated => "token_request_repeated_parameter",
            BodyError::MissingGrantType => "token_request_missing_grant_type",
            BodyError::NotRead => "token_request_body_not_read",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::TooLarge => "the token request body is too large",
            BodyError::ContentEncoding => "the token request body must not be content-encoded",
            BodyError::ContentType => {
                "the token request body must be application/x-www-form-urlencoded"
            }
            BodyError::ParameterInQuery => {
                "grant_type and client_id must not appear in the query string"
            }
            BodyError::Malformed => "the token request body is malformed",
            BodyError::AmbiguousName => {
                "the token request body spells grant_type or client_id ambiguously"
            }
            BodyError::Repeated => "grant_type or client_id appears more than once",
            BodyError::MissingGrantType => "the token request has no grant_type",
            BodyError::NotRead => "the token request body was not read",
        })
    }
}

/// What the gate needs from a token request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type` (never empty).
    pub grant_type: String,
    /// `client_id`, when present.
    pub client_id: Option<String>,
}

/// The names the gate reads.
const GRANT_TYPE: &str = "grant_type";
const CLIENT_ID: &str = "client_id";

/// Read a token request: `headers` (lower-case names), `query` (as sent, with or without
/// `?`), `body` the whole body. See the module documentation for the rules.
pub fn parse(
    headers: &[(String, String)],
    query: &str,
    body: &[u8],
    max_body_bytes: usize,
) -> Result<TokenRequest, BodyError> {
    if body.len() > max_body_bytes {
        return Err(BodyError::TooLarge);
    }
    if headers
        .iter()
        .any(|(n, _)| request::same_header_name(n, "content-encoding"))
    {
        return Err(BodyError::ContentEncoding);
    }
    let mut types = headers
        .iter()
        .filter(|(n, _)| request::same_header_name(n, "content-type"));
    match (types.next(), types.next()) {
        (Some((_, value)), None) if is_form_type(value) => {}
        _ => return Err(BodyError::ContentType),
    }
    if request::query_pairs(query)
        .any(|(name, _)| query_name_is(name, GRANT_TYPE) || query_name_is(name, CLIENT_ID))
    {
        return Err(BodyError::ParameterInQuery);
    }
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Malformed)?;
    if text.contains(';') {
        return Err(BodyError::Malformed);
    }
    let mut grant_type: Option<String> = None;
    let mut client_id: Option<String> = None;
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name =
            String::from_utf8(percent_decode_form(raw_name)).map_err(|_| BodyError::Malformed)?;
        let value =
            String::from_utf8(percent_decode_form(raw_value)).map_err(|_| BodyError::Malformed)?;
        for (wanted, slot) in [(GRANT_TYPE, &mut grant_type), (CLIENT_ID, &mut client_id)] {
            if !query_name_is(raw_name, wanted) {
                continue;
            }
            if name != wanted {
                return Err(BodyError::AmbiguousName);
            }
            if slot.is_some() {
                return Err(BodyError::Repeated);
            }
            *slot = Some(value.clone());
        }
    }
    match grant_type {
        Some(g) if !g.is_empty() => Ok(TokenRequest {
            grant_type: g,
            client_id,
        }),
        _ => Err(BodyError::MissingGrantType),
    }
}

/// `application/x-www-form-urlencoded`, optionally followed by `;` parameters.
fn is_form_type(value: &str) -> bool {
    let media = value.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        h.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        h
    }

    fn ok(grant: &str, client: Option<&str>) -> Result<TokenRequest, BodyError> {
        Ok(TokenRequest {
            grant_type: grant.into(),
            client_id: client.map(str::to_owned),
        })
    }

    #[test]
    fn a_refresh_grant_is_read_as_a_server_decodes_it() {
        let h = form(&[]);
        assert_eq!(
            parse(&h, "", b"grant_type=refresh_token&refresh_token=abc", 1024),
            ok("refresh_token", None)
        );
        assert_eq!(
            parse(&h, "", b"grant_type=refresh%5Ftoken&client_id=app", 1024),
            ok("refresh_token", Some("app"))
        );
        assert_eq!(
            parse(&h, "", b"grant_type=a+b&client_id=my%20app", 1024),
            ok("a b", Some("my app"))
        );
        assert_eq!(
            parse(
                &h,
                "?x=1",
                b"&&client_id=&grant_type=authorization_code&",
                1024
            ),
            ok("authorization_code", Some(""))
        );
        // Names percent-encoded are decoded before comparing, like a server does.
        assert_eq!(
            parse(&h, "", b"grant%5Ftype=refresh_token", 1024),
            ok("refresh_token", None)
        );
    }

    #[test]
    fn content_type_must_be_a_form() {
        let body = b"grant_type=refresh_token";
        for ct in [
            "application/x-www-form-urlencoded; charset=UTF-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            " application/x-www-form-urlencoded ;charset=utf-8",
        ] {
            let h = vec![("content-type".to_owned(), ct.to_owned())];
            assert_eq!(parse(&h, "", body, 1024), ok("refresh_token", None), "{ct}");
        }
        for ct in [
            "application/json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/x-www-form-urlencodedx",
            "",
        ] {
            let h = vec![("content-type".to_owned(), ct.to_owned())];
            assert_eq!(
                parse(&h, "", body, 1024),
                Err(BodyError::ContentType),
                "{ct}"
            );
        }
        assert_eq!(parse(&[], "", body, 1024), Err(BodyError::ContentType));
        let two = form(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(parse(&two, "", body, 1024), Err(BodyError::ContentType));
        let underscore = form(&[("content_type", "application/json")]);
        assert_eq!(
            parse(&underscore, "", body, 1024),
            Err(BodyError::ContentType)
        );
    }

    #[test]
    fn a_content_encoding_is_refused() {
        for enc in ["gzip", "identity", "br"] {
            let h = form(&[("content-encoding", enc)]);
            assert_eq!(
                parse(&h, "", b"grant_type=refresh_token", 1024),
                Err(BodyError::ContentEncoding)
            );
        }
    }

    #[test]
    fn the_body_bound_is_exact() {
        let h = form(&[]);
        let body = format!("grant_type=refresh_token&pad={}", "a".repeat(100));
        let len = body.len();
        assert_eq!(
            parse(&h, "", body.as_bytes(), len),
            ok("refresh_token", None)
        );
        assert_eq!(
            parse(&h, "", body.as_bytes(), len - 1),
            Err(BodyError::TooLarge)
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let h = form(&[]);
        for body in [
            "grant_type=refresh_token&grant_type=refresh_token",
            "grant_type=authorization_code&grant_type=refresh_token",
            "grant_type=refresh_token&client_id=a&client_id=b",
            "grant_type=refresh_token&grant%5Ftype=x",
        ] {
            assert_eq!(
                parse(&h, "", body.as_bytes(), 1024),
                Err(BodyError::Repeated),
                "{body}"
            );
        }
    }

    #[test]
    fn other_spellings_of_the_names_are_refused() {
        let h = form(&[]);
        for body in [
            "GRANT_TYPE=refresh_token",
            "grant_type[]=refresh_token",
            "grant.type=refresh_token",
            "grant+type=refresh_token",
            "+grant_type=refresh_token",
            "grant_type=refresh_token&Client_Id=x",
            "grant_type=refresh_token&client_id[0]=x",
        ] {
            assert_eq!(
                parse(&h, "", body.as_bytes(), 1024),
                Err(BodyError::AmbiguousName),
                "{body}"
            );
        }
    }

    #[test]
    fn parameters_in_the_query_are_refused() {
        let h = form(&[]);
        for q in [
            "?grant_type=refresh_token",
            "?client_id=x",
            "?a=1&GRANT_TYPE=x",
            "?client%5Fid=x",
            "?x=1;client_id=y",
        ] {
            assert_eq!(
                parse(&h, q, b"grant_type=refresh_token", 1024),
                Err(BodyError::ParameterInQuery),
                "{q}"
            );
        }
    }

    #[test]
    fn semicolons_and_bad_encodings_are_refused() {
        let h = form(&[]);
        for body in [
            &b"grant_type=authorization_code;grant_type=refresh_token"[..],
            b"grant_type=refresh_token&x=%FF",
            b"grant_type=refresh_token&%C3=1",
            b"grant_type=\xff",
        ] {
            assert_eq!(parse(&h, "", body, 1024), Err(BodyError::Malformed));
        }
    }

    #[test]
    fn a_missing_or_empty_grant_type_is_refused() {
        let h = form(&[]);
        for body in ["", "client_id=x", "grant_type=", "grant_type", "&&"] {
            assert_eq!(
                parse(&h, "", body.as_bytes(), 1024),
                Err(BodyError::MissingGrantType),
                "{body}"
            );
        }
    }
}
