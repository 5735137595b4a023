//! A valid token without the route's scopes: 403 `insufficient_scope` naming the scopes
//! the route requires.

use crate::common::{expect_local_response, family, standard_vm, testkit, TestKey, NOW};

#[test]
fn missing_scope_gets_403_with_the_required_scope() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW); // orders:read orders:write

    let response = expect_local_response(
        &mut vm,
        &testkit::request("GET", "/admin/users", Some(&token)),
    );

    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(
            r#"Bearer realm="tollgate-test", error="insufficient_scope", error_description="the token lacks a scope this resource requires", scope="orders:admin""#
        )
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(
        family(&mut vm, "denied", &[("reason", "insufficient_scope")]),
        1
    );
    assert_eq!(family(&mut vm, "denied", &[("provider", "idsvr")]), 1);
}

#[test]
fn read_only_token_cannot_post() {
    let mut vm = standard_vm();
    let mut claims = testkit::claims(NOW);
    claims.insert("scope".into(), "orders:read".into());
    let token = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &claims);

    let response =
        expect_local_response(&mut vm, &testkit::request("POST", "/orders", Some(&token)));

    assert_eq!(response.status, 403);
    let challenge = response.header("www-authenticate").unwrap();
    assert!(
        challenge.ends_with(r#", scope="orders:write""#),
        "{challenge}"
    );
}
