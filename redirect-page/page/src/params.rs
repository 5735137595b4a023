//! Authorization-response parameters: parsing, the allow-list and validation.
//!
//! Policy (fixed order of checks, every rejection is one [`ResponseError`] variant):
//! 1. The raw query or fragment is capped at [`MAX_INPUT_BYTES`] before any work.
//! 2. It is split on `&` into at most [`MAX_PAIRS`] non-empty `name=value` pairs
//!    (`application/x-www-form-urlencoded`: `+` is a space, `%XX` escapes must be
//!    valid and decode to UTF-8). A bad escape anywhere rejects the whole response:
//!    an authorization server never sends one, so it is a tampered or broken URL.
//! 3. Only the allow-listed names ([`Param`]) are kept. Every other name
//!    (`redirect_uri`, `target`, `next`, …) is dropped and never forwarded.
//! 4. An allow-listed parameter that appears more than once rejects the whole
//!    response ([`ResponseError::Duplicate`]): RFC 6749 §3.1 says parameters MUST NOT
//!    be repeated, and picking "the first" or "the last" would let an attacker who
//!    can append to the URL choose what the app sees.
//! 5. A parameter with an empty value is treated as omitted (RFC 6749 §3.1).
//! 6. A value longer than [`MAX_VALUE_BYTES`] or containing a control character is
//!    rejected; the response is then not forwarded at all.
//!
//! After these checks, [`crate::screen::decide`] drops an `error_uri` that is not an
//! absolute `https` URI ([`is_forwardable_error_uri`]) and forwards the rest.

/// Longest query or fragment the page looks at, in bytes.
pub const MAX_INPUT_BYTES: usize = 16 * 1024;
/// Longest single allow-listed value, in bytes. Authorization codes and `state`
/// values from real servers and AppAuth are far shorter.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most `&`-separated pairs the page parses.
pub const MAX_PAIRS: usize = 64;

/// An allow-listed authorization-response parameter. The declaration order is the
/// order in which parameters are forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    /// `code` (RFC 6749 §4.1.2).
    Code,
    /// `state` (RFC 6749 §4.1.2); the app compares it with the value it sent.
    State,
    /// `iss` (RFC 9207); forwarded untouched so the app can validate it.
    Iss,
    /// `session_state` (OpenID Connect Session Management), where present.
    SessionState,
    /// `error` (RFC 6749 §4.1.2.1).
    Error,
    /// `error_description` (RFC 6749 §4.1.2.1); forwarded untouched, never shown
    /// (see [`crate::error_code`]).
    ErrorDescription,
    /// `error_uri` (RFC 6749 §4.1.2.1); forwarded only when it is an absolute `https`
    /// URI ([`is_forwardable_error_uri`]), never shown as a link.
    ErrorUri,
}

impl Param {
    /// Every allow-listed parameter, in forwarding order.
    pub const ALL: [Param; 7] = [
        Param::Code,
        Param::State,
        Param::Iss,
        Param::SessionState,
        Param::Error,
        Param::ErrorDescription,
        Param::ErrorUri,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Param::Code => "code",
            Param::State => "state",
            Param::Iss => "iss",
            Param::SessionState => "session_state",
            Param::Error => "error",
            Param::ErrorDescription => "error_description",
            Param::ErrorUri => "error_uri",
        }
    }

    /// The parameter for a wire name, if it is allow-listed (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Why an authorization response was rejected. The page then forwards nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The query or fragment is longer than [`MAX_INPUT_BYTES`].
    InputTooLong,
    /// More than [`MAX_PAIRS`] `&`-separated pairs.
    TooManyPairs,
    /// A `%` not followed by two hex digits.
    InvalidPercentEncoding,
    /// Percent-decoding produced bytes that are not UTF-8.
    InvalidUtf8,
    /// An allow-listed parameter appears more than once.
    Duplicate(Param),
    /// An allow-listed value is longer than [`MAX_VALUE_BYTES`].
    ValueTooLong(Param),
    /// An allow-listed value contains a control character (U+0000–U+001F, U+007F–U+009F).
    ControlCharacter(Param),
    /// Both the query and the fragment carry allow-listed parameters.
    QueryAndFragment,
    /// A login response carries both `code` and `error`.
    CodeAndError,
    /// A login response carries neither `code` nor `error` (only e.g. `state`).
    MissingCodeAndError,
    /// `error` holds characters outside RFC 6749's `%x20-21 / %x23-5B / %x5D-7E`.
    InvalidErrorCode,
}

