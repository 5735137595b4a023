//! An anonymous route passes without a token, but claim headers sent by the client are
//! still removed: a client can never make the API believe a claim on any route.

use tollgate_abi_tests::{Action, HeaderMutation, MapType};

use crate::common::{expect_forwarded, family, send, standard_vm, testkit};

#[test]
fn anonymous_route_passes_and_strips_spoofed_claim_headers() {
    let mut vm = standard_vm();
    let mut headers = testkit::request("GET", "/health", None);
    headers.push(("x-user-id".into(), "admin".into()));
    headers.push(("x-client-id".into(), "trusted-app".into()));
    headers.push(("x-token-scope".into(), "orders:admin".into()));
    headers.push(("x-token-scp".into(), "orders:admin".into()));
    headers.push(("x-unrelated".into(), "kept".into()));

    let req = expect_forwarded(&mut vm, &headers);

    for name in ["x-user-id", "x-client-id", "x-token-scope", "x-token-scp"] {
        assert_eq!(
            vm.request_header(req, name).unwrap(),
            None,
            "{name} must be stripped"
        );
    }
    assert_eq!(
        vm.request_header(req, "x-unrelated").unwrap().as_deref(),
        Some("kept")
    );
    assert_eq!(family(&mut vm, "allowed", &[]), 1);
    // Anonymous: no provider is credited.
    assert_eq!(family(&mut vm, "allowed", &[("provider", "idsvr")]), 0);
    assert_eq!(family(&mut vm, "allowed", &[("provider", "partner")]), 0);
}

#[test]
fn spoofed_claim_headers_are_stripped_on_denied_requests_too() {
    let mut vm = standard_vm();
    let mut headers = testkit::request("GET", "/orders", None);
    headers.push(("x-user-id".into(), "admin".into()));

    let (req, action) = send(&mut vm, &headers);

    assert_eq!(action, Action::Pause);
    assert_eq!(vm.local_response(req).unwrap().unwrap().status, 401);
    assert!(vm
        .request_header_mutations(req)
        .unwrap()
        .contains(&HeaderMutation::Remove {
            map: MapType::HttpRequestHeaders,
            name: "x-user-id".into(),
        }));
}
