//! Every ConfigError with its exact field path.

use serde_json::{json, Value};

use crate::config::{Config, ConfigError, KeySource, PathMatch};
use crate::jwks::Algorithm;
use crate::testkit::{self, TestKey};

fn err(cfg: Value) -> ConfigError {
    match Config::from_json(cfg.to_string().as_bytes()) {
        Err(e) => e,
        Ok(_) => panic!("expected a ConfigError for {cfg}"),
    }
}

fn field(cfg: Value) -> String {
    err(cfg).field
}

fn base() -> Value {
    testkit::config()
}

#[test]
fn standard_config_and_defaults() {
    let c = Config::from_json(base().to_string().as_bytes()).unwrap();
    assert_eq!(c.realm, "tollgate-test");
    assert_eq!(c.max_token_bytes, 8192);
    assert_eq!(c.cache_size, 5000);
    assert!(!c.cors_preflight);
    assert!(
        c.forward_token,
        "Authorization goes upstream unless configured otherwise"
    );
    let partner = &c.providers[1];
    assert_eq!(partner.token_types, vec!["at+jwt", "application/at+jwt"]);
    assert_eq!(partner.max_lifetime_seconds, 900);
    assert_eq!(partner.clock_skew_seconds, 30);
    assert_eq!(
        partner.algorithms,
        vec![Algorithm::ES256],
        "defaults to the keys' algorithms"
    );
    assert!(!partner.allow_missing_typ);
    assert_eq!(partner.key_source, KeySource::Inline);
    assert_eq!(c.rules[5].path, PathMatch::Exact("/exact".into()));
    assert_eq!(c.rules[4].providers, Some(vec![crate::ProviderId(1)]));
    let minimal = json!({
        "providers": [{"name": "p", "issuer": "i", "audiences": ["a"],
                       "jwks": {"inline": testkit::jwks(&[TestKey::EdDsa])}}],
        "rules": [{"match": {"prefix": "/"}}]
    });
    let c = Config::from_json(minimal.to_string().as_bytes()).unwrap();
    assert_eq!(c.realm, "tollgate");
    assert!(c.claims_to_headers.is_empty());
}

#[test]
fn display_is_field_colon_message() {
    let mut c = base();
    c["providers"][0]["issuer"] = json!("");
    let e = err(c);
    assert_eq!(e.to_string(), "providers[0].issuer: must not be empty");
}

#[test]
fn not_json_or_trailing() {
    assert_eq!(Config::from_json(b"{").unwrap_err().field, "");
    assert_eq!(Config::from_json(b"[]").unwrap_err().field, "");
    let mut s = base().to_string();
    s.push_str(" {}");
    assert!(Config::from_json(s.as_bytes()).is_err());
}

