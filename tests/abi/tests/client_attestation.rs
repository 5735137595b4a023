//! Client attestation through the built filter: a token-endpoint gate lets the headers on
//! (a proxy-wasm host would otherwise never deliver the body) and gathers the form body over
//! several body callbacks (no byte forwarded before the decision, everything forwarded byte
//! for byte after an allow), refuses an oversized body at once, decides at trailers, and
//! remembers a PoP in the replay store shared by two VMs of one process; the challenge
//! endpoint is answered by the filter. Attestations and PoPs are signed with the test keys.

use serde_json::{json, Map, Value};
use tollgate_abi_tests::{Action, FilterVm, LogLevel, Process};

use crate::common::{counter, module, testkit, TestKey, NOW};

const ATTESTER: TestKey = TestKey::PartnerEs256;
const INSTANCE: TestKey = TestKey::Rogue;
const AS: &str = "https://login.example.test";
const SECRET: &str = "c2VjcmV0LXdpdGgtYXQtbGVhc3QtMzItYnl0ZXMtb2YtZW50cm9weQ";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn config() -> Value {
    let mut cfg = testkit::config();
    cfg["client_attestation"] = json!({
        "attesters": [{ "name": "app-attester", "jwks": { "inline": testkit::jwks(&[ATTESTER]) } }],
        "challenges": { "secret": SECRET, "endpoint": "/attestation/challenge" }
    });
    cfg["rules"].as_array_mut().unwrap().insert(
        0,
        json!({ "match": { "path": "/oauth/token", "methods": ["POST"] }, "anonymous": true,
                "client_attestation": { "audience": AS, "grant_types": ["refresh_token"],
                                        "max_body_bytes": 1024 } }),
    );
    cfg
}

fn vm_in(process: &Process) -> FilterVm {
    let mut vm = FilterVm::in_process(module(), process).unwrap();
    assert!(
        vm.start(config().to_string().as_bytes()).unwrap(),
        "{:?}",
        vm.logs()
    );
    vm
}

fn attestation() -> String {
    let mut jwk = INSTANCE.public_jwk();
    for m in ["kid", "alg", "use"] {
        jwk.as_object_mut().unwrap().remove(m);
    }
    testkit::mint(
        ATTESTER,
        &obj(
            json!({ "typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": ATTESTER.kid() }),
        ),
        &obj(json!({ "sub": "app-1", "iat": NOW, "exp": NOW + 3600, "cnf": { "jwk": jwk } })),
    )
}

/// The current challenge, as the challenge endpoint hands it out.
fn challenge(vm: &mut FilterVm) -> String {
    let req = vm.new_http_context().unwrap();
    let headers = testkit::request("POST", "/attestation/challenge", None);
    assert_eq!(
        vm.on_request_headers(req, &headers, true).unwrap(),
        Action::Pause
    );
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    body["attestation_challenge"].as_str().unwrap().to_owned()
}

fn pop(jti: &str, challenge: &str) -> String {
    testkit::mint(
        INSTANCE,
        &obj(json!({ "typ": "oauth-client-attestation-pop+jwt", "alg": "EdDSA" })),
        &obj(json!({ "aud": AS, "jti": jti, "iat": NOW, "challenge": challenge })),
    )
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

/// Headers, then the body in `chunks` (the last one ends the stream); the actions.
fn send(vm: &mut FilterVm, headers: &[(String, String)], chunks: &[&[u8]]) -> (u32, Vec<Action>) {
    let req = vm.new_http_context().unwrap();
    let mut actions = vec![vm.on_request_headers(req, headers, false).unwrap()];
    for (i, chunk) in chunks.iter().enumerate() {
        actions.push(
            vm.on_request_body(req, chunk, i + 1 == chunks.len())
                .unwrap(),
        );
    }
    (req, actions)
}

const BODY: [&[u8]; 3] = [
    b"grant_type=refr",
    b"esh%5Ftoken&refresh_token=rt-1",
    b"&client_id=app-1",
];

#[test]
fn an_attested_refresh_is_forwarded_whole_after_the_last_chunk() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let (a, c) = (attestation(), challenge(&mut vm));
    let p = pop("pop-1", &c);
    let headers = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    let (req, actions) = send(&mut vm, &headers, &BODY);
    assert_eq!(
        actions,
        vec![
            Action::Continue,
            Action::Pause,
            Action::Pause,
            Action::Continue
        ]
    );
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert_eq!(vm.forwarded_body(req).unwrap(), BODY.concat());
    // The attestation does not go on to the authorization server (forward_attestation: false).
    assert_eq!(
        vm.request_header(req, "oauth-client-attestation").unwrap(),
        None
    );
    assert_eq!(
        vm.request_header(req, "oauth-client-attestation-pop")
            .unwrap(),
        None
    );
    // Nothing of the attestation or PoP is ever logged.
    assert!(vm
        .logs()
        .iter()
        .all(|l| !l.message.contains(&a[..40]) && !l.message.contains(&p[..40])));
}

#[test]
fn a_refresh_without_attestation_never_reaches_the_upstream() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let (req, actions) = send(&mut vm, &token_request(&[]), &BODY);
    assert_eq!(
        actions,
        vec![
            Action::Continue,
            Action::Pause,
            Action::Pause,
            Action::Pause
        ]
    );
    assert_eq!(vm.forwarded_body(req).unwrap(), b"");
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), None);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        counter(
            &mut vm,
            "tollgate.prefix.tollgate.provider.none.reason.attestation_missing.denied"
        ),
        1
    );
}

