//! Path canonicalisation and the rule each spelling lands under. Every class of spelling an
//! upstream may read differently is listed with its harmless neighbours, asserting the exact
//! canonical form or the exact [`PathError`].

use serde_json::json;

use super::*;
use crate::path::{self, canonicalize, PathError as P, PathParameters};
use crate::request::RequestError as R;
use crate::testkit::{self, TestKey, NOW};

fn canon(raw: &str) -> Result<(String, Option<String>), P> {
    canon_with(raw, PathParameters::Reject)
}

fn canon_with(raw: &str, mode: PathParameters) -> Result<(String, Option<String>), P> {
    canonicalize(raw, mode).map(|t| (t.path().to_owned(), t.rewritten()))
}

#[test]
fn canonical_paths_are_borrowed_and_unchanged() {
    for p in [
        "/",
        "/orders",
        "/orders/",
        "/orders/1",
        "/health",
        "/a-b_c.d~e/f:g@h!$&'()*+,=",
        "/caf%C3%A9",
        "/files/100%25",
        "/files/100%25x",
        "/files/100%25a",
        "/items[0]|^",
        "/v1.2/...",
        "/ORDERS",
    ] {
        assert_eq!(canon(p), Ok((p.to_owned(), None)), "{p}");
    }
}

#[test]
fn query_strings_are_kept_and_never_matched() {
    let t = canonicalize("/orders?x=/../admin&y=%2F", PathParameters::Reject).unwrap();
    assert_eq!(t.path(), "/orders");
    assert_eq!(t.query(), "?x=/../admin&y=%2F");
    assert_eq!(t.rewritten(), None);
    let t = canonicalize("/%6frders?a=1", PathParameters::Reject).unwrap();
    assert_eq!(t.rewritten().as_deref(), Some("/orders?a=1"));
    assert_eq!(canon("/orders?"), Ok(("/orders".to_owned(), None)));
    assert_eq!(canon("/orders?a#b"), Err(P::Fragment));
    assert_eq!(canon("/orders?a=\r\n"), Err(P::ControlCharacter));
}

#[test]
fn encoded_unreserved_characters_are_decoded_and_hex_upper_cased() {
    for (raw, want) in [
        ("/%6frders", "/orders"),
        ("/%6Frders/1", "/orders/1"),
        ("/api/%61dmin/x", "/api/admin/x"),
        ("/%41%5a%30%2D%5F%7E%2e", "/AZ0-_~."),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/a%3a", "/a%3A"),
        ("/v1%2E2", "/v1.2"),
    ] {
        assert_eq!(
            canon(raw),
            Ok((want.to_owned(), Some(want.to_owned()))),
            "{raw}"
        );
    }
}

#[test]
fn dot_segments_in_every_spelling_are_refused() {
    for raw in [
        "/health/../admin",
        "/health/..",
        "/health/.",
        "/./orders",
        "/health/%2e%2e/admin",
        "/health/%2E%2E/admin",
        "/health/.%2e/admin",
        "/health/%2e./admin",
        "/health/%2e/admin",
        "/health/..;/orders/1",
        "/health/%2e%2e;/orders/1",
        "/health/..;jsessionid=x/orders",
        "/health/.;x/orders",
    ] {
        assert_eq!(canon(raw), Err(P::DotSegment), "{raw}");
        assert_eq!(
            canon_with(raw, PathParameters::Strip),
            Err(P::DotSegment),
            "{raw}"
        );
    }
    // Names made of dots, or of the bytes of an encoded dot, are not dot segments.
    for raw in [
        "/...",
        "/%2e%2e%2e",
        "/..x",
        "/x..",
        "/2e",
        "/%2",
        "/.hidden",
    ] {
        if raw == "/%2" {
            assert_eq!(canon(raw), Err(P::BadPercentEncoding));
        } else {
            assert!(canon(raw).is_ok(), "{raw}");
        }
    }
}

