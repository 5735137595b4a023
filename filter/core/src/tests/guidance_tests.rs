//! DPoP server nonces, protected resource metadata and step-up through the engine: each
//! refusal asserts its exact variant, and the order of checks around them.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Map, Value};

use super::*;
use crate::dpop::{self, ProofError as P};
use crate::dpop_nonce::NonceRefusal as N;
use crate::environment::InMemory;
use crate::nonce::NonceKey;
use crate::step_up::StepUpError as S;
use crate::testkit::{self, TestKey, NOW};
use crate::Evaluation;

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const OTHER_SECRET: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM";
const HTU: &str = "https://api.example.test/orders";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn proof_jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn bound_token(key: TestKey) -> String {
    let jkt = dpop::thumbprint(proof_jwk(key).as_object().unwrap()).unwrap();
    let mut c = testkit::claims(NOW);
    // Long enough to outlive a nonce in the tests that move the clock.
    c.insert("exp".into(), json!(NOW + 800));
    c.insert(
        "cnf".into(),
        json!({ "jkt": Base64UrlSafeNoPadding::encode_to_string(jkt).unwrap() }),
    );
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

/// A proof by `key` for `GET /orders` at `iat`, with `nonce` when given.
fn proof(key: TestKey, token: &str, jti: &str, iat: u64, nonce: Option<Value>) -> String {
    let mut claims = obj(json!({
        "jti": jti, "htm": "GET", "htu": HTU, "iat": iat, "ath": dpop::token_hash(token)
    }));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), n);
    }
    let header = obj(json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": proof_jwk(key) }));
    testkit::mint(key, &header, &claims)
}

