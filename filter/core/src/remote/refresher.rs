//! The per-provider key-fetch state machine: given events and the current time, it decides
//! when to fetch, what to fetch, and what to do with the answer.
//!
//! [`Refresher`] is the compiled, immutable policy of one remote provider; [`FetchState`] is
//! the mutable state, which the glue keeps in proxy-wasm shared data (see
//! [`super::record`]) so that every worker VM of the Envoy process sees the same state.
//! Every event is a method `Refresher::event(&self, &mut FetchState, me, now, …)` that
//! changes the state and returns a decision; the glue then writes the state back with
//! compare-and-swap and performs the decision only when the write succeeded. `me` is the
//! caller's worker id (unique per VM in the process), `now` is unix seconds.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::discovery::{discovery_url, parse_discovery, DiscoveryError};
use super::url::{HttpUrl, UrlError};
use crate::config::{Config, ConfigError, KeySource, Provider};
use crate::jwks::{JwksError, KeySet, SkippedKey};

/// Default time limit of one HTTP fetch (milliseconds).
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Default lifetime of a fetched key set (seconds), as Envoy's `jwt_authn` (10 minutes).
pub const DEFAULT_CACHE_SECONDS: u64 = 600;
/// Default minimum time between two refetches triggered by an unknown `kid` (seconds).
pub const DEFAULT_REFETCH_INTERVAL_SECONDS: u64 = 30;
/// Largest discovery document or JWKS body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Keys are refreshed after this percentage of `cache_seconds` has passed…
pub const REFRESH_PERCENT: u64 = 80;
/// …but never sooner than this after a successful fetch (seconds)…
pub const MIN_REFRESH_SECONDS: u64 = 60;
/// …and never later (seconds).
pub const MAX_REFRESH_SECONDS: u64 = 86_400;
/// First retry delay after a failed fetch (seconds); doubles with each further failure.
pub const BACKOFF_BASE_SECONDS: u64 = 2;
/// Longest retry delay while the last good keys are still being served (seconds).
pub const BACKOFF_CAP_SECONDS: u64 = 300;
/// Longest retry delay while the provider has no keys at all (every request gets 503).
pub const BACKOFF_CAP_WITHOUT_KEYS_SECONDS: u64 = 30;
/// A discovered `jwks_uri` is re-resolved after this long (seconds), and after any failure.
pub const DISCOVERY_MAX_AGE_SECONDS: u64 = 86_400;

/// Where a provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JWKS URL configured directly (`jwks.remote.url`).
    Jwks(HttpUrl),
    /// OpenID Connect discovery (`jwks.discovery`): the document at `document` names the
    /// JWKS URL; its `issuer` must equal `issuer`.
    Discovery {
        /// The provider's configured issuer.
        issuer: String,
        /// `<issuer>/.well-known/openid-configuration`.
        document: HttpUrl,
    },
}

/// Which of the (at most two) requests of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The OpenID Connect discovery document.
    Discovery,
    /// The JWKS itself.
    Jwks,
}

/// An HTTP GET for the glue to dispatch (`dispatch_http_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// What is fetched; pass it back with the answer.
    pub step: Step,
    /// Envoy cluster to send the request to.
    pub cluster: String,
    /// The URL; `:authority` and `:path` come from it.
    pub url: HttpUrl,
    /// Time limit of the call.
    pub timeout_ms: u64,
}

impl FetchRequest {
    /// The request headers: `:method`, `:path`, `:authority`, `accept`.
    pub fn headers(&self) -> Vec<(String, String)> {
        let accept = match self.step {
            Step::Discovery => "application/json",
            Step::Jwks => "application/jwk-set+json, application/json",
        };
        vec![
            (":method".to_string(), "GET".to_string()),
            (":path".to_string(), self.url.path().to_string()),
            (":authority".to_string(), self.url.authority().to_string()),
            ("accept".to_string(), accept.to_string()),
        ]
    }
}

