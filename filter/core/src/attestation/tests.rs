//! Client attestation: every check of the module documentation, asserting its exact variant,
//! at the token-endpoint gate and at an API rule, plus the answers and the challenge endpoint.
//! Attestations and proofs are signed with the test keys of [`crate::testkit`] (`p256`,
//! `ed25519-compact` and `jwt-simple` from the registry).

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Map, Value};

use super::{AttestationError as E, BodyError};
use crate::dpop::{self, ProofError};
use crate::environment::InMemory;
use crate::testkit::{self, TestKey, NOW};
use crate::{Denial, DenialKind, Engine, Evaluation, Outcome};

/// Every variant, once (a new variant fails to compile in `every_variant_is_listed`).
pub(crate) fn all_errors() -> Vec<E> {
    let mut v = vec![
        E::Missing,
        E::Multiple,
        E::Malformed,
        E::BadHeader,
        E::WrongType,
        E::AlgorithmNotAllowed,
        E::UnknownKey,
        E::BadSignature,
        E::BadPayload,
        E::WrongIssuer,
        E::MissingExp,
        E::Expired,
        E::MissingIat,
        E::IssuedInFuture,
        E::Stale,
        E::MissingKey,
        E::PrivateKey,
        E::BadKey,
        E::PopMissing,
        E::MultiplePops,
        E::PopMethodNotAllowed,
        E::PopMalformed,
        E::PopBadHeader,
        E::PopWrongType,
        E::PopAlgorithmNotAllowed,
        E::PopKeyMismatch,
        E::PopBadSignature,
        E::PopBadPayload,
        E::PopWrongAudience,
        E::PopStale,
        E::PopIssuedInFuture,
        E::PopReplayed,
        E::DpopProof(ProofError::Stale),
        E::ChallengeMissing,
        E::ChallengeInvalid,
        E::ClientMismatch,
    ];
    v.extend(
        [
            BodyError::TooLarge,
            BodyError::ContentEncoding,
            BodyError::ContentType,
            BodyError::ParameterInQuery,
            BodyError::Malformed,
            BodyError::AmbiguousName,
            BodyError::Repeated,
            BodyError::MissingGrantType,
            BodyError::NotRead,
        ]
        .map(E::Body),
    );
    v
}

#[test]
fn every_variant_is_listed() {
    for e in all_errors() {
        // Exhaustive: a new variant must be added to `all_errors`.
        match e {
            E::Body(_)
            | E::Missing
            | E::Multiple
            | E::Malformed
            | E::BadHeader
            | E::WrongType
            | E::AlgorithmNotAllowed
            | E::UnknownKey
            | E::BadSignature
            | E::BadPayload
            | E::WrongIssuer
            | E::MissingExp
            | E::Expired
            | E::MissingIat
            | E::IssuedInFuture
            | E::Stale
            | E::MissingKey
            | E::PrivateKey
            | E::BadKey
            | E::PopMissing
            | E::MultiplePops
            | E::PopMethodNotAllowed
            | E::PopMalformed
            | E::PopBadHeader
            | E::PopWrongType
            | E::PopAlgorithmNotAllowed
            | E::PopKeyMismatch
            | E::PopBadSignature
            | E::PopBadPayload
            | E::PopWrongAudience
            | E::PopStale
            | E::PopIssuedInFuture
            | E::PopReplayed
            | E::DpopProof(_)
            | E::ChallengeMissing
            | E::ChallengeInvalid
            | E::ClientMismatch => {}
        }
        assert!(crate::ALL_REASONS.contains(&e.reason()), "{}", e.reason());
    }
    // One reason per variant.
    let reasons: std::collections::HashSet<&str> = all_errors().iter().map(E::reason).collect();
    assert_eq!(reasons.len(), all_errors().len());
}

const ATTESTER: TestKey = TestKey::PartnerEs256;
const INSTANCE: TestKey = TestKey::Rogue;
const OTHER_INSTANCE: TestKey = TestKey::EdDsa;
const ATTESTER_ISSUER: &str = "https://attester.example.test";
const AS: &str = "https://login.example.test";
const API: &str = "https://api.example.test";
const SECRET: &str = "c2VjcmV0LXdpdGgtYXQtbGVhc3QtMzItYnl0ZXMtb2YtZW50cm9weQ";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// The public JWK of `key` as `cnf.jwk` / a DPoP header carries it.
fn jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn config(challenges: bool, rule: Value) -> Value {
    let mut cfg = testkit::config();
    let mut top = json!({
        "attesters": [{
            "name": "app-attester", "issuer": ATTESTER_ISSUER,
            "jwks": { "inline": testkit::jwks(&[ATTESTER]) }, "algorithms": ["ES256"]
        }],
        "max_age_seconds": 86400, "pop_max_age_seconds": 300, "clock_skew_seconds": 30
    });
    if challenges {
        top["challenges"] = json!({ "secret": SECRET, "endpoint": "/attestation/challenge", "lifetime_seconds": 300 });
    }
    cfg["client_attestation"] = top;
    let rules = cfg["rules"].as_array_mut().unwrap();
    rules.insert(0, rule);
    rules.insert(
        1,
        json!({ "match": { "prefix": "/attested" }, "client_attestation": { "audience": API } }),
    );
    cfg
}