fn request(token: &str, proof: &str) -> Vec<(String, String)> {
    vec![
        (":method".to_owned(), "GET".to_owned()),
        (":path".to_owned(), "/orders".to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        ("authorization".to_owned(), format!("DPoP {token}")),
        ("dpop".to_owned(), proof.to_owned()),
    ]
}

fn nonce_config(secret: &str, lifetime: u64) -> Value {
    let mut cfg = testkit::config();
    cfg["providers"][0]["binding"] = json!("dpop");
    cfg["dpop_nonce"] = json!({ "secret": secret, "lifetime_seconds": lifetime });
    cfg
}

fn key(secret: &str, lifetime: u64) -> NonceKey {
    crate::config::Config::from_json(nonce_config(secret, lifetime).to_string().as_bytes())
        .unwrap()
        .dpop_nonce
        .unwrap()
}

fn nonce_refusal(ev: Evaluation) -> (N, String) {
    match denied(ev).kind {
        DenialKind::UseDpopNonce { reason, nonce } => (reason, nonce),
        other => panic!("expected UseDpopNonce, got {other:?}"),
    }
}

#[test]
fn a_proof_without_nonce_gets_the_challenge_and_the_retry_with_it_passes() {
    let mut e = engine_with(nonce_config(SECRET, 300));
    let mut env = InMemory::new(None, 1024);
    let token = bound_token(TestKey::EdDsa);
    let first = proof(TestKey::EdDsa, &token, "j1", NOW, None);
    let ev = e.evaluate_in(&request(&token, &first), &mut env, NOW);
    let d = denied(ev.outcome.clone());
    let (reason, nonce) = nonce_refusal(ev);
    assert_eq!(reason, N::Missing);
    assert_eq!(nonce, key(SECRET, 300).issue(NOW));
    // Refused for its nonce: not remembered.
    assert_eq!(env.remembered(), 0);
    let r = e.respond(&d);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers,
        vec![
            ("www-authenticate".to_owned(), "DPoP realm=\"tollgate-test\", error=\"use_dpop_nonce\", error_description=\"the DPoP proof must carry the nonce sent in DPoP-Nonce\", algs=\"ES256 EdDSA RS256 PS256\"".to_owned()),
            ("dpop-nonce".to_owned(), nonce.clone()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ]
    );
    let retry = proof(TestKey::EdDsa, &token, "j2", NOW, Some(json!(nonce)));
    let a = allowed(e.evaluate_in(&request(&token, &retry), &mut env, NOW));
    // The nonce has most of its life left: no new one on the response.
    assert_eq!(a.dpop_nonce, None);
    assert_eq!(env.remembered(), 1);
}

#[test]
fn a_nonce_near_the_end_of_its_life_is_replaced_on_the_response() {
    let mut e = engine_with(nonce_config(SECRET, 300));
    let mut env = InMemory::new(None, 1024);
    let token = bound_token(TestKey::EdDsa);
    let k = key(SECRET, 300);
    let n = k.issue(NOW);
    // NOW is 20 s into its 60 s step: the nonce lives until NOW + 280, and is replaced on
    // responses once less than 120 s are left, from NOW + 161.
    assert_eq!(k.check(&n, NOW), Ok(280));
    let at = |t: u64, jti: &str, e: &mut Engine, env: &mut InMemory| {
        let p = proof(TestKey::EdDsa, &token, jti, t, Some(json!(n)));
        e.evaluate_in(&request(&token, &p), env, t)
    };
    assert_eq!(
        allowed(at(NOW + 160, "a", &mut e, &mut env)).dpop_nonce,
        None
    );
    assert_eq!(
        allowed(at(NOW + 161, "b", &mut e, &mut env)).dpop_nonce,
        Some(k.issue(NOW + 161))
    );
    assert_ne!(k.issue(NOW + 161), n);
    let (reason, fresh) = nonce_refusal(at(NOW + 280, "c", &mut e, &mut env));
    assert_eq!(reason, N::Expired);
    assert_eq!(fresh, k.issue(NOW + 280));
}

#[test]
fn foreign_malformed_and_mistyped_nonces_have_their_exact_answers() {
    let mut e = engine_with(nonce_config(SECRET, 300));
    let token = bound_token(TestKey::EdDsa);
    let eval = |e: &mut Engine, nonce: Value| {
        let p = proof(TestKey::EdDsa, &token, "j", NOW, Some(nonce));
        e.evaluate_in(&request(&token, &p), &mut InMemory::new(None, 1024), NOW)
    };
    let foreign = key(OTHER_SECRET, 300).issue(NOW);
    assert_eq!(nonce_refusal(eval(&mut e, json!(foreign))).0, N::Foreign);
    assert_eq!(nonce_refusal(eval(&mut e, json!("abc"))).0, N::Malformed);
    assert_eq!(nonce_refusal(eval(&mut e, json!(""))).0, N::Malformed);
    // Another purpose under the same secret is covered in dpop_nonce's own tests.
    match denied(eval(&mut e, json!(12345))).kind {
        DenialKind::InvalidDpopProof(p) => assert_eq!(p, P::BadPayload),
        other => panic!("expected BadPayload, got {other:?}"),
    }
}

#[test]
fn an_otherwise_invalid_proof_keeps_its_own_answer() {
    let mut e = engine_with(nonce_config(SECRET, 300));
    let token = bound_token(TestKey::EdDsa);
    // Without nonce and for another method: the method is what the client must fix first.
    let mut claims = obj(json!({
        "jti": "j", "htm": "POST", "htu": HTU, "iat": NOW, "ath": dpop::token_hash(&token)
    }));
    claims.remove("nonce");
    let header =
        obj(json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": proof_jwk(TestKey::EdDsa) }));
    let p = testkit::mint(TestKey::EdDsa, &header, &claims);
    let ev = e.evaluate_in(&request(&token, &p), &mut InMemory::new(None, 1024), NOW);
    match denied(ev).kind {
        DenialKind::InvalidDpopProof(p) => assert_eq!(p, P::WrongMethod),
        other => panic!("expected WrongMethod, got {other:?}"),
    }
    // A proof by another key than the token's: KeyMismatch, not a nonce challenge.
    let p = proof(TestKey::Es256, &token, "j", NOW, None);
    let ev = e.evaluate_in(&request(&token, &p), &mut InMemory::new(None, 1024), NOW);
    match denied(ev).kind {
        DenialKind::InvalidDpopProof(p) => assert_eq!(p, P::KeyMismatch),
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
}

#[test]
fn two_engines_with_the_same_secret_accept_each_others_nonces() {
    let mut a = Engine::from_json(
        nonce_config(SECRET, 300).to_string().as_bytes(),
        crate::CacheSecret([1, 2]),
    )
    .unwrap();
    let mut b = Engine::from_json(
        nonce_config(SECRET, 300).to_string().as_bytes(),
        crate::CacheSecret([3, 4]),
    )
    .unwrap();
    let mut c = engine_with(nonce_config(OTHER_SECRET, 300));
    let token = bound_token(TestKey::EdDsa);
    let first = proof(TestKey::EdDsa, &token, "j1", NOW, None);
    let (_, nonce) = nonce_refusal(a.evaluate_in(
        &request(&token, &first),
        &mut InMemory::new(None, 1024),
        NOW,
    ));
    let retry = proof(TestKey::EdDsa, &token, "j2", NOW + 5, Some(json!(nonce)));
    allowed(b.evaluate_in(
        &request(&token, &retry),
        &mut InMemory::new(None, 1024),
        NOW + 5,
    ));
    let (reason, _) = nonce_refusal(c.evaluate_in(
        &request(&token, &retry),
        &mut InMemory::new(None, 1024),
        NOW + 5,
    ));
    assert_eq!(reason, N::Foreign);
}

#[test]
fn without_dpop_nonce_a_proof_needs_no_nonce_and_any_nonce_is_ignored() {
    let mut cfg = testkit::config();
    cfg["providers"][0]["binding"] = json!("dpop");
    let mut e = engine_with(cfg);
    let token = bound_token(TestKey::EdDsa);
    let mut env = InMemory::new(None, 1024);
    let p = proof(TestKey::EdDsa, &token, "j1", NOW, None);
    assert_eq!(
        allowed(e.evaluate_in(&request(&token, &p), &mut env, NOW)).dpop_nonce,
        None
    );
    let p = proof(TestKey::EdDsa, &token, "j2", NOW, Some(json!("whatever")));
    allowed(e.evaluate_in(&request(&token, &p), &mut env, NOW));
}

#[test]
fn cors_and_resource_metadata_decorate_the_nonce_challenge() {
    let mut cfg = nonce_config(SECRET, 300);
    cfg["cors_preflight"] = json!(true);
    cfg["resource_metadata"] = json!({ "resource": "https://api.example.test" });
    let mut e = engine_with(cfg);
    let token = bound_token(TestKey::EdDsa);
    let p = proof(TestKey::EdDsa, &token, "j1", NOW, None);
    let d = denied(e.evaluate_in(&request(&token, &p), &mut InMemory::new(None, 1024), NOW));
    let r = e.respond(&d);
    let k = key(SECRET, 300);
    assert_eq!(
        r.headers,
        vec![
            ("www-authenticate".to_owned(), "DPoP realm=\"tollgate-test\", error=\"use_dpop_nonce\", error_description=\"the DPoP proof must carry the nonce sent in DPoP-Nonce\", algs=\"ES256 EdDSA RS256 PS256\", resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource\"".to_owned()),
            ("dpop-nonce".to_owned(), k.issue(NOW)),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
            ("access-control-expose-headers".to_owned(), "DPoP-Nonce".to_owned()),
        ]
    );
    assert_eq!(
        e.nonce_response_headers("n"),
        vec![
            ("dpop-nonce".to_owned(), "n".to_owned()),
            (
                "access-control-expose-headers".to_owned(),
                "DPoP-Nonce".to_owned()
            ),
        ]
    );
}

#[test]
fn every_401_names_the_metadata_and_other_statuses_do_not() {
    let mut cfg = testkit::config();
    cfg["resource_metadata"] = json!({ "resource": "https://api.example.test/v1" });
    let mut e = engine_with(cfg);
    let d = denied(eval_at(&mut e, "GET", "/orders", None, NOW));
    assert_eq!(
        header(&e.respond(&d), "www-authenticate"),
        Some("Bearer realm=\"tollgate-test\", resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource/v1\"")
    );
    let expired = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), json!(NOW - 100));
    });
    let d = denied(eval_at(&mut e, "GET", "/orders", Some(&expired), NOW));
    assert!(header(&e.respond(&d), "www-authenticate")
        .unwrap()
        .ends_with(
        ", resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource/v1\""
    ));
    // 403 insufficient_scope: the token is fine, the metadata would not help.
    let token = testkit::token(TestKey::Es256, NOW);
    let d = denied(eval_at(&mut e, "GET", "/admin", Some(&token), NOW));
    assert_eq!(
        header(&e.respond(&d), "www-authenticate"),
        Some("Bearer realm=\"tollgate-test\", error=\"insufficient_scope\", error_description=\"the token lacks a scope this resource requires\", scope=\"orders:admin\"")
    );
}