#[test]
fn repeated_and_empty_named_members_are_named() {
    let from = |text: String| Config::from_json(text.as_bytes()).unwrap_err();
    let mut c = base().to_string();
    c.insert_str(1, r#""realm":"a","#);
    let e = from(c);
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("realm", "duplicate field `realm`")
    );
    let mut c = base().to_string();
    c.insert_str(1, r#""":1,"#);
    let e = from(c);
    assert_eq!(e.field, "\"\"");
    assert!(e.message.starts_with("unknown field ``"), "{e}");
    // Nested: the provider and the member.
    let c = base()
        .to_string()
        .replacen(r#""name":"idsvr""#, r#""name":"idsvr","name":"x""#, 1);
    let e = from(c);
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("providers[0].name", "duplicate field `name`")
    );
}

#[test]
fn unknown_fields_are_named() {
    let mut c = base();
    c["colour"] = json!("red");
    let e = err(c);
    assert_eq!(e.field, "colour");
    assert!(
        e.message.contains("unknown field `colour`"),
        "{}",
        e.message
    );
    let mut c = base();
    c["providers"][1]["issuers"] = json!("x");
    assert_eq!(field(c), "providers[1].issuers");
    let mut c = base();
    c["rules"][2]["match"]["regex"] = json!(".*");
    assert_eq!(field(c), "rules[2].match.regex");
    let mut c = base();
    c["providers"][0]["jwks"] =
        json!({"remote": {"cluster": "c", "url": "https://x/j", "retries": 3}});
    assert_eq!(field(c), "providers[0].jwks.remote.retries");
}

#[test]
fn missing_and_wrongly_typed_fields() {
    let mut c = base();
    c.as_object_mut().unwrap().remove("rules");
    assert_eq!(field(c), "rules");
    let mut c = base();
    c["providers"][0].as_object_mut().unwrap().remove("issuer");
    assert_eq!(field(c), "providers[0].issuer");
    let mut c = base();
    c["providers"][0]["clock_skew_seconds"] = json!("30");
    assert_eq!(field(c), "providers[0].clock_skew_seconds");
    let mut c = base();
    c["providers"][0]["jwks"] = json!({"file": "/etc/jwks.json"});
    assert_eq!(field(c), "providers[0].jwks");
}

#[test]
fn forward_token_is_a_boolean() {
    let mut c = base();
    c["forward_token"] = json!(false);
    let parsed = Config::from_json(c.to_string().as_bytes()).unwrap();
    assert!(!parsed.forward_token);
    let mut c = base();
    c["forward_token"] = json!("no");
    assert_eq!(field(c), "forward_token");
    let mut c = base();
    c["providers"][0]["forward_token"] = json!(false);
    assert_eq!(
        field(c),
        "providers[0].forward_token",
        "a top-level option, unknown per provider"
    );
}

#[test]
fn provider_errors() {
    let mut c = base();
    c["providers"] = json!([]);
    assert_eq!(field(c), "providers");
    let mut c = base();
    c["providers"][0]["issuer"] = json!("");
    assert_eq!(field(c), "providers[0].issuer");
    let mut c = base();
    c["providers"][1]["name"] = json!("idsvr");
    let e = err(c);
    assert_eq!(e.field, "providers[1].name");
    assert!(e.message.contains("duplicate"));
    let mut c = base();
    c["providers"][1]["issuer"] = json!(testkit::ISSUER);
    assert_eq!(field(c), "providers[1].issuer");
    let mut c = base();
    c["providers"][0]["name"] = json!("has space");
    assert_eq!(field(c), "providers[0].name");
    let mut c = base();
    c["providers"][0]["audiences"] = json!([]);
    assert_eq!(field(c), "providers[0].audiences");
    let mut c = base();
    c["providers"][0]["audiences"] = json!(["a", ""]);
    assert_eq!(field(c), "providers[0].audiences[1]");
    let mut c = base();
    c["providers"][0]["token_types"] = json!([]);
    assert_eq!(field(c), "providers[0].token_types");
    let mut c = base();
    c["providers"][0]["max_lifetime_seconds"] = json!(0);
    assert_eq!(field(c), "providers[0].max_lifetime_seconds");
    let mut c = base();
    c["providers"][0]["clock_skew_seconds"] = json!(3600);
    assert_eq!(field(c), "providers[0].clock_skew_seconds");
}

#[test]
fn algorithm_errors() {
    for bad in ["HS256", "none", "es256", "RS1"] {
        let mut c = base();
        c["providers"][0]["algorithms"] = json!(["ES256", bad]);
        let e = err(c);
        assert_eq!(e.field, "providers[0].algorithms[1]", "{bad}");
        assert!(e.message.contains("unsupported algorithm"), "{}", e.message);
    }
    // Listed, but no inline key of that type.
    let mut c = base();
    c["providers"][1]["algorithms"] = json!(["ES256", "ES384"]);
    let e = err(c);
    assert_eq!(e.field, "providers[1].algorithms[1]");
    assert!(e.message.contains("no key"), "{}", e.message);
    let mut c = base();
    c["providers"][0]["algorithms"] = json!([]);
    assert_eq!(field(c), "providers[0].algorithms");
}

#[test]
fn inline_jwks_errors_name_the_key() {
    let mut keys = testkit::jwks(&[TestKey::Es256, TestKey::EdDsa, TestKey::Rs256]);
    keys["keys"][2]["n"] = json!("AQAB");
    let mut c = base();
    c["providers"][0]["jwks"]["inline"] = keys;
    let e = err(c);
    assert_eq!(e.field, "providers[0].jwks.inline.keys[2]");
    assert!(e.message.contains("cannot be imported"), "{}", e.message);
    let mut c = base();
    c["providers"][1]["jwks"]["inline"]["keys"][0]["kty"] = json!("oct");
    assert_eq!(field(c), "providers[1].jwks.inline.keys[0]");
    let mut c = base();
    c["providers"][1]["jwks"]["inline"]["keys"][0]["d"] = json!("AAAA");
    let e = err(c);
    assert_eq!(e.field, "providers[1].jwks.inline.keys[0]");
    assert!(e.message.contains("private"));
    let mut c = base();
    c["providers"][1]["jwks"]["inline"] = json!({"keys": []});
    assert_eq!(field(c), "providers[1].jwks.inline");
    let mut c = base();
    c["providers"][1]["jwks"]["inline"] = json!([]);
    assert_eq!(field(c), "providers[1].jwks.inline");
}

#[test]
fn remote_and_discovery_parse_and_check() {
    let mut c = base();
    c["providers"][0]["jwks"] = json!({"remote": {"cluster": "", "url": "https://x/j"}});
    assert_eq!(field(c), "providers[0].jwks.remote.cluster");
    let mut c = base();
    c["providers"][0]["jwks"] = json!({"remote": {"cluster": "c", "url": "file:///etc/x"}});
    assert_eq!(field(c), "providers[0].jwks.remote.url");
    let mut c = base();
    c["providers"][0]["jwks"] =
        json!({"remote": {"cluster": "c", "url": "https://x/j", "timeout_ms": 0}});
    assert_eq!(field(c), "providers[0].jwks.remote.timeout_ms");
    let mut c = base();
    c["providers"][0]["jwks"] = json!({"discovery": {"cluster": "c", "cache_seconds": 1}});
    assert_eq!(field(c), "providers[0].jwks.discovery.cache_seconds");
    let mut c = base();
    c["providers"][0]["jwks"] =
        json!({"discovery": {"cluster": "c", "refetch_interval_seconds": 0}});
    assert_eq!(
        field(c),
        "providers[0].jwks.discovery.refetch_interval_seconds"
    );
    let mut c = base();
    c["providers"][0]["issuer"] = json!("urn:not-a-url");
    c["providers"][0]["jwks"] = json!({"discovery": {"cluster": "c"}});
    assert_eq!(field(c), "providers[0].issuer");
    // Remote provider with algorithms listed: allowed (keys are not known yet).
    let mut c = base();
    c["providers"][0]["jwks"] = json!({"remote": {"cluster": "c", "url": "https://x/j", "timeout_ms": 1500, "cache_seconds": 300}});
    let cfg = Config::from_json(c.to_string().as_bytes()).unwrap();
    match &cfg.providers[0].key_source {
        KeySource::Remote(r) => assert_eq!(
            (r.timeout_ms, r.cache_seconds, r.refetch_interval_seconds),
            (1500, 300, 30)
        ),
        other => panic!("{other:?}"),
    }
    assert!(cfg.providers[0].initial_keys.is_empty());
    assert_eq!(
        cfg.providers[0].algorithms,
        vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256]
    );
}

