//! A configuration the core rejects: the plugin does not start, and the critical log line
//! names the field that is wrong.

use crate::common::new_vm;
use tollgate_abi_tests::LogLevel;

fn start_with(config: &str) -> (bool, Vec<String>) {
    let mut vm = new_vm();
    let accepted = vm.start(config.as_bytes()).unwrap();
    (accepted, vm.logs_at(LogLevel::Critical))
}

#[test]
fn empty_issuer_refuses_the_plugin_and_names_the_field() {
    let (accepted, critical) = start_with(
        r#"{"providers":[{"name":"idsvr","issuer":"","audiences":["api.example.com"],
            "jwks":{"inline":{"keys":[]}}}],
            "rules":[{"match":{"prefix":"/"}}]}"#,
    );
    assert!(!accepted, "on_configure must return false");
    assert_eq!(
        critical,
        vec!["invalid configuration: providers[0].issuer: must not be empty"]
    );
}

#[test]
fn unknown_field_refuses_the_plugin_and_names_the_field() {
    let (accepted, critical) =
        start_with(r#"{"providers":[],"rules":[{"match":{"prefix":"/"}}],"claims_to_header":{}}"#);
    assert!(!accepted);
    assert_eq!(critical.len(), 1, "{critical:?}");
    assert!(
        critical[0].starts_with("invalid configuration: claims_to_header: "),
        "{critical:?}"
    );
}

#[test]
fn empty_configuration_refuses_the_plugin() {
    let (accepted, critical) = start_with("");
    assert!(!accepted);
    assert_eq!(critical.len(), 1, "{critical:?}");
    assert!(
        critical[0].starts_with("invalid configuration: "),
        "{critical:?}"
    );
}

#[test]
fn a_request_after_a_refused_configuration_fails_closed() {
    // Envoy would not load the plugin; if a stream arrived anyway it must not pass.
    let mut vm = new_vm();
    assert!(!vm.start(b"{}").unwrap());
    let req = vm.new_http_context().unwrap();
    let action = vm
        .on_request_headers(req, &[(":method", "GET"), (":path", "/orders")], true)
        .unwrap();
    assert_eq!(action, tollgate_abi_tests::Action::Pause);
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 503);
}