fn gate() -> Value {
    json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
            "client_attestation": { "audience": AS, "grant_types": ["refresh_token"] } })
}

fn engine(challenges: bool) -> Engine {
    engine_for(challenges, gate())
}

fn engine_for(challenges: bool, rule: Value) -> Engine {
    Engine::from_json(
        config(challenges, rule).to_string().as_bytes(),
        crate::CacheSecret([1, 2]),
    )
    .unwrap()
}

fn attestation_claims() -> Map<String, Value> {
    obj(json!({
        "iss": ATTESTER_ISSUER, "sub": "app-1", "iat": NOW - 10, "exp": NOW + 3600,
        "cnf": { "jwk": jwk(INSTANCE) }
    }))
}

fn attestation_header() -> Map<String, Value> {
    obj(json!({ "typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": ATTESTER.kid() }))
}

fn attestation_with(edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
    let (mut h, mut c) = (attestation_header(), attestation_claims());
    edit(&mut h, &mut c);
    testkit::mint(ATTESTER, &h, &c)
}

fn attestation() -> String {
    attestation_with(|_, _| {})
}

fn pop_claims(aud: &str, jti: &str) -> Map<String, Value> {
    obj(json!({ "aud": aud, "jti": jti, "iat": NOW }))
}

fn pop_header() -> Map<String, Value> {
    obj(json!({ "typ": "oauth-client-attestation-pop+jwt", "alg": "EdDSA" }))
}

fn pop_with(edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
    let (mut h, mut c) = (pop_header(), pop_claims(AS, "pop-1"));
    edit(&mut h, &mut c);
    testkit::mint(INSTANCE, &h, &c)
}

fn pop() -> String {
    pop_with(|_, _| {})
}

fn token_request(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_owned(), "POST".to_owned()),
        (":path".to_owned(), "/oauth/token".to_owned()),
        (":authority".to_owned(), "login.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

const REFRESH: &[u8] = b"grant_type=refresh_token&refresh_token=rt-1&client_id=app-1";

fn run(
    e: &mut Engine,
    env: &mut InMemory,
    headers: &[(String, String)],
    body: &[u8],
) -> Evaluation {
    e.evaluate_body_in(headers, Some(body), env, NOW)
}

fn denial(ev: Evaluation) -> Denial {
    match ev.outcome {
        Outcome::Deny(d) => d,
        other => panic!("expected Deny, got {other:?}"),
    }
}

fn error(ev: Evaluation) -> E {
    match denial(ev).kind {
        DenialKind::ClientAttestation(a) => a.error,
        other => panic!("expected ClientAttestation, got {other:?}"),
    }
}

fn allowed(ev: &Evaluation) {
    assert!(matches!(ev.outcome, Outcome::Allow(_)), "{:?}", ev.outcome);
}

/// The error of a refresh grant carrying `attestation` and `pop`.
fn gate_error(attestation: &str, pop: &str) -> E {
    let mut e = engine(false);
    let h = token_request(&[
        ("oauth-client-attestation", attestation),
        ("oauth-client-attestation-pop", pop),
    ]);
    error(run(&mut e, &mut InMemory::new(None, 1024), &h, REFRESH))
}

#[test]
fn an_attested_refresh_passes_once() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let (a, p) = (attestation(), pop());
    let h = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    let ev = run(&mut e, &mut env, &h, REFRESH);
    allowed(&ev);
    assert_eq!(env.remembered(), 1);
    // The same PoP again: replayed.
    assert_eq!(error(run(&mut e, &mut env, &h, REFRESH)), E::PopReplayed);
    // A fresh PoP passes.
    let p2 = pop_with(|_, c| {
        c.insert("jti".into(), "pop-2".into());
    });
    let h2 = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p2),
    ]);
    allowed(&run(&mut e, &mut env, &h2, REFRESH));
}

#[test]
fn other_grants_and_the_attestation_free_request_pass_untouched() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let h = token_request(&[]);
    allowed(&run(
        &mut e,
        &mut env,
        &h,
        b"grant_type=authorization_code&code=c",
    ));
    allowed(&run(&mut e, &mut env, &h, b"grant_type=client_credentials"));
    // A refresh grant without attestation is refused before anything else.
    assert_eq!(error(run(&mut e, &mut env, &h, REFRESH)), E::Missing);
    // Percent-encoded, it is still a refresh grant.
    assert_eq!(
        error(run(&mut e, &mut env, &h, b"grant_type=refresh%5Ftoken")),
        E::Missing
    );
    // A gated route decided without its body is refused.
    let ev = e.evaluate_in(&h, &mut env, NOW);
    assert_eq!(error(ev), E::Body(BodyError::NotRead));
    assert_eq!(env.remembered(), 0);
}

