//! Every token check (README "What it checks, in this order"), through the engine on `GET /`
//! (any valid token).

use serde_json::{json, Value};

use super::*;
use crate::testkit::{self, TestKey, NOW};
use crate::TokenError as E;

#[test]
fn valid_tokens_of_every_algorithm_are_accepted() {
    for key in [TestKey::Es256, TestKey::EdDsa, TestKey::Rs256] {
        let a = allowed(check(&testkit::token(key, NOW)));
        assert_eq!(a.provider, Some(crate::ProviderId(0)), "{key:?}");
        assert!(a
            .set_headers
            .contains(&("x-user-id".to_owned(), "user-1".to_owned())));
    }
    let a = allowed(check(&testkit::token(TestKey::PartnerEs256, NOW)));
    assert_eq!(a.provider, Some(crate::ProviderId(1)));
}

#[test]
fn expiry_with_skew() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), (NOW - 31).into());
    });
    assert_eq!(token_error(&t), E::Expired);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), (NOW - 29).into());
    });
    allowed(check(&t));
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), (NOW - 30).into());
    });
    assert_eq!(token_error(&t), E::Expired, "now == exp + skew is expired");
}

#[test]
fn exp_is_required() {
    let t = with_claims(TestKey::Es256, |c| {
        c.remove("exp");
    });
    assert_eq!(token_error(&t), E::MissingExp);
}

#[test]
fn nbf_in_future() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("nbf".into(), (NOW + 31).into());
    });
    assert_eq!(token_error(&t), E::NotYetValid);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("nbf".into(), (NOW + 30).into());
    });
    allowed(check(&t));
}

#[test]
fn iat_in_future_and_required() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("iat".into(), (NOW + 31).into());
        c.insert("exp".into(), (NOW + 300).into());
    });
    assert_eq!(token_error(&t), E::IssuedInFuture);
    let t = with_claims(TestKey::Es256, |c| {
        c.remove("iat");
    });
    assert_eq!(token_error(&t), E::MissingIssuedAt);
}

#[test]
fn lifetime_cap_is_exp_minus_iat() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("iat".into(), (NOW - 60).into());
        c.insert("exp".into(), (NOW + 841).into());
    });
    assert_eq!(token_error(&t), E::LifetimeTooLong);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("iat".into(), (NOW - 60).into());
        c.insert("exp".into(), (NOW + 840).into());
    });
    allowed(check(&t));
}

#[test]
fn wrong_or_missing_issuer() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("iss".into(), "https://evil.example".into());
    });
    assert_eq!(token_error(&t), E::UnknownIssuer);
    let t = with_claims(TestKey::Es256, |c| {
        c.remove("iss");
    });
    assert_eq!(token_error(&t), E::UnknownIssuer);
    // idsvr's key, partner's issuer: the partner provider has no such kid.
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("iss".into(), testkit::PARTNER_ISSUER.into());
    });
    assert_eq!(token_error(&t), E::UnknownKeyId);
}

#[test]
fn audience_string_array_wrong_missing() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("aud".into(), "other-api".into());
    });
    assert_eq!(token_error(&t), E::WrongAudience);
    let t = with_claims(TestKey::Es256, |c| {
        c.remove("aud");
    });
    assert_eq!(token_error(&t), E::WrongAudience);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("aud".into(), json!(["x", testkit::AUDIENCE]));
    });
    allowed(check(&t));
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("aud".into(), json!(["x", "y"]));
    });
    assert_eq!(token_error(&t), E::WrongAudience);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("aud".into(), json!([1]));
    });
    assert_eq!(token_error(&t), E::BadPayload);
}

