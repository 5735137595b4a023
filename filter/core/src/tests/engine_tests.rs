//! Request-level behaviour: rules, Authorization parsing, scopes, CORS, cache, remote keys.

use serde_json::json;

use super::*;
use crate::jwks::KeySet;
use crate::request::RequestError as R;
use crate::testkit::{self, TestKey, NOW};
use crate::TokenError as E;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn forwards_configured_claims() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("scp".into(), json!(["a", "b"]));
    });
    let a = allowed(check(&t));
    assert_eq!(
        a.set_headers.to_vec(),
        vec![
            ("x-client-id".to_owned(), "app-1".to_owned()),
            (
                "x-token-scope".to_owned(),
                "orders:read orders:write".to_owned()
            ),
            ("x-token-scp".to_owned(), "a b".to_owned()),
            ("x-user-id".to_owned(), "user-1".to_owned()),
        ]
    );
    assert_eq!(
        engine().claim_header_names(),
        ["x-client-id", "x-token-scope", "x-token-scp", "x-user-id"]
    );
}

#[test]
fn claim_header_values() {
    use crate::engine::claim_headers;
    let map: Vec<(String, String)> = ["n", "b", "arr", "obj", "nul", "crlf", "nested", "big"]
        .iter()
        .map(|c| ((*c).to_owned(), format!("x-{c}")))
        .collect();
    let claims = json!({
        "n": 42, "b": true, "arr": ["x", 1, false], "obj": {"a": 1}, "nul": null,
        "crlf": "a\r\nx-admin: 1", "nested": [["x"]], "big": "y".repeat(5000)
    });
    let out = claim_headers(&map, claims.as_object().unwrap());
    assert_eq!(
        out,
        vec![
            ("x-n".to_owned(), "42".to_owned()),
            ("x-b".to_owned(), "true".to_owned()),
            ("x-arr".to_owned(), "x 1 false".to_owned()),
        ]
    );
}

#[test]
fn missing_scope_and_substring_attack() {
    let read_only = with_claims(TestKey::Es256, |c| {
        c.insert("scope".into(), "orders:read".into());
    });
    let d = denied(eval_at(
        &mut engine(),
        "POST",
        "/orders",
        Some(&read_only),
        NOW,
    ));
    assert_eq!(
        d.kind,
        DenialKind::InsufficientScope {
            required: vec!["orders:write".into()]
        }
    );
    assert_eq!(d.provider, Some(crate::ProviderId(0)));
    let sneaky = with_claims(TestKey::Es256, |c| {
        c.insert(
            "scope".into(),
            "superorders:admin orders:admin2 orders:adminorders:read".into(),
        );
    });
    assert!(matches!(
        denied(eval_at(&mut engine(), "GET", "/admin", Some(&sneaky), NOW)).kind,
        DenialKind::InsufficientScope { .. }
    ));
    let scp = with_claims(TestKey::Es256, |c| {
        c.remove("scope");
        c.insert("scp".into(), json!(["orders:admin"]));
    });
    allowed(eval_at(&mut engine(), "GET", "/admin", Some(&scp), NOW));
    let scp_str = with_claims(TestKey::Es256, |c| {
        c.remove("scope");
        c.insert("scp".into(), "x orders:admin".into());
    });
    allowed(eval_at(&mut engine(), "GET", "/admin", Some(&scp_str), NOW));
}

#[test]
fn rule_order_methods_exact_and_prefix() {
    let mut e = engine();
    let read = with_claims(TestKey::Es256, |c| {
        c.insert("scope".into(), "orders:read".into());
    });
    allowed(eval_at(&mut e, "GET", "/orders/7", Some(&read), NOW));
    // POST matches the second /orders rule, not the catch-all.
    assert!(matches!(
        denied(eval_at(&mut e, "POST", "/orders/7", Some(&read), NOW)).kind,
        DenialKind::InsufficientScope { .. }
    ));
    // DELETE matches no /orders rule: falls through to "/".
    allowed(eval_at(&mut e, "DELETE", "/orders/7", Some(&read), NOW));
    // Exact path vs the catch-all prefix.
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/exact", Some(&read), NOW)).kind,
        DenialKind::InsufficientScope {
            required: vec!["exact:only".into()]
        }
    );
    allowed(eval_at(&mut e, "GET", "/exact/sub", Some(&read), NOW));
    allowed(eval_at(&mut e, "GET", "/exactly", Some(&read), NOW));
    // Query strings do not affect matching.
    assert!(matches!(
        denied(eval_at(&mut e, "GET", "/exact?x=1", Some(&read), NOW)).kind,
        DenialKind::InsufficientScope { .. }
    ));
}

