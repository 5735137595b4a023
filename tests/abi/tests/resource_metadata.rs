//! Protected resource metadata through the built filter: the document answered locally at
//! its well-known path (never forwarded), and its URL in every 401's `WWW-Authenticate`.

use serde_json::{json, Value};

use crate::common::{expect_forwarded, expect_local_response, started_vm, testkit, NOW};

#[test]
fn the_document_is_answered_locally_and_every_401_links_to_it() {
    let mut config = testkit::config();
    config["resource_metadata"] = json!({
        "resource": "https://api.example.test/v1",
        "additional_members": { "resource_name": "Orders" }
    });
    let mut vm = started_vm(&config, NOW);
    let r = expect_local_response(
        &mut vm,
        &testkit::request("GET", "/.well-known/oauth-protected-resource/v1", None),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=3600")
    );
    let doc: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["resource"], json!("https://api.example.test/v1"));
    assert_eq!(doc["resource_name"], json!("Orders"));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));

    let r = expect_local_response(&mut vm, &testkit::request("GET", "/orders", None));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"tollgate-test\", resource_metadata=\"https://api.example.test/.well-known/oauth-protected-resource/v1\"")
    );
    // Other paths under the well-known prefix are ordinary requests.
    let token = testkit::token(crate::common::TestKey::Es256, NOW);
    expect_forwarded(
        &mut vm,
        &testkit::request("GET", "/.well-known/oauth-protected-resource", Some(&token)),
    );
}