#[test]
fn alg_none_is_rejected() {
    let h = b64(br#"{"alg":"none","typ":"at+jwt"}"#);
    let p = b64(Value::Object(testkit::claims(NOW)).to_string().as_bytes());
    assert_eq!(token_error(&format!("{h}.{p}.")), E::Malformed);
    assert_eq!(
        token_error(&format!("{h}.{p}.AAAA")),
        E::AlgorithmNotAllowed
    );
    let h = b64(br#"{"alg":"none","typ":"at+jwt","kid":"es256-1"}"#);
    assert_eq!(
        token_error(&format!("{h}.{p}.AAAA")),
        E::AlgorithmNotAllowed
    );
}

#[test]
fn hmac_with_public_key_as_secret_is_rejected() {
    // Classic confusion: HS256 keyed with the public key the verifier knows.
    let jwk = TestKey::Es256.public_jwk().to_string();
    for kid in [Some("es256-1"), None] {
        let mut h = json!({"alg": "HS256", "typ": "at+jwt"});
        if let Some(k) = kid {
            h["kid"] = k.into();
        }
        let input = format!(
            "{}.{}",
            b64(h.to_string().as_bytes()),
            b64(Value::Object(testkit::claims(NOW)).to_string().as_bytes())
        );
        let mac = hmac_sha256::HMAC::mac(input.as_bytes(), jwk.as_bytes());
        assert_eq!(
            token_error(&format!("{input}.{}", b64(&mac))),
            E::AlgorithmNotAllowed
        );
    }
}

#[test]
fn algorithm_must_match_the_key_and_be_allowed() {
    // Header says ES256 but names the Ed25519 key.
    let t = with_header(TestKey::EdDsa, |h| {
        h.insert("alg".into(), "ES256".into());
    });
    assert_eq!(token_error(&t), E::AlgorithmNotAllowed);
    // Key exists but provider only allows ES256.
    let mut cfg = testkit::config();
    cfg["providers"][0]["algorithms"] = json!(["ES256"]);
    let mut e = engine_with(cfg);
    let d = denied(eval_at(
        &mut e,
        "GET",
        "/",
        Some(&testkit::token(TestKey::EdDsa, NOW)),
        NOW,
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::AlgorithmNotAllowed));
    assert_eq!(d.provider, Some(crate::ProviderId(0)));
}

#[test]
fn unknown_kid() {
    assert_eq!(
        token_error(&testkit::token(TestKey::Rogue, NOW)),
        E::UnknownKeyId
    );
}

#[test]
fn tampered_payload_fails_signature() {
    let t = testkit::token(TestKey::Es256, NOW);
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = testkit::claims(NOW);
    c.insert("scope".into(), "orders:admin".into());
    let forged = b64(Value::Object(c).to_string().as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(token_error(&tampered), E::BadSignature);
    // Signature of one valid token on another.
    let other = testkit::token(TestKey::Es256, NOW + 1);
    let sig = other.rsplit('.').next().unwrap();
    assert_eq!(
        token_error(&format!("{}.{}.{sig}", parts[0], parts[1])),
        E::BadSignature
    );
    // Same for RSA and EdDSA.
    for key in [TestKey::Rs256, TestKey::EdDsa] {
        let t = testkit::token(key, NOW);
        let p: Vec<&str> = t.split('.').collect();
        assert_eq!(
            token_error(&format!("{}.{}.{}", p[0], forged, p[2])),
            E::BadSignature
        );
    }
}

#[test]
fn typ_checks() {
    let t = with_header(TestKey::Es256, |h| {
        h.insert("typ".into(), "JWT".into());
    });
    assert_eq!(token_error(&t), E::WrongType);
    let t = with_header(TestKey::Es256, |h| {
        h.remove("typ");
    });
    assert_eq!(token_error(&t), E::WrongType);
    for ok in ["AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
        let t = with_header(TestKey::Es256, |h| {
            h.insert("typ".into(), ok.into());
        });
        allowed(check(&t));
    }
    let t = with_header(TestKey::Es256, |h| {
        h.insert("typ".into(), 1.into());
    });
    assert_eq!(token_error(&t), E::BadHeader);
}

#[test]
fn typ_jwt_accepted_when_configured_and_missing_typ_when_allowed() {
    let mut cfg = testkit::config();
    cfg["providers"][0]["token_types"] = json!(["JWT"]);
    let mut e = engine_with(cfg);
    let jwt = with_header(TestKey::Es256, |h| {
        h.insert("typ".into(), "jwt".into());
    });
    allowed(eval_at(&mut e, "GET", "/", Some(&jwt), NOW));
    let at = testkit::token(TestKey::Es256, NOW);
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/", Some(&at), NOW)).kind,
        DenialKind::InvalidToken(E::WrongType)
    );
    let none = with_header(TestKey::Es256, |h| {
        h.remove("typ");
    });
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/", Some(&none), NOW)).kind,
        DenialKind::InvalidToken(E::WrongType)
    );
    let mut cfg = testkit::config();
    cfg["providers"][0]["allow_missing_typ"] = json!(true);
    let mut e = engine_with(cfg);
    allowed(eval_at(&mut e, "GET", "/", Some(&none), NOW));
}

#[test]
fn crit_and_embedded_keys() {
    let t = with_header(TestKey::Es256, |h| {
        h.insert("crit".into(), json!(["exp"]));
        h.insert("exp".into(), json!(1));
    });
    assert_eq!(token_error(&t), E::CriticalHeader);
    let t = with_header(TestKey::Es256, |h| {
        h.insert("crit".into(), json!([]));
    });
    assert_eq!(token_error(&t), E::CriticalHeader);
    let t = with_header(TestKey::Rogue, |h| {
        h.insert("jwk".into(), TestKey::Rogue.public_jwk());
    });
    assert_eq!(token_error(&t), E::BadHeader);
    // jku / x5u are never followed: the configured key decides.
    let t = with_header(TestKey::Rogue, |h| {
        h.insert("jku".into(), "https://evil.example/jwks".into());
        h.insert("x5u".into(), "https://evil.example/cert".into());
    });
    assert_eq!(token_error(&t), E::UnknownKeyId);
    let t = with_header(TestKey::Es256, |h| {
        h.insert("jku".into(), "https://evil.example/jwks".into());
    });
    allowed(check(&t));
}

#[test]
fn key_without_kid() {
    // idsvr has exactly one EdDSA key: accepted without kid.
    let t = with_header(TestKey::EdDsa, |h| {
        h.remove("kid");
    });
    allowed(check(&t));
    // Two ES256 keys and no kid: ambiguous.
    let mut cfg = testkit::config();
    cfg["providers"][0]["jwks"]["inline"] = testkit::jwks(&[TestKey::Es256, TestKey::PartnerEs256]);
    cfg["providers"][0]["algorithms"] = json!(["ES256"]);
    cfg["providers"].as_array_mut().unwrap().truncate(1);
    cfg["rules"] = json!([{"match": {"prefix": "/"}}]);
    let mut e = engine_with(cfg);
    let t = with_header(TestKey::Es256, |h| {
        h.remove("kid");
    });
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/", Some(&t), NOW)).kind,
        DenialKind::InvalidToken(E::AmbiguousKey)
    );
    // No kid and no key for the algorithm.
    let t = with_header(TestKey::Rogue, |h| {
        h.remove("kid");
    });
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/", Some(&t), NOW)).kind,
        DenialKind::InvalidToken(E::AlgorithmNotAllowed)
    );
}