/// What the glue does after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// This worker now holds the fetch lease: write the state back (compare-and-swap) and,
    /// if that succeeded, dispatch the request.
    Fetch(FetchRequest),
    /// A fetch is in progress (by this or another worker); its lease ends at `until` at the
    /// latest. Nothing to write.
    Wait {
        /// End of the current lease (unix seconds).
        until: u64,
    },
    /// Nothing is due before `next_at` (the scheduled refresh, or the end of the backoff
    /// after a failure). Nothing to write.
    Idle {
        /// When the next fetch is due (unix seconds).
        next_at: u64,
    },
    /// An unknown `kid` would trigger a refetch, but one was triggered less than
    /// `refetch_interval_seconds` ago. Nothing to write.
    RateLimited {
        /// When the next unknown-`kid` refetch is allowed (unix seconds).
        until: u64,
    },
}

/// A fetch answer as the glue received it from `on_http_call_response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// The `:status` header; `None` when the call failed without a response (timeout,
    /// connection refused, reset): Envoy then reports no headers.
    pub status: Option<u32>,
    /// The body size Envoy reported. The glue reads the body only when this is at most
    /// [`Refresher::max_body_bytes`], and passes an empty slice otherwise.
    pub body_size: usize,
    /// The body.
    pub body: &'a [u8],
}

/// Why a fetch failed. The last good keys stay in use in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The host refused to start the call (unknown cluster, bad headers).
    Dispatch,
    /// No response: timeout, connection failure or reset.
    NoResponse,
    /// A status other than 200.
    HttpStatus(u32),
    /// The body is larger than the cap.
    Oversize {
        /// Body size Envoy reported.
        size: usize,
    },
    /// The discovery document is not usable.
    Discovery(DiscoveryError),
    /// The JWKS is not usable as a whole (not JSON, no `keys` array, no usable key).
    Jwks(JwksError),
    /// The answer came after this worker's lease had passed to another worker; it is dropped.
    LeaseLost,
    /// A discovery answer for a provider configured with a JWKS URL (it never asks for one).
    UnexpectedStep,
}

impl FetchError {
    /// Short stable name for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Dispatch => "dispatch_failed",
            FetchError::NoResponse => "no_response",
            FetchError::HttpStatus(_) => "http_status",
            FetchError::Oversize { .. } => "oversize",
            FetchError::Discovery(_) => "bad_discovery_document",
            FetchError::Jwks(_) => "bad_jwks",
            FetchError::LeaseLost => "lease_lost",
            FetchError::UnexpectedStep => "unexpected_step",
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Dispatch => f.write_str("the host refused to start the call"),
            FetchError::NoResponse => f.write_str("no response (timeout or connection failure)"),
            FetchError::HttpStatus(s) => write!(f, "HTTP status {s}"),
            FetchError::Oversize { size } => {
                write!(f, "body of {size} bytes exceeds the limit")
            }
            FetchError::Discovery(e) => e.fmt(f),
            FetchError::Jwks(e) => e.fmt(f),
            FetchError::LeaseLost => f.write_str("answer arrived after the fetch lease passed on"),
            FetchError::UnexpectedStep => {
                f.write_str("discovery answer for a provider configured with a JWKS URL")
            }
        }
    }
}

impl std::error::Error for FetchError {}

/// The single-fetcher lease: which worker fetches, since when, until when at the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// Worker id of the fetching VM.
    pub holder: u64,
    /// What it is fetching.
    pub step: Step,
    /// When it started (unix seconds).
    pub since: u64,
    /// When the lease ends even if the holder never reports (unix seconds).
    pub until: u64,
}

