//! What an operator sees and switches, through the built module: dry-run decisions that are
//! counted and logged while the request passes, `allow_missing`, token sources, claims in
//! Envoy's filter state, denial log lines with the request id and rule, and the debug line
//! that explains a refusal (only when the host logs at debug, and never with the token).

use serde_json::json;
use tollgate_abi_tests::{HeaderMutation, LogLevel};

use crate::common::{
    counter, expect_forwarded, expect_local_response, family, started_vm, testkit, TestKey, NOW,
};

fn with_request_id(mut headers: Vec<(String, String)>, id: &str) -> Vec<(String, String)> {
    headers.push(("x-request-id".to_owned(), id.to_owned()));
    headers
}

#[test]
fn dry_run_counts_and_logs_what_it_would_deny_and_lets_the_request_pass() {
    let mut cfg = testkit::config();
    cfg["rules"][3]["mode"] = json!("dry_run"); // /admin
    let mut vm = started_vm(&cfg, NOW);
    let token = testkit::token(TestKey::Es256, NOW); // scope orders:read, not orders:admin

    let req = expect_forwarded(
        &mut vm,
        &with_request_id(testkit::request("GET", "/admin", Some(&token)), "r-dry"),
    );
    // Passed as sent: no claim headers for a request that was not allowed.
    assert!(
        !vm.request_header_mutations(req)
            .unwrap()
            .iter()
            .any(|m| matches!(m, HeaderMutation::Replace { name, .. } if name == "x-user-id")),
        "a dry-run pass adds no claim headers"
    );
    assert_eq!(
        counter(
            &mut vm,
            "tollgate.prefix.tollgate.provider.idsvr.reason.insufficient_scope.would_deny"
        ),
        1
    );
    assert_eq!(family(&mut vm, "denied", &[]), 0);
    assert!(vm.logs_at(LogLevel::Info).contains(
        &"would deny (dry run): status=403 reason=insufficient_scope provider=idsvr rule=3 match=prefix:/admin request_id=\"r-dry\""
            .to_owned()
    ));

    // The enforced rules still enforce.
    expect_local_response(&mut vm, &testkit::request("GET", "/orders", None));
    assert_eq!(family(&mut vm, "denied", &[("reason", "missing_token")]), 1);
    assert_eq!(family(&mut vm, "would_deny", &[]), 1);
}

#[test]
fn global_dry_run_passes_everything_and_counts_by_reason() {
    let mut cfg = testkit::config();
    cfg["mode"] = json!("dry_run");
    let mut vm = started_vm(&cfg, NOW);
    let expired = testkit::token(TestKey::Es256, NOW - 10_000);
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&expired)));
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", None));
    expect_forwarded(&mut vm, &testkit::request("GET", "/a/../admin", None));
    assert_eq!(family(&mut vm, "would_deny", &[("reason", "expired")]), 1);
    assert_eq!(
        family(&mut vm, "would_deny", &[("reason", "missing_token")]),
        1
    );
    assert_eq!(family(&mut vm, "would_deny", &[]), 3);
    assert_eq!(family(&mut vm, "denied", &[]), 0);
}

#[test]
fn allow_missing_passes_without_a_token_and_refuses_a_bad_one() {
    let mut cfg = testkit::config();
    cfg["rules"] = json!([
        { "match": { "prefix": "/catalog" }, "allow_missing": true, "scopes": ["orders:read"] }
    ]);
    let mut vm = started_vm(&cfg, NOW);
    expect_forwarded(&mut vm, &testkit::request("GET", "/catalog/1", None));
    let good = testkit::token(TestKey::Es256, NOW);
    let req = expect_forwarded(&mut vm, &testkit::request("GET", "/catalog/1", Some(&good)));
    assert_eq!(
        vm.request_header(req, "x-user-id").unwrap(),
        Some("user-1".to_owned())
    );
    let expired = testkit::token(TestKey::Es256, NOW - 10_000);
    let resp = expect_local_response(
        &mut vm,
        &testkit::request("GET", "/catalog/1", Some(&expired)),
    );
    assert_eq!(resp.status, 401);
    // Passing without a token is counted as allowed without a provider.
    assert_eq!(
        counter(&mut vm, "tollgate.prefix.tollgate.provider.none.allowed"),
        1
    );
    assert_eq!(
        counter(&mut vm, "tollgate.prefix.tollgate.provider.idsvr.allowed"),
        1
    );
}

