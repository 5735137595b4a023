//! The checked configuration the core works with ([`super::check`] builds it).

use std::fmt;

use crate::jwks::{Algorithm, KeySet};
pub use crate::metadata::ResourceMetadata;
use crate::nonce::NonceKey;
use crate::path::PathParameters;

/// A provider, named by its position in `providers` (config order). Every per-provider
/// thing (keys, cache entries, denials, metrics) is keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderId(pub usize);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "providers[{}]", self.0)
    }
}

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
    /// Where signatures are checked (`signature_path`).
    pub signature_path: SignaturePath,
    /// DPoP proofs remembered per Envoy process (`dpop_replay_cache_size`, see [`crate::replay`]).
    pub dpop_replay_cache_size: usize,
    /// The `stat_prefix` label of this filter instance's metrics (`[A-Za-z0-9_-]+`).
    pub stat_prefix: String,
    /// `enforce` (default) or `dry_run`: decide and count, but let every request pass. A
    /// rule's `mode` overrides it.
    pub mode: Mode,
    /// Claims written to Envoy's filter state for the rest of Envoy (RBAC, access logs):
    /// `wasm.tollgate.claims.<claim>`. Dotted names are paths into objects.
    pub claims_to_filter_state: Vec<String>,
    /// `dpop_nonce`: when set, every DPoP proof must carry a current nonce issued with this
    /// key (RFC 9449 §9), which bounds the replay of a captured proof at another replica to
    /// the nonce lifetime (see [`crate::dpop_nonce`]).
    pub dpop_nonce: Option<NonceKey>,
    /// `resource_metadata`: the RFC 9728 document the filter answers itself, built once here
    /// (see [`crate::metadata`]).
    pub resource_metadata: Option<ResourceMetadata>,
    /// Providers in config order.
    pub providers: Vec<Provider>,
    /// Rules in config order; the first match wins.
    pub rules: Vec<Rule>,
    /// `(claim, header)` pairs, sorted by claim name.
    pub claims_to_headers: Vec<(String, String)>,
    /// Client attestation: trusted attesters, ages, challenges (`client_attestation`).
    pub client_attestation: Option<super::ClientAttestation>,
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
    /// What a token of this provider must be bound to (`binding`; a rule may override it).
    pub binding: Binding,
    /// How DPoP proofs are checked (`dpop`).
    pub dpop: DpopPolicy,
    /// Where this provider's tokens are read from, in order (`sources`).
    pub sources: Vec<TokenSource>,
    /// Where the keys come from.
    pub key_source: KeySource,
    /// Inline keys (empty for remote/discovery providers until the glue fetches them, and
    /// for an introspection-only provider without `jwks`).
    pub initial_keys: KeySet,
    /// Opaque tokens of this provider are introspected (`introspection`).
    pub introspection: Option<crate::introspection::Introspection>,
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
    /// A JWKS URL fetched through an Envoy cluster (`jwks.remote`).
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

impl std::fmt::Display for PathMatch {
    /// As the configuration spells it, for log lines: `prefix:/orders`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathMatch::Prefix(p) => write!(f, "prefix:{p}"),
            PathMatch::Exact(p) => write!(f, "path:{p}"),
            PathMatch::StringPrefix(p) => write!(f, "string_prefix:{p}"),
        }
    }
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Path condition.
    pub path: PathMatch,
    /// Methods (upper case, as HTTP defines them); `None` = any method. `GET` also covers
    /// `HEAD`, which frameworks answer with the `GET` handler.
    pub methods: Option<Vec<String>>,
    /// What the route asks of a request's token.
    pub access: Access,
    /// All of these scopes are required.
    pub scopes: Vec<String>,
    /// The providers whose tokens are accepted; `None` = all.
    pub providers: Option<Vec<ProviderId>>,
    /// Overrides the providers' `binding` on this route.
    pub binding: Option<Binding>,
    /// Overrides the global `mode` on this route.
    pub mode: Option<Mode>,
    /// `match.format_suffixes` (default true): the rule also governs a request path whose
    /// last segment is the rule's last segment with a format suffix (`/orders.json` for
    /// `/orders`), as Rails, Django REST Framework, Grape and Spring route them.
    pub format_suffixes: bool,
    /// A client attestation this route requires (`client_attestation`).
    pub client_attestation: Option<super::RuleAttestation>,
    /// Step-up authentication (RFC 9470) this route asks of a token (`acr_values`,
    /// `max_age_seconds`); empty: none.
    pub step_up: StepUp,
}

