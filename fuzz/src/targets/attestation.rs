//! `attestation`: the token-request body parser of a token-endpoint gate, and the
//! attestation/PoP checks behind it, through `Engine::evaluate_body_in`.
//!
//! Input: one mode byte, then parts separated by `0xff`.
//! - Mode even (the body parser): `content-type`, `query`, `body` for
//!   `attestation::body::parse`. Oracle: an independent `application/x-www-form-urlencoded`
//!   decoder (split at `&`, name and value at the first `=`, `+` as a space, `%XX` once, as a
//!   server's form decoding reads them). Whatever the parser accepts, the decoder reads the
//!   same way: exactly one pair named `grant_type` with the parsed value, at most one
//!   `client_id` with the parsed value, no pair whose name an application could fold into
//!   either of them in another spelling, no `;`, UTF-8 throughout, a form content type, no
//!   such name in the query. Whenever the decoder sees two `grant_type`s, the parser refused.
//! - Mode odd (the checks): `attestation`, `pop`, `body`, sent to a gated token endpoint whose
//!   attester key is `testkit`'s partner ES256 key and whose instance key (`cnf.jwk`) is the
//!   Ed25519 "rogue" key. Seeds carry validly signed attestations and PoPs, which the fuzzer
//!   mutates. Invariant: a refresh grant that is let through carries an attestation whose
//!   signature `ring` verifies with the attester key and a PoP whose signature `ring`
//!   verifies with the instance key; a second evaluation of the same request (the PoP is
//!   now remembered) is refused.

use serde_json::{json, Value};
use tollgate_core::attestation::body;
use tollgate_core::environment::InMemory;
use tollgate_core::testkit::{self, TestKey, NOW};
use tollgate_core::{CacheSecret, Engine, Outcome};

use crate::oracle::{b64url_decode, ring_verify};
use crate::split_parts;

/// The attester's key.
pub const ATTESTER: TestKey = TestKey::PartnerEs256;
/// The app instance's key (`cnf.jwk`).
pub const INSTANCE: TestKey = TestKey::Rogue;
/// The PoP audience of the gate.
pub const AUDIENCE: &str = "https://login.example.test";

/// Run one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        body_mode(rest);
    } else {
        check_mode(rest);
    }
}

fn body_mode(rest: &[u8]) {
    let parts = split_parts(rest, 0xff, 3);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (content_type, query) = (text(parts[0]), text(parts[1]));
    let raw = parts[2];
    let headers = vec![("content-type".to_owned(), content_type.clone())];
    let parsed = body::parse(&headers, &query, raw, 4096);
    let pairs = decode_form(raw);
    if let Some(pairs) = &pairs {
        let grants = pairs.iter().filter(|(n, _)| n == b"grant_type").count();
        if grants > 1 {
            assert!(parsed.is_err(), "two grant_type pairs accepted: {parsed:?}");
        }
    }
    let Ok(request) = parsed else {
        return;
    };
    assert!(raw.len() <= 4096);
    assert!(!raw.contains(&b';'), "a body with ';' accepted");
    let media = content_type.split(';').next().unwrap_or("").trim();
    assert!(media.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    let pairs = pairs.expect("an accepted body decodes");
    let grant: Vec<&Vec<u8>> = pairs
        .iter()
        .filter(|(n, _)| n == b"grant_type")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(grant, vec![&request.grant_type.clone().into_bytes()]);
    let client: Vec<Vec<u8>> = pairs
        .iter()
        .filter(|(n, _)| n == b"client_id")
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(
        client,
        request
            .client_id
            .iter()
            .map(|c| c.clone().into_bytes())
            .collect::<Vec<_>>()
    );
    for (name, value) in &pairs {
        assert!(std::str::from_utf8(name).is_ok() && std::str::from_utf8(value).is_ok());
        for wanted in ["grant_type", "client_id"] {
            if folds_to(name, wanted) {
                assert_eq!(
                    name.as_slice(),
                    wanted.as_bytes(),
                    "an ambiguous name accepted"
                );
            }
        }
    }
    for pair in query.trim_start_matches('?').split(['&', ';']) {
        let name = pair.split('=').next().unwrap_or("");
        let decoded = decode_component(name.as_bytes()).unwrap_or_default();
        assert!(
            !folds_to(&decoded, "grant_type") && !folds_to(&decoded, "client_id"),
            "a token parameter in the query accepted"
        );
    }
}

/// An independent form decoder: `None` when a byte sequence is not UTF-8 after decoding.
fn decode_form(raw: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for pair in raw.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let name = decode_component(name)?;
        let value = decode_component(value)?;
        std::str::from_utf8(&name).ok()?;
        std::str::from_utf8(&value).ok()?;
        out.push((name, value));
    }
    Some(out)
}

