//! The request decision: [`Engine::evaluate`], the spine of the per-request path. Each stage
//! lives in its own file: canonicalise ([`crate::path`], [`crate::request`]) → choose the rule
//! (`rules.rs`) → the credential ([`crate::credential`]) → the token, from the cache or verified
//! ([`crate::token`]) → binding and scopes, one admission step for hits and misses
//! (`binding.rs`) → the upstream edits (`upstream.rs`). A new way to turn a credential into
//! verified claims (e.g. token introspection) plugs in next to the cache and [`crate::token`]
//! in `decide`, producing the same cache entry; a new check on the calling client plugs into
//! the admission step.
//!
//! Per request, in order:
//! 1. `:method` must be present and an upper-case token ([`RequestError::MissingMethod`],
//!    [`RequestError::InvalidMethod`]); `:path` must be present ([`RequestError::MissingPath`]).
//! 2. The path is canonicalised ([`crate::path`]): unambiguous spellings are normalised,
//!    ambiguous ones refused ([`RequestError::InvalidPath`]). Rules see only the canonical
//!    path, and when it differs from what the client sent, it is what goes upstream
//!    ([`Allowed::path`]).
//! 3. A method override (header or `_method` query parameter) or a path override
//!    (`X-Original-URL`, `X-Rewrite-URL`) is refused ([`RequestError::MethodOverride`],
//!    [`RequestError::PathOverride`]); header names compare as
//!    [`request::same_header_name`] says (`_` equal to `-`).
//! 4. With `cors_preflight: true`, an `OPTIONS` request carrying `Origin` and
//!    `Access-Control-Request-Method` passes without a token (on every valid path).
//! 5. The first rule matching path and method decides (a rule also governs its last segment
//!    with a format suffix, `/orders.json`, unless `format_suffixes: false`); no rule → 403
//!    [`DenialKind::NoMatchingRule`]. An `anonymous` rule passes without looking at any token.
//!    Refusals before this point are enforced whenever any rule enforces, whatever the
//!    top-level `mode`: they are dry-run only when every rule is.
//! 6. The credential ([`crate::credential`]) from the route's token sources: a token in two
//!    sources (or two spellings of one) → 400 `invalid_request`; none → 401
//!    [`DenialKind::MissingToken`].
//! 7. Size cap, then the verified-token cache (hit: re-checked against `now`), else full
//!    validation ([`crate::token`]) and a cache insert; an opaque token on a route with an
//!    introspecting provider gets the authorization server's verdict instead
//!    ([`crate::introspection`]: from the environment, or 503 and
//!    [`Evaluation::introspection`] for the glue to make the call).
//! 8. The binding (certificate, DPoP proof), then the route's provider restriction and scopes
//!    (all required, exact match) → 403 [`DenialKind::InsufficientScope`].
//! 9. Only then is a DPoP proof written to the replay store (a request refused anyway
//!    writes nothing), and the request allowed, with the configured claim headers; with
//!    `forward_token: false` the token is taken out ([`Allowed::token_edits`]).
//!
//! The glue must strip every header whose name matches one of [`Engine::claim_header_names`]
//! ([`is_claim_header`]: ignoring case, `_` equal to `-`) from every request before
//! forwarding (also on anonymous routes, preflights and denials), so a client can never
//! spoof them.

//!
//! [`Engine::evaluate`] returns everything the glue needs in one [`Evaluation`]: the outcome,
//! what the verified-token cache did, which signature path verified, and — for a provider
//! whose keys are fetched — whether newer keys could change the outcome. Providers are named
//! by [`ProviderId`]. `evaluate` changes nothing but the cache, so the glue may evaluate the
//! same request again once keys arrive.

use std::sync::Arc;