#[test]
fn body_rules_come_before_the_attestation() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let (a, p) = (attestation(), pop());
    let with = |extra: &[(&str, &str)]| {
        let mut h = token_request(&[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", &p),
        ]);
        h.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        h
    };
    type Case = (Vec<(String, String)>, Vec<u8>, BodyError);
    let cases: Vec<Case> = vec![
        (
            with(&[("content-encoding", "gzip")]),
            REFRESH.to_vec(),
            BodyError::ContentEncoding,
        ),
        (
            with(&[])
                .into_iter()
                .map(|(n, v)| {
                    if n == "content-type" {
                        (n, "application/json".into())
                    } else {
                        (n, v)
                    }
                })
                .collect(),
            REFRESH.to_vec(),
            BodyError::ContentType,
        ),
        (
            with(&[]),
            b"grant_type=refresh_token&grant_type=refresh_token".to_vec(),
            BodyError::Repeated,
        ),
        (
            with(&[]),
            b"grant_type=refresh_token&client_id=a&client_id=b".to_vec(),
            BodyError::Repeated,
        ),
        (with(&[]), vec![b'a'; 16_385], BodyError::TooLarge),
        (
            with(&[]),
            b"grant_type=refresh_token;x=1".to_vec(),
            BodyError::Malformed,
        ),
        (
            with(&[]),
            b"client_id=app-1".to_vec(),
            BodyError::MissingGrantType,
        ),
    ];
    for (h, body, want) in cases {
        let d = denial(run(&mut e, &mut env, &h, &body));
        assert_eq!(
            d.kind,
            DenialKind::ClientAttestation(super::AttestationDenial {
                error: E::Body(want),
                place: super::Place::TokenEndpoint,
                challenge: None
            })
        );
        let r = d.response("tollgate-test");
        assert_eq!(
            r.status,
            if want == BodyError::TooLarge {
                413
            } else {
                400
            }
        );
        let json: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(json["error"], "invalid_request");
    }
    // In the query string of a gated request.
    let mut h = with(&[]);
    h[1].1 = "/oauth/token?client_id=app-1".into();
    assert_eq!(
        error(run(&mut e, &mut env, &h, REFRESH)),
        E::Body(BodyError::ParameterInQuery)
    );
    assert_eq!(env.remembered(), 0);
}

#[test]
fn the_attestation_checks_in_order() {
    let good_pop = pop();
    let cases: Vec<(String, E)> = vec![
        ("a.b".into(), E::Malformed),
        ("a.b.c.d".into(), E::Malformed),
        (format!("{} x", attestation()), E::Malformed),
        ("x".repeat(20_000), E::Malformed),
        (
            attestation_with(|h, _| {
                h.insert("crit".into(), json!(["exp"]));
            }),
            E::BadHeader,
        ),
        (
            attestation_with(|h, _| {
                h.insert("typ".into(), "jwt".into());
            }),
            E::WrongType,
        ),
        (
            attestation_with(|h, _| {
                h.remove("typ");
            }),
            E::WrongType,
        ),
        (
            attestation_with(|h, _| {
                h.insert("alg".into(), "none".into());
            }),
            E::AlgorithmNotAllowed,
        ),
        (
            attestation_with(|h, _| {
                h.insert("alg".into(), "HS256".into());
            }),
            E::AlgorithmNotAllowed,
        ),
        (
            attestation_with(|h, _| {
                h.insert("alg".into(), "RS256".into());
            }),
            E::AlgorithmNotAllowed,
        ),
        (
            attestation_with(|h, _| {
                h.insert("kid".into(), "nope".into());
            }),
            E::UnknownKey,
        ),
        (
            attestation_with(|_, c| {
                c.insert("iss".into(), "https://evil.example".into());
            }),
            E::WrongIssuer,
        ),
        (
            attestation_with(|_, c| {
                c.remove("iss");
            }),
            E::WrongIssuer,
        ),
        (
            attestation_with(|_, c| {
                c.remove("sub");
            }),
            E::BadPayload,
        ),
        (
            attestation_with(|_, c| {
                c.insert("sub".into(), "".into());
            }),
            E::BadPayload,
        ),
        (
            attestation_with(|_, c| {
                c.remove("exp");
            }),
            E::MissingExp,
        ),
        (
            attestation_with(|_, c| {
                c.insert("exp".into(), "soon".into());
            }),
            E::BadPayload,
        ),
        (
            attestation_with(|_, c| {
                c.remove("iat");
            }),
            E::MissingIat,
        ),
        (
            attestation_with(|_, c| {
                c.insert("exp".into(), json!(NOW - 31));
            }),
            E::Expired,
        ),
        (
            attestation_with(|_, c| {
                c.insert("iat".into(), json!(NOW + 31));
            }),
            E::IssuedInFuture,
        ),
        (
            attestation_with(|_, c| {
                c.insert("iat".into(), json!(NOW - 86_400 - 31));
            }),
            E::Stale,
        ),
        (
            attestation_with(|_, c| {
                c.remove("cnf");
            }),
            E::MissingKey,
        ),
        (
            attestation_with(|_, c| {
                c.insert("cnf".into(), json!({ "jkt": "x" }));
            }),
            E::MissingKey,
        ),
        (
            attestation_with(|_, c| {
                let mut k = jwk(INSTANCE);
                k["d"] = json!(b64(&[9u8; 32]));
                c.insert("cnf".into(), json!({ "jwk": k }));
            }),
            E::PrivateKey,
        ),
        (
            attestation_with(|_, c| {
                c.insert("cnf".into(), json!({ "jwk": { "kty": "oct", "x": "AA" } }));
            }),
            E::BadKey,
        ),
    ];
    for (attestation, want) in cases {
        assert_eq!(gate_error(&attestation, &good_pop), want, "{want:?}");
    }
    // Signed by another key under the attester's kid.
    let h = testkit::mint(TestKey::Es256, &attestation_header(), &attestation_claims());
    assert_eq!(gate_error(&h, &good_pop), E::BadSignature);
    // A changed claim after signing.
    let good = attestation();
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut claims = attestation_claims();
    claims.insert("sub".into(), "app-2".into());
    let forged = b64(Value::Object(claims).to_string().as_bytes());
    parts[1] = &forged;
    assert_eq!(gate_error(&parts.join("."), &good_pop), E::BadSignature);
    // Without iat its age cannot be checked: refused, as the reference server does.
    let no_iat = attestation_with(|_, c| {
        c.remove("iat");
    });
    assert_eq!(gate_error(&no_iat, &good_pop), E::MissingIat);
}

