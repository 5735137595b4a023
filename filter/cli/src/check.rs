//! `tollgate check`: parse a configuration with the filter's own parser, summarise what it
//! demands, and warn about what is valid but likely wrong.

use serde_json::{json, Value};
use tollgate_core::config::{
    Access, Binding, Config, KeySource, Mode, PathMatch, Rule, TokenSource,
};
use tollgate_core::remote::url::Scheme;
use tollgate_core::remote::HttpUrl;
use tollgate_core::{CacheSecret, ConfigError, Engine};

/// A valid configuration and what the operator should look at again.
pub struct Checked {
    pub engine: Engine,
    pub warnings: Vec<Warning>,
}

/// Valid, but likely not what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The field the warning is about, as the filter names fields (`rules[2]`).
    pub field: String,
    pub message: String,
}

impl Warning {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parse `json` exactly as the filter does, with the VM environment the file gives the filter
/// (`file_env`); `Err` is the filter's own error (field and text).
pub fn check(json: &str, file_env: &[(String, String)]) -> Result<Checked, ConfigError> {
    // Secrets written as {"env": NAME} are read from the variables the file gives the VM, else
    // from this process's environment (which stands for the variables Envoy passes through
    // from its own, `host_env_keys`).
    let env = |name: &str| {
        file_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    };
    let engine = Engine::from_json_with_env(json.as_bytes(), CacheSecret([0, 0]), &env)?;
    // Valid for the filter, so it is JSON: the raw document answers what the checked model
    // no longer says (whether a member was written at all).
    let raw: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let mut warnings = Vec::new();
    shadowed_rules(&engine, &mut warnings);
    rule_warnings(engine.config(), &mut warnings);
    provider_warnings(engine.config(), &raw, &mut warnings);
    introspection_warnings(engine.config(), &mut warnings);
    if engine.config().mode == Mode::DryRun {
        warnings.push(Warning::new(
            "mode",
            "\"dry_run\" at the top level: every denied request passes to the API (only counted \
             and logged); use it while rolling out, then remove it",
        ));
    }
    Ok(Checked { engine, warnings })
}

/// Rules looked at for shadowing (the probes cost about 7 × count² rule matches).
const MAX_SHADOW_RULES: usize = 2000;

/// Methods a rule without `methods` is probed with.
const PROBE_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Requests that stand for a rule: its own path (and, for a prefix, a path below it) with
/// each of its methods.
fn probes(rule: &Rule) -> Vec<(String, String)> {
    let paths: Vec<String> = match &rule.path {
        PathMatch::Prefix(p) => vec![
            p.clone(),
            format!("{}/tollgate-probe", p.trim_end_matches('/')),
        ],
        PathMatch::Exact(p) => vec![p.clone()],
        PathMatch::StringPrefix(p) => vec![p.clone(), format!("{p}tollgate-probe")],
    };
    let methods: Vec<String> = match &rule.methods {
        Some(m) => m.clone(),
        None => PROBE_METHODS.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mut out = Vec::new();
    for p in &paths {
        for m in &methods {
            out.push((m.clone(), p.clone()));
        }
    }
    out
}

/// Which rule the filter picks for a request (the engine decides, so the warning follows the
/// filter's own matching: segments, case, `GET` covering `HEAD`).
fn rule_for(engine: &mut Engine, method: &str, path: &str) -> Option<usize> {
    let headers = vec![
        (":method".to_owned(), method.to_owned()),
        (":path".to_owned(), path.to_owned()),
        (":authority".to_owned(), "tollgate.check".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
    ];
    engine.evaluate(&headers, 0).rule
}

fn is_catch_all(rule: &Rule) -> bool {
    rule.methods.is_none()
        && matches!(&rule.path, PathMatch::Prefix(p) | PathMatch::StringPrefix(p) if p == "/")
}

/// A rule none of whose requests reach it: an earlier rule takes every one of them.
fn shadowed_rules(engine: &Engine, out: &mut Vec<Warning>) {
    let rules = engine.config().rules.clone();
    // A throw-away engine: probing fills nothing but its cache, and never with a token.
    let mut probe = Engine::new(engine.config().clone(), CacheSecret([0, 0]));
    if let Some(first) = rules.iter().position(is_catch_all) {
        if first + 1 < rules.len() {
            out.push(Warning::new(
                format!("rules[{first}]"),
                format!(
                    "a catch-all ({}, every method) before {} more rule(s): rules[{}..] never \
                     decide; put the catch-all last",
                    rules
                        .get(first)
                        .map_or(String::new(), |r| r.path.to_string()),
                    rules.len() - first - 1,
                    first + 1
                ),
            ));
        }
    }
    let catch_all = rules.iter().position(is_catch_all);
    // Each probe scans the rules before its own: the work grows with the square of the count.
    if rules.len() > MAX_SHADOW_RULES {
        out.push(Warning::new(
            "rules",
            format!(
                "{} rules: only the first {MAX_SHADOW_RULES} were looked at for rules that never \
                 decide",
                rules.len()
            ),
        ));
    }
    for (j, rule) in rules.iter().enumerate().take(MAX_SHADOW_RULES) {
        let winners: Vec<Option<usize>> = probes(rule)
            .iter()
            .map(|(m, p)| rule_for(&mut probe, m, p))
            .collect();
        let Some(Some(first)) = winners.first().copied() else {
            continue;
        };
        if first >= j || !winners.iter().all(|w| w.is_some_and(|i| i < j)) {
            continue;
        }
        if catch_all.is_some_and(|c| c < j && winners.iter().all(|w| *w == Some(c))) {
            continue; // said once, above
        }
        let by: Vec<String> = {
            let mut v: Vec<usize> = winners.iter().flatten().copied().collect();
            v.sort_unstable();
            v.dedup();
            v.iter().map(|i| format!("rules[{i}]")).collect()
        };
        out.push(Warning::new(
            format!("rules[{j}]"),
            format!(
                "never decides: every request it matches is taken by the earlier {} (first \
                 match wins)",
                by.join(", ")
            ),
        ));
    }
}

fn rule_warnings(config: &Config, out: &mut Vec<Warning>) {
    for (i, r) in config.rules.iter().enumerate() {
        if let Some(a) = &r.client_attestation {
            if a.is_gate() && a.pop_methods.dpop_combined && a.origins.is_empty() {
                out.push(Warning::new(
                    format!("rules[{i}].client_attestation"),
                    "a token-endpoint gate taking DPoP combined mode without \"origins\": a \
                     proof's htu is compared with the request's own scheme and host, which a \
                     client chooses; list the origins the authorization server is reached at",
                ));
            }
        }
        if r.access == Access::AllowMissing && !r.scopes.is_empty() {
            out.push(Warning::new(
                format!("rules[{i}]"),
                format!(
                    "allow_missing with scopes ({}): a request without any token passes, so \
                     the scopes only bind requests that carry a token",
                    r.scopes.join(" ")
                ),
            ));
        }
    }
}

/// A rule whose opaque tokens could go to several introspecting providers: only the first
/// (configuration order) is ever asked.
fn introspection_warnings(config: &Config, out: &mut Vec<Warning>) {
    for (i, r) in config.rules.iter().enumerate() {
        if r.access == Access::Anonymous {
            continue;
        }
        let introspecting: Vec<&str> = config
            .providers
            .iter()
            .enumerate()
            .filter(|(j, p)| {
                p.introspection.is_some()
                    && r.providers
                        .as_ref()
                        .is_none_or(|a| a.contains(&tollgate_core::ProviderId(*j)))
            })
            .map(|(_, p)| p.name.as_str())
            .collect();
        if let [first, rest @ ..] = introspecting.as_slice() {
            if !rest.is_empty() {
                out.push(Warning::new(
                    format!("rules[{i}]"),
                    format!(
                        "opaque tokens are introspected by {first} only (the first introspecting provider in \
                         configuration order); {} never see(s) them here: list one in the rule's providers",
                        rest.join(", ")
                    ),
                ));
            }
        }
    }
}

fn provider_warnings(config: &Config, raw: &Value, out: &mut Vec<Warning>) {
    let query = config.providers.iter().enumerate().find_map(|(i, p)| {
        p.sources.iter().enumerate().find_map(|(k, s)| match s {
            TokenSource::Query { .. } => Some(format!("providers[{i}].sources[{k}]")),
            _ => None,
        })
    });
    if let (Some(field), true) = (query, config.forward_token) {
        out.push(Warning::new(
            field,
            "a token source in the query string without \"forward_token\": false: the API (and \
             its access log) receives the token in the URL",
        ));
    }
    let origins_exist = dpop_origins_setting_exists();
    for (i, p) in config.providers.iter().enumerate() {
        let dpop_route = p.binding == Binding::Dpop
            || config.rules.iter().any(|r| {
                r.binding == Some(Binding::Dpop)
                    && r.providers
                        .as_ref()
                        .is_none_or(|ids| ids.iter().any(|id| id.0 == i))
            });
        let written = raw
            .get("providers")
            .and_then(|ps| ps.get(i))
            .and_then(|p| p.get("dpop"))
            .and_then(|d| d.get("origins"))
            .is_some();
        if origins_exist && dpop_route && !written {
            out.push(Warning::new(
                format!("providers[{i}].dpop"),
                "DPoP-bound tokens without \"origins\": a proof's htu is compared with the \
                 request's own scheme and host, which a client chooses; list the origins the API \
                 is reached at",
            ));
        }
        let fetched = match &p.key_source {
            KeySource::Remote(r) => {
                Some((format!("providers[{i}].jwks.remote.url"), r.url.clone()))
            }
            KeySource::Discovery(_) => Some((format!("providers[{i}].issuer"), p.discovery_url())),
            KeySource::Inline => None,
        };
        if let Some((field, url)) = fetched {
            if let Ok(u) = HttpUrl::parse(&url) {
                if u.scheme() == Scheme::Http && !u.is_loopback() {
                    out.push(Warning::new(
                        field,
                        format!(
                            "keys fetched over plain http from {}: anyone on the path can \
                             substitute their own keys; use https",
                            u.host()
                        ),
                    ));
                }
            }
        }
    }
}

/// Whether this build's configuration has `dpop.origins` (the schema says, as it is derived
/// from the types the filter parses): the warning would otherwise ask for a field the filter
/// refuses.
fn dpop_origins_setting_exists() -> bool {
    tollgate_core::config::json_schema()
        .pointer("/$defs/Dpop/properties/origins")
        .is_some()
}

/// What one rule demands, in a few words: `GET prefix:/orders: token, scopes orders:read`.
pub fn rule_summary(config: &Config, rule: &Rule) -> String {
    let methods = rule
        .methods
        .as_ref()
        .map_or("any method".to_owned(), |m| m.join(","));
    let mut demand = if rule.access == Access::Anonymous {
        "anonymous".to_owned()
    } else if rule.access == Access::AllowMissing {
        "token optional".to_owned()
    } else {
        "token".to_owned()
    };
    if rule.access != Access::Anonymous {
        if !rule.scopes.is_empty() {
            demand.push_str(&format!(" with scopes {}", rule.scopes.join(" ")));
        }
        if let Some(ids) = &rule.providers {
            let names: Vec<&str> = ids
                .iter()
                .filter_map(|id| config.providers.get(id.0))
                .map(|p| p.name.as_str())
                .collect();
            demand.push_str(&format!(" from {}", names.join(",")));
        }
        match rule.binding {
            Some(Binding::Dpop) => demand.push_str(", DPoP-bound"),
            Some(Binding::Mtls) => demand.push_str(", certificate-bound"),
            Some(Binding::Any) => demand.push_str(", bearer allowed"),
            None => {}
        }
    }
    if rule.mode == Some(Mode::DryRun) {
        demand.push_str(" (dry run)");
    }
    format!("{methods} {} → {demand}", rule.path)
}

fn key_source(p: &tollgate_core::config::Provider) -> String {
    match &p.key_source {
        KeySource::Inline => format!("{} inline key(s)", p.initial_keys.len()),
        KeySource::Remote(r) => format!("keys from {}", r.url),
        KeySource::Discovery(_) => format!("keys by discovery at {}", p.discovery_url()),
    }
}

fn binding_name(b: Binding) -> &'static str {
    match b {
        Binding::Any => "any",
        Binding::Mtls => "mtls",
        Binding::Dpop => "dpop",
    }
}

/// The one-line summary of a valid configuration.
pub fn summary(config: &Config) -> String {
    let providers: Vec<String> = config
        .providers
        .iter()
        .map(|p| {
            let bound = match p.binding {
                Binding::Any => String::new(),
                b => format!(", binding {}", binding_name(b)),
            };
            format!("{} ({}{bound})", p.name, key_source(p))
        })
        .collect();
    let rules: Vec<String> = config
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("[{i}] {}", rule_summary(config, r)))
        .collect();
    let mode = if config.mode == Mode::DryRun {
        "; mode dry_run"
    } else {
        ""
    };
    format!(
        "{} provider(s): {}; {} rule(s): {}{mode}",
        config.providers.len(),
        providers.join(", "),
        config.rules.len(),
        rules.join("; ")
    )
}

/// The machine form of a valid configuration.
pub fn summary_json(config: &Config) -> Value {
    let providers: Vec<Value> = config
        .providers
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "issuer": p.issuer,
                "keys": key_source(p),
                "binding": binding_name(p.binding),
            })
        })
        .collect();
    let rules: Vec<Value> = config
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "index": i,
                "match": r.path.to_string(),
                "methods": r.methods,
                "anonymous": r.access == Access::Anonymous,
                "allow_missing": r.access == Access::AllowMissing,
                "scopes": r.scopes,
                "summary": rule_summary(config, r),
            })
        })
        .collect();
    json!({
        "providers": providers,
        "rules": rules,
        "mode": if config.mode == Mode::DryRun { "dry_run" } else { "enforce" },
    })
}