#[test]
fn path_parameters_are_refused_or_stripped() {
    for raw in [
        "/orders;jsessionid=x/1",
        "/orders;x",
        "/health;/admin",
        "/orders/1;v=2",
    ] {
        assert_eq!(canon(raw), Err(P::PathParameters), "{raw}");
    }
    for (raw, want) in [
        ("/orders;jsessionid=x/1", "/orders/1"),
        ("/orders;x", "/orders"),
        ("/orders/1;v=2;w=3", "/orders/1"),
        ("/a;x/b;y/c", "/a/b/c"),
    ] {
        assert_eq!(
            canon_with(raw, PathParameters::Strip),
            Ok((want.to_owned(), Some(want.to_owned()))),
            "{raw}"
        );
    }
    // A segment that is nothing but parameters would become empty.
    assert_eq!(
        canon_with("/;x/orders", PathParameters::Strip),
        Err(P::EmptySegment)
    );
    assert_eq!(
        canon_with("/orders/;x", PathParameters::Strip),
        Err(P::EmptySegment)
    );
    // An encoded `;` is refused in both modes: decode-then-strip readers would strip it.
    for mode in [PathParameters::Reject, PathParameters::Strip] {
        assert_eq!(canon_with("/orders%3Bx/1", mode), Err(P::PathParameters));
        assert_eq!(canon_with("/..%3b/admin", mode), Err(P::PathParameters));
    }
}

#[test]
fn encoded_separators_backslashes_and_empty_segments_are_refused() {
    for (raw, want) in [
        ("/api%2Fadmin/x", P::EncodedSlash),
        ("/api%2fadmin", P::EncodedSlash),
        ("/api%5Cadmin", P::Backslash),
        ("/api\\admin", P::Backslash),
        ("/api//admin/x", P::EmptySegment),
        ("//orders", P::EmptySegment),
        ("/orders//", P::EmptySegment),
        ("///", P::EmptySegment),
    ] {
        assert_eq!(canon(raw), Err(want), "{raw}");
    }
}

#[test]
fn bad_escapes_and_characters_are_refused() {
    for (raw, want) in [
        ("/a%", P::BadPercentEncoding),
        ("/a%4", P::BadPercentEncoding),
        ("/a%zz", P::BadPercentEncoding),
        ("/a%4g", P::BadPercentEncoding),
        ("/a%00", P::EncodedControl),
        ("/a%0d%0aSet-Cookie:x", P::EncodedControl),
        ("/a%7f", P::EncodedControl),
        ("/a%252e%252e/admin", P::DoubleEncoding),
        ("/a%252F", P::DoubleEncoding),
        // The hex digits after `%25` written as escapes themselves decode to `%252e`.
        ("/health/%25%32%65%25%32%65/admin", P::DoubleEncoding),
        ("/a%25%32E", P::DoubleEncoding),
        ("/a%252%65", P::DoubleEncoding),
        ("/a%25%41%42", P::DoubleEncoding),
        ("/a%C0%AE%C0%AE/admin", P::InvalidUtf8),
        ("/a%FF", P::InvalidUtf8),
        ("/a%ED%A0%80", P::InvalidUtf8),
        ("/a\0b", P::ControlCharacter),
        ("/a\r\nb", P::ControlCharacter),
        ("/a\u{7f}", P::ControlCharacter),
        ("/caf\u{e9}", P::NonAscii),
        ("/a b", P::BadCharacter),
        ("/a\"b", P::BadCharacter),
        ("/<script>", P::BadCharacter),
        ("/a{b}", P::BadCharacter),
        ("/a`b", P::BadCharacter),
        ("/a#b", P::Fragment),
        ("*", P::NotAbsolute),
        ("", P::NotAbsolute),
        ("orders", P::NotAbsolute),
        ("?x", P::NotAbsolute),
        ("https://evil.example/orders", P::NotAbsolute),
    ] {
        assert_eq!(canon(raw), Err(want), "{raw:?}");
    }
}

