//! Remote key sets: the plugin fetches a provider's JWKS through an Envoy
//! cluster, one fetch per process shared by every worker VM, refreshes it on the timer,
//! and keeps the last good keys when a fetch fails.

use serde_json::json;
use tollgate_abi_tests::{Action, FilterVm, Process};

use crate::common::{
    expect_forwarded, expect_local_response, family, module, send, testkit, TestKey, NOW,
};

const JWKS_URL: &str = "https://idp.example.test/keys/jwks.json";

pub(crate) fn remote_config() -> serde_json::Value {
    json!({
        "realm": "tollgate-test",
        "providers": [{
            "name": "remote",
            "issuer": testkit::ISSUER,
            "audiences": [testkit::AUDIENCE],
            "jwks": { "remote": { "cluster": "idp", "url": JWKS_URL, "timeout_ms": 2000, "cache_seconds": 600 } }
        }],
        "rules": [{ "match": { "prefix": "/" } }],
        "claims_to_headers": { "sub": "x-user-id" }
    })
}

pub(crate) fn discovery_config() -> serde_json::Value {
    let mut config = remote_config();
    config["providers"][0]["jwks"] = json!({ "discovery": { "cluster": "idp" } });
    config
}

/// A started VM after Envoy's first timer tick (the first fetch starts there, not at
/// configure: see `a_vm_discarded_after_configure_does_not_hold_the_fetch_lease`).
pub(crate) fn vm_in(process: &Process, config: &serde_json::Value) -> FilterVm {
    let mut vm = FilterVm::in_process(module(), process).unwrap();
    assert!(
        vm.start(config.to_string().as_bytes()).unwrap(),
        "{:?}",
        vm.logs()
    );
    assert!(
        vm.pending_http_calls().is_empty(),
        "nothing is fetched at configure"
    );
    vm.tick().unwrap();
    vm
}

pub(crate) fn started(config: &serde_json::Value) -> FilterVm {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    vm_in(&process, config)
}

pub(crate) fn jwks_body() -> Vec<u8> {
    testkit::jwks(&[TestKey::Es256, TestKey::EdDsa])
        .to_string()
        .into_bytes()
}

/// The single pending callout; answers it with 200 and `body`.
pub(crate) fn answer_pending(vm: &mut FilterVm, body: &[u8]) {
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    vm.respond_to_http_call(calls[0].token, &[(":status", "200")], body)
        .unwrap();
}

pub(crate) fn orders(key: TestKey, now: u64) -> Vec<(String, String)> {
    testkit::request("GET", "/orders", Some(&testkit::token(key, now)))
}

#[test]
fn first_fetch_starts_on_the_first_tick_and_its_keys_are_used() {
    let mut vm = started(&remote_config());

    assert_eq!(vm.tick_period_ms().unwrap(), 1000);
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].upstream, "idp");
    assert_eq!(calls[0].header(":method").as_deref(), Some("GET"));
    assert_eq!(
        calls[0].header(":authority").as_deref(),
        Some("idp.example.test")
    );
    assert_eq!(calls[0].header(":path").as_deref(), Some("/keys/jwks.json"));
    assert_eq!(calls[0].timeout_ms, 2000);

    answer_pending(&mut vm, &jwks_body());

    assert_eq!(
        family(&mut vm, "jwks_fetch_success", &[("provider", "remote")]),
        1
    );
    assert_eq!(
        vm.metric("tollgate.prefix.tollgate.provider.remote.jwks_keys")
            .unwrap(),
        Some(2)
    );
    let req = expect_forwarded(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(
        vm.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-1")
    );
    expect_forwarded(&mut vm, &orders(TestKey::EdDsa, NOW));
    assert_eq!(family(&mut vm, "allowed", &[("provider", "remote")]), 2);
    // Nothing more to fetch until the refresh is due.
    vm.tick().unwrap();
    assert!(vm.pending_http_calls().is_empty());
}

#[test]
fn two_workers_share_one_fetch_through_shared_data() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut first = vm_in(&process, &remote_config());
    let mut second = vm_in(&process, &remote_config());

    // The first worker holds the fetch lease: the second does not fetch.
    assert_eq!(first.pending_http_calls().len(), 1);
    assert!(second.pending_http_calls().is_empty());

    answer_pending(&mut first, &jwks_body());
    second.tick().unwrap();

    assert!(second.pending_http_calls().is_empty());
    expect_forwarded(&mut second, &orders(TestKey::Es256, NOW));
    // Counters are per process: one fetch in all.
    assert_eq!(
        family(&mut second, "jwks_fetch_success", &[("provider", "remote")]),
        1
    );
}

