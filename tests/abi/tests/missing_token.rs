//! No token: 401 with a bare `Bearer realm` challenge (no error attribute, RFC 6750 §3.1).
//! A token in the query string is never read, so it counts as missing.

use crate::common::{expect_local_response, family, standard_vm, testkit, TestKey, NOW};

#[test]
fn missing_token_gets_401_without_error_attribute() {
    let mut vm = standard_vm();

    let response = expect_local_response(&mut vm, &testkit::request("GET", "/orders", None));

    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(r#"Bearer realm="tollgate-test""#)
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "missing_token", "error_description": "the request carries no bearer token"})
    );
    assert_eq!(family(&mut vm, "denied", &[("reason", "missing_token")]), 1);
    assert_eq!(family(&mut vm, "denied", &[]), 1);
    // No token, no provider to blame.
    assert_eq!(family(&mut vm, "denied", &[("provider", "idsvr")]), 0);
    assert_eq!(family(&mut vm, "denied", &[("provider", "partner")]), 0);
}

#[test]
fn token_only_in_the_query_string_counts_as_missing() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let path = format!("/orders?access_token={token}");

    let response = expect_local_response(&mut vm, &testkit::request("GET", &path, None));

    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(r#"Bearer realm="tollgate-test""#)
    );
    assert_eq!(family(&mut vm, "denied", &[("reason", "missing_token")]), 1);
}
