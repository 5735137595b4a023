//! Requests that need remote keys wait for them instead of failing at once: before the
//! first fetch answered, and when their token names a `kid` that a refetch may bring.
//! The wait is bounded; a server-side failure is a 503 with `Retry-After`, never a 401.

use tollgate_abi_tests::{Action, Process};

use crate::common::{expect_local_response, family, send, testkit, TestKey, NOW};
use crate::remote_jwks::{answer_pending, jwks_body, orders, remote_config, started, vm_in};

#[test]
fn first_request_waits_for_the_first_fetch_and_then_passes() {
    let mut vm = started(&remote_config());

    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    assert_eq!(vm.local_response(req).unwrap(), None);

    answer_pending(&mut vm, &jwks_body());

    assert_eq!(
        vm.resumed(req).unwrap(),
        vec![0],
        "the request must be resumed"
    );
    assert_eq!(vm.local_response(req).unwrap(), None);
    assert_eq!(
        vm.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-1")
    );
    assert_eq!(family(&mut vm, "allowed", &[("provider", "remote")]), 1);
}

#[test]
fn waiting_request_gets_503_retry_after_when_the_fetch_fails() {
    let mut vm = started(&remote_config());
    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);

    let token = vm.pending_http_calls()[0].token;
    vm.fail_http_call(token).unwrap();

    let response = vm
        .local_response(req)
        .unwrap()
        .expect("answered after the failure");
    assert_eq!(response.status, 503);
    assert!(response.header("retry-after").is_some());
    assert_eq!(response.header("www-authenticate"), None);
    assert!(vm.resumed(req).unwrap().is_empty());
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "keys_unavailable")]),
        1
    );

    // Right after, a new request retries at once (rate limited): one refetch, then 503.
    let (second, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
    let token = vm.pending_http_calls()[0].token;
    vm.respond_to_http_call(token, &[(":status", "503")], b"")
        .unwrap();
    assert_eq!(vm.local_response(second).unwrap().unwrap().status, 503);

    // Within the refetch interval and the backoff: answered at once, nothing fetched.
    assert_eq!(
        expect_local_response(&mut vm, &orders(TestKey::Es256, NOW)).status,
        503
    );
    assert!(vm.pending_http_calls().is_empty());
}

#[test]
fn the_wait_is_bounded_by_the_fetch_timeout() {
    let mut vm = started(&remote_config()); // timeout_ms 2000
    let (req, _) = send(&mut vm, &orders(TestKey::Es256, NOW));

    vm.advance_seconds(1).unwrap();
    vm.tick().unwrap();
    assert_eq!(
        vm.local_response(req).unwrap(),
        None,
        "still within the timeout"
    );

    vm.advance_seconds(1).unwrap();
    vm.tick().unwrap();
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 503);
}

#[test]
fn unknown_kid_waits_for_one_refetch_and_a_flood_of_forged_kids_fetches_once() {
    let mut vm = started(&remote_config());
    answer_pending(
        &mut vm,
        &testkit::jwks(&[TestKey::Es256]).to_string().into_bytes(),
    );

    // The server rotated in an EdDSA key: its first token triggers a refetch and waits.
    let (req, action) = send(&mut vm, &orders(TestKey::EdDsa, NOW));
    assert_eq!(action, Action::Pause);
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
    answer_pending(&mut vm, &jwks_body());
    assert_eq!(vm.resumed(req).unwrap(), vec![0]);
    assert_eq!(vm.local_response(req).unwrap(), None);

    // Forged kids right after: rate limited, answered 401 at once, no fetch.
    for _ in 0..50 {
        let response = expect_local_response(&mut vm, &orders(TestKey::Rogue, NOW + 1));
        assert_eq!(response.status, 401);
    }
    assert!(vm.pending_http_calls().is_empty());
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
    assert_eq!(family(&mut vm, "denied", &[("reason", "unknown_kid")]), 50);

    // After the interval (30 s) one more refetch is allowed.
    vm.advance_seconds(30).unwrap();
    let (forged, action) = send(&mut vm, &orders(TestKey::Rogue, NOW + 30));
    assert_eq!(action, Action::Pause);
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        2
    );
    answer_pending(&mut vm, &jwks_body());
    assert_eq!(vm.local_response(forged).unwrap().unwrap().status, 401);
}

#[test]
fn a_request_waiting_in_another_worker_is_resumed_on_its_next_tick() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut fetcher = vm_in(&process, &remote_config());
    let mut other = vm_in(&process, &remote_config());

    let (req, action) = send(&mut other, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    assert!(
        other.pending_http_calls().is_empty(),
        "the other worker must not fetch too"
    );

    answer_pending(&mut fetcher, &jwks_body());
    other.tick().unwrap();

    assert_eq!(other.resumed(req).unwrap(), vec![0]);
    assert_eq!(
        other.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-1")
    );
}

#[test]
fn a_request_that_ends_while_waiting_is_forgotten() {
    let mut vm = started(&remote_config());
    let (req, _) = send(&mut vm, &orders(TestKey::Es256, NOW));
    vm.finish(req).unwrap();

    answer_pending(&mut vm, &jwks_body());

    assert!(vm.crashed().is_none());
    assert_eq!(family(&mut vm, "allowed", &[]), 0);
    assert_eq!(family(&mut vm, "denied", &[]), 0);
}

#[test]
fn a_new_configuration_answers_the_requests_paused_under_the_old_one() {
    let mut vm = started(&remote_config());
    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);

    assert!(vm
        .reconfigure(remote_config().to_string().as_bytes())
        .unwrap());

    // Not left hanging: still without keys, so 503.
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 503);
}

#[test]
fn a_request_that_waited_for_keys_counts_one_cache_miss() {
    let mut vm = started(&remote_config());
    let token = orders(TestKey::Es256, NOW);
    let (req, action) = send(&mut vm, &token);
    assert_eq!(action, Action::Pause);
    answer_pending(&mut vm, &jwks_body());
    assert_eq!(vm.resumed(req).unwrap(), vec![0]);
    assert_eq!(family(&mut vm, "jwt_cache_miss", &[]), 1);
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 0);

    // The same token again: one hit, no further miss.
    let (_, action) = send(&mut vm, &token);
    assert_eq!(action, Action::Continue);
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 1);
    assert_eq!(family(&mut vm, "jwt_cache_miss", &[]), 1);

    // A token whose kid a refetch brings: it waits once more and counts one miss more.
    let (rotated, action) = send(&mut vm, &orders(TestKey::Rs256, NOW));
    assert_eq!(action, Action::Pause);
    answer_pending(
        &mut vm,
        &testkit::jwks(&[TestKey::Es256, TestKey::Rs256])
            .to_string()
            .into_bytes(),
    );
    assert_eq!(vm.resumed(rotated).unwrap(), vec![0]);
    assert_eq!(family(&mut vm, "jwt_cache_miss", &[]), 2);
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 1);
}