#[test]
fn no_matching_rule_is_403() {
    let mut cfg = testkit::config();
    cfg["rules"] = json!([{ "match": { "prefix": "/health" }, "anonymous": true }]);
    let mut e = engine_with(cfg);
    let d = denied(eval_at(
        &mut e,
        "GET",
        "/orders",
        Some(&testkit::token(TestKey::Es256, NOW)),
        NOW,
    ));
    assert_eq!(d.kind, DenialKind::NoMatchingRule);
    assert_eq!(d.response("r").status, 403);
}

#[test]
fn anonymous_route_ignores_tokens() {
    let mut e = engine();
    let a = allowed(eval_at(&mut e, "GET", "/health", None, NOW));
    assert_eq!(a.provider, None);
    assert!(a.set_headers.is_empty());
    let a = allowed(eval_at(&mut e, "GET", "/health/live", Some("garbage"), NOW));
    assert_eq!(a.provider, None);
}

#[test]
fn missing_token_cases() {
    let mut e = engine();
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/orders", None, NOW)).kind,
        DenialKind::MissingToken
    );
    // Token only in the query string: never read from there.
    let t = testkit::token(TestKey::Es256, NOW);
    let path = format!("/orders?access_token={t}");
    assert_eq!(
        denied(eval_at(&mut e, "GET", &path, None, NOW)).kind,
        DenialKind::MissingToken
    );
    // Another scheme.
    let req = h(&[
        (":method", "GET"),
        (":path", "/orders"),
        ("authorization", "Basic dXNlcjpwYXNz"),
    ]);
    assert_eq!(denied(e.evaluate(&req, NOW)).kind, DenialKind::MissingToken);
}

#[test]
fn authorization_header_parsing() {
    let mut e = engine();
    let t = testkit::token(TestKey::Es256, NOW);
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let req = h(&[
            (":method", "GET"),
            (":path", "/"),
            ("authorization", &format!("{scheme} {t}")),
        ]);
        allowed(e.evaluate(&req, NOW));
    }
    let two = h(&[
        (":method", "GET"),
        (":path", "/"),
        ("authorization", &format!("Bearer {t}")),
        ("authorization", &format!("Bearer {t}")),
    ]);
    assert_eq!(
        denied(e.evaluate(&two, NOW)).kind,
        DenialKind::InvalidRequest(R::MultipleAuthorizationHeaders)
    );
    for bad in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer \u{e9}t\u{e9}",
        "Bearer a,b",
    ] {
        let req = h(&[(":method", "GET"), (":path", "/"), ("authorization", bad)]);
        assert_eq!(
            denied(e.evaluate(&req, NOW)).kind,
            DenialKind::InvalidRequest(R::MalformedAuthorization),
            "{bad}"
        );
    }
}