#[test]
fn keys_are_refreshed_on_the_timer() {
    let mut vm = started(&remote_config());
    answer_pending(&mut vm, &jwks_body());

    // cache_seconds 600: refresh after 80 % = 480 s.
    vm.advance_seconds(479).unwrap();
    vm.tick().unwrap();
    assert!(vm.pending_http_calls().is_empty());
    vm.advance_seconds(1).unwrap();
    vm.tick().unwrap();
    assert_eq!(vm.pending_http_calls().len(), 1);

    // The rotated JWKS replaces the old one: the EdDSA key is gone.
    answer_pending(
        &mut vm,
        &testkit::jwks(&[TestKey::Es256]).to_string().into_bytes(),
    );
    let now = NOW + 480;
    expect_forwarded(&mut vm, &orders(TestKey::Es256, now));
    // The EdDSA kid is unknown now: the request waits for a refetch, which confirms it.
    let (req, action) = send(&mut vm, &orders(TestKey::EdDsa, now));
    assert_eq!(action, Action::Pause);
    answer_pending(
        &mut vm,
        &testkit::jwks(&[TestKey::Es256]).to_string().into_bytes(),
    );
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 401);
    assert_eq!(family(&mut vm, "denied", &[("reason", "unknown_kid")]), 1);
}

/// One way a callout can fail: answers the call with that token.
type FailCall = Box<dyn Fn(&mut FilterVm, u32)>;

#[test]
fn failed_refreshes_keep_the_last_good_keys() {
    let mut vm = started(&remote_config());
    answer_pending(&mut vm, &jwks_body());
    let mut now = NOW;

    let failures: Vec<(&str, FailCall)> = vec![
        (
            "HTTP 500",
            Box::new(|vm, t| {
                vm.respond_to_http_call(t, &[(":status", "500")], b"oops")
                    .unwrap()
            }),
        ),
        ("no answer", Box::new(|vm, t| vm.fail_http_call(t).unwrap())),
        (
            "not JSON",
            Box::new(|vm, t| {
                vm.respond_to_http_call(t, &[(":status", "200")], b"<html>")
                    .unwrap()
            }),
        ),
        (
            "no usable key",
            Box::new(|vm, t| {
                vm.respond_to_http_call(t, &[(":status", "200")], br#"{"keys":[]}"#)
                    .unwrap()
            }),
        ),
        (
            "oversize",
            Box::new(|vm, t| {
                vm.respond_to_http_call(t, &[(":status", "200")], &vec![b' '; 300 * 1024])
                    .unwrap()
            }),
        ),
    ];
    for (i, (label, fail)) in failures.iter().enumerate() {
        // Wait until the next attempt is due (refresh, then growing backoff).
        let mut waited = 0;
        while vm.pending_http_calls().is_empty() {
            vm.advance_seconds(10).unwrap();
            now += 10;
            waited += 10;
            assert!(waited <= 600, "{label}: no retry within 600 s");
            vm.tick().unwrap();
        }
        let token = vm.pending_http_calls()[0].token;
        fail(&mut vm, token);
        assert_eq!(
            family(&mut vm, "jwks_fetch_failed", &[("provider", "remote")]),
            i as u64 + 1,
            "{label}"
        );
        expect_forwarded(&mut vm, &orders(TestKey::Es256, now));
    }
    assert_eq!(
        vm.metric("tollgate.prefix.tollgate.provider.remote.jwks_keys")
            .unwrap(),
        Some(2)
    );
    assert!(vm.crashed().is_none());
}

#[test]
fn an_unknown_cluster_is_a_failed_fetch() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = FilterVm::in_process(module(), &process).unwrap();
    vm.set_known_clusters(&["some-other-cluster"]);
    assert!(vm.start(remote_config().to_string().as_bytes()).unwrap());
    vm.tick().unwrap();

    assert_eq!(vm.refused_http_calls(), ["idp"]);
    assert!(vm.pending_http_calls().is_empty());
    assert_eq!(
        family(&mut vm, "jwks_fetch_failed", &[("provider", "remote")]),
        1
    );
    assert_eq!(
        expect_local_response(&mut vm, &orders(TestKey::Es256, NOW)).status,
        503
    );
}

#[test]
fn discovery_finds_the_jwks_uri_then_fetches_it() {
    let mut vm = started(&discovery_config());

    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].header(":authority").as_deref(),
        Some("login.example.test")
    );
    assert_eq!(
        calls[0].header(":path").as_deref(),
        Some("/oauth/v2/anonymous/.well-known/openid-configuration")
    );
    let document = json!({ "issuer": testkit::ISSUER, "jwks_uri": "https://login.example.test/oauth/v2/anonymous/jwks" });
    answer_pending(&mut vm, document.to_string().as_bytes());

    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].header(":path").as_deref(),
        Some("/oauth/v2/anonymous/jwks")
    );
    answer_pending(&mut vm, &jwks_body());

    expect_forwarded(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(
        family(&mut vm, "jwks_fetch_success", &[("provider", "remote")]),
        1
    );
}

#[test]
fn discovery_document_of_another_issuer_is_refused() {
    let mut vm = started(&discovery_config());
    let document = json!({ "issuer": "https://evil.example.test", "jwks_uri": "https://evil.example.test/jwks" });
    answer_pending(&mut vm, document.to_string().as_bytes());

    assert!(
        vm.pending_http_calls().is_empty(),
        "must not follow the other issuer's jwks_uri"
    );
    assert_eq!(
        family(&mut vm, "jwks_fetch_failed", &[("provider", "remote")]),
        1
    );

    // A request retries the discovery at once (rate limited) and gets 503 when it fails again.
    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]
        .header(":path")
        .unwrap()
        .ends_with("/.well-known/openid-configuration"));
    answer_pending(&mut vm, document.to_string().as_bytes());
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 503);
}