/// What a route asks of the user's authentication (RFC 9470): checked after the token's
/// binding and before the route's scopes (see [`crate::step_up`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepUp {
    /// `acr_values`: the token's `acr` must be one of these (empty: not checked).
    pub acr_values: Vec<String>,
    /// `max_age_seconds`: the token's `auth_time` must be at most this old, give or take
    /// the provider's clock skew (`None`: not checked).
    pub max_age_seconds: Option<u64>,
}

impl StepUp {
    /// Whether the route asks anything.
    pub fn is_required(&self) -> bool {
        !self.acr_values.is_empty() || self.max_age_seconds.is_some()
    }
}

/// What a rule asks of a request's token (`anonymous`, `allow_missing`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `anonymous: true`: no token needed, and none is looked at.
    Anonymous,
    /// `allow_missing: true`: a request without any token passes (without claims); a token
    /// that is present must still be valid.
    AllowMissing,
    /// A valid token is required (the default).
    Token,
}

/// Where signatures are checked (`signature_path`). The verdicts are the same on both paths
/// (see [`crate::signature`]); only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePath {
    /// The host's `verify_signature` for the algorithms whose self-test passes at start
    /// (ES256, ES384, RS256, RS384, RS512 on Envoy), pure Rust in the VM for the rest.
    #[default]
    Auto,
    /// As `Auto`, but the plugin refuses to start unless every one of those algorithms
    /// passes the host's self-test.
    Host,
    /// Always pure Rust in the VM.
    Wasm,
}

/// What an access token must be bound to (RFC 8705 certificate binding, RFC 9449 DPoP).
/// Whatever the value, a token that carries a confirmation (`cnf`) is always held to it: a
/// bound token is never accepted as a plain bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// Bearer tokens are accepted; bound tokens must satisfy their `cnf`.
    #[default]
    Any,
    /// The token must carry `cnf.x5t#S256` matching the connection's client certificate.
    Mtls,
    /// The token must carry `cnf.jkt` and come with the DPoP scheme and a valid proof.
    Dpop,
}

/// How DPoP proofs are checked (provider field `dpop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopPolicy {
    /// A proof's `iat` may be at most this old (seconds).
    pub max_age_seconds: u64,
    /// Tolerated clock difference for the proof's `iat`.
    pub clock_skew_seconds: u64,
    /// Accepted proof algorithms (asymmetric only); also the `algs` of the DPoP challenge.
    pub algorithms: Vec<Algorithm>,
    /// `dpop.origins`: the origins (`https://api.example.com`, normalised: lower case, no
    /// default port) a proof's `htu` may name. Empty: the request's own `:scheme` and
    /// `:authority` are used, which the client chooses (see [`crate::dpop`]).
    pub origins: Vec<String>,
}

/// Whether decisions are enforced (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Denials are answered.
    #[default]
    Enforce,
    /// Denials are counted (`would_deny`) and logged, and the request passes unchanged
    /// (without claim headers): for rolling out a new policy safely.
    DryRun,
}

/// One place a token may come from (provider field `sources`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The `Authorization` header with this scheme (default `Bearer`, case-insensitive); the
    /// `DPoP` scheme is always read there too.
    Authorization {
        /// The bearer scheme.
        scheme: String,
    },
    /// Another request header (lower-case name), optionally after a prefix that is removed.
    Header {
        /// Header name.
        name: String,
        /// Text before the token, e.g. `"Token "`; compared case-insensitively.
        prefix: Option<String>,
    },
    /// A cookie.
    Cookie {
        /// Cookie name (case-sensitive).
        name: String,
    },
    /// A query parameter (only when configured: tokens in URLs end up in logs and
    /// `Referer` headers).
    Query {
        /// Parameter name.
        name: String,
    },
}