#[test]
fn malformed_segments() {
    let t = testkit::token(TestKey::Es256, NOW);
    let p: Vec<&str> = t.split('.').collect();
    for bad in [
        format!("{}.{}", p[0], p[1]),
        format!("{}.{}.{}.{}", p[0], p[1], p[2], p[2]),
        format!("{}..{}", p[0], p[2]),
        format!(".{}.{}", p[1], p[2]),
        format!("{}.{}.{}=", p[0], p[1], p[2]),
        format!("{}.{}+.{}", p[0], p[1], p[2]),
        format!("{}/.{}.{}", p[0], p[1], p[2]),
    ] {
        assert_eq!(token_error(&bad), E::Malformed, "{bad}");
    }
    // A header segment of impossible base64url length.
    assert_eq!(token_error(&format!("A.{}.{}", p[1], p[2])), E::BadEncoding);
    // Payload undecodable.
    assert_eq!(token_error(&format!("{}.A.{}", p[0], p[2])), E::BadPayload);
}

#[test]
fn oversize_token() {
    let big = with_claims(TestKey::Es256, |c| {
        c.insert("pad".into(), "x".repeat(9000).into());
    });
    assert!(big.len() > 8192);
    assert_eq!(token_error(&big), E::TooLarge);
    // Raising the cap accepts it.
    let mut cfg = testkit::config();
    cfg["max_token_bytes"] = json!(16384);
    allowed(eval_at(&mut engine_with(cfg), "GET", "/", Some(&big), NOW));
}

