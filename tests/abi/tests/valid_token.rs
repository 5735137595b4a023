//! A valid token: the request goes upstream with the configured claim headers, a claim
//! header sent by the client is replaced (never duplicated), and the allow is counted.

use tollgate_abi_tests::{Action, HeaderMutation, MapType};

use crate::common::{expect_forwarded, family, standard_vm, testkit, TestKey, NOW};

#[test]
fn valid_token_continues_with_claim_headers_and_counts_the_allow() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let mut headers = testkit::request("GET", "/orders/42", Some(&token));
    headers.push(("x-user-id".into(), "spoofed-admin".into()));
    headers.push(("x-token-scope".into(), "orders:admin".into()));

    let req = expect_forwarded(&mut vm, &headers);

    assert_eq!(
        vm.request_header(req, "x-user-id").unwrap().as_deref(),
        Some("user-1")
    );
    assert_eq!(
        vm.request_header(req, "x-client-id").unwrap().as_deref(),
        Some("app-1")
    );
    assert_eq!(
        vm.request_header(req, "x-token-scope").unwrap().as_deref(),
        Some("orders:read orders:write")
    );
    // The token has no `scp` claim: its header is not invented.
    assert_eq!(vm.request_header(req, "x-token-scp").unwrap(), None);
    // The spoofed value was removed before the claim was written.
    let mutations = vm.request_header_mutations(req).unwrap();
    let removed_at = mutations.iter().position(|m| {
        *m == HeaderMutation::Remove {
            map: MapType::HttpRequestHeaders,
            name: "x-user-id".into(),
        }
    });
    let written_at = mutations.iter().position(|m| {
        matches!(m, HeaderMutation::Replace { name, value, .. }
            if name == "x-user-id" && value.as_slice() == b"user-1")
    });
    assert!(
        removed_at.is_some() && removed_at < written_at,
        "{mutations:?}"
    );

    assert_eq!(family(&mut vm, "allowed", &[]), 1);
    assert_eq!(family(&mut vm, "allowed", &[("provider", "idsvr")]), 1);
    assert_eq!(family(&mut vm, "denied", &[]), 0);
    assert_eq!(family(&mut vm, "denied", &[("provider", "idsvr")]), 0);

    // The rest of the stream passes untouched and the stream ends cleanly.
    assert_eq!(
        vm.on_response_headers(req, &[(":status", "200")], false)
            .unwrap(),
        Action::Continue
    );
    vm.finish(req).unwrap();
    assert_eq!(vm.crashed(), None);
}

#[test]
fn every_configured_algorithm_is_accepted() {
    let mut vm = standard_vm();
    for key in [TestKey::Es256, TestKey::EdDsa, TestKey::Rs256] {
        let token = testkit::token(key, NOW);
        let req = expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
        assert_eq!(
            vm.request_header(req, "x-user-id").unwrap().as_deref(),
            Some("user-1"),
            "{key:?}"
        );
    }
    assert_eq!(family(&mut vm, "allowed", &[]), 3);
    assert_eq!(family(&mut vm, "allowed", &[("provider", "idsvr")]), 3);
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::EdDsa, NOW);
    let mut headers = testkit::request("GET", "/orders", None);
    headers.push(("authorization".into(), format!("bEaReR {token}")));
    expect_forwarded(&mut vm, &headers);
}