#[test]
fn the_engine_answers_the_metadata_request_only() {
    let mut cfg = testkit::config();
    cfg["resource_metadata"] = json!({ "resource": "https://api.example.test/v1" });
    let e = engine_with(cfg);
    let r = e
        .metadata_response(&testkit::request(
            "GET",
            "/.well-known/oauth-protected-resource/v1",
            None,
        ))
        .unwrap();
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["resource"], json!("https://api.example.test/v1"));
    assert!(e
        .metadata_response(&testkit::request("GET", "/orders", None))
        .is_none());
    assert!(e
        .metadata_response(&testkit::request(
            "DELETE",
            "/.well-known/oauth-protected-resource/v1",
            None
        ))
        .is_none());
    assert!(engine()
        .metadata_response(&testkit::request(
            "GET",
            "/.well-known/oauth-protected-resource",
            None
        ))
        .is_none());
}

fn header<'a>(r: &'a crate::LocalResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn step_up_engine() -> Engine {
    let mut cfg = testkit::config();
    let rules = cfg["rules"].as_array_mut().unwrap();
    rules.insert(
        0,
        json!({ "match": { "prefix": "/payments" }, "scopes": ["orders:admin"],
                "acr_values": ["urn:example:mfa", "phr"], "max_age_seconds": 300 }),
    );
    rules.insert(
        1,
        json!({ "match": { "prefix": "/dpop-payments" }, "binding": "dpop",
                "acr_values": ["urn:example:mfa"] }),
    );
    engine_with(cfg)
}

