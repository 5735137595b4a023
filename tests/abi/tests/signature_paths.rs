//! Signatures through the host's `verify_signature` where it offers it, pure Rust in the VM
//! otherwise, with the same answers: the host path is chosen per algorithm by a known-answer
//! self-test at start, a broken or missing host never decides a token, and
//! `signature_path` forces either path.

use serde_json::json;
use tollgate_abi_tests::LogLevel;

use crate::common::{
    expect_forwarded, expect_local_response, family, new_vm, started_vm, testkit, TestKey, NOW,
};

fn config(signature_path: Option<&str>) -> serde_json::Value {
    let mut c = testkit::config();
    if let Some(p) = signature_path {
        c["signature_path"] = json!(p);
    }
    c
}

/// A token with one character in the middle of its signature changed (the last character
/// may carry only padding bits).
fn tampered(key: TestKey) -> String {
    let t = testkit::token(key, NOW);
    let sig_start = t.rfind('.').unwrap() + 1;
    let at = sig_start + (t.len() - sig_start) / 2;
    let mut bytes = t.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

fn info_line(vm: &tollgate_abi_tests::FilterVm) -> String {
    vm.logs_at(LogLevel::Info)
        .into_iter()
        .find(|l| l.contains("configured:"))
        .unwrap()
}

#[test]
fn es256_and_rs256_go_to_the_host_eddsa_stays_in_the_vm() {
    let mut vm = started_vm(&config(None), NOW);
    assert!(
        info_line(&vm).contains(
            "signatures: host verify_signature for ES256, ES384, RS256, RS384, RS512; pure Rust for ES512, EdDSA, PS256, PS384, PS512"
        ),
        "{}",
        info_line(&vm)
    );
    assert_eq!(family(&mut vm, "signature_host_algorithms", &[]), 5);
    let self_test_calls = vm.verify_signature_calls();
    assert_eq!(
        self_test_calls, 10,
        "a valid and a tampered vector per algorithm"
    );

    for key in [TestKey::Es256, TestKey::Rs256] {
        expect_forwarded(
            &mut vm,
            &testkit::request("GET", "/orders", Some(&testkit::token(key, NOW))),
        );
        let r = expect_local_response(
            &mut vm,
            &testkit::request("GET", "/orders", Some(&tampered(key))),
        );
        assert_eq!(r.status, 401, "{key:?}");
    }
    assert_eq!(vm.verify_signature_calls() - self_test_calls, 4);
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "host")]),
        4
    );
    // EdDSA is checked in the VM.
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/orders", Some(&testkit::token(TestKey::EdDsa, NOW))),
    );
    expect_local_response(
        &mut vm,
        &testkit::request("GET", "/orders", Some(&tampered(TestKey::EdDsa))),
    );
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "wasm")]),
        2
    );
    assert_eq!(vm.verify_signature_calls() - self_test_calls, 4);
}

#[test]
fn without_the_function_every_signature_is_checked_in_the_vm() {
    let mut vm = new_vm();
    vm.offer_verify_signature(false);
    vm.set_time_seconds(NOW).unwrap();
    assert!(vm.start(config(None).to_string().as_bytes()).unwrap());
    assert!(info_line(&vm)
        .contains("signatures: pure Rust for every algorithm (host verify_signature unavailable"));
    assert_eq!(family(&mut vm, "signature_host_algorithms", &[]), 0);
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/orders", Some(&testkit::token(TestKey::Es256, NOW))),
    );
    assert_eq!(
        expect_local_response(
            &mut vm,
            &testkit::request("GET", "/", Some(&tampered(TestKey::Rs256)))
        )
        .status,
        401
    );
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "wasm")]),
        2
    );
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "host")]),
        0
    );
}

#[test]
fn a_host_that_accepts_everything_fails_its_self_test_and_decides_nothing() {
    let mut vm = new_vm();
    vm.force_verify_signature(Some(true));
    vm.set_time_seconds(NOW).unwrap();
    assert!(vm.start(config(None).to_string().as_bytes()).unwrap());
    assert!(info_line(&vm).contains("the host accepted a signature over a changed text"));
    assert_eq!(family(&mut vm, "signature_host_algorithms", &[]), 0);
    let calls = vm.verify_signature_calls();
    // Forged signatures are still refused: the VM checks them.
    assert_eq!(
        expect_local_response(
            &mut vm,
            &testkit::request("GET", "/", Some(&tampered(TestKey::Es256)))
        )
        .status,
        401
    );
    assert_eq!(vm.verify_signature_calls(), calls);
}

#[test]
fn signature_path_host_refuses_to_start_without_a_working_host() {
    let mut vm = new_vm();
    vm.offer_verify_signature(false);
    vm.set_time_seconds(NOW).unwrap();
    assert!(!vm
        .start(config(Some("host")).to_string().as_bytes())
        .unwrap());
    let critical = vm.logs_at(LogLevel::Critical).join("\n");
    assert!(
        critical.contains("invalid configuration: signature_path: \"host\" needs the host's verify_signature for every algorithm it can serve, but the self-test failed for ES256 (the host gave no verdict)"),
        "{critical}"
    );
    // With a working host it starts and uses it.
    let mut vm = started_vm(&config(Some("host")), NOW);
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/", Some(&testkit::token(TestKey::Es256, NOW))),
    );
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "host")]),
        1
    );
}

#[test]
fn signature_path_wasm_never_calls_the_host() {
    let mut vm = started_vm(&config(Some("wasm")), NOW);
    assert_eq!(vm.verify_signature_calls(), 0);
    assert!(
        info_line(&vm).contains("signatures: pure Rust for every algorithm (signature_path: wasm)")
    );
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/", Some(&testkit::token(TestKey::Rs256, NOW))),
    );
    assert_eq!(vm.verify_signature_calls(), 0);
    assert_eq!(
        family(&mut vm, "signatures", &[("signature_path", "wasm")]),
        1
    );
}