#[test]
fn prefixes_match_whole_segments_ignoring_case() {
    for (path, prefix, want) in [
        ("/health", "/health", true),
        ("/health/", "/health", true),
        ("/health/live", "/health", true),
        ("/HEALTH/live", "/health", true),
        ("/health-admin/secrets", "/health", false),
        ("/healthz", "/health", false),
        ("/orders-admin", "/orders", false),
        ("/hea", "/health", false),
        ("/anything", "/", true),
        ("/", "/", true),
        ("/orders", "/orders/", false),
        ("/orders/", "/orders/", true),
        ("/orders/1", "/orders/", true),
    ] {
        assert_eq!(
            path::prefix_matches(path, prefix),
            want,
            "{path} ~ {prefix}"
        );
    }
    assert!(path::exact_matches("/orders", "/orders"));
    assert!(path::exact_matches("/orders/", "/orders"));
    assert!(path::exact_matches("/Orders", "/orders"));
    assert!(!path::exact_matches("/orders//", "/orders"));
    assert!(!path::exact_matches("/orders/1", "/orders"));
    assert!(path::exact_matches("/", "/"));
    assert!(path::string_prefix_matches("/orders-admin", "/orders"));
    assert!(!path::string_prefix_matches("/order", "/orders"));
}

/// Rules shaped like the shipped examples; every rule but the last two names a scope so the
/// rule a request lands under can be read from the decision.
fn routed_engine(extra: serde_json::Value) -> crate::Engine {
    let mut cfg = testkit::config();
    cfg["rules"] = json!([
        {"match": {"prefix": "/health"}, "anonymous": true},
        {"match": {"prefix": "/orders", "methods": ["GET"]}, "scopes": ["orders:read"]},
        {"match": {"prefix": "/orders", "methods": ["POST"]}, "scopes": ["orders:write"]},
        {"match": {"prefix": "/api/admin"}, "scopes": ["admin"]},
        {"match": {"prefix": "/"}}
    ]);
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            cfg[k] = v;
        }
    }
    engine_with(cfg)
}

/// What a request gets: `Ok(path rewritten to)` or the denial kind.
fn decide(e: &mut crate::Engine, method: &str, raw: &str, token: Option<&str>) -> Outcome {
    e.evaluate(&testkit::request(method, raw, token), NOW)
        .outcome
}

#[test]
fn every_spelling_lands_under_the_rule_it_names_or_is_refused() {
    // A token with orders:read only: it passes the catch-all, never the POST or admin rule.
    let read_only = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &{
        let mut c = testkit::claims(NOW);
        c.insert("scope".into(), "orders:read".into());
        c
    });
    let mut e = routed_engine(json!({}));
    let needs = |scope: &str| DenialKind::InsufficientScope {
        required: vec![scope.to_owned()],
    };
    // 1. segment prefixes: `/health` is anonymous, `/health-admin` and `/healthz` are not.
    for p in ["/health-admin/secrets", "/healthz", "/health-admin"] {
        assert_eq!(
            denied(decide(&mut e, "GET", p, None)).kind,
            DenialKind::MissingToken,
            "{p}"
        );
    }
    for p in [
        "/health",
        "/health/",
        "/health/live",
        "/health?x=1",
        "/HEALTH",
    ] {
        assert_eq!(allowed(decide(&mut e, "GET", p, None)).path, None, "{p}");
    }
    // 2. encoded unreserved characters name the same rule, and the canonical path goes up.
    let d = denied(decide(&mut e, "POST", "/%6frders", Some(&read_only)));
    assert_eq!(d.kind, needs("orders:write"));
    let d = denied(decide(&mut e, "GET", "/api/%61dmin/x", Some(&read_only)));
    assert_eq!(d.kind, needs("admin"));
    let a = allowed(decide(
        &mut e,
        "GET",
        "/%6frders/1?page=2",
        Some(&read_only),
    ));
    assert_eq!(a.path.as_deref(), Some("/orders/1?page=2"));
    let a = allowed(decide(&mut e, "GET", "/heal%74h", None));
    assert_eq!(a.path.as_deref(), Some("/health"));
    // 3. path parameters on dot segments never borrow the anonymous rule.
    for p in [
        "/health/..;/orders/1",
        "/health/%2e%2e;/orders/1",
        "/health/..;jsessionid=x/orders/1",
    ] {
        assert_eq!(
            denied(decide(&mut e, "GET", p, None)).kind,
            DenialKind::InvalidRequest(R::InvalidPath(P::DotSegment)),
            "{p}"
        );
    }
    assert_eq!(
        denied(decide(
            &mut e,
            "POST",
            "/orders;jsessionid=x",
            Some(&read_only)
        ))
        .kind,
        DenialKind::InvalidRequest(R::InvalidPath(P::PathParameters))
    );
    // 4. encoded slashes and empty segments.
    for (p, want) in [
        ("/api%2Fadmin/x", P::EncodedSlash),
        ("/api//admin/x", P::EmptySegment),
        ("//orders", P::EmptySegment),
    ] {
        assert_eq!(
            denied(decide(&mut e, "GET", p, Some(&read_only))).kind,
            DenialKind::InvalidRequest(R::InvalidPath(want)),
            "{p}"
        );
    }
    // Case: `/API/ADMIN` is the admin rule (Express and ASP.NET route it there).
    assert_eq!(
        denied(decide(&mut e, "GET", "/API/ADMIN/x", Some(&read_only))).kind,
        needs("admin")
    );
    // Harmless neighbours keep working.
    for p in [
        "/orders",
        "/orders/",
        "/orders/1",
        "/orders?x=1",
        "/orders/1?a=/../b",
    ] {
        let a = allowed(decide(&mut e, "GET", p, Some(&read_only)));
        assert_eq!(a.path, None, "{p}");
    }
    assert_eq!(
        denied(decide(&mut e, "POST", "/orders/", Some(&read_only))).kind,
        needs("orders:write")
    );
}