/// Where the authorization server put the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `?…` (`response_mode=query`, the default for the code flow).
    Query,
    /// `#…` (`response_mode=fragment`).
    Fragment,
}

/// The allow-listed, validated parameters of one response, in forwarding order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: Vec<(Param, String)>,
}

impl Params {
    /// The value of `param`, if present.
    pub fn get(&self, param: Param) -> Option<&str> {
        self.values
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, v)| v.as_str())
    }

    /// True when no allow-listed parameter is present.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The parameters in forwarding order.
    pub fn iter(&self) -> impl Iterator<Item = (Param, &str)> {
        self.values.iter().map(|(p, v)| (*p, v.as_str()))
    }

    /// The same parameters without `param`.
    pub fn without(&self, param: Param) -> Params {
        Params {
            values: self
                .values
                .iter()
                .filter(|(p, _)| *p != param)
                .cloned()
                .collect(),
        }
    }

    /// Only the parameters in `keep`, same order.
    pub fn only(&self, keep: &[Param]) -> Params {
        Params {
            values: self
                .values
                .iter()
                .filter(|(p, _)| keep.contains(p))
                .cloned()
                .collect(),
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component.
pub fn form_decode(input: &str) -> Result<String, ResponseError> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(hex_value);
                let lo = bytes.next().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi * 16 + lo),
                    _ => return Err(ResponseError::InvalidPercentEncoding),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| ResponseError::InvalidUtf8)
}

/// Splits a query or fragment (with or without its leading `?`/`#`) into decoded pairs.
pub fn parse_pairs(input: &str) -> Result<Vec<(String, String)>, ResponseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ResponseError::InputTooLong);
    }
    let input = input
        .strip_prefix('?')
        .or_else(|| input.strip_prefix('#'))
        .unwrap_or(input);
    let mut pairs = Vec::new();
    for segment in input.split('&').filter(|s| !s.is_empty()) {
        if pairs.len() == MAX_PAIRS {
            return Err(ResponseError::TooManyPairs);
        }
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        pairs.push((form_decode(name)?, form_decode(value)?));
    }
    Ok(pairs)
}

fn is_control(c: char) -> bool {
    c.is_control()
}

/// Parses one query or fragment and keeps the validated allow-listed parameters.
pub fn extract(input: &str) -> Result<Params, ResponseError> {
    let mut values: Vec<(Param, String)> = Vec::new();
    for (name, value) in parse_pairs(input)? {
        let Some(param) = Param::from_name(&name) else {
            continue; // not allow-listed: dropped, never forwarded
        };
        if values.iter().any(|(p, _)| *p == param) {
            return Err(ResponseError::Duplicate(param));
        }
        if value.is_empty() {
            // Treated as omitted, but a second occurrence is still a duplicate.
            values.push((param, value));
            continue;
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(ResponseError::ValueTooLong(param));
        }
        if value.chars().any(is_control) {
            return Err(ResponseError::ControlCharacter(param));
        }
        values.push((param, value));
    }
    values.retain(|(_, v)| !v.is_empty());
    // Forwarding order: the allow-list's declaration order (no sort: keeps the Wasm small).
    let values = Param::ALL
        .into_iter()
        .filter_map(|p| {
            let i = values.iter().position(|(q, _)| *q == p)?;
            Some(values.swap_remove(i))
        })
        .collect();
    Ok(Params { values })
}