use crate::binding::{route_challenge, Bound};
use crate::cache::{CacheSecret, CachedToken, TokenCache};
use crate::config::{
    Access, Config, ConfigError, KeySource, Mode, Provider, ProviderId, TokenSource,
};
use crate::credential;
use crate::environment::{Environment, Plain};
use crate::introspection::{self, IntrospectionNeeded, OpaqueToken};
use crate::jwks::KeySet;
use crate::path;
use crate::remote::WaitReason;
use crate::request::{self, same_header_name, RequestError};
use crate::response::{Denial, DenialKind};
use crate::rules;
use crate::signature::{Path, Verifiers};
use crate::token::{self, Failure, ProviderView, TokenError};
pub use crate::upstream::{claim_headers, claim_value, MAX_CLAIM_HEADER_BYTES};

/// Filter state names of `claims_to_filter_state` start with this (Envoy adds `wasm.`).
pub const FILTER_STATE_PREFIX: &str = "tollgate.claims.";

/// A fully checked, compiled configuration plus the per-VM verified-token cache.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    keys: Vec<KeySet>,
    verifiers: Verifiers,
    cache: TokenCache,
    claim_header_names: Vec<String>,
    /// `claims_to_filter_state` as (claim, filter state name) pairs.
    filter_state_names: Vec<(String, String)>,
    /// Per rule: the token sources of the providers it accepts, in provider then source
    /// order, without repeats.
    route_sources: Vec<Vec<TokenSource>>,
    /// Explain denials in [`Evaluation::explanation`].
    explain: bool,
    /// The mode of refusals made before a rule is chosen: `DryRun` only when every rule is
    /// dry run (else a dry-run top level would let ambiguous paths past enforced rules).
    pre_rule_mode: Mode,
}

/// What the verified-token cache said during an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLookup {
    /// The token was found (and then re-checked against `now`, provider and scopes).
    Hit,
    /// The token was not found and went through full validation.
    Miss,
}

/// Everything one evaluation decided and touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub outcome: Outcome,
    /// The index of the rule that decided (`None`: refused before a rule matched, or none did).
    pub rule: Option<usize>,
    /// The cache look-up, if the request got that far (`None`: no token work).
    pub cache: Option<CacheLookup>,
    /// The path that checked the token's signature, if it was checked (not on a cache hit).
    pub signature: Option<Path>,
    /// The path that checked a DPoP proof's signature, if one was checked.
    pub proof_signature: Option<Path>,
    /// A provider with fetched keys (remote or discovery) that had no keys, or did not know
    /// the token's `kid`: fetching its keys could change the outcome (the glue may wait).
    pub keys: Option<KeysNeeded>,
    /// An opaque token whose verdict is not known yet: an introspection call could bring
    /// it (the glue may wait; see [`crate::introspection`]).
    pub introspection: Option<IntrospectionNeeded>,
    /// Why the request was (or would be) denied, in detail (see [`crate::explain`]); only
    /// when [`Engine::set_explain`] is on (the glue turns it on with debug logging).
    pub explanation: Option<String>,
}

/// A provider whose keys the request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysNeeded {
    /// The provider.
    pub provider: ProviderId,
    /// No keys yet, or an unknown `kid`.
    pub reason: WaitReason,
}

impl From<Evaluation> for Outcome {
    fn from(e: Evaluation) -> Outcome {
        e.outcome
    }
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Forward the request (after setting `set_headers`).
    Allow(Allowed),
    /// Answer locally with [`Denial::response`].
    Deny(Denial),
    /// Would be denied, but the route (or the filter) is in `dry_run` mode: count and log
    /// the denial, and let the request pass unchanged (no claim headers).
    DryRun(Denial),
}