#[test]
fn strip_mode_matches_and_forwards_without_parameters() {
    let mut e = routed_engine(json!({"path_parameters": "strip"}));
    let a = allowed(decide(&mut e, "GET", "/health;jsessionid=x/live?q", None));
    assert_eq!(a.path.as_deref(), Some("/health/live?q"));
    // `/orders;x` is the orders rule, not the catch-all.
    let read_only = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &{
        let mut c = testkit::claims(NOW);
        c.insert("scope".into(), "orders:read".into());
        c
    });
    assert_eq!(
        denied(decide(&mut e, "POST", "/orders;x", Some(&read_only))).kind,
        DenialKind::InsufficientScope {
            required: vec!["orders:write".into()]
        }
    );
    assert_eq!(
        denied(decide(&mut e, "GET", "/health/..;/orders", None)).kind,
        DenialKind::InvalidRequest(R::InvalidPath(P::DotSegment))
    );
}

#[test]
fn methods_must_be_upper_case_tokens_and_head_follows_get() {
    let token = testkit::token(TestKey::Es256, NOW);
    let mut e = routed_engine(json!({}));
    for m in ["post", "Post", "gEt", "", "GET ", "G\tET", "GE(T", "Ω"] {
        assert_eq!(
            denied(decide(&mut e, m, "/orders", Some(&token))).kind,
            DenialKind::InvalidRequest(R::InvalidMethod),
            "{m:?}"
        );
    }
    for m in ["GET", "POST", "PURGE", "M-SEARCH", "PROPFIND"] {
        assert!(
            matches!(
                decide(&mut e, m, "/orders", Some(&token)),
                Outcome::Allow(_)
            ),
            "{m}"
        );
    }
    // HEAD runs the GET handler in most frameworks: it is held to the GET rule.
    let no_read = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &{
        let mut c = testkit::claims(NOW);
        c.insert("scope".into(), "profile".into());
        c
    });
    assert_eq!(
        denied(decide(&mut e, "HEAD", "/orders", Some(&no_read))).kind,
        DenialKind::InsufficientScope {
            required: vec!["orders:read".into()]
        }
    );
}

#[test]
fn method_overrides_are_refused() {
    let token = testkit::token(TestKey::Es256, NOW);
    let mut e = routed_engine(json!({}));
    for name in [
        "x-http-method-override",
        "X-HTTP-Method-Override",
        "x-http-method",
        "x-method-override",
    ] {
        let mut req = testkit::request("POST", "/orders", Some(&token));
        req.push((name.to_owned(), "DELETE".to_owned()));
        assert_eq!(
            denied(e.evaluate(&req, NOW)).kind,
            DenialKind::InvalidRequest(R::MethodOverride),
            "{name}"
        );
    }
    for p in [
        "/orders?_method=DELETE",
        "/orders?a=1&_method=PUT",
        "/orders?%5Fmethod=PUT",
        // Spellings applications decode to `_method` (PHP: once-decoded names, `.` and
        // space read as `_`, leading spaces dropped, `[]` arrays; `;` as a separator).
        "/orders?_%6Dethod=DELETE",
        "/orders?%5f%6d%65%74%68%6f%64=DELETE",
        "/orders?.method=DELETE",
        "/orders?+_method=DELETE",
        "/orders?%20_method=DELETE",
        "/orders?_METHOD=DELETE",
        "/orders?_method[]=DELETE",
        "/orders?a=1;_method=DELETE",
    ] {
        assert_eq!(
            denied(decide(&mut e, "POST", p, Some(&token))).kind,
            DenialKind::InvalidRequest(R::MethodOverride),
            "{p}"
        );
    }
    for p in [
        "/orders?method=x&a_method=y",
        "/orders?_methods=x",
        "/orders?%255Fmethod=x",
        "/orders?x=_method",
    ] {
        assert!(
            matches!(decide(&mut e, "POST", p, Some(&token)), Outcome::Allow(_)),
            "{p}"
        );
    }
}

