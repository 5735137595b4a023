//! The verified-token cache: a repeated token is answered from the cache, and a cached
//! token still expires when the host clock passes its `exp`.

use crate::common::{
    expect_forwarded, expect_local_response, family, standard_vm, testkit, TestKey, NOW,
};

#[test]
fn second_identical_request_is_a_cache_hit_and_still_allowed() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::EdDsa, NOW);
    let request = testkit::request("GET", "/orders", Some(&token));

    let first = expect_forwarded(&mut vm, &request);
    assert_eq!(family(&mut vm, "jwt_cache_miss", &[]), 1);
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 0);

    let second = expect_forwarded(&mut vm, &request);
    assert_eq!(family(&mut vm, "jwt_cache_hit", &[]), 1);
    assert_eq!(family(&mut vm, "jwt_cache_miss", &[]), 1);
    // The cached decision forwards the same claims.
    assert_eq!(
        vm.request_headers(second).unwrap(),
        vm.request_headers(first).unwrap()
    );
    assert_eq!(family(&mut vm, "allowed", &[]), 2);
}

#[test]
fn cached_token_is_denied_once_the_clock_passes_its_expiry() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW); // exp = NOW + 240, skew 30
    let request = testkit::request("GET", "/orders", Some(&token));
    expect_forwarded(&mut vm, &request);

    vm.advance_seconds(240 + 31).unwrap();
    let response = expect_local_response(&mut vm, &request);

    assert_eq!(response.status, 401);
    assert!(response
        .header("www-authenticate")
        .unwrap()
        .contains("the token has expired"));
    assert_eq!(family(&mut vm, "denied", &[("reason", "expired")]), 1);
}

#[test]
fn cached_token_still_needs_the_routes_scopes() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));

    let response = expect_local_response(&mut vm, &testkit::request("GET", "/admin", Some(&token)));
    assert_eq!(response.status, 403);
}
