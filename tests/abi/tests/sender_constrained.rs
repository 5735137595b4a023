//! Sender-constrained tokens through the built filter: DPoP proofs with a replay store shared
//! by the worker VMs of one process (proxy-wasm shared data), and certificate-bound tokens
//! checked against Envoy's `connection.sha256_peer_certificate_digest`.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Value};
use tollgate_abi_tests::{FilterVm, Process};
use tollgate_core::dpop;

use crate::common::{
    expect_forwarded, expect_local_response, family, module, testkit, TestKey, NOW,
};

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

fn proof_jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn bound_token(cnf: Value) -> String {
    let mut c = testkit::claims(NOW);
    c.insert("cnf".into(), cnf);
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

fn dpop_token(key: TestKey) -> String {
    let jkt = dpop::thumbprint(proof_jwk(key).as_object().unwrap()).unwrap();
    bound_token(json!({ "jkt": b64(&jkt) }))
}

fn proof(key: TestKey, token: &str, jti: &str, htm: &str) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": proof_jwk(key) });
    let claims = json!({
        "jti": jti, "htm": htm, "htu": "https://api.example.test/orders",
        "iat": NOW, "ath": dpop::token_hash(token)
    });
    testkit::mint(
        key,
        header.as_object().unwrap(),
        claims.as_object().unwrap(),
    )
}

fn dpop_request(token: &str, proofs: &[String]) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_owned(), "GET".to_owned()),
        (":path".to_owned(), "/orders".to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        ("authorization".to_owned(), format!("DPoP {token}")),
    ];
    h.extend(proofs.iter().map(|p| ("dpop".to_owned(), p.clone())));
    h
}

fn config(binding: &str) -> Value {
    let mut c = testkit::config();
    c["providers"][0]["binding"] = json!(binding);
    c
}

fn vm_in(process: &Process, config: &Value) -> FilterVm {
    let mut vm = FilterVm::in_process(module(), process).unwrap();
    assert!(
        vm.start(config.to_string().as_bytes()).unwrap(),
        "{:?}",
        vm.logs()
    );
    vm
}

#[test]
fn a_proof_replayed_on_another_worker_is_refused() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut first = vm_in(&process, &config("dpop"));
    let mut second = vm_in(&process, &config("dpop"));
    let token = dpop_token(TestKey::Es256);
    let p = proof(TestKey::Es256, &token, "jti-1", "GET");

    expect_forwarded(&mut first, &dpop_request(&token, std::slice::from_ref(&p)));
    let replay =
        expect_local_response(&mut second, &dpop_request(&token, std::slice::from_ref(&p)));
    assert_eq!(replay.status, 401);
    assert_eq!(
        replay.header("www-authenticate").as_deref(),
        Some("DPoP realm=\"tollgate-test\", error=\"invalid_dpop_proof\", error_description=\"the DPoP proof was used before\", algs=\"ES256 EdDSA RS256 PS256\"")
    );
    // And on the same worker.
    assert_eq!(
        expect_local_response(&mut first, &dpop_request(&token, &[p])).status,
        401
    );
    second.tick().unwrap(); // the second worker hands its counts over on its own timer
    assert_eq!(
        family(&mut first, "denied", &[("reason", "dpop_replayed")]),
        2
    );
    // Fresh proofs pass on both; the ES256 proof signature went to the host.
    expect_forwarded(
        &mut second,
        &dpop_request(&token, &[proof(TestKey::Es256, &token, "jti-2", "GET")]),
    );
    expect_forwarded(
        &mut first,
        &dpop_request(&token, &[proof(TestKey::Es256, &token, "jti-3", "GET")]),
    );
    assert!(family(&mut first, "signatures", &[("signature_path", "host")]) >= 3);
}

#[test]
fn dpop_answers_through_the_built_filter() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process, &config("any"));
    let token = dpop_token(TestKey::EdDsa);
    let cases = [
        (
            vec![proof(TestKey::EdDsa, &token, "a", "POST")],
            "the DPoP proof is for another method",
        ),
        (
            vec![proof(TestKey::Es256, &token, "b", "GET")],
            "the access token is bound to another DPoP key",
        ),
        (vec![], "the DPoP scheme needs a DPoP proof header"),
        (
            vec![
                proof(TestKey::EdDsa, &token, "c", "GET"),
                proof(TestKey::EdDsa, &token, "d", "GET"),
            ],
            "the request carries more than one DPoP proof",
        ),
    ];
    for (proofs, description) in cases {
        let r = expect_local_response(&mut vm, &dpop_request(&token, &proofs));
        assert_eq!(r.status, 401, "{description}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .contains(&format!("error_description=\"{description}\"")),
            "{:?}",
            r.header("www-authenticate")
        );
    }
    // The bound token as Bearer.
    let r = expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("DPoP realm=\"tollgate-test\", error=\"invalid_token\", error_description=\"the token is bound to a DPoP key and must be sent with the DPoP scheme\", algs=\"ES256 EdDSA RS256 PS256\"")
    );
    expect_forwarded(
        &mut vm,
        &dpop_request(&token, &[proof(TestKey::EdDsa, &token, "ok", "GET")]),
    );
}

#[test]
fn the_dpop_scheme_with_an_unbound_token_is_refused_on_a_bearer_route() {
    // binding "any": an unbound token passes as Bearer, but sent with the DPoP scheme (and
    // a valid proof) it claims a binding it does not have.
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process, &config("any"));
    let unbound = testkit::token(TestKey::Es256, NOW);
    let p = proof(TestKey::Es256, &unbound, "unbound-1", "GET");
    let r = expect_local_response(&mut vm, &dpop_request(&unbound, &[p]));
    assert_eq!(r.status, 401, "{}", r.body_text());
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("DPoP realm=\"tollgate-test\", error=\"invalid_token\", error_description=\"the token is not bound to a DPoP key\", algs=\"ES256 EdDSA RS256 PS256\"")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({ "error": "invalid_token", "error_description": "the token is not bound to a DPoP key" })
    );
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "not_dpop_bound")]),
        1
    );
    // The same token as Bearer on that route passes.
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&unbound)));
}

#[test]
fn certificate_bound_tokens_check_the_connection_certificate() {
    let cert = [0x5au8; 32];
    let token = bound_token(json!({ "x5t#S256": b64(&cert) }));
    let request = testkit::request("GET", "/orders", Some(&token));
    for (digest, status) in [
        (Some("5a".repeat(32)), None),
        (Some("5A".repeat(32)), None),
        (
            Some("00".repeat(32)),
            Some("the token is bound to another client certificate"),
        ),
        (
            None,
            Some("the token is bound to a client certificate the connection did not present"),
        ),
    ] {
        let process = Process::new();
        process.set_time_seconds(NOW).unwrap();
        let mut vm = vm_in(&process, &config("mtls"));
        if let Some(d) = &digest {
            vm.set_property(
                &["connection", "sha256_peer_certificate_digest"],
                d.as_bytes(),
            );
        }
        match status {
            None => {
                expect_forwarded(&mut vm, &request);
            }
            Some(description) => {
                let r = expect_local_response(&mut vm, &request);
                assert_eq!(r.status, 401);
                assert!(
                    r.header("www-authenticate").unwrap().contains(description),
                    "{:?}",
                    r.header("www-authenticate")
                );
            }
        }
    }
}
