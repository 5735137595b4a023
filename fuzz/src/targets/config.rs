//! `config`: the plugin configuration, `Config::from_json` and `Engine::from_json`.
//!
//! Input: the configuration JSON bytes. Checked: no panic; for any input that is a JSON
//! object, an error names the field it is about (a non-empty `field`) and says something;
//! an accepted configuration round-trips: [`to_json`] writes the checked model back as
//! JSON (inline key sets are taken from the input, since key material is never exposed),
//! and parsing that gives the same configuration (`Debug` compared, which shows every field
//! but key material). The engine built from it decides a plain request without panicking.

use serde_json::{json, Map, Value};
use tollgate_core::config::{
    Access, Attester, Binding, Challenges, ClientAttestation, Config, DiscoveryJwks, DpopPolicy,
    KeySource, Mode, PathMatch, PopMethods, Provider, RemoteJwks, Rule, RuleAttestation,
    SignaturePath, TokenSource,
};
use tollgate_core::introspection::{Forward, Introspection, ResponseMode};
use tollgate_core::{CacheSecret, Engine, PathParameters};

/// Run one input.
pub fn run(data: &[u8]) {
    let parsed = Config::from_json(data);
    let input: Option<Value> = serde_json::from_slice(data).ok();
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.message.is_empty(), "an error without a message");
            if input.as_ref().is_some_and(Value::is_object) {
                assert!(
                    !e.field.is_empty(),
                    "an error on a JSON object names no field: {e}"
                );
            }
            if Engine::from_json(data, CacheSecret([0x5eed, 1])).is_ok() {
                panic!("Engine::from_json accepted what Config::from_json refused: {e}");
            }
            return;
        }
    };
    let Some(input) = input else {
        panic!("a configuration that is not JSON was accepted")
    };
    let written = to_json(&config, &input).to_string();
    match Config::from_json(written.as_bytes()) {
        Ok(again) => assert_eq!(
            format!("{config:?}"),
            format!("{again:?}"),
            "the configuration did not round-trip through {written}"
        ),
        Err(e) => panic!("the written-back configuration is refused: {e}\n{written}"),
    }
    let mut engine = Engine::new(config, CacheSecret([0x5eed, 1]));
    let headers = vec![
        (":method".to_owned(), "GET".to_owned()),
        (":path".to_owned(), "/orders/1?x=1".to_owned()),
        ("authorization".to_owned(), "Bearer a.b.c".to_owned()),
    ];
    let _ = engine.evaluate(&headers, 1_700_000_000);
}

/// The checked configuration as JSON, every field written out explicitly. A destructuring
/// `let` per struct makes a new field a compile error here until it is written too.
pub fn to_json(c: &Config, input: &Value) -> Value {
    let Config {
        realm,
        max_token_bytes,
        cors_preflight,
        cache_size,
        forward_token,
        path_parameters,
        signature_path,
        dpop_replay_cache_size,
        stat_prefix,
        mode,
        claims_to_filter_state,
        dpop_nonce,
        resource_metadata,
        providers,
        rules,
        claims_to_headers,
        client_attestation,
    } = c;
    let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    let mut out = json!({
        "realm": realm,
        "max_token_bytes": max_token_bytes,
        "cors_preflight": cors_preflight,
        "cache_size": cache_size,
        "forward_token": forward_token,
        "path_parameters": match path_parameters {
            PathParameters::Reject => "reject",
            PathParameters::Strip => "strip",
        },
        "signature_path": match signature_path {
            SignaturePath::Auto => "auto",
            SignaturePath::Host => "host",
            SignaturePath::Wasm => "wasm",
        },
        "dpop_replay_cache_size": dpop_replay_cache_size,
        "stat_prefix": stat_prefix,
        "mode": mode_json(*mode),
        "claims_to_filter_state": claims_to_filter_state,
        "providers": providers
            .iter()
            .enumerate()
            .map(|(i, p)| provider_json(p, &input["providers"][i]))
            .collect::<Vec<_>>(),
        "rules": rules.iter().map(|r| rule_json(r, &names)).collect::<Vec<_>>(),
        "claims_to_headers": claims_to_headers
            .iter()
            .map(|(c, h)| (c.clone(), Value::from(h.as_str())))
            .collect::<Map<_, _>>(),
        "client_attestation": client_attestation
            .as_ref()
            .map(|a| attestation_json(a, &input["client_attestation"])),
    });
    // The nonce key keeps no copy of its secret and the metadata document is derived: both
    // are written back as the input had them (the round trip still compares the results).
    if dpop_nonce.is_some() {
        out["dpop_nonce"] = input["dpop_nonce"].clone();
    }
    if resource_metadata.is_some() {
        out["resource_metadata"] = input["resource_metadata"].clone();
    }
    out
}