#[test]
fn rule_errors() {
    let mut c = base();
    c["rules"] = json!([]);
    assert_eq!(field(c), "rules");
    let mut c = base();
    c["rules"][3]["match"] = json!({"methods": ["GET"]});
    let e = err(c);
    assert_eq!(e.field, "rules[3].match");
    assert_eq!(e.message, "needs one of prefix, path or string_prefix");
    let mut c = base();
    c["rules"][0]["match"] = json!({"prefix": "/a", "path": "/a"});
    assert_eq!(field(c), "rules[0].match");
    let mut c = base();
    c["rules"][0]["match"] = json!({"prefix": "a"});
    assert_eq!(field(c), "rules[0].match.prefix");
    let mut c = base();
    c["rules"][0]["match"] = json!({"path": "/a?b"});
    assert_eq!(field(c), "rules[0].match.path");
    let mut c = base();
    c["rules"][3]["match"]["methods"] = json!(["get"]);
    assert_eq!(field(c), "rules[3].match.methods[0]");
    let mut c = base();
    c["rules"][3]["match"]["methods"] = json!([]);
    assert_eq!(field(c), "rules[3].match.methods");
    let mut c = base();
    c["rules"][4]["providers"] = json!(["partner", "nobody"]);
    let e = err(c);
    assert_eq!(e.field, "rules[4].providers[1]");
    assert!(e.message.contains("unknown provider"));
    let mut c = base();
    c["rules"][4]["providers"] = json!([]);
    assert_eq!(field(c), "rules[4].providers");
    let mut c = base();
    c["rules"][0]["scopes"] = json!(["x"]);
    assert_eq!(field(c), "rules[0].scopes");
    let mut c = base();
    c["rules"][1]["scopes"] = json!(["a b"]);
    assert_eq!(field(c), "rules[1].scopes[0]");
    let mut c = base();
    c["rules"][1]["scopes"] = json!(["ok", "\"q"]);
    assert_eq!(field(c), "rules[1].scopes[1]");
}

