//! Sender-constrained tokens: DPoP proofs (RFC 9449) and certificate-bound tokens
//! (RFC 8705), each check asserting its exact variant, on fresh and cached tokens.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Map, Value};

use super::*;
use crate::dpop::{self, ProofError as P};
use crate::environment::InMemory;
use crate::response::Challenge;
use crate::testkit::{self, TestKey, NOW};
use crate::{jwks::Algorithm, CacheLookup, Evaluation, TokenError as E};

const HTU: &str = "https://api.example.test/orders";

/// The default `dpop.algorithms`, as a DPoP challenge lists them.
const DEFAULT_PROOF_ALGS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The public JWK of `key` as a proof header carries it (`kty`, `crv`, `x`, … only).
fn proof_jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn jkt(key: TestKey) -> String {
    b64(&dpop::thumbprint(proof_jwk(key).as_object().unwrap()).unwrap())
}

/// A DPoP-bound access token (`cnf.jkt` of `bound_to`), signed by the provider's ES256 key.
fn bound_token(bound_to: TestKey) -> String {
    let mut c = testkit::claims(NOW);
    c.insert("cnf".into(), json!({ "jkt": jkt(bound_to) }));
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

fn cert_bound_token(cert_sha256: [u8; 32]) -> String {
    let mut c = testkit::claims(NOW);
    c.insert("cnf".into(), json!({ "x5t#S256": b64(&cert_sha256) }));
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

struct ProofSpec {
    key: TestKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

fn spec(key: TestKey, token: &str, jti: &str) -> ProofSpec {
    ProofSpec {
        key,
        header: obj(json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": proof_jwk(key) })),
        claims: obj(json!({
            "jti": jti, "htm": "GET", "htu": HTU, "iat": NOW, "ath": dpop::token_hash(token)
        })),
    }
}

impl ProofSpec {
    fn sign(&self) -> String {
        testkit::mint(self.key, &self.header, &self.claims)
    }
}

fn request(method: &str, scheme: &str, auth: String, proofs: &[String]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_owned(), method.to_owned()),
        (":path".to_owned(), "/orders?page=2".to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        ("authorization".to_owned(), format!("{scheme} {auth}")),
    ];
    for p in proofs {
        h.push(("dpop".to_owned(), p.clone()));
    }
    h
}

fn engine_for(binding: &str) -> Engine {
    let mut cfg = testkit::config();
    cfg["providers"][0]["binding"] = json!(binding);
    engine_with(cfg)
}

fn env() -> InMemory {
    InMemory::new(None, 1024)
}

fn run(e: &mut Engine, env: &mut InMemory, headers: &[(String, String)]) -> Evaluation {
    e.evaluate_in(headers, env, NOW)
}

fn proof_error(ev: Evaluation) -> P {
    match denied(ev).kind {
        DenialKind::InvalidDpopProof(p) => p,
        other => panic!("expected InvalidDpopProof, got {other:?}"),
    }
}

#[test]
fn thumbprint_is_rfc_7638() {
    // RFC 7638 §3.1.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
    });
    assert_eq!(
        b64(&dpop::thumbprint(jwk.as_object().unwrap()).unwrap()),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // The ath of RFC 9449 §7.1's example token.
    assert_eq!(
        dpop::token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn a_valid_proof_passes_once_and_its_replay_is_refused() {
    let mut e = engine_for("dpop");
    let mut env = env();
    let token = bound_token(TestKey::EdDsa);
    let proof = spec(TestKey::EdDsa, &token, "jti-a").sign();
    let ev = run(
        &mut e,
        &mut env,
        &request("GET", "DPoP", token.clone(), std::slice::from_ref(&proof)),
    );
    assert_eq!(ev.proof_signature, Some(crate::signature::Path::Wasm));
    assert_eq!(allowed(ev).set_headers.len(), 3);
    // The same proof again (now a cache hit for the token): a replay.
    let ev = run(
        &mut e,
        &mut env,
        &request("GET", "DPoP", token.clone(), &[proof]),
    );
    assert_eq!(ev.cache, Some(crate::CacheLookup::Hit));
    assert_eq!(proof_error(ev), P::Replayed);
    // A fresh proof works, and the cache never lets a bad proof through.
    let fresh = spec(TestKey::EdDsa, &token, "jti-b").sign();
    allowed(run(
        &mut e,
        &mut env,
        &request("GET", "DPoP", token.clone(), &[fresh]),
    ));
    let mut other = spec(TestKey::EdDsa, &token, "jti-c");
    other.claims.insert("htm".into(), "POST".into());
    assert_eq!(
        proof_error(run(
            &mut e,
            &mut env,
            &request("GET", "DPoP", token, &[other.sign()])
        )),
        P::WrongMethod
    );
}

#[test]
fn an_ed25519_proof_named_as_rfc_9864_names_it_is_an_eddsa_proof() {
    let mut e = engine_for("dpop");
    let token = bound_token(TestKey::EdDsa);
    let mut s = spec(TestKey::EdDsa, &token, "jti-ed");
    s.header.insert("alg".into(), "Ed25519".into());
    allowed(run(
        &mut e,
        &mut env(),
        &request("GET", "DPoP", token.clone(), &[s.sign()]),
    ));
    // Not a name for any other key type.
    let token = bound_token(TestKey::Es256);
    let mut s = spec(TestKey::Es256, &token, "jti-ec");
    s.header.insert("alg".into(), "Ed25519".into());
    assert_eq!(
        proof_error(run(
            &mut e,
            &mut env(),
            &request("GET", "DPoP", token, &[s.sign()])
        )),
        P::BadKey
    );
}

#[test]
fn every_proof_check_has_its_own_error() {
    let token = bound_token(TestKey::Es256);
    let good = || spec(TestKey::Es256, &token, "jti");
    let mut cases: Vec<(&str, String, P)> = Vec::new();
    let mut s = good();
    s.claims.insert("htm".into(), "POST".into());
    cases.push(("wrong method", s.sign(), P::WrongMethod));
    for htu in [
        "https://api.example.test/other",
        "https://evil.example/orders",
        "http://api.example.test/orders",
        "https://api.example.test:8443/orders",
        "https://user@api.example.test/orders",
        "api.example.test/orders",
    ] {
        let mut s = good();
        s.claims.insert("htu".into(), htu.into());
        cases.push(("wrong uri", s.sign(), P::WrongUri));
    }
    let mut s = good();
    s.claims.insert("iat".into(), json!(NOW - 306));
    cases.push(("stale", s.sign(), P::Stale));
    let mut s = good();
    s.claims.insert("iat".into(), json!(NOW + 6));
    cases.push(("future", s.sign(), P::IssuedInFuture));
    let mut s = good();
    s.claims
        .insert("ath".into(), dpop::token_hash("another token").into());
    cases.push(("wrong ath", s.sign(), P::WrongTokenHash));
    // The proof key is another key than the token is bound to.
    let other = spec(TestKey::PartnerEs256, &token, "jti").sign();
    cases.push(("key mismatch", other, P::KeyMismatch));
    // Signed by another key than its jwk says.
    let mut s = good();
    s.key = TestKey::PartnerEs256;
    cases.push(("foreign signer", s.sign(), P::BadSignature));
    for alg in ["none", "HS256", "RS256"] {
        let mut s = good();
        s.header.insert("alg".into(), alg.into());
        let want = if alg == "RS256" {
            P::BadKey
        } else {
            P::AlgorithmNotAllowed
        };
        cases.push(("alg", s.sign(), want));
    }
    // An unsecured JWS as it is written (`alg: none`, an empty signature) is a proof with
    // an algorithm that is never allowed; an allowed algorithm with no signature fails the
    // signature check.
    let mut s = good();
    s.header.insert("alg".into(), "none".into());
    let unsigned = |jws: String| format!("{}.", jws.rsplit_once('.').unwrap().0);
    cases.push((
        "alg none, unsecured",
        unsigned(s.sign()),
        P::AlgorithmNotAllowed,
    ));
    cases.push(("empty signature", unsigned(good().sign()), P::BadSignature));
    let mut s = good();
    let mut jwk = proof_jwk(TestKey::Es256);
    jwk["d"] = json!(b64(&[0x11; 32]));
    s.header.insert("jwk".into(), jwk);
    cases.push(("private jwk", s.sign(), P::PrivateKey));
    let mut s = good();
    s.header.remove("jwk");
    cases.push(("no jwk", s.sign(), P::BadKey));
    let mut s = good();
    s.header.insert("typ".into(), "JWT".into());
    cases.push(("typ", s.sign(), P::WrongType));
    let mut s = good();
    s.header.insert("crit".into(), json!(["x"]));
    cases.push(("crit", s.sign(), P::BadHeader));
    for claim in ["jti", "htm", "htu", "iat", "ath"] {
        let mut s = good();
        s.claims.remove(claim);
        cases.push(("missing claim", s.sign(), P::BadPayload));
    }
    let mut s = good();
    s.claims.insert("iat".into(), "now".into());
    cases.push(("iat string", s.sign(), P::BadPayload));
    cases.push(("garbage", "a.b".into(), P::Malformed));
    cases.push(("huge", "a".repeat(9000), P::TooLarge));
    for (what, proof, want) in cases {
        let mut e = engine_for("any");
        let got = proof_error(run(
            &mut e,
            &mut env(),
            &request("GET", "DPoP", token.clone(), &[proof]),
        ));
        assert_eq!(got, want, "{what}");
    }
    // Two DPoP headers, or none.
    let p = good().sign();
    let mut e = engine_for("any");
    assert_eq!(
        proof_error(run(
            &mut e,
            &mut env(),
            &request("GET", "DPoP", token.clone(), &[p.clone(), p])
        )),
        P::MultipleProofs
    );
    assert_eq!(
        proof_error(run(&mut e, &mut env(), &request("GET", "DPoP", token, &[]))),
        P::MissingProof
    );
}

#[test]
fn htu_is_compared_after_normalisation() {
    let token = bound_token(TestKey::Es256);
    for htu in [
        "https://api.example.test/orders",
        "HTTPS://API.Example.TEST:443/orders",
        "https://api.example.test/%6frders?x=1#f",
    ] {
        let mut s = spec(TestKey::Es256, &token, htu);
        s.claims.insert("htu".into(), htu.into());
        let mut e = engine_for("dpop");
        allowed(run(
            &mut e,
            &mut env(),
            &request("GET", "DPoP", token.clone(), &[s.sign()]),
        ));
    }
}

#[test]
fn bound_tokens_are_never_bearer_tokens() {
    let token = bound_token(TestKey::Es256);
    for binding in ["any", "dpop", "mtls"] {
        let mut e = engine_for(binding);
        let d = denied(run(
            &mut e,
            &mut env(),
            &request("GET", "Bearer", token.clone(), &[]),
        ));
        let want = if binding == "mtls" {
            E::NotCertificateBound
        } else {
            E::DpopBoundAsBearer
        };
        assert_eq!(d.kind, DenialKind::InvalidToken(want), "{binding}");
    }
    // Cached first (a valid DPoP use), then as Bearer: still refused.
    let mut e = engine_for("any");
    let mut env = env();
    let p = spec(TestKey::Es256, &token, "j1").sign();
    allowed(run(
        &mut e,
        &mut env,
        &request("GET", "DPoP", token.clone(), &[p]),
    ));
    let ev = run(&mut e, &mut env, &request("GET", "Bearer", token, &[]));
    assert_eq!(ev.cache, Some(crate::CacheLookup::Hit));
    let d = denied(ev);
    assert_eq!(d.kind, DenialKind::InvalidToken(E::DpopBoundAsBearer));
    assert!(matches!(d.challenge, Challenge::Dpop { .. }));
}

#[test]
fn a_dpop_route_needs_a_dpop_bound_token_and_says_so() {
    let plain = testkit::token(TestKey::Es256, NOW);
    let mut e = engine_for("dpop");
    let d = denied(run(
        &mut e,
        &mut env(),
        &request("GET", "Bearer", plain.clone(), &[]),
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::DpopRequired));
    // An unbound token with a valid proof is still not DPoP-bound.
    let p = spec(TestKey::Es256, &plain, "j").sign();
    let d = denied(run(
        &mut e,
        &mut env(),
        &request("GET", "DPoP", plain.clone(), std::slice::from_ref(&p)),
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::NotDpopBound));
    // Under binding any too (RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens), and
    // nothing is written to the replay store for it.
    let mut store = env();
    let d = denied(run(
        &mut engine_for("any"),
        &mut store,
        &request("GET", "DPoP", plain, &[p]),
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::NotDpopBound));
    assert_eq!(
        d.challenge,
        Challenge::Dpop {
            algs: DEFAULT_PROOF_ALGS.to_vec()
        }
    );
    assert_eq!(store.remembered(), 0);
    // No token on a route whose every provider requires DPoP: the DPoP challenge with the
    // providers' proof algorithms (one provider still taking bearer tokens: Bearer).
    let d = denied(e.evaluate_in(&testkit::request("GET", "/orders", None), &mut env(), NOW));
    assert_eq!(d.challenge, Challenge::Bearer);
    let mut cfg = testkit::config();
    cfg["providers"][0]["binding"] = json!("dpop");
    cfg["providers"][1]["binding"] = json!("dpop");
    let mut e = engine_with(cfg);
    let d = denied(e.evaluate_in(&testkit::request("GET", "/orders", None), &mut env(), NOW));
    assert_eq!(d.kind, DenialKind::MissingToken);
    assert_eq!(
        d.challenge,
        Challenge::Dpop {
            algs: DEFAULT_PROOF_ALGS.to_vec()
        }
    );
    assert_eq!(
        d.response("r").headers[0].1,
        "DPoP realm=\"r\", algs=\"ES256 EdDSA RS256 PS256\""
    );
    // A rule may override its providers' binding.
    let mut cfg = testkit::config();
    cfg["rules"] = json!([{"match": {"prefix": "/"}, "binding": "dpop"}]);
    let mut e = engine_with(cfg);
    let d = denied(run(
        &mut e,
        &mut env(),
        &testkit::request("GET", "/", Some(&testkit::token(TestKey::Es256, NOW))),
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::DpopRequired));
}

#[test]
fn without_a_replay_store_a_proof_gets_503_not_a_pass() {
    let token = bound_token(TestKey::Es256);
    let p = spec(TestKey::Es256, &token, "j").sign();
    let d = denied(engine_for("dpop").evaluate(&request("GET", "DPoP", token, &[p]), NOW));
    assert_eq!(d.kind, DenialKind::ReplayCacheUnavailable);
    assert_eq!(d.response("r").status, 503);
}

#[test]
fn certificate_bound_tokens_need_their_certificate() {
    let cert_a = [0xa1; 32];
    let token = cert_bound_token(cert_a);
    let mut e = engine_for("any");
    let bearer = testkit::request("GET", "/orders", Some(&token));
    let mut with =
        |cert: Option<[u8; 32]>| e.evaluate_in(&bearer, &mut InMemory::new(cert, 64), NOW);
    allowed(with(Some(cert_a)));
    assert_eq!(
        denied(with(Some([0xb2; 32]))).kind,
        DenialKind::InvalidToken(E::CertificateMismatch)
    );
    assert_eq!(
        denied(with(None)).kind,
        DenialKind::InvalidToken(E::NoClientCertificate)
    );
    // The last two were cache hits: the binding is checked on every request.
    assert_eq!(e.cache_stats().0, 2);
    // binding: mtls refuses unbound tokens.
    let plain = testkit::token(TestKey::Es256, NOW);
    let mut e = engine_for("mtls");
    let d = denied(e.evaluate_in(
        &testkit::request("GET", "/orders", Some(&plain)),
        &mut InMemory::new(Some(cert_a), 64),
        NOW,
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::NotCertificateBound));
    assert_eq!(d.challenge, Challenge::Bearer);
}

#[test]
fn malformed_confirmations_are_refused() {
    for cnf in [
        json!("jkt"),
        json!({}),
        json!({"jkt": 5}),
        json!({"jkt": "not base64!"}),
        json!({"jkt": b64(&[1; 31])}),
        json!({"x5t#S256": b64(&[1; 33])}),
        json!({"jwk": {"kty": "EC"}}),
        json!({"jkt": b64(&[1; 32]), "kid": "x"}),
    ] {
        let mut c = testkit::claims(NOW);
        c.insert("cnf".into(), cnf.clone());
        let t = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c);
        assert_eq!(token_error(&t), E::BadConfirmation, "{cnf}");
    }
}

#[test]
fn dpop_policy_is_checked_at_configuration() {
    for (dpop, field) in [
        (
            json!({"max_age_seconds": 0}),
            "providers[0].dpop.max_age_seconds",
        ),
        (
            json!({"clock_skew_seconds": 301}),
            "providers[0].dpop.clock_skew_seconds",
        ),
        (json!({"algorithms": []}), "providers[0].dpop.algorithms"),
        (
            json!({"algorithms": ["ES256", "HS256"]}),
            "providers[0].dpop.algorithms[1]",
        ),
        (json!({"nonce": true}), "providers[0].dpop.nonce"),
    ] {
        let mut cfg = testkit::config();
        cfg["providers"][0]["dpop"] = dpop;
        let err =
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
        assert_eq!(err.field, field);
    }
    let mut cfg = testkit::config();
    cfg["providers"][0]["binding"] = json!("tls");
    let err =
        Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
    assert_eq!(err.field, "providers[0].binding");
    let mut cfg = testkit::config();
    cfg["dpop_replay_cache_size"] = json!(1);
    let err =
        Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).unwrap_err();
    assert_eq!(err.field, "dpop_replay_cache_size");
}

/// A request on a route whose scope the token lacks: 403, and the valid proof it carried is
/// not written to the replay store (a refused request writes nothing there).
#[test]
fn a_refused_request_writes_no_proof_into_the_replay_store() {
    let mut cfg = testkit::config();
    cfg["rules"][1]["scopes"] = json!(["orders:admin"]);
    let mut e = engine_with(cfg);
    let mut store = env();
    let token = bound_token(TestKey::EdDsa);
    let proof = spec(TestKey::EdDsa, &token, "jti-scope").sign();
    let d = denied(run(
        &mut e,
        &mut store,
        &request("GET", "DPoP", token.clone(), std::slice::from_ref(&proof)),
    ));
    assert!(matches!(d.kind, DenialKind::InsufficientScope { .. }));
    assert_eq!(store.remembered(), 0);
    // The same on a cache hit.
    let again = spec(TestKey::EdDsa, &token, "jti-scope-2").sign();
    let ev = run(&mut e, &mut store, &request("GET", "DPoP", token, &[again]));
    assert_eq!(ev.cache, Some(CacheLookup::Hit));
    assert!(matches!(
        denied(ev).kind,
        DenialKind::InsufficientScope { .. }
    ));
    assert_eq!(store.remembered(), 0);
}

/// The eviction attack: an attacker with its own DPoP-bound token floods the store with
/// proofs of its own key; the victim's proof, seen once, stays a replay. With a store small
/// enough to fill, a full bucket refuses the NEW proof (503, `Retry-After`) and forgets none.
#[test]
fn flooding_the_replay_store_never_lets_a_replay_through() {
    let mut e = engine_for("dpop");
    let mut store = InMemory::new(None, 1);
    let victim = bound_token(TestKey::EdDsa);
    let victim_proof = spec(TestKey::EdDsa, &victim, "victim").sign();
    let victim_request = request(
        "GET",
        "DPoP",
        victim.clone(),
        std::slice::from_ref(&victim_proof),
    );
    allowed(run(&mut e, &mut store, &victim_request));
    let attacker = bound_token(TestKey::Es256);
    let mut full = 0;
    let mut accepted = vec![victim_request.clone()];
    for i in 0..1000 {
        let p = spec(TestKey::Es256, &attacker, &format!("attacker-{i}")).sign();
        let req = request("GET", "DPoP", attacker.clone(), &[p]);
        match run(&mut e, &mut store, &req).outcome {
            Outcome::Allow(_) => accepted.push(req),
            Outcome::Deny(d) => {
                let DenialKind::ReplayStoreFull { retry_after } = d.kind else {
                    panic!("unexpected {d:?}");
                };
                assert!((1..=330).contains(&retry_after), "{retry_after}");
                let r = d.response("api");
                assert_eq!(r.status, 503);
                assert_eq!(d.reason(), "dpop_replay_store_full");
                full += 1;
            }
            Outcome::DryRun(d) => panic!("unexpected {d:?}"),
        }
    }
    assert!(
        full > 0,
        "a store of 1024 × 4 entries fills some bucket with 1000 proofs"
    );
    for req in &accepted {
        assert_eq!(proof_error(run(&mut e, &mut store, req)), P::Replayed);
    }
}

/// `dpop.origins`: the proof's `htu` must name one of the configured origins, whatever
/// `Host` the client sent; without `origins` the request's `:scheme` and `:authority` are
/// the reference (the documented fallback).
#[test]
fn htu_is_checked_against_the_configured_origins_not_the_clients_host() {
    let token = bound_token(TestKey::EdDsa);
    let with_origins = |origins: Value| {
        let mut cfg = testkit::config();
        cfg["providers"][0]["binding"] = json!("dpop");
        cfg["providers"][0]["dpop"] = json!({ "origins": origins });
        engine_with(cfg)
    };
    let send = |e: &mut Engine, htu: &str, authority: &str, jti: &str| {
        let mut s = spec(TestKey::EdDsa, &token, jti);
        s.claims.insert("htu".into(), json!(htu));
        let mut req = request("GET", "DPoP", token.clone(), &[s.sign()]);
        for (n, v) in req.iter_mut() {
            if n == ":authority" {
                *v = authority.to_owned();
            }
        }
        run(e, &mut env(), &req)
    };
    // API B's Envoy (origin https://b.example.test) and a proof made for API A, sent with
    // A's host name: refused.
    let mut b = with_origins(json!(["https://b.example.test"]));
    let ev = send(
        &mut b,
        "https://a.example.test/orders",
        "a.example.test",
        "x1",
    );
    assert_eq!(proof_error(ev), P::WrongUri);
    // A proof for B passes whatever Host the client sends, and the origin is normalised.
    allowed(send(
        &mut b,
        "https://B.Example.Test:443/orders",
        "a.example.test",
        "x2",
    ));
    allowed(send(
        &mut b,
        "https://b.example.test/orders",
        "anything",
        "x3",
    ));
    // Wrong scheme, port or path under the right host: refused.
    for (htu, jti) in [
        ("http://b.example.test/orders", "x4"),
        ("https://b.example.test:8443/orders", "x5"),
        ("https://b.example.test/other", "x6"),
        ("https://user@b.example.test/orders", "x7"),
    ] {
        assert_eq!(
            proof_error(send(&mut b, htu, "b.example.test", jti)),
            P::WrongUri,
            "{htu}"
        );
    }
    // Without origins, the client's Host decides (the fallback the README warns about).
    let mut fallback = engine_for("dpop");
    allowed(send(
        &mut fallback,
        "https://a.example.test/orders",
        "a.example.test",
        "x8",
    ));
}

#[test]
fn origins_are_checked_at_configuration() {
    let bad = |origins: Value| {
        let mut cfg = testkit::config();
        cfg["providers"][0]["dpop"] = json!({ "origins": origins });
        Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1]))
            .unwrap_err()
            .to_string()
    };
    for o in [
        "https://api.example.test/",
        "https://api.example.test/orders",
        "https://api.example.test?x",
        "https://user@api.example.test",
        "ftp://api.example.test",
        "api.example.test",
        "https://",
        "https://api.example.test:99999",
        "https://api.example.test:x",
        "https://[::1",
    ] {
        let e = bad(json!([o]));
        assert!(e.starts_with("providers[0].dpop.origins[0]: "), "{o}: {e}");
    }
    assert_eq!(
        bad(json!([])),
        "providers[0].dpop.origins: must list at least one origin (or be left out)"
    );
    assert_eq!(
        bad(json!(["https://a.test", "HTTPS://A.TEST:443"])),
        "providers[0].dpop.origins[1]: this origin is listed twice"
    );
    for good in [
        "https://[::1]:8443",
        "http://127.0.0.1:10000",
        "https://API.example.test",
    ] {
        let mut cfg = testkit::config();
        cfg["providers"][0]["dpop"] = json!({ "origins": [good] });
        assert!(
            Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([1, 1])).is_ok(),
            "{good}"
        );
    }
}
