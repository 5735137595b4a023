//! `token`: a bearer token through `Engine::evaluate`, the way a request brings it.
//!
//! Input: `[key/mode][clock][header JSON] 0x00 [payload JSON] 0x00 [mutations]`.
//! - key/mode, bits 0–2: `0`–`4` sign with a test key (ES256, EdDSA, RS256, the partner's
//!   ES256, a rogue Ed25519 key in no JWKS); `5`–`7`: no signing, the bytes after the clock
//!   byte are the token itself. Bits 3–5 pick the route (see [`ROUTES`]).
//! - clock: `now = NOW + 4 × (signed byte)` seconds, across the expiry of the standard claims.
//! - An empty header or payload means testkit's standard one for the key. `testkit` signs
//!   `<b64 header>.<b64 payload>`; then each 3-byte mutation `(op, pos, value)` edits the
//!   token text (overwrite, insert, delete, truncate at `pos + 256 × (op >> 2)`).
//!
//! Checked on every input: the engine accepts exactly when an independent reference does
//! ([`reference`]: strict base64url, strict JSON, the key by `kid`, the signature again with
//! `ring`, every claim rule), so an accepted token is always byte-identical to a validly
//! signed one; an accepted token goes to the route's provider and carries the route's
//! scopes; evaluating the same request again (a cache hit) decides the same; the host
//! signature path (Envoy's semantics on the reference host) decides like the pure one.

use std::sync::OnceLock;

use serde_json::{Map, Value};
use tollgate_core::config::Config;
use tollgate_core::signature::{Verifiers, HOST_CAPABLE};
use tollgate_core::testkit::{self, ReferenceHost, TestKey};
use tollgate_core::{CacheLookup, CacheSecret, Engine, Outcome};

use crate::oracle::{self, TRUSTED};
use crate::split_parts;

/// A route of `testkit::config()`: method, path, scopes it needs, the only provider it takes.
pub struct Route {
    /// Request method.
    pub method: &'static str,
    /// Request path.
    pub path: &'static str,
    /// Scopes the matching rule requires.
    pub scopes: &'static [&'static str],
    /// Provider index the rule restricts to, if any.
    pub provider: Option<usize>,
}

/// Routes of the test configuration a token is presented on.
pub const ROUTES: [Route; 6] = [
    Route {
        method: "GET",
        path: "/orders",
        scopes: &["orders:read"],
        provider: None,
    },
    Route {
        method: "POST",
        path: "/orders/1",
        scopes: &["orders:write"],
        provider: None,
    },
    Route {
        method: "GET",
        path: "/admin",
        scopes: &["orders:admin"],
        provider: None,
    },
    Route {
        method: "GET",
        path: "/partner/x",
        scopes: &[],
        provider: Some(1),
    },
    Route {
        method: "GET",
        path: "/exact",
        scopes: &["exact:only"],
        provider: None,
    },
    Route {
        method: "DELETE",
        path: "/other",
        scopes: &[],
        provider: None,
    },
];

const ISSUERS: [&str; 2] = [testkit::ISSUER, testkit::PARTNER_ISSUER];
const AUDIENCES: [&[&str]; 2] = [
    &[testkit::AUDIENCE, "other.example.test"],
    &[testkit::AUDIENCE],
];
const ALGORITHMS: [&[&str]; 2] = [&["ES256", "EdDSA", "RS256"], &["ES256"]];
const TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];
const SKEW: u64 = 30;
const MAX_LIFETIME: u64 = 900;
const MAX_TOKEN_BYTES: usize = 8192;

/// `testkit::config()` with a small cache (so hits and evictions happen), checked once.
fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut c = testkit::config();
        c["cache_size"] = 8.into();
        match Config::from_json(c.to_string().as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("the test configuration must load: {e}"),
        }
    })
}

/// The signing key for a selector value `0..5`.
pub fn key_for(selector: u8) -> Option<TestKey> {
    oracle::ALL_KEYS.get(usize::from(selector)).copied()
}

/// The token an input describes, and the route and time it is presented at.
pub struct Case {
    /// The bearer token (as text; invalid UTF-8 from raw mode is replaced).
    pub token: String,
    /// Index into [`ROUTES`].
    pub route: usize,
    /// Unix time of the evaluation.
    pub now: u64,
}

