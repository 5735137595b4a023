//! Every rule about a configuration field, reported with the field's path.

use serde_json::Value;

use super::model::*;
use super::raw::*;
use super::ConfigError;
use crate::jwks::{Algorithm, JwksError, KeySet};
use crate::path::{self, PathError, PathParameters, RulePathError};
use crate::remote::{discovery_url, HttpUrl};
use crate::tchar::is_tchar;

const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "host",
    "cookie",
    "set-cookie",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-request-id",
    "x-envoy-original-path",
    // The DPoP proof: stripping it as a claim header would break every DPoP request.
    "dpop",
];

/// Check everything and build the model.
pub(super) fn config(raw: RawConfig, env: super::EnvLookup) -> Result<Config, ConfigError> {
    if raw.realm.is_empty()
        || raw
            .realm
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(ConfigError::new(
            "realm",
            "must be non-empty, without control characters, quotes or backslashes",
        ));
    }
    let (lo, hi) = MAX_TOKEN_BYTES_RANGE;
    if raw.max_token_bytes < lo || raw.max_token_bytes > hi {
        return Err(ConfigError::new(
            "max_token_bytes",
            format!("must be between {lo} and {hi}"),
        ));
    }
    if raw.cache_size > MAX_CACHE_SIZE {
        return Err(ConfigError::new(
            "cache_size",
            format!("must be at most {MAX_CACHE_SIZE}"),
        ));
    }
    if raw.providers.is_empty() {
        return Err(ConfigError::new(
            "providers",
            "at least one provider is required",
        ));
    }
    let mut providers: Vec<Provider> = Vec::with_capacity(raw.providers.len());
    for (i, p) in raw.providers.into_iter().enumerate() {
        let provider = check_provider(i, p, env)?;
        if providers.iter().any(|o| o.name == provider.name) {
            return Err(ConfigError::new(
                format!("providers[{i}].name"),
                format!("duplicate provider name \"{}\"", provider.name),
            ));
        }
        if providers.iter().any(|o| o.issuer == provider.issuer) {
            return Err(ConfigError::new(
                format!("providers[{i}].issuer"),
                "another provider has the same issuer (tokens are matched to providers by issuer)",
            ));
        }
        providers.push(provider);
    }
    if raw.rules.is_empty() {
        return Err(ConfigError::new("rules", "at least one rule is required"));
    }
    let client_attestation = match raw.client_attestation {
        Some(a) => Some(super::attestation::check(a, env)?),
        None => None,
    };
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        rules.push(check_rule(i, r, &providers, client_attestation.is_some())?);
    }
    let dpop_nonce = super::guidance::dpop_nonce(raw.dpop_nonce, env)?;
    let resource_metadata =
        super::guidance::resource_metadata(raw.resource_metadata, &providers, &rules)?;
    let mut claims_to_headers = Vec::with_capacity(raw.claims_to_headers.len());
    for (claim, header) in raw.claims_to_headers {
        let field = format!("claims_to_headers.{claim}");
        if claim.is_empty() {
            return Err(ConfigError::new(field, "claim name must not be empty"));
        }
        if claim.contains('.') && !is_claim_path(&claim) {
            return Err(ConfigError::new(
                field,
                "a dotted claim path needs non-empty names between the dots",
            ));
        }
        if !is_header_name(&header) {
            return Err(ConfigError::new(
                field,
                format!("\"{header}\" is not a valid lower-case HTTP header name"),
            ));
        }
        if RESERVED_HEADERS.contains(&header.as_str()) || header.starts_with("x-envoy-") {
            return Err(ConfigError::new(
                field,
                format!("\"{header}\" is reserved and cannot carry a claim"),
            ));
        }
        // The filter removes claim headers from every request before reading it: a header
        // that carries tokens cannot also carry a claim.
        if let Some(p) = providers.iter().find(|p| {
            p.sources.iter().any(|s| match s {
                TokenSource::Header { name, .. } => {
                    crate::is_claim_header(std::slice::from_ref(name), &header)
                }
                _ => false,
            })
        }) {
            return Err(ConfigError::new(
                field,
                format!(
                    "header \"{header}\" is a token source of provider \"{}\" and cannot carry a claim",
                    p.name
                ),
            ));
        }
        if claims_to_headers
            .iter()
            .any(|(_, h): &(String, String)| *h == header)
        {
            return Err(ConfigError::new(
                field,
                format!("header \"{header}\" is already the target of another claim"),
            ));
        }
        claims_to_headers.push((claim, header));
    }
    Ok(Config {
        realm: raw.realm,
        max_token_bytes: raw.max_token_bytes,
        cors_preflight: raw.cors_preflight,
        cache_size: raw.cache_size,
        forward_token: raw.forward_token,
        stat_prefix: {
            let ok = !raw.stat_prefix.is_empty()
                && raw.stat_prefix.len() <= 64
                && raw
                    .stat_prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(ConfigError::new(
                    "stat_prefix",
                    "must be 1-64 letters, digits, '_' or '-' (it becomes a metric label)",
                ));
            }
            check_label_value("stat_prefix", &raw.stat_prefix)?;
            raw.stat_prefix
        },
        mode: mode(raw.mode),
        claims_to_filter_state: {
            let mut out: Vec<String> = Vec::new();
            for (j, claim) in raw.claims_to_filter_state.into_iter().enumerate() {
                if !is_claim_path(&claim) {
                    return Err(ConfigError::new(
                        format!("claims_to_filter_state[{j}]"),
                        "must be a claim name or a dotted path of names (letters, digits, '_', '-', ':', '/', '.')",
                    ));
                }
                if out.contains(&claim) {
                    return Err(ConfigError::new(
                        format!("claims_to_filter_state[{j}]"),
                        format!("\"{claim}\" is listed twice"),
                    ));
                }
                out.push(claim);
            }
            out
        },
        dpop_replay_cache_size: {
            let (lo, hi) = DPOP_REPLAY_CACHE_SIZE_RANGE;
            if !(lo..=hi).contains(&raw.dpop_replay_cache_size) {
                return Err(ConfigError::new(
                    "dpop_replay_cache_size",
                    format!("must be between {lo} and {hi}"),
                ));
            }
            raw.dpop_replay_cache_size
        },
        signature_path: match raw.signature_path {
            RawSignaturePath::Auto => SignaturePath::Auto,
            RawSignaturePath::Host => SignaturePath::Host,
            RawSignaturePath::Wasm => SignaturePath::Wasm,
        },
        path_parameters: match raw.path_parameters {
            RawPathParameters::Reject => PathParameters::Reject,
            RawPathParameters::Strip => PathParameters::Strip,
        },
        dpop_nonce,
        resource_metadata,
        providers,
        rules,
        claims_to_headers,
        client_attestation,
    })
}

