//! Introspection: configuration, answers (every member type wrong, duplicates, huge
//! answers, signed answers), expiry rules, the shared entry, provider choice, and the engine
//! with a stand-in environment. Negative tests assert the exact variant.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::answer::{read, Reader, MAX_ANSWER_BYTES};
use super::store::{insert, BUCKETS, ENTRIES_PER_BUCKET, MAX_ENTRY_BYTES};
use super::*;
use crate::config::{Config, ConfigError};
use crate::environment::{Environment, InMemory, RememberError};
use crate::testkit::{self, TestKey, AUDIENCE, ISSUER, NOW};
use crate::{CacheLookup, DenialKind, Engine, HeaderEdit, Outcome};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// The standard test configuration whose first provider also introspects.
fn config_with(introspection: Value) -> Value {
    let mut config = testkit::config();
    config["providers"][0]["introspection"] = introspection;
    config
}

fn introspection(response: &str) -> Value {
    json!({
        "cluster": "idsvr",
        "url": "https://login.example.test/oauth/v2/introspect",
        "client_id": "gateway",
        "client_secret": "s3cret",
        "response": response
    })
}

fn config_error(config: Value) -> ConfigError {
    Config::from_json(config.to_string().as_bytes()).unwrap_err()
}

fn intro_of(config: &Config) -> &Introspection {
    config.providers[0].introspection.as_ref().unwrap()
}

// ---- configuration ----

#[test]
fn defaults_are_the_documented_ones() {
    let config =
        Config::from_json(config_with(introspection("json")).to_string().as_bytes()).unwrap();
    let intro = intro_of(&config);
    assert_eq!(intro.response, ResponseMode::Json);
    assert_eq!(intro.cache_seconds, 300);
    assert_eq!(intro.negative_cache_seconds, 10);
    assert_eq!(intro.timeout_ms, 2000);
    assert_eq!(intro.forward, Forward::Claims);
    assert_eq!(intro.url.authority(), "login.example.test");
    assert_eq!(intro.url.path(), "/oauth/v2/introspect");
    assert_eq!(format!("{:?}", intro.client_secret), "Secret(..)");
}

#[test]
fn client_secret_from_the_vm_environment() {
    let mut i = introspection("json");
    i["client_secret"] = json!({ "env": "GATEWAY_SECRET" });
    let text = config_with(i).to_string();
    let env = |name: &str| (name == "GATEWAY_SECRET").then(|| "from-env".to_owned());
    let config = Config::from_json_with_env(text.as_bytes(), &env).unwrap();
    assert_eq!(intro_of(&config).client_secret.expose(), "from-env");
    let e = Config::from_json(text.as_bytes()).unwrap_err();
    assert_eq!(e.field, "providers[0].introspection.client_secret.env");
    assert!(!e.message.contains("from-env"));
}

#[test]
fn each_bad_field_is_named() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"cluster": ""}), "providers[0].introspection.cluster"),
        (
            json!({"url": "ftp://x/introspect"}),
            "providers[0].introspection.url",
        ),
        (
            json!({"client_id": ""}),
            "providers[0].introspection.client_id",
        ),
        (
            json!({"client_secret": ""}),
            "providers[0].introspection.client_secret",
        ),
        (
            json!({"timeout_ms": 0}),
            "providers[0].introspection.timeout_ms",
        ),
        (
            json!({"timeout_ms": 60001}),
            "providers[0].introspection.timeout_ms",
        ),
        (
            json!({"cache_seconds": 86401}),
            "providers[0].introspection.cache_seconds",
        ),
        (
            json!({"negative_cache_seconds": 3601}),
            "providers[0].introspection.negative_cache_seconds",
        ),
        (
            json!({"forward": "jwt"}),
            "providers[0].introspection.forward",
        ),
        (
            json!({"response": "xml"}),
            "providers[0].introspection.response",
        ),
        (
            json!({"forward": "token"}),
            "providers[0].introspection.forward",
        ),
        (json!({"extra": 1}), "providers[0].introspection.extra"),
    ];
    for (edit, field) in cases {
        let mut i = introspection("json");
        for (k, v) in object(edit.clone()) {
            i[k] = v;
        }
        assert_eq!(config_error(config_with(i)).field, field, "{edit}");
    }
}

#[test]
fn forward_jwt_needs_a_jwt_mode() {
    for mode in ["jwt", "phantom"] {
        let mut i = introspection(mode);
        i["forward"] = json!("jwt");
        let config = Config::from_json(config_with(i).to_string().as_bytes()).unwrap();
        assert_eq!(intro_of(&config).forward, Forward::Jwt);
    }
    let mut i = introspection("json");
    i["forward"] = json!("jwt");
    let e = config_error(config_with(i));
    assert_eq!(e.field, "providers[0].introspection.forward");
}

