//! Opaque tokens by introspection, through the built filter: the call belongs to the root
//! context (a client reset cannot cancel it), one call per token in flight (single flight),
//! the waiting requests decided by its answer, an answer arriving after its request is gone,
//! the shared cache seen by a second VM of the same process, failures as 503, inactive
//! answers kept for the negative window, and the token and secret never in a log line.

use serde_json::{json, Value};
use tollgate_abi_tests::{Action, FilterVm, LogLevel, Process};

use crate::common::{expect_local_response, family, module, send, testkit, NOW};

const TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA";
const SECRET: &str = "gateway-s3cret";

fn config(cache_seconds: u64) -> Value {
    let mut config = testkit::config();
    config["providers"][0]["introspection"] = json!({
        "cluster": "idsvr",
        "url": "https://login.example.test/oauth/v2/introspect",
        "client_id": "gateway",
        "client_secret": SECRET,
        "cache_seconds": cache_seconds,
        "timeout_ms": 2000
    });
    config
}

fn vm_in(process: &Process, config: &Value) -> FilterVm {
    let mut vm = FilterVm::in_process(module(), process).unwrap();
    assert!(
        vm.start(config.to_string().as_bytes()).unwrap(),
        "refused: {:?}",
        vm.logs_at(LogLevel::Critical)
    );
    vm
}

fn vm(config: &Value) -> FilterVm {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    vm_in(&process, config)
}

fn orders(token: &str) -> Vec<(String, String)> {
    testkit::request("GET", "/orders", Some(token))
}

fn active() -> Vec<u8> {
    json!({
        "active": true,
        "iss": testkit::ISSUER,
        "aud": testkit::AUDIENCE,
        "sub": "user-7",
        "client_id": "app-1",
        "scope": "orders:read",
        "exp": NOW + 600,
    })
    .to_string()
    .into_bytes()
}

fn answer(vm: &mut FilterVm, status: &str, body: &[u8]) {
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1, "exactly one introspection call in flight");
    vm.respond_to_http_call(calls[0].token, &[(":status", status)], body)
        .unwrap();
}

fn metric(vm: &mut FilterVm, name: &str) -> u64 {
    family(vm, name, &[("provider", "idsvr")])
}