/// The top-level `client_attestation`; key sets and the challenge secret from the input.
fn attestation_json(a: &ClientAttestation, input: &Value) -> Value {
    let ClientAttestation {
        attesters,
        max_age_seconds,
        pop_max_age_seconds,
        clock_skew_seconds,
        challenges,
    } = a;
    let attesters: Vec<Value> = attesters
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let Attester {
                name,
                issuer,
                algorithms,
                keys: _,
            } = t;
            let mut out = json!({
                "name": name,
                "jwks": { "inline": input["attesters"][i]["jwks"]["inline"] },
                "algorithms": algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
            });
            if let Some(issuer) = issuer {
                out["issuer"] = json!(issuer);
            }
            out
        })
        .collect();
    let mut out = json!({
        "attesters": attesters,
        "max_age_seconds": max_age_seconds,
        "pop_max_age_seconds": pop_max_age_seconds,
        "clock_skew_seconds": clock_skew_seconds,
    });
    if let Some(Challenges { key, endpoint }) = challenges {
        out["challenges"] = json!({
            "secret": input["challenges"]["secret"],
            "endpoint": endpoint,
            "lifetime_seconds": key.lifetime(),
        });
    }
    out
}

fn provider_json(p: &Provider, input: &Value) -> Value {
    let inline = &input["jwks"]["inline"];
    let Provider {
        name,
        issuer,
        audiences,
        algorithms,
        token_types,
        allow_missing_typ,
        max_lifetime_seconds,
        clock_skew_seconds,
        required_claims,
        binding,
        dpop,
        sources,
        key_source,
        initial_keys: _,
        introspection,
    } = p;
    let DpopPolicy {
        max_age_seconds,
        clock_skew_seconds: dpop_skew,
        algorithms: dpop_algorithms,
        origins,
    } = dpop;
    let mut dpop_json = json!({
        "max_age_seconds": max_age_seconds,
        "clock_skew_seconds": dpop_skew,
        "algorithms": dpop_algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
    });
    if !origins.is_empty() {
        dpop_json["origins"] = json!(origins);
    }
    let jwks = match key_source {
        KeySource::Inline => json!({ "inline": inline }),
        KeySource::Remote(RemoteJwks {
            cluster,
            url,
            timeout_ms,
            cache_seconds,
            refetch_interval_seconds,
        }) => json!({ "remote": {
            "cluster": cluster, "url": url, "timeout_ms": timeout_ms,
            "cache_seconds": cache_seconds, "refetch_interval_seconds": refetch_interval_seconds,
        }}),
        KeySource::Discovery(DiscoveryJwks {
            cluster,
            timeout_ms,
            cache_seconds,
            refetch_interval_seconds,
        }) => json!({ "discovery": {
            "cluster": cluster, "timeout_ms": timeout_ms,
            "cache_seconds": cache_seconds, "refetch_interval_seconds": refetch_interval_seconds,
        }}),
    };
    let mut out = json!({
        "name": name,
        "issuer": issuer,
        "audiences": audiences,
        "jwks": jwks,
        "algorithms": algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "token_types": token_types,
        "allow_missing_typ": allow_missing_typ,
        "max_lifetime_seconds": max_lifetime_seconds,
        "clock_skew_seconds": clock_skew_seconds,
        "required_claims": required_claims
            .iter()
            .map(|(c, v)| (c.clone(), json!(v)))
            .collect::<Map<_, _>>(),
        "binding": binding_json(*binding),
        "dpop": dpop_json,
        "sources": sources.iter().map(source_json).collect::<Vec<_>>(),
    });
    // A provider that only introspects (json answers) may have no keys at all.
    if input.get("jwks").is_none() {
        if let Some(o) = out.as_object_mut() {
            o.remove("jwks");
        }
    }
    if let Some(Introspection {
        cluster,
        url: _,
        client_id,
        client_secret,
        response,
        cache_seconds,
        negative_cache_seconds,
        timeout_ms,
        forward,
    }) = introspection
    {
        out["introspection"] = json!({
            "cluster": cluster,
            // The checked URL keeps no spelling of its own: the input's is written back.
            "url": input["introspection"]["url"],
            "client_id": client_id,
            "client_secret": client_secret.expose(),
            "response": match response {
                ResponseMode::Json => "json",
                ResponseMode::Jwt => "jwt",
                ResponseMode::Phantom => "phantom",
            },
            "cache_seconds": cache_seconds,
            "negative_cache_seconds": negative_cache_seconds,
            "timeout_ms": timeout_ms,
            "forward": match forward {
                Forward::Claims => "claims",
                Forward::Jwt => "jwt",
            },
        });
    }
    out
}