#[test]
fn numeric_dates_must_be_numbers() {
    for claim in ["exp", "nbf", "iat"] {
        let t = with_claims(TestKey::Es256, |c| {
            c.insert(claim.into(), (NOW + 10).to_string().into());
        });
        assert_eq!(token_error(&t), E::InvalidDate, "{claim} as string");
        let t = with_claims(TestKey::Es256, |c| {
            c.insert(claim.into(), json!(-5));
        });
        assert_eq!(token_error(&t), E::InvalidDate, "{claim} negative");
    }
    // Non-integer NumericDate is allowed (RFC 7519).
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), json!((NOW + 100) as f64 + 0.5));
    });
    allowed(check(&t));
    // Astronomical exp: caught by the lifetime cap, no overflow.
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), json!(1e300));
    });
    assert_eq!(token_error(&t), E::LifetimeTooLong);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("exp".into(), json!(u64::MAX));
    });
    assert_eq!(token_error(&t), E::LifetimeTooLong);
}

#[test]
fn registered_claim_types() {
    for (claim, v) in [
        ("iss", json!(1)),
        ("sub", json!(2)),
        ("jti", json!([])),
        ("nonce", json!({})),
    ] {
        let t = with_claims(TestKey::Es256, |c| {
            c.insert(claim.into(), v);
        });
        assert_eq!(token_error(&t), E::BadPayload, "{claim}");
    }
}

#[test]
fn duplicate_members_rejected() {
    let h = br#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","kid":"es256-1"}"#;
    let c = Value::Object(testkit::claims(NOW)).to_string();
    assert_eq!(
        token_error(&testkit::mint_bytes(TestKey::Es256, h, c.as_bytes())),
        E::BadHeader
    );
    let dup = c.replacen('{', &format!("{{\"exp\":{},", NOW + 9999), 1);
    let h = Value::Object(testkit::header(TestKey::Es256)).to_string();
    assert_eq!(
        token_error(&testkit::mint_bytes(
            TestKey::Es256,
            h.as_bytes(),
            dup.as_bytes()
        )),
        E::BadPayload
    );
}

#[test]
fn scope_claim_types() {
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("scope".into(), json!(["orders:read"]));
    });
    assert_eq!(token_error(&t), E::BadScopeClaim);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("scp".into(), json!(["ok", 1]));
    });
    assert_eq!(token_error(&t), E::BadScopeClaim);
    let t = with_claims(TestKey::Es256, |c| {
        c.insert("scp".into(), json!(7));
    });
    assert_eq!(token_error(&t), E::BadScopeClaim);
}