/// Words a metric label value must not be: the filter's own label names (the `stats_tags`
/// would cut the wrong pair out of the name), and the words of Istio's and Envoy Gateway's
/// own tag regexes, which match anywhere in a stat name.
const RESERVED_LABEL_VALUES: &[&str] = &[
    "prefix",
    "provider",
    "reason",
    "signature_path",
    "cache",
    "component",
    "wasm_filter",
    "rbac",
    "zone",
    "circuit_breakers",
];

fn check_label_value(field: &str, value: &str) -> Result<(), ConfigError> {
    if RESERVED_LABEL_VALUES.contains(&value) {
        return Err(ConfigError::new(
            field,
            format!(
                "\"{value}\" cannot be used: it is part of metric names and would be read as a label there (reserved: {})",
                RESERVED_LABEL_VALUES.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_provider(
    i: usize,
    p: RawProvider,
    env: super::EnvLookup,
) -> Result<Provider, ConfigError> {
    let at = |f: &str| format!("providers[{i}].{f}");
    check_name(&at("name"), &p.name)?;
    check_label_value(&at("name"), &p.name)?;
    if p.issuer.is_empty() {
        return Err(ConfigError::new(at("issuer"), "must not be empty"));
    }
    if p.audiences.is_empty() {
        return Err(ConfigError::new(
            at("audiences"),
            "at least one audience is required",
        ));
    }
    for (j, a) in p.audiences.iter().enumerate() {
        if a.is_empty() {
            return Err(ConfigError::new(
                format!("providers[{i}].audiences[{j}]"),
                "must not be empty",
            ));
        }
    }
    let introspection = match p.introspection {
        None => None,
        Some(raw) => Some(check_introspection(&at("introspection"), raw, env)?),
    };
    let json_only = introspection
        .as_ref()
        .is_some_and(|x| x.response == crate::introspection::ResponseMode::Json);
    if p.jwks.is_none() && !json_only {
        let why = if introspection.is_some() {
            "is required: introspection answers in \"jwt\" and \"phantom\" modes are verified with the provider's keys"
        } else {
            "is required (only a provider that introspects with response \"json\" may leave it out)"
        };
        return Err(ConfigError::new(at("jwks"), why));
    }
    let (key_source, initial_keys) = match p.jwks {
        // An introspection-only provider: opaque tokens only, no keys.
        None => (KeySource::Inline, KeySet::empty()),
        Some(RawJwks::Inline(value)) => {
            let keys = KeySet::from_value_strict(&value).map_err(|e| match e {
                JwksError::Key { index, reason } => ConfigError::new(
                    format!("providers[{i}].jwks.inline.keys[{index}]"),
                    reason.to_string(),
                ),
                other => ConfigError::new(at("jwks.inline"), other.to_string()),
            })?;
            (KeySource::Inline, keys)
        }
        Some(RawJwks::Remote(r)) => {
            if r.cluster.is_empty() {
                return Err(ConfigError::new(
                    at("jwks.remote.cluster"),
                    "must not be empty",
                ));
            }
            HttpUrl::parse(&r.url)
                .map_err(|e| ConfigError::new(at("jwks.remote.url"), e.to_string()))?;
            check_fetch_numbers(
                &at("jwks.remote"),
                r.timeout_ms,
                r.cache_seconds,
                r.refetch_interval_seconds,
            )?;
            (
                KeySource::Remote(RemoteJwks {
                    cluster: r.cluster,
                    url: r.url,
                    timeout_ms: r.timeout_ms,
                    cache_seconds: r.cache_seconds,
                    refetch_interval_seconds: r.refetch_interval_seconds,
                }),
                KeySet::empty(),
            )
        }
        Some(RawJwks::Discovery(d)) => {
            if d.cluster.is_empty() {
                return Err(ConfigError::new(
                    at("jwks.discovery.cluster"),
                    "must not be empty",
                ));
            }
            discovery_url(&p.issuer)
                .map_err(|e| ConfigError::new(at("issuer"), format!("{e} (discovery)")))?;
            check_fetch_numbers(
                &at("jwks.discovery"),
                d.timeout_ms,
                d.cache_seconds,
                d.refetch_interval_seconds,
            )?;
            (
                KeySource::Discovery(DiscoveryJwks {
                    cluster: d.cluster,
                    timeout_ms: d.timeout_ms,
                    cache_seconds: d.cache_seconds,
                    refetch_interval_seconds: d.refetch_interval_seconds,
                }),
                KeySet::empty(),
            )
        }
    };
    let algorithms = match p.algorithms {
        None if key_source == KeySource::Inline => initial_keys.algorithms(),
        None => Algorithm::ALL.to_vec(),
        Some(list) => {
            if list.is_empty() {
                return Err(ConfigError::new(
                    at("algorithms"),
                    "must list at least one algorithm (or be left out)",
                ));
            }
            let mut algs = Vec::with_capacity(list.len());
            for (j, name) in list.iter().enumerate() {
                let field = format!("providers[{i}].algorithms[{j}]");
                let alg = Algorithm::from_name(name).ok_or_else(|| {
                    ConfigError::new(
                        field.clone(),
                        format!(
                            "unsupported algorithm \"{name}\" (supported: ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512)"
                        ),
                    )
                })?;
                if key_source == KeySource::Inline && initial_keys.keys_for(alg).next().is_none() {
                    return Err(ConfigError::new(
                        field,
                        format!("no key in jwks.inline can be used with {name}"),
                    ));
                }
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            algs
        }
    };
    let token_types = match p.token_types {
        None => DEFAULT_TOKEN_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        Some(list) => {
            if list.is_empty() && !p.allow_missing_typ {
                return Err(ConfigError::new(
                    at("token_types"),
                    "must list at least one type (or set allow_missing_typ)",
                ));
            }
            for (j, t) in list.iter().enumerate() {
                if t.trim().is_empty() {
                    return Err(ConfigError::new(
                        format!("providers[{i}].token_types[{j}]"),
                        "must not be empty",
                    ));
                }
            }
            list.iter().map(|t| t.to_ascii_lowercase()).collect()
        }
    };
    if p.max_lifetime_seconds == 0 {
        return Err(ConfigError::new(
            at("max_lifetime_seconds"),
            "must be greater than 0",
        ));
    }
    if p.clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
        return Err(ConfigError::new(
            at("clock_skew_seconds"),
            format!("must be at most {MAX_CLOCK_SKEW_SECONDS}"),
        ));
    }
    let mut required_claims = Vec::with_capacity(p.required_claims.len());
    for (claim, value) in p.required_claims {
        let field = format!("providers[{i}].required_claims.{claim}");
        if claim.is_empty() || ["iss", "aud", "exp", "nbf", "iat"].contains(&claim.as_str()) {
            return Err(ConfigError::new(
                field,
                "must name a claim other than iss, aud, exp, nbf, iat (those are always checked)",
            ));
        }
        let values: Vec<String> = match value {
            Value::String(s) => vec![s],
            Value::Array(items) if !items.is_empty() => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s),
                        _ => {
                            return Err(ConfigError::new(
                                field,
                                "must be a string or a non-empty array of strings",
                            ))
                        }
                    }
                }
                out
            }
            _ => {
                return Err(ConfigError::new(
                    field,
                    "must be a string or a non-empty array of strings",
                ))
            }
        };
        required_claims.push((claim, values));
    }
    let dpop = check_dpop(&at("dpop"), p.dpop)?;
    let sources = check_sources(&at("sources"), p.sources)?;
    Ok(Provider {
        sources,
        binding: binding(p.binding),
        dpop,
        required_claims,
        name: p.name,
        issuer: p.issuer,
        audiences: p.audiences,
        algorithms,
        token_types,
        allow_missing_typ: p.allow_missing_typ,
        max_lifetime_seconds: p.max_lifetime_seconds,
        clock_skew_seconds: p.clock_skew_seconds,
        key_source,
        initial_keys,
        introspection,
    })
}

/// `providers[i].introspection`.
fn check_introspection(
    at: &str,
    raw: RawIntrospection,
    env: super::EnvLookup,
) -> Result<crate::introspection::Introspection, ConfigError> {
    use crate::introspection::{Forward, Introspection, ResponseMode};
    if raw.cluster.is_empty() {
        return Err(ConfigError::new(
            format!("{at}.cluster"),
            "must not be empty",
        ));
    }
    let url = HttpUrl::parse(&raw.url)
        .map_err(|e| ConfigError::new(format!("{at}.url"), e.to_string()))?;
    if raw.client_id.is_empty() || raw.client_id.chars().any(char::is_control) {
        return Err(ConfigError::new(
            format!("{at}.client_id"),
            "must be non-empty, without control characters",
        ));
    }
    let client_secret =
        super::resolve_secret(&format!("{at}.client_secret"), &raw.client_secret, env)?;
    if raw.timeout_ms == 0 || raw.timeout_ms > 60_000 {
        return Err(ConfigError::new(
            format!("{at}.timeout_ms"),
            "must be between 1 and 60000",
        ));
    }
    if raw.cache_seconds > 86_400 {
        return Err(ConfigError::new(
            format!("{at}.cache_seconds"),
            "must be between 0 and 86400",
        ));
    }
    if raw.negative_cache_seconds > 3600 {
        return Err(ConfigError::new(
            format!("{at}.negative_cache_seconds"),
            "must be between 0 and 3600",
        ));
    }
    let response = match raw.response {
        RawIntrospectionResponse::Json => ResponseMode::Json,
        RawIntrospectionResponse::Jwt => ResponseMode::Jwt,
        RawIntrospectionResponse::Phantom => ResponseMode::Phantom,
    };
    let forward = match raw.forward {
        RawIntrospectionForward::Claims => Forward::Claims,
        RawIntrospectionForward::Jwt if response == ResponseMode::Json => {
            return Err(ConfigError::new(
                format!("{at}.forward"),
                "\"jwt\" needs a JWT to forward: response \"jwt\" or \"phantom\"",
            ))
        }
        RawIntrospectionForward::Jwt => Forward::Jwt,
    };
    Ok(Introspection {
        cluster: raw.cluster,
        url,
        client_id: raw.client_id,
        client_secret,
        response,
        cache_seconds: raw.cache_seconds,
        negative_cache_seconds: raw.negative_cache_seconds,
        timeout_ms: raw.timeout_ms,
        forward,
    })
}

fn mode(m: RawMode) -> Mode {
    match m {
        RawMode::Enforce => Mode::Enforce,
        RawMode::DryRun => Mode::DryRun,
    }
}

/// A claim name, or a dotted path into nested objects (`address.country`).
pub(crate) fn is_claim_path(c: &str) -> bool {
    !c.is_empty()
        && c.split('.').all(|part| !part.is_empty())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'/' | b'.'))
}

