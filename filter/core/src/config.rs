//! Plugin configuration: typed serde structs (`deny_unknown_fields`, explicit defaults),
//! parsed and fully checked once by [`Config::from_json`]. Any problem is a
//! [`ConfigError`] naming the exact field, e.g. `providers[0].issuer` or
//! `providers[1].jwks.inline.keys[2]`; the glue then refuses to start the plugin.
//!
//! ```json
//! {
//!   "realm": "tollgate",                 // WWW-Authenticate realm (default "tollgate")
//!   "max_token_bytes": 8192,             // bearer tokens longer than this are rejected
//!   "cors_preflight": false,             // true: OPTIONS + Origin + Access-Control-Request-Method pass
//!   "cache_size": 1000,                  // verified-token cache entries per VM, 0 disables
//!   "forward_token": true,               // false: Authorization removed once the token is accepted
//!   "providers": [{
//!     "name": "idsvr", "issuer": "https://login.example.com", "audiences": ["api.example.com"],
//!     "jwks": {"inline": {"keys": []}}   // or {"remote": {…}} or {"discovery": {…}}
//!     "algorithms": ["ES256"],           // default: those of the inline keys; all supported for remote
//!     "token_types": ["at+jwt", "application/at+jwt"], "allow_missing_typ": false,
//!     "max_lifetime_seconds": 900, "clock_skew_seconds": 30,
//!     "required_claims": {"azp": ["mobile-app"]}  // optional: claim must equal (contain) one value
//!   }],
//!   "rules": [{"match": {"prefix": "/orders", "methods": ["GET"]}, "scopes": ["orders:read"],
//!              "providers": ["idsvr"], "anonymous": false}],
//!   "claims_to_headers": {"sub": "x-user-id"}
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::jwks::{Algorithm, JwksError, KeySet};
use crate::path::{self, PathError, PathParameters, RulePathError};
use crate::remote::{discovery_url, HttpUrl};

