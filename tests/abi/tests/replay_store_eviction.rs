//! The DPoP replay store under attack, through the built filter with two worker VMs of one
//! process sharing it (proxy-wasm shared data):
//! - a client that floods the store with its own valid proofs, aimed at the bucket of a
//!   victim's proof, never makes the victim's proof usable again (buckets are chosen by a
//!   keyed hash the client cannot predict, and a full bucket refuses the NEW proof);
//! - a store that is full answers 503 `temporarily_unavailable` (`dpop_replay_store_full`,
//!   `Retry-After`) and keeps every proof it accepted;
//! - a request refused anyway (403, scope) writes nothing to the store.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Value};
use tollgate_abi_tests::{Action, FilterVm, LocalResponse, Process};
use tollgate_core::dpop;

use crate::common::{expect_forwarded, expect_local_response, family, module, send, testkit};
use crate::common::{TestKey, NOW};

const REALM: &str = "tollgate-test";
const ALGS: &str = "ES256 EdDSA RS256 PS256";

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// The public JWK of `key` as a proof header carries it.
fn proof_jwk(key: TestKey) -> Value {
    let mut jwk = key.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    jwk
}

fn thumbprint(key: TestKey) -> [u8; 32] {
    dpop::thumbprint(proof_jwk(key).as_object().unwrap()).unwrap()
}

/// An access token of `idsvr` (scope `orders:read orders:write`) bound to `key`.
fn bound_token(key: TestKey) -> String {
    let mut c = testkit::claims(NOW);
    c.insert("cnf".into(), json!({ "jkt": b64(&thumbprint(key)) }));
    testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &c)
}

/// A valid proof by `key` for `GET https://api.example.test<path>` with `jti`.
fn proof(key: TestKey, token: &str, jti: &str, path: &str) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": key.alg(), "jwk": proof_jwk(key) });
    let claims = json!({
        "jti": jti, "htm": "GET", "htu": format!("https://api.example.test{path}"),
        "iat": NOW, "ath": dpop::token_hash(token)
    });
    testkit::mint(
        key,
        header.as_object().unwrap(),
        claims.as_object().unwrap(),
    )
}

fn dpop_request(token: &str, proof: &str, path: &str) -> Vec<(String, String)> {
    vec![
        (":method".to_owned(), "GET".to_owned()),
        (":path".to_owned(), path.to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        ("authorization".to_owned(), format!("DPoP {token}")),
        ("dpop".to_owned(), proof.to_owned()),
    ]
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

/// Two worker VMs of one process at [`NOW`], with `replay_size` as `dpop_replay_cache_size`
/// (None: the default).
fn two_workers(replay_size: Option<u64>) -> (FilterVm, FilterVm) {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut config = testkit::config();
    if let Some(size) = replay_size {
        config["dpop_replay_cache_size"] = json!(size);
    }
    (vm_in(&process, &config), vm_in(&process, &config))
}

fn assert_replayed(r: &LocalResponse, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.body_text());
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(format!("DPoP realm=\"{REALM}\", error=\"invalid_dpop_proof\", error_description=\"the DPoP proof was used before\", algs=\"{ALGS}\"").as_str()),
        "{what}"
    );
}

/// Where a store of 1024 buckets without a secret (bucket = first 8 bytes of
/// SHA-256(thumbprint ‖ jti), little-endian, modulo 1024) would put a proof: what a client
/// can compute for its own proofs and for a proof it has seen.
fn unkeyed_bucket(thumbprint: &[u8; 32], jti: &str) -> u64 {
    let mut input = thumbprint.to_vec();
    input.extend_from_slice(jti.as_bytes());
    let digest = hmac_sha256::Hash::hash(&input);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) % 1024
}

#[test]
fn a_flood_of_proofs_aimed_at_a_victims_bucket_never_frees_its_proof() {
    let (mut a, mut b) = two_workers(None);
    let victim_token = bound_token(TestKey::Es256);
    let victim = proof(TestKey::Es256, &victim_token, "victim-jti", "/orders");
    expect_forwarded(&mut a, &dpop_request(&victim_token, &victim, "/orders"));

    // The attacker holds its own bound token and key, and picks jtis whose proofs would
    // share the victim's bucket if buckets were chosen by an unkeyed hash.
    let target = unkeyed_bucket(&thumbprint(TestKey::Es256), "victim-jti");
    let attacker = thumbprint(TestKey::EdDsa);
    let attacker_token = bound_token(TestKey::EdDsa);
    let jtis: Vec<String> = (0u64..)
        .map(|i| format!("a-{i}"))
        .filter(|jti| unkeyed_bucket(&attacker, jti) == target)
        .take(1000)
        .collect();
    for (i, jti) in jtis.iter().enumerate() {
        let vm = if i % 2 == 0 { &mut a } else { &mut b };
        let p = proof(TestKey::EdDsa, &attacker_token, jti, "/orders");
        // 1 000 proofs are a small part of the default store (65 536): each is accepted.
        expect_forwarded(vm, &dpop_request(&attacker_token, &p, "/orders"));
    }
    b.tick().unwrap(); // worker b hands its counts over on its own timer
    assert_eq!(family(&mut a, "denied", &[]), 0);

    for (vm, which) in [(&mut a, "worker a"), (&mut b, "worker b")] {
        let (req, _) = send(vm, &dpop_request(&victim_token, &victim, "/orders"));
        let r = vm.local_response(req).unwrap().unwrap_or_else(|| {
            panic!("{which}: the victim's proof was accepted again after 1 000 proofs aimed at its bucket")
        });
        assert_replayed(&r, which);
    }
    b.tick().unwrap(); // worker b hands its counts over on its own timer
    assert_eq!(family(&mut a, "denied", &[("reason", "dpop_replayed")]), 2);
}

