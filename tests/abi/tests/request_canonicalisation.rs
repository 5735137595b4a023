//! What the built filter does with request spellings an upstream may read differently: the
//! canonical path goes upstream, ambiguous paths and lower-case methods are refused, and
//! claim headers are stripped whatever their case and `_`/`-` spelling, in headers and in
//! trailers.

use tollgate_abi_tests::{Action, HeaderMutation, MapType};

use crate::common::{
    expect_forwarded, expect_local_response, family, standard_vm, testkit, TestKey, NOW,
};

#[test]
fn the_canonical_path_is_what_goes_upstream() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let req = expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/%6frders/4%32?page=%2F", Some(&token)),
    );
    assert_eq!(
        vm.request_header(req, ":path").unwrap().as_deref(),
        Some("/orders/42?page=%2F")
    );
    // A canonical path is left alone (no header write at all).
    let req = expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/orders/42", Some(&token)),
    );
    assert!(
        !vm.request_header_mutations(req)
            .unwrap()
            .iter()
            .any(|m| matches!(m, HeaderMutation::Replace { name, .. } if name == ":path")),
        "{:?}",
        vm.request_header_mutations(req)
    );
}

#[test]
fn ambiguous_paths_and_methods_get_400_invalid_request() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    for (method, path, description) in [
        (
            "GET",
            "/health/..;/orders/1",
            "the request path contains a dot segment",
        ),
        (
            "GET",
            "/orders;jsessionid=x/1",
            "the request path contains path parameters (;)",
        ),
        (
            "GET",
            "/api%2Fadmin/x",
            "the request path contains an encoded slash",
        ),
        (
            "GET",
            "//orders",
            "the request path contains an empty segment (//)",
        ),
        (
            "post",
            "/orders",
            "the request method is not an upper-case HTTP token",
        ),
        (
            "POST",
            "/orders?_method=DELETE",
            "method overrides are not accepted",
        ),
    ] {
        let r = expect_local_response(&mut vm, &testkit::request(method, path, Some(&token)));
        assert_eq!(r.status, 400, "{method} {path}");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some(
                format!(
                    "Bearer realm=\"tollgate-test\", error=\"invalid_request\", error_description=\"{description}\""
                )
                .as_str()
            ),
            "{method} {path}"
        );
    }
    assert_eq!(family(&mut vm, "denied", &[("reason", "invalid_path")]), 4);
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "invalid_method")]),
        1
    );
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "method_override")]),
        1
    );
}

#[test]
fn claim_headers_are_stripped_in_every_spelling() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    // Next to a valid token: a CGI gateway would join the forged value with the real one.
    let mut headers = testkit::request("GET", "/orders", Some(&token));
    for (name, value) in [
        ("x_user_id", "admin"),
        ("X_User-Id", "admin"),
        ("x-token_scope", "orders:admin"),
        ("x_client_id", "evil"),
    ] {
        headers.push((name.to_owned(), value.to_owned()));
    }
    let req = expect_forwarded(&mut vm, &headers);
    assert_eq!(
        vm.request_header_values(req, "x-user-id").unwrap(),
        vec!["user-1"]
    );
    let upstream = vm.request_headers(req).unwrap();
    for forged in ["x_user_id", "x_user-id", "x-token_scope", "x_client_id"] {
        assert!(
            !upstream.iter().any(|(n, _)| n.eq_ignore_ascii_case(forged)),
            "{forged} reached the upstream: {upstream:?}"
        );
    }
    // On an anonymous route as well.
    let mut headers = testkit::request("GET", "/health", None);
    headers.push(("x_user_id".to_owned(), "admin".to_owned()));
    let req = expect_forwarded(&mut vm, &headers);
    assert!(vm
        .request_headers(req)
        .unwrap()
        .iter()
        .all(|(n, _)| n != "x_user_id"));
}

#[test]
fn claim_headers_sent_as_trailers_are_stripped() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let req = vm.new_http_context().unwrap();
    let headers = testkit::request("POST", "/orders", Some(&token));
    assert_eq!(
        vm.on_request_headers(req, &headers, false).unwrap(),
        Action::Continue
    );
    let action = vm
        .on_request_trailers(
            req,
            &[
                ("x-user-id", "admin"),
                ("x_token_scope", "orders:admin"),
                ("x-checksum", "abc"),
            ],
        )
        .unwrap();
    assert_eq!(action, Action::Continue);
    assert_eq!(
        vm.request_trailers(req).unwrap(),
        vec![("x-checksum".to_owned(), "abc".to_owned())]
    );
    let removed: Vec<_> = vm
        .header_mutations(req)
        .unwrap()
        .into_iter()
        .filter(|m| {
            matches!(
                m,
                HeaderMutation::Remove {
                    map: MapType::HttpRequestTrailers,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(removed.len(), 2, "{removed:?}");
}