fn check_sources(
    at: &str,
    sources: Option<Vec<RawSource>>,
) -> Result<Vec<TokenSource>, ConfigError> {
    let Some(list) = sources else {
        return Ok(vec![TokenSource::Authorization {
            scheme: "Bearer".into(),
        }]);
    };
    if list.is_empty() {
        return Err(ConfigError::new(
            at,
            "must list at least one source (or be left out)",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (j, s) in list.into_iter().enumerate() {
        let field = format!("{at}[{j}]");
        let source = match (s.header, s.cookie, s.query) {
            (Some(h), None, None) => {
                if !is_header_name(&h) {
                    return Err(ConfigError::new(
                        format!("{field}.header"),
                        format!("\"{h}\" is not a valid lower-case HTTP header name"),
                    ));
                }
                if h == "authorization" {
                    if s.prefix.is_some() {
                        return Err(ConfigError::new(
                            format!("{field}.prefix"),
                            "the Authorization header takes a scheme, not a prefix",
                        ));
                    }
                    let scheme = s.scheme.unwrap_or_else(|| "Bearer".into());
                    if scheme.is_empty()
                        || !scheme
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(ConfigError::new(
                            format!("{field}.scheme"),
                            "must be an authentication scheme name, e.g. \"Bearer\"",
                        ));
                    }
                    TokenSource::Authorization { scheme }
                } else {
                    if s.scheme.is_some() {
                        return Err(ConfigError::new(
                            format!("{field}.scheme"),
                            "only the authorization header has a scheme; use prefix for other headers",
                        ));
                    }
                    if let Some(p) = &s.prefix {
                        if p.is_empty() || p.chars().any(char::is_control) {
                            return Err(ConfigError::new(
                                format!("{field}.prefix"),
                                "must be non-empty, without control characters",
                            ));
                        }
                    }
                    TokenSource::Header {
                        name: h,
                        prefix: s.prefix,
                    }
                }
            }
            (None, Some(c), None) if s.scheme.is_none() && s.prefix.is_none() => {
                if c.is_empty()
                    || !c
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
                {
                    return Err(ConfigError::new(
                        format!("{field}.cookie"),
                        "must be a cookie name (an RFC 6265 token)",
                    ));
                }
                TokenSource::Cookie { name: c }
            }
            (None, None, Some(q)) if s.scheme.is_none() && s.prefix.is_none() => {
                if q.is_empty()
                    || !q
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                {
                    return Err(ConfigError::new(
                        format!("{field}.query"),
                        "must be a parameter name (letters, digits, '_', '-', '.')",
                    ));
                }
                TokenSource::Query { name: q }
            }
            (None, None, None) => {
                return Err(ConfigError::new(
                    field,
                    "needs one of header, cookie or query",
                ))
            }
            _ => return Err(ConfigError::new(
                field,
                "give exactly one of header, cookie and query (scheme and prefix go with header)",
            )),
        };
        if out.contains(&source) {
            return Err(ConfigError::new(field, "this source is listed twice"));
        }
        out.push(source);
    }
    Ok(out)
}

fn binding(b: RawBinding) -> Binding {
    match b {
        RawBinding::Any => Binding::Any,
        RawBinding::Mtls => Binding::Mtls,
        RawBinding::Dpop => Binding::Dpop,
    }
}

fn check_dpop(at: &str, d: RawDpop) -> Result<DpopPolicy, ConfigError> {
    if d.max_age_seconds == 0 || d.max_age_seconds > 3600 {
        return Err(ConfigError::new(
            format!("{at}.max_age_seconds"),
            "must be between 1 and 3600",
        ));
    }
    if d.clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
        return Err(ConfigError::new(
            format!("{at}.clock_skew_seconds"),
            format!("must be at most {MAX_CLOCK_SKEW_SECONDS}"),
        ));
    }
    let names: Vec<String> = match d.algorithms {
        None => DEFAULT_DPOP_ALGORITHMS
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                format!("{at}.algorithms"),
                "must list at least one algorithm (or be left out)",
            ))
        }
        Some(list) => list,
    };
    let mut algorithms = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        let alg = Algorithm::from_name(name).ok_or_else(|| {
            ConfigError::new(
                format!("{at}.algorithms[{j}]"),
                format!("unsupported algorithm \"{name}\" (asymmetric algorithms only: ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512)"),
            )
        })?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    let origins = check_origins(&format!("{at}.origins"), d.origins)?;
    Ok(DpopPolicy {
        max_age_seconds: d.max_age_seconds,
        clock_skew_seconds: d.clock_skew_seconds,
        algorithms,
        origins,
    })
}

