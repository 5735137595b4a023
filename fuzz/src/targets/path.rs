//! `path`: request-path canonicalisation, the rule matchers, and the engine's rule choice.
//!
//! Input: `[flags][cut][raw :path bytes]`. `flags` bit 0: `path_parameters` (`reject` /
//! `strip`); bits 1–3: the method (see [`METHODS`]). `cut` picks a prefix of the canonical
//! path to use as a rule path.
//!
//! Checked, for every accepted path: it starts with `/`; it has no `.` or `..` segment, no
//! `//`, no `;`, no `\`, `#`, control, space or non-ASCII byte, no escape of an unreserved
//! character, of `/`, `\`, `;`, `%` or a control character, no lower-case hex, and it
//! decodes to UTF-8; canonicalising it again (in either mode) returns it unchanged;
//! `reject` accepting implies `strip` accepting the same path; the query is passed through
//! exactly. The three matchers agree with naive references on the canonical path against
//! the test configuration's rule paths and against a rule cut from the path itself. The
//! engine (`testkit::config()`, no token) answers exactly what a naive first-match over
//! the same rules says: 400 for a refused path or a method override, pass on an anonymous
//! rule with the canonical path forwarded, 401 otherwise.

use std::sync::OnceLock;

use tollgate_core::config::{Access, Config, PathMatch};
use tollgate_core::path::{self, canonical_rule_path};
use tollgate_core::testkit;
use tollgate_core::{CacheSecret, DenialKind, Engine, Outcome, PathParameters, RequestError};

use crate::oracle::{naive_exact, naive_prefix, naive_string_prefix};

/// Methods the engine is asked with (`get` is refused: not an upper-case token).
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "DELETE", "OPTIONS", "PUT", "get", "PATCH",
];

fn configs() -> &'static [Config; 2] {
    static CONFIGS: OnceLock<[Config; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let load = |mode: &str| {
            let mut c = testkit::config();
            c["path_parameters"] = mode.into();
            Config::from_json(c.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("the test configuration must load: {e}"))
        };
        [load("reject"), load("strip")]
    })
}

/// The canonical-form properties of an accepted path; `Err` names the first one broken.
pub fn check_canonical(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err("does not start with /".into());
    }
    if p.contains("//") {
        return Err("contains //".into());
    }
    for seg in p.split('/') {
        if seg == "." || seg == ".." {
            return Err(format!("dot segment {seg:?}"));
        }
    }
    for (i, b) in p.bytes().enumerate() {
        match b {
            b';' | b'\\' | b'#' | b'?' | b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' => {
                return Err(format!("byte {:?} at {i}", char::from(b)))
            }
            0..=0x1f | 0x7f..=0xff => return Err(format!("byte {b:#x} at {i}")),
            _ => {}
        }
    }
    let bytes = p.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            decoded.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes.get(i + 1..i + 3).ok_or("truncated escape")?;
        if !hex
            .iter()
            .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
        {
            return Err(format!(
                "escape {:?} is not upper-case hex",
                String::from_utf8_lossy(hex)
            ));
        }
        let v = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
            .map_err(|e| e.to_string())?;
        if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
            return Err(format!("escaped unreserved character %{v:02X}"));
        }
        if matches!(v, b'/' | b'\\' | b';' | 0..=0x1f | 0x7f) {
            return Err(format!("escaped %{v:02X}"));
        }
        decoded.push(v);
        i += 3;
    }
    std::str::from_utf8(&decoded).map_err(|_| "does not decode to UTF-8".to_owned())?;
    if has_double_encoding(p) {
        return Err(DOUBLE_ENCODING.into());
    }
    Ok(())
}

const DOUBLE_ENCODING: &str = "double encoding";

/// `%25` followed by two hex digits: a second decoding would change the path.
pub fn has_double_encoding(p: &str) -> bool {
    p.as_bytes().windows(5).any(|w| {
        w[..3].eq_ignore_ascii_case(b"%25") && w[3].is_ascii_hexdigit() && w[4].is_ascii_hexdigit()
    })
}

