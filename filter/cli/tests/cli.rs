//! The `tollgate` binary as an operator runs it: every shipped configuration passes `check`,
//! broken ones fail with the filter's own error text, warnings are exact, hostile input is
//! refused quickly, the committed schema is what the code generates, and `explain` gives
//! the answers of the shared decision table (tests/e2e/fixtures/decisions.json), which the
//! end-to-end suite checks against the real Envoy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch file under the target directory.
fn scratch(name: &str, content: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tollgate-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

/// A valid plugin configuration with the fixture issuer's inline keys.
fn base_config() -> Value {
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/e2e/fixtures/jwks.public.json")).unwrap(),
    )
    .unwrap();
    json!({
        "providers": [{
            "name": "idsvr",
            "issuer": "https://login.example.com/oauth/v2/oauth-anonymous",
            "audiences": ["api.example.com"],
            "jwks": {"inline": jwks}
        }],
        "rules": [
            {"match": {"prefix": "/health"}, "anonymous": true},
            {"match": {"prefix": "/orders", "methods": ["GET"]}, "scopes": ["orders:read"]},
            {"match": {"prefix": "/"}}
        ]
    })
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_configuration_passes_check() {
    let mut files = Vec::new();
    files_under(&repo().join("envoy"), &mut files);
    let mut checked = 0;
    for f in files {
        let content = std::fs::read_to_string(&f).unwrap();
        if !content.contains("\"providers\"") {
            continue; // no tollgate configuration in it (jwt_authn, RBAC, routes)
        }
        // Templates (demo, bench) have {{PLACEHOLDERS}} their runner fills in.
        let rendered = regex_free_render(&content);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let path = scratch(&format!("shipped-{checked}-{name}"), rendered.as_bytes());
        // Secrets written as {"env": NAME} come from the VM environment the Envoy config gives
        // (`vm_config.environment_variables.key_values`); the CLI reads its own environment.
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["check", &path])
            .envs(vm_environment(&content))
            .current_dir(repo())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            f.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains(": valid: "), "{}", f.display());
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} shipped configurations found");
}

/// `{{NAME}}` → `0` (ports; a file name that is never opened).
/// The `NAME: "value"` lines under `key_values:` of an Envoy config's
/// `vm_config.environment_variables`.
fn vm_environment(yaml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        match inside {
            Some(level) if indent > level && !line.trim().is_empty() => {
                if let Some((name, value)) = line.trim().split_once(':') {
                    let value = value.trim().trim_matches('"');
                    out.push((name.trim().to_owned(), value.to_owned()));
                }
            }
            _ => inside = line.trim().eq("key_values:").then_some(indent),
        }
    }
    out
}

