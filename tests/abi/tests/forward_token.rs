//! `forward_token`: by default the upstream sees the client's `Authorization` header;
//! with `forward_token: false` the filter removes it once the token is accepted (verified
//! or from the cache), and leaves it alone where no token was looked at.

use tollgate_abi_tests::{HeaderMutation, MapType};

use crate::common::{
    bearer, expect_forwarded, expect_local_response, family, standard_vm, started_vm, testkit,
    TestKey, NOW,
};

fn removes_authorization(mutations: &[HeaderMutation]) -> bool {
    mutations.iter().any(|m| {
        *m == HeaderMutation::Remove {
            map: MapType::HttpRequestHeaders,
            name: "authorization".into(),
        }
    })
}

#[test]
fn by_default_the_token_goes_upstream() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);

    let req = expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));

    assert_eq!(
        vm.request_header(req, "authorization").unwrap(),
        Some(bearer(&token))
    );
    assert!(!removes_authorization(
        &vm.request_header_mutations(req).unwrap()
    ));
}

#[test]
fn forward_token_false_strips_authorization_after_validation_and_on_cache_hits() {
    let mut config = testkit::config();
    config["forward_token"] = false.into();
    let mut vm = started_vm(&config, NOW);
    let token = testkit::token(TestKey::EdDsa, NOW);
    let request = testkit::request("GET", "/orders", Some(&token));

    for (round, cache) in [(1, "jwt_cache_miss"), (2, "jwt_cache_hit")] {
        let req = expect_forwarded(&mut vm, &request);
        assert_eq!(
            vm.request_header(req, "authorization").unwrap(),
            None,
            "round {round}"
        );
        assert!(removes_authorization(
            &vm.request_header_mutations(req).unwrap()
        ));
        // The claims still go upstream.
        assert_eq!(
            vm.request_header(req, "x-user-id").unwrap().as_deref(),
            Some("user-1")
        );
        assert_eq!(family(&mut vm, cache, &[]), 1, "round {round}");
    }
    assert_eq!(family(&mut vm, "allowed", &[]), 2);
}

#[test]
fn forward_token_false_leaves_anonymous_routes_and_denials_alone() {
    let mut config = testkit::config();
    config["forward_token"] = false.into();
    let mut vm = started_vm(&config, NOW);
    let token = testkit::token(TestKey::Es256, NOW);

    // Anonymous rule: the header is not the filter's business there.
    let req = expect_forwarded(&mut vm, &testkit::request("GET", "/health", Some(&token)));
    assert_eq!(
        vm.request_header(req, "authorization").unwrap(),
        Some(bearer(&token))
    );

    // Denied: answered locally, nothing to strip, the denial is unchanged.
    let expired = testkit::token(TestKey::Es256, NOW - 3600);
    let response =
        expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&expired)));
    assert_eq!(response.status, 401);
    assert_eq!(family(&mut vm, "denied", &[("reason", "expired")]), 1);
}
