//! Two `Authorization` headers make the request ambiguous: 400 `invalid_request`, even if
//! both carry valid tokens.

use crate::common::{bearer, expect_local_response, family, standard_vm, testkit, TestKey, NOW};

#[test]
fn two_authorization_headers_get_400_invalid_request() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let mut headers = testkit::request("GET", "/orders", Some(&token));
    headers.push((
        "authorization".into(),
        bearer(&testkit::token(TestKey::EdDsa, NOW)),
    ));

    let response = expect_local_response(&mut vm, &headers);

    assert_eq!(response.status, 400);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(
            r#"Bearer realm="tollgate-test", error="invalid_request", error_description="the request carries more than one Authorization header""#
        )
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        family(
            &mut vm,
            "denied",
            &[("reason", "multiple_authorization_headers")]
        ),
        1
    );
    assert_eq!(family(&mut vm, "allowed", &[]), 0);
}