/// A configuration problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field, e.g. `providers[0].issuer`, `rules[3].match.methods[0]`.
    /// Empty when the document as a whole is wrong (not JSON).
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `"providers[0].issuer: must not be empty"`.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------------
// Raw (serde) shapes
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    providers: Vec<RawProvider>,
    rules: Vec<RawRule>,
    #[serde(default)]
    claims_to_headers: BTreeMap<String, String>,
    #[serde(default = "default_realm")]
    realm: String,
    #[serde(default = "default_max_token_bytes")]
    max_token_bytes: usize,
    #[serde(default)]
    cors_preflight: bool,
    #[serde(default = "default_cache_size")]
    cache_size: usize,
    #[serde(default = "default_forward_token")]
    forward_token: bool,
    #[serde(default)]
    path_parameters: RawPathParameters,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawPathParameters {
    #[default]
    Reject,
    Strip,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    issuer: String,
    audiences: Vec<String>,
    jwks: RawJwks,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    token_types: Option<Vec<String>>,
    #[serde(default)]
    allow_missing_typ: bool,
    #[serde(default = "default_max_lifetime")]
    max_lifetime_seconds: u64,
    #[serde(default = "default_skew")]
    clock_skew_seconds: u64,
    #[serde(default)]
    required_claims: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum RawJwks {
    Inline(Value),
    Remote(RawRemote),
    Discovery(RawDiscovery),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemote {
    cluster: String,
    url: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_cache_seconds")]
    cache_seconds: u64,
    #[serde(default = "default_refetch_interval")]
    refetch_interval_seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    cluster: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_cache_seconds")]
    cache_seconds: u64,
    #[serde(default = "default_refetch_interval")]
    refetch_interval_seconds: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    providers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    string_prefix: Option<String>,
    #[serde(default)]
    methods: Option<Vec<String>>,
}

/// Default `realm`.
pub const DEFAULT_REALM: &str = "tollgate";
/// Default `max_token_bytes`.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8192;
/// Allowed range of `max_token_bytes`.
pub const MAX_TOKEN_BYTES_RANGE: (usize, usize) = (256, 65536);
/// Default `cache_size` (verified-token cache entries per VM).
pub const DEFAULT_CACHE_SIZE: usize = 1000;
/// Largest accepted `cache_size`.
pub const MAX_CACHE_SIZE: usize = 100_000;
/// Default `max_lifetime_seconds` (`exp − iat`).
pub const DEFAULT_MAX_LIFETIME_SECONDS: u64 = 900;
/// Default `clock_skew_seconds`.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 30;
/// Largest accepted `clock_skew_seconds`.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;
/// Default remote fetch timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// Default remote key-set cache lifetime.
pub const DEFAULT_CACHE_SECONDS: u64 = 600;
/// Default minimum interval between refetches triggered by unknown `kid`s.
pub const DEFAULT_REFETCH_INTERVAL_SECONDS: u64 = 30;
/// Default accepted `typ` values (RFC 9068).
pub const DEFAULT_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

fn default_realm() -> String {
    DEFAULT_REALM.into()
}
fn default_max_token_bytes() -> usize {
    DEFAULT_MAX_TOKEN_BYTES
}
fn default_cache_size() -> usize {
    DEFAULT_CACHE_SIZE
}
fn default_forward_token() -> bool {
    true
}
fn default_max_lifetime() -> u64 {
    DEFAULT_MAX_LIFETIME_SECONDS
}
fn default_skew() -> u64 {
    DEFAULT_CLOCK_SKEW_SECONDS
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}
fn default_cache_seconds() -> u64 {
    DEFAULT_CACHE_SECONDS
}
fn default_refetch_interval() -> u64 {
    DEFAULT_REFETCH_INTERVAL_SECONDS
}

// ---------------------------------------------------------------------------------------
// Checked shapes
// ---------------------------------------------------------------------------------------

/// A fully checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WWW-Authenticate` realm.
    pub realm: String,
    /// Bearer tokens longer than this many bytes are rejected before any parsing.
    pub max_token_bytes: usize,
    /// When true, a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`) passes without a token, on every path.
    pub cors_preflight: bool,
    /// Verified-token cache entries per VM; 0 disables the cache.
    pub cache_size: usize,
    /// `true` (default): the `Authorization` header goes upstream as the client sent it.
    /// `false`: once a token has been accepted, the filter removes `Authorization`, so the
    /// upstream sees only the forwarded claim headers and can never replay the bearer token
    /// (like Envoy `jwt_authn`'s default `forward: false`). Requests that pass without token
    /// work (anonymous rules, CORS preflight) keep their headers untouched, and denied
    /// requests never reach the upstream.
    pub forward_token: bool,
    /// What a `;` in a request path means: refused (default) or removed before matching
    /// and forwarding (`path_parameters: "strip"`). See [`crate::path`].
    pub path_parameters: PathParameters,
    /// Providers in config order.
    pub providers: Vec<Provider>,
    /// Rules in config order; the first match wins.
    pub rules: Vec<Rule>,
    /// `(claim, header)` pairs, sorted by claim name.
    pub claims_to_headers: Vec<(String, String)>,
}

/// One trusted token issuer.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Name for metrics/logs (`[A-Za-z0-9_-]+`).
    pub name: String,
    /// Exact `iss` value of its tokens. Also used to choose the provider for a token.
    pub issuer: String,
    /// A token's `aud` must contain at least one of these.
    pub audiences: Vec<String>,
    /// Algorithms accepted for this provider's tokens (a key is still used only with its
    /// own algorithm).
    pub algorithms: Vec<Algorithm>,
    /// Accepted `typ` header values, lower-case (compared case-insensitively).
    pub token_types: Vec<String>,
    /// Accept tokens without a `typ` header (Okta-style). Default false.
    pub allow_missing_typ: bool,
    /// Maximum `exp − iat` in seconds (tokens without `iat` are rejected).
    pub max_lifetime_seconds: u64,
    /// Tolerated clock difference for `exp`, `nbf`, `iat`.
    pub clock_skew_seconds: u64,
    /// Extra claims a token must carry (`required_claims`, e.g. `{"azp": "mobile-app"}`),
    /// sorted by claim name: the claim must be a string equal to one of the values (a
    /// string claim), or an array containing one of them. Registered claims checked
    /// elsewhere (`iss`, `aud`, `exp`, `nbf`, `iat`) cannot be listed.
    pub required_claims: Vec<(String, Vec<String>)>,
    /// Where the keys come from.
    pub key_source: KeySource,
    /// Inline keys (empty for remote/discovery providers until the glue fetches them).
    pub initial_keys: KeySet,
}

impl Provider {
    /// `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery §4).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }
}

/// Where a provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Keys given in the configuration (`jwks.inline`).
    Inline,
    /// A JWKS URL fetched through an Envoy cluster (`jwks.remote`, issue 3).
    Remote(RemoteJwks),
    /// OpenID discovery at `<issuer>/.well-known/openid-configuration` (`jwks.discovery`).
    Discovery(DiscoveryJwks),
}

/// `jwks.remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    /// Envoy cluster the fetch goes through.
    pub cluster: String,
    /// JWKS URL (`http://` or `https://`).
    pub url: String,
    /// Fetch timeout (default 5000).
    pub timeout_ms: u64,
    /// How long a fetched key set is used before a refresh (default 600).
    pub cache_seconds: u64,
    /// Minimum interval between refetches triggered by unknown `kid`s (default 30).
    pub refetch_interval_seconds: u64,
}