/// The shared fetch state of one provider (kept in proxy-wasm shared data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchState {
    /// [`Refresher::fingerprint`] of the policy that wrote it (a record written under another
    /// configuration of the same provider name is not used).
    pub(crate) source: String,
    /// Incremented with every accepted JWKS; 0 = no keys yet.
    pub(crate) generation: u64,
    /// When the current keys were fetched.
    pub(crate) fetched_at: Option<u64>,
    /// Number of usable keys in the current set.
    pub(crate) key_count: u32,
    /// The `jwks_uri` from discovery, and when it was read.
    pub(crate) jwks_uri: Option<String>,
    pub(crate) jwks_uri_at: Option<u64>,
    /// When the next scheduled fetch (refresh or retry) is due.
    pub(crate) next_attempt_at: u64,
    /// Consecutive failed fetches.
    pub(crate) failures: u32,
    /// The fetch in progress, if any.
    pub(crate) lease: Option<Lease>,
    /// When the last refetch triggered by an unknown `kid` started.
    pub(crate) last_refetch_at: Option<u64>,
}

impl FetchState {
    /// Incremented with every accepted JWKS; 0 while there have never been keys.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True once a JWKS has been accepted.
    pub fn has_keys(&self) -> bool {
        self.generation > 0
    }

    /// Number of usable keys in the current set (0 before the first success).
    pub fn key_count(&self) -> u32 {
        self.key_count
    }

    /// When the current keys were fetched.
    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }

    /// Age of the current keys (seconds) — the `age_seconds` gauge; `None` without keys.
    pub fn age_seconds(&self, now: u64) -> Option<u64> {
        self.fetched_at.map(|t| now.saturating_sub(t))
    }

    /// Consecutive failed fetches.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next scheduled fetch is due.
    pub fn next_attempt_at(&self) -> u64 {
        self.next_attempt_at
    }

    /// The lease, when a fetch is in progress at `now`.
    pub fn lease(&self, now: u64) -> Option<Lease> {
        self.lease.filter(|l| now < l.until)
    }

    /// True when a fetch is in progress at `now` (a lease exists and has not run out).
    pub fn fetch_in_flight(&self, now: u64) -> bool {
        self.lease(now).is_some()
    }

    /// The `jwks_uri` last read from discovery.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }
}

/// The compiled fetch policy of one remote provider. See the module docs of
/// [`super`] for the timing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresher {
    source: Source,
    cluster: String,
    timeout_ms: u64,
    cache_seconds: u64,
    refetch_interval_seconds: u64,
    max_body_bytes: usize,
}

/// The refresher of every provider, in config order (`None` for inline keys). A URL the
/// configuration check let through but that cannot be fetched (user info, fragment, bad
/// port, …) is a [`ConfigError`] naming the field, so the plugin refuses to start.
pub(crate) fn refreshers(config: &Config) -> Result<Vec<Option<Refresher>>, ConfigError> {
    config
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| Refresher::for_provider(i, p))
        .collect()
}

impl Refresher {
    /// The refresher of provider number `index`; `Ok(None)` for inline keys.
    pub fn for_provider(index: usize, p: &Provider) -> Result<Option<Refresher>, ConfigError> {
        let bad = |field: &str, e: UrlError| ConfigError {
            field: format!("providers[{index}].{field}"),
            message: e.to_string(),
        };
        let r = match &p.key_source {
            KeySource::Inline => return Ok(None),
            KeySource::Remote(r) => Refresher::jwks(&r.cluster, &r.url)
                .map_err(|e| bad("jwks.remote.url", e))?
                .with_timeout_ms(r.timeout_ms)
                .with_cache_seconds(r.cache_seconds)
                .with_refetch_interval_seconds(r.refetch_interval_seconds),
            KeySource::Discovery(d) => Refresher::discovery(&d.cluster, &p.issuer)
                .map_err(|e| bad("issuer", e))?
                .with_timeout_ms(d.timeout_ms)
                .with_cache_seconds(d.cache_seconds)
                .with_refetch_interval_seconds(d.refetch_interval_seconds),
        };
        Ok(Some(r))
    }