#[test]
fn request_shape_errors() {
    let mut e = engine();
    assert_eq!(
        denied(e.evaluate(&h(&[(":path", "/")]), NOW)).kind,
        DenialKind::InvalidRequest(R::MissingMethod)
    );
    assert_eq!(
        denied(e.evaluate(&h(&[(":method", "GET")]), NOW)).kind,
        DenialKind::InvalidRequest(R::MissingPath)
    );
    use crate::PathError as P;
    for (p, want) in [
        ("/health/../admin", P::DotSegment),
        ("/health/%2e%2E/admin", P::DotSegment),
        ("/health/./x", P::DotSegment),
        ("/health\\..\\admin", P::Backslash),
        ("health", P::NotAbsolute),
        ("/health/.%2e", P::DotSegment),
        ("/health/..%2fadmin", P::EncodedSlash),
        ("/health/%2E%2E%2Fadmin", P::EncodedSlash),
        ("/health%5c..%5cadmin", P::Backslash),
        ("/health/%2e", P::DotSegment),
        ("/health/%2E.", P::DotSegment),
        ("/health/x%5Cy", P::Backslash),
    ] {
        assert_eq!(
            denied(eval_at(&mut e, "GET", p, None, NOW)).kind,
            DenialKind::InvalidRequest(R::InvalidPath(want)),
            "{p}"
        );
    }
    // Dots inside names are fine, and so are segments made of the same bytes as an encoded
    // dot that are not one.
    for p in [
        "/health/v1.2/..x",
        "/health/2e",
        "/health/%2e%2e%2e",
        "/health/E",
        "/health/...",
        "/health/%41",
    ] {
        allowed(eval_at(&mut e, "GET", p, None, NOW));
    }
}

#[test]
fn cors_preflight() {
    let pre = h(&[
        (":method", "OPTIONS"),
        (":path", "/orders"),
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
    ]);
    assert_eq!(
        denied(engine().evaluate(&pre, NOW)).kind,
        DenialKind::MissingToken
    );
    let mut cfg = testkit::config();
    cfg["cors_preflight"] = json!(true);
    let mut e = engine_with(cfg);
    let a = allowed(e.evaluate(&pre, NOW));
    assert_eq!(a.provider, None);
    // Without Access-Control-Request-Method it is a plain OPTIONS request.
    let plain = h(&[
        (":method", "OPTIONS"),
        (":path", "/orders"),
        ("origin", "https://app.example"),
    ]);
    assert_eq!(
        denied(e.evaluate(&plain, NOW)).kind,
        DenialKind::MissingToken
    );
}

#[test]
fn provider_restricted_route() {
    let mut e = engine();
    let d = denied(eval_at(
        &mut e,
        "GET",
        "/partner/x",
        Some(&testkit::token(TestKey::Es256, NOW)),
        NOW,
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::ProviderNotAllowed));
    assert_eq!(d.provider, Some(crate::ProviderId(0)));
    allowed(eval_at(
        &mut e,
        "GET",
        "/partner/x",
        Some(&testkit::token(TestKey::PartnerEs256, NOW)),
        NOW,
    ));
    // Also when the idsvr token is already cached from another route.
    let t = testkit::token(TestKey::EdDsa, NOW);
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/partner", Some(&t), NOW)).kind,
        DenialKind::InvalidToken(E::ProviderNotAllowed)
    );
}

#[test]
fn cache_hit_is_still_checked_against_now() {
    let mut e = engine();
    let t = testkit::token(TestKey::Es256, NOW); // exp = NOW + 240, skew 30
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    assert_eq!(e.cache_stats(), (0, 1, 1));
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW + 200));
    assert_eq!(e.cache_stats(), (1, 1, 1));
    // At exp + skew the entry ends with its token: dropped at the look-up (a miss), and the
    // full validation says why.
    let d = denied(eval_at(&mut e, "GET", "/", Some(&t), NOW + 270));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::Expired));
    assert_eq!(e.cache_stats(), (1, 2, 0));
    // Scopes are re-checked per route on hits.
    assert!(matches!(
        denied(eval_at(&mut e, "GET", "/admin", Some(&t), NOW + 1)).kind,
        DenialKind::InsufficientScope { .. }
    ));
}

#[test]
fn the_evaluation_says_what_the_cache_did() {
    use crate::CacheLookup;
    let mut e = engine();
    let t = testkit::token(TestKey::Es256, NOW);
    let cache = |e: &mut Engine, path: &str, token: Option<&str>| {
        e.evaluate(&testkit::request("GET", path, token), NOW).cache
    };
    assert_eq!(
        cache(&mut e, "/health", Some(&t)),
        None,
        "anonymous: no token work"
    );
    assert_eq!(cache(&mut e, "/", Some(&t)), Some(CacheLookup::Miss));
    assert_eq!(cache(&mut e, "/", Some(&t)), Some(CacheLookup::Hit));
    assert_eq!(cache(&mut e, "/", None), None, "no token: no look-up");
    let forged = testkit::token(TestKey::Rogue, NOW);
    assert_eq!(cache(&mut e, "/", Some(&forged)), Some(CacheLookup::Miss));
    // A hit that fails a later check is still a hit.
    let ev = e.evaluate(&testkit::request("GET", "/admin", Some(&t)), NOW);
    assert_eq!(ev.cache, Some(CacheLookup::Hit));
    denied(ev);
}