#[test]
fn tokens_are_read_from_a_header_and_a_cookie_and_taken_out_when_not_forwarded() {
    let mut cfg = testkit::config();
    cfg["providers"][0]["sources"] = json!([
        { "header": "x-api-token" },
        { "cookie": "at" }
    ]);
    cfg["forward_token"] = json!(false);
    let mut vm = started_vm(&cfg, NOW);
    let token = testkit::token(TestKey::Es256, NOW);

    let mut headers = testkit::request("GET", "/orders", None);
    headers.push(("x-api-token".to_owned(), token.clone()));
    let req = expect_forwarded(&mut vm, &headers);
    assert_eq!(vm.request_header(req, "x-api-token").unwrap(), None);

    let mut headers = testkit::request("GET", "/orders", None);
    headers.push(("cookie".to_owned(), format!("theme=dark; at={token}")));
    let req = expect_forwarded(&mut vm, &headers);
    // The other cookies stay; the token does not.
    assert_eq!(
        vm.request_header(req, "cookie").unwrap(),
        Some("theme=dark".to_owned())
    );

    // Authorization is not one of this provider's sources any more.
    let resp = expect_local_response(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    assert_eq!(resp.status, 401);
}

#[test]
fn accepted_claims_are_written_to_envoys_filter_state() {
    let mut cfg = testkit::config();
    cfg["claims_to_filter_state"] = json!(["sub", "scope", "address.country"]);
    let mut vm = started_vm(&cfg, NOW);
    let mut claims = testkit::claims(NOW);
    claims.insert("address".into(), json!({ "country": "CH" }));
    let token = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &claims);

    let req = expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    let state = vm.filter_state(req).unwrap();
    assert_eq!(
        state.get("wasm.tollgate.claims.sub").map(String::as_str),
        Some("user-1")
    );
    assert_eq!(
        state
            .get("wasm.tollgate.claims.address.country")
            .map(String::as_str),
        Some("CH")
    );
    assert!(
        state.contains_key("wasm.tollgate.claims.scope"),
        "{state:?}"
    );

    // Served from the cache: the same filter state.
    let req = expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&token)));
    assert_eq!(vm.filter_state(req).unwrap(), state);
    // A denied request writes none.
    let (req, _) = crate::common::send(&mut vm, &testkit::request("GET", "/admin", Some(&token)));
    assert!(vm.filter_state(req).unwrap().is_empty());
}

#[test]
fn a_denial_is_logged_at_info_and_explained_at_debug_only() {
    let cfg = testkit::config();
    let token = testkit::token(TestKey::Es256, NOW);
    let admin = with_request_id(testkit::request("GET", "/admin", Some(&token)), "r-1");

    // The host logs at info: the explanation is not even built.
    let mut vm = crate::common::new_vm();
    vm.set_log_level(LogLevel::Info);
    vm.set_time_seconds(NOW).unwrap();
    assert!(vm.start(cfg.to_string().as_bytes()).unwrap());
    expect_local_response(&mut vm, &admin);
    let info = vm.logs_at(LogLevel::Info);
    assert!(
        info.contains(
            &"denied: status=403 reason=insufficient_scope provider=idsvr rule=3 match=prefix:/admin request_id=\"r-1\""
                .to_owned()
        ),
        "{info:?}"
    );
    assert!(vm.logs_at(LogLevel::Debug).is_empty());

    // Switched to debug: from the next tick on, each refusal says which check failed.
    vm.set_log_level(LogLevel::Debug);
    vm.tick().unwrap();
    vm.clear_logs();
    expect_local_response(&mut vm, &admin);
    let debug: Vec<String> = vm
        .logs()
        .iter()
        .filter(|l| l.level == LogLevel::Debug)
        .map(|l| l.message.clone())
        .collect();
    assert_eq!(debug.len(), 1, "{debug:?}");
    assert!(
        debug[0].starts_with("request \"r-1\" refused because "),
        "{}",
        debug[0]
    );
    assert!(debug[0].contains("orders:admin"), "{}", debug[0]);
    for line in vm.logs() {
        assert!(!line.message.contains(&token), "{}", line.message);
        let signature = token.rsplit('.').next().unwrap();
        assert!(!line.message.contains(signature), "{}", line.message);
    }
}

#[test]
fn the_request_id_is_quoted_so_a_client_cannot_add_a_field_to_the_line() {
    let mut vm = started_vm(&testkit::config(), NOW);
    for (id, shown) in [
        ("abc", r#"request_id="abc""#),
        ("abc reason=forged", r#"request_id="abc reason=forged""#),
        (r#"x" status=200"#, r#"request_id="x\" status=200""#),
    ] {
        vm.clear_logs();
        expect_local_response(
            &mut vm,
            &with_request_id(testkit::request("GET", "/orders", None), id),
        );
        assert_eq!(
            vm.logs_at(LogLevel::Info),
            vec![format!(
                "denied: status=401 reason=missing_token provider=- rule=1 match=prefix:/orders {shown}"
            )]
        );
    }
}