#[test]
fn requests_with_one_token_share_one_call_sent_by_the_root_context() {
    let mut vm = vm(&config(300));
    let root = vm.root().unwrap();
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let (req, action) = send(&mut vm, &orders(TOKEN));
        assert_eq!(action, Action::Pause);
        assert_eq!(vm.local_response(req).unwrap(), None);
        waiting.push(req);
    }
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1, "single flight");
    let call = &calls[0];
    assert_eq!(call.context_id, root, "the call is the root context's");
    assert_eq!(call.upstream, "idsvr");
    assert_eq!(call.timeout_ms, 2000);
    assert_eq!(call.header(":method").as_deref(), Some("POST"));
    assert_eq!(
        call.header(":path").as_deref(),
        Some("/oauth/v2/introspect")
    );
    assert_eq!(
        call.header(":authority").as_deref(),
        Some("login.example.test")
    );
    assert_eq!(call.header("accept").as_deref(), Some("application/json"));
    assert_eq!(
        call.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // base64("gateway:gateway-s3cret")
    assert_eq!(
        call.header("authorization").as_deref(),
        Some("Basic Z2F0ZXdheTpnYXRld2F5LXMzY3JldA==")
    );
    assert_eq!(
        String::from_utf8_lossy(&call.body),
        format!("token={TOKEN}&token_type_hint=access_token")
    );

    answer(&mut vm, "200", &active());
    for req in waiting {
        assert_eq!(
            vm.resumed(req).unwrap(),
            vec![0],
            "resumed after the answer"
        );
        assert_eq!(vm.local_response(req).unwrap(), None);
        assert_eq!(
            vm.request_header(req, "x-user-id").unwrap().as_deref(),
            Some("user-7")
        );
    }
    // The next request is decided at once, without a call.
    let (req, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert!(vm.pending_http_calls().is_empty());
    assert_eq!(metric(&mut vm, "introspection_calls"), 1);
    assert_eq!(metric(&mut vm, "introspection_cache_miss"), 3);
    // Scopes still decide per rule.
    let post = testkit::request("POST", "/orders", Some(TOKEN));
    assert_eq!(expect_local_response(&mut vm, &post).status, 403);

    // Neither the token nor the client secret is ever logged.
    for line in vm.logs() {
        assert!(!line.message.contains(TOKEN), "{}", line.message);
        assert!(!line.message.contains(SECRET), "{}", line.message);
    }
    assert!(vm.crashed().is_none());
}

#[test]
fn a_reset_during_the_call_does_not_lose_its_answer() {
    let mut vm = vm(&config(300));
    let (attacker, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    vm.finish(attacker).unwrap();
    answer(&mut vm, "200", &active());
    assert!(vm.crashed().is_none());
    // The verdict was kept: the next request with the token passes without a call.
    let (req, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert!(vm.pending_http_calls().is_empty());
    assert_eq!(metric(&mut vm, "introspection_calls"), 1);
}

#[test]
fn an_answer_after_its_request_timed_out_is_still_kept() {
    let mut vm = vm(&config(300));
    let (req, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    // The wait ends (timeout_ms and the grace) before any answer: 503, never a pass.
    vm.advance_seconds(3).unwrap();
    vm.tick().unwrap();
    let response = vm
        .local_response(req)
        .unwrap()
        .expect("answered at its deadline");
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after").as_deref(), Some("5"));
    assert_eq!(
        family(
            &mut vm,
            "denied",
            &[("provider", "idsvr"), ("reason", "introspection_timeout")]
        ),
        1
    );
    vm.finish(req).unwrap();
    // The late answer arrives after the request is gone: kept for the next one.
    answer(&mut vm, "200", &active());
    assert!(vm.crashed().is_none());
    let (next, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.local_response(next).unwrap(), None);
    assert!(vm.pending_http_calls().is_empty());
}

#[test]
fn a_second_vm_of_the_process_uses_the_shared_cache() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut first = vm_in(&process, &config(300));
    let mut second = vm_in(&process, &config(300));
    let (req, action) = send(&mut first, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    answer(&mut first, "200", &active());
    assert_eq!(first.resumed(req).unwrap(), vec![0]);

    let (req, action) = send(&mut second, &orders(TOKEN));
    assert_eq!(
        action,
        Action::Continue,
        "no call: the other worker's verdict"
    );
    assert_eq!(
        second.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-7")
    );
    assert!(second.pending_http_calls().is_empty());
    assert_eq!(metric(&mut second, "introspection_cache_hit"), 1);
    assert_eq!(metric(&mut second, "introspection_calls"), 1);
    // The shared entry is named by a keyed hash: the token is in no key and no value.
    for (key, (value, _)) in process.shared_data_snapshot().unwrap() {
        assert!(!key.contains(TOKEN));
        assert!(!String::from_utf8_lossy(&value).contains(TOKEN));
    }
}

#[test]
fn inactive_answers_are_401_and_kept_for_the_negative_window() {
    let mut vm = vm(&config(300));
    let (req, _) = send(&mut vm, &orders(TOKEN));
    answer(&mut vm, "200", br#"{"active":false}"#);
    let response = vm.local_response(req).unwrap().expect("answered");
    assert_eq!(response.status, 401);
    assert!(response
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    // Within the negative window: no second call.
    assert_eq!(expect_local_response(&mut vm, &orders(TOKEN)).status, 401);
    assert!(vm.pending_http_calls().is_empty());
    assert_eq!(metric(&mut vm, "introspection_inactive"), 1);
    // After it (10 s): asked again.
    vm.advance_seconds(11).unwrap();
    let (_, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    assert_eq!(vm.pending_http_calls().len(), 1);
}

#[test]
fn server_failures_are_503_never_401_or_a_pass() {
    let cases: [(&str, Option<&str>, &[u8], &str); 3] = [
        ("down", None, b"", "introspection_unavailable"),
        ("5xx", Some("500"), b"oops", "introspection_unavailable"),
        (
            "garbage",
            Some("200"),
            b"<html>",
            "introspection_bad_answer",
        ),
    ];
    for (case, status, body, reason) in cases {
        let mut vm = vm(&config(300));
        let (req, action) = send(&mut vm, &orders(TOKEN));
        assert_eq!(action, Action::Pause, "{case}");
        let token = vm.pending_http_calls()[0].token;
        match status {
            None => vm.fail_http_call(token).unwrap(),
            Some(status) => vm
                .respond_to_http_call(token, &[(":status", status)], body)
                .unwrap(),
        }
        let response = vm.local_response(req).unwrap().expect(case);
        assert_eq!(response.status, 503, "{case}");
        assert_eq!(
            response.header("retry-after").as_deref(),
            Some("5"),
            "{case}"
        );
        assert_eq!(
            family(&mut vm, "introspection_failed", &[("reason", reason)]),
            1,
            "{case}"
        );
        // Failures are not kept: the next request asks again.
        let (_, action) = send(&mut vm, &orders(TOKEN));
        assert_eq!(action, Action::Pause, "{case}");
        assert_eq!(vm.pending_http_calls().len(), 1, "{case}");
    }
}

#[test]
fn without_caching_every_request_asks() {
    let mut vm = vm(&config(0));
    for round in 1..=2 {
        let (req, action) = send(&mut vm, &orders(TOKEN));
        assert_eq!(action, Action::Pause);
        answer(&mut vm, "200", &active());
        assert_eq!(vm.resumed(req).unwrap(), vec![0]);
        assert_eq!(metric(&mut vm, "introspection_calls"), round);
    }
}

#[test]
fn a_server_slower_than_timeout_ms_is_a_timeout() {
    let mut vm = vm(&config(300));
    let (req, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    // Envoy ends the call at `timeout_ms` with its own 504 (the router's "upstream request
    // timeout"), before the request's own deadline.
    vm.advance_seconds(2).unwrap();
    answer(&mut vm, "504", b"upstream request timeout");
    let response = vm.local_response(req).unwrap().expect("answered");
    assert_eq!(response.status, 503);
    assert_eq!(
        family(
            &mut vm,
            "introspection_failed",
            &[("reason", "introspection_timeout")]
        ),
        1
    );
    // A quick 504 from the server itself is no timeout.
    let (req, _) = send(&mut vm, &orders(TOKEN));
    answer(&mut vm, "504", b"");
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 503);
    assert_eq!(
        family(
            &mut vm,
            "introspection_failed",
            &[("reason", "introspection_unavailable")]
        ),
        1
    );
}

#[test]
fn a_signed_answer_waits_for_the_keys_that_check_it() {
    let mut config = config(300);
    config["providers"][0]["jwks"] = json!({ "remote": {
        "cluster": "idsvr", "url": "https://login.example.test/jwks", "timeout_ms": 2000 } });
    config["providers"][0]["introspection"]["response"] = json!("phantom");
    config["providers"][0]["introspection"]["forward"] = json!("jwt");
    let mut vm = vm(&config);
    let (req, action) = send(&mut vm, &orders(TOKEN));
    assert_eq!(action, Action::Pause);
    // First the keys (no request has brought them yet) ...
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header(":method").as_deref(), Some("GET"));
    assert_eq!(calls[0].header(":path").as_deref(), Some("/jwks"));
    vm.respond_to_http_call(
        calls[0].token,
        &[(":status", "200")],
        testkit::jwks(&[testkit::TestKey::Es256])
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    // ... then the introspection call, whose answer they check.
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(
        calls.len(),
        1,
        "the request went on to the introspection call"
    );
    assert_eq!(calls[0].header(":method").as_deref(), Some("POST"));
    assert_eq!(
        calls[0].header("accept").as_deref(),
        Some("application/jwt")
    );
    let jwt = testkit::token(testkit::TestKey::Es256, NOW);
    answer(&mut vm, "200", jwt.as_bytes());
    assert_eq!(vm.resumed(req).unwrap(), vec![0]);
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert_eq!(
        vm.request_header(req, "authorization").unwrap(),
        Some(format!("Bearer {jwt}")),
        "forward: jwt hands the API the phantom JWT"
    );
    assert_eq!(
        vm.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-1")
    );
}