/// An allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Headers to add to the upstream request (already-stripped names are in
    /// [`Engine::claim_header_names`]); shared with the cache entry, not copied.
    pub set_headers: Arc<[(String, String)]>,
    /// Claims for the rest of Envoy (`claims_to_filter_state`): (filter state name without
    /// Envoy's `wasm.` prefix, value).
    pub filter_state: Arc<[(String, String)]>,
    /// The provider whose token was accepted; `None` for anonymous routes, CORS preflight and
    /// `allow_missing` requests without a token.
    pub provider: Option<ProviderId>,
    /// Header changes that take the token out of the request before forwarding: a token was
    /// accepted and the configuration says `forward_token: false` (a token from the query
    /// string is removed through [`Allowed::path`] instead). Empty when no token was looked at.
    pub token_edits: Vec<HeaderEdit>,
    /// The `:path` to forward when the canonical path differs from what the client sent
    /// (e.g. `/%6Frders` → `/orders`): the upstream must see the path the rules matched.
    pub path: Option<String>,
    /// A fresh DPoP server nonce for the response's `DPoP-Nonce` header: the one the proof
    /// carried is near the end of its life (see [`crate::dpop_nonce::refresh`]).
    pub dpop_nonce: Option<String>,
}

/// A change to the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Remove every header of this name.
    Remove(String),
    /// Set this header to exactly this value.
    Set(String, String),
}

impl Allowed {
    /// A request that passes without any token work (anonymous rule, CORS preflight).
    fn without_token(path: Option<String>) -> Allowed {
        Allowed {
            set_headers: Arc::from([]),
            filter_state: Arc::from([]),
            provider: None,
            token_edits: Vec::new(),
            path,
            dpop_nonce: None,
        }
    }
}

/// True when header `name` must be removed as a spoofed claim header: it is one of
/// `claim_headers` as [`same_header_name`] compares them (ignoring ASCII case, `_` equal to
/// `-`, as CGI-style gateways turn both `x-user-id` and `x_user_id` into `HTTP_X_USER_ID`).
pub fn is_claim_header(claim_headers: &[String], name: &str) -> bool {
    claim_headers.iter().any(|c| same_header_name(c, name))
}

/// What an evaluation touched besides its outcome (collected on the way).
#[derive(Default)]
struct Trace {
    rule: Option<usize>,
    cache: Option<CacheLookup>,
    signature: Option<Path>,
    proof_signature: Option<Path>,
    keys: Option<KeysNeeded>,
    introspection: Option<IntrospectionNeeded>,
}

impl Engine {
    /// Parse and fully check the plugin configuration JSON (serde, `deny_unknown_fields`).
    /// `Err` names the field. `cache_secret` keys the verified-token cache's hash: draw it
    /// at random for each VM.
    pub fn from_json(config: &[u8], cache_secret: CacheSecret) -> Result<Engine, ConfigError> {
        Ok(Engine::new(Config::from_json(config)?, cache_secret))
    }

    /// Like [`Engine::from_json`], with secrets written as `{"env": NAME}` looked up with
    /// `env` (see [`crate::config::Config::from_json_with_env`]).
    pub fn from_json_with_env(
        config: &[u8],
        cache_secret: CacheSecret,
        env: crate::config::EnvLookup,
    ) -> Result<Engine, ConfigError> {
        Ok(Engine::new(
            Config::from_json_with_env(config, env)?,
            cache_secret,
        ))
    }

