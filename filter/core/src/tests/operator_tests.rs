//! What operators configure: token sources, `allow_missing`, dry-run, claims for the rest of
//! Envoy (filter state), nested claim paths, `stat_prefix`, and ES512 keys.

use serde_json::json;

use super::*;
use crate::request::RequestError as R;
use crate::testkit::{self, TestKey, NOW};
use crate::{HeaderEdit, TokenError as E};

fn with_sources(sources: serde_json::Value) -> Engine {
    let mut cfg = testkit::config();
    cfg["providers"][0]["sources"] = sources;
    engine_with(cfg)
}

fn req(path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = testkit::request("GET", path, None);
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

#[test]
fn tokens_come_from_the_configured_sources_in_order() {
    let t = testkit::token(TestKey::Es256, NOW);
    let mut e = with_sources(json!([
        {"header": "authorization", "scheme": "Bearer"},
        {"header": "x-api-token", "prefix": "Token "},
        {"cookie": "at"},
        {"query": "access_token"}
    ]));
    for r in [
        req("/orders", &[("authorization", &format!("Bearer {t}"))]),
        req("/orders", &[("x-api-token", &format!("token {t}"))]),
        req(
            "/orders",
            &[("cookie", &format!("theme=dark; at={t}; x=1"))],
        ),
        req("/orders", &[("cookie", &format!("at=\"{t}\""))]),
        req(&format!("/orders?page=1&access_token={t}"), &[]),
    ] {
        allowed(e.evaluate(&r, NOW));
    }
    // A header without the prefix is no token; a source twice is ambiguous.
    assert_eq!(
        denied(e.evaluate(&req("/orders", &[("x-api-token", &t)]), NOW)).kind,
        DenialKind::MissingToken
    );
    for r in [
        req(
            "/orders",
            &[
                ("cookie", &format!("at={t}")),
                ("cookie", &format!("at={t}")),
            ],
        ),
        req(&format!("/orders?access_token={t}&access_token={t}"), &[]),
        req(
            "/orders",
            &[("x-api-token", "Token a"), ("x-api-token", "Token b")],
        ),
        // The same token in two sources: one method only.
        req(
            &format!("/orders?access_token={t}"),
            &[("authorization", &format!("Bearer {t}"))],
        ),
        req(
            "/orders",
            &[
                ("cookie", &format!("at={t}")),
                ("x-api-token", &format!("Token {t}")),
            ],
        ),
    ] {
        assert_eq!(
            denied(e.evaluate(&r, NOW)).kind,
            DenialKind::InvalidRequest(R::MultipleTokens)
        );
    }
    // The default reads only Authorization: a query token is never read unless configured.
    let mut plain = engine();
    assert_eq!(
        denied(plain.evaluate(&req(&format!("/orders?access_token={t}"), &[]), NOW)).kind,
        DenialKind::MissingToken
    );
    assert_eq!(
        denied(plain.evaluate(&req("/orders", &[("cookie", &format!("at={t}"))]), NOW)).kind,
        DenialKind::MissingToken
    );
}

#[test]
fn a_header_that_carries_tokens_cannot_carry_a_claim() {
    for (target, want) in [
        (
            "x-api-token",
            "header \"x-api-token\" is a token source of provider \"idsvr\" and cannot carry a claim",
        ),
        // Compared as claim headers are stripped: `_` equals `-`.
        (
            "x-api_token",
            "header \"x-api_token\" is a token source of provider \"idsvr\" and cannot carry a claim",
        ),
        ("dpop", "\"dpop\" is reserved and cannot carry a claim"),
    ] {
        let mut cfg = testkit::config();
        cfg["providers"][0]["sources"] = json!([{"header": "x-api-token"}]);
        cfg["claims_to_headers"] = json!({ "sub": target });
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("claims_to_headers.sub", want),
            "{target}"
        );
    }
}

#[test]
fn a_token_from_a_source_its_provider_does_not_read_is_refused() {
    // Only `partner` reads cookies; an idsvr token in the cookie is refused.
    let mut cfg = testkit::config();
    cfg["providers"][1]["sources"] = json!([{"cookie": "at"}]);
    let mut e = engine_with(cfg);
    let idsvr = testkit::token(TestKey::Es256, NOW);
    let partner = testkit::token(TestKey::PartnerEs256, NOW);
    allowed(e.evaluate(&req("/", &[("cookie", &format!("at={partner}"))]), NOW));
    assert_eq!(
        denied(e.evaluate(&req("/", &[("cookie", &format!("at={idsvr}"))]), NOW)).kind,
        DenialKind::InvalidToken(E::SourceNotAllowed)
    );
    // Also once cached (the idsvr token is verified through Authorization first).
    allowed(e.evaluate(
        &req("/", &[("authorization", &format!("Bearer {idsvr}"))]),
        NOW,
    ));
    assert_eq!(
        denied(e.evaluate(&req("/", &[("cookie", &format!("at={idsvr}"))]), NOW)).kind,
        DenialKind::InvalidToken(E::SourceNotAllowed)
    );
}

