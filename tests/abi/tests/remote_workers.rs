//! Remote key sets across worker VMs and at start-up: a VM that Envoy discards
//! right after configuring it must not hold the fetch lease, and a key another worker has
//! just refetched is used at once instead of a 401. Also: unusable keys of a fetched JWKS
//! are skipped one by one, each with a log line.

use serde_json::json;
use tollgate_abi_tests::{Action, FilterVm, LogLevel, Process};

use crate::common::{expect_forwarded, family, module, send, testkit, TestKey, NOW};
use crate::remote_jwks::{answer_pending, jwks_body, orders, remote_config, started, vm_in};

/// A started VM that has not ticked yet.
fn configured_only(process: &Process) -> FilterVm {
    let mut vm = FilterVm::in_process(module(), process).unwrap();
    assert!(vm.start(remote_config().to_string().as_bytes()).unwrap());
    vm
}

#[test]
fn a_vm_discarded_after_configure_does_not_hold_the_fetch_lease() {
    // Envoy configures an extra VM while loading a configuration and destroys it at once;
    // it never ticks and never sees an answer.
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let discarded = configured_only(&process);
    let mut worker = configured_only(&process);

    // The first request, before any tick, starts the fetch itself instead of waiting for a
    // lease held by the discarded VM.
    let (req, action) = send(&mut worker, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    assert!(discarded.pending_http_calls().is_empty());
    assert_eq!(worker.pending_http_calls().len(), 1);
    answer_pending(&mut worker, &jwks_body());
    assert_eq!(worker.resumed(req).unwrap(), vec![0]);
}

#[test]
fn a_key_another_worker_just_refetched_is_used_at_once() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut a = vm_in(&process, &remote_config());
    let mut b = vm_in(&process, &remote_config());
    answer_pending(
        &mut a,
        &testkit::jwks(&[TestKey::Es256]).to_string().into_bytes(),
    );
    b.tick().unwrap();
    expect_forwarded(&mut b, &orders(TestKey::Es256, NOW));

    // The server rotated to the EdDSA key; worker a sees the first token and refetches.
    let (req, action) = send(&mut a, &orders(TestKey::EdDsa, NOW));
    assert_eq!(action, Action::Pause);
    answer_pending(&mut a, &jwks_body());
    assert_eq!(a.resumed(req).unwrap(), vec![0]);

    // Worker b gets such a token before its next tick: the refetch interval forbids a
    // refetch of its own, but the key is already in shared data, so the request passes.
    expect_forwarded(&mut b, &orders(TestKey::EdDsa, NOW));
    assert!(b.pending_http_calls().is_empty());
    assert_eq!(family(&mut b, "denied", &[("reason", "unknown_kid")]), 0);
    assert_eq!(
        family(&mut b, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
}

#[test]
fn unusable_keys_are_skipped_one_by_one_with_a_log_line() {
    let mut vm = started(&remote_config());
    let mut enc = TestKey::EdDsa.public_jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("encryption-key");
    let body = json!({ "keys": [
        TestKey::Es256.public_jwk(),
        { "kty": "oct", "kid": "shared-secret", "k": "c2VjcmV0" },
        enc,
        { "kty": "EC", "crv": "P-256", "kid": "broken", "x": "AAAA", "y": "AAAA" },
    ]});
    answer_pending(&mut vm, body.to_string().as_bytes());

    assert_eq!(
        family(&mut vm, "jwks_fetch_success", &[("provider", "remote")]),
        1
    );
    assert_eq!(
        vm.metric("tollgate.prefix.tollgate.provider.remote.jwks_keys")
            .unwrap(),
        Some(1)
    );
    let warnings = vm.logs_at(LogLevel::Warn);
    for line in [
        "provider remote: JWKS key #1 (kid shared-secret) skipped: unsupported key type (kty)",
        "provider remote: JWKS key #2 (kid encryption-key) skipped: key use is not \"sig\"",
        "provider remote: JWKS key #3 (kid broken) skipped: key material cannot be imported",
    ] {
        assert!(warnings.iter().any(|w| w == line), "{line}\n{warnings:#?}");
    }
    expect_forwarded(&mut vm, &orders(TestKey::Es256, NOW));
}
