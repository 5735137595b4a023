//! Configuration at run time: CORS preflight passing when configured, the verified-token
//! cache disabled, and a rejected reconfiguration that leaves the running one in place.

use tollgate_abi_tests::LogLevel;

use crate::common::{
    expect_forwarded, expect_local_response, family, standard_vm, started_vm, testkit, TestKey, NOW,
};

fn preflight() -> Vec<(String, String)> {
    let mut headers = testkit::request("OPTIONS", "/orders", None);
    headers.push(("origin".into(), "https://app.example.test".into()));
    headers.push(("access-control-request-method".into(), "POST".into()));
    headers
}

#[test]
fn cors_preflight_passes_only_when_configured() {
    let mut vm = standard_vm();
    assert_eq!(expect_local_response(&mut vm, &preflight()).status, 401);

    let mut config = testkit::config();
    config["cors_preflight"] = true.into();
    let mut vm = started_vm(&config, NOW);
    expect_forwarded(&mut vm, &preflight());
    assert_eq!(family(&mut vm, "allowed", &[]), 1);
    assert_eq!(family(&mut vm, "allowed", &[("provider", "idsvr")]), 0);
}

#[test]
fn cache_size_zero_verifies_every_time() {
    let mut config = testkit::config();
    config["cache_size"] = 0.into();
    let mut vm = started_vm(&config, NOW);
    let token = testkit::token(TestKey::Es256, NOW);
    for _ in 0..3 {
        expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    }
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 0);
    assert_eq!(family(&mut vm, "allowed", &[]), 3);
}

#[test]
fn rejected_reconfiguration_keeps_the_running_configuration() {
    let mut vm = standard_vm();
    let mut broken = testkit::config();
    broken["providers"][0]["audiences"] = serde_json::json!([]);

    assert!(!vm.reconfigure(broken.to_string().as_bytes()).unwrap());
    let critical = vm.logs_at(LogLevel::Critical);
    assert_eq!(critical.len(), 1, "{critical:?}");
    assert!(
        critical[0].starts_with("invalid configuration: providers[0].audiences"),
        "{critical:?}"
    );

    let token = testkit::token(TestKey::Es256, NOW);
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    assert_eq!(
        expect_local_response(&mut vm, &testkit::request("GET", "/orders", None)).status,
        401
    );
}