#[test]
fn forward_token_false_takes_the_token_out_of_every_source() {
    let t = testkit::token(TestKey::Es256, NOW);
    let mut cfg = testkit::config();
    cfg["forward_token"] = json!(false);
    cfg["providers"][0]["sources"] = json!([
        {"header": "authorization"}, {"header": "x-api-token"}, {"cookie": "at"}, {"query": "access_token"}
    ]);
    let mut e = engine_with(cfg);
    let a = allowed(e.evaluate(&req("/orders", &[("x-api-token", &t)]), NOW));
    assert_eq!(
        a.token_edits,
        vec![HeaderEdit::Remove("x-api-token".into())]
    );
    let a = allowed(e.evaluate(
        &req("/orders", &[("cookie", &format!("a=1; at={t}; b=2"))]),
        NOW,
    ));
    assert_eq!(
        a.token_edits,
        vec![HeaderEdit::Set("cookie".into(), "a=1; b=2".into())]
    );
    let a = allowed(e.evaluate(&req("/orders", &[("cookie", &format!("at={t}"))]), NOW));
    assert_eq!(a.token_edits, vec![HeaderEdit::Remove("cookie".into())]);
    let a = allowed(e.evaluate(
        &req(&format!("/%6frders?x=1&access_token={t}&y=2"), &[]),
        NOW,
    ));
    assert!(a.token_edits.is_empty());
    assert_eq!(a.path.as_deref(), Some("/orders?x=1&y=2"));
    let a = allowed(e.evaluate(&req(&format!("/orders?access_token={t}"), &[]), NOW));
    assert_eq!(a.path.as_deref(), Some("/orders"));
}

#[test]
fn allow_missing_passes_without_a_token_but_never_with_a_bad_one() {
    let mut cfg = testkit::config();
    cfg["rules"] =
        json!([{"match": {"prefix": "/"}, "allow_missing": true, "scopes": ["orders:read"]}]);
    let mut e = engine_with(cfg);
    let a = allowed(e.evaluate(&req("/catalog", &[]), NOW));
    assert_eq!((a.provider, a.set_headers.len()), (None, 0));
    let good = testkit::token(TestKey::Es256, NOW);
    let a = allowed(e.evaluate(
        &req("/catalog", &[("authorization", &format!("Bearer {good}"))]),
        NOW,
    ));
    assert_eq!(a.set_headers.len(), 3);
    let expired = testkit::token(TestKey::Es256, NOW - 10_000);
    assert_eq!(
        denied(e.evaluate(
            &req(
                "/catalog",
                &[("authorization", &format!("Bearer {expired}"))]
            ),
            NOW
        ))
        .kind,
        DenialKind::InvalidToken(E::Expired)
    );
    let mut cfg = testkit::config();
    cfg["rules"] = json!([{"match": {"prefix": "/"}, "anonymous": true, "allow_missing": true}]);
    let err =
        Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
    assert_eq!(err.field, "rules[0].allow_missing");
}

#[test]
fn dry_run_decides_and_lets_the_request_pass() {
    let mut cfg = testkit::config();
    cfg["mode"] = json!("dry_run");
    let mut e = engine_with(cfg);
    let ev = e.evaluate(&req("/orders", &[]), NOW);
    assert_eq!(ev.rule, Some(1));
    match ev.outcome {
        Outcome::DryRun(d) => assert_eq!(d.kind, DenialKind::MissingToken),
        other => panic!("{other:?}"),
    }
    // Allowed requests are allowed as usual.
    let t = testkit::token(TestKey::Es256, NOW);
    allowed(e.evaluate(&testkit::request("GET", "/orders", Some(&t)), NOW));
    // Requests refused before any rule follow the global mode.
    let ev = e.evaluate(&req("/a/../b", &[]), NOW);
    assert_eq!(ev.rule, None);
    assert!(matches!(ev.outcome, Outcome::DryRun(_)));
    // A rule may enforce while the rest is dry run, and the other way round.
    let mut cfg = testkit::config();
    cfg["rules"][1]["mode"] = json!("dry_run");
    let mut e = engine_with(cfg);
    assert!(matches!(
        e.evaluate(&req("/orders", &[]), NOW).outcome,
        Outcome::DryRun(_)
    ));
    assert!(matches!(
        e.evaluate(&req("/admin", &[]), NOW).outcome,
        Outcome::Deny(_)
    ));
    let mut cfg = testkit::config();
    cfg["mode"] = json!("observe");
    let err =
        Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
    assert_eq!(err.field, "mode");
}