/// Run one input.
pub fn run(data: &[u8]) {
    let [flags, cut, ref raw @ ..] = *data else {
        return;
    };
    let mode = if flags & 1 == 0 {
        PathParameters::Reject
    } else {
        PathParameters::Strip
    };
    let method = METHODS[usize::from(flags >> 1) % METHODS.len()];
    let raw = String::from_utf8_lossy(raw);
    let result = path::canonicalize(&raw, mode);

    if let Ok(t) = &result {
        let p = t.path();
        if let Err(why) = check_canonical(p) {
            panic!("canonical path {p:?} of {raw:?} {why}")
        }
        let (raw_path, raw_query) = raw.split_at(raw.find('?').unwrap_or(raw.len()));
        assert_eq!(t.query(), raw_query, "the query was not passed through");
        assert_eq!(
            t.rewritten().is_none(),
            p == raw_path,
            "rewritten() disagrees with the path"
        );
        for m in [PathParameters::Reject, PathParameters::Strip] {
            match path::canonicalize(p, m) {
                Ok(again) => {
                    assert_eq!(again.path(), p, "canonicalising twice changed {p:?}");
                    assert!(
                        again.rewritten().is_none(),
                        "a canonical path was rewritten"
                    );
                }
                Err(e) => panic!("the canonical path {p:?} is refused in {m:?}: {e:?}"),
            }
        }
        if mode == PathParameters::Reject {
            let strip =
                path::canonicalize(&raw, PathParameters::Strip).map(|s| s.path().to_owned());
            assert_eq!(
                strip.as_deref(),
                Ok(p),
                "strip mode disagrees with reject mode"
            );
        }
        check_matchers(p, usize::from(cut));
    }
    check_engine(
        &raw,
        method,
        mode,
        &result.map(|t| (t.path().to_owned(), t.rewritten())),
    );
}

fn check_matchers(p: &str, cut: usize) {
    let mut rule_paths: Vec<String> = configs()[0]
        .rules
        .iter()
        .map(|r| match &r.path {
            PathMatch::Prefix(s) | PathMatch::Exact(s) | PathMatch::StringPrefix(s) => s.clone(),
        })
        .collect();
    // A rule path cut from the path itself, at a segment boundary or anywhere.
    let cut_at = p
        .char_indices()
        .map(|(i, _)| i)
        .chain([p.len()])
        .nth(cut % (p.len() + 1));
    if let Some(rule) = cut_at.and_then(|i| p.get(..i)) {
        for candidate in [
            rule.to_owned(),
            rule.to_ascii_uppercase(),
            rule.trim_end_matches('/').to_owned(),
        ] {
            if canonical_rule_path(&candidate).is_ok() {
                rule_paths.push(candidate);
            }
        }
    }
    for r in &rule_paths {
        assert_eq!(
            path::prefix_matches(p, r),
            naive_prefix(p, r),
            "prefix {r:?} on {p:?}"
        );
        assert_eq!(
            path::string_prefix_matches(p, r),
            naive_string_prefix(p, r),
            "string prefix {r:?} on {p:?}"
        );
        if r == "/" || !r.ends_with('/') {
            assert_eq!(
                path::exact_matches(p, r),
                naive_exact(p, r),
                "exact {r:?} on {p:?}"
            );
        }
    }
}

