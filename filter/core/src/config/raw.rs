//! The configuration as written: serde shapes with `deny_unknown_fields` and explicit
//! defaults. Nothing here is checked beyond JSON types; see [`super::check`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Config")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) providers: Vec<RawProvider>,
    pub(super) rules: Vec<RawRule>,
    #[serde(default)]
    pub(super) claims_to_headers: BTreeMap<String, String>,
    #[serde(default = "default_realm")]
    pub(super) realm: String,
    #[serde(default = "default_max_token_bytes")]
    pub(super) max_token_bytes: usize,
    #[serde(default)]
    pub(super) cors_preflight: bool,
    #[serde(default = "default_cache_size")]
    pub(super) cache_size: usize,
    #[serde(default = "default_forward_token")]
    pub(super) forward_token: bool,
    #[serde(default)]
    pub(super) path_parameters: RawPathParameters,
    #[serde(default)]
    pub(super) signature_path: RawSignaturePath,
    #[serde(default = "default_dpop_replay_cache_size")]
    pub(super) dpop_replay_cache_size: usize,
    #[serde(default = "default_stat_prefix")]
    pub(super) stat_prefix: String,
    #[serde(default)]
    pub(super) mode: RawMode,
    #[serde(default)]
    pub(super) claims_to_filter_state: Vec<String>,
    #[serde(default)]
    pub(super) client_attestation: Option<super::attestation::RawClientAttestation>,
    #[serde(default)]
    pub(super) dpop_nonce: Option<RawDpopNonce>,
    #[serde(default)]
    pub(super) resource_metadata: Option<RawResourceMetadata>,
}

/// `dpop_nonce`: DPoP server nonces (RFC 9449 §9) derived from a secret shared by replicas.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "DpopNonce")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDpopNonce {
    pub(super) secret: super::RawSecret,
    #[serde(default = "default_dpop_nonce_lifetime")]
    pub(super) lifetime_seconds: u64,
}

/// `resource_metadata`: the protected resource metadata document (RFC 9728).
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ResourceMetadata")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResourceMetadata {
    pub(super) resource: String,
    #[serde(default)]
    pub(super) authorization_servers: Option<Vec<String>>,
    #[serde(default)]
    pub(super) scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub(super) additional_members: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Mode")
)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawMode {
    #[default]
    Enforce,
    DryRun,
}

/// One place a provider's token may come from.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Source")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    #[serde(default)]
    pub(super) header: Option<String>,
    #[serde(default)]
    pub(super) scheme: Option<String>,
    #[serde(default)]
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) cookie: Option<String>,
    #[serde(default)]
    pub(super) query: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "SignaturePath")
)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawSignaturePath {
    #[default]
    Auto,
    Host,
    Wasm,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "PathParameters")
)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawPathParameters {
    #[default]
    Reject,
    Strip,
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Provider")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) name: String,
    pub(super) issuer: String,
    pub(super) audiences: Vec<String>,
    /// Required unless `introspection` is given with `response: "json"`.
    #[serde(default)]
    pub(super) jwks: Option<RawJwks>,
    #[serde(default)]
    pub(super) algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) token_types: Option<Vec<String>>,
    #[serde(default)]
    pub(super) allow_missing_typ: bool,
    #[serde(default = "default_max_lifetime")]
    pub(super) max_lifetime_seconds: u64,
    #[serde(default = "default_skew")]
    pub(super) clock_skew_seconds: u64,
    #[serde(default)]
    pub(super) required_claims: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) binding: RawBinding,
    #[serde(default)]
    pub(super) dpop: RawDpop,
    #[serde(default)]
    pub(super) sources: Option<Vec<RawSource>>,
    #[serde(default)]
    pub(super) introspection: Option<RawIntrospection>,
}

/// `providers[].introspection`: opaque tokens checked at the authorization server's
/// introspection endpoint (see [`crate::introspection`]).
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Introspection")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntrospection {
    pub(super) cluster: String,
    pub(super) url: String,
    pub(super) client_id: String,
    pub(super) client_secret: super::RawSecret,
    #[serde(default)]
    pub(super) response: RawIntrospectionResponse,
    #[serde(default = "default_introspection_cache_seconds")]
    pub(super) cache_seconds: u64,
    #[serde(default = "default_negative_cache_seconds")]
    pub(super) negative_cache_seconds: u64,
    #[serde(default = "default_introspection_timeout_ms")]
    pub(super) timeout_ms: u64,
    #[serde(default)]
    pub(super) forward: RawIntrospectionForward,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "IntrospectionResponse")
)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawIntrospectionResponse {
    #[default]
    Json,
    Jwt,
    Phantom,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "IntrospectionForward")
)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawIntrospectionForward {
    #[default]
    Claims,
    Jwt,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Binding")
)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawBinding {
    #[default]
    Any,
    Mtls,
    Dpop,
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Dpop")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDpop {
    #[serde(default = "default_dpop_max_age")]
    pub(super) max_age_seconds: u64,
    #[serde(default = "default_dpop_skew")]
    pub(super) clock_skew_seconds: u64,
    #[serde(default)]
    pub(super) algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) origins: Option<Vec<String>>,
}

