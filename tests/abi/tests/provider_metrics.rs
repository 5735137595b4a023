//! Metrics: every counter exists (at 0) as soon as the plugin is configured, and
//! decisions are counted per provider.

use tollgate_core::ALL_REASONS;

use crate::common::{
    counter, expect_forwarded, expect_local_response, standard_vm, testkit, TestKey, NOW,
};

#[test]
fn every_counter_is_defined_at_zero_when_configured() {
    let vm = standard_vm();
    let mut expected = vec![
        "tollgate.allowed".to_string(),
        "tollgate.denied".to_string(),
    ];
    expected.extend(ALL_REASONS.iter().map(|r| format!("tollgate.denied.{r}")));
    for provider in ["idsvr", "partner"] {
        expected.push(format!("tollgate.provider.{provider}.allowed"));
        expected.push(format!("tollgate.provider.{provider}.denied"));
    }
    for name in &expected {
        assert_eq!(vm.metric(name).unwrap(), Some(0), "{name}");
    }
}

#[test]
fn decisions_are_counted_under_the_tokens_provider() {
    let mut vm = standard_vm();
    let partner = testkit::token(TestKey::PartnerEs256, NOW);
    let idsvr = testkit::token(TestKey::Es256, NOW);

    // `/partner*` accepts only partner tokens.
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/partner/feed", Some(&partner)),
    );
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/partner/feed", Some(&partner)),
    );
    let refused = expect_local_response(
        &mut vm,
        &testkit::request("GET", "/partner/feed", Some(&idsvr)),
    );
    assert_eq!(refused.status / 100, 4);
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&idsvr)));

    assert_eq!(counter(&vm, "tollgate.provider.partner.allowed"), 2);
    assert_eq!(counter(&vm, "tollgate.provider.partner.denied"), 0);
    assert_eq!(counter(&vm, "tollgate.provider.idsvr.allowed"), 1);
    assert_eq!(counter(&vm, "tollgate.provider.idsvr.denied"), 1);
    assert_eq!(counter(&vm, "tollgate.denied.provider_not_allowed"), 1);
    assert_eq!(counter(&vm, "tollgate.allowed"), 3);
    assert_eq!(counter(&vm, "tollgate.denied"), 1);
}

#[test]
fn two_vms_of_one_process_add_up_in_the_same_counters() {
    // Envoy runs one VM per worker; stats are per process.
    let first = standard_vm();
    let mut second =
        tollgate_abi_tests::FilterVm::in_process(crate::common::module(), first.process()).unwrap();
    assert!(second
        .start(testkit::config().to_string().as_bytes())
        .unwrap());
    let mut first = first;
    let token = testkit::token(TestKey::Es256, NOW);
    expect_forwarded(
        &mut first,
        &testkit::request("GET", "/orders", Some(&token)),
    );
    expect_forwarded(
        &mut second,
        &testkit::request("GET", "/orders", Some(&token)),
    );
    assert_eq!(counter(&first, "tollgate.allowed"), 2);
}