/// Reads the response from the query or the fragment (`response_mode=fragment`).
///
/// `Ok(None)`: neither carries an allow-listed parameter (page opened without a
/// response). Both carrying one is ambiguous and rejected.
pub fn read_response(
    query: &str,
    fragment: &str,
) -> Result<Option<(Source, Params)>, ResponseError> {
    let from_query = extract(query)?;
    let from_fragment = extract(fragment)?;
    match (from_query.is_empty(), from_fragment.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => Ok(Some((Source::Query, from_query))),
        (true, false) => Ok(Some((Source::Fragment, from_fragment))),
        (false, false) => Err(ResponseError::QueryAndFragment),
    }
}

/// True when `error` only uses the characters RFC 6749 §4.1.2.1 allows.
pub fn is_valid_error_code(error: &str) -> bool {
    !error.is_empty()
        && error
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// True when an `error_uri` may be handed to the app: an absolute `https` URI.
///
/// An app that opens `error_uri` must never be handed `javascript:`, `data:`, a
/// custom scheme or plain `http:`. The rule, in order:
/// 1. only RFC 6749 §4.1.2.1's `error_uri` characters (`%x21 / %x23-5B / %x5D-7E`:
///    printable ASCII without space, `"` and `\`);
/// 2. the scheme is `https` (ASCII case-insensitive, RFC 3986 §3.1), then `//`;
/// 3. a non-empty authority (up to the first `/`, `?` or `#`) without user info
///    (`https://bank.example@evil.example/` is refused).
pub fn is_forwardable_error_uri(uri: &str) -> bool {
    if !uri
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        return false;
    }
    let Some(rest) = uri
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| uri.get(8..))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !authority.is_empty() && !authority.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn keeps_only_allow_listed_parameters_in_forwarding_order() {
        let p = extract("?target=https://evil.example&state=s1&redirect_uri=x&code=c1&iss=https%3A%2F%2Fas.example&foo=bar")
            .unwrap();
        let got: Vec<_> = p.iter().collect();
        assert_eq!(
            got,
            vec![
                (Param::Code, "c1"),
                (Param::State, "s1"),
                (Param::Iss, "https://as.example")
            ]
        );
    }

    #[test]
    fn decodes_form_encoding() {
        let p = extract("error=access_denied&error_description=The+user+said+%22no%22%20%E2%9C%8B")
            .unwrap();
        assert_eq!(
            p.get(Param::ErrorDescription),
            Some("The user said \"no\" ✋")
        );
    }

    #[test]
    fn names_are_decoded_and_case_sensitive() {
        let p = extract("co%64e=abc&CODE=zzz&State=q").unwrap();
        assert_eq!(p.get(Param::Code), Some("abc"));
        assert_eq!(p.get(Param::State), None);
    }

    #[test]
    fn repeated_allow_listed_parameter_is_rejected() {
        assert_eq!(
            extract("code=a&code=b"),
            Err(ResponseError::Duplicate(Param::Code))
        );
        assert_eq!(
            extract("state=a&code=x&state=a"),
            Err(ResponseError::Duplicate(Param::State))
        );
        assert_eq!(
            extract("state=&state=b"),
            Err(ResponseError::Duplicate(Param::State))
        );
    }

    #[test]
    fn repeated_ignored_parameter_is_just_dropped() {
        let p = extract("code=a&x=1&x=2").unwrap();
        assert_eq!(p.iter().count(), 1);
    }

    #[test]
    fn empty_values_are_omitted() {
        let p = extract("code=&state=s&iss").unwrap();
        assert_eq!(p.get(Param::Code), None);
        assert_eq!(p.get(Param::Iss), None);
        assert_eq!(p.get(Param::State), Some("s"));
    }

    #[test]
    fn bad_encoding_is_rejected() {
        assert_eq!(
            extract("code=%zz"),
            Err(ResponseError::InvalidPercentEncoding)
        );
        assert_eq!(
            extract("code=%4"),
            Err(ResponseError::InvalidPercentEncoding)
        );
        assert_eq!(
            extract("other=%"),
            Err(ResponseError::InvalidPercentEncoding)
        );
        assert_eq!(extract("code=%FF%FE"), Err(ResponseError::InvalidUtf8));
    }

    #[test]
    fn limits_are_enforced() {
        let long_state = format!("code=c&state={}", "a".repeat(10_000));
        assert_eq!(
            extract(&long_state),
            Err(ResponseError::ValueTooLong(Param::State))
        );
        let at_limit = format!("state={}", "a".repeat(MAX_VALUE_BYTES));
        assert_eq!(
            extract(&at_limit).unwrap().get(Param::State).map(str::len),
            Some(MAX_VALUE_BYTES)
        );
        let huge = "a".repeat(MAX_INPUT_BYTES + 1);
        assert_eq!(extract(&huge), Err(ResponseError::InputTooLong));
        let many = "x=1&".repeat(MAX_PAIRS + 1);
        assert_eq!(extract(&many), Err(ResponseError::TooManyPairs));
        let ok = "x=1&".repeat(MAX_PAIRS);
        assert!(extract(&ok).unwrap().is_empty());
    }

    #[test]
    fn control_characters_are_rejected() {
        assert_eq!(
            extract("code=a%0Ab"),
            Err(ResponseError::ControlCharacter(Param::Code))
        );
        assert_eq!(
            extract("error=x&error_description=%00"),
            Err(ResponseError::ControlCharacter(Param::ErrorDescription))
        );
        // Dropped parameters are not inspected beyond decoding.
        assert!(extract("code=a&other=%0A").is_ok());
    }

    #[test]
    fn query_or_fragment() {
        let (src, p) = read_response("?code=q", "").unwrap().unwrap();
        assert_eq!((src, p.get(Param::Code)), (Source::Query, Some("q")));
        let (src, p) = read_response("", "#code=f&state=s").unwrap().unwrap();
        assert_eq!((src, p.get(Param::Code)), (Source::Fragment, Some("f")));
        assert_eq!(
            read_response("?code=q", "#code=f"),
            Err(ResponseError::QueryAndFragment)
        );
        assert_eq!(read_response("?foo=1", "#bar"), Ok(None));
        assert_eq!(read_response("", ""), Ok(None));
        // Ignored parameters in the query do not make a fragment response ambiguous.
        assert!(read_response("?utm=1", "#code=f").unwrap().is_some());
    }

    #[test]
    fn error_code_charset() {
        assert!(is_valid_error_code("access_denied"));
        assert!(!is_valid_error_code(""));
        assert!(!is_valid_error_code("a\"b"));
        assert!(!is_valid_error_code("a\\b"));
        assert!(!is_valid_error_code("é"));
    }

    #[test]
    fn error_uri_must_be_absolute_https() {
        for ok in [
            "https://as.example.com/errors/access_denied",
            "https://as.example.com",
            "HTTPS://as.example.com/e",
            "https://as.example.com:8443/e?lang=en#top",
            "https://[2001:db8::1]/e",
        ] {
            assert!(is_forwardable_error_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "JavaScript:alert(document.domain)",
            "data:text/html,<script>alert(1)</script>",
            "data:text/html;base64,PHNjcmlwdD4=",
            "http://as.example.com/e",
            "vbscript:msgbox",
            "com.example.app:/callback",
            "//as.example.com/e",
            "/errors/access_denied",
            "https:as.example.com",
            "https:/as.example.com",
            "https://",
            "https:///e",
            "https://?x",
            "https://bank.example@evil.example/",
            "https://as.example.com/a b",
            "https://as.example.com/\"x\"",
            "https://as.example.com/\\",
            "https://as.example.com/é",
            " https://as.example.com/",
            "https\t://as.example.com/",
            "https://as.example.com/\u{0}",
        ] {
            assert!(!is_forwardable_error_uri(bad), "{bad:?}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let long = "%".repeat(100_000);
        let inputs = [
            "",
            "?",
            "#",
            "&",
            "=",
            "==",
            "&&&",
            "?&=&",
            "%",
            "%%",
            "%%%",
            "+",
            "code",
            "code==",
            "=code",
            "%E2%9C",
            "code=%E2%9C",
            long.as_str(),
            "code=\u{fffd}",
        ];
        for input in inputs {
            let _ = extract(input);
            let _ = read_response(input, input);
        }
    }
}
