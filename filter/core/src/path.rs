//! Request-path canonicalisation and rule-path matching.
//!
//! Every rule is matched against the **canonical path** this module computes from `:path`,
//! and nothing else; the canonical path is also what goes upstream (the glue rewrites
//! `:path` when it differs from what the client sent). A check on a path only holds if it
//! holds for every spelling the upstream treats as the same resource, and upstreams differ:
//! WSGI and Go decode `%2F` to `/` before routing, Tomcat and Jetty drop `;parameters` from
//! each segment and then remove dot segments, nginx and Spring merge `//`, Express and
//! ASP.NET Core route case-insensitively, IIS and Tomcat have treated `\` as `/`. So the
//! policy is: **normalise what every reader agrees on, refuse what readers disagree on**.
//!
//! | class | example | policy |
//! |---|---|---|
//! | percent-encoded unreserved characters (RFC 3986 §2.3) | `/%6frders`, `/api/%61dmin` | decoded (`/orders`): the same URI for everyone (§6.2.2.2) |
//! | lower-case hex in other escapes | `/caf%c3%a9` | upper-cased (`/caf%C3%A9`, §6.2.2.1) |
//! | dot segments, in any spelling | `/a/../b`, `/%2e%2e/`, `/.%2E/`, `/..;x/` | refused: readers resolve them at different stages |
//! | path parameters | `/orders;jsessionid=x/1`, `/health/..;/admin`, `%3B` | refused by default (Java servers strip them, everyone else keeps them); `path_parameters: "strip"` removes them instead, and what goes upstream has none |
//! | encoded slash or backslash | `/api%2Fadmin`, `%5C` | refused: some readers decode them into separators |
//! | raw backslash | `/api\admin` | refused |
//! | empty segments | `//orders`, `/api//admin` | refused (a single trailing `/` is fine): some readers merge them |
//! | double encoding | `%252e` (`%25` followed by two hex digits) | refused: a second decoding would change the path |
//! | encoded control characters | `%00`, `%0d%0a` | refused |
//! | invalid UTF-8 after decoding | `%C0%AE` (overlong `.`), `%FF` | refused: old decoders map overlong forms to `.` and `/` |
//! | malformed escapes | `%`, `%4`, `%zz` | refused |
//! | raw control, space, non-ASCII, `"`, `<`, `>`, `` ` ``, `{`, `}` | | refused: a browser would have percent-encoded them |
//! | fragment | `/a#b` | refused: never part of a request target |
//! | not starting with `/` | `*`, `orders` | refused |
//! | letter case | `/ORDERS` | kept as sent, but rules match ASCII-case-insensitively, so a rule holds for upstreams that route without regard to case |
//!
//! The query string is passed through untouched and never matched.
//!
//! Rule paths in the configuration must already be canonical ([`canonical_rule_path`]), so
//! matching is a plain, case-insensitive comparison: [`prefix_matches`] (whole segments,
//! like Envoy's `path_separated_prefix`), [`exact_matches`] (an optional trailing `/`) and
//! [`string_prefix_matches`] (plain string prefix, only when asked for by name).

use std::borrow::Cow;
use std::fmt;

/// Why a request path is refused (400 `invalid_request`, reason `invalid_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/` (e.g. `*`, or empty).
    NotAbsolute,
    /// A `#` in the request target.
    Fragment,
    /// A raw control character (CR, LF, NUL, …) or DEL.
    ControlCharacter,
    /// A raw byte outside ASCII (it must be percent-encoded).
    NonAscii,
    /// A raw space, `"`, `<`, `>`, `` ` ``, `{` or `}`: characters a browser always
    /// percent-encodes in a path.
    BadCharacter,
    /// A backslash, raw or percent-encoded (`%5C`).
    Backslash,
    /// A percent-encoded slash (`%2F`).
    EncodedSlash,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
    /// A percent-encoded control character (`%00`–`%1F`, `%7F`).
    EncodedControl,
    /// A percent-encoded `%` followed by two hex digits (`%252e`): decoding twice would
    /// change the path.
    DoubleEncoding,
    /// The percent-decoded path is not valid UTF-8 (including overlong forms such as
    /// `%C0%AE`).
    InvalidUtf8,
    /// A `.` or `..` segment in any spelling (`%2e`, `.%2E`, `..;param`).
    DotSegment,
    /// An empty segment (`//`) other than a single trailing slash.
    EmptySegment,
    /// A `;` path parameter, raw or encoded (`%3B`), while `path_parameters` is `"reject"`
    /// (an encoded `;` is refused in every mode).
    PathParameters,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the request path does not start with /",
            PathError::Fragment => "the request target contains a fragment (#)",
            PathError::ControlCharacter => "the request path contains a control character",
            PathError::NonAscii => "the request path contains a non-ASCII byte",
            PathError::BadCharacter => {
                "the request path contains a character that must be percent-encoded"
            }
            PathError::Backslash => "the request path contains a backslash",
            PathError::EncodedSlash => "the request path contains an encoded slash",
            PathError::BadPercentEncoding => {
                "the request path contains a malformed percent-encoding"
            }
            PathError::EncodedControl => "the request path contains an encoded control character",
            PathError::DoubleEncoding => "the request path is percent-encoded twice",
            PathError::InvalidUtf8 => "the request path does not decode to UTF-8",
            PathError::DotSegment => "the request path contains a dot segment",
            PathError::EmptySegment => "the request path contains an empty segment (//)",
            PathError::PathParameters => "the request path contains path parameters (;)",
        })
    }
}