#[test]
fn jwks_is_optional_only_for_json_introspection() {
    let mut config = config_with(introspection("json"));
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("jwks");
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("algorithms");
    let checked = Config::from_json(config.to_string().as_bytes()).unwrap();
    assert!(checked.providers[0].initial_keys.is_empty());
    for mode in ["jwt", "phantom"] {
        config["providers"][0]["introspection"]["response"] = json!(mode);
        assert_eq!(config_error(config.clone()).field, "providers[0].jwks");
    }
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("introspection");
    assert_eq!(config_error(config).field, "providers[0].jwks");
}

// ---- which tokens, which provider, the call ----

#[test]
fn only_compact_jws_is_a_jwt() {
    assert!(is_jws_compact("a.b.c"));
    assert!(is_jws_compact(&testkit::token(TestKey::Es256, NOW)));
    for opaque in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        ".b.c",
        "a.b.",
        "a.b+.c",
        "a.b=.c",
        "2YotnFZFEjr1zCsicMWpAA",
        "a.b.c.d.e",
    ] {
        assert!(!is_jws_compact(opaque), "{opaque:?}");
    }
}

#[test]
fn the_first_allowed_introspecting_provider_is_chosen() {
    let mut config = testkit::config();
    config["providers"][1]["introspection"] = introspection("json");
    config["providers"][1]["introspection"]["cluster"] = json!("partner");
    let checked = Config::from_json(config.to_string().as_bytes()).unwrap();
    let p = &checked.providers;
    assert_eq!(choose(p, None), Some(ProviderId(1)));
    assert_eq!(choose(p, Some(&[ProviderId(0)])), None);
    assert_eq!(
        choose(p, Some(&[ProviderId(1), ProviderId(0)])),
        Some(ProviderId(1))
    );
    config["providers"][0]["introspection"] = introspection("json");
    let checked = Config::from_json(config.to_string().as_bytes()).unwrap();
    let p = &checked.providers;
    // Configuration order, not the rule's order.
    assert_eq!(
        choose(p, Some(&[ProviderId(1), ProviderId(0)])),
        Some(ProviderId(0))
    );
    assert_eq!(choose(p, Some(&[ProviderId(1)])), Some(ProviderId(1)));
}

#[test]
fn the_call_is_a_form_post_with_basic_client_authentication() {
    let mut i = introspection("jwt");
    i["client_id"] = json!("gate way");
    i["client_secret"] = json!("p@ss:wörd");
    let config = Config::from_json(config_with(i).to_string().as_bytes()).unwrap();
    let (headers, body) = call(intro_of(&config), "tok/en+1=");
    // base64("gate+way:p%40ss%3Aw%C3%B6rd")
    let expected_basic = {
        use ct_codecs::{Base64, Encoder};
        Base64::encode_to_string("gate+way:p%40ss%3Aw%C3%B6rd").unwrap()
    };
    assert_eq!(
        headers,
        vec![
            (":method".into(), "POST".into()),
            (":path".into(), "/oauth/v2/introspect".into()),
            (":authority".into(), "login.example.test".into()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into()
            ),
            (
                "accept".into(),
                "application/token-introspection+jwt".into()
            ),
            ("authorization".into(), format!("Basic {expected_basic}")),
        ]
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "token=tok%2Fen%2B1%3D&token_type_hint=access_token"
    );
    assert_eq!(ResponseMode::Json.accept(), "application/json");
    assert_eq!(ResponseMode::Phantom.accept(), "application/jwt");
}

// ---- answers ----

struct Fixture {
    config: Config,
    keys: Vec<crate::KeySet>,
    verifiers: crate::signature::Verifiers,
}

impl Fixture {
    fn new(mode: &str) -> Fixture {
        let config =
            Config::from_json(config_with(introspection(mode)).to_string().as_bytes()).unwrap();
        let keys = config
            .providers
            .iter()
            .map(|p| p.initial_keys.clone())
            .collect();
        Fixture {
            config,
            keys,
            verifiers: crate::signature::Verifiers::pure(),
        }
    }

    fn read(&self, status: Option<u32>, body: &[u8]) -> Result<Verdict, Failure> {
        let reader = Reader {
            providers: &self.config.providers,
            keys: &self.keys,
            verifiers: &self.verifiers,
            provider: ProviderId(0),
            introspection: intro_of(&self.config),
            max_token_bytes: self.config.max_token_bytes,
        };
        read(&reader, status, body.len(), body, NOW)
    }
}

fn active_answer() -> Map<String, Value> {
    object(json!({
        "active": true,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "app-1",
        "scope": "orders:read",
        "token_type": "Bearer",
        "iat": NOW - 10,
        "exp": NOW + 100,
    }))
}