/// A query parameter name some application reads as `_method` (parameters are separated by
/// `&`, and by `;` in older Python and Go parsers): percent- and `+`-decoded;
/// then as PHP reads names (leading spaces dropped, `.`, ` ` and `[` turned into `_`, and
/// `_method[…]` the array `_method`), compared without regard to case.
pub fn is_method_override(name: &str) -> bool {
    if name.eq_ignore_ascii_case("%5Fmethod") {
        return true;
    }
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                decoded.push(v);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (b, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let name: Vec<u8> = decoded
        .iter()
        .skip_while(|b| **b == b' ')
        .map(|b| match b {
            b'.' | b' ' | b'[' => b'_',
            b => b.to_ascii_lowercase(),
        })
        .collect();
    let array = decoded
        .iter()
        .skip_while(|b| **b == b' ')
        .position(|b| *b == b'[')
        .is_some_and(|at| at > 0 && name[..at] == *b"_method");
    name == b"_method" || array
}

type Canonical = Result<(String, Option<String>), path::PathError>;

fn check_engine(raw: &str, method: &str, mode: PathParameters, canonical: &Canonical) {
    let config = &configs()[usize::from(mode == PathParameters::Strip)];
    let mut engine = Engine::new(config.clone(), CacheSecret([0x5eed, 1]));
    let headers = testkit::request(method, raw, None);
    let outcome = engine.evaluate(&headers, testkit::NOW).outcome;
    let bad =
        |e: RequestError| Outcome::Deny(tollgate_core::Denial::new(DenialKind::InvalidRequest(e)));
    if method == "get" {
        assert_eq!(
            outcome,
            bad(RequestError::InvalidMethod),
            "{method} {raw:?}"
        );
        return;
    }
    let (canonical, rewritten) = match canonical {
        Err(e) => {
            assert_eq!(
                outcome,
                bad(RequestError::InvalidPath(*e)),
                "{method} {raw:?}"
            );
            return;
        }
        Ok(c) => c,
    };
    let query = raw.find('?').map_or("", |i| &raw[i..]);
    if query
        .trim_start_matches('?')
        .split(['&', ';'])
        .any(|kv| is_method_override(kv.split('=').next().unwrap_or("")))
    {
        assert!(
            matches!(&outcome, Outcome::Deny(d) if d.kind == DenialKind::InvalidRequest(RequestError::MethodOverride)),
            "{method} {raw:?}: a method override was not refused: {outcome:?}"
        );
        return;
    }
    // A rule also governs its last segment with a format suffix (`/orders.json`).
    let stripped = naive_without_suffix(canonical);
    let rule = config.rules.iter().find(|r| {
        let matches = |p: &str| match &r.path {
            PathMatch::Prefix(s) => naive_prefix(p, s),
            PathMatch::Exact(s) => naive_exact(p, s),
            PathMatch::StringPrefix(s) => naive_string_prefix(p, s),
        };
        let path_ok = matches(canonical)
            || (r.format_suffixes
                && !matches!(r.path, PathMatch::StringPrefix(_))
                && stripped.as_deref().is_some_and(matches));
        path_ok
            && r.methods.as_ref().is_none_or(|ms| {
                ms.iter()
                    .any(|m| m == method || (method == "HEAD" && m == "GET"))
            })
    });
    match (rule, &outcome) {
        (Some(r), Outcome::Allow(a)) if r.access == Access::Anonymous => {
            assert_eq!(&a.path, rewritten, "{method} {raw:?}: forwarded path");
        }
        (Some(r), Outcome::Deny(d)) if r.access != Access::Anonymous => {
            assert_eq!(d.kind, DenialKind::MissingToken, "{method} {raw:?}");
        }
        (None, Outcome::Deny(d)) => {
            assert_eq!(d.kind, DenialKind::NoMatchingRule, "{method} {raw:?}")
        }
        (rule, outcome) => {
            panic!("{method} {raw:?} (canonical {canonical:?}): rule {rule:?}, engine {outcome:?}")
        }
    }
}

/// The path without the format suffix of its last segment, written plainly: split off one
/// trailing `/`, take the text after the last `/`, cut it at its first `.` unless that is its
/// first character.
fn naive_without_suffix(p: &str) -> Option<String> {
    let (body, trailing) = match p.strip_suffix('/') {
        Some(b) => (b, "/"),
        None => (p, ""),
    };
    let (dir, last) = body.rsplit_once('/')?;
    let (base, _) = last.split_once('.')?;
    if base.is_empty() {
        return None;
    }
    Some(format!("{dir}/{base}{trailing}"))
}