impl Default for RawDpop {
    fn default() -> RawDpop {
        RawDpop {
            max_age_seconds: DEFAULT_DPOP_MAX_AGE_SECONDS,
            clock_skew_seconds: DEFAULT_DPOP_CLOCK_SKEW_SECONDS,
            algorithms: None,
            origins: None,
        }
    }
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Jwks")
)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub(super) enum RawJwks {
    Inline(Value),
    Remote(RawRemote),
    Discovery(RawDiscovery),
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "RemoteJwks")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRemote {
    pub(super) cluster: String,
    pub(super) url: String,
    #[serde(default = "default_timeout_ms")]
    pub(super) timeout_ms: u64,
    #[serde(default = "default_cache_seconds")]
    pub(super) cache_seconds: u64,
    #[serde(default = "default_refetch_interval")]
    pub(super) refetch_interval_seconds: u64,
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "DiscoveryJwks")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscovery {
    pub(super) cluster: String,
    #[serde(default = "default_timeout_ms")]
    pub(super) timeout_ms: u64,
    #[serde(default = "default_cache_seconds")]
    pub(super) cache_seconds: u64,
    #[serde(default = "default_refetch_interval")]
    pub(super) refetch_interval_seconds: u64,
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Rule")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(rename = "match")]
    pub(super) matcher: RawMatch,
    #[serde(default)]
    pub(super) anonymous: bool,
    #[serde(default)]
    pub(super) scopes: Vec<String>,
    #[serde(default)]
    pub(super) providers: Option<Vec<String>>,
    #[serde(default)]
    pub(super) binding: Option<RawBinding>,
    #[serde(default)]
    pub(super) mode: Option<RawMode>,
    #[serde(default)]
    pub(super) allow_missing: bool,
    #[serde(default)]
    pub(super) client_attestation: Option<super::attestation::RawRuleAttestation>,
    #[serde(default)]
    pub(super) acr_values: Option<Vec<String>>,
    #[serde(default)]
    pub(super) max_age_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Match")
)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatch {
    #[serde(default)]
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) path: Option<String>,
    #[serde(default)]
    pub(super) string_prefix: Option<String>,
    #[serde(default)]
    pub(super) methods: Option<Vec<String>>,
    #[serde(default = "default_format_suffixes")]
    pub(super) format_suffixes: bool,
}

fn default_format_suffixes() -> bool {
    true
}

/// Default `realm`.
pub const DEFAULT_REALM: &str = "tollgate";
/// Default `max_token_bytes`.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8192;
/// Allowed range of `max_token_bytes`.
pub const MAX_TOKEN_BYTES_RANGE: (usize, usize) = (256, 65536);
/// Default `cache_size` (verified-token cache entries per VM): room for 5 000 users each
/// reusing one short-lived token, on every worker.
pub const DEFAULT_CACHE_SIZE: usize = 5000;
/// Largest accepted `cache_size`.
pub const MAX_CACHE_SIZE: usize = 100_000;
/// Default `stat_prefix`: the `stat_prefix` label of every metric of this filter instance.
pub const DEFAULT_STAT_PREFIX: &str = "tollgate";

/// Default `dpop.max_age_seconds`: how old a DPoP proof's `iat` may be.
pub const DEFAULT_DPOP_MAX_AGE_SECONDS: u64 = 300;
/// Default `dpop.clock_skew_seconds`.
pub const DEFAULT_DPOP_CLOCK_SKEW_SECONDS: u64 = 5;
/// Default `dpop.algorithms`.
pub const DEFAULT_DPOP_ALGORITHMS: [&str; 4] = ["ES256", "EdDSA", "RS256", "PS256"];
/// Default `dpop_replay_cache_size` (proof `jti`s remembered per Envoy process).
pub const DEFAULT_DPOP_REPLAY_CACHE_SIZE: usize = 65_536;
/// Allowed range of `dpop_replay_cache_size`.
pub const DPOP_REPLAY_CACHE_SIZE_RANGE: (usize, usize) = (64, 1 << 22);

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

/// Default `dpop_nonce.lifetime_seconds`.
pub const DEFAULT_DPOP_NONCE_LIFETIME_SECONDS: u64 = 300;
/// Allowed range of `dpop_nonce.lifetime_seconds`.
pub const DPOP_NONCE_LIFETIME_RANGE: (u64, u64) = (2, 86_400);

fn default_dpop_nonce_lifetime() -> u64 {
    DEFAULT_DPOP_NONCE_LIFETIME_SECONDS
}

/// Default `introspection.cache_seconds`.
pub const DEFAULT_INTROSPECTION_CACHE_SECONDS: u64 = 300;
/// Default `introspection.negative_cache_seconds`.
pub const DEFAULT_NEGATIVE_CACHE_SECONDS: u64 = 10;
/// Default `introspection.timeout_ms`.
pub const DEFAULT_INTROSPECTION_TIMEOUT_MS: u64 = 2000;

fn default_introspection_cache_seconds() -> u64 {
    DEFAULT_INTROSPECTION_CACHE_SECONDS
}
fn default_negative_cache_seconds() -> u64 {
    DEFAULT_NEGATIVE_CACHE_SECONDS
}
fn default_introspection_timeout_ms() -> u64 {
    DEFAULT_INTROSPECTION_TIMEOUT_MS
}
fn default_stat_prefix() -> String {
    DEFAULT_STAT_PREFIX.into()
}
fn default_dpop_replay_cache_size() -> usize {
    DEFAULT_DPOP_REPLAY_CACHE_SIZE
}
fn default_dpop_max_age() -> u64 {
    DEFAULT_DPOP_MAX_AGE_SECONDS
}
fn default_dpop_skew() -> u64 {
    DEFAULT_DPOP_CLOCK_SKEW_SECONDS
}
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