/// Decode an input (see the module documentation).
pub fn case(data: &[u8]) -> Option<Case> {
    let (&mode, rest) = data.split_first()?;
    let (&clock, rest) = rest.split_first()?;
    let now = testkit::NOW.saturating_add_signed(4 * i64::from(clock as i8));
    let route = usize::from((mode >> 3) & 7) % ROUTES.len();
    let Some(key) = key_for(mode & 7) else {
        let token = String::from_utf8_lossy(rest).into_owned();
        return Some(Case { token, route, now });
    };
    let parts = split_parts(rest, 0, 3);
    let (header, payload, mutations) = (parts[0], parts[1], parts[2]);
    let standard_header;
    let header = if header.is_empty() {
        standard_header = Value::Object(testkit::header(key)).to_string();
        standard_header.as_bytes()
    } else {
        header
    };
    let standard_payload;
    let payload = if payload.is_empty() {
        let mut claims = testkit::claims(testkit::NOW);
        if key == TestKey::PartnerEs256 {
            claims.insert("iss".into(), testkit::PARTNER_ISSUER.into());
        }
        standard_payload = Value::Object(claims).to_string();
        standard_payload.as_bytes()
    } else {
        payload
    };
    let mut token = testkit::mint_bytes(key, header, payload).into_bytes();
    for m in mutations.chunks_exact(3) {
        let (op, pos, value) = (m[0], usize::from(m[1]), m[2]);
        let at = pos + 256 * usize::from(op >> 2);
        let c = oracle::b64url_encode(&[value]).as_bytes()[0];
        let c = if value % 61 == 0 { b'.' } else { c };
        match op & 3 {
            0 if !token.is_empty() => {
                let i = at % token.len();
                token[i] = c;
            }
            1 => token.insert(at.min(token.len()), c),
            2 if !token.is_empty() => {
                token.remove(at % token.len());
            }
            _ => token.truncate(at),
        }
    }
    let token = String::from_utf8_lossy(&token).into_owned();
    Some(Case { token, route, now })
}

/// What the reference decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted for this provider (index) with these scopes.
    Accept(usize, Vec<String>),
    /// Refused, with the first rule that failed.
    Reject(&'static str),
}

/// The reference validation, written from RFC 7515/7519/9068 and the README's table of
/// checks, independently of the core: every rule is checked, in any order, and the
/// signature is checked with `ring`.
pub fn reference(token: &str, route: &Route, now: u64) -> Verdict {
    use Verdict::Reject;
    if token.len() > MAX_TOKEN_BYTES {
        return Reject("size");
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [h64, p64, s64] = segments[..] else {
        return Reject("three segments");
    };
    let (Some(hb), Some(pb), Some(sig)) = (
        oracle::b64url_decode(h64),
        oracle::b64url_decode(p64),
        oracle::b64url_decode(s64),
    ) else {
        return Reject("base64url");
    };
    if hb.is_empty() || pb.is_empty() || sig.is_empty() {
        return Reject("empty segment");
    }
    let Some(Value::Object(header)) = oracle::strict_json(&hb) else {
        return Reject("header object");
    };
    let Some(Value::Object(claims)) = oracle::strict_json(&pb) else {
        return Reject("payload object");
    };
    if !header_types_ok(&header) {
        return Reject("header member types");
    }
    if header.contains_key("crit") || header.contains_key("jwk") {
        return Reject("crit or jwk");
    }
    if !claim_types_ok(&claims) {
        return Reject("claim types");
    }
    let Some(dates) = dates(&claims) else {
        return Reject("dates");
    };
    let Some(provider) = claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| ISSUERS.iter().position(|i| *i == iss))
    else {
        return Reject("issuer");
    };
    if route.provider.is_some_and(|p| p != provider) {
        return Reject("route provider");
    }
    match header.get("typ").and_then(Value::as_str) {
        Some(t) if TOKEN_TYPES.iter().any(|a| a.eq_ignore_ascii_case(t)) => {}
        _ => return Reject("typ"),
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let keys: Vec<TestKey> = TRUSTED
        .iter()
        .filter(|(_, p)| *p == provider)
        .map(|(k, _)| *k)
        .collect();
    let key = match header.get("kid").and_then(Value::as_str) {
        Some(kid) => keys.iter().find(|k| k.kid() == kid).copied(),
        None => {
            let for_alg: Vec<&TestKey> = keys.iter().filter(|k| k.alg() == alg).collect();
            match for_alg[..] {
                [k] => Some(*k),
                _ => None,
            }
        }
    };
    let Some(key) = key else {
        return Reject("key");
    };
    if key.alg() != alg || !ALGORITHMS[provider].contains(&alg) {
        return Reject("algorithm");
    }
    let signing_input = &token[..h64.len() + 1 + p64.len()];
    if !oracle::ring_verify(key, signing_input.as_bytes(), &sig) {
        return Reject("signature");
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => AUDIENCES[provider].contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| AUDIENCES[provider].contains(&a))),
        _ => false,
    };
    if !aud_ok {
        return Reject("audience");
    }
    let (Some(exp), nbf, Some(iat)) = dates else {
        return Reject("exp and iat required");
    };
    if now >= exp.saturating_add(SKEW) {
        return Reject("expired");
    }
    if nbf.is_some_and(|n| n > now + SKEW) || iat > now + SKEW {
        return Reject("not yet valid");
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME {
        return Reject("lifetime");
    }
    let Some(scopes) = scopes(&claims) else {
        return Reject("scope claim");
    };
    if !route.scopes.iter().all(|s| scopes.iter().any(|t| t == s)) {
        return Reject("route scopes");
    }
    Verdict::Accept(provider, scopes)
}

