//! DPoP server nonces through the built filter: the challenge on a 401 with `DPoP-Nonce`, the
//! retry with it, a fresh nonce on the 200 of a request whose nonce is near its end, and a
//! nonce issued by one VM accepted by another VM sharing the secret (another Envoy process)
//! but not by one with another secret.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Value};
use tollgate_abi_tests::{Action, FilterVm, HeaderMutation, MapType, Process};
use tollgate_core::dpop;

use crate::common::{
    expect_forwarded, expect_local_response, family, module, testkit, TestKey, NOW,
};

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const OTHER_SECRET: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM";

fn proof_jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn dpop_token(key: TestKey) -> String {
    let jkt = dpop::thumbprint(proof_jwk(key).as_object().unwrap()).unwrap();
    let mut c = testkit::claims(NOW);
    // Outlives the nonce, so the nonce is what expires first.
    c.insert("exp".into(), json!(NOW + 800));
    c.insert(
        "cnf".into(),
        json!({ "jkt": Base64UrlSafeNoPadding::encode_to_string(jkt).unwrap() }),
    );
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

fn proof(token: &str, jti: &str, iat: u64, nonce: Option<&str>) -> String {
    let key = TestKey::Es256;
    let header = json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": proof_jwk(key) });
    let mut claims = json!({
        "jti": jti, "htm": "GET", "htu": "https://api.example.test/orders",
        "iat": iat, "ath": dpop::token_hash(token)
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    testkit::mint(
        key,
        header.as_object().unwrap(),
        claims.as_object().unwrap(),
    )
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

fn config(secret: &str) -> Value {
    let mut c = testkit::config();
    c["providers"][0]["binding"] = json!("dpop");
    c["dpop_nonce"] = json!({ "secret": secret, "lifetime_seconds": 300 });
    c
}

fn replica(secret: &str) -> FilterVm {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = FilterVm::in_process(module(), &process).unwrap();
    assert!(
        vm.start(config(secret).to_string().as_bytes()).unwrap(),
        "{:?}",
        vm.logs()
    );
    vm
}

/// The `DPoP-Nonce` values the filter added to stream `req`'s response headers.
fn response_nonces(vm: &FilterVm, req: u32) -> Vec<String> {
    vm.header_mutations(req)
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            HeaderMutation::Add {
                map: MapType::HttpResponseHeaders,
                name,
                value,
            } if name == "dpop-nonce" => Some(String::from_utf8(value).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_nonce_comes_on_the_401_and_a_fresh_one_on_a_200_near_its_end() {
    let mut vm = replica(SECRET);
    let token = dpop_token(TestKey::Es256);
    let r = expect_local_response(&mut vm, &request(&token, &proof(&token, "j1", NOW, None)));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("DPoP realm=\"tollgate-test\", error=\"use_dpop_nonce\", error_description=\"the DPoP proof must carry the nonce sent in DPoP-Nonce\", algs=\"ES256 EdDSA RS256 PS256\"")
    );
    let nonce = r.header("dpop-nonce").unwrap();
    assert_eq!(nonce.len(), 32);
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "dpop_nonce_missing")]),
        1
    );

    // The retry with the nonce passes; the nonce is young: nothing rides on the response.
    let req = expect_forwarded(
        &mut vm,
        &request(&token, &proof(&token, "j2", NOW, Some(&nonce))),
    );
    assert_eq!(
        vm.on_response_headers(req, &[(":status", "200")], false)
            .unwrap(),
        Action::Continue
    );
    assert_eq!(response_nonces(&vm, req), Vec::<String>::new());
    vm.finish(req).unwrap();

    // 200 s later the nonce has 80 s left (it lives 300 s from the start of its 60 s step,
    // 20 s before NOW): a fresh one rides on the 200.
    vm.advance_seconds(200).unwrap();
    let req = expect_forwarded(
        &mut vm,
        &request(&token, &proof(&token, "j3", NOW + 200, Some(&nonce))),
    );
    vm.on_response_headers(req, &[(":status", "200")], false)
        .unwrap();
    let fresh = response_nonces(&vm, req);
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_ne!(fresh[0], nonce);
    vm.finish(req).unwrap();
    // It is accepted at once.
    expect_forwarded(
        &mut vm,
        &request(&token, &proof(&token, "j4", NOW + 200, Some(&fresh[0]))),
    );
    // The old one expires at NOW + 280.
    vm.advance_seconds(80).unwrap();
    let r = expect_local_response(
        &mut vm,
        &request(&token, &proof(&token, "j5", NOW + 280, Some(&nonce))),
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "dpop_nonce_expired")]),
        1
    );
    assert_eq!(vm.crashed(), None);
}

#[test]
fn a_nonce_from_one_replica_passes_at_another_with_the_same_secret_only() {
    let mut a = replica(SECRET);
    let mut b = replica(SECRET);
    let mut c = replica(OTHER_SECRET);
    let token = dpop_token(TestKey::Es256);
    let nonce = expect_local_response(&mut a, &request(&token, &proof(&token, "j1", NOW, None)))
        .header("dpop-nonce")
        .unwrap();
    expect_forwarded(
        &mut b,
        &request(&token, &proof(&token, "j2", NOW, Some(&nonce))),
    );
    let r = expect_local_response(
        &mut c,
        &request(&token, &proof(&token, "j3", NOW, Some(&nonce))),
    );
    assert_eq!(r.status, 401);
    assert_ne!(r.header("dpop-nonce").unwrap(), nonce);
    assert_eq!(
        family(&mut c, "denied", &[("reason", "dpop_nonce_foreign")]),
        1
    );
}
