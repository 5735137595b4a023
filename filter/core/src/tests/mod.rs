//! Native unit tests of the core. Negative tests assert the exact variant.

mod attack_tests;
mod binding_tests;
mod config_tests;
mod engine_tests;
mod guidance_tests;
mod hostile;
mod jwks_tests;
mod operator_tests;
mod path_tests;
mod response_tests;
mod signature_tests;
mod token_tests;

use serde_json::{Map, Value};

use crate::testkit::{self, TestKey, NOW};
use crate::{Allowed, Denial, DenialKind, Engine, Outcome, TokenError};

/// Engine with the standard test configuration.
pub(crate) fn engine() -> Engine {
    engine_with(testkit::config())
}

pub(crate) fn engine_with(config: Value) -> Engine {
    Engine::from_json(config.to_string().as_bytes(), crate::CacheSecret([7, 7])).unwrap()
}

/// Evaluate `method path` with an optional bearer token at `now`.
pub(crate) fn eval_at(
    e: &mut Engine,
    method: &str,
    path: &str,
    token: Option<&str>,
    now: u64,
) -> Outcome {
    e.evaluate(&testkit::request(method, path, token), now)
        .outcome
}

pub(crate) fn allowed(o: impl Into<Outcome>) -> Allowed {
    match o.into() {
        Outcome::Allow(a) => a,
        Outcome::Deny(d) => panic!("expected Allow, got {d:?}"),
        Outcome::DryRun(d) => panic!("expected Allow, got a dry-run denial {d:?}"),
    }
}

pub(crate) fn denied(o: impl Into<Outcome>) -> Denial {
    match o.into() {
        Outcome::Deny(d) => d,
        Outcome::Allow(a) => panic!("expected Deny, got {a:?}"),
        Outcome::DryRun(d) => panic!("expected Deny, got a dry-run denial {d:?}"),
    }
}

/// Outcome of `GET /` (any valid token passes) with `token` at NOW.
pub(crate) fn check(token: &str) -> Outcome {
    eval_at(&mut engine(), "GET", "/", Some(token), NOW)
}

/// The TokenError of `GET /` with `token` (panics if not an InvalidToken denial).
pub(crate) fn token_error(token: &str) -> TokenError {
    match denied(check(token)).kind {
        DenialKind::InvalidToken(e) => e,
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

/// Standard token from `key` with `edit` applied to its claims.
pub(crate) fn with_claims(key: TestKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = testkit::claims(NOW);
    edit(&mut c);
    testkit::mint(key, &testkit::header(key), &c)
}

/// Standard token from `key` with `edit` applied to its header.
pub(crate) fn with_header(key: TestKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut h = testkit::header(key);
    edit(&mut h);
    testkit::mint(key, &h, &testkit::claims(NOW))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}
