//! Metrics: every counter exists (at 0) as soon as the plugin is configured, and
//! decisions are counted per provider.

use tollgate_core::ALL_REASONS;

use crate::common::{
    counter, expect_forwarded, expect_local_response, family, standard_vm, testkit, TestKey, NOW,
};

#[test]
fn the_fixed_metrics_are_defined_at_zero_when_configured() {
    let mut vm = standard_vm();
    let base = "tollgate.prefix.tollgate.";
    let mut expected = vec![
        format!("{base}jwt_cache_hit"),
        format!("{base}jwt_cache_miss"),
        format!("{base}signature_path.host.signatures"),
        format!("{base}signature_path.wasm.signatures"),
    ];
    for provider in ["idsvr", "partner", "none"] {
        expected.push(format!("{base}provider.{provider}.allowed"));
    }
    for name in &expected {
        assert_eq!(vm.metric(name).unwrap(), Some(0), "{name}");
    }
    assert_eq!(
        counter(&mut vm, &format!("{base}signature_host_algorithms")),
        5
    );
    assert!(counter(&mut vm, &format!("{base}vm_memory_bytes")) > 0);
}

#[test]
fn denials_are_series_with_provider_and_reason_and_stat_prefix_separates_instances() {
    let mut cfg = testkit::config();
    cfg["stat_prefix"] = serde_json::json!("orders-api");
    let mut vm = crate::common::started_vm(&cfg, NOW);
    let expired = testkit::token(TestKey::Es256, NOW - 10_000);
    expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&expired)));
    expect_local_response(&mut vm, &testkit::request("GET", "/orders", None));
    assert_eq!(
        counter(
            &mut vm,
            "tollgate.prefix.orders-api.provider.idsvr.reason.expired.denied"
        ),
        1
    );
    assert_eq!(
        counter(
            &mut vm,
            "tollgate.prefix.orders-api.provider.none.reason.missing_token.denied"
        ),
        1
    );
    // Every reason the filter can give is a valid label value.
    for r in ALL_REASONS {
        assert!(
            r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{r}"
        );
    }
    // A second instance with its own stat_prefix counts apart, in the same process.
    let mut other =
        tollgate_abi_tests::FilterVm::in_process(crate::common::module(), vm.process()).unwrap();
    assert!(other
        .start(testkit::config().to_string().as_bytes())
        .unwrap());
    expect_local_response(&mut other, &testkit::request("GET", "/orders", None));
    // Each VM hands its own counts to the process's counters on its own timer.
    other.tick().unwrap();
    assert_eq!(
        family(&mut vm, "denied", &[("stat_prefix", "orders-api")]),
        2
    );
    assert_eq!(family(&mut vm, "denied", &[("stat_prefix", "tollgate")]), 1);
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

    assert_eq!(family(&mut vm, "allowed", &[("provider", "partner")]), 2);
    assert_eq!(family(&mut vm, "denied", &[("provider", "partner")]), 0);
    assert_eq!(family(&mut vm, "allowed", &[("provider", "idsvr")]), 1);
    assert_eq!(family(&mut vm, "denied", &[("provider", "idsvr")]), 1);
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "provider_not_allowed")]),
        1
    );
    assert_eq!(family(&mut vm, "allowed", &[]), 3);
    assert_eq!(family(&mut vm, "denied", &[]), 1);
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
    // Each VM hands its own counts to the process's counters on its own timer.
    second.tick().unwrap();
    assert_eq!(family(&mut first, "allowed", &[]), 2);
}