fn regex_free_render(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        match rest[i..].find("}}") {
            Some(j) => {
                // A port placeholder becomes a port the filter accepts in a URL.
                let name = &rest[i + 2..i + j];
                out.push_str(if name.ends_with("PORT") { "10000" } else { "0" });
                rest = &rest[i + j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn check_summarises_a_valid_configuration() {
    let path = scratch("valid.json", base_config().to_string().as_bytes());
    let out = tollgate(&["check", &path]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{path}: valid: 1 provider(s): idsvr (3 inline key(s)); 3 rule(s): [0] any method \
             prefix:/health → anonymous; [1] GET prefix:/orders → token with scopes \
             orders:read; [2] any method prefix:/ → token\n"
        )
    );
    assert_eq!(text(&out.stderr), "");
    let out = tollgate(&["check", "--json", &path]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], json!(true));
    let c = &doc["files"][0]["configurations"][0];
    assert_eq!(c["summary"]["rules"][1]["scopes"], json!(["orders:read"]));
    assert_eq!(c["warnings"], json!([]));
}

/// Broken configurations: exit 1 and the filter's own error text.
#[test]
fn broken_configurations_fail_with_the_filters_error() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base_config();
        f(&mut c);
        c.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty issuer",
            with(&|c| c["providers"][0]["issuer"] = json!("")),
            "providers[0].issuer: must not be empty",
        ),
        (
            "unknown field",
            with(&|c| c["claims_to_header"] = json!({})),
            "claims_to_header: unknown field `claims_to_header`",
        ),
        (
            "wrong type",
            with(&|c| c["cache_size"] = json!("big")),
            "cache_size: invalid type: string \"big\", expected usize",
        ),
        (
            "HMAC algorithm",
            with(&|c| c["providers"][0]["algorithms"] = json!(["HS256"])),
            "providers[0].algorithms",
        ),
        (
            "a key that does not import",
            with(
                &|c| c["providers"][0]["jwks"]["inline"]["keys"][2] = json!({"kty": "EC", "crv": "P-256", "kid": "x", "alg": "ES256", "x": "AAAA", "y": "AAAA"}),
            ),
            "providers[0].jwks.inline.keys[2]: ",
        ),
        (
            "not JSON",
            "{\"providers\": [".to_owned(),
            "invalid configuration: providers: EOF while parsing a list",
        ),
    ];
    for (name, config, expected) in cases {
        let path = scratch(
            &format!("broken-{}.json", name.replace(' ', "-")),
            config.as_bytes(),
        );
        let out = tollgate(&["check", &path]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with(&format!("{path}: invalid configuration: ")),
            "{name}: {err}"
        );
        assert!(err.contains(expected), "{name}: {err}");
        assert_eq!(text(&out.stdout), "", "{name}");
    }
    // The message is the core's, word for word.
    let config = with(&|c| c["providers"][0]["issuer"] = json!(""));
    let core = tollgate_core::config::Config::from_json(config.as_bytes()).unwrap_err();
    let path = scratch("broken-issuer-again.json", config.as_bytes());
    assert_eq!(
        text(&tollgate(&["check", &path]).stderr),
        format!("{path}: invalid configuration: {core}\n")
    );
}