#[test]
fn a_full_store_refuses_the_new_proof_with_503_and_keeps_every_accepted_one() {
    // The smallest store: 1024 buckets of max(4, ceil(2 × 64 / 1024)) = 4 proofs, so a
    // refusal must come by the 4 097th proof.
    const CAPACITY: usize = 1024 * 4;
    let (mut a, mut b) = two_workers(Some(64));
    let token = bound_token(TestKey::EdDsa);
    let mut accepted = Vec::new();
    let mut refusal = None;
    for i in 0..=CAPACITY {
        let p = proof(TestKey::EdDsa, &token, &format!("p-{i}"), "/orders");
        let vm = if i % 2 == 0 { &mut a } else { &mut b };
        let (req, action) = send(vm, &dpop_request(&token, &p, "/orders"));
        match vm.local_response(req).unwrap() {
            None => {
                assert_eq!(action, Action::Continue);
                accepted.push(p);
            }
            Some(r) => {
                refusal = Some(r);
                break;
            }
        }
    }
    let r = refusal.unwrap_or_else(|| {
        panic!(
            "{} proofs accepted by a store of {CAPACITY}: a full bucket dropped a proof instead of refusing the new one",
            accepted.len()
        )
    });
    assert_eq!(r.status, 503, "{}", r.body_text());
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let retry = r.header("retry-after").expect("Retry-After");
    assert!(
        retry.parse::<u32>().is_ok_and(|s| s > 0),
        "Retry-After: {retry}"
    );
    b.tick().unwrap(); // worker b hands its counts over on its own timer
    assert_eq!(
        family(&mut a, "denied", &[("reason", "dpop_replay_store_full")]),
        1
    );
    b.tick().unwrap(); // worker b hands its counts over on its own timer
    assert_eq!(family(&mut a, "denied", &[]), 1);
    assert!(!accepted.is_empty());

    // Every proof the store took is still refused as a replay, on either worker.
    for (i, p) in accepted.iter().enumerate() {
        let vm = if i % 2 == 0 { &mut b } else { &mut a };
        let r = expect_local_response(vm, &dpop_request(&token, p, "/orders"));
        assert_replayed(&r, &format!("accepted proof #{i}"));
    }
    b.tick().unwrap(); // worker b hands its counts over on its own timer
    assert_eq!(
        family(&mut a, "denied", &[("reason", "dpop_replayed")]),
        accepted.len() as u64
    );
}

#[test]
fn a_request_refused_for_its_scope_writes_nothing_to_the_store() {
    let (mut a, _b) = two_workers(None);
    let token = bound_token(TestKey::Es256);
    // A first accepted proof: whatever the store sets up once (its secret, a bucket) exists.
    let first = proof(TestKey::Es256, &token, "first", "/orders");
    expect_forwarded(&mut a, &dpop_request(&token, &first, "/orders"));

    let before = a.process().shared_data_snapshot().unwrap();
    // /admin needs orders:admin; the token has orders:read orders:write.
    let admin = proof(TestKey::Es256, &token, "admin", "/admin");
    let r = expect_local_response(&mut a, &dpop_request(&token, &admin, "/admin"));
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["error"],
        "insufficient_scope"
    );
    assert_eq!(
        a.process().shared_data_snapshot().unwrap(),
        before,
        "a refused request wrote to shared data"
    );
    // So the same proof is refused for its scope again, not as a replay.
    let again = expect_local_response(&mut a, &dpop_request(&token, &admin, "/admin"));
    assert_eq!(again.status, 403, "{}", again.body_text());
    assert_eq!(family(&mut a, "denied", &[("reason", "dpop_replayed")]), 0);
    assert_eq!(
        family(&mut a, "denied", &[("reason", "insufficient_scope")]),
        2
    );
}