#[test]
fn json_answers() {
    let f = Fixture::new("json");
    let body = Value::Object(active_answer()).to_string();
    assert_eq!(
        f.read(Some(200), body.as_bytes()),
        Ok(Verdict::Active {
            claims: active_answer(),
            jwt: None
        })
    );
    assert_eq!(
        f.read(Some(200), br#"{"active":false}"#),
        Ok(Verdict::Rejected(TokenError::Inactive))
    );
    assert_eq!(f.read(None, b""), Err(Failure::Unavailable));
    for status in [201, 204, 301, 400, 401, 403, 404, 500, 502, 503] {
        assert_eq!(
            f.read(Some(status), body.as_bytes()),
            Err(Failure::Unavailable),
            "{status}"
        );
    }
    for garbage in [
        &b""[..],
        b"null",
        b"[]",
        b"true",
        b"<html>",
        b"{\"active\":true",
        b"{\"active\":true}x",
        b"{}",
        b"{\"active\":\"true\"}",
        b"{\"active\":1}",
        b"{\"active\":null}",
        b"{\"active\":true,\"active\":true}",
        b"{\"active\":false,\"active\":true}",
        b"{\"active\":true,\"cnf\":{\"jkt\":\"a\",\"jkt\":\"b\"}}",
        b"\xff\xfe",
    ] {
        assert_eq!(
            f.read(Some(200), garbage),
            Err(Failure::BadAnswer),
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }
}

#[test]
fn every_member_of_the_wrong_type_is_a_bad_answer() {
    let f = Fixture::new("json");
    let wrong: Vec<(&str, Value)> = vec![
        ("scope", json!(["orders:read"])),
        ("client_id", json!(1)),
        ("username", json!(true)),
        ("token_type", json!({})),
        ("sub", json!(null)),
        ("iss", json!(["x"])),
        ("jti", json!(7)),
        ("exp", json!("1700000100")),
        ("exp", json!(-1)),
        ("iat", json!(null)),
        ("nbf", json!([1])),
        ("aud", json!(5)),
        ("aud", json!(["ok", 5])),
        ("cnf", json!("jkt")),
        ("cnf", json!(["jkt"])),
    ];
    for (name, value) in wrong {
        let mut answer = active_answer();
        answer.insert(name.into(), value.clone());
        let body = Value::Object(answer).to_string();
        assert_eq!(
            f.read(Some(200), body.as_bytes()),
            Err(Failure::BadAnswer),
            "{name}: {value}"
        );
    }
}

#[test]
fn huge_answers_are_bad_answers_unread() {
    let f = Fixture::new("json");
    let mut answer = active_answer();
    answer.insert("padding".into(), json!("x".repeat(MAX_ANSWER_BYTES)));
    let body = Value::Object(answer).to_string();
    assert_eq!(f.read(Some(200), body.as_bytes()), Err(Failure::BadAnswer));
    // A reported size above the limit is refused even if the body read is small.
    let reader = Reader {
        providers: &f.config.providers,
        keys: &f.keys,
        verifiers: &f.verifiers,
        provider: ProviderId(0),
        introspection: intro_of(&f.config),
        max_token_bytes: f.config.max_token_bytes,
    };
    assert_eq!(
        read(&reader, Some(200), MAX_ANSWER_BYTES + 1, b"", NOW),
        Err(Failure::BadAnswer)
    );
    // Deep nesting is refused by the parser, not a stack overflow.
    let deep = format!(
        "{{\"active\":true,\"x\":{}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert_eq!(f.read(Some(200), deep.as_bytes()), Err(Failure::BadAnswer));
}

fn introspection_jwt(key: TestKey, typ: &str, claims: Value) -> String {
    let mut header = testkit::header(key);
    header.insert("typ".into(), typ.into());
    testkit::mint(key, &header, &object(claims))
}

fn rfc9701_claims(inner: Value) -> Value {
    json!({
        "iss": ISSUER,
        "aud": "gateway",
        "iat": NOW,
        "token_introspection": inner,
    })
}

#[test]
fn signed_answers() {
    let f = Fixture::new("jwt");
    let inner = Value::Object(active_answer());
    let good = introspection_jwt(
        TestKey::Es256,
        "token-introspection+jwt",
        rfc9701_claims(inner.clone()),
    );
    assert_eq!(
        f.read(Some(200), good.as_bytes()),
        Ok(Verdict::Active {
            claims: active_answer(),
            jwt: Some(good.clone())
        })
    );
    let also = introspection_jwt(
        TestKey::EdDsa,
        "application/token-introspection+jwt",
        rfc9701_claims(inner.clone()),
    );
    assert!(matches!(
        f.read(Some(200), also.as_bytes()),
        Ok(Verdict::Active { .. })
    ));
    let inactive = introspection_jwt(
        TestKey::Es256,
        "token-introspection+jwt",
        rfc9701_claims(json!({"active": false})),
    );
    assert_eq!(
        f.read(Some(200), inactive.as_bytes()),
        Ok(Verdict::Rejected(TokenError::Inactive))
    );
    let mut wrong_aud = rfc9701_claims(inner.clone());
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = rfc9701_claims(inner.clone());
    wrong_iss["iss"] = json!("https://evil.example");
    let mut no_iat = rfc9701_claims(inner.clone());
    no_iat.as_object_mut().unwrap().remove("iat");
    let mut not_object = rfc9701_claims(inner.clone());
    not_object["token_introspection"] = json!("active");
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let bad = [
        introspection_jwt(TestKey::Es256, "at+jwt", rfc9701_claims(inner.clone())),
        introspection_jwt(TestKey::Es256, "token-introspection+jwt", wrong_aud),
        introspection_jwt(TestKey::Es256, "token-introspection+jwt", wrong_iss),
        introspection_jwt(TestKey::Es256, "token-introspection+jwt", no_iat),
        introspection_jwt(TestKey::Es256, "token-introspection+jwt", not_object),
        introspection_jwt(
            TestKey::Rogue,
            "token-introspection+jwt",
            rfc9701_claims(inner.clone()),
        ),
        introspection_jwt(
            TestKey::PartnerEs256,
            "token-introspection+jwt",
            rfc9701_claims(inner.clone()),
        ),
        tampered,
        Value::Object(active_answer()).to_string(),
        "a.b.c".into(),
    ];
    for body in bad {
        assert_eq!(
            f.read(Some(200), body.as_bytes()),
            Err(Failure::BadAnswer),
            "{body}"
        );
    }
}

#[test]
fn phantom_answers() {
    let f = Fixture::new("phantom");
    let token = testkit::token(TestKey::Es256, NOW);
    let Ok(Verdict::Active { claims, jwt }) = f.read(Some(200), token.as_bytes()) else {
        panic!("phantom JWT not accepted");
    };
    assert_eq!(claims, testkit::claims(NOW));
    assert_eq!(jwt.as_deref(), Some(token.as_str()));
    assert_eq!(
        f.read(Some(204), b""),
        Ok(Verdict::Rejected(TokenError::Inactive))
    );
    assert_eq!(
        f.read(Some(200), br#"{"active":false}"#),
        Ok(Verdict::Rejected(TokenError::Inactive))
    );
    assert_eq!(
        f.read(Some(200), br#"{"active":true}"#),
        Err(Failure::BadAnswer)
    );
    let expired = crate::tests::with_claims(TestKey::Es256, |c| {
        c.insert("iat".into(), json!(NOW - 600));
        c.insert("exp".into(), json!(NOW - 300));
    });
    assert_eq!(
        f.read(Some(200), expired.as_bytes()),
        Ok(Verdict::Rejected(TokenError::Expired))
    );
    let wrong_aud = crate::tests::with_claims(TestKey::Es256, |c| {
        c.insert("aud".into(), json!("elsewhere"));
    });
    assert_eq!(
        f.read(Some(200), wrong_aud.as_bytes()),
        Ok(Verdict::Rejected(TokenError::WrongAudience))
    );
    // Not this provider's token, not a JWT, not signed by its keys: the server is at fault.
    for body in [
        testkit::token(TestKey::PartnerEs256, NOW),
        testkit::token(TestKey::Rogue, NOW),
        "opaque".into(),
        String::new(),
    ] {
        assert_eq!(
            f.read(Some(200), body.as_bytes()),
            Err(Failure::BadAnswer),
            "{body}"
        );
    }
    assert_eq!(
        f.read(Some(500), token.as_bytes()),
        Err(Failure::Unavailable)
    );
}

// ---- the provider's rules on an active answer ----

#[test]
fn active_answers_are_held_to_the_provider_rules() {
    let config =
        Config::from_json(config_with(introspection("json")).to_string().as_bytes()).unwrap();
    let p = &config.providers[0];
    let admitted = admit_claims(p, &active_answer(), NOW).unwrap();
    assert_eq!(admitted.exp, Some(NOW + 100));
    assert_eq!(admitted.scopes, vec!["orders:read".to_owned()]);
    assert!(admitted.confirmation.is_empty());
    // Without iss/aud/exp/nbf the answer stands on the server's word.
    let bare = object(json!({"active": true, "scope": "a b"}));
    assert_eq!(admit_claims(p, &bare, NOW).unwrap().exp, None);
    let jkt = crate::tests::b64(&[7u8; 32]);
    let cases: Vec<(&str, Value, TokenError)> = vec![
        (
            "iss",
            json!("https://evil.example"),
            TokenError::WrongIssuer,
        ),
        ("aud", json!("elsewhere"), TokenError::WrongAudience),
        ("aud", json!(["a", "b"]), TokenError::WrongAudience),
        ("exp", json!(NOW - 31), TokenError::Expired),
        ("nbf", json!(NOW + 31), TokenError::NotYetValid),
        ("cnf", json!({"jkt": "short"}), TokenError::BadConfirmation),
        ("cnf", json!({"x5t": "abc"}), TokenError::BadConfirmation),
        ("cnf", json!({}), TokenError::BadConfirmation),
        ("token_type", json!("DPoP"), TokenError::NotDpopBound),
        ("token_type", json!("dpop"), TokenError::NotDpopBound),
    ];
    for (name, value, error) in cases {
        let mut answer = active_answer();
        answer.insert(name.into(), value.clone());
        assert_eq!(admit_claims(p, &answer, NOW), Err(error), "{name}: {value}");
    }
    // Within the clock skew (30 s).
    let mut answer = active_answer();
    answer.insert("exp".into(), json!(NOW - 29));
    assert!(admit_claims(p, &answer, NOW).is_ok());
    let mut answer = active_answer();
    answer.insert("token_type".into(), json!("DPoP"));
    answer.insert("cnf".into(), json!({ "jkt": jkt }));
    assert_eq!(
        admit_claims(p, &answer, NOW).unwrap().confirmation.jkt,
        Some([7u8; 32])
    );
}

// ---- expiry rules and the shared entry ----

fn json_intro(cache_seconds: u64, negative: u64) -> Introspection {
    let mut i = introspection("json");
    i["cache_seconds"] = json!(cache_seconds);
    i["negative_cache_seconds"] = json!(negative);
    let config = Config::from_json(config_with(i).to_string().as_bytes()).unwrap();
    intro_of(&config).clone()
}

#[test]
fn expiry_rules() {
    let active = Verdict::Active {
        claims: Map::new(),
        jwt: None,
    };
    let inactive = Verdict::Rejected(TokenError::Inactive);
    let i = json_intro(300, 10);
    // cache_seconds when nothing is shorter.
    assert_eq!(cache_until(&i, &active, None, None, NOW), Some(NOW + 300));
    assert_eq!(
        cache_until(&i, &active, Some(NOW + 1000), None, NOW),
        Some(NOW + 300)
    );
    // Never after exp.
    assert_eq!(
        cache_until(&i, &active, Some(NOW + 100), None, NOW),
        Some(NOW + 100)
    );
    assert_eq!(cache_until(&i, &active, Some(NOW), None, NOW), None);
    assert_eq!(cache_until(&i, &active, Some(NOW - 5), None, NOW), None);
    // max-age.
    assert_eq!(
        cache_until(&i, &active, Some(NOW + 100), Some(50), NOW),
        Some(NOW + 50)
    );
    assert_eq!(
        cache_until(&i, &active, None, Some(900), NOW),
        Some(NOW + 300)
    );
    assert_eq!(cache_until(&i, &active, None, Some(0), NOW), None);
    // Inactive answers: the negative window, whatever exp and max-age say.
    assert_eq!(cache_until(&i, &inactive, None, None, NOW), Some(NOW + 10));
    assert_eq!(
        cache_until(&i, &inactive, None, Some(0), NOW),
        Some(NOW + 10)
    );
    // Switched off.
    let off = json_intro(0, 0);
    assert_eq!(cache_until(&off, &active, Some(NOW + 100), None, NOW), None);
    assert_eq!(cache_until(&off, &inactive, None, None, NOW), None);
}

#[test]
fn cache_control_max_age() {
    assert_eq!(max_age(None), None);
    assert_eq!(max_age(Some("max-age=60")), Some(60));
    assert_eq!(max_age(Some("private, Max-Age=30")), Some(30));
    assert_eq!(max_age(Some("max-age=60, max-age=20")), Some(20));
    // oidc-provider sends `no-store` on every answer: it says nothing about the token.
    assert_eq!(max_age(Some("no-store")), None);
    assert_eq!(max_age(Some("no-cache, no-store, max-age=30")), Some(30));
    assert_eq!(max_age(Some("max-age=0")), Some(0));
    assert_eq!(max_age(Some("max-age=soon")), None);
    assert_eq!(max_age(Some("public")), None);
}

#[test]
fn shared_entries() {
    let i = json_intro(300, 10);
    let key = SharedKey::of(&i, "opaque-1");
    assert_ne!(key, SharedKey::of(&i, "opaque-2"));
    let other_secret = {
        let mut j = i.clone();
        j.client_secret = Config::from_json(
            config_with({
                let mut x = introspection("json");
                x["client_secret"] = json!("another");
                x
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
        .providers[0]
            .introspection
            .as_ref()
            .unwrap()
            .client_secret
            .clone();
        j
    };
    assert_ne!(key, SharedKey::of(&other_secret, "opaque-1"));
    let name = key.bucket_name("idsvr");
    let slot: u64 = name
        .strip_prefix("tollgate.introspection.idsvr.")
        .unwrap()
        .parse()
        .unwrap();
    assert!(slot < BUCKETS);
    assert!(!name.contains("opaque-1"));

    let active = Stored {
        until: NOW + 60,
        verdict: Verdict::Active {
            claims: active_answer(),
            jwt: Some("a.b.c".into()),
        },
    };
    let bytes = active.encode(key).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("opaque-1"));
    assert_eq!(Stored::decode(&bytes, key, NOW), Ok(active.clone()));
    assert_eq!(
        Stored::decode(&bytes, key, NOW + 60),
        Err(StoreError::Expired)
    );
    let other = SharedKey::of(&i, "opaque-2");
    assert_eq!(Stored::decode(&bytes, other, NOW), Err(StoreError::Absent));
    assert_eq!(Stored::decode(b"", key, NOW), Err(StoreError::Absent));
    assert_eq!(
        Stored::decode(b"garbage", key, NOW),
        Err(StoreError::Unreadable)
    );

    let inactive = Stored {
        until: NOW + 10,
        verdict: Verdict::Rejected(TokenError::Inactive),
    };
    let bytes = inactive.encode(key).unwrap();
    assert_eq!(Stored::decode(&bytes, key, NOW), Ok(inactive));

    let huge = Stored {
        until: NOW + 60,
        verdict: Verdict::Active {
            claims: object(json!({ "x": "y".repeat(MAX_ENTRY_BYTES) })),
            jwt: None,
        },
    };
    assert_eq!(huge.encode(key), Err(StoreError::TooLarge));
}

// ---- the engine ----

/// A request's environment whose introspection answers come from a table (what the glue's
/// shared cache and call answers would say).
struct Known {
    inner: InMemory,
    answers: HashMap<String, super::Known>,
    asked: usize,
}

impl Known {
    fn new() -> Known {
        Known {
            inner: InMemory::new(None, 64),
            answers: HashMap::new(),
            asked: 0,
        }
    }

    fn active(mut self, token: &str, claims: Map<String, Value>, jwt: Option<&str>) -> Known {
        self.answers.insert(
            token.into(),
            Ok(Stored {
                until: NOW + 60,
                verdict: Verdict::Active {
                    claims,
                    jwt: jwt.map(str::to_owned),
                },
            }),
        );
        self
    }
}

impl Environment for Known {
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]> {
        self.inner.client_certificate_sha256()
    }
    fn remember_proof(
        &mut self,
        key: &[u8; 16],
        until: u64,
        now: u64,
    ) -> Result<(), RememberError> {
        self.inner.remember_proof(key, until, now)
    }
    fn introspection(
        &mut self,
        provider: ProviderId,
        token: &str,
        _now: u64,
    ) -> Option<super::Known> {
        assert_eq!(provider, ProviderId(0));
        self.asked += 1;
        self.answers.get(token).cloned()
    }
}

fn engine(config: Value) -> Engine {
    Engine::from_json(config.to_string().as_bytes(), crate::CacheSecret([1, 2])).unwrap()
}

#[test]
fn an_active_opaque_token_is_admitted_like_a_jwt() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new().active("opaque-1", active_answer(), None);
    let headers = testkit::request("GET", "/orders", Some("opaque-1"));
    let first = e.evaluate_in(&headers, &mut env, NOW);
    let Outcome::Allow(allowed) = first.outcome else {
        panic!("{:?}", first.outcome)
    };
    assert_eq!(first.cache, Some(CacheLookup::Miss));
    assert_eq!(first.introspection, None);
    assert_eq!(allowed.provider, Some(ProviderId(0)));
    assert_eq!(
        &allowed.set_headers[..],
        &[
            ("x-client-id".to_owned(), "app-1".to_owned()),
            ("x-token-scope".to_owned(), "orders:read".to_owned()),
            ("x-user-id".to_owned(), "user-1".to_owned()),
        ]
    );
    assert!(allowed.token_edits.is_empty());
    // The second request is answered by the worker's verified-token cache.
    let second = e.evaluate_in(&headers, &mut env, NOW + 1);
    assert!(matches!(second.outcome, Outcome::Allow(_)));
    assert_eq!(second.cache, Some(CacheLookup::Hit));
    assert_eq!(env.asked, 1);
    // ... but never past the stored verdict's reuse window.
    let later = e.evaluate_in(&headers, &mut env, NOW + 60);
    assert_eq!(later.cache, Some(CacheLookup::Miss));
    assert_eq!(env.asked, 2);
}

#[test]
fn scopes_are_checked_per_rule() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new().active("opaque-1", active_answer(), None);
    let post = testkit::request("POST", "/orders", Some("opaque-1"));
    let Outcome::Deny(d) = e.evaluate_in(&post, &mut env, NOW).outcome else {
        panic!("allowed without orders:write")
    };
    assert_eq!(
        d.kind,
        DenialKind::InsufficientScope {
            required: vec!["orders:write".into()]
        }
    );
    assert_eq!(d.response("r").status, 403);
}

#[test]
fn no_verdict_yet_asks_for_a_call_and_is_a_503_meanwhile() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new();
    let ev = e.evaluate_in(
        &testkit::request("GET", "/", Some("opaque-9")),
        &mut env,
        NOW,
    );
    assert_eq!(
        ev.introspection,
        Some(IntrospectionNeeded {
            provider: ProviderId(0),
            token: OpaqueToken("opaque-9".into()),
        })
    );
    assert!(!format!("{ev:?}").contains("opaque-9"));
    let Outcome::Deny(d) = ev.outcome else {
        panic!()
    };
    assert_eq!(
        d.kind,
        DenialKind::IntrospectionUnavailable(Failure::Timeout)
    );
    assert_eq!(d.reason(), "introspection_timeout");
    let r = d.response("r");
    assert_eq!(r.status, 503);
    assert!(r.headers.contains(&("retry-after".into(), "5".into())));
}

#[test]
fn failures_and_rejections() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new();
    env.answers.insert("down".into(), Err(Failure::Unavailable));
    env.answers
        .insert("garbled".into(), Err(Failure::BadAnswer));
    env.answers.insert(
        "revoked".into(),
        Ok(Stored {
            until: NOW + 10,
            verdict: Verdict::Rejected(TokenError::Inactive),
        }),
    );
    let mut expired = active_answer();
    expired.insert("exp".into(), json!(NOW - 100));
    let mut env = env.active("expired", expired, None);
    let mut outcome = |token: &str| match e
        .evaluate_in(&testkit::request("GET", "/", Some(token)), &mut env, NOW)
        .outcome
    {
        Outcome::Deny(d) => (d.kind.clone(), d.response("r").status),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        outcome("down"),
        (
            DenialKind::IntrospectionUnavailable(Failure::Unavailable),
            503
        )
    );
    assert_eq!(
        outcome("garbled"),
        (
            DenialKind::IntrospectionUnavailable(Failure::BadAnswer),
            503
        )
    );
    assert_eq!(
        outcome("revoked"),
        (DenialKind::InvalidToken(TokenError::Inactive), 401)
    );
    assert_eq!(
        outcome("expired"),
        (DenialKind::InvalidToken(TokenError::Expired), 401)
    );
}

#[test]
fn a_jwt_is_never_introspected_and_other_routes_keep_refusing_opaque_tokens() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new();
    let jwt = testkit::token(TestKey::Es256, NOW);
    let ev = e.evaluate_in(&testkit::request("GET", "/", Some(&jwt)), &mut env, NOW);
    assert!(matches!(ev.outcome, Outcome::Allow(_)));
    assert_eq!(env.asked, 0);
    // `/partner` allows only the provider that does not introspect.
    let ev = e.evaluate_in(
        &testkit::request("GET", "/partner", Some("opaque-1")),
        &mut env,
        NOW,
    );
    let Outcome::Deny(d) = ev.outcome else {
        panic!()
    };
    assert_eq!(d.kind, DenialKind::InvalidToken(TokenError::Malformed));
    assert_eq!(env.asked, 0);
    assert_eq!(ev.introspection, None);
}

#[test]
fn a_dpop_bound_answer_needs_a_proof_on_every_request() {
    let mut e = engine(config_with(introspection("json")));
    let mut answer = active_answer();
    answer.insert("token_type".into(), json!("DPoP"));
    answer.insert(
        "cnf".into(),
        json!({ "jkt": crate::tests::b64(&[7u8; 32]) }),
    );
    let mut env = Known::new().active("bound", answer, None);
    for now in [NOW, NOW + 1] {
        let ev = e.evaluate_in(&testkit::request("GET", "/", Some("bound")), &mut env, now);
        let Outcome::Deny(d) = ev.outcome else {
            panic!("bearer use of a bound token")
        };
        assert_eq!(
            d.kind,
            DenialKind::InvalidToken(TokenError::DpopBoundAsBearer)
        );
    }
    // The verdict was cached at the first request and the binding still checked on the hit.
    assert_eq!(env.asked, 1);
}

#[test]
fn forward_jwt_replaces_authorization() {
    let mut i = introspection("phantom");
    i["forward"] = json!("jwt");
    let mut e = engine(config_with(i));
    let jwt = testkit::token(TestKey::Es256, NOW);
    let mut env = Known::new().active("opaque-1", testkit::claims(NOW), Some(&jwt));
    let ev = e.evaluate_in(
        &testkit::request("GET", "/", Some("opaque-1")),
        &mut env,
        NOW,
    );
    let Outcome::Allow(a) = ev.outcome else {
        panic!("{:?}", ev.outcome)
    };
    assert_eq!(
        a.token_edits,
        vec![HeaderEdit::Set(
            "authorization".into(),
            format!("Bearer {jwt}")
        )]
    );
}

#[test]
fn a_verdict_not_to_be_reused_is_not_cached_locally() {
    let mut e = engine(config_with(introspection("json")));
    let mut env = Known::new();
    env.answers.insert(
        "once".into(),
        Ok(Stored {
            until: NOW,
            verdict: Verdict::Active {
                claims: active_answer(),
                jwt: None,
            },
        }),
    );
    let headers = testkit::request("GET", "/", Some("once"));
    assert!(matches!(
        e.evaluate_in(&headers, &mut env, NOW).outcome,
        Outcome::Allow(_)
    ));
    let again = e.evaluate_in(&headers, &mut env, NOW);
    assert_eq!(again.cache, Some(CacheLookup::Miss));
    assert_eq!(env.asked, 2);
}

#[test]
fn a_bucket_keeps_several_entries_and_drops_the_soonest_expiring() {
    let i = json_intro(300, 10);
    let inactive = |until: u64| Stored {
        until,
        verdict: Verdict::Rejected(TokenError::Inactive),
    };
    let keys: Vec<SharedKey> = (0..ENTRIES_PER_BUCKET + 2)
        .map(|n| SharedKey::of(&i, &format!("token-{n}")))
        .collect();
    let mut bucket: Option<Vec<u8>> = None;
    for (n, key) in keys.iter().enumerate() {
        let stored = inactive(NOW + 100 + n as u64);
        bucket = Some(insert(bucket.as_deref(), *key, &stored, NOW).unwrap());
    }
    let bytes = bucket.unwrap();
    // The two soonest-expiring entries made room; the others are all there.
    for (n, key) in keys.iter().enumerate() {
        let found = Stored::decode(&bytes, *key, NOW);
        if n < 2 {
            assert_eq!(found, Err(StoreError::Absent), "{n}");
        } else {
            assert_eq!(found, Ok(inactive(NOW + 100 + n as u64)), "{n}");
        }
    }
    // Expired entries go first, and a token's new entry replaces its old one.
    let fresh = insert(Some(&bytes), keys[5], &inactive(NOW + 500), NOW + 104).unwrap();
    assert_eq!(
        Stored::decode(&fresh, keys[5], NOW + 104),
        Ok(inactive(NOW + 500))
    );
    assert_eq!(
        Stored::decode(&fresh, keys[2], NOW + 104),
        Err(StoreError::Absent)
    );
    assert_eq!(
        Stored::decode(&fresh, keys[6], NOW + 104),
        Ok(inactive(NOW + 106))
    );
    // An unreadable bucket is started afresh.
    let restarted = insert(Some(b"garbage"), keys[0], &inactive(NOW + 5), NOW).unwrap();
    assert_eq!(
        Stored::decode(&restarted, keys[0], NOW),
        Ok(inactive(NOW + 5))
    );
}

#[test]
fn a_jwt_at_a_provider_without_keys_is_a_401() {
    let mut config = config_with(introspection("json"));
    let provider = config["providers"][0].as_object_mut().unwrap();
    provider.remove("jwks");
    provider.remove("algorithms");
    let mut e = engine(config);
    let mut env = Known::new();
    let jwt = testkit::token(TestKey::Es256, NOW);
    let ev = e.evaluate_in(&testkit::request("GET", "/", Some(&jwt)), &mut env, NOW);
    let Outcome::Deny(d) = ev.outcome else {
        panic!("{:?}", ev.outcome)
    };
    assert_eq!(d.kind, DenialKind::InvalidToken(TokenError::UnknownKeyId));
    assert_eq!(d.response("r").status, 401);
    assert_eq!(ev.keys, None);
    assert_eq!(env.asked, 0, "a JWT is never introspected");
}