fn binding_json(b: Binding) -> &'static str {
    match b {
        Binding::Any => "any",
        Binding::Mtls => "mtls",
        Binding::Dpop => "dpop",
    }
}

fn mode_json(m: Mode) -> &'static str {
    match m {
        Mode::Enforce => "enforce",
        Mode::DryRun => "dry_run",
    }
}

fn source_json(s: &TokenSource) -> Value {
    match s {
        TokenSource::Authorization { scheme } => {
            json!({ "header": "authorization", "scheme": scheme })
        }
        TokenSource::Header { name, prefix } => match prefix {
            Some(p) => json!({ "header": name, "prefix": p }),
            None => json!({ "header": name }),
        },
        TokenSource::Cookie { name } => json!({ "cookie": name }),
        TokenSource::Query { name } => json!({ "query": name }),
    }
}

fn rule_json(r: &Rule, provider_names: &[&str]) -> Value {
    let Rule {
        path,
        methods,
        access,
        scopes,
        providers,
        binding,
        mode,
        format_suffixes,
        step_up,
        client_attestation,
    } = r;
    let mut matcher = match path {
        PathMatch::Prefix(p) => json!({ "prefix": p }),
        PathMatch::Exact(p) => json!({ "path": p }),
        PathMatch::StringPrefix(p) => json!({ "string_prefix": p }),
    };
    if let Some(m) = methods {
        matcher["methods"] = json!(m);
    }
    matcher["format_suffixes"] = json!(format_suffixes);
    let mut rule = json!({
        "match": matcher, "anonymous": *access == Access::Anonymous, "scopes": scopes,
        "allow_missing": *access == Access::AllowMissing,
    });
    if let Some(b) = binding {
        rule["binding"] = json!(binding_json(*b));
    }
    if let Some(m) = mode {
        rule["mode"] = json!(mode_json(*m));
    }
    if !step_up.acr_values.is_empty() {
        rule["acr_values"] = json!(step_up.acr_values);
    }
    if let Some(age) = step_up.max_age_seconds {
        rule["max_age_seconds"] = json!(age);
    }
    if let Some(ids) = providers {
        rule["providers"] = ids
            .iter()
            .map(|id| Value::from(provider_names.get(id.0).copied().unwrap_or("?")))
            .collect();
    }
    if let Some(RuleAttestation {
        audience,
        grant_types,
        pop_methods,
        max_body_bytes,
        forward_attestation,
        origins,
    }) = client_attestation
    {
        let PopMethods {
            pop_jwt,
            dpop_combined,
        } = pop_methods;
        let mut methods = Vec::new();
        if *pop_jwt {
            methods.push("attestation_pop_jwt");
        }
        if *dpop_combined {
            methods.push("dpop_combined");
        }
        rule["client_attestation"] = json!({
            "audience": audience, "pop_methods": methods, "max_body_bytes": max_body_bytes,
            "forward_attestation": forward_attestation,
        });
        if let Some(g) = grant_types {
            rule["client_attestation"]["grant_types"] = json!(g);
        }
        if !origins.is_empty() {
            rule["client_attestation"]["origins"] = json!(origins);
        }
    }
    rule
}