    /// Keys fetched from a configured JWKS URL through `cluster`.
    pub fn jwks(cluster: &str, url: &str) -> Result<Refresher, UrlError> {
        Ok(Self::with_source(
            cluster,
            Source::Jwks(HttpUrl::parse(url)?),
        ))
    }

    /// Keys found through OpenID Connect discovery of `issuer` through `cluster`.
    pub fn discovery(cluster: &str, issuer: &str) -> Result<Refresher, UrlError> {
        let document = discovery_url(issuer)?;
        Ok(Self::with_source(
            cluster,
            Source::Discovery {
                issuer: issuer.to_string(),
                document,
            },
        ))
    }

    fn with_source(cluster: &str, source: Source) -> Refresher {
        Refresher {
            source,
            cluster: cluster.to_string(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            cache_seconds: DEFAULT_CACHE_SECONDS,
            refetch_interval_seconds: DEFAULT_REFETCH_INTERVAL_SECONDS,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }

    /// Time limit of one HTTP call (milliseconds; at least 1).
    pub fn with_timeout_ms(mut self, timeout_ms: u64) -> Refresher {
        self.timeout_ms = timeout_ms.max(1);
        self
    }

    /// Lifetime of a fetched key set (seconds); the refresh happens at
    /// [`REFRESH_PERCENT`] of it, clamped to [[`MIN_REFRESH_SECONDS`], [`MAX_REFRESH_SECONDS`]].
    pub fn with_cache_seconds(mut self, cache_seconds: u64) -> Refresher {
        self.cache_seconds = cache_seconds;
        self
    }

    /// Minimum time between two refetches triggered by an unknown `kid` (seconds).
    pub fn with_refetch_interval_seconds(mut self, seconds: u64) -> Refresher {
        self.refetch_interval_seconds = seconds;
        self
    }

    /// Largest body accepted (bytes).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Refresher {
        self.max_body_bytes = bytes;
        self
    }

    /// Where the keys come from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The Envoy cluster fetches go to.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Time limit of one HTTP call (milliseconds).
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// Largest body accepted (bytes).
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Minimum time between two unknown-`kid` refetches (seconds).
    pub fn refetch_interval_seconds(&self) -> u64 {
        self.refetch_interval_seconds
    }

    /// Seconds from a successful fetch to the scheduled refresh:
    /// `cache_seconds × 80 %`, clamped to [60 s, 24 h].
    pub fn refresh_after_seconds(&self) -> u64 {
        (self.cache_seconds.saturating_mul(REFRESH_PERCENT) / 100)
            .clamp(MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS)
    }

    /// Length of the fetch lease (seconds): the call timeout rounded up, plus one second.
    /// Envoy answers every call by its timeout, so a lease only runs out when its holder
    /// VM went away; another worker then takes over.
    pub fn lease_seconds(&self) -> u64 {
        self.timeout_ms.div_ceil(1000).saturating_add(1)
    }

    /// Longest time a request may wait for keys (milliseconds): one call timeout per step
    /// (two with discovery).
    pub fn max_wait_ms(&self) -> u64 {
        match self.source {
            Source::Jwks(_) => self.timeout_ms,
            Source::Discovery { .. } => self.timeout_ms.saturating_mul(2),
        }
    }

    /// Retry delay after `failures` consecutive failures (≥ 1): 2 s, 4 s, 8 s, … capped at
    /// 300 s (30 s while there are no keys at all) and at the regular refresh interval.
    pub fn backoff_seconds(&self, failures: u32, has_keys: bool) -> u64 {
        let cap = if has_keys {
            BACKOFF_CAP_SECONDS
        } else {
            BACKOFF_CAP_WITHOUT_KEYS_SECONDS
        }
        .min(self.refresh_after_seconds());
        let doublings = failures.saturating_sub(1).min(32);
        BACKOFF_BASE_SECONDS
            .saturating_mul(1u64 << doublings)
            .min(cap)
    }

    /// Identifies the source and cluster: a shared record with another fingerprint was
    /// written under another configuration and is not used.
    pub fn fingerprint(&self) -> String {
        match &self.source {
            Source::Jwks(url) => format!("jwks {} {}", self.cluster, url),
            Source::Discovery { issuer, .. } => format!("discovery {} {}", self.cluster, issuer),
        }
    }

    /// The state before anything was fetched: the first fetch is due at once.
    pub fn new_state(&self) -> FetchState {
        FetchState {
            source: self.fingerprint(),
            generation: 0,
            fetched_at: None,
            key_count: 0,
            jwks_uri: None,
            jwks_uri_at: None,
            next_attempt_at: 0,
            failures: 0,
            lease: None,
            last_refetch_at: None,
        }
    }

    /// Timer event (and plugin start). Starts the scheduled fetch when it is due and no
    /// other fetch is in progress.
    pub fn tick(&self, st: &mut FetchState, me: u64, now: u64) -> Action {
        if let Some(lease) = st.lease(now) {
            return Action::Wait { until: lease.until };
        }
        if now < st.next_attempt_at {
            return Action::Idle {
                next_at: st.next_attempt_at,
            };
        }
        Action::Fetch(self.start(st, me, now))
    }

    /// A request needs this provider's keys and there are none yet. The same decision as
    /// [`Refresher::tick`]: `Fetch` or `Wait` → pause the request (bounded by
    /// [`Refresher::max_wait_ms`]); `Idle { next_at }` → the last fetch failed and the
    /// backoff runs: the request may still trigger a rate-limited refetch
    /// ([`Refresher::unknown_kid`], see [`super::Outbound::wait_for_keys`]), else it gets 503
    /// at once.
    pub fn request_without_keys(&self, st: &mut FetchState, me: u64, now: u64) -> Action {
        self.tick(st, me, now)
    }

    /// A token named a `kid` that is not in the current set. Refetch at once — ignoring the
    /// schedule and any failure backoff, since this is bounded on its own — unless a fetch
    /// is in progress (`Wait`: its result will tell) or the last unknown-`kid` refetch
    /// started less than `refetch_interval_seconds` ago (`RateLimited`).
    pub fn unknown_kid(&self, st: &mut FetchState, me: u64, now: u64) -> Action {
        if let Some(lease) = st.lease(now) {
            return Action::Wait { until: lease.until };
        }
        if let Some(last) = st.last_refetch_at {
            let until = last.saturating_add(self.refetch_interval_seconds);
            if now < until {
                return Action::RateLimited { until };
            }
        }
        st.last_refetch_at = Some(now);
        Action::Fetch(self.start(st, me, now))
    }

    /// Checks a discovery answer and returns its `jwks_uri`. Pure: no state change, so the
    /// glue can retry its compare-and-swap write without re-parsing.
    pub fn check_discovery(&self, resp: &HttpResponse<'_>) -> Result<HttpUrl, FetchError> {
        let body = self.checked_body(resp)?;
        let issuer = match &self.source {
            Source::Discovery { issuer, .. } => issuer,
            Source::Jwks(_) => return Err(FetchError::UnexpectedStep),
        };
        parse_discovery(body, issuer).map_err(FetchError::Discovery)
    }

    /// Records a checked discovery answer and returns the JWKS request to dispatch next
    /// under the same (renewed) lease. `LeaseLost` when the lease is no longer `me`'s: the
    /// answer is dropped and nothing changes.
    pub fn discovered(
        &self,
        st: &mut FetchState,
        me: u64,
        jwks_uri: &HttpUrl,
        now: u64,
    ) -> Result<FetchRequest, FetchError> {
        if st.lease.map(|l| l.holder) != Some(me) {
            return Err(FetchError::LeaseLost);
        }
        st.jwks_uri = Some(jwks_uri.to_string());
        st.jwks_uri_at = Some(now);
        st.lease = Some(self.lease(me, Step::Jwks, now));
        Ok(self.request(Step::Jwks, jwks_uri.clone()))
    }

    /// Checks a JWKS answer: status, size, then the lenient key-set parse (unusable keys
    /// are skipped and listed; an unusable document or one without any usable key is an
    /// error). Pure: no state change.
    pub fn check_jwks(
        &self,
        resp: &HttpResponse<'_>,
    ) -> Result<(KeySet, Vec<SkippedKey>), FetchError> {
        let body = self.checked_body(resp)?;
        KeySet::from_jwks_lenient(body).map_err(FetchError::Jwks)
    }

    /// Records an accepted JWKS of `key_count` keys and returns when the next refresh is
    /// due. The keys are recorded even when the lease has passed to another worker (they
    /// are fresh keys all the same); the lease is released only when it is `me`'s.
    pub fn keys_fetched(&self, st: &mut FetchState, me: u64, key_count: usize, now: u64) -> u64 {
        st.generation = st.generation.saturating_add(1);
        st.fetched_at = Some(now);
        st.key_count = u32::try_from(key_count).unwrap_or(u32::MAX);
        st.failures = 0;
        st.next_attempt_at = now.saturating_add(self.refresh_after_seconds());
        if st.lease.map(|l| l.holder) == Some(me) {
            st.lease = None;
        }
        st.next_attempt_at
    }

    /// Records a failed fetch (any [`FetchError`]) and returns when the next attempt is due.
    /// The keys stay. Only the lease holder's failure counts towards the backoff; a late
    /// answer after the lease passed on changes nothing.
    pub fn fetch_failed(&self, st: &mut FetchState, me: u64, now: u64) -> u64 {
        if st.lease.map(|l| l.holder) != Some(me) {
            return st.next_attempt_at;
        }
        st.failures = st.failures.saturating_add(1);
        st.next_attempt_at = now.saturating_add(self.backoff_seconds(st.failures, st.has_keys()));
        st.lease = None;
        st.next_attempt_at
    }

    fn checked_body<'a>(&self, resp: &HttpResponse<'a>) -> Result<&'a [u8], FetchError> {
        match resp.status {
            None => return Err(FetchError::NoResponse),
            Some(200) => {}
            Some(other) => return Err(FetchError::HttpStatus(other)),
        }
        let size = resp.body_size.max(resp.body.len());
        if size > self.max_body_bytes {
            return Err(FetchError::Oversize { size });
        }
        Ok(resp.body)
    }

    /// Takes the lease and picks the first request of a fetch.
    fn start(&self, st: &mut FetchState, me: u64, now: u64) -> FetchRequest {
        let (step, url) = match &self.source {
            Source::Jwks(url) => (Step::Jwks, url.clone()),
            Source::Discovery { document, .. } => match self.cached_jwks_uri(st, now) {
                Some(url) => (Step::Jwks, url),
                None => (Step::Discovery, document.clone()),
            },
        };
        st.lease = Some(self.lease(me, step, now));
        self.request(step, url)
    }

    /// The discovered `jwks_uri`, while it may be reused: read less than
    /// [`DISCOVERY_MAX_AGE_SECONDS`] ago and no failure since.
    fn cached_jwks_uri(&self, st: &FetchState, now: u64) -> Option<HttpUrl> {
        if st.failures > 0 {
            return None;
        }
        let at = st.jwks_uri_at?;
        if now >= at.saturating_add(DISCOVERY_MAX_AGE_SECONDS) {
            return None;
        }
        HttpUrl::parse(st.jwks_uri.as_deref()?).ok()
    }

    fn lease(&self, me: u64, step: Step, now: u64) -> Lease {
        Lease {
            holder: me,
            step,
            since: now,
            until: now.saturating_add(self.lease_seconds()),
        }
    }

    fn request(&self, step: Step, url: HttpUrl) -> FetchRequest {
        FetchRequest {
            step,
            cluster: self.cluster.clone(),
            url,
            timeout_ms: self.timeout_ms,
        }
    }
}
