//! HTTP context: one request through the core.
//!
//! [`process`] does the work for a request's headers — on their arrival (HTTP context) and
//! again when a request that waited for keys is resumed (root context, with the request's
//! context made effective).

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use tollgate_core::remote::{Action as FetchAction, WaitReason};
use tollgate_core::{is_claim_header, Denial, DenialKind, Outcome};

use crate::host;
use crate::root::Shared;

pub struct TollgateHttp {
    context_id: u32,
    /// None only if Envoy created a stream although the configuration was refused.
    shared: Option<Rc<RefCell<Shared>>>,
}

impl TollgateHttp {
    pub fn new(context_id: u32, shared: Option<Rc<RefCell<Shared>>>) -> Self {
        Self { context_id, shared }
    }
}

fn log(context_id: u32, level: LogLevel, message: &str) {
    host::log(level, &format!("tollgate: [{context_id}] {message}"));
}

/// Answer with a fixed 503 and stop the request; used when the glue itself cannot work
/// (never for client input).
fn fail_closed(context_id: u32, why: &str) -> Action {
    log(context_id, LogLevel::Error, why);
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        ("cache-control".to_string(), "no-store".to_string()),
    ];
    let body = br#"{"error":"temporarily_unavailable","error_description":"the token filter is not ready"}"#;
    if let Err(status) = host::send_response(503, &headers, body) {
        log(
            context_id,
            LogLevel::Critical,
            &format!("cannot send the local response: {status:?}"),
        );
    }
    Action::Pause
}

fn deny(shared: &Shared, context_id: u32, denial: &Denial) -> Action {
    let reason = denial.reason();
    let provider = denial.provider.as_deref();
    shared.metrics.count_denied(reason, provider);
    let response = denial.response(shared.engine.realm());
    log(
        context_id,
        LogLevel::Info,
        &format!(
            "denied: reason={reason} provider={} status={}",
            provider.unwrap_or("-"),
            response.status
        ),
    );
    if let Err(status) =
        host::send_response(response.status, &response.headers, response.body.as_bytes())
    {
        log(
            context_id,
            LogLevel::Critical,
            &format!("cannot send the local response: {status:?}"),
        );
    }
    Action::Pause
}

/// Decide the request of the current (effective) context and act on it.
///
/// `may_wait`: the request may be paused until its provider's keys arrive (first pass);
/// `resumed`: this is the second pass of a paused request, which must be answered or
/// resumed now.
pub fn process(shared: &mut Shared, context_id: u32, may_wait: bool, resumed: bool) -> Action {
    let raw = match host::request_headers() {
        Ok(raw) => raw,
        Err(status) => {
            return fail_closed(
                context_id,
                &format!("cannot read request headers: {status:?}"),
            )
        }
    };

    // Claim headers arriving from the client are removed on every route, allowed or
    // not, so a client can never spoof them. They are not part of the decision either.
    // Names match ignoring case and with `_` equal to `-` (`x_user_id` reaches a WSGI or
    // PHP application as the same variable as `x-user-id`). Header names and values are
    // moved, not copied (Envoy hands names over lower-case); this loop runs on every request.
    let strip = shared.engine.claim_header_names();
    let mut headers: Vec<(String, String)> = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        if is_claim_header(strip, &name) {
            if let Err(status) = host::remove_request_header(&name) {
                return fail_closed(
                    context_id,
                    &format!("cannot remove header {name}: {status:?}"),
                );
            }
            continue;
        }
        // Non-UTF-8 bytes cannot be part of a valid token or rule; they become U+FFFD.
        let value = String::from_utf8(value)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        headers.push((name, value));
    }

    let now = host::now_seconds();
    let mut outcome = shared.engine.evaluate(&headers, now);
    // Another worker may have fetched newer keys since this one's last tick (e.g. the
    // refetch for a rotated key): install them and decide again before waiting or
    // triggering a refetch of our own. (Only denials get here: not the hot path.)
    if let Some(provider) = keys_denial_provider(shared, &outcome) {
        let Shared { engine, remote, .. } = &mut *shared;
        if remote.adopt(engine, provider, now) {
            let _ = engine.take_refetch_requests();
            outcome = engine.evaluate(&headers, now);
        }
    }
    shared
        .metrics
        .count_cache(shared.engine.last_cache_lookup());

    // Tokens with a `kid` their (remote) provider does not know trigger a refetch,
    // rate limited by the shared record. A provider without any keys asks the schedule
    // first (`wait_for_keys`), so a request at start-up does not use up the refetch
    // interval that a key rotation right after would need.
    let unknown_kid = matches!(&outcome, Outcome::Deny(d) if d.is_unknown_kid());
    let mut refetch: Vec<(usize, FetchAction)> = Vec::new();
    for provider in shared.engine.take_refetch_requests() {
        if !unknown_kid {
            continue;
        }
        if let Some(action) = shared.remote.unknown_kid(provider, now) {
            refetch.push((provider, action));
        }
    }

    // A fetch this request decided on is sent by the root context (see `keys`).
    if !refetch.is_empty() || shared.remote.has_pending() {
        shared.ring();
    }

    match outcome {
        Outcome::Allow(allowed) => {
            // The upstream gets the path the rules matched (e.g. `/%6Frders` → `/orders`).
            if let Some(path) = &allowed.path {
                if let Err(status) = host::set_request_header(":path", path) {
                    return fail_closed(context_id, &format!("cannot rewrite :path: {status:?}"));
                }
            }
            for (name, value) in &allowed.set_headers {
                if let Err(status) = host::set_request_header(name, value) {
                    return fail_closed(
                        context_id,
                        &format!("cannot set header {name}: {status:?}"),
                    );
                }
            }
            // `forward_token: false`: the upstream never sees the bearer token.
            if allowed.remove_authorization {
                if let Err(status) = host::remove_request_header("authorization") {
                    return fail_closed(
                        context_id,
                        &format!("cannot remove header authorization: {status:?}"),
                    );
                }
            }
            // Counted, not logged: the counters say the same per provider, and a log line
            // per allowed request (formatted, then handed to the host even when its level is
            // off) is measurable at this rate. Denials are logged (`deny`).
            shared.metrics.count_allowed(allowed.provider.as_deref());
            if resumed {
                if let Err(status) = host::resume_request() {
                    log(
                        context_id,
                        LogLevel::Error,
                        &format!("cannot resume the request: {status:?}"),
                    );
                }
            }
            Action::Continue
        }
        Outcome::Deny(denial) => {
            if may_wait && wait_for_keys(shared, context_id, &denial, &refetch, now) {
                shared.ring();
                return Action::Pause;
            }
            deny(shared, context_id, &denial)
        }
    }
}