#[test]
fn validate_directly_reports_provider_index() {
    use crate::config::Config;
    use crate::token::{validate, Failure, ProviderView};
    let cfg = Config::from_json(testkit::config().to_string().as_bytes()).unwrap();
    let keys: Vec<_> = cfg
        .providers
        .iter()
        .map(|p| p.initial_keys.clone())
        .collect();
    let verifiers = crate::signature::Verifiers::pure();
    let view = ProviderView {
        providers: &cfg.providers,
        keys: &keys,
        verifiers: &verifiers,
    };
    let v = validate(
        &testkit::token(TestKey::PartnerEs256, NOW),
        8192,
        &view,
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(v.provider, crate::ProviderId(1));
    assert_eq!(v.exp, NOW + 240);
    assert_eq!(
        v.scopes,
        vec!["orders:read".to_owned(), "orders:write".to_owned()]
    );
    let r = validate(&testkit::token(TestKey::Rogue, NOW), 8192, &view, None, NOW).unwrap_err();
    assert_eq!(r.failure, Failure::Token(E::UnknownKeyId));
    assert_eq!(r.provider, Some(crate::ProviderId(0)));
    let r = validate(
        &testkit::token(TestKey::Es256, NOW),
        8192,
        &view,
        Some(&[crate::ProviderId(1)]),
        NOW,
    )
    .unwrap_err();
    assert_eq!(r.failure, Failure::Token(E::ProviderNotAllowed));
}

#[test]
fn display_never_contains_token_material() {
    let t = testkit::token(TestKey::Es256, NOW);
    for e in super::response_tests::all_token_errors() {
        let s = e.to_string();
        assert!(!s.is_empty());
        assert!(!s.contains('"') && !s.contains('\\'), "{s}");
        for part in t.split('.') {
            assert!(!s.contains(part));
        }
    }
}

#[test]
fn required_claims() {
    let mut cfg = testkit::config();
    cfg["providers"][0]["required_claims"] =
        json!({"azp": ["mobile-app", "web-app"], "client_id": "app-1"});
    let mut e = engine_with(cfg);
    let ok = with_claims(TestKey::Es256, |c| {
        c.insert("azp".into(), "web-app".into());
    });
    allowed(eval_at(&mut e, "GET", "/", Some(&ok), NOW));
    let arr = with_claims(TestKey::Es256, |c| {
        c.insert("azp".into(), json!(["x", "mobile-app"]));
    });
    allowed(eval_at(&mut e, "GET", "/", Some(&arr), NOW));
    for bad in [
        json!("other"),
        json!(["x"]),
        json!(1),
        json!("mobile-app-2"),
    ] {
        let t = with_claims(TestKey::Es256, |c| {
            c.insert("azp".into(), bad.clone());
        });
        assert_eq!(
            denied(eval_at(&mut e, "GET", "/", Some(&t), NOW)).kind,
            DenialKind::InvalidToken(E::ClaimMismatch),
            "{bad}"
        );
    }
    let missing = testkit::token(TestKey::Es256, NOW);
    assert_eq!(
        denied(eval_at(&mut e, "GET", "/", Some(&missing), NOW)).kind,
        DenialKind::InvalidToken(E::ClaimMismatch)
    );
}

/// Sign with jwt-simple itself (an independent minter) for ES384 and PS256.
fn jwt_simple_token(
    sign: impl FnOnce(JWTClaims<serde_json::Map<String, Value>>, &HeaderOptions) -> String,
) -> String {
    let claims = JWTClaims {
        issued_at: None,
        expires_at: None,
        invalid_before: None,
        issuer: None,
        subject: None,
        audiences: None,
        jwt_id: None,
        nonce: None,
        custom: testkit::claims(NOW),
    };
    let opts = HeaderOptions {
        signature_type: Some("at+jwt".into()),
        content_type: None,
    };
    sign(claims, &opts)
}

use jwt_simple::prelude::*;

#[test]
fn es384_and_ps256_end_to_end() {
    let es384 = ES384KeyPair::from_bytes(&[0x33u8; 48])
        .unwrap()
        .with_key_id("es384-1");
    let ps256 = PS256KeyPair::from_pem(include_str!(
        "../../tests/fixtures/test-only-rs256-2048.pem"
    ))
    .unwrap()
    .with_key_id("ps256-1");
    let jwk_es384: Value =
        serde_json::from_str(&es384.public_key().with_key_id("es384-1").to_jwk()).unwrap();
    let jwk_ps256: Value =
        serde_json::from_str(&ps256.public_key().with_key_id("ps256-1").to_jwk()).unwrap();
    assert_eq!(jwk_ps256["alg"], "PS256");
    let mut cfg = testkit::config();
    cfg["providers"][0]["jwks"]["inline"] = json!({"keys": [jwk_es384, jwk_ps256]});
    cfg["providers"][0]["algorithms"] = json!(["ES384", "PS256"]);
    let mut e = engine_with(cfg);
    let t384 = jwt_simple_token(|c, o| es384.sign_with_options(c, o).unwrap());
    let tps = jwt_simple_token(|c, o| ps256.sign_with_options(c, o).unwrap());
    allowed(eval_at(&mut e, "GET", "/", Some(&t384), NOW));
    allowed(eval_at(&mut e, "GET", "/", Some(&tps), NOW));
    // A PS256 signature presented as RS256 with the same kid: algorithm mismatch.
    let parts: Vec<&str> = tps.split('.').collect();
    let rs_header = b64(br#"{"alg":"RS256","typ":"at+jwt","kid":"ps256-1"}"#);
    assert_eq!(
        denied(eval_at(
            &mut e,
            "GET",
            "/",
            Some(&format!("{rs_header}.{}.{}", parts[1], parts[2])),
            NOW
        ))
        .kind,
        DenialKind::InvalidToken(E::AlgorithmNotAllowed)
    );
}

#[test]
fn unknown_header_members_are_ignored() {
    let t = with_header(TestKey::Es256, |h| {
        h.insert("x-custom".into(), json!({"nested": [1, 2]}));
        h.insert("x5t".into(), "abc".into());
    });
    allowed(check(&t));
}