#[test]
fn warnings_for_valid_but_likely_wrong_configurations() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base_config();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("none", base_config(), vec![]),
        (
            "shadowed rule",
            with(&|c| {
                c["rules"] = json!([
                    {"match": {"prefix": "/orders"}, "scopes": ["orders:read"]},
                    {"match": {"prefix": "/orders/admin", "methods": ["GET"]}, "scopes": ["admin"]},
                    {"match": {"path": "/orders"}, "anonymous": true}
                ])
            }),
            vec![
                "rules[1]: never decides: every request it matches is taken by the earlier rules[0] (first match wins)",
                "rules[2]: never decides: every request it matches is taken by the earlier rules[0] (first match wins)",
            ],
        ),
        (
            "catch-all first",
            with(&|c| {
                c["rules"] = json!([
                    {"match": {"prefix": "/"}},
                    {"match": {"prefix": "/health"}, "anonymous": true}
                ])
            }),
            vec!["rules[0]: a catch-all (prefix:/, every method) before 1 more rule(s): rules[1..] never decide; put the catch-all last"],
        ),
        (
            "allow_missing with scopes",
            with(&|c| c["rules"][1]["allow_missing"] = json!(true)),
            vec!["rules[1]: allow_missing with scopes (orders:read): a request without any token passes, so the scopes only bind requests that carry a token"],
        ),
        (
            "query source",
            with(&|c| c["providers"][0]["sources"] = json!([{"header": "authorization", "scheme": "Bearer"}, {"query": "access_token"}])),
            vec!["providers[0].sources[1]: a token source in the query string without \"forward_token\": false: the API (and its access log) receives the token in the URL"],
        ),
        (
            "query source with forward_token false",
            with(&|c| {
                c["providers"][0]["sources"] = json!([{"query": "access_token"}]);
                c["forward_token"] = json!(false);
            }),
            vec![],
        ),
        (
            "plain http keys",
            with(&|c| c["providers"][0]["jwks"] = json!({"remote": {"cluster": "keys", "url": "http://login.example.com/jwks"}})),
            vec!["providers[0].jwks.remote.url: keys fetched over plain http from login.example.com: anyone on the path can substitute their own keys; use https"],
        ),
        (
            "plain http on loopback",
            with(&|c| c["providers"][0]["jwks"] = json!({"remote": {"cluster": "keys", "url": "http://127.0.0.1:9000/jwks"}})),
            vec![],
        ),
        (
            "two introspecting providers",
            with(&|c| {
                let intro = json!({"cluster": "as", "url": "https://login.example.com/introspect",
                                   "client_id": "gw", "client_secret": "s"});
                c["providers"][0]["introspection"] = intro.clone();
                let mut second = c["providers"][0].clone();
                second["name"] = json!("other");
                second["issuer"] = json!("https://other.example.com");
                c["providers"].as_array_mut().unwrap().push(second);
                c["rules"][1]["providers"] = json!(["idsvr"]);
            }),
            vec!["rules[2]: opaque tokens are introspected by idsvr only (the first introspecting provider in configuration order); other never see(s) them here: list one in the rule's providers"],
        ),
        (
            "attestation gate without origins",
            with(&|c| {
                c["client_attestation"] = json!({"attesters": [{"name": "attester",
                    "jwks": c["providers"][0]["jwks"].clone()}]});
                c["rules"].as_array_mut().unwrap().insert(0, json!({
                    "match": {"path": "/token", "methods": ["POST"]}, "anonymous": true,
                    "client_attestation": {"audience": "https://login.example.com",
                                           "grant_types": ["refresh_token"]}}));
            }),
            vec!["rules[0].client_attestation: a token-endpoint gate taking DPoP combined mode without \"origins\": a proof's htu is compared with the request's own scheme and host, which a client chooses; list the origins the authorization server is reached at"],
        ),
        (
            "attestation gate with origins",
            with(&|c| {
                c["client_attestation"] = json!({"attesters": [{"name": "attester",
                    "jwks": c["providers"][0]["jwks"].clone()}]});
                c["rules"].as_array_mut().unwrap().insert(0, json!({
                    "match": {"path": "/token", "methods": ["POST"]}, "anonymous": true,
                    "client_attestation": {"audience": "https://login.example.com",
                                           "grant_types": ["refresh_token"],
                                           "origins": ["https://login.example.com"]}}));
            }),
            vec![],
        ),
        (
            "dry run",
            with(&|c| c["mode"] = json!("dry_run")),
            vec!["mode: \"dry_run\" at the top level: every denied request passes to the API (only counted and logged); use it while rolling out, then remove it"],
        ),
    ];
    for (name, config, expected) in cases {
        let path = scratch(
            &format!("warn-{}.json", name.replace(' ', "-")),
            config.to_string().as_bytes(),
        );
        let out = tollgate(&["check", &path]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let got: Vec<String> = text(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(": warning: ").map(|(_, w)| w.to_owned()))
            .collect();
        assert_eq!(got, expected, "{name}");
    }
}

/// The DPoP `origins` warning appears exactly when this build's configuration has the field.
#[test]
fn dpop_origins_warning_follows_the_schema() {
    let mut c = base_config();
    c["providers"][0]["binding"] = json!("dpop");
    let path = scratch("dpop-no-origins.json", c.to_string().as_bytes());
    let out = tollgate(&["check", &path]);
    assert_eq!(out.status.code(), Some(0));
    let has_field = tollgate_core::config::json_schema()
        .pointer("/$defs/Dpop/properties/origins")
        .is_some();
    assert_eq!(
        text(&out.stdout)
            .contains("warning: providers[0].dpop: DPoP-bound tokens without \"origins\""),
        has_field
    );
}