#[test]
fn other_grants_pass_byte_for_byte() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let chunks: [&[u8]; 2] = [
        b"grant_type=authorization_code&co",
        b"de=c%2B1&redirect_uri=x",
    ];
    let (req, actions) = send(&mut vm, &token_request(&[]), &chunks);
    assert_eq!(
        actions,
        vec![Action::Continue, Action::Pause, Action::Continue]
    );
    assert_eq!(vm.forwarded_body(req).unwrap(), chunks.concat());
}

#[test]
fn a_body_past_the_bound_is_refused_at_once() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let req = vm.new_http_context().unwrap();
    assert_eq!(
        vm.on_request_headers(req, &token_request(&[]), false)
            .unwrap(),
        Action::Continue
    );
    assert_eq!(
        vm.on_request_body(req, &[b'a'; 1000], false).unwrap(),
        Action::Pause
    );
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert_eq!(
        vm.on_request_body(req, &[b'a'; 100], false).unwrap(),
        Action::Pause
    );
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(vm.forwarded_body(req).unwrap(), b"");
}

#[test]
fn a_non_canonical_path_is_rewritten_before_the_headers_go_on() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let mut headers = token_request(&[]);
    headers[1].1 = "/oauth/%74oken?x=1".into();
    let chunks: [&[u8]; 1] = [b"grant_type=client_credentials"];
    let (req, actions) = send(&mut vm, &headers, &chunks);
    assert_eq!(actions, vec![Action::Continue, Action::Continue]);
    assert_eq!(
        vm.request_header(req, ":path").unwrap().as_deref(),
        Some("/oauth/token?x=1")
    );
    assert_eq!(vm.forwarded_body(req).unwrap(), chunks.concat());
}

#[test]
fn trailers_end_the_body() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let req = vm.new_http_context().unwrap();
    assert_eq!(
        vm.on_request_headers(req, &token_request(&[]), false)
            .unwrap(),
        Action::Continue
    );
    assert_eq!(
        vm.on_request_body(req, b"grant_type=refresh_token", false)
            .unwrap(),
        Action::Pause
    );
    assert_eq!(
        vm.on_request_trailers(req, &[("x-t", "1")]).unwrap(),
        Action::Pause
    );
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 401);
    assert_eq!(vm.forwarded_body(req).unwrap(), b"");
}

#[test]
fn a_pop_is_refused_on_a_second_vm_of_the_process() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut first = vm_in(&process);
    let mut second = vm_in(&process);
    let (a, c) = (attestation(), challenge(&mut first));
    // Challenges need no storage: the second VM accepts the first one's.
    assert_eq!(challenge(&mut second), c);
    let p = pop("pop-shared", &c);
    let headers = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    let (req, actions) = send(&mut first, &headers, &BODY);
    assert_eq!(actions.last(), Some(&Action::Continue));
    assert_eq!(first.forwarded_body(req).unwrap(), BODY.concat());
    let (req, actions) = send(&mut second, &headers, &BODY);
    assert_eq!(actions.last(), Some(&Action::Pause));
    let r = second.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 401);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({ "error": "invalid_client", "error_description": "the client attestation PoP was used before" })
    );
    assert_eq!(
        counter(
            &mut second,
            "tollgate.prefix.tollgate.provider.none.reason.attestation_pop_replayed.denied"
        ),
        1
    );
    assert!(second
        .logs_at(LogLevel::Info)
        .iter()
        .any(|l| l.contains("reason=attestation_pop_replayed")));
}

#[test]
fn a_missing_challenge_is_answered_with_a_fresh_one() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let a = attestation();
    let p = testkit::mint(
        INSTANCE,
        &obj(json!({ "typ": "oauth-client-attestation-pop+jwt", "alg": "EdDSA" })),
        &obj(json!({ "aud": AS, "jti": "no-challenge", "iat": NOW })),
    );
    let headers = token_request(&[
        ("oauth-client-attestation", &a),
        ("oauth-client-attestation-pop", &p),
    ]);
    let (req, _) = send(&mut vm, &headers, &BODY);
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 400);
    let fresh = r.header("oauth-client-attestation-challenge").unwrap();
    assert_eq!(fresh, challenge(&mut vm));
}

#[test]
fn the_challenge_endpoint_takes_post_only() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let req = vm.new_http_context().unwrap();
    let headers = testkit::request("GET", "/attestation/challenge", None);
    assert_eq!(
        vm.on_request_headers(req, &headers, true).unwrap(),
        Action::Pause
    );
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
}

#[test]
fn a_gated_request_without_a_body_is_decided_at_its_headers() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = vm_in(&process);
    let req = vm.new_http_context().unwrap();
    assert_eq!(
        vm.on_request_headers(req, &token_request(&[]), true)
            .unwrap(),
        Action::Pause
    );
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 400);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[test]
fn the_metadata_document_is_answered_next_to_the_challenge_endpoint() {
    // Both local answers live in one place: configuring attestation must not hide the
    // protected resource metadata document behind the rules.
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut cfg = config();
    cfg["resource_metadata"] = json!({ "resource": "https://api.example.test" });
    let mut vm = FilterVm::in_process(module(), &process).unwrap();
    assert!(
        vm.start(cfg.to_string().as_bytes()).unwrap(),
        "{:?}",
        vm.logs()
    );
    let req = vm.new_http_context().unwrap();
    let headers = testkit::request("GET", "/.well-known/oauth-protected-resource", None);
    assert_eq!(
        vm.on_request_headers(req, &headers, true).unwrap(),
        Action::Pause
    );
    let r = vm.local_response(req).unwrap().unwrap();
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["resource"], json!("https://api.example.test"));
    assert_eq!(challenge(&mut vm).len(), 32);
}
