//! The seed corpus, generated: `corpus/<target>/<name>` holds exactly [`seeds`]`(target)`
//! (`tests/corpus.rs` checks it; `TOLLGATE_FUZZ_WRITE_SEEDS=1 cargo test` rewrites it).
//! Seeds are small valid and nearly valid inputs, so the fuzzer starts past the parsers'
//! first checks; tokens are signed by `testkit` at its fixed `NOW`.

use serde_json::{json, Value};
use tollgate_core::testkit::{self, TestKey};

fn token_case(mode: u8, clock: i8, header: &str, payload: &str, mutations: &[u8]) -> Vec<u8> {
    let mut v = vec![mode, clock as u8];
    v.extend_from_slice(header.as_bytes());
    v.push(0);
    v.extend_from_slice(payload.as_bytes());
    v.push(0);
    v.extend_from_slice(mutations);
    v
}

fn claims(extra: Value) -> String {
    let mut c = Value::Object(testkit::claims(testkit::NOW));
    if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    c.to_string()
}

/// `(file name, bytes)` of every seed of `target`.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let named = |list: Vec<(&str, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        list.into_iter().map(|(n, b)| (n.to_owned(), b)).collect()
    };
    match target {
        "token" => {
            let now = testkit::NOW;
            let h = |alg: &str, kid: Option<&str>, typ: &str| {
                let mut v = json!({ "alg": alg, "typ": typ });
                if let Some(k) = kid {
                    v["kid"] = k.into();
                }
                v.to_string()
            };
            let es = h("ES256", Some("es256-1"), "at+jwt");
            named(vec![
                ("es256", token_case(0, 0, "", "", &[])),
                ("eddsa", token_case(1, 0, "", "", &[])),
                ("rs256", token_case(2, 0, "", "", &[])),
                (
                    "partner-on-partner-route",
                    token_case(3 | 3 << 3, 0, "", "", &[]),
                ),
                ("rogue-key", token_case(4, 0, "", "", &[])),
                ("es256-post", token_case(1 << 3, 0, "", "", &[])),
                (
                    "es256-admin-scope-missing",
                    token_case(2 << 3, 0, "", "", &[]),
                ),
                ("expired", token_case(0, 70, "", "", &[])),
                (
                    "eddsa-no-kid",
                    token_case(1, 0, &h("EdDSA", None, "AT+JWT"), "", &[]),
                ),
                (
                    "alg-mismatch",
                    token_case(1, 0, &h("ES256", Some("ed25519-1"), "at+jwt"), "", &[]),
                ),
                (
                    "typ-jwt",
                    token_case(0, 0, &h("ES256", Some("es256-1"), "JWT"), "", &[]),
                ),
                (
                    "crit",
                    token_case(
                        0,
                        0,
                        &json!({"alg":"ES256","kid":"es256-1","typ":"at+jwt","crit":["b64"]})
                            .to_string(),
                        "",
                        &[],
                    ),
                ),
                (
                    "scp-array-admin",
                    token_case(
                        2 << 3,
                        0,
                        &es,
                        &claims(
                            json!({"scope": null, "scp": ["orders:admin", "orders:read"], "nbf": now - 10}),
                        ),
                        &[],
                    ),
                ),
                (
                    "aud-array-float-dates",
                    token_case(
                        0,
                        0,
                        &es,
                        &claims(
                            json!({"aud": ["x", testkit::AUDIENCE], "iat": (now - 60) as f64 + 0.5, "exp": (now + 240) as f64 + 0.25}),
                        ),
                        &[],
                    ),
                ),
                (
                    "duplicate-claim",
                    token_case(
                        0,
                        0,
                        &es,
                        &format!(r#"{{"iss":"{}","iss":"x"}}"#, testkit::ISSUER),
                        &[],
                    ),
                ),
                (
                    "lifetime-too-long",
                    token_case(0, 0, &es, &claims(json!({"exp": now + 2000})), &[]),
                ),
                (
                    "no-iat",
                    token_case(0, 0, &es, &claims(json!({"iat": null})), &[]),
                ),
                ("mutated-signature", {
                    // Overwrite a character near the end: inside the signature segment.
                    let at = testkit::token(TestKey::Es256, now).len() - 5;
                    token_case(
                        0,
                        0,
                        "",
                        "",
                        &[((at / 256) << 2) as u8, (at % 256) as u8, 7],
                    )
                }),
                ("mutated-payload", token_case(0, 0, "", "", &[0, 60, 1])),
                ("truncated", token_case(0, 0, "", "", &[7, 40, 0])),
                ("raw-garbled", {
                    let mut v = vec![5, 0];
                    v.extend_from_slice(b"eyJhbGciOiJub25lIn0.e30.");
                    v
                }),
                ("raw-valid", {
                    let mut v = vec![5, 0];
                    v.extend(testkit::token(TestKey::Es256, now).into_bytes());
                    v
                }),
            ])
        }
        "jwks" => {
            let all = testkit::jwks(&[
                TestKey::Es256,
                TestKey::EdDsa,
                TestKey::Rs256,
                TestKey::PartnerEs256,
            ]);
            let one = |k: TestKey| testkit::jwks(&[k]);
            let with = |k: TestKey, f: &dyn Fn(&mut Value)| {
                let mut j = one(k);
                f(&mut j["keys"][0]);
                j
            };
            let dup = json!({ "keys": [TestKey::Es256.public_jwk(), TestKey::Es256.public_jwk()] });
            let many = json!({ "keys": vec![TestKey::EdDsa.public_jwk(); 33] });
            let docs = vec![
                ("all", all),
                (
                    "rsa-no-alg",
                    with(TestKey::Rs256, &|k| {
                        k.as_object_mut().map(|o| o.remove("alg"));
                    }),
                ),
                (
                    "rsa-ps256",
                    with(TestKey::Rs256, &|k| k["alg"] = "PS256".into()),
                ),
                ("private-d", with(TestKey::EdDsa, &|k| k["d"] = "AQ".into())),
                (
                    "use-enc",
                    with(TestKey::Es256, &|k| k["use"] = "enc".into()),
                ),
                (
                    "key-ops-sign",
                    with(TestKey::Es256, &|k| k["key_ops"] = json!(["sign"])),
                ),
                (
                    "p384-crv-mismatch",
                    with(TestKey::Es256, &|k| k["crv"] = "P-384".into()),
                ),
                ("oct", json!({ "keys": [{ "kty": "oct", "k": "AAAA" }] })),
                ("duplicate-kid", dup),
                ("too-many", many),
                ("empty", json!({ "keys": [] })),
                ("not-an-array", json!({ "keys": {} })),
                (
                    "mixed-bad-first",
                    json!({ "keys": [1, TestKey::EdDsa.public_jwk()] }),
                ),
            ];
            docs.into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_string().into_bytes()))
                .collect()
        }
        "config" => {
            let base = testkit::config();
            let with = |f: &dyn Fn(&mut Value)| {
                let mut c = testkit::config();
                f(&mut c);
                c.to_string().into_bytes()
            };
            named(vec![
                ("testkit", base.to_string().into_bytes()),
                ("remote-and-discovery", with(&|c| {
                    c["providers"][0]["jwks"] = json!({ "remote": { "cluster": "idsvr", "url": "https://login.example.test/jwks", "timeout_ms": 2000 } });
                    c["providers"][1]["jwks"] = json!({ "discovery": { "cluster": "partner", "cache_seconds": 60 } });
                    c["providers"][1]["required_claims"] = json!({ "azp": ["app-1", "app-2"], "tenant": "t1" });
                })),
                ("options", with(&|c| {
                    c["path_parameters"] = "strip".into();
                    c["cors_preflight"] = true.into();
                    c["forward_token"] = false.into();
                    c["cache_size"] = 0.into();
                    c["signature_path"] = "wasm".into();
                    c["providers"][0]["token_types"] = json!(["JWT"]);
                    c["providers"][0]["allow_missing_typ"] = true.into();
                })),
                ("unknown-field", with(&|c| c["providers"][0]["extra"] = 1.into())),
                ("bad-rule-path", with(&|c| c["rules"][0]["match"]["prefix"] = "/%6frders".into())),
                ("exact-trailing-slash", with(&|c| c["rules"][5]["match"]["path"] = "/exact/".into())),
                ("unknown-rule-provider", with(&|c| c["rules"][4]["providers"] = json!(["nobody"]))),
                ("duplicate-top-level", format!("{{\"realm\":\"a\",{}", &base.to_string()[1..]).into_bytes()),
                ("not-an-object", b"[]".to_vec()),
                ("minimal", json!({ "providers": [{ "name": "p", "issuer": "i", "audiences": ["a"], "jwks": { "inline": testkit::jwks(&[TestKey::EdDsa]) } }], "rules": [{ "match": { "prefix": "/" } }] }).to_string().into_bytes()),
            ])
        }
        "path" => {
            let p = |flags: u8, cut: u8, s: &str| {
                let mut v = vec![flags, cut];
                v.extend_from_slice(s.as_bytes());
                v
            };
            named(vec![
                ("orders", p(0, 7, "/orders/1")),
                ("head-orders", p(2, 3, "/Orders/1?x=1")),
                ("params-strip", p(1, 9, "/orders;jsessionid=x/1?x=1")),
                ("params-reject", p(0, 9, "/orders;jsessionid=x/1")),
                ("escaped-unreserved", p(0, 4, "/%6frders/%7e")),
                ("lower-hex", p(4, 4, "/caf%c3%a9/%2b")),
                ("dot-dot", p(0, 0, "/a/../b")),
                ("encoded-dots", p(0, 0, "/%2e%2E/admin")),
                ("double-slash", p(0, 0, "//orders")),
                ("encoded-slash", p(0, 0, "/api%2Fadmin")),
                ("dot-params", p(1, 0, "/health/..;/admin")),
                ("double-encoding", p(0, 0, "/%252e")),
                ("overlong", p(0, 0, "/%C0%AE")),
                ("method-override", p(6, 0, "/orders?_method=DELETE")),
                (
                    "method-override-encoded",
                    p(6, 0, "/orders?%5Fmethod=DELETE"),
                ),
                ("health", p(0, 5, "/health/live")),
                ("exact", p(0, 6, "/exact/")),
                ("lower-method", p(12, 0, "/orders")),
                ("asterisk", p(8, 0, "*")),
            ])
        }
        "signature" => {
            let mut out = Vec::new();
            for (k, name) in ["es256", "eddsa", "rs256", "partner"].iter().enumerate() {
                let mut v = vec![k as u8, 0];
                v.extend_from_slice(b"eyJhbGciOiJFUzI1NiJ9.e30");
                out.push((format!("{name}-valid"), v));
                let mut v = vec![k as u8, 1, 5, 0x80];
                v.extend_from_slice(b"hello");
                out.push((format!("{name}-flipped"), v));
            }
            out
        }
        "attestation" => {
            use crate::targets::attestation::{ATTESTER, AUDIENCE, INSTANCE};
            let body = |ct: &str, q: &str, b: &str| {
                let mut v = vec![0u8];
                v.extend_from_slice(ct.as_bytes());
                v.push(0xff);
                v.extend_from_slice(q.as_bytes());
                v.push(0xff);
                v.extend_from_slice(b.as_bytes());
                v
            };
            let mut jwk = INSTANCE.public_jwk();
            if let Some(o) = jwk.as_object_mut() {
                for m in ["kid", "alg", "use"] {
                    o.remove(m);
                }
            }
            let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
            let attestation = testkit::mint(
                ATTESTER,
                &obj(
                    json!({ "typ": "oauth-client-attestation+jwt", "alg": "ES256", "kid": ATTESTER.kid() }),
                ),
                &obj(
                    json!({ "sub": "app-1", "iat": testkit::NOW, "exp": testkit::NOW + 3600, "cnf": { "jwk": jwk } }),
                ),
            );
            let pop = testkit::mint(
                INSTANCE,
                &obj(json!({ "typ": "oauth-client-attestation-pop+jwt", "alg": "EdDSA" })),
                &obj(json!({ "aud": AUDIENCE, "jti": "j1", "iat": testkit::NOW })),
            );
            let check = |b: &str| {
                let mut v = vec![1u8];
                v.extend_from_slice(attestation.as_bytes());
                v.push(0xff);
                v.extend_from_slice(pop.as_bytes());
                v.push(0xff);
                v.extend_from_slice(b.as_bytes());
                v
            };
            let form = "application/x-www-form-urlencoded";
            named(vec![
                (
                    "body-refresh",
                    body(
                        form,
                        "",
                        "grant_type=refresh_token&refresh_token=r&client_id=app-1",
                    ),
                ),
                (
                    "body-encoded",
                    body(
                        "application/x-www-form-urlencoded; charset=UTF-8",
                        "?x=1",
                        "grant_type=refresh%5Ftoken&client_id=my+app",
                    ),
                ),
                (
                    "body-repeated",
                    body(
                        form,
                        "",
                        "grant_type=authorization_code&grant_type=refresh_token",
                    ),
                ),
                (
                    "body-semicolon",
                    body(form, "", "grant_type=a;grant_type=refresh_token"),
                ),
                (
                    "body-folded",
                    body(form, "", "GRANT_TYPE=refresh_token&grant_type=x"),
                ),
                (
                    "body-query",
                    body(form, "?client%5Fid=a", "grant_type=refresh_token"),
                ),
                (
                    "body-json",
                    body("application/json", "", "{\"grant_type\":\"refresh_token\"}"),
                ),
                (
                    "check-valid",
                    check("grant_type=refresh_token&client_id=app-1"),
                ),
                (
                    "check-other-client",
                    check("grant_type=refresh_token&client_id=app-2"),
                ),
                (
                    "check-other-grant",
                    check("grant_type=authorization_code&code=c"),
                ),
            ])
        }
        "page" => {
            let p = |link: &str, query: &str, fragment: &str| {
                format!("{link}\0{query}\0{fragment}").into_bytes()
            };
            named(vec![
                ("code", p("", "?code=c1&state=s1&iss=https%3A%2F%2Fas.example", "")),
                ("fragment", p("", "", "#code=c1&state=a+b%26c")),
                ("error", p("", "?error=access_denied&error_description=no%21&error_uri=https%3A%2F%2Fas.example%2Fe&state=s", "")),
                ("error-uri-javascript", p("", "?error=x&error_uri=javascript%3Aalert(1)", "")),
                ("dropped-target", p("", "?code=c&redirect_uri=https%3A%2F%2Fevil.example&next=%2F%2Fevil", "")),
                ("duplicate", p("", "?code=a&code=b", "")),
                ("query-and-fragment", p("", "?code=a", "#code=b")),
                ("logout", p("!https://mobile.example.com/app/logout", "?state=s1&code=c", "")),
                ("loopback", p("http://127.0.0.1:9000/app/cb", "?code=%E2%9C%8B", "")),
                ("bad-link", p("https://user@mobile.example.com/cb", "?code=c", "")),
                ("control", p("", "?code=a%0Ab", "")),
            ])
        }
        _ => Vec::new(),
    }
}