    /// Build from an already checked configuration.
    pub fn new(config: Config, cache_secret: CacheSecret) -> Engine {
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
        let cache = TokenCache::new(config.cache_size, cache_secret);
        let filter_state_names = config
            .claims_to_filter_state
            .iter()
            .map(|c| (c.clone(), format!("{FILTER_STATE_PREFIX}{c}")))
            .collect();
        let route_sources = config
            .rules
            .iter()
            .map(|r| {
                let mut out: Vec<TokenSource> = Vec::new();
                for (i, p) in config.providers.iter().enumerate() {
                    if r.providers
                        .as_ref()
                        .is_some_and(|ids| !ids.contains(&ProviderId(i)))
                    {
                        continue;
                    }
                    for s in &p.sources {
                        if !out.contains(s) {
                            out.push(s.clone());
                        }
                    }
                }
                out
            })
            .collect();
        let pre_rule_mode = if !config.rules.is_empty()
            && config
                .rules
                .iter()
                .all(|r| r.mode.unwrap_or(config.mode) == Mode::DryRun)
        {
            Mode::DryRun
        } else {
            Mode::Enforce
        };
        Engine {
            pre_rule_mode,
            config,
            keys,
            verifiers: Verifiers::pure(),
            cache,
            claim_header_names,
            filter_state_names,
            route_sources,
            explain: false,
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
    /// (claims_to_headers targets), on every route, allowed or not; see [`is_claim_header`].
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

    /// The providers (config order; `ProviderId(i)` is `providers()[i]`).
    pub fn providers(&self) -> &[Provider] {
        &self.config.providers
    }

    /// One provider.
    pub fn provider(&self, id: ProviderId) -> Option<&Provider> {
        self.config.providers.get(id.0)
    }

    /// A provider's name (`"-"` for an id out of range).
    pub fn provider_name(&self, id: ProviderId) -> &str {
        self.provider(id).map_or("-", |p| p.name.as_str())
    }

    /// Where a provider's keys come from.
    pub fn key_source(&self, id: ProviderId) -> Option<&KeySource> {
        self.provider(id).map(|p| &p.key_source)
    }

    /// The key set currently used for a provider.
    pub fn provider_keys(&self, id: ProviderId) -> Option<&KeySet> {
        self.keys.get(id.0)
    }

    /// The key sets of every provider, in configuration order.
    pub fn key_sets(&self) -> &[KeySet] {
        &self.keys
    }

    /// Replace one provider's key set (remote JWKS refresh); an id out of range is ignored.
    /// Cached tokens of that provider are dropped, so a key removed from the JWKS stops
    /// working at once.
    pub fn set_provider_keys(&mut self, id: ProviderId, keys: KeySet) {
        if let Some(slot) = self.keys.get_mut(id.0) {
            *slot = keys;
            self.cache.remove_provider(id);
        }
    }

    /// The token-endpoint gate ([`crate::attestation`]) this request is on, if any: the glue
    /// must then gather the whole body (refusing it past the bound) and decide with
    /// [`Engine::evaluate_body_in`]. `None` for every other request, at once when no rule is
    /// a gate.
    pub fn body_gate(
        &self,
        headers: &[(String, String)],
    ) -> Option<crate::attestation::endpoint::BodyGate> {
        self.config.client_attestation.as_ref()?;
        crate::attestation::endpoint::body_gate(&self.config, headers)
    }

    /// What the filter answers itself, before any rule and whatever the rules say: the
    /// protected resource metadata document ([`Engine::metadata_response`]) and the
    /// attestation challenge endpoint ([`Engine::challenge_endpoint`]); `None` for every other
    /// request. `now` is asked only when challenges are configured (no clock read otherwise).
    pub fn local_answer(
        &self,
        headers: &[(String, String)],
        now: impl FnOnce() -> u64,
    ) -> Option<crate::LocalResponse> {
        self.metadata_response(headers).or_else(|| {
            self.config
                .client_attestation
                .as_ref()?
                .challenges
                .as_ref()?;
            self.challenge_endpoint(headers, now())
        })
    }

    /// The local answer of the attestation challenge endpoint when this request is for it
    /// (see [`crate::attestation::endpoint`]).
    pub fn challenge_endpoint(
        &self,
        headers: &[(String, String)],
        now: u64,
    ) -> Option<crate::LocalResponse> {
        crate::attestation::endpoint::answer(&self.config, headers, now)
    }

    /// Explain every denial in [`Evaluation::explanation`] (costs a little per denial).
    pub fn set_explain(&mut self, on: bool) {
        self.explain = on;
    }

    fn explain_denial(
        &self,
        d: &Denial,
        headers: &[(String, String)],
        rule: Option<usize>,
        now: u64,
    ) -> String {
        let query = request::header(headers, ":path")
            .and_then(|p| p.find('?').and_then(|i| p.get(i..)))
            .unwrap_or("");
        let sources = rule
            .and_then(|i| self.route_sources.get(i))
            .map_or(&[][..], Vec::as_slice);
        let token = credential::find(headers, query, sources)
            .ok()
            .and_then(|(c, _)| c.token().map(str::to_owned));
        let scopes = rule
            .and_then(|i| self.config.rules.get(i))
            .map_or(&[][..], |r| r.scopes.as_slice());
        crate::explain::explain(d, token.as_deref(), scopes, now)
    }

    /// Use these signature verifiers from now on (e.g. the host path after its self-test).
    pub fn set_verifiers(&mut self, verifiers: Verifiers) {
        self.verifiers = verifiers;
    }

    /// The signature verifiers in use.
    pub fn verifiers(&self) -> &Verifiers {
        &self.verifiers
    }

    /// Verified-token cache counters `(hits, misses)` since start, and current entries.
    pub fn cache_stats(&self) -> (u64, u64, usize) {
        (self.cache.hits, self.cache.misses, self.cache.len())
    }

    /// Decide one request without TLS client certificate or DPoP replay store
    /// ([`Plain`]): see [`Engine::evaluate_in`].
    pub fn evaluate(&mut self, headers: &[(String, String)], now: u64) -> Evaluation {
        self.evaluate_in(headers, &mut Plain, now)
    }

    /// Decide one request. `headers` are ALL request headers as (lower-case name, value),
    /// including pseudo headers `:method`, `:path`, `:authority`, `:scheme`. `env` answers
    /// what the headers cannot (the client certificate, the DPoP replay store); it is asked
    /// only when a token or route needs it. `now` is unix seconds.
    pub fn evaluate_in(
        &mut self,
        headers: &[(String, String)],
        env: &mut dyn Environment,
        now: u64,
    ) -> Evaluation {
        self.evaluate_body_in(headers, None, env, now)
    }

    /// [`Engine::evaluate_in`] with the request body, which a token-endpoint gate reads
    /// ([`crate::attestation`]; see [`Engine::body_gate`] for when the glue must read it). A
    /// gated route decided without its body is refused.
    pub fn evaluate_body_in(
        &mut self,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        env: &mut dyn Environment,
        now: u64,
    ) -> Evaluation {
        let mut trace = Trace::default();
        let outcome = match self.decide(headers, body, env, now, &mut trace) {
            Ok(a) => Outcome::Allow(a),
            Err(d) => {
                let mode = match trace.rule.and_then(|i| self.config.rules.get(i)) {
                    Some(rule) => rule.mode.unwrap_or(self.config.mode),
                    None => self.pre_rule_mode,
                };
                match mode {
                    Mode::Enforce => Outcome::Deny(d),
                    Mode::DryRun => Outcome::DryRun(d),
                }
            }
        };
        let explanation = match &outcome {
            Outcome::Deny(d) | Outcome::DryRun(d) if self.explain => {
                Some(self.explain_denial(d, headers, trace.rule, now))
            }
            _ => None,
        };
        Evaluation {
            outcome,
            explanation,
            rule: trace.rule,
            cache: trace.cache,
            signature: trace.signature,
            proof_signature: trace.proof_signature,
            keys: trace.keys,
            introspection: trace.introspection,
        }
    }

    fn decide(
        &mut self,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        env: &mut dyn Environment,
        now: u64,
        trace: &mut Trace,
    ) -> Result<Allowed, Denial> {
        let deny = Denial::new;
        let bad_request = |e: RequestError| deny(DenialKind::InvalidRequest(e));
        // 1-3. The request itself: method, canonical path, no method override.
        let method = request::header(headers, ":method")
            .ok_or_else(|| bad_request(RequestError::MissingMethod))?;
        request::check_method(method).map_err(bad_request)?;
        let raw_path = request::header(headers, ":path")
            .ok_or_else(|| bad_request(RequestError::MissingPath))?;
        let target = path::canonicalize(raw_path, self.config.path_parameters)
            .map_err(|e| bad_request(RequestError::InvalidPath(e)))?;
        request::check_overrides(headers, target.query()).map_err(bad_request)?;
        // 4. CORS preflight.
        if self.config.cors_preflight
            && method == "OPTIONS"
            && request::header(headers, "origin").is_some()
            && request::header(headers, "access-control-request-method").is_some()
        {
            return Ok(Allowed::without_token(target.rewritten()));
        }
        // 5. The rule.
        let rule_index = rules::first_match(&self.config.rules, method, target.path())
            .ok_or_else(|| deny(DenialKind::NoMatchingRule))?;
        let Some(rule) = self.config.rules.get(rule_index) else {
            return Err(deny(DenialKind::NoMatchingRule));
        };
        trace.rule = Some(rule_index);
        if rule.access == Access::Anonymous {
            if let Some(wanted) = &rule.client_attestation {
                let anonymous = crate::attestation::admit::Anonymous {
                    config: &self.config,
                    verifiers: &self.verifiers,
                    headers,
                    method,
                    target: &target,
                    body,
                    now,
                };
                trace.proof_signature = anonymous.admit(wanted, env)?;
                let mut allowed = Allowed::without_token(target.rewritten());
                allowed.token_edits = crate::attestation::admit::removal(wanted);
                return Ok(allowed);
            }
            return Ok(Allowed::without_token(target.rewritten()));
        }
        // 6. The credential, from the first of the route's token sources the request fills.
        let sources = self
            .route_sources
            .get(rule_index)
            .map_or(&[][..], Vec::as_slice);
        let (credential, source) =
            credential::find(headers, target.query(), sources).map_err(bad_request)?;
        let unattributed = |kind: DenialKind| Denial {
            kind,
            provider: None,
            challenge: route_challenge(&self.config.providers, rule, &credential, None),
        };
        let Some(token) = credential.token() else {
            if rule.access == Access::AllowMissing {
                return Ok(Allowed::without_token(target.rewritten()));
            }
            return Err(unattributed(DenialKind::MissingToken));
        };
        // 7. The token: size cap, cache, full validation.
        if token.len() > self.config.max_token_bytes {
            return Err(unattributed(DenialKind::InvalidToken(TokenError::TooLarge)));
        }
        let binding = Bound {
            config: &self.config,
            verifiers: &self.verifiers,
            rule,
            credential: &credential,
            source,
            headers,
            method,
            path: target.path(),
            now,
        };
        let hash = self.cache.key(token);
        let allowed_providers = rule.providers.as_deref();
        let forward_token = self.config.forward_token;
        let providers = &self.config.providers;
        trace.cache = Some(CacheLookup::Miss);
        // A hit is checked in place (no copy of the entry): time, the route, the binding.
        if let Some(hit) = self.cache.get(&hash, now) {
            trace.cache = Some(CacheLookup::Hit);
            let provider = hit.provider;
            let fail = |e: TokenError| Denial {
                kind: DenialKind::InvalidToken(e),
                provider: Some(provider),
                challenge: route_challenge(providers, rule, &credential, Some(provider)),
            };
            if allowed_providers.is_some_and(|a| !a.contains(&provider)) {
                return Err(fail(TokenError::ProviderNotAllowed));
            }
            let skew = providers
                .get(provider.0)
                .map_or(0, |p| p.clock_skew_seconds);
            token::check_time(skew, Some(hit.exp), hit.nbf, now).map_err(fail)?;
            return binding.admit(hit, &target, forward_token, env, &mut trace.proof_signature);
        }
        // An opaque token and a route with an introspecting provider: the authorization
        // server's verdict (stored, or from a call the glue makes) instead of a signature.
        if !introspection::is_jws_compact(token) {
            if let Some(provider) = introspection::choose(providers, allowed_providers) {
                let fail = |kind: DenialKind| Denial {
                    kind,
                    provider: Some(provider),
                    challenge: route_challenge(providers, rule, &credential, Some(provider)),
                };
                let stored = match env.introspection(provider, token, now) {
                    Some(Ok(stored)) => stored,
                    Some(Err(failure)) => {
                        return Err(fail(DenialKind::IntrospectionUnavailable(failure)))
                    }
                    None => {
                        // A signed answer is checked with the provider's keys: when they
                        // are fetched and not there yet, the request waits for them first.
                        let signed = providers
                            .get(provider.0)
                            .and_then(|p| p.introspection.as_ref())
                            .is_some_and(|i| i.response != introspection::ResponseMode::Json);
                        let fetched = matches!(
                            providers.get(provider.0).map(|p| &p.key_source),
                            Some(KeySource::Remote(_) | KeySource::Discovery(_))
                        );
                        if signed
                            && fetched
                            && self.keys.get(provider.0).is_some_and(KeySet::is_empty)
                        {
                            trace.keys = Some(KeysNeeded {
                                provider,
                                reason: WaitReason::NoKeys,
                            });
                        }
                        trace.introspection = Some(IntrospectionNeeded {
                            provider,
                            token: OpaqueToken(token.to_owned()),
                        });
                        return Err(fail(DenialKind::IntrospectionUnavailable(
                            introspection::Failure::Timeout,
                        )));
                    }
                };
                let entry = introspection::cache_entry(
                    &self.config,
                    provider,
                    &self.filter_state_names,
                    &stored,
                    now,
                )
                .map_err(|e| fail(DenialKind::InvalidToken(e)))?;
                let decision = binding.admit(
                    &entry,
                    &target,
                    forward_token,
                    env,
                    &mut trace.proof_signature,
                );
                if stored.until > now {
                    self.cache.insert(hash, entry, now);
                }
                return decision;
            }
        }
        if !credential::is_token68(token) {
            return Err(unattributed(DenialKind::InvalidRequest(
                RequestError::MalformedAuthorization,
            )));
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
                trace.signature = Some(v.path);
                let skew = providers
                    .get(v.provider.0)
                    .map_or(0, |p| p.clock_skew_seconds);
                let entry = CachedToken {
                    provider: v.provider,
                    exp: v.exp,
                    valid_until: v.exp.saturating_add(skew),
                    nbf: v.nbf,
                    confirmation: v.confirmation,
                    scopes: v.scopes,
                    headers: claim_headers(&self.config.claims_to_headers, &v.claims).into(),
                    filter_state: claim_headers(&self.filter_state_names, &v.claims).into(),
                    auth: crate::step_up::AuthClaims::from_claims(&v.claims),
                    client_id: crate::cache::attested_client_id(&self.config, &v.claims),
                    forward_jwt: None,
                };
                // The token itself is good: it is cached whatever the binding says, and the
                // binding is checked on this and every later request.
                let decision = binding.admit(
                    &entry,
                    &target,
                    forward_token,
                    env,
                    &mut trace.proof_signature,
                );
                self.cache.insert(hash, entry, now);
                decision
            }
            Err(r) => {
                trace.signature = r.signature;
                let reason = match r.failure {
                    Failure::KeysUnavailable => Some(WaitReason::NoKeys),
                    Failure::Token(TokenError::UnknownKeyId) => Some(WaitReason::UnknownKid),
                    Failure::Token(_) => None,
                };
                if let (Some(reason), Some(provider)) = (reason, r.provider) {
                    let fetched = matches!(
                        providers.get(provider.0).map(|p| &p.key_source),
                        Some(KeySource::Remote(_) | KeySource::Discovery(_))
                    );
                    if fetched {
                        trace.keys = Some(KeysNeeded { provider, reason });
                    }
                }
                let kind = match r.failure {
                    Failure::Token(e) => DenialKind::InvalidToken(e),
                    Failure::KeysUnavailable => DenialKind::KeysUnavailable,
                };
                Err(Denial {
                    kind,
                    provider: r.provider,
                    challenge: route_challenge(providers, rule, &credential, r.provider),
                })
            }
        }
    }
}