/// A list of origins `htu` may name (`dpop.origins`, a gate's `client_attestation.origins`),
/// normalised by [`crate::dpop::normal_origin`]; `field` is the list's path.
pub(super) fn check_origins(
    field: &str,
    list: Option<Vec<String>>,
) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    match list {
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                field,
                "must list at least one origin (or be left out)",
            ))
        }
        Some(list) => {
            for (j, origin) in list.iter().enumerate() {
                let normal = crate::dpop::normal_origin(origin).ok_or_else(|| {
                    ConfigError::new(
                        format!("{field}[{j}]"),
                        format!("\"{origin}\" is not an origin: http:// or https://, a host, an optional port, nothing else (no path, query, fragment or user)"),
                    )
                })?;
                if origins.contains(&normal) {
                    return Err(ConfigError::new(
                        format!("{field}[{j}]"),
                        "this origin is listed twice",
                    ));
                }
                origins.push(normal);
            }
        }
        None => {}
    }
    Ok(origins)
}

/// A provider's or attester's `name`: letters, digits, `_` and `-` (it is part of metric
/// names and log lines).
pub(super) fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::new(
            field,
            "must be non-empty and use only letters, digits, '_' and '-' (it is part of metric names)",
        ));
    }
    Ok(())
}

fn check_fetch_numbers(
    at: &str,
    timeout_ms: u64,
    cache_seconds: u64,
    refetch_interval_seconds: u64,
) -> Result<(), ConfigError> {
    if timeout_ms == 0 || timeout_ms > 60_000 {
        return Err(ConfigError::new(
            format!("{at}.timeout_ms"),
            "must be between 1 and 60000",
        ));
    }
    if !(10..=86_400).contains(&cache_seconds) {
        return Err(ConfigError::new(
            format!("{at}.cache_seconds"),
            "must be between 10 and 86400",
        ));
    }
    if !(1..=3600).contains(&refetch_interval_seconds) {
        return Err(ConfigError::new(
            format!("{at}.refetch_interval_seconds"),
            "must be between 1 and 3600",
        ));
    }
    Ok(())
}