fn header_types_ok(h: &Map<String, Value>) -> bool {
    h.get("alg").is_some_and(Value::is_string)
        && ["kid", "typ", "cty", "jku", "x5u", "x5t", "x5t#S256"]
            .iter()
            .all(|n| h.get(*n).is_none_or(Value::is_string))
        && h.get("x5c")
            .is_none_or(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
}

fn claim_types_ok(c: &Map<String, Value>) -> bool {
    ["iss", "sub", "jti", "nonce"]
        .iter()
        .all(|n| c.get(*n).is_none_or(Value::is_string))
        && c.get("aud").is_none_or(|a| match a {
            Value::String(_) => true,
            Value::Array(items) => items.iter().all(Value::is_string),
            _ => false,
        })
}

/// `(exp, nbf, iat)` as whole seconds; `None` when one is not a non-negative number.
fn dates(c: &Map<String, Value>) -> Option<(Option<u64>, Option<u64>, Option<u64>)> {
    let one = |name: &str| -> Option<Option<u64>> {
        match c.get(name) {
            None => Some(None),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => Some(Some(u)),
                (None, Some(f)) if f >= 0.0 && f.is_finite() => Some(Some(f.floor() as u64)),
                _ => None,
            },
            Some(_) => None,
        }
    };
    Some((one("exp")?, one("nbf")?, one("iat")?))
}

/// Scopes from `scope` (space-delimited) and `scp` (array of single scopes, or a string).
fn scopes(c: &Map<String, Value>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    match c.get("scope") {
        None => {}
        Some(Value::String(s)) => words.extend(s.split_ascii_whitespace()),
        Some(_) => return None,
    }
    match c.get("scp") {
        None => {}
        Some(Value::String(s)) => words.extend(s.split_ascii_whitespace()),
        Some(Value::Array(items)) => {
            for item in items {
                let s = item.as_str()?;
                if s.is_empty() || s.bytes().any(|b| b.is_ascii_whitespace()) {
                    return None;
                }
                words.push(s);
            }
        }
        Some(_) => return None,
    }
    for w in words {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    Some(out)
}

/// Run one input.
pub fn run(data: &[u8]) {
    let Some(case) = case(data) else { return };
    check(&case);
}

/// All checks on one case; returns the reference verdict (for tests).
pub fn check(case: &Case) -> Verdict {
    let route = &ROUTES[case.route];
    let headers = testkit::request(route.method, route.path, Some(&case.token));
    let mut pure = Engine::new(config().clone(), CacheSecret([0x5eed, 1]));
    let mut host = Engine::new(config().clone(), CacheSecret([0x5eed, 1]));
    host.set_verifiers(Verifiers::with_host(Box::new(ReferenceHost), &HOST_CAPABLE));

    let first = pure.evaluate(&headers, case.now);
    let again = pure.evaluate(&headers, case.now);
    let on_host = host.evaluate(&headers, case.now);
    // The engine reads the header value as HTTP does: surrounding spaces and tabs are
    // not part of it.
    let verdict = reference(case.token.trim_matches([' ', '\t']), route, case.now);

    match (&first.outcome, &verdict) {
        (Outcome::Allow(a), Verdict::Accept(provider, _)) => {
            assert_eq!(a.provider.map(|p| p.0), Some(*provider), "accepted for another provider");
            let names = pure.claim_header_names();
            for (name, value) in a.set_headers.iter() {
                assert!(names.contains(name), "unexpected upstream header {name}");
                assert!(!value.chars().any(char::is_control), "control character in {name}");
            }
        }
        (Outcome::Deny(_), Verdict::Reject(_)) => {}
        (outcome, verdict) => panic!(
            "engine and reference disagree on {:?} at {} on {} {}: engine {outcome:?}, reference {verdict:?}",
            case.token, case.now, route.method, route.path
        ),
    }
    assert_eq!(
        first.outcome, again.outcome,
        "a second evaluation decided differently"
    );
    if matches!(first.outcome, Outcome::Allow(_)) {
        assert_eq!(
            again.cache,
            Some(CacheLookup::Hit),
            "an accepted token was not cached"
        );
    }
    assert_eq!(
        first.outcome, on_host.outcome,
        "host and pure signature paths disagree"
    );
    verdict
}