fn decode_component(raw: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// A name some application reads as `wanted`: leading spaces dropped, ASCII case folded,
/// `.`, ` `, `[` as `_`, or `wanted` followed by `[…]`.
fn folds_to(name: &[u8], wanted: &str) -> bool {
    let start = name.iter().take_while(|b| **b == b' ').count();
    let name = &name[start..];
    let fold = |c: u8| match c {
        b'.' | b' ' | b'[' => b'_',
        c => c.to_ascii_lowercase(),
    };
    let same = |n: &[u8]| {
        n.len() == wanted.len()
            && n.iter()
                .zip(wanted.bytes())
                .all(|(a, b)| fold(*a) == fold(b))
    };
    let before = name.split(|b| *b == b'[').next().unwrap_or(&[]);
    same(name) || (before.len() < name.len() && same(before))
}

/// The gate's configuration.
pub fn config() -> Value {
    let mut cfg = testkit::config();
    cfg["client_attestation"] = json!({
        "attesters": [{ "name": "a", "jwks": { "inline": testkit::jwks(&[ATTESTER]) } }]
    });
    cfg["rules"]
        .as_array_mut()
        .unwrap_or(&mut Vec::new())
        .insert(
            0,
            json!({ "match": { "path": "/token", "methods": ["POST"] }, "anonymous": true,
                "client_attestation": { "audience": AUDIENCE, "grant_types": ["refresh_token"] } }),
        );
    cfg
}

fn check_mode(rest: &[u8]) {
    let parts = split_parts(rest, 0xff, 3);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (attestation, pop) = (text(parts[0]), text(parts[1]));
    let Ok(mut engine) = Engine::from_json(config().to_string().as_bytes(), CacheSecret([3, 4]))
    else {
        panic!("the fuzz configuration is refused");
    };
    let headers = vec![
        (":method".to_owned(), "POST".to_owned()),
        (":path".to_owned(), "/token".to_owned()),
        (":authority".to_owned(), "login.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("oauth-client-attestation".to_owned(), attestation.clone()),
        ("oauth-client-attestation-pop".to_owned(), pop.clone()),
    ];
    let mut env = InMemory::new(None, 1024);
    let first = engine.evaluate_body_in(&headers, Some(parts[2]), &mut env, NOW);
    let Outcome::Allow(_) = first.outcome else {
        return;
    };
    let refresh =
        body::parse(&headers, "", parts[2], 16_384).is_ok_and(|r| r.grant_type == "refresh_token");
    if !refresh {
        return;
    }
    assert!(
        verifies(ATTESTER, &attestation),
        "an attestation not signed by the attester was accepted"
    );
    assert!(
        verifies(INSTANCE, &pop),
        "a PoP not signed by the instance key was accepted"
    );
    let second = engine.evaluate_body_in(&headers, Some(parts[2]), &mut env, NOW);
    assert!(
        matches!(second.outcome, Outcome::Deny(_)),
        "a PoP was accepted twice"
    );
}

/// The compact JWS `jwt` verifies with `key` (checked by `ring`, not by the core).
fn verifies(key: TestKey, jwt: &str) -> bool {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(sig) = b64url_decode(s) else {
        return false;
    };
    ring_verify(key, format!("{h}.{p}").as_bytes(), &sig)
}