/// The provider (config index) of a denial that newer keys could change: no keys yet, or
/// an unknown `kid`.
fn keys_denial_provider(shared: &Shared, outcome: &Outcome) -> Option<usize> {
    let Outcome::Deny(denial) = outcome else {
        return None;
    };
    if denial.kind != DenialKind::KeysUnavailable && !denial.is_unknown_kid() {
        return None;
    }
    let name = denial.provider.as_deref()?;
    shared
        .engine
        .providers()
        .iter()
        .position(|p| p.name == name)
}

/// Pause the request if its denial may change once a fetch in progress (or one just
/// started) ends: no keys yet, or an unknown `kid` with a refetch under way.
fn wait_for_keys(
    shared: &mut Shared,
    context_id: u32,
    denial: &Denial,
    refetch: &[(usize, FetchAction)],
    now: u64,
) -> bool {
    let Some(provider) = denial.provider.as_deref().and_then(|name| {
        shared
            .engine
            .provider_names()
            .iter()
            .position(|n| n == name)
    }) else {
        return false;
    };
    let (reason, action) = match denial.kind {
        DenialKind::KeysUnavailable => (
            WaitReason::NoKeys,
            match shared.remote.request_without_keys(provider, now) {
                // The backoff after a failed fetch runs: a request may still trigger one
                // refetch per refetch interval.
                Some(FetchAction::Idle { .. }) => shared.remote.unknown_kid(provider, now),
                decided => decided,
            },
        ),
        _ if denial.is_unknown_kid() => (
            WaitReason::UnknownKid,
            refetch
                .iter()
                .find(|(p, _)| *p == provider)
                .map(|(_, a)| a.clone()),
        ),
        _ => return false,
    };
    match action {
        // The host refused to start the fetch (e.g. unknown cluster): nothing to wait for.
        Some(FetchAction::Fetch(_)) if !shared.remote.calling(provider) => false,
        Some(FetchAction::Fetch(_) | FetchAction::Wait { .. }) => {
            let waiting = shared
                .remote
                .wait(context_id, provider, reason, host::now_millis());
            if waiting {
                log(
                    context_id,
                    LogLevel::Debug,
                    &format!("waiting for the keys of provider {provider} ({reason:?})"),
                );
            }
            waiting
        }
        _ => false,
    }
}

impl Context for TollgateHttp {
    fn on_done(&mut self) -> bool {
        // A request that ends while it waits for keys is forgotten.
        if let Some(Ok(mut shared)) = self.shared.as_ref().map(|s| s.try_borrow_mut()) {
            shared.remote.forget(self.context_id);
        }
        true
    }
}

impl HttpContext for TollgateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return fail_closed(
                self.context_id,
                "no valid configuration; refusing the request",
            );
        };
        // A VM is single-threaded and no host call re-enters this context, so the engine is
        // never borrowed here already; fail closed rather than panic if that ever changes.
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return fail_closed(self.context_id, "the engine is busy (re-entrant call)");
        };
        process(&mut shared, self.context_id, true, false)
    }

    /// Claim headers sent as request trailers are removed too: some gateways merge
    /// trailers into the headers the application reads.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let Some(shared) = self.shared.as_ref() else {
            return Action::Continue;
        };
        let Ok(shared) = shared.try_borrow() else {
            return Action::Continue;
        };
        let strip = shared.engine.claim_header_names();
        let names = match host::request_trailer_names() {
            Ok(names) => names,
            Err(status) => {
                log(
                    self.context_id,
                    LogLevel::Error,
                    &format!("cannot read request trailers: {status:?}"),
                );
                return Action::Continue;
            }
        };
        for name in names.iter().filter(|n| is_claim_header(strip, n)) {
            if let Err(status) = host::remove_request_trailer(name) {
                log(
                    self.context_id,
                    LogLevel::Error,
                    &format!("cannot remove trailer {name}: {status:?}"),
                );
            }
        }
        Action::Continue
    }
}