#[test]
fn cors_preflight_still_runs_the_path_checks() {
    let mut e = routed_engine(json!({"cors_preflight": true}));
    let pre = |path: &str| -> Vec<(String, String)> {
        vec![
            (":method".to_owned(), "OPTIONS".to_owned()),
            (":path".to_owned(), path.to_owned()),
            ("origin".to_owned(), "https://app.example".to_owned()),
            (
                "access-control-request-method".to_owned(),
                "POST".to_owned(),
            ),
        ]
    };
    assert_eq!(
        denied(e.evaluate(&pre("/health/../admin"), NOW)).kind,
        DenialKind::InvalidRequest(R::InvalidPath(P::DotSegment))
    );
    assert_eq!(allowed(e.evaluate(&pre("/orders"), NOW)).path, None);
    assert_eq!(
        allowed(e.evaluate(&pre("/%6frders"), NOW)).path.as_deref(),
        Some("/orders")
    );
}

#[test]
fn claim_headers_match_ignoring_case_and_underscores() {
    let names = vec!["x-user-id".to_owned(), "x-token-scope".to_owned()];
    for n in [
        "x-user-id",
        "X-User-Id",
        "x_user_id",
        "X_USER-ID",
        "x-token_scope",
    ] {
        assert!(crate::is_claim_header(&names, n), "{n}");
    }
    for n in [
        "x-user-idx",
        "x-user",
        "xuser-id",
        "x-user-ld",
        "authorization",
    ] {
        assert!(!crate::is_claim_header(&names, n), "{n}");
    }
}

#[test]
fn rule_paths_must_be_canonical() {
    for (field, path, message) in [
        ("prefix", "/%6frders", "must be written in canonical form: \"/orders\""),
        ("prefix", "/caf%c3%a9", "must be written in canonical form: \"/caf%C3%A9\""),
        ("prefix", "orders", "must be a path every request could have: the request path does not start with /"),
        ("prefix", "/a/../b", "must be a path every request could have: the request path contains a dot segment"),
        ("prefix", "/a//b", "must be a path every request could have: the request path contains an empty segment (//)"),
        ("prefix", "/a;b", "must be a path every request could have: the request path contains path parameters (;)"),
        ("path", "/a?x", "must be a path without query or fragment"),
        ("path", "/a#x", "must be a path without query or fragment"),
        ("path", "/orders/", "an exact path matches with and without a trailing slash: write \"/orders\""),
        ("string_prefix", "/a%2Fb", "must be a path every request could have: the request path contains an encoded slash"),
    ] {
        let mut cfg = testkit::config();
        cfg["rules"] = json!([{"match": {field: path}}]);
        let err = crate::Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([7, 7])).unwrap_err();
        assert_eq!(err.field, format!("rules[0].match.{field}"), "{path}");
        assert_eq!(err.message, message, "{path}");
    }
    let mut cfg = testkit::config();
    cfg["rules"] = json!([{"match": {"prefix": "/a", "path": "/b"}}]);
    assert_eq!(
        crate::Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([7, 7]))
            .unwrap_err()
            .to_string(),
        "rules[0].match: give only one of prefix, path and string_prefix"
    );
    let mut cfg = testkit::config();
    cfg["path_parameters"] = json!("keep");
    let err = crate::Engine::from_json(cfg.to_string().as_bytes(), crate::CacheSecret([7, 7]))
        .unwrap_err();
    assert_eq!(err.field, "path_parameters");
}