fn step_up_error(o: Outcome) -> (S, Vec<String>, Option<u64>) {
    match denied(o).kind {
        DenialKind::InsufficientUserAuthentication {
            reason,
            acr_values,
            max_age,
        } => (reason, acr_values, max_age),
        other => panic!("expected InsufficientUserAuthentication, got {other:?}"),
    }
}

fn token_with(acr: Option<&str>, auth_time: Option<u64>, scope: &str) -> String {
    with_claims(TestKey::Es256, |c| {
        if let Some(a) = acr {
            c.insert("acr".into(), json!(a));
        }
        if let Some(t) = auth_time {
            c.insert("auth_time".into(), json!(t));
        }
        c.insert("scope".into(), json!(scope));
    })
}

#[test]
fn a_step_up_route_needs_a_listed_acr_and_a_recent_login() {
    let mut e = step_up_engine();
    let values = vec!["urn:example:mfa".to_owned(), "phr".to_owned()];
    let good = token_with(Some("phr"), Some(NOW - 100), "orders:admin");
    allowed(eval_at(&mut e, "GET", "/payments", Some(&good), NOW));
    // The same token from the cache, later: its login is now too old (300 s + 30 s skew).
    assert_eq!(
        step_up_error(eval_at(&mut e, "GET", "/payments", Some(&good), NOW + 231)),
        (S::AuthenticationTooOld, values.clone(), Some(300))
    );
    allowed(eval_at(&mut e, "GET", "/payments", Some(&good), NOW + 230));
    let pwd = token_with(Some("pwd"), Some(NOW - 100), "orders:admin");
    assert_eq!(
        step_up_error(eval_at(&mut e, "GET", "/payments", Some(&pwd), NOW)),
        (S::AcrNotAccepted, values.clone(), Some(300))
    );
    let none = token_with(None, Some(NOW - 100), "orders:admin");
    assert_eq!(
        step_up_error(eval_at(&mut e, "GET", "/payments", Some(&none), NOW)).0,
        S::MissingAcr
    );
    let no_time = token_with(Some("phr"), None, "orders:admin");
    assert_eq!(
        step_up_error(eval_at(&mut e, "GET", "/payments", Some(&no_time), NOW)).0,
        S::MissingAuthTime
    );
    // Other routes do not ask.
    let plain = token_with(None, None, "orders:read");
    allowed(eval_at(&mut e, "GET", "/orders", Some(&plain), NOW));
    // The answer is a 401 with the route's requirement.
    let d = denied(eval_at(&mut e, "GET", "/payments", Some(&pwd), NOW));
    let r = e.respond(&d);
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"tollgate-test\", error=\"insufficient_user_authentication\", error_description=\"a different authentication level is required\", acr_values=\"urn:example:mfa phr\", max_age=\"300\"")
    );
}

#[test]
fn step_up_comes_after_the_binding_and_before_the_scopes() {
    let mut e = step_up_engine();
    // Missing scope and the wrong acr: the login is what the client must fix first (401).
    let weak = token_with(Some("pwd"), Some(NOW), "orders:read");
    assert_eq!(
        step_up_error(eval_at(&mut e, "GET", "/payments", Some(&weak), NOW)).0,
        S::AcrNotAccepted
    );
    // A strong login without the scope: 403.
    let strong = token_with(Some("phr"), Some(NOW), "orders:read");
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/payments", Some(&strong), NOW)).kind,
        DenialKind::InsufficientScope {
            required: vec!["orders:admin".into()]
        }
    );
    // The binding first: a bearer token on a DPoP route, whatever its acr.
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/dpop-payments", Some(&weak), NOW)).kind,
        DenialKind::InvalidToken(crate::TokenError::DpopRequired)
    );
}