#[test]
fn claims_to_headers_errors() {
    for bad in ["X-User", "x user", "", "x-a\r\n", ":path", "a:b"] {
        let mut c = base();
        c["claims_to_headers"] = json!({"sub": bad});
        assert_eq!(field(c), "claims_to_headers.sub", "{bad:?}");
    }
    for reserved in [
        "authorization",
        "host",
        "cookie",
        "content-length",
        "x-envoy-internal",
        "x-forwarded-for",
    ] {
        let mut c = base();
        c["claims_to_headers"] = json!({"sub": reserved});
        let e = err(c);
        assert_eq!(e.field, "claims_to_headers.sub", "{reserved}");
        assert!(e.message.contains("reserved"), "{}", e.message);
    }
    let mut c = base();
    c["claims_to_headers"] = json!({"sub": "x-id", "client_id": "x-id"});
    assert_eq!(field(c), "claims_to_headers.sub");
    let mut c = base();
    c["claims_to_headers"] = json!({"": "x-id"});
    assert_eq!(field(c), "claims_to_headers.");
}

#[test]
fn top_level_limits() {
    let mut c = base();
    c["realm"] = json!("a\"b");
    assert_eq!(field(c), "realm");
    let mut c = base();
    c["realm"] = json!("");
    assert_eq!(field(c), "realm");
    let mut c = base();
    c["max_token_bytes"] = json!(10);
    assert_eq!(field(c), "max_token_bytes");
    let mut c = base();
    c["cache_size"] = json!(1_000_000);
    assert_eq!(field(c), "cache_size");
    let mut c = base();
    c["cors_preflight"] = json!("yes");
    assert_eq!(field(c), "cors_preflight");
}

#[test]
fn required_claims_errors() {
    for (claim, v) in [
        ("azp", json!(1)),
        ("azp", json!([])),
        ("azp", json!(["a", 2])),
        ("exp", json!("1")),
        ("aud", json!("x")),
    ] {
        let mut c = base();
        c["providers"][1]["required_claims"] = json!({ claim: v });
        assert_eq!(field(c), format!("providers[1].required_claims.{claim}"));
    }
    let mut c = base();
    c["providers"][1]["required_claims"] = json!({"azp": "a", "tid": ["t1", "t2"]});
    let cfg = Config::from_json(c.to_string().as_bytes()).unwrap();
    assert_eq!(
        cfg.providers[1].required_claims,
        vec![
            ("azp".to_owned(), vec!["a".to_owned()]),
            ("tid".to_owned(), vec!["t1".to_owned(), "t2".to_owned()])
        ]
    );
}