#[test]
fn claims_reach_the_filter_state_and_headers_by_path() {
    let mut cfg = testkit::config();
    cfg["claims_to_filter_state"] =
        json!(["sub", "address.country", "https://example.test/tenant"]);
    cfg["claims_to_headers"] =
        json!({"address.country": "x-country", "https://example.test/tenant": "x-tenant"});
    let mut e = engine_with(cfg);
    let mut c = testkit::claims(NOW);
    c.insert("address".into(), json!({"country": "CH", "city": "Bern"}));
    c.insert("https://example.test/tenant".into(), json!("t-42"));
    let t = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c);
    let a = allowed(e.evaluate(&testkit::request("GET", "/orders", Some(&t)), NOW));
    assert_eq!(
        a.filter_state.to_vec(),
        vec![
            ("tollgate.claims.sub".to_owned(), "user-1".to_owned()),
            (
                "tollgate.claims.address.country".to_owned(),
                "CH".to_owned()
            ),
            (
                "tollgate.claims.https://example.test/tenant".to_owned(),
                "t-42".to_owned()
            ),
        ]
    );
    assert_eq!(
        a.set_headers.to_vec(),
        vec![
            ("x-country".to_owned(), "CH".to_owned()),
            ("x-tenant".to_owned(), "t-42".to_owned()),
        ]
    );
    for bad in [
        json!([""]),
        json!(["a..b"]),
        json!(["a b"]),
        json!(["sub", "sub"]),
    ] {
        let mut cfg = testkit::config();
        cfg["claims_to_filter_state"] = bad.clone();
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert!(
            err.field.starts_with("claims_to_filter_state["),
            "{bad}: {err}"
        );
    }
}

#[test]
fn names_that_metric_tags_would_misread_are_refused() {
    for word in ["reason", "provider", "rbac", "zone"] {
        let mut cfg = testkit::config();
        cfg["stat_prefix"] = json!(word);
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert_eq!(err.field, "stat_prefix", "{word}");
        assert!(
            err.message
                .starts_with(&format!("\"{word}\" cannot be used")),
            "{err}"
        );
        let mut cfg = testkit::config();
        cfg["providers"][1]["name"] = json!(word);
        cfg["rules"][4]["providers"] = json!([word]);
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert_eq!(err.field, "providers[1].name", "{word}");
    }
}

#[test]
fn stat_prefix_is_a_label_value() {
    assert_eq!(engine().config().stat_prefix, "tollgate");
    for bad in ["", "a.b", "a b", &"x".repeat(65)] {
        let mut cfg = testkit::config();
        cfg["stat_prefix"] = json!(bad);
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert_eq!(err.field, "stat_prefix", "{bad}");
    }
}

#[test]
fn es512_tokens_are_verified() {
    use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
    use p521::ecdsa::signature::Signer;
    let b64 = |b: &[u8]| Base64UrlSafeNoPadding::encode_to_string(b).unwrap();
    let mut scalar = [0u8; 66];
    scalar[65] = 0x55;
    scalar[10] = 0x21;
    let sk = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    let point = p521::ecdsa::VerifyingKey::from(&sk).to_sec1_point(false);
    let (x, y) = point.as_bytes()[1..].split_at(66);
    let jwk = json!({"kty": "EC", "crv": "P-521", "kid": "p521", "x": b64(x), "y": b64(y)});
    let mut cfg = testkit::config();
    cfg["providers"][1]["jwks"] = json!({"inline": {"keys": [jwk]}});
    let mut e = engine_with(cfg);
    let header = json!({"alg": "ES512", "typ": "at+jwt", "kid": "p521"});
    let mut claims = testkit::claims(NOW);
    claims.insert("iss".into(), testkit::PARTNER_ISSUER.into());
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(serde_json::Value::Object(claims).to_string().as_bytes())
    );
    let sig: p521::ecdsa::Signature = sk.sign(input.as_bytes());
    let token = format!("{input}.{}", b64(&sig.to_bytes()));
    let a = allowed(e.evaluate(&testkit::request("GET", "/", Some(&token)), NOW));
    assert_eq!(a.provider, Some(crate::ProviderId(1)));
    let mut bad = token.clone().into_bytes();
    let at = input.len() + 20;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert_eq!(token_error_on(&mut e, &bad), E::BadSignature);
}

fn token_error_on(e: &mut Engine, token: &str) -> E {
    match denied(e.evaluate(&testkit::request("GET", "/", Some(token)), NOW)).kind {
        DenialKind::InvalidToken(err) => err,
        other => panic!("{other:?}"),
    }
}
