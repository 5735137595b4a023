//! The request decision: [`Engine::evaluate`].
//!
//! Per request, in order:
//! 1. `:method` must be present and an upper-case token ([`RequestError::MissingMethod`],
//!    [`RequestError::InvalidMethod`]); `:path` must be present ([`RequestError::MissingPath`]).
//! 2. The path is canonicalised ([`crate::path`]): unambiguous spellings are normalised,
//!    ambiguous ones refused ([`RequestError::InvalidPath`]). Rules see only the canonical
//!    path, and when it differs from what the client sent, it is what goes upstream
//!    ([`Allowed::path`]).
//! 3. A method override (header or `_method` query parameter) is refused
//!    ([`RequestError::MethodOverride`]).
//! 4. With `cors_preflight: true`, an `OPTIONS` request carrying `Origin` and
//!    `Access-Control-Request-Method` passes without a token (on every valid path).
//! 5. The first rule matching path and method decides; no rule → 403
//!    [`DenialKind::NoMatchingRule`]. An `anonymous` rule passes without looking at any token.
//! 6. Exactly one `Authorization` header (two → 400 `invalid_request`), scheme `Bearer`
//!    (case-insensitive); none / another scheme → 401 [`DenialKind::MissingToken`]. The query
//!    string is never read.
//! 7. Size cap, then the verified-token cache (hit: re-checked against `now`), else full
//!    validation ([`crate::token`]) and a cache insert.
//! 8. The route's provider restriction and scopes (all required, exact match) → 403
//!    [`DenialKind::InsufficientScope`].
//! 9. Allow, with the configured claim headers; with `forward_token: false` the glue also
//!    removes `Authorization` ([`Allowed::remove_authorization`]).
//!
//! The glue must strip every header whose name matches one of [`Engine::claim_header_names`]
//! ([`is_claim_header`]: ignoring case, `_` equal to `-`) from every request before
//! forwarding (also on anonymous routes, preflights and denials), so a client can never
//! spoof them.

use serde_json::{Map, Value};

use crate::cache::{hash_token, CachedToken, TokenCache};
use crate::config::{Config, ConfigError, KeySource, Provider, Rule};
use crate::jwks::KeySet;
use crate::path;
use crate::request::{self, BearerToken, RequestError};
use crate::response::{Denial, DenialKind};
use crate::rules;
use crate::signature::Verifiers;
use crate::token::{self, Failure, ProviderView, TokenError};

/// Largest header value produced from a claim; longer values are not forwarded.
pub const MAX_CLAIM_HEADER_BYTES: usize = 4096;

/// A fully checked, compiled configuration plus the per-VM verified-token cache.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    keys: Vec<KeySet>,
    verifiers: Verifiers,
    cache: TokenCache,
    claim_header_names: Vec<String>,
    refetch: Vec<usize>,
    last_cache_lookup: Option<CacheLookup>,
}

/// What the verified-token cache said during the last [`Engine::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLookup {
    /// The token was found (and then re-checked against `now`, provider and scopes).
    Hit,
    /// The token was not found and went through full validation.
    Miss,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Forward the request (after setting `set_headers`).
    Allow(Allowed),
    /// Answer locally with [`Denial::response`].
    Deny(Denial),
}

/// An allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Headers to add to the upstream request (already-stripped names are in
    /// [`Engine::claim_header_names`]).
    pub set_headers: Vec<(String, String)>,
    /// Name of the provider whose token was accepted; `None` for anonymous routes / CORS preflight.
    pub provider: Option<String>,
    /// Remove the `Authorization` header before forwarding: a token was accepted and the
    /// configuration says `forward_token: false`. Never set when no token was looked at
    /// (anonymous rules, CORS preflight).
    pub remove_authorization: bool,
    /// The `:path` to forward when the canonical path differs from what the client sent
    /// (e.g. `/%6Frders` → `/orders`): the upstream must see the path the rules matched.
    pub path: Option<String>,
}

impl Allowed {
    /// A request that passes without any token work (anonymous rule, CORS preflight).
    fn without_token(path: Option<String>) -> Allowed {
        Allowed {
            set_headers: Vec::new(),
            provider: None,
            remove_authorization: false,
            path,
        }
    }
}

/// True when header `name` must be removed as a spoofed claim header: it equals one of
/// `claim_headers` ignoring ASCII case and treating `_` and `-` as the same character, as
/// CGI-style gateways (WSGI, PHP, Rack) do when they turn both `x-user-id` and `x_user_id`
/// into `HTTP_X_USER_ID`.
pub fn is_claim_header(claim_headers: &[String], name: &str) -> bool {
    claim_headers.iter().any(|c| {
        c.len() == name.len()
            && c.bytes().zip(name.bytes()).all(|(a, b)| {
                let fold = |x: u8| {
                    if x == b'_' {
                        b'-'
                    } else {
                        x.to_ascii_lowercase()
                    }
                };
                fold(a) == fold(b)
            })
    })
}

