//! The filter tried as an attacker would: every spelling an upstream (WSGI/CGI, Rack, PHP,
//! Express, Spring, Go, ASP.NET) reads as the same header, path, method or token source is
//! judged as that one, each class with its harmless neighbours, asserting exact variants.
//! (DPoP replay-store and `htu` attacks: `binding_tests.rs`.)

use serde_json::json;

use super::*;
use crate::request::{same_header_name, RequestError as R};
use crate::testkit::{self, TestKey, NOW};
use crate::{is_claim_header, HeaderEdit, TokenError as E};

fn req(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = testkit::request(method, path, None);
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn kind(e: &mut Engine, r: &[(String, String)]) -> DenialKind {
    denied(e.evaluate(r, NOW)).kind
}

#[test]
fn header_names_compare_ignoring_case_with_underscore_as_dash() {
    for (a, b, same) in [
        ("x-http-method-override", "X_HTTP_METHOD_OVERRIDE", true),
        ("x-user-id", "x_user-ID", true),
        ("x-user-id", "x-user-id2", false),
        ("x-user-id", "xuser-id", false),
        ("x-user-id", "x.user.id", false),
        ("", "", true),
    ] {
        assert_eq!(same_header_name(a, b), same, "{a} {b}");
    }
}

#[test]
fn method_and_path_overrides_are_refused_in_every_spelling() {
    let t = testkit::token(TestKey::Es256, NOW);
    let mut e = engine();
    for (name, want) in [
        ("x-http-method-override", R::MethodOverride),
        ("x_http_method_override", R::MethodOverride),
        ("X_HTTP_METHOD", R::MethodOverride),
        ("x_method_override", R::MethodOverride),
        ("x-original-url", R::PathOverride),
        ("x_original_url", R::PathOverride),
        ("X-Rewrite-URL", R::PathOverride),
        ("x_rewrite_url", R::PathOverride),
    ] {
        let r = req(
            "POST",
            "/orders",
            &[("authorization", &bearer(&t)), (name, "/admin")],
        );
        assert_eq!(
            kind(&mut e, &r),
            DenialKind::InvalidRequest(want.clone()),
            "{name}"
        );
        // Also on anonymous routes: the override would reach another handler.
        let r = req("GET", "/health", &[(name, "DELETE")]);
        assert_eq!(
            kind(&mut e, &r),
            DenialKind::InvalidRequest(want),
            "{name} on /health"
        );
    }
    // Neighbours pass.
    for name in [
        "x-http-method-overrides",
        "x-original-uri",
        "x-forwarded-uri",
        "x-method",
    ] {
        let r = req(
            "POST",
            "/orders",
            &[("authorization", &bearer(&t)), (name, "x")],
        );
        allowed(e.evaluate(&r, NOW));
    }
    let d = denied(e.evaluate(&req("GET", "/health", &[("x-original-url", "/admin")]), NOW));
    let resp = d.response("api");
    assert_eq!(resp.status, 400);
    assert_eq!(d.reason(), "path_override");
    assert!(resp.body.contains("path overrides are not accepted"));
}

/// A top-level dry run with one rule enforced: what is refused before a rule is chosen is
/// enforced (else `/api/x/../admin` would pass under the enforced admin rule's upstream).
#[test]
fn refusals_before_a_rule_are_enforced_while_any_rule_enforces() {
    let mut cfg = testkit::config();
    cfg["mode"] = json!("dry_run");
    cfg["rules"][3]["mode"] = json!("enforce");
    let mut e = engine_with(cfg.clone());
    for r in [
        req("GET", "/orders/x/../../admin/users", &[]),
        req("GET", "/admin/..;/x", &[]),
        req("GET", "/admin%2Fusers", &[]),
        req("GET", "/admin;x=1", &[]),
        req("post", "/orders", &[]),
        req("POST", "/orders", &[("x-http-method-override", "DELETE")]),
        req("GET", "/health", &[("x_original_url", "/admin")]),
    ] {
        assert!(
            matches!(e.evaluate(&r, NOW).outcome, Outcome::Deny(_)),
            "{r:?}"
        );
    }
    // After a rule is chosen, the rule's mode decides: a dry-run rule passes.
    let o = e.evaluate(&req("GET", "/orders", &[]), NOW).outcome;
    assert!(matches!(o, Outcome::DryRun(_)), "{o:?}");
    // The enforced rule enforces.
    let o = e.evaluate(&req("GET", "/admin", &[]), NOW).outcome;
    assert!(matches!(o, Outcome::Deny(_)), "{o:?}");
    // Every rule dry run (none overrides the top level): everything is dry run.
    cfg["rules"][3].as_object_mut().map(|r| r.remove("mode"));
    let mut e = engine_with(cfg.clone());
    let o = e
        .evaluate(&req("GET", "/orders/x/../../admin/users", &[]), NOW)
        .outcome;
    assert_eq!(
        o,
        Outcome::DryRun(Denial::new(DenialKind::InvalidRequest(R::InvalidPath(
            crate::PathError::DotSegment
        ))))
    );
    // Top level enforce, every rule dry run: pre-rule refusals are dry run too.
    cfg["mode"] = json!("enforce");
    for r in cfg["rules"].as_array_mut().unwrap() {
        r["mode"] = json!("dry_run");
    }
    let mut e = engine_with(cfg);
    let o = e.evaluate(&req("GET", "/a/../b", &[]), NOW).outcome;
    assert!(matches!(o, Outcome::DryRun(_)), "{o:?}");
}

#[test]
fn format_suffixes_land_under_the_rule_they_name() {
    let read_only = testkit::token(TestKey::Es256, NOW);
    let mut e = engine();
    // The standard config: /admin needs orders:admin, / takes any valid token.
    for path in [
        "/admin.json",
        "/admin.json/",
        "/ADMIN.Xml",
        "/admin/users.json",
    ] {
        assert_eq!(
            kind(
                &mut e,
                &req("GET", path, &[("authorization", &bearer(&read_only))])
            ),
            DenialKind::InsufficientScope {
                required: vec!["orders:admin".into()]
            },
            "{path}"
        );
    }
    assert_eq!(
        e.evaluate(&req("GET", "/health.json", &[]), NOW).rule,
        Some(0)
    );
    // The upstream gets the path as sent: it routes the suffix itself.
    let a = allowed(e.evaluate(
        &req(
            "GET",
            "/orders.json",
            &[("authorization", &bearer(&read_only))],
        ),
        NOW,
    ));
    assert_eq!(a.path, None);
    // Neighbours.
    let ev = e.evaluate(
        &req(
            "GET",
            "/admin.json/x",
            &[("authorization", &bearer(&read_only))],
        ),
        NOW,
    );
    assert_eq!(ev.rule, Some(6));
    // Opting out.
    let mut cfg = testkit::config();
    cfg["rules"][3]["match"]["format_suffixes"] = json!(false);
    let mut e = engine_with(cfg);
    let ev = e.evaluate(
        &req(
            "GET",
            "/admin.json",
            &[("authorization", &bearer(&read_only))],
        ),
        NOW,
    );
    assert_eq!(ev.rule, Some(6));
    allowed(ev);
}

fn with_sources(sources: serde_json::Value, allow_missing: bool) -> Engine {
    let mut cfg = testkit::config();
    cfg["providers"][0]["sources"] = sources;
    if allow_missing {
        cfg["rules"] = json!([{ "match": { "prefix": "/" }, "allow_missing": true }]);
    }
    engine_with(cfg)
}

/// A forged token in any spelling an application decodes to the configured source name is
/// that token: refused, never "no token" on an `allow_missing` route.
#[test]
fn token_sources_are_read_the_way_upstreams_read_them() {
    let forged = testkit::token(TestKey::Rogue, NOW);
    let mut e = with_sources(
        json!([{"header": "authorization"}, {"header": "x-api-token"}, {"cookie": "at"}, {"query": "access_token"}]),
        true,
    );
    let invalid = |e: &mut Engine, r: &[(String, String)]| match kind(e, r) {
        DenialKind::InvalidToken(_) => {}
        other => panic!("{r:?}: expected InvalidToken, got {other:?}"),
    };
    for path in [
        format!("/x?access%5Ftoken={forged}"),
        format!("/x?a=1;access_token={forged}"),
        format!("/x?access.token={forged}"),
        format!("/x?access+token={forged}"),
        format!("/x?access[token={forged}"),
        format!("/x?ACCESS_TOKEN={forged}"),
        format!("/x?%61ccess_token={forged}"),
        format!("/x?access_token[]={forged}"),
    ] {
        invalid(&mut e, &req("GET", &path, &[]));
    }
    for cookie in [
        format!("a%74={forged}"),
        format!("AT={forged}"),
        format!("theme=1; a%54={forged}"),
    ] {
        invalid(&mut e, &req("GET", "/x", &[("cookie", &cookie)]));
    }
    invalid(&mut e, &req("GET", "/x", &[("x_api_token", &forged)]));
    invalid(&mut e, &req("GET", "/x", &[("X_API_TOKEN", &forged)]));
    // Next to a valid token, a second spelling is a second token.
    let good = testkit::token(TestKey::Es256, NOW);
    for r in [
        req(
            "GET",
            &format!("/x?access_token={good}&access%5Ftoken={forged}"),
            &[],
        ),
        req(
            "GET",
            &format!("/x?access_token={good};access_token={forged}"),
            &[],
        ),
        req(
            "GET",
            "/x",
            &[("cookie", &format!("at={good}; a%74={forged}"))],
        ),
        req(
            "GET",
            "/x",
            &[("x-api-token", &good), ("x_api_token", &forged)],
        ),
        req(
            "GET",
            &format!("/x?access.token={forged}"),
            &[("authorization", &bearer(&good))],
        ),
    ] {
        assert_eq!(
            kind(&mut e, &r),
            DenialKind::InvalidRequest(R::MultipleTokens),
            "{r:?}"
        );
    }
    // A token value an application would decode into something else.
    for r in [
        req(
            "GET",
            &format!("/x?access_token={}", good.replace('.', "%2E")),
            &[],
        ),
        req("GET", &format!("/x?access_token=+{good}"), &[]),
        req(
            "GET",
            "/x",
            &[("cookie", &format!("at={}", good.replacen('.', "%2e", 1)))],
        ),
    ] {
        assert_eq!(
            kind(&mut e, &r),
            DenialKind::InvalidRequest(R::EncodedToken),
            "{r:?}"
        );
    }
    // Harmless neighbours: other names pass as "no token" on the allow_missing route.
    for r in [
        req("GET", &format!("/x?access_token_x={forged}"), &[]),
        req("GET", &format!("/x?xaccess_token={forged}"), &[]),
        req("GET", "/x", &[("cookie", &format!("att={forged}"))]),
        req("GET", "/x", &[("x-api-tokens", &forged)]),
        req("GET", "/x?access_tokens&token", &[]),
    ] {
        let a = allowed(e.evaluate(&r, NOW));
        assert_eq!(a.provider, None, "{r:?}");
    }
    // The valid token in a decoded spelling is accepted as that source.
    let a = allowed(e.evaluate(&req("GET", &format!("/x?access%5Ftoken={good}"), &[]), NOW));
    assert!(a.provider.is_some());
}

/// An `Authorization` value a lenient upstream reads a token from is never "no token".
#[test]
fn authorization_values_a_lenient_upstream_would_read_are_refused() {
    let forged = testkit::token(TestKey::Rogue, NOW);
    let mut e = with_sources(json!([{"header": "authorization"}]), true);
    for value in [
        format!("Bearer\u{a0}{forged}"),
        format!("Bearer:{forged}"),
        format!("Bearer{forged}"),
        format!("bearer\u{3000}{forged}"),
        format!("\u{a0}Bearer {forged}"),
        forged.clone(),
        format!("JWT {forged}"),
        format!("Token {forged}"),
        format!("DPoP\u{a0}{forged}"),
    ] {
        assert_eq!(
            kind(&mut e, &req("GET", "/x", &[("authorization", &value)])),
            DenialKind::InvalidRequest(R::MalformedAuthorization),
            "{value:?}"
        );
    }
    // Other schemes without a JWT stay "no token" (and pass on allow_missing).
    for value in [
        "Basic dXNlcjpwYXNz",
        "Negotiate YIIC",
        "Digest username=\"a\", realm=\"b\"",
    ] {
        let r = req("GET", "/x", &[("authorization", value)]);
        if value.contains(',') {
            continue; // two header values to Envoy: refused elsewhere
        }
        assert_eq!(allowed(e.evaluate(&r, NOW)).provider, None, "{value}");
    }
    // A second configured scheme reads its own values.
    let good = testkit::token(TestKey::Es256, NOW);
    let mut e = with_sources(
        json!([{"header": "authorization"}, {"header": "authorization", "scheme": "Token"}]),
        true,
    );
    assert!(allowed(e.evaluate(
        &req("GET", "/x", &[("authorization", &format!("Token {good}"))]),
        NOW
    ))
    .provider
    .is_some());
    assert!(
        allowed(e.evaluate(&req("GET", "/x", &[("authorization", &bearer(&good))]), NOW))
            .provider
            .is_some()
    );
    // On a token route the lenient value is 400, not 401.
    let mut e = engine();
    assert_eq!(
        kind(
            &mut e,
            &req(
                "GET",
                "/orders",
                &[("authorization", &format!("Bearer\u{a0}{good}"))]
            )
        ),
        DenialKind::InvalidRequest(R::MalformedAuthorization)
    );
}

#[test]
fn forward_token_false_removes_every_spelling_it_read() {
    let t = testkit::token(TestKey::Es256, NOW);
    let mut cfg = testkit::config();
    cfg["forward_token"] = json!(false);
    cfg["providers"][0]["sources"] =
        json!([{"header": "x-api-token"}, {"cookie": "at"}, {"query": "access_token"}]);
    let mut e = engine_with(cfg);
    let a = allowed(e.evaluate(&req("GET", "/orders", &[("x_api_token", &t)]), NOW));
    assert_eq!(
        a.token_edits,
        vec![HeaderEdit::Remove("x_api_token".into())]
    );
    let a = allowed(e.evaluate(
        &req(
            "GET",
            "/orders",
            &[("cookie", &format!("a=1; a%74={t}; b=2"))],
        ),
        NOW,
    ));
    assert_eq!(
        a.token_edits,
        vec![HeaderEdit::Set("cookie".into(), "a=1; b=2".into())]
    );
    let a = allowed(e.evaluate(
        &req("GET", &format!("/orders?x=1;access%5Ftoken={t}&y=2"), &[]),
        NOW,
    ));
    assert_eq!(a.path.as_deref(), Some("/orders?x=1&y=2"));
    let a = allowed(e.evaluate(
        &req("GET", &format!("/orders?x=1;y=2&access_token={t}"), &[]),
        NOW,
    ));
    assert_eq!(a.path.as_deref(), Some("/orders?x=1;y=2"));
    let a = allowed(e.evaluate(
        &req("GET", &format!("/orders?access_token={t};y=2"), &[]),
        NOW,
    ));
    assert_eq!(a.path.as_deref(), Some("/orders?y=2"));
}

#[test]
fn array_claims_whose_elements_would_split_are_not_forwarded() {
    let mut cfg = testkit::config();
    cfg["claims_to_headers"] = json!({ "roles": "x-roles", "sub": "x-user-id" });
    let mut e = engine_with(cfg);
    for (roles, want) in [
        (json!(["viewer", "admin"]), Some("viewer admin")),
        (json!(["viewer admin"]), None),
        (json!(["viewer,admin"]), None),
        (json!(["viewer", ""]), None),
        (json!([1, true]), Some("1 true")),
        (json!("viewer admin"), Some("viewer admin")),
        (json!([]), Some("")),
    ] {
        let t = with_claims(TestKey::Es256, |c| {
            c.insert("roles".into(), roles.clone());
        });
        let a = allowed(e.evaluate(
            &req("GET", "/orders", &[("authorization", &bearer(&t))]),
            NOW,
        ));
        let got = a
            .set_headers
            .iter()
            .find(|(n, _)| n == "x-roles")
            .map(|(_, v)| v.as_str());
        assert_eq!(got, want, "{roles}");
        assert!(a.set_headers.iter().any(|(n, _)| n == "x-user-id"));
    }
}

#[test]
fn claim_headers_are_recognised_in_every_spelling() {
    let e = engine();
    for name in ["x-user-id", "X_USER_ID", "x_user-id", "X-Client_Id"] {
        assert!(is_claim_header(e.claim_header_names(), name), "{name}");
    }
    assert!(!is_claim_header(e.claim_header_names(), "x-user-ids"));
}

#[test]
fn the_dpop_scheme_with_an_unbound_token_is_refused_even_without_a_proof() {
    let t = testkit::token(TestKey::Es256, NOW);
    let mut e = engine();
    let d = denied(e.evaluate(
        &req("GET", "/orders", &[("authorization", &format!("DPoP {t}"))]),
        NOW,
    ));
    assert_eq!(d.kind, DenialKind::InvalidToken(E::NotDpopBound));
    assert_eq!(d.response("api").status, 401);
}
