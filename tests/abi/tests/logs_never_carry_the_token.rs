//! Logs carry the decision's reason and provider, never the token (nor any of its parts).

use tollgate_abi_tests::{FilterVm, LogLevel};

use crate::common::{bearer, send, standard_vm, testkit, TestKey, NOW};

fn assert_no_token_in_logs(vm: &FilterVm, token: &str) {
    let parts: Vec<&str> = token.split('.').filter(|p| p.len() >= 8).collect();
    for line in vm.logs() {
        for part in &parts {
            assert!(
                !line.message.contains(part),
                "a log line carries part of the token: {:?}",
                line.message
            );
        }
    }
}

#[test]
fn a_denial_logs_reason_and_provider_but_not_the_token() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW - 3600);
    vm.clear_logs();

    send(&mut vm, &testkit::request("GET", "/orders", Some(&token)));

    let info = vm.logs_at(LogLevel::Info);
    assert!(
        info.iter().any(|l| l.contains("reason=expired")
            && l.contains("provider=idsvr")
            && l.contains("status=401")),
        "{info:?}"
    );
    assert_no_token_in_logs(&vm, &token);
}

#[test]
fn no_outcome_logs_the_token() {
    let mut vm = standard_vm();
    let valid = testkit::token(TestKey::EdDsa, NOW);
    let mut claims = testkit::claims(NOW);
    claims.insert("aud".into(), "someone-else".into());
    let wrong_audience = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &claims);
    let forged = testkit::token(TestKey::Rogue, NOW);

    for token in [&valid, &wrong_audience, &forged] {
        send(&mut vm, &testkit::request("GET", "/orders", Some(token)));
        send(&mut vm, &testkit::request("GET", "/admin", Some(token)));
        let mut twice = testkit::request("GET", "/orders", Some(token));
        twice.push(("authorization".into(), bearer(token)));
        send(&mut vm, &twice);
    }
    assert!(!vm.logs().is_empty());
    for token in [&valid, &wrong_audience, &forged] {
        assert_no_token_in_logs(&vm, token);
    }
}