fn check_rule(
    i: usize,
    r: RawRule,
    providers: &[Provider],
    attestation: bool,
) -> Result<Rule, ConfigError> {
    let at = |f: &str| format!("rules[{i}].{f}");
    let path = match (r.matcher.prefix, r.matcher.path, r.matcher.string_prefix) {
        (Some(p), None, None) => {
            check_rule_path(&at("match.prefix"), &p, false)?;
            PathMatch::Prefix(p)
        }
        (None, Some(p), None) => {
            check_rule_path(&at("match.path"), &p, true)?;
            PathMatch::Exact(p)
        }
        (None, None, Some(p)) => {
            check_rule_path(&at("match.string_prefix"), &p, false)?;
            PathMatch::StringPrefix(p)
        }
        (None, None, None) => {
            return Err(ConfigError::new(
                at("match"),
                "needs one of prefix, path or string_prefix",
            ))
        }
        _ => {
            return Err(ConfigError::new(
                at("match"),
                "give only one of prefix, path and string_prefix",
            ))
        }
    };
    if let Some(methods) = &r.matcher.methods {
        if methods.is_empty() {
            return Err(ConfigError::new(
                at("match.methods"),
                "must list at least one method (or be left out)",
            ));
        }
        for (j, m) in methods.iter().enumerate() {
            if m.is_empty()
                || !m
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::new(
                    format!("rules[{i}].match.methods[{j}]"),
                    format!("\"{m}\" is not an upper-case HTTP method"),
                ));
            }
        }
    }
    if r.anonymous && !r.scopes.is_empty() {
        return Err(ConfigError::new(
            at("scopes"),
            "an anonymous rule cannot require scopes",
        ));
    }
    if r.anonymous && r.providers.is_some() {
        return Err(ConfigError::new(
            at("providers"),
            "an anonymous rule cannot restrict providers",
        ));
    }
    for (j, s) in r.scopes.iter().enumerate() {
        if !crate::scopes::is_valid_config_scope(s) {
            return Err(ConfigError::new(
                format!("rules[{i}].scopes[{j}]"),
                "a scope must be non-empty, without spaces, quotes or backslashes",
            ));
        }
    }
    let rule_providers = match r.providers {
        None => None,
        Some(names) => {
            if names.is_empty() {
                return Err(ConfigError::new(
                    at("providers"),
                    "must name at least one provider (or be left out)",
                ));
            }
            let mut idx = Vec::with_capacity(names.len());
            for (j, n) in names.iter().enumerate() {
                let k = providers.iter().position(|p| &p.name == n).ok_or_else(|| {
                    ConfigError::new(
                        format!("rules[{i}].providers[{j}]"),
                        format!("unknown provider \"{n}\""),
                    )
                })?;
                idx.push(ProviderId(k));
            }
            Some(idx)
        }
    };
    if r.anonymous && r.allow_missing {
        return Err(ConfigError::new(
            at("allow_missing"),
            "an anonymous rule needs no token anyway",
        ));
    }
    let access = match (r.anonymous, r.allow_missing) {
        (true, _) => Access::Anonymous,
        (false, true) => Access::AllowMissing,
        (false, false) => Access::Token,
    };
    let step_up = super::guidance::step_up(i, access, r.acr_values, r.max_age_seconds)?;
    let client_attestation = match r.client_attestation {
        Some(a) => Some(super::attestation::check_rule(
            &format!("rules[{i}]"),
            a,
            r.anonymous,
            attestation,
        )?),
        None => None,
    };
    Ok(Rule {
        step_up,
        client_attestation,
        binding: r.binding.map(binding),
        mode: r.mode.map(mode),
        format_suffixes: r.matcher.format_suffixes,
        path,
        methods: r.matcher.methods,
        access,
        scopes: r.scopes,
        providers: rule_providers,
    })
}

/// A rule path must be written the way requests are canonicalised (see [`crate::path`]).
fn check_rule_path(field: &str, p: &str, exact: bool) -> Result<(), ConfigError> {
    match path::canonical_rule_path(p) {
        Ok(()) => {}
        Err(RulePathError::Invalid(PathError::Fragment)) => {
            return Err(ConfigError::new(
                field,
                "must be a path without query or fragment",
            ))
        }
        Err(RulePathError::Invalid(e)) => {
            return Err(ConfigError::new(
                field,
                format!("must be a path every request could have: {e}"),
            ))
        }
        Err(RulePathError::NotCanonical(c)) => {
            return Err(ConfigError::new(
                field,
                format!("must be written in canonical form: \"{c}\""),
            ))
        }
    }
    if exact && p.len() > 1 && p.ends_with('/') {
        return Err(ConfigError::new(
            field,
            format!(
                "an exact path matches with and without a trailing slash: write \"{}\"",
                p.trim_end_matches('/')
            ),
        ));
    }
    Ok(())
}

/// Lower-case RFC 9110 token (no pseudo headers).
fn is_header_name(h: &str) -> bool {
    !h.is_empty() && h.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase())
}
