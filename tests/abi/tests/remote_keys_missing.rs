//! A provider whose keys come from a remote JWKS and are not there yet (the first fetch
//! has not been answered): the request is a server-side failure, answered 503 with
//! `Retry-After` — never 401, never a pass. (Requests do not wait for the first fetch yet.)

use crate::common::{counter, expect_local_response, started_vm, testkit, TestKey, NOW};

#[test]
fn token_of_a_provider_without_keys_gets_503_retry_after_not_401() {
    let config = serde_json::json!({
        "realm": "tollgate-test",
        "providers": [{
            "name": "remote",
            "issuer": testkit::ISSUER,
            "audiences": [testkit::AUDIENCE],
            "jwks": { "remote": { "cluster": "idp", "url": "https://idp.example.test/jwks" } }
        }],
        "rules": [{ "match": { "prefix": "/" } }],
        "claims_to_headers": { "sub": "x-user-id" }
    });
    let mut vm = started_vm(&config, NOW);
    let token = testkit::token(TestKey::Es256, NOW);

    let response =
        expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&token)));

    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after").as_deref(), Some("5"));
    assert_eq!(response.header("www-authenticate"), None);
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(counter(&vm, "tollgate.denied.keys_unavailable"), 1);
    assert_eq!(counter(&vm, "tollgate.provider.remote.denied"), 1);
}