#[test]
fn hostile_input_is_refused_quickly() {
    // Deep where the filter keeps any JSON value (inline keys): serde_json's recursion limit.
    let deep_json = format!(
        "{{\"rules\": [], \"providers\": [{{\"name\": \"a\", \"issuer\": \"b\", \"audiences\": [\"c\"], \"jwks\": {{\"inline\": {}{}}}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // Block nesting (flow nesting stops in the parser itself, as in `deep-array`).
    let deep_yaml: String = (0..100)
        .map(|i| format!("{}a:\n", "  ".repeat(i)))
        .collect();
    let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
                b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
                f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    let alias_only = "static_resources: *x\n";
    let mut huge = base_config().to_string().into_bytes();
    huge.extend(std::iter::repeat_n(b' ', 5 << 20));
    let mut not_utf8 = b"{\"providers\": [], \"rules\": [], \"realm\": \"".to_vec();
    not_utf8.extend([0xff, 0xfe]);
    not_utf8.extend(b"\"}");
    let tagged = "kind: WasmPlugin\nspec: !!binary aGVsbG8=\n";
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "huge",
            huge,
            "larger than 4 MiB: not a configuration".into(),
        ),
        ("not-utf8", not_utf8, "not UTF-8 (byte 41)".into()),
        (
            "deep-json",
            deep_json.into_bytes(),
            format!(
                "invalid configuration: providers[0].jwks.inline{}: recursion limit exceeded",
                "[0]".repeat(123)
            ),
        ),
        (
            "deep-array",
            deep_array.into_bytes(),
            "not YAML: recursion limit exceeded".into(),
        ),
        (
            "deep-yaml",
            deep_yaml.into_bytes(),
            "line 65: nested deeper than 64 levels".into(),
        ),
        (
            "bomb",
            bomb.as_bytes().to_vec(),
            "line 1: YAML anchors and aliases are refused (write the value out)".into(),
        ),
        ("alias", alias_only.as_bytes().to_vec(), "not YAML: ".into()),
        (
            "tag",
            tagged.as_bytes().to_vec(),
            "line 2: YAML tags are refused".into(),
        ),
    ];
    for (name, content, expected) in cases {
        let path = scratch(&format!("hostile-{name}"), &content);
        let start = Instant::now();
        let out = tollgate(&["check", &path]);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        assert!(err.starts_with(&format!("{path}: ")), "{name}: {err}");
        assert!(err.contains(&expected), "{name}: {err}");
    }
}