impl std::error::Error for PathError {}

/// What to do with `;parameters` in path segments (config `path_parameters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathParameters {
    /// Refuse any path with a `;` (the default): stacks disagree on what it means.
    #[default]
    Reject,
    /// Remove `;…` from every segment before matching, and forward the path without them.
    /// For upstreams that ignore path parameters anyway (Tomcat, Jetty, Spring); a dot
    /// segment carrying parameters (`..;x`) is still refused, and so is an encoded `;`.
    Strip,
}

/// A request target, canonicalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalTarget<'a> {
    path: Cow<'a, str>,
    query: &'a str,
}

impl<'a> CanonicalTarget<'a> {
    /// The canonical path (without query): what rules are matched against.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string with its leading `?`, or `""`: never matched, forwarded as sent.
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// The `:path` value to forward upstream when it differs from what the client sent
    /// (canonical path followed by the untouched query); `None` when nothing changed.
    pub fn rewritten(&self) -> Option<String> {
        match &self.path {
            Cow::Borrowed(_) => None,
            Cow::Owned(p) => Some(format!("{p}{}", self.query)),
        }
    }
}

/// Canonicalise the request target `raw` (the `:path` pseudo header). See the module
/// documentation for the policy.
pub fn canonicalize(raw: &str, params: PathParameters) -> Result<CanonicalTarget<'_>, PathError> {
    let (path, query) = match raw.find('?') {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    if query.bytes().any(|b| b == b'#' || b < 0x20 || b == 0x7f) {
        return Err(if query.contains('#') {
            PathError::Fragment
        } else {
            PathError::ControlCharacter
        });
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = decode_unreserved(path)?;
    let stripped = check_segments(&decoded, params)?;
    let canonical = match (decoded, stripped) {
        (_, Some(s)) => Cow::Owned(s),
        (d, None) => d,
    };
    if canonical.contains('%') {
        check_utf8(&canonical)?;
    }
    Ok(CanonicalTarget {
        path: canonical,
        query,
    })
}

/// A rule path from the configuration in canonical form, or why it is not: rules are
/// written the way [`canonicalize`] writes request paths, so that matching needs no
/// decoding. `Err` carries the canonical spelling when there is one.
pub fn canonical_rule_path(rule: &str) -> Result<(), RulePathError> {
    if rule.contains('?') {
        return Err(RulePathError::Invalid(PathError::Fragment));
    }
    match canonicalize(rule, PathParameters::Reject) {
        Ok(t) if t.path() == rule => Ok(()),
        Ok(t) => Err(RulePathError::NotCanonical(t.path().to_owned())),
        Err(e) => Err(RulePathError::Invalid(e)),
    }
}

/// Why a configured rule path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulePathError {
    /// A request with this path would be refused.
    Invalid(PathError),
    /// The path is valid but not written canonically; the canonical spelling.
    NotCanonical(String),
}