/// `jwks.discovery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryJwks {
    /// Envoy cluster the fetches go through.
    pub cluster: String,
    /// Fetch timeout (default 5000).
    pub timeout_ms: u64,
    /// How long a fetched key set is used before a refresh (default 600).
    pub cache_seconds: u64,
    /// Minimum interval between refetches triggered by unknown `kid`s (default 30).
    pub refetch_interval_seconds: u64,
}

/// How a rule matches the canonical request path (see [`crate::path`]); every comparison
/// ignores ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// `match.prefix`: whole path segments, like Envoy's `path_separated_prefix`:
    /// `/orders` matches `/orders`, `/orders/` and `/orders/1`, never `/orders-admin`.
    Prefix(String),
    /// `match.path`: the whole path, with or without one trailing `/`.
    Exact(String),
    /// `match.string_prefix`: a plain string prefix (`/orders` also matches
    /// `/orders-admin`). Only when that is really meant.
    StringPrefix(String),
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Path condition.
    pub path: PathMatch,
    /// Methods (upper case, as HTTP defines them); `None` = any method. `GET` also covers
    /// `HEAD`, which frameworks answer with the `GET` handler.
    pub methods: Option<Vec<String>>,
    /// No token needed (and none is looked at).
    pub anonymous: bool,
    /// All of these scopes are required.
    pub scopes: Vec<String>,
    /// Indices of the providers whose tokens are accepted; `None` = all.
    pub providers: Option<Vec<usize>>,
}

/// Header names a claim may never be written to.
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
];

impl Config {
    /// Parse and fully check the plugin configuration JSON.
    pub fn from_json(json: &[u8]) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de).map_err(serde_error)?;
        de.end()
            .map_err(|_| ConfigError::new("", "trailing characters after the JSON document"))?;
        check(raw)
    }
}

fn serde_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let mut field = e.path().to_string();
    if field == "." || field == "?" {
        field.clear();
    }
    let inner = e.into_inner();
    let mut message = inner.to_string();
    // serde_json appends " at line L column C"; the field path says more.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // Name the unknown or missing field in the path itself.
    let named = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"));
    if let Some(rest) = named {
        if let Some(name) = rest.split('`').next() {
            let name = name.to_owned();
            if !field.ends_with(&name) {
                if field.is_empty() {
                    field = name;
                } else {
                    field = format!("{field}.{name}");
                }
            }
        }
    }
    ConfigError { field, message }
}

fn check(raw: RawConfig) -> Result<Config, ConfigError> {
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
        let provider = check_provider(i, p)?;
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
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        rules.push(check_rule(i, r, &providers)?);
    }
    let mut claims_to_headers = Vec::with_capacity(raw.claims_to_headers.len());
    for (claim, header) in raw.claims_to_headers {
        let field = format!("claims_to_headers.{claim}");
        if claim.is_empty() {
            return Err(ConfigError::new(field, "claim name must not be empty"));
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
        path_parameters: match raw.path_parameters {
            RawPathParameters::Reject => PathParameters::Reject,
            RawPathParameters::Strip => PathParameters::Strip,
        },
        providers,
        rules,
        claims_to_headers,
    })
}

fn check_provider(i: usize, p: RawProvider) -> Result<Provider, ConfigError> {
    let at = |f: &str| format!("providers[{i}].{f}");
    if p.name.is_empty()
        || !p
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::new(
            at("name"),
            "must be non-empty and use only letters, digits, '_' and '-' (it is part of metric names)",
        ));
    }
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
    let (key_source, initial_keys) = match p.jwks {
        RawJwks::Inline(value) => {
            let keys = KeySet::from_value_strict(&value).map_err(|e| match e {
                JwksError::Key { index, reason } => ConfigError::new(
                    format!("providers[{i}].jwks.inline.keys[{index}]"),
                    reason.to_string(),
                ),
                other => ConfigError::new(at("jwks.inline"), other.to_string()),
            })?;
            (KeySource::Inline, keys)
        }
        RawJwks::Remote(r) => {
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
        RawJwks::Discovery(d) => {
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
                            "unsupported algorithm \"{name}\" (supported: ES256, ES384, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512)"
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
    Ok(Provider {
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
    })
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

fn check_rule(i: usize, r: RawRule, providers: &[Provider]) -> Result<Rule, ConfigError> {
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
        if s.is_empty()
            || s.bytes()
                .any(|b| b <= b' ' || b == b'"' || b == b'\\' || b == 0x7f)
        {
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
                idx.push(k);
            }
            Some(idx)
        }
    };
    Ok(Rule {
        path,
        methods: r.matcher.methods,
        anonymous: r.anonymous,
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
    !h.is_empty()
        && h.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}