#[test]
fn committed_schema_is_what_the_code_generates() {
    let committed = std::fs::read_to_string(repo().join("filter/tollgate.schema.json")).unwrap();
    let out = tollgate(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout) == committed,
        "filter/tollgate.schema.json is stale: run `cargo run -q -p tollgate-cli -- schema > \
         filter/tollgate.schema.json`"
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["frobnicate"],
        vec!["check"],
        vec!["check", "--yaml", "x"],
        vec!["explain", "x.json", "--path", "/"],
        vec![
            "explain", "x.json", "--method", "GET", "--path", "/", "--now", "soon",
        ],
    ] {
        let out = tollgate(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(tollgate(&["--help"]).status.code(), Some(0));
    assert_eq!(
        text(&tollgate(&["--version"]).stdout),
        format!("tollgate {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// An ES256 token signed with the end-to-end suite's TEST-ONLY key `tg-es256-1`, with the
/// claims `tests/e2e/fixtures/tokens.mjs` `mint()` gives for the same options.
fn mint(spec: &Value, now: u64) -> String {
    use p256::ecdsa::signature::Signer;
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("tests/e2e/fixtures/keys/TEST-ONLY-private-keys.jwks.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "tg-es256-1")
        .unwrap();
    let d = Base64UrlSafeNoPadding::decode_to_vec(jwk["d"].as_str().unwrap(), None).unwrap();
    let key = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
    let offset = |name: &str, default: i64| {
        let o = spec.get(name).and_then(Value::as_i64).unwrap_or(default);
        (now as i64 + o) as u64
    };
    let header = json!({"alg": "ES256", "kid": "tg-es256-1", "typ": "at+jwt"});
    let mut claims = json!({
        "iss": "https://login.example.com/oauth/v2/oauth-anonymous",
        "aud": spec.get("aud").cloned().unwrap_or(json!("api.example.com")),
        "sub": "user-1234",
        "client_id": "mobile-app",
        "iat": offset("iat", -5),
        "exp": offset("exp", 300),
        "jti": "decision-table",
        "scope": spec.get("scope").cloned().unwrap_or(json!("orders:read")),
    });
    if let Some(cnf) = spec.get("cnf") {
        claims["cnf"] = cnf.clone();
    }
    let b64 = |v: &Value| Base64UrlSafeNoPadding::encode_to_string(v.to_string()).unwrap();
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlSafeNoPadding::encode_to_string(sig.to_bytes()).unwrap()
    )
}

#[test]
fn explain_gives_the_answers_of_the_shared_decision_table() {
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/e2e/fixtures/decisions.json")).unwrap(),
    )
    .unwrap();
    let config = table["config"].as_str().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now_arg = now.to_string();
    for row in table["requests"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let mut args = vec![
            "explain".to_owned(),
            config.to_owned(),
            "--json".to_owned(),
            "--now".to_owned(),
            now_arg.clone(),
            "--method".to_owned(),
            row["method"].as_str().unwrap().to_owned(),
            "--path".to_owned(),
            row["path"].as_str().unwrap().to_owned(),
        ];
        let token = row.get("token").map(|spec| mint(spec, now));
        if let Some(t) = &token {
            args.push("--header".into());
            args.push(format!("authorization: Bearer {t}"));
        }
        for (n, v) in row
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            args.push("--header".into());
            args.push(format!("{n}: {}", v.as_str().unwrap()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tollgate(&args);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        if let Some(t) = &token {
            let signature = t.rsplit('.').next().unwrap();
            assert!(
                !stdout.contains(t.as_str()) && !stdout.contains(signature),
                "{name}: token printed"
            );
        }
        let got: Value = serde_json::from_str(&stdout).unwrap();
        let expect = &row["expect"];
        assert_eq!(got["decision"], expect["decision"], "{name}");
        assert_eq!(got["reason"], expect["reason"], "{name}");
        assert_eq!(got["rule"]["index"], expect["rule"], "{name}");
        assert_eq!(
            got["www_authenticate"], expect["www_authenticate"],
            "{name}"
        );
        let status = if expect["decision"] == "allow" {
            Value::Null
        } else {
            expect["status"].clone()
        };
        assert_eq!(got["status"], status, "{name}");
        if let Some(body) = expect.get("body") {
            assert_eq!(got["body"], *body, "{name}");
        }
        if let Some(headers) = expect.get("upstream_headers").and_then(Value::as_object) {
            let set: serde_json::Map<String, Value> = got["upstream"]["set_headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].clone()))
                .collect();
            assert_eq!(&set, headers, "{name}");
        }
        // The checks: every step before the deciding one passed, that one failed.
        let failed: Vec<&Value> = got["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["result"] == "failed")
            .collect();
        assert_eq!(
            failed.len(),
            usize::from(expect["decision"] == "deny"),
            "{name}"
        );
    }
}

#[test]
fn explain_uses_keys_given_for_a_remote_provider_and_says_when_they_are_missing() {
    let mut c = base_config();
    c["providers"][0]["jwks"] =
        json!({"remote": {"cluster": "keys", "url": "https://login.example.com/jwks"}});
    let path = scratch("remote.json", c.to_string().as_bytes());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = mint(&json!({}), now);
    let header = format!("authorization: Bearer {token}");
    let now_arg = now.to_string();
    let base = [
        "explain",
        &path,
        "--json",
        "--now",
        &now_arg,
        "--method",
        "GET",
        "--path",
        "/orders/1",
        "--header",
        &header,
    ];
    let without: Value = serde_json::from_slice(&tollgate(&base).stdout).unwrap();
    assert_eq!(without["reason"], json!("keys_unavailable"));
    assert_eq!(without["status"], json!(503));
    let mut with_keys = base.to_vec();
    with_keys.extend(["--keys", "tests/e2e/fixtures/jwks.public.json"]);
    let with: Value = serde_json::from_slice(&tollgate(&with_keys).stdout).unwrap();
    assert_eq!(with["decision"], json!("allow"), "{with}");
    let mut named = base.to_vec();
    named.extend(["--keys", "nobody=tests/e2e/fixtures/jwks.public.json"]);
    let out = tollgate(&named);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "--keys nobody=…: no provider is named nobody\n"
    );
}

#[test]
fn explain_holds_a_certificate_bound_token_to_the_given_client_certificate() {
    let mut c = base_config();
    c["providers"][0]["binding"] = json!("mtls");
    let path = scratch("mtls.json", c.to_string().as_bytes());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let x5t = Base64UrlSafeNoPadding::encode_to_string([0xab_u8; 32]).unwrap();
    let token = mint(&json!({"cnf": {"x5t#S256": x5t}}), now);
    let header = format!("authorization: Bearer {token}");
    let now_arg = now.to_string();
    let ask = |cert: Option<&str>| -> Value {
        let mut args = vec![
            "explain", &path, "--json", "--now", &now_arg, "--method", "GET", "--path", "/orders",
            "--header", &header,
        ];
        if let Some(c) = cert {
            args.extend(["--client-cert-sha256", c]);
        }
        serde_json::from_slice(&tollgate(&args).stdout).unwrap()
    };
    assert_eq!(ask(None)["reason"], json!("no_client_certificate"));
    assert_eq!(ask(Some(&"ab".repeat(32)))["decision"], json!("allow"));
    assert_eq!(
        ask(Some(&"cd".repeat(32)))["reason"],
        json!("certificate_mismatch")
    );
    let bad = tollgate(&[
        "explain",
        &path,
        "--method",
        "GET",
        "--path",
        "/",
        "--client-cert-sha256",
        "xyz",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn explain_never_prints_a_token_read_from_the_query_string() {
    let mut c = base_config();
    c["providers"][0]["sources"] = json!([{"query": "access_token"}]);
    let path = scratch("query.json", c.to_string().as_bytes());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = mint(&json!({}), now);
    let now_arg = now.to_string();
    // The path is rewritten (`%6F` → `o`) and the token stays in the query (forward_token: true).
    let target = format!("/%6Frders?access_token={token}&page=2");
    let out = tollgate(&[
        "explain", &path, "--now", &now_arg, "--method", "GET", "--path", &target,
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("decision: allow"), "{stdout}");
    assert!(
        stdout.contains("  :path rewritten to /orders?access_token=…&page=…\n"),
        "{stdout}"
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(!stdout.contains(signature), "{stdout}");
}

#[test]
fn check_reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut config = base_config();
    config["realm"] = json!("");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "-: invalid configuration: realm: must be non-empty, without control characters, quotes or backslashes\n"
    );
}

#[test]
fn many_rules_are_checked_in_bounded_time() {
    let mut c = base_config();
    let rules: Vec<Value> = (0..20_000)
        .map(|i| json!({"match": {"prefix": format!("/r{i}")}}))
        .collect();
    c["rules"] = Value::Array(rules);
    let path = scratch("many-rules.json", c.to_string().as_bytes());
    let start = Instant::now();
    let out = tollgate(&["check", &path]);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).ends_with(&format!(
        "{path}: warning: rules: 20000 rules: only the first 2000 were looked at for rules that never decide\n"
    )));
}
