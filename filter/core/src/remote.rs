//! Remote key sets: JWKS fetched from a URL or found through OpenID Connect
//! discovery, shared by every worker VM of an Envoy process, refreshed before they expire,
//! refetched on an unknown `kid`, and kept through outages.
//!
//! Pure logic only — no host calls, time is a parameter (unix seconds). [`Outbound`] is the
//! one home of a worker's outbound calls and of the requests that wait for them: it runs the
//! events of each provider's [`Refresher`], keeps each provider's [`FetchState`] and last
//! good JWKS in proxy-wasm shared data (a [`record`], written with compare-and-swap through
//! [`SharedData`]), queues the calls for the root context and keeps the paused requests ([`waiters`]). The glue
//! (`filter/proxy`, `keys.rs`) only implements [`OutboundHost`] with host calls and forwards
//! timer ticks, requests and HTTP-call answers.
//!
//! Files: [`refresher`] (the timing rules and the lease), [`record`] (the shared record),
//! [`outbound`] (calls, waiting, the compare-and-swap loop), [`waiters`] (the paused
//! requests), [`report`] (what the operator is told), [`discovery`] and [`url`] (parsing).
//!
//! # Timing rules
//!
//! | situation | what happens |
//! |---|---|
//! | plugin start | the first fetch is due at once; one worker takes the lease and fetches |
//! | fetch succeeded | keys replaced for every worker; next refresh after `cache_seconds × 80 %`, clamped to [60 s, 24 h] |
//! | fetch failed (no answer, status ≠ 200, body > 256 KiB, bad discovery document, bad JWKS, no usable key) | last good keys kept; retry after 2 s, 4 s, 8 s … capped at 300 s (30 s while there are no keys at all) and at the refresh interval |
//! | token with an unknown `kid` | refetch at once, at most once per `refetch_interval_seconds` (default 30 s) process-wide, regardless of the schedule and the backoff; a fetch already in progress counts (its result is awaited) |
//! | a fetch in progress | nobody else fetches: the lease in the shared state names the worker and ends at `now + ⌈timeout⌉ + 1 s`, after which another worker may take over |
//! | discovery | the document is fetched, its `issuer` checked, and its `jwks_uri` fetched next under the same lease; the `jwks_uri` is reused for 24 h and re-resolved after any failure |
//!
//! Within a JWKS, keys that cannot be used (unsupported `kty`/`crv`, `use` ≠ `sig`, bad
//! encoding, …) are skipped one by one and reported ([`crate::jwks::SkippedKey`]); a JWKS
//! with no usable key at all counts as a failed fetch.
//!
//! # Requests while keys are missing
//!
//! [`Outbound::wait_for_keys`] decides. No keys yet: the request is paused (at most
//! [`Refresher::max_wait_ms`]) while a fetch is in progress or could start, then evaluated;
//! if there are still no keys it gets 503 with `Retry-After` — never 401, since the failure
//! is on the server side. While the failure backoff runs, a request may still trigger one
//! refetch per `refetch_interval_seconds` (counted as a triggered refetch) and waits for it;
//! otherwise it gets the 503 at once. Unknown `kid`: paused until the triggered (or running)
//! refetch ends, then evaluated once more; when the refetch is rate limited, 401
//! `invalid_token` at once. [`waiters`] keeps the paused requests of a worker, bounded
//! (1024); a request that finds it full is answered at once.

pub mod discovery;
pub mod outbound;
pub mod record;
pub mod refresher;
pub mod report;
pub mod url;
pub mod waiters;

pub use discovery::{discovery_url, parse_discovery, DiscoveryError};
pub use outbound::{Call, HttpCall, Outbound, OutboundHost, SharedData, SwapError};
pub use record::RecordError;
pub use refresher::{
    Action, FetchError, FetchRequest, FetchState, HttpResponse, Lease, Refresher, Source, Step,
    DEFAULT_CACHE_SECONDS, DEFAULT_REFETCH_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS, MAX_BODY_BYTES,
};
pub use report::{Report, Severity};
pub use url::{HttpUrl, UrlError};
pub use waiters::{Awaited, WaitReason, Waiter};

#[cfg(test)]
mod tests;
