//! A key fetch never belongs to the request that caused it. A client that resets its
//! request while the fetch it triggered is in flight must not cancel, delay or starve the
//! fetch: the next legitimate request gets the keys. (The SDK hands a call's answer to the
//! context that dispatched it; a fetch dispatched from a request's context lost its answer
//! with the request, keeping the lease held and the unknown-`kid` refetch slot spent.)

use tollgate_abi_tests::{Action, FilterVm, Process};

use crate::common::{expect_local_response, family, module, send, testkit, TestKey, NOW};
use crate::remote_jwks::{answer_pending, jwks_body, orders, remote_config, started};

/// A VM whose timer has not fired yet (the first requests of a fresh Envoy).
fn fresh_vm() -> FilterVm {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = FilterVm::in_process(module(), &process).unwrap();
    assert!(vm.start(remote_config().to_string().as_bytes()).unwrap());
    vm
}

#[test]
fn a_reset_at_start_up_does_not_lose_the_first_fetch() {
    let mut vm = fresh_vm();
    let root = vm.root().unwrap();

    // The attacker's request triggers the first fetch, then resets.
    let (attacker, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    let calls = vm.pending_http_calls().to_vec();
    assert_eq!(
        calls.len(),
        1,
        "the doorbell made the root context fetch at once"
    );
    assert_eq!(
        calls[0].context_id, root,
        "the fetch is the root context's, not the request's"
    );
    vm.finish(attacker).unwrap();

    // The answer still arrives and is used.
    answer_pending(&mut vm, &jwks_body());
    assert_eq!(
        family(&mut vm, "jwks_fetch_success", &[("provider", "remote")]),
        1
    );

    // The next legitimate request passes at once: no waiting, no new fetch.
    let (legit, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.local_response(legit).unwrap(), None);
    assert!(vm.pending_http_calls().is_empty());
    assert!(vm.crashed().is_none());
}

#[test]
fn resets_during_an_unknown_kid_refetch_do_not_keep_a_rotated_key_unknown() {
    let mut vm = started(&remote_config());
    answer_pending(
        &mut vm,
        &testkit::jwks(&[TestKey::Es256]).to_string().into_bytes(),
    );

    // The server rotated in an EdDSA key. The attacker sends the first token with the new
    // `kid` (it spends the refetch slot), and resets.
    let (attacker, action) = send(&mut vm, &orders(TestKey::EdDsa, NOW));
    assert_eq!(action, Action::Pause);
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
    assert_eq!(vm.pending_http_calls()[0].context_id, vm.root().unwrap());
    vm.finish(attacker).unwrap();

    // More resets while the refetch runs change nothing: they wait for the same fetch.
    for _ in 0..20 {
        let (req, action) = send(&mut vm, &orders(TestKey::EdDsa, NOW));
        assert_eq!(action, Action::Pause);
        vm.finish(req).unwrap();
    }
    assert_eq!(
        vm.pending_http_calls().len(),
        1,
        "one fetch, not one per request"
    );

    answer_pending(&mut vm, &jwks_body());

    // Legitimate users of the rotated key pass at once, within the refetch interval.
    for _ in 0..3 {
        let (req, action) = send(&mut vm, &orders(TestKey::EdDsa, NOW + 1));
        assert_eq!(action, Action::Continue);
        assert_eq!(vm.local_response(req).unwrap(), None);
    }
    assert_eq!(
        family(&mut vm, "jwks_refetch_triggered", &[("provider", "remote")]),
        1
    );
    // The rate limit for unknown `kid`s still holds: a forged one is answered at once.
    assert_eq!(
        expect_local_response(&mut vm, &orders(TestKey::Rogue, NOW + 1)).status,
        401
    );
    assert!(vm.pending_http_calls().is_empty());
}

#[test]
fn without_the_doorbell_the_next_tick_sends_the_fetch() {
    let mut vm = fresh_vm();
    vm.hold_queue_ready(true);

    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Pause);
    assert!(
        vm.pending_http_calls().is_empty(),
        "nothing sent from the request"
    );
    assert_eq!(vm.queue_ready_owed(), 1, "the request rang the doorbell");
    vm.finish(req).unwrap();

    // The doorbell never rings (held): the timer sends the decided fetch.
    vm.tick().unwrap();
    assert_eq!(vm.pending_http_calls().len(), 1);
    assert_eq!(vm.pending_http_calls()[0].context_id, vm.root().unwrap());
    answer_pending(&mut vm, &jwks_body());

    let (legit, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.local_response(legit).unwrap(), None);
}

#[test]
fn a_fetch_the_host_refuses_answers_the_waiting_requests_at_once() {
    let process = Process::new();
    process.set_time_seconds(NOW).unwrap();
    let mut vm = FilterVm::in_process(module(), &process).unwrap();
    vm.set_known_clusters(&["another-cluster"]);
    assert!(vm.start(remote_config().to_string().as_bytes()).unwrap());

    let (req, action) = send(&mut vm, &orders(TestKey::Es256, NOW));
    // The request waited for the fetch the root context then could not send: it is
    // answered in the same turn, not at its deadline.
    if action == Action::Pause {
        assert_eq!(vm.refused_http_calls(), ["idp"]);
    }
    let response = vm.local_response(req).unwrap().expect("answered at once");
    assert_eq!(response.status, 503);
    assert!(vm.pending_http_calls().is_empty());
}