#[test]
fn exactly_one_attestation_and_one_pop() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let (a, p) = (attestation(), pop());
    let two = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    assert_eq!(error(run(&mut e, &mut env, &two, REFRESH)), E::Multiple);
    let two_pops = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
        ("oauth-client-attestation-pop", &p),
    ]);
    assert_eq!(
        error(run(&mut e, &mut env, &two_pops, REFRESH)),
        E::MultiplePops
    );
    let none = token_request(&[("oauth-client-attestation", &a)]);
    assert_eq!(error(run(&mut e, &mut env, &none, REFRESH)), E::PopMissing);
}

#[test]
fn the_pop_checks_in_order() {
    let a = attestation();
    let cases: Vec<(String, E)> = vec![
        ("a.b".into(), E::PopMalformed),
        (format!("{}.", pop()), E::PopMalformed),
        (
            pop_with(|h, _| {
                h.insert("crit".into(), json!(["x"]));
            }),
            E::PopBadHeader,
        ),
        (
            pop_with(|h, _| {
                h.insert("typ".into(), "dpop+jwt".into());
            }),
            E::PopWrongType,
        ),
        (
            pop_with(|h, _| {
                h.insert("alg".into(), "none".into());
            }),
            E::PopAlgorithmNotAllowed,
        ),
        (
            pop_with(|h, _| {
                h.insert("alg".into(), "HS256".into());
            }),
            E::PopAlgorithmNotAllowed,
        ),
        (
            pop_with(|h, _| {
                h.insert("alg".into(), "ES256".into());
            }),
            E::PopKeyMismatch,
        ),
        (
            pop_with(|_, c| {
                c.remove("jti");
            }),
            E::PopBadPayload,
        ),
        (
            pop_with(|_, c| {
                c.insert("jti".into(), "".into());
            }),
            E::PopBadPayload,
        ),
        (
            pop_with(|_, c| {
                c.remove("iat");
            }),
            E::PopBadPayload,
        ),
        (
            pop_with(|_, c| {
                c.remove("aud");
            }),
            E::PopBadPayload,
        ),
        (
            pop_with(|_, c| {
                c.insert("aud".into(), API.into());
            }),
            E::PopWrongAudience,
        ),
        (
            pop_with(|_, c| {
                c.insert("aud".into(), json!([AS, API]));
            }),
            E::PopWrongAudience,
        ),
        (
            pop_with(|_, c| {
                c.insert("iat".into(), json!(NOW - 331));
            }),
            E::PopStale,
        ),
        (
            pop_with(|_, c| {
                c.insert("iat".into(), json!(NOW + 31));
            }),
            E::PopIssuedInFuture,
        ),
    ];
    for (p, want) in cases {
        assert_eq!(gate_error(&a, &p), want, "{want:?}");
    }
    // Signed by another instance key.
    let other = testkit::mint(OTHER_INSTANCE, &pop_header(), &pop_claims(AS, "x"));
    assert_eq!(gate_error(&a, &other), E::PopBadSignature);
    // `aud` as a one-element array is the audience.
    let mut e = engine(false);
    let arr = pop_with(|_, c| {
        c.insert("aud".into(), json!([AS]));
    });
    let h = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &arr),
    ]);
    allowed(&run(&mut e, &mut InMemory::new(None, 1024), &h, REFRESH));
}

#[test]
fn the_client_id_of_the_request_must_be_the_attested_client() {
    let (a, p) = (attestation(), pop());
    let mut e = engine(false);
    let h = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    let mut env = InMemory::new(None, 1024);
    assert_eq!(
        error(run(
            &mut e,
            &mut env,
            &h,
            b"grant_type=refresh_token&client_id=app-2"
        )),
        E::ClientMismatch
    );
    // Refused requests write nothing into the replay store.
    assert_eq!(env.remembered(), 0);
    allowed(&run(&mut e, &mut env, &h, b"grant_type=refresh_token"));
}

