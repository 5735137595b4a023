//! An expired token: 401 with the exact RFC 6750 challenge and JSON body, counted as
//! `tollgate.denied.expired`. Expiry is judged by the host clock, with the configured skew.

use crate::common::{
    expect_forwarded, expect_local_response, family, standard_vm, testkit, TestKey, NOW,
};

#[test]
fn expired_token_gets_401_invalid_token_with_exact_challenge_and_body() {
    let mut vm = standard_vm();
    // Minted an hour ago: expired 56 minutes ago.
    let token = testkit::token(TestKey::Es256, NOW - 3600);

    let response =
        expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&token)));

    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(
            r#"Bearer realm="tollgate-test", error="invalid_token", error_description="the token has expired""#
        )
    );
    assert_eq!(response.header_count("www-authenticate"), 1);
    assert_eq!(
        response.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "invalid_token", "error_description": "the token has expired"})
    );

    assert_eq!(family(&mut vm, "denied", &[]), 1);
    assert_eq!(family(&mut vm, "denied", &[("reason", "expired")]), 1);
    assert_eq!(family(&mut vm, "denied", &[("provider", "idsvr")]), 1);
    assert_eq!(family(&mut vm, "allowed", &[]), 0);
}

#[test]
fn expiry_follows_the_host_clock_and_the_configured_skew() {
    // The standard token expires 240 s after it is minted; the provider allows 30 s skew.
    let token = testkit::token(TestKey::EdDsa, NOW);
    let request = testkit::request("GET", "/orders", Some(&token));

    let mut vm = standard_vm();
    vm.set_time_seconds(NOW + 240 + 20).unwrap(); // inside the skew
    expect_forwarded(&mut vm, &request);

    let mut vm = standard_vm();
    vm.set_time_seconds(NOW + 240 + 40).unwrap(); // past the skew
    let response = expect_local_response(&mut vm, &request);
    assert_eq!(response.status, 401);
    assert_eq!(family(&mut vm, "denied", &[("reason", "expired")]), 1);
}