fn config_error(edit: impl FnOnce(&mut Value)) -> (String, String) {
    let mut cfg = testkit::config();
    edit(&mut cfg);
    let e = crate::config::Config::from_json_with_env(cfg.to_string().as_bytes(), &|name| {
        (name == "SHORT").then(|| "c2hvcnQ".to_owned())
    })
    .unwrap_err();
    (e.field, e.message)
}

#[test]
fn bad_settings_name_their_field() {
    let field = |edit: fn(&mut Value)| config_error(edit).0;
    assert_eq!(
        config_error(|c| c["dpop_nonce"] = json!({ "secret": SECRET, "lifetime_seconds": 1 })),
        ("dpop_nonce.lifetime_seconds".to_owned(), "must be between 2 and 86400: a nonce must outlive the client's round trip (a one-second nonce issued late in its second is stale before the retry arrives)".to_owned())
    );
    assert_eq!(
        field(|c| c["dpop_nonce"] = json!({ "secret": { "env": "SHORT" } })),
        "dpop_nonce.secret"
    );
    assert_eq!(
        field(|c| c["dpop_nonce"] = json!({ "secret": { "env": "MISSING" } })),
        "dpop_nonce.secret.env"
    );
    assert_eq!(field(|c| c["dpop_nonce"] = json!({})), "dpop_nonce.secret");
    assert_eq!(
        config_error(|c| c["resource_metadata"] = json!({ "resource": "http://api.example.test" })),
        (
            "resource_metadata.resource".to_owned(),
            "must be an https URL (http only for localhost, 127.0.0.0/8 or [::1])".to_owned()
        )
    );
    for bad in [
        "https://api.example.test/?a=1",
        "https://api.example.test#x",
        "api.example.test",
        "https://user@api.example.test",
        "ftp://api.example.test",
    ] {
        let (f, _) = config_error(|c| c["resource_metadata"] = json!({ "resource": bad }));
        assert_eq!(f, "resource_metadata.resource", "{bad}");
    }
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:1/x",
        "https://a.b/c/",
    ] {
        let mut cfg = testkit::config();
        cfg["resource_metadata"] = json!({ "resource": ok });
        assert!(
            crate::config::Config::from_json(cfg.to_string().as_bytes()).is_ok(),
            "{ok}"
        );
    }
    assert_eq!(
        config_error(|c| c["resource_metadata"] = json!({
            "resource": "https://api.example.test",
            "additional_members": { "scopes_supported": ["x"] }
        })),
        (
            "resource_metadata.additional_members.scopes_supported".to_owned(),
            "\"scopes_supported\" is computed from the configuration (write it as its own field, if it has one)".to_owned()
        )
    );
    assert_eq!(
        field(|c| c["resource_metadata"] = json!({
            "resource": "https://api.example.test", "authorization_servers": []
        })),
        "resource_metadata.authorization_servers"
    );
    assert_eq!(
        field(|c| c["resource_metadata"] = json!({
            "resource": "https://api.example.test", "scopes_supported": ["a", "a"]
        })),
        "resource_metadata.scopes_supported[1]"
    );
    assert_eq!(
        config_error(|c| c["rules"][0]["acr_values"] = json!(["mfa"])),
        (
            "rules[0].acr_values".to_owned(),
            "step-up needs a token: the rule must not be anonymous or allow_missing".to_owned()
        )
    );
    assert_eq!(
        field(|c| c["rules"][1]["acr_values"] = json!([])),
        "rules[1].acr_values"
    );
    assert_eq!(
        field(|c| c["rules"][1]["acr_values"] = json!(["a b"])),
        "rules[1].acr_values[0]"
    );
    assert_eq!(
        field(|c| c["rules"][1]["acr_values"] = json!(["a", "a"])),
        "rules[1].acr_values[1]"
    );
    assert_eq!(
        field(|c| c["rules"][1]["max_age_seconds"] = json!(40_000_000)),
        "rules[1].max_age_seconds"
    );
    assert_eq!(
        field(|c| c["rules"][1]["max_age_seconds"] = json!(-1)),
        "rules[1].max_age_seconds"
    );
}