fn dpop_proof(key: TestKey, claims: Value) -> String {
    let header = obj(json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": jwk(key) }));
    testkit::mint(key, &header, &obj(claims))
}

fn proof_claims(jti: &str) -> Value {
    json!({ "jti": jti, "htm": "POST", "htu": format!("{AS}/oauth/token"), "iat": NOW })
}

#[test]
fn combined_mode_uses_the_dpop_proof_made_with_the_attested_key() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let a = attestation();
    let combined =
        |proof: &str| token_request(&[("oauth-client-attestation", &a), ("dpop", proof)]);
    let good = dpop_proof(INSTANCE, proof_claims("d-1"));
    allowed(&run(&mut e, &mut env, &combined(&good), REFRESH));
    assert_eq!(
        error(run(&mut e, &mut env, &combined(&good), REFRESH)),
        E::DpopProof(ProofError::Replayed)
    );
    let other_key = dpop_proof(OTHER_INSTANCE, proof_claims("d-2"));
    assert_eq!(
        error(run(&mut e, &mut env, &combined(&other_key), REFRESH)),
        E::PopKeyMismatch
    );
    let mut with_ath = proof_claims("d-3");
    with_ath["ath"] = json!(dpop::token_hash("rt-1"));
    assert_eq!(
        error(run(
            &mut e,
            &mut env,
            &combined(&dpop_proof(INSTANCE, with_ath)),
            REFRESH
        )),
        E::DpopProof(ProofError::WrongTokenHash)
    );
    let mut wrong_uri = proof_claims("d-4");
    wrong_uri["htu"] = json!("https://login.example.test/other");
    assert_eq!(
        error(run(
            &mut e,
            &mut env,
            &combined(&dpop_proof(INSTANCE, wrong_uri)),
            REFRESH
        )),
        E::DpopProof(ProofError::WrongUri)
    );
    let mut stale = proof_claims("d-5");
    stale["iat"] = json!(NOW - 331);
    assert_eq!(
        error(run(
            &mut e,
            &mut env,
            &combined(&dpop_proof(INSTANCE, stale)),
            REFRESH
        )),
        E::DpopProof(ProofError::Stale)
    );
    // A rule that accepts only the PoP JWT refuses combined mode, and the other way round.
    let only_jwt = json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
        "client_attestation": { "audience": AS, "grant_types": ["refresh_token"], "pop_methods": ["attestation_pop_jwt"] } });
    let mut e2 = engine_for(false, only_jwt);
    let fresh = dpop_proof(INSTANCE, proof_claims("d-6"));
    assert_eq!(
        error(run(&mut e2, &mut env, &combined(&fresh), REFRESH)),
        E::PopMethodNotAllowed
    );
    let only_dpop = json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
        "client_attestation": { "audience": AS, "grant_types": ["refresh_token"], "pop_methods": ["dpop_combined"] } });
    let mut e3 = engine_for(false, only_dpop);
    let p = pop();
    let h = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    assert_eq!(
        error(run(&mut e3, &mut env, &h, REFRESH)),
        E::PopMethodNotAllowed
    );
}

#[test]
fn challenges_are_required_when_on_and_refusals_carry_a_fresh_one() {
    let mut e = engine(true);
    let mut env = InMemory::new(None, 1024);
    let a = attestation();
    let key = e
        .config()
        .client_attestation
        .as_ref()
        .unwrap()
        .challenges
        .as_ref()
        .unwrap()
        .key
        .clone();
    let current = key.issue(NOW);
    let send = |e: &mut Engine, env: &mut InMemory, p: &str| {
        let h = token_request(&[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", p),
        ]);
        run(e, env, &h, REFRESH)
    };
    let d = denial(send(&mut e, &mut env, &pop()));
    let r = d.response("r");
    assert_eq!(r.status, 400);
    let json: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json["error"], "use_attestation_challenge");
    let fresh: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "oauth-client-attestation-challenge")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(fresh, vec![current.as_str()]);
    assert!(!r.headers.iter().any(|(n, _)| n == "www-authenticate"));
    // A challenge of another secret, and an expired one.
    let foreign = pop_with(|_, c| {
        c.insert("challenge".into(), "A".repeat(32).into());
    });
    assert_eq!(error(send(&mut e, &mut env, &foreign)), E::ChallengeInvalid);
    let old = key.issue(NOW - 1000);
    let expired = pop_with(|_, c| {
        c.insert("challenge".into(), old.clone().into());
    });
    assert_eq!(error(send(&mut e, &mut env, &expired)), E::ChallengeInvalid);
    let good = pop_with(|_, c| {
        c.insert("challenge".into(), current.clone().into());
    });
    allowed(&send(&mut e, &mut env, &good));
    // Combined mode: the proof's nonce.
    let mut claims = proof_claims("n-1");
    let h = |p: &str| token_request(&[("oauth-client-attestation", &a), ("dpop", p)]);
    assert_eq!(
        error(run(
            &mut e,
            &mut env,
            &h(&dpop_proof(INSTANCE, claims.clone())),
            REFRESH
        )),
        E::ChallengeMissing
    );
    claims["jti"] = json!("n-2");
    claims["nonce"] = json!(current);
    allowed(&run(
        &mut e,
        &mut env,
        &h(&dpop_proof(INSTANCE, claims)),
        REFRESH,
    ));
}