impl Engine {
    /// Parse and fully check the plugin configuration JSON (serde, `deny_unknown_fields`).
    /// `Err` names the field.
    pub fn from_json(config: &[u8]) -> Result<Engine, ConfigError> {
        Ok(Engine::new(Config::from_json(config)?))
    }

    /// Build from an already checked configuration.
    pub fn new(config: Config) -> Engine {
        let keys = config
            .providers
            .iter()
            .map(|p| p.initial_keys.clone())
            .collect();
        let claim_header_names = config
            .claims_to_headers
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        let cache = TokenCache::new(config.cache_size);
        Engine {
            config,
            keys,
            verifiers: Verifiers::pure(),
            cache,
            claim_header_names,
            refetch: Vec::new(),
            last_cache_lookup: None,
        }
    }

    /// The checked configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `WWW-Authenticate` realm (config `realm`, default `"tollgate"`).
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Header names the glue must ALWAYS remove from the request before forwarding
    /// (claims_to_headers targets), on every route, allowed or not.
    pub fn claim_header_names(&self) -> &[String] {
        &self.claim_header_names
    }

    /// Provider names in config order (for per-provider metrics).
    pub fn provider_names(&self) -> Vec<String> {
        self.config
            .providers
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The providers (config order), e.g. to find their [`KeySource`] and issuer.
    pub fn providers(&self) -> &[Provider] {
        &self.config.providers
    }

    /// Where provider `provider`'s keys come from; `None` for an index out of range.
    pub fn key_source(&self, provider: usize) -> Option<&KeySource> {
        self.config.providers.get(provider).map(|p| &p.key_source)
    }

    /// The key set currently used for `provider`.
    pub fn provider_keys(&self, provider: usize) -> Option<&KeySet> {
        self.keys.get(provider)
    }

    /// Replace one provider's key set (remote JWKS refresh, issue 3). Index = config order;
    /// an index out of range is ignored. Cached tokens of that provider are dropped, so a
    /// key removed from the JWKS stops working at once.
    pub fn set_provider_keys(&mut self, provider: usize, keys: KeySet) {
        if let Some(slot) = self.keys.get_mut(provider) {
            *slot = keys;
            self.cache.remove_provider(provider);
        }
    }

    /// Use these signature verifiers from now on (e.g. the host path after its self-test).
    pub fn set_verifiers(&mut self, verifiers: Verifiers) {
        self.verifiers = verifiers;
    }

    /// The signature verifiers in use.
    pub fn verifiers(&self) -> &Verifiers {
        &self.verifiers
    }

    /// Providers (indices, no duplicates, in order of first occurrence) that since the last
    /// call saw a token whose `kid` they do not know, or a token while they had no keys at
    /// all — but only providers with a remote/discovery key source (inline keys cannot be
    /// refetched). The glue should refetch their JWKS, rate-limited per provider
    /// (`refetch_interval_seconds`); calling this drains the list.
    pub fn take_refetch_requests(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.refetch)
    }

    /// Verified-token cache counters `(hits, misses)` since start, and current entries.
    pub fn cache_stats(&self) -> (u64, u64, usize) {
        (self.cache.hits, self.cache.misses, self.cache.len())
    }

    /// Whether the last [`Engine::evaluate`] looked the token up in the verified-token cache,
    /// and what it found (`None`: no look-up — no token needed, none sent, malformed or too
    /// large; with `cache_size: 0` every look-up is a miss, as in [`Engine::cache_stats`]). One call per request is all the glue needs to
    /// count hits and misses.
    pub fn last_cache_lookup(&self) -> Option<CacheLookup> {
        self.last_cache_lookup
    }

    /// Decide one request. `headers` are ALL request headers as (lower-case name, value),
    /// including pseudo headers `:method`, `:path`, `:authority`. `now` is unix seconds.
    pub fn evaluate(&mut self, headers: &[(String, String)], now: u64) -> Outcome {
        self.last_cache_lookup = None;
        match self.decide(headers, now) {
            Ok(a) => Outcome::Allow(a),
            Err(d) => Outcome::Deny(d),
        }
    }