#[test]
fn the_evaluation_says_which_path_checked_the_signature() {
    use crate::signature::Path;
    let mut e = engine();
    let t = testkit::token(TestKey::Es256, NOW);
    let first = e.evaluate(&testkit::request("GET", "/", Some(&t)), NOW);
    assert_eq!(first.signature, Some(Path::Wasm));
    let hit = e.evaluate(&testkit::request("GET", "/", Some(&t)), NOW);
    assert_eq!(hit.signature, None, "a cache hit checks no signature");
    // One character in the middle of the signature changed.
    let at = t.rfind('.').unwrap() + 40;
    let mut bad = t.clone().into_bytes();
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let ev = e.evaluate(&testkit::request("GET", "/", Some(&bad)), NOW);
    assert_eq!(ev.signature, Some(Path::Wasm));
    assert_eq!(denied(ev).kind, DenialKind::InvalidToken(E::BadSignature));
}

#[test]
fn forward_token_false_removes_authorization_once_a_token_is_accepted() {
    let t = testkit::token(TestKey::Es256, NOW);
    // Default: the token goes upstream.
    assert!(!allowed(eval_at(&mut engine(), "GET", "/", Some(&t), NOW)).remove_authorization);

    let mut cfg = testkit::config();
    cfg["forward_token"] = json!(false);
    let mut e = engine_with(cfg);
    let first = allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    assert!(first.remove_authorization, "verified");
    let again = allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    assert!(again.remove_authorization, "cache hit");
    assert_eq!(again.set_headers, first.set_headers);
    // No token work, nothing removed: anonymous rules ignore the header entirely.
    let anonymous = allowed(eval_at(&mut e, "GET", "/health", Some(&t), NOW));
    assert!(!anonymous.remove_authorization);
    // A refused token is answered locally; nothing goes upstream.
    assert!(matches!(
        denied(eval_at(&mut e, "GET", "/admin", Some(&t), NOW)).kind,
        DenialKind::InsufficientScope { .. }
    ));
}

#[test]
fn cache_disabled_with_zero() {
    let mut cfg = testkit::config();
    cfg["cache_size"] = json!(0);
    let mut e = engine_with(cfg);
    let t = testkit::token(TestKey::Es256, NOW);
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    assert_eq!(e.cache_stats(), (0, 2, 0));
}

#[test]
fn set_provider_keys_clears_that_providers_cache() {
    let mut e = engine();
    let t = testkit::token(TestKey::Es256, NOW);
    let p = testkit::token(TestKey::PartnerEs256, NOW);
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    allowed(eval_at(&mut e, "GET", "/", Some(&p), NOW));
    // Rotate idsvr to a set without the ES256 key.
    let (keys, skipped) =
        KeySet::from_jwks_lenient(testkit::jwks(&[TestKey::EdDsa]).to_string().as_bytes()).unwrap();
    assert!(skipped.is_empty());
    e.set_provider_keys(crate::ProviderId(0), keys);
    assert_eq!(e.cache_stats().2, 1, "partner entry kept");
    let ev = e.evaluate(&testkit::request("GET", "/", Some(&t)), NOW);
    // Inline providers never ask for keys.
    assert_eq!(ev.keys, None);
    assert_eq!(denied(ev).kind, DenialKind::InvalidToken(E::UnknownKeyId));
    allowed(eval_at(&mut e, "GET", "/", Some(&p), NOW));
    // Out-of-range id is ignored.
    e.set_provider_keys(crate::ProviderId(99), KeySet::empty());
}