#[test]
fn token_endpoint_answers_are_rfc_6749_json() {
    let mut e = engine(false);
    let h = token_request(&[]);
    let r = denial(run(&mut e, &mut InMemory::new(None, 64), &h, REFRESH)).response("r");
    assert_eq!(r.status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({ "error": "invalid_client", "error_description": "the request carries no client attestation" })
    );
    assert!(r
        .headers
        .contains(&("content-type".into(), "application/json".into())));
    assert!(r
        .headers
        .contains(&("cache-control".into(), "no-store".into())));
    assert!(!r.headers.iter().any(|(n, _)| n == "www-authenticate"));
    let stale = attestation_with(|_, c| {
        c.insert("iat".into(), json!(NOW - 90_000));
    });
    let h = token_request(&[
        ("oauth-client-attestation", &stale),
        ("oauth-client-attestation-pop", &pop()),
    ]);
    let r = denial(run(&mut e, &mut InMemory::new(None, 64), &h, REFRESH)).response("r");
    assert_eq!(r.status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["error"],
        "use_fresh_attestation"
    );
}

fn api_request(token: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_owned(), "GET".to_owned()),
        (":path".to_owned(), "/attested/1".to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        ("authorization".to_owned(), format!("Bearer {token}")),
    ];
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

#[test]
fn an_api_rule_needs_an_attestation_of_the_token_client() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let token = testkit::token(TestKey::Es256, NOW);
    let a = attestation();
    let p = pop_with(|_, c| {
        c.insert("aud".into(), API.into());
    });
    let h = api_request(
        &token,
        &[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", &p),
        ],
    );
    let ev = e.evaluate_in(&h, &mut env, NOW);
    allowed(&ev);
    // The attestation is taken out before the API (forward_attestation: false).
    match ev.outcome {
        Outcome::Allow(a) => assert_eq!(
            a.token_edits,
            vec![
                crate::HeaderEdit::Remove("oauth-client-attestation".into()),
                crate::HeaderEdit::Remove("oauth-client-attestation-pop".into())
            ]
        ),
        other => panic!("{other:?}"),
    }
    // Cache hit: the same attestation rules, and the PoP is now replayed.
    let ev = e.evaluate_in(&h, &mut env, NOW);
    assert_eq!(ev.cache, Some(crate::CacheLookup::Hit));
    assert_eq!(error(ev), E::PopReplayed);
    // Without attestation: 401 with the draft's code in WWW-Authenticate.
    let bare = api_request(&token, &[]);
    let d = denial(e.evaluate_in(&bare, &mut env, NOW));
    assert_eq!(d.provider, Some(crate::ProviderId(0)));
    let r = d.response("r");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers.iter().find(|(n, _)| n == "www-authenticate").map(|(_, v)| v.as_str()),
        Some("Bearer realm=\"r\", error=\"invalid_client_attestation\", error_description=\"the request carries no client attestation\"")
    );
    // An attestation for another client.
    let other = attestation_with(|_, c| {
        c.insert("sub".into(), "app-2".into());
    });
    let p2 = pop_with(|_, c| {
        c.insert("aud".into(), API.into());
        c.insert("jti".into(), "pop-2".into());
    });
    let h = api_request(
        &token,
        &[
            ("oauth-client-attestation", &other),
            ("oauth-client-attestation-pop", &p2),
        ],
    );
    assert_eq!(error(e.evaluate_in(&h, &mut env, NOW)), E::ClientMismatch);
    // A PoP for the authorization server is not one for the API.
    let p3 = pop_with(|_, c| {
        c.insert("jti".into(), "pop-3".into());
    });
    let h = api_request(
        &token,
        &[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", &p3),
        ],
    );
    assert_eq!(error(e.evaluate_in(&h, &mut env, NOW)), E::PopWrongAudience);
    // Token problems come first.
    let expired = testkit::token(TestKey::Es256, NOW - 10_000);
    let h = api_request(
        &expired,
        &[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", &p3),
        ],
    );
    assert!(matches!(
        denial(e.evaluate_in(&h, &mut env, NOW)).kind,
        DenialKind::InvalidToken(_)
    ));
    // A bearer token has no combined mode.
    let proof = dpop_proof(INSTANCE, proof_claims("x"));
    let h = api_request(
        &token,
        &[("oauth-client-attestation", &a), ("dpop", &proof)],
    );
    assert_eq!(error(e.evaluate_in(&h, &mut env, NOW)), E::PopMissing);
}

#[test]
fn an_api_rule_in_combined_mode_needs_the_attested_dpop_key() {
    let mut e = engine(false);
    let mut env = InMemory::new(None, 1024);
    let bound = |key: TestKey| {
        let mut c = testkit::claims(NOW);
        c.insert(
            "cnf".into(),
            json!({ "jkt": b64(&dpop::thumbprint(jwk(key).as_object().unwrap()).unwrap()) }),
        );
        testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
    };
    let a = attestation();
    let send = |e: &mut Engine, env: &mut InMemory, key: TestKey, jti: &str| {
        let token = bound(key);
        let claims = json!({ "jti": jti, "htm": "GET", "htu": format!("{API}/attested/1"), "iat": NOW,
                             "ath": dpop::token_hash(&token) });
        let proof = dpop_proof(key, claims);
        let mut h = api_request(
            &token,
            &[("oauth-client-attestation", &a), ("dpop", &proof)],
        );
        h[4].1 = format!("DPoP {token}");
        e.evaluate_in(&h, env, NOW)
    };
    allowed(&send(&mut e, &mut env, INSTANCE, "c-1"));
    // A token bound to (and a proof made with) another key than the attested one.
    assert_eq!(
        error(send(&mut e, &mut env, OTHER_INSTANCE, "c-2")),
        E::PopKeyMismatch
    );
    // The proof is remembered as a DPoP proof by the binding step.
    let d = denial(send(&mut e, &mut env, INSTANCE, "c-1"));
    assert_eq!(d.kind, DenialKind::InvalidDpopProof(ProofError::Replayed));
}