    fn decide(&mut self, headers: &[(String, String)], now: u64) -> Result<Allowed, Denial> {
        let deny = |kind: DenialKind| Denial {
            kind,
            provider: None,
        };
        let bad_request = |e: RequestError| deny(DenialKind::InvalidRequest(e));
        let method =
            request::header(headers, ":method").ok_or(bad_request(RequestError::MissingMethod))?;
        request::check_method(method).map_err(bad_request)?;
        let raw_path =
            request::header(headers, ":path").ok_or(bad_request(RequestError::MissingPath))?;
        let target = path::canonicalize(raw_path, self.config.path_parameters)
            .map_err(|e| bad_request(RequestError::InvalidPath(e)))?;
        if request::asks_method_override(headers, target.query()) {
            return Err(bad_request(RequestError::MethodOverride));
        }
        if self.config.cors_preflight
            && method == "OPTIONS"
            && request::header(headers, "origin").is_some()
            && request::header(headers, "access-control-request-method").is_some()
        {
            return Ok(Allowed::without_token(target.rewritten()));
        }
        let rule_index = rules::first_match(&self.config.rules, method, target.path())
            .ok_or(deny(DenialKind::NoMatchingRule))?;
        let Some(rule) = self.config.rules.get(rule_index) else {
            return Err(deny(DenialKind::NoMatchingRule));
        };
        if rule.anonymous {
            return Ok(Allowed::without_token(target.rewritten()));
        }
        let token = match request::bearer_token(headers).map_err(bad_request)? {
            BearerToken::Missing => return Err(deny(DenialKind::MissingToken)),
            BearerToken::Present(t) => t,
        };
        if token.len() > self.config.max_token_bytes {
            return Err(deny(DenialKind::InvalidToken(TokenError::TooLarge)));
        }
        let hash = hash_token(token);
        let allowed_providers = rule.providers.as_deref();
        let providers = &self.config.providers;
        let name = |i: usize| providers.get(i).map(|p| p.name.clone());
        self.last_cache_lookup = Some(CacheLookup::Miss);
        // A hit is checked in place (no copy of the entry): time, then the route.
        if let Some(hit) = self.cache.get(&hash) {
            self.last_cache_lookup = Some(CacheLookup::Hit);
            let fail = |e: TokenError| Denial {
                kind: DenialKind::InvalidToken(e),
                provider: name(hit.provider),
            };
            if allowed_providers.is_some_and(|a| !a.contains(&hit.provider)) {
                return Err(fail(TokenError::ProviderNotAllowed));
            }
            let skew = providers
                .get(hit.provider)
                .map_or(0, |p| p.clock_skew_seconds);
            token::check_time(skew, Some(hit.exp), hit.nbf, now).map_err(fail)?;
            return grant(rule, hit, name(hit.provider), self.config.forward_token)
                .map(|a| a.with_path(target.rewritten()));
        }
        let view = ProviderView {
            providers,
            keys: &self.keys,
            verifiers: &self.verifiers,
        };
        match token::validate(
            token,
            self.config.max_token_bytes,
            &view,
            allowed_providers,
            now,
        ) {
            Ok(v) => {
                let entry = CachedToken {
                    provider: v.provider,
                    exp: v.exp,
                    nbf: v.nbf,
                    scopes: v.scopes,
                    headers: claim_headers(&self.config.claims_to_headers, &v.claims),
                };
                let decision = grant(
                    rule,
                    &entry,
                    name(entry.provider),
                    self.config.forward_token,
                )
                .map(|a| a.with_path(target.rewritten()));
                self.cache.insert(hash, entry);
                decision
            }
            Err(r) => {
                let provider = r.provider.and_then(name);
                let kind = match r.failure {
                    Failure::Token(e) => DenialKind::InvalidToken(e),
                    Failure::KeysUnavailable => DenialKind::KeysUnavailable,
                };
                let wants_keys = matches!(
                    r.failure,
                    Failure::KeysUnavailable | Failure::Token(TokenError::UnknownKeyId)
                );
                if let (true, Some(i)) = (wants_keys, r.provider) {
                    self.request_refetch(i);
                }
                Err(Denial { kind, provider })
            }
        }
    }

    fn request_refetch(&mut self, i: usize) {
        let remote = matches!(
            self.key_source(i),
            Some(KeySource::Remote(_) | KeySource::Discovery(_))
        );
        if remote && !self.refetch.contains(&i) {
            self.refetch.push(i);
        }
    }
}

/// The route's scope check on a verified (or cached) token, then the allow decision.
fn grant(
    rule: &Rule,
    entry: &CachedToken,
    provider: Option<String>,
    forward_token: bool,
) -> Result<Allowed, Denial> {
    if !token::has_all_scopes(&entry.scopes, &rule.scopes) {
        return Err(Denial {
            kind: DenialKind::InsufficientScope {
                required: rule.scopes.clone(),
            },
            provider,
        });
    }
    Ok(Allowed {
        set_headers: entry.headers.clone(),
        provider,
        remove_authorization: !forward_token,
        path: None,
    })
}

impl Allowed {
    fn with_path(mut self, path: Option<String>) -> Allowed {
        self.path = path;
        self
    }
}

/// Map configured claims to header values: strings as is, numbers and booleans as JSON
/// text, arrays of scalars joined with single spaces; objects, `null`, arrays containing
/// objects/arrays/null are skipped. A value containing control characters (CR, LF, NUL, …)
/// or longer than [`MAX_CLAIM_HEADER_BYTES`] is skipped (never forwarded in part).
pub fn claim_headers(
    mapping: &[(String, String)],
    claims: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (claim, header) in mapping {
        let Some(v) = claims.get(claim) else { continue };
        let text = match v {
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
                parts.map(|p| p.join(" "))
            }
            other => scalar_text(other),
        };
        let Some(text) = text else { continue };
        if text.len() > MAX_CLAIM_HEADER_BYTES || text.chars().any(char::is_control) {
            continue;
        }
        out.push((header.clone(), text));
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