fn remote_config() -> serde_json::Value {
    let mut cfg = testkit::config();
    cfg["providers"][0]["jwks"] = json!({
        "remote": { "cluster": "idp", "url": "https://login.example.test/jwks" }
    });
    cfg["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("algorithms");
    cfg
}

#[test]
fn remote_provider_without_keys_is_503_and_asks_for_keys() {
    use crate::remote::WaitReason;
    use crate::{KeysNeeded, ProviderId};
    let mut e = engine_with(remote_config());
    assert!(e.provider_keys(ProviderId(0)).unwrap().is_empty());
    let t = testkit::token(TestKey::Es256, NOW);
    let ev = e.evaluate(&testkit::request("GET", "/", Some(&t)), NOW);
    assert_eq!(
        ev.keys,
        Some(KeysNeeded {
            provider: ProviderId(0),
            reason: WaitReason::NoKeys
        })
    );
    let d = denied(ev);
    assert_eq!(d.kind, DenialKind::KeysUnavailable);
    assert_eq!(d.reason(), "keys_unavailable");
    assert_eq!(d.provider, Some(crate::ProviderId(0)));
    let r = d.response("tollgate");
    assert_eq!(r.status, 503);
    assert!(r
        .headers
        .contains(&("retry-after".to_owned(), "5".to_owned())));
    // Malformed tokens stay 401 even without keys, and need none.
    let ev = e.evaluate(&testkit::request("GET", "/", Some("a.b")), NOW);
    assert_eq!(ev.keys, None);
    assert_eq!(denied(ev).kind, DenialKind::InvalidToken(E::Malformed));
    // Partner (inline) keeps working.
    allowed(eval_at(
        &mut e,
        "GET",
        "/",
        Some(&testkit::token(TestKey::PartnerEs256, NOW)),
        NOW,
    ));
    // Keys arrive.
    let (keys, _) = KeySet::from_jwks_lenient(
        testkit::jwks(&[TestKey::Es256, TestKey::Rs256])
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    e.set_provider_keys(ProviderId(0), keys);
    allowed(eval_at(&mut e, "GET", "/", Some(&t), NOW));
    allowed(eval_at(
        &mut e,
        "GET",
        "/",
        Some(&testkit::token(TestKey::Rs256, NOW)),
        NOW,
    ));
    // Unknown kid: denied 401, and the evaluation says newer keys could help.
    let rogue = testkit::token(TestKey::Rogue, NOW);
    for _ in 0..3 {
        let ev = e.evaluate(&testkit::request("GET", "/", Some(&rogue)), NOW);
        assert_eq!(
            ev.keys,
            Some(KeysNeeded {
                provider: ProviderId(0),
                reason: WaitReason::UnknownKid
            })
        );
        assert_eq!(denied(ev).kind, DenialKind::InvalidToken(E::UnknownKeyId));
    }
}

#[test]
fn remote_and_discovery_sources_are_exposed() {
    use crate::config::KeySource;
    let e = engine_with(remote_config());
    match e.key_source(crate::ProviderId(0)) {
        Some(KeySource::Remote(r)) => {
            assert_eq!(r.cluster, "idp");
            assert_eq!(
                (r.timeout_ms, r.cache_seconds, r.refetch_interval_seconds),
                (5000, 600, 30)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.key_source(crate::ProviderId(1)), Some(&KeySource::Inline));
    assert_eq!(
        e.provider_names(),
        vec!["idsvr".to_owned(), "partner".to_owned()]
    );
    assert_eq!(e.realm(), "tollgate-test");
    let mut cfg = testkit::config();
    cfg["providers"][0]["jwks"] =
        json!({ "discovery": { "cluster": "idp", "refetch_interval_seconds": 60 } });
    cfg["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("algorithms");
    let e = engine_with(cfg);
    match e.key_source(crate::ProviderId(0)) {
        Some(KeySource::Discovery(d)) => assert_eq!(d.refetch_interval_seconds, 60),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.providers()[0].discovery_url(),
        format!("{}/.well-known/openid-configuration", testkit::ISSUER)
    );
}