#[test]
fn forward_attestation_keeps_the_headers() {
    let mut cfg = config(false, gate());
    cfg["rules"][1]["client_attestation"]["forward_attestation"] = json!(true);
    cfg["rules"][0]["client_attestation"]["forward_attestation"] = json!(true);
    let mut e = Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 2])).unwrap();
    assert_eq!(
        e.body_gate(&token_request(&[])).unwrap().remove,
        &[] as &[&str]
    );
    let token = testkit::token(TestKey::Es256, NOW);
    let a = attestation();
    let p = pop_with(|_, c| {
        c.insert("aud".into(), API.into());
    });
    let h = api_request(
        &token,
        &[
            ("oauth-client-attestation", &a),
            ("oauth-client-attestation-pop", &p),
        ],
    );
    match e.evaluate_in(&h, &mut InMemory::new(None, 64), NOW).outcome {
        Outcome::Allow(a) => assert_eq!(a.token_edits, vec![]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_challenge_endpoint_is_answered_locally() {
    let e = engine(true);
    let mut h = testkit::request("POST", "/attestation/challenge", None);
    let r = e.challenge_endpoint(&h, NOW).unwrap();
    assert_eq!(r.status, 200);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let key = &e
        .config()
        .client_attestation
        .as_ref()
        .unwrap()
        .challenges
        .as_ref()
        .unwrap()
        .key;
    assert_eq!(body, json!({ "attestation_challenge": key.issue(NOW) }));
    assert!(r
        .headers
        .contains(&("cache-control".into(), "no-store".into())));
    h[0].1 = "GET".into();
    let r = e.challenge_endpoint(&h, NOW).unwrap();
    assert_eq!(r.status, 405);
    assert!(r.headers.contains(&("allow".into(), "POST".into())));
    h[1].1 = "/attestation/challenge/x".into();
    assert_eq!(e.challenge_endpoint(&h, NOW), None);
    assert_eq!(
        engine(false).challenge_endpoint(
            &testkit::request("POST", "/attestation/challenge", None),
            NOW
        ),
        None
    );
}

#[test]
fn only_gated_routes_need_their_body() {
    let e = engine(false);
    let gate = |max_body_bytes, path: Option<&str>| {
        Some(super::endpoint::BodyGate {
            max_body_bytes,
            path: path.map(str::to_owned),
            remove: &super::ATTESTATION_HEADERS,
        })
    };
    assert_eq!(e.body_gate(&token_request(&[])), gate(16_384, None));
    let mut odd = token_request(&[]);
    odd[1].1 = "/oauth/%74oken".into();
    assert_eq!(e.body_gate(&odd), gate(16_384, Some("/oauth/token")));
    assert_eq!(
        e.body_gate(&testkit::request("GET", "/oauth/token", None)),
        None
    );
    assert_eq!(
        e.body_gate(&testkit::request("POST", "/orders", None)),
        None
    );
    assert_eq!(
        e.body_gate(&testkit::request("POST", "/attested", None)),
        None
    );
    assert_eq!(crate::tests::engine().body_gate(&token_request(&[])), None);
}

fn config_error(edit: impl FnOnce(&mut Value)) -> crate::ConfigError {
    let mut cfg = config(true, gate());
    edit(&mut cfg);
    crate::config::Config::from_json(cfg.to_string().as_bytes()).unwrap_err()
}

#[test]
fn bad_configurations_name_the_field() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c["client_attestation"]["attesters"] = json!([])),
            "client_attestation.attesters",
        ),
        (
            Box::new(|c| c["client_attestation"]["attesters"][0]["name"] = json!("a b")),
            "client_attestation.attesters[0].name",
        ),
        (
            Box::new(|c| c["client_attestation"]["attesters"][0]["algorithms"] = json!(["HS256"])),
            "client_attestation.attesters[0].algorithms[0]",
        ),
        (
            Box::new(|c| c["client_attestation"]["attesters"][0]["algorithms"] = json!(["EdDSA"])),
            "client_attestation.attesters[0].algorithms[0]",
        ),
        (
            Box::new(|c| {
                c["client_attestation"]["attesters"][0]["jwks"] =
                    json!({ "remote": { "cluster": "c", "url": "https://x/jwks" } })
            }),
            "client_attestation.attesters[0].jwks",
        ),
        (
            Box::new(|c| c["client_attestation"]["attesters"][0]["extra"] = json!(1)),
            "client_attestation.attesters[0].extra",
        ),
        (
            Box::new(|c| c["client_attestation"]["max_age_seconds"] = json!(0)),
            "client_attestation.max_age_seconds",
        ),
        (
            Box::new(|c| c["client_attestation"]["pop_max_age_seconds"] = json!(3601)),
            "client_attestation.pop_max_age_seconds",
        ),
        (
            Box::new(|c| c["client_attestation"]["clock_skew_seconds"] = json!(301)),
            "client_attestation.clock_skew_seconds",
        ),
        (
            Box::new(|c| c["client_attestation"]["challenges"]["secret"] = json!("short")),
            "client_attestation.challenges.secret",
        ),
        (
            Box::new(|c| {
                c["client_attestation"]["challenges"]["secret"] = json!({ "env": "NOPE" })
            }),
            "client_attestation.challenges.secret.env",
        ),
        (
            Box::new(|c| c["client_attestation"]["challenges"]["endpoint"] = json!("/a/../b")),
            "client_attestation.challenges.endpoint",
        ),
        (
            Box::new(|c| c["client_attestation"]["challenges"]["lifetime_seconds"] = json!(5)),
            "client_attestation.challenges.lifetime_seconds",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["audience"] = json!("")),
            "rules[0].client_attestation.audience",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["grant_types"] = json!([])),
            "rules[0].client_attestation.grant_types",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["grant_types"] = json!(["a", "a"])),
            "rules[0].client_attestation.grant_types[1]",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["pop_methods"] = json!(["mtls"])),
            "rules[0].client_attestation.pop_methods[0]",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["max_body_bytes"] = json!(255)),
            "rules[0].client_attestation.max_body_bytes",
        ),
        (
            Box::new(|c| c["rules"][0]["client_attestation"]["extra"] = json!(1)),
            "rules[0].client_attestation.extra",
        ),
        (
            Box::new(|c| {
                c["rules"][1]["client_attestation"]["grant_types"] = json!(["refresh_token"])
            }),
            "rules[1].client_attestation.grant_types",
        ),
        (
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("client_attestation");
            }),
            "rules[0].client_attestation",
        ),
    ];
    for (edit, field) in cases {
        assert_eq!(config_error(edit).field, field);
    }
}