/// `prefix` (canonical) matches `path` (canonical) on whole segments, ignoring ASCII case:
/// `/orders` matches `/orders`, `/orders/` and `/orders/1`, never `/orders-admin`; `/`
/// matches every path; `/orders/` matches `/orders/` and below but not `/orders`.
pub fn prefix_matches(path: &str, prefix: &str) -> bool {
    let (p, r) = (path.as_bytes(), prefix.as_bytes());
    let Some((head, rest)) = p.split_at_checked(r.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(r)
        && (rest.is_empty() || r.last() == Some(&b'/') || rest.first() == Some(&b'/'))
}

/// `exact` (canonical, no trailing `/` unless it is `/`) equals `path`, ignoring ASCII case
/// and one trailing `/` (most frameworks route `/orders/` to the `/orders` handler).
pub fn exact_matches(path: &str, exact: &str) -> bool {
    let p = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    p.eq_ignore_ascii_case(exact)
}

/// Plain string prefix, ignoring ASCII case (`/orders` also matches `/orders-admin`).
pub fn string_prefix_matches(path: &str, prefix: &str) -> bool {
    path.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match b? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// If the character at `i`, once escapes of unreserved characters are decoded, is a hex
/// digit: the index after it.
fn decoded_hex_digit(bytes: &[u8], i: usize) -> Option<usize> {
    if hex(bytes.get(i)).is_some() {
        return Some(i + 1);
    }
    if bytes.get(i) == Some(&b'%') {
        let v = hex(bytes.get(i + 1))? * 16 + hex(bytes.get(i + 2))?;
        return v.is_ascii_hexdigit().then_some(i + 3);
    }
    None
}

/// Pass 1 over the bytes: refuse bad characters and escapes, decode escaped unreserved
/// characters, upper-case the hex of the others. Borrowed when nothing changed (the
/// common case: no `%` at all).
fn decode_unreserved(path: &str) -> Result<Cow<'_, str>, PathError> {
    let bytes = path.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err(PathError::BadPercentEncoding);
                };
                let v = h * 16 + l;
                let emitted: [u8; 3];
                let replacement: &[u8] = match v {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::Backslash),
                    b';' => return Err(PathError::PathParameters),
                    0..=0x1f | 0x7f => return Err(PathError::EncodedControl),
                    // `%25` followed by two hex digits, written plainly or as escapes
                    // themselves (`%25%32%65` decodes to `%252e`): a second decoding would
                    // change the path.
                    b'%' if decoded_hex_digit(bytes, i + 3)
                        .and_then(|next| decoded_hex_digit(bytes, next))
                        .is_some() =>
                    {
                        return Err(PathError::DoubleEncoding)
                    }
                    v if is_unreserved(v) => {
                        emitted = [v, 0, 0];
                        emitted.get(..1).unwrap_or(&[])
                    }
                    v => {
                        emitted = [
                            b'%',
                            UPPER_HEX.get(usize::from(v >> 4)).copied().unwrap_or(b'0'),
                            UPPER_HEX.get(usize::from(v & 15)).copied().unwrap_or(b'0'),
                        ];
                        &emitted
                    }
                };
                let original = bytes.get(i..i + 3).unwrap_or(&[]);
                if replacement != original && out.is_none() {
                    out = Some(bytes.get(..i).unwrap_or(&[]).to_vec());
                }
                if let Some(o) = out.as_mut() {
                    o.extend_from_slice(replacement);
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            b'#' => return Err(PathError::Fragment),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            0x80..=0xff => return Err(PathError::NonAscii),
            b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' => return Err(PathError::BadCharacter),
            _ => {
                if let Some(o) = out.as_mut() {
                    o.push(b);
                }
            }
        }
        i += 1;
    }
    match out {
        None => Ok(Cow::Borrowed(path)),
        // Only ASCII bytes were written (escapes and printable ASCII).
        Some(o) => String::from_utf8(o)
            .map(Cow::Owned)
            .map_err(|_| PathError::NonAscii),
    }
}

/// Pass 2 over the segments of the decoded path: dot segments, empty segments, path
/// parameters. Returns the path with parameters removed when `Strip` removed any (no
/// allocation otherwise).
fn check_segments(path: &str, params: PathParameters) -> Result<Option<String>, PathError> {
    let mut stripped: Option<String> = None;
    // The path starts with '/'; `start` is the first byte of the current segment.
    let mut start = 1;
    loop {
        let rest = path.get(start..).unwrap_or("");
        let len = rest.find('/');
        let segment = rest.get(..len.unwrap_or(rest.len())).unwrap_or("");
        let last = len.is_none();
        let (name, has_params) = match segment.find(';') {
            Some(i) => (segment.get(..i).unwrap_or(""), true),
            None => (segment, false),
        };
        if name == "." || name == ".." {
            return Err(PathError::DotSegment);
        }
        if has_params && params == PathParameters::Reject {
            return Err(PathError::PathParameters);
        }
        // Empty: `//` in the middle, or nothing left once `;x` is removed. A single trailing
        // slash (`/orders/`, or the root `/`) is a normal path.
        if name.is_empty() && (!last || has_params) {
            return Err(PathError::EmptySegment);
        }
        if has_params && stripped.is_none() {
            stripped = Some(path.get(..start).unwrap_or("").to_owned());
        }
        if let Some(s) = stripped.as_mut() {
            s.push_str(name);
            if !last {
                s.push('/');
            }
        }
        match len {
            Some(n) => start += n + 1,
            None => return Ok(stripped),
        }
    }
}

/// The fully percent-decoded path must be UTF-8 (std refuses overlong forms and surrogates).
fn check_utf8(path: &str) -> Result<(), PathError> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return Err(PathError::BadPercentEncoding);
            };
            decoded.push(h * 16 + l);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded)
        .map(|_| ())
        .map_err(|_| PathError::InvalidUtf8)
}