#[test]
fn secrets_come_from_the_environment_too() {
    let mut cfg = config(true, gate());
    cfg["client_attestation"]["challenges"]["secret"] = json!({ "env": "CHALLENGE_SECRET" });
    let env = |name: &str| (name == "CHALLENGE_SECRET").then(|| SECRET.to_owned());
    let from_env =
        crate::config::Config::from_json_with_env(cfg.to_string().as_bytes(), &env).unwrap();
    let inline =
        crate::config::Config::from_json(config(true, gate()).to_string().as_bytes()).unwrap();
    let issue = |c: &crate::config::Config| {
        c.client_attestation
            .as_ref()
            .unwrap()
            .challenges
            .as_ref()
            .unwrap()
            .key
            .issue(NOW)
    };
    assert_eq!(issue(&from_env), issue(&inline));
    // The defaults.
    let mut cfg = config(false, gate());
    for f in [
        "max_age_seconds",
        "pop_max_age_seconds",
        "clock_skew_seconds",
    ] {
        cfg["client_attestation"].as_object_mut().unwrap().remove(f);
    }
    let c = crate::config::Config::from_json(cfg.to_string().as_bytes()).unwrap();
    let top = c.client_attestation.unwrap();
    assert_eq!(
        (
            top.max_age_seconds,
            top.pop_max_age_seconds,
            top.clock_skew_seconds
        ),
        (86_400, 300, 30)
    );
    let rule = c.rules[0].client_attestation.clone().unwrap();
    assert_eq!(rule.max_body_bytes, 16_384);
    assert_eq!(
        rule.pop_methods,
        crate::config::PopMethods {
            pop_jwt: true,
            dpop_combined: true
        }
    );
}

#[test]
fn a_gate_with_origins_takes_combined_proofs_for_those_origins_only() {
    let rule = json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
        "client_attestation": { "audience": AS, "grant_types": ["refresh_token"],
                                "origins": ["https://login.example.com"] } });
    let mut e = engine_for(false, rule);
    let mut env = InMemory::new(None, 1024);
    let a = attestation();
    let combined =
        |proof: &str| token_request(&[("oauth-client-attestation", &a), ("dpop", proof)]);
    // The proof names the request's own Host (login.example.test), which the client chose:
    // not one of the gate's origins.
    let for_host = dpop_proof(INSTANCE, proof_claims("o-1"));
    assert_eq!(
        error(run(&mut e, &mut env, &combined(&for_host), REFRESH)),
        E::DpopProof(ProofError::WrongUri)
    );
    let mut for_origin = proof_claims("o-2");
    for_origin["htu"] = json!("https://login.example.com/oauth/token");
    allowed(&run(
        &mut e,
        &mut env,
        &combined(&dpop_proof(INSTANCE, for_origin)),
        REFRESH,
    ));
}

#[test]
fn origins_belong_to_a_gate() {
    let cfg = |attestation: Value| {
        let rule = json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
                           "client_attestation": attestation });
        Engine::from_json(
            config(false, rule).to_string().as_bytes(),
            crate::CacheSecret([1, 2]),
        )
        .err()
    };
    let api = cfg(json!({ "audience": AS, "origins": ["https://login.example.com"] })).unwrap();
    assert_eq!(api.field, "rules[0].client_attestation.origins");
    let bad = cfg(json!({ "audience": AS, "grant_types": ["refresh_token"], "origins": ["https://x.test/path"] }))
        .unwrap();
    assert_eq!(bad.field, "rules[0].client_attestation.origins[0]");
    assert!(cfg(json!({ "audience": AS, "grant_types": ["refresh_token"], "origins": ["https://x.test:8443"] })).is_none());
}
