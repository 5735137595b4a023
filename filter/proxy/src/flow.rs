//! The per-request path, top to bottom: read the headers, strip spoofed claim headers,
//! evaluate, install keys another worker fetched and evaluate again, count, wait for keys or
//! act on the outcome. The HTTP context runs it when the request headers arrive
//! ([`Pass::Arrived`]); the root context runs it once more for a request that waited for
//! keys ([`Pass::Resumed`], with the request's context made effective).

use proxy_wasm::types::{Action, LogLevel};
use tollgate_core::remote::{Awaited, WaitReason, Waiter};
use tollgate_core::{is_claim_header, Allowed, Denial, HeaderEdit, Outcome};

use crate::attestation::Gate;
use crate::environment::EnvoyRequest;
use crate::host;
use crate::introspection::Lookup;
use crate::shared::Shared;

/// Which pass over a request this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The request headers just arrived: the request may wait for keys.
    Arrived,
    /// The request waited for keys or an introspection call: it is decided now for good
    /// (after keys, it may still wait for the introspection call whose answer they check),
    /// and resumed if allowed.
    Resumed {
        /// It waited for keys.
        after_keys: bool,
    },
}

/// Envoy already starts every line with the plugin's name (`wasm log tollgate …:`), so the
/// filter's lines start with what happened.
fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// The request's `x-request-id` (Envoy sets one on every request), or `-`. A client can
/// choose it, so log lines print it quoted and escaped (`request_id="…"`): it can never add
/// a field of its own to the line.
fn request_id(headers: &[(String, String)]) -> &str {
    headers
        .iter()
        .find(|(n, _)| n == "x-request-id")
        .map_or("-", |(_, v)| v.as_str())
}

/// The request headers arrived: every request starts here.
pub(crate) fn arrived(
    shared: &mut Shared,
    context_id: u32,
    end_of_stream: bool,
    gate: &mut Gate,
) -> Action {
    // 1. The headers, without the claim headers a client sent.
    let headers = match read_headers(shared) {
        Ok(headers) => headers,
        Err(why) => return fail_closed(&why),
    };
    // 1b. What the filter answers itself, whatever the rules say: the protected resource
    //     metadata document and the attestation challenge endpoint.
    if let Some(answer) = shared.engine.local_answer(&headers, host::now_seconds) {
        if let Err(status) =
            host::send_response(answer.status, &answer.headers, answer.body.as_bytes())
        {
            log(
                LogLevel::Critical,
                &format!("cannot send the local response: {status:?}"),
            );
        }
        return Action::Pause;
    }
    // 1c. A token-endpoint gate decides once the whole body is there (`crate::attestation`).
    if shared.engine.config().client_attestation.is_some() {
        return crate::attestation::on_headers(shared, context_id, headers, end_of_stream, gate);
    }
    run_with(shared, context_id, Pass::Arrived, &headers, None)
}

/// Decide again a request that waited (its headers read anew) and act on it.
fn run(shared: &mut Shared, context_id: u32, pass: Pass) -> Action {
    let headers = match read_headers(shared) {
        Ok(headers) => headers,
        Err(why) => return fail_closed(&why),
    };
    run_with(shared, context_id, pass, &headers, None)
}

/// Steps 2-4 of [`arrived`] for headers already read (and the whole body of a token-endpoint
/// gate, see [`crate::attestation`]).
pub(crate) fn run_with(
    shared: &mut Shared,
    context_id: u32,
    pass: Pass,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Action {
    // 2. The decision. Another worker may have fetched keys this one has not installed yet
    //    (e.g. the refetch for a rotated key): install them and decide again before waiting
    //    or triggering a fetch of our own. Only denials get here: not the hot path.
    let now = host::now_seconds();
    let mut request = EnvoyRequest::new(shared.engine.config().dpop_replay_cache_size);
    let (evaluation, looked_up) = {
        let Shared {
            engine,
            outbound,
            keys,
            ..
        } = &mut *shared;
        // The environment also answers the look-up of an opaque token's verdict.
        let mut env = Lookup {
            request: &mut request,
            outbound,
            host: keys,
            looked_up: None,
        };
        let evaluation = engine.evaluate_body_in(headers, body, &mut env, now);
        let looked_up = env.looked_up;
        match evaluation.keys {
            Some(need) if outbound.adopt(keys, engine, need.provider, now) => {
                let mut env = Lookup {
                    request: &mut request,
                    outbound,
                    host: keys,
                    looked_up: None,
                };
                let evaluation = engine.evaluate_body_in(headers, body, &mut env, now);
                (evaluation, env.looked_up)
            }
            _ => (evaluation, looked_up),
        }
    };
    // A request that waited was counted when it arrived: its second look-up in the token
    // cache is the same miss, not another one.
    shared
        .metrics
        .count_evaluation(&evaluation, pass == Pass::Arrived);
    if let (Pass::Arrived, Some((provider, hit))) = (pass, looked_up) {
        shared.keys.introspection.count_lookup(provider, hit);
    }

    // 3. Keys that a fetch in progress (or one this request starts) could bring: wait
    //    (the core decides: `Outbound::wait_for_keys`; the fetch is sent by the root context).
    if let (Pass::Arrived, Outcome::Deny(_), Some(need)) =
        (pass, &evaluation.outcome, evaluation.keys)
    {
        let Shared { outbound, keys, .. } = &mut *shared;
        if outbound.wait_for_keys(keys, context_id, need, now, host::now_millis()) {
            shared.ring();
            log(
                LogLevel::Debug,
                &format!(
                    "request {:?} waits for the keys of provider {} ({})",
                    request_id(headers),
                    shared.engine.provider_name(need.provider),
                    match need.reason {
                        WaitReason::NoKeys => "none fetched yet",
                        WaitReason::UnknownKid => "unknown kid, refetching",
                    }
                ),
            );
            return Action::Pause;
        }
        // A fetch may have been decided (rate limits allowing) even if the request does
        // not wait for it.
        shared.ring();
    }

    // 3b. An opaque token without a known verdict: wait for the introspection call for its
    //     token (the one in flight, or one this request queues; the root context sends it).
    //     A dry-run route waits too, so that its would-be verdict is the real one. A request
    //     that waited for the keys to check the answer with may wait for the call next.
    if let (
        Pass::Arrived | Pass::Resumed { after_keys: true },
        Outcome::Deny(_) | Outcome::DryRun(_),
        Some(need),
    ) = (pass, &evaluation.outcome, &evaluation.introspection)
    {
        let Shared { outbound, keys, .. } = &mut *shared;
        if outbound.wait_for_introspection(keys, context_id, need, host::now_millis()) {
            shared.ring();
            log(
                LogLevel::Debug,
                &format!(
                    "request {:?} waits for introspection by provider {}",
                    request_id(headers),
                    shared.engine.provider_name(need.provider),
                ),
            );
            return Action::Pause;
        }
    }

    // 4. Act (an allowed request's id is never looked for: only denials log it).
    let why = || Denied {
        request_id: request_id(headers),
        rule: evaluation.rule,
        explanation: evaluation.explanation.as_deref(),
    };
    match &evaluation.outcome {
        Outcome::Allow(allowed) => {
            crate::guidance::nonce_for_response(shared, context_id, allowed.dpop_nonce.as_ref());
            allow(shared, allowed, pass)
        }
        Outcome::Deny(denial) => deny(shared, denial, &why()),
        Outcome::DryRun(denial) => would_deny(shared, denial, &why(), pass),
    }
}

/// What the log lines of a denial say about the request.
struct Denied<'a> {
    request_id: &'a str,
    rule: Option<usize>,
    explanation: Option<&'a str>,
}

impl Denied<'_> {
    fn line(&self, shared: &Shared, denial: &Denial, status: u32) -> String {
        format!(
            "status={status} reason={} provider={} rule={} request_id={:?}",
            denial.reason(),
            denial
                .provider
                .map_or("-", |p| shared.engine.provider_name(p)),
            match self
                .rule
                .and_then(|r| Some((r, shared.engine.config().rules.get(r)?)))
            {
                Some((r, rule)) => format!("{r} match={}", rule.path),
                None => "- match=-".to_owned(),
            },
            self.request_id
        )
    }

    /// The debug line saying which check failed (built only when the host logs at debug).
    fn explain(&self, dry_run: bool) {
        if let Some(why) = self.explanation {
            let verdict = if dry_run {
                "would be refused"
            } else {
                "refused"
            };
            log(
                LogLevel::Debug,
                &format!("request {:?} {verdict} because {why}", self.request_id),
            );
        }
    }
}

/// Dry run: count and log what would have happened, and let the request pass as sent.
fn would_deny(shared: &Shared, denial: &Denial, why: &Denied<'_>, pass: Pass) -> Action {
    shared
        .metrics
        .count_denied(denial.reason(), denial.provider, true);
    let status = denial.response(shared.engine.realm()).status;
    log(
        LogLevel::Info,
        &format!("would deny (dry run): {}", why.line(shared, denial, status)),
    );
    why.explain(true);
    resume_if(pass)
}

fn resume_if(pass: Pass) -> Action {
    if matches!(pass, Pass::Resumed { .. }) {
        if let Err(status) = host::resume_request() {
            log(
                LogLevel::Error,
                &format!("cannot resume the request: {status:?}"),
            );
        }
    }
    Action::Continue
}

/// Decide the requests that waited for keys or an introspection call, now that it ended or
/// their wait ran out: each is answered or let through (it does not wait a second time). `caller` is the
/// context of the callback this runs in; it is made effective again afterwards.
pub(crate) fn resume(shared: &mut Shared, waiters: Vec<Waiter>, caller: u32) {
    if waiters.is_empty() {
        shared.outbound.settle();
        return;
    }
    for waiter in waiters {
        if let Err(status) = host::set_effective_context(waiter.context_id) {
            // The request is gone (the client closed it).
            log(
                LogLevel::Debug,
                &format!("a request that waited for keys is gone ({status:?})"),
            );
            continue;
        }
        let after_keys = matches!(waiter.awaits, Awaited::Keys(_));
        run(shared, waiter.context_id, Pass::Resumed { after_keys });
    }
    // The introspection verdicts held for these requests are not kept beyond them.
    shared.outbound.settle();
    let _ = host::set_effective_context(caller);
}

/// The request headers as the core reads them, after removing (from the request itself)
/// every header whose name matches a claim header: ignoring case and with `_` equal to `-`
/// (`x_user_id` reaches a WSGI or PHP application as the same variable as `x-user-id`).
/// Names and values are moved, not copied; this runs on every request.
pub(crate) fn read_headers(shared: &Shared) -> Result<Vec<(String, String)>, String> {
    let raw = host::request_headers().map_err(|s| format!("cannot read request headers: {s:?}"))?;
    let strip = shared.engine.claim_header_names();
    let mut headers = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        if is_claim_header(strip, &name) {
            host::remove_request_header(&name)
                .map_err(|s| format!("cannot remove header {name}: {s:?}"))?;
            continue;
        }
        // Non-UTF-8 bytes cannot be part of a valid token or rule; they become U+FFFD.
        let value = String::from_utf8(value)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        headers.push((name, value));
    }
    Ok(headers)
}

fn allow(shared: &Shared, allowed: &Allowed, pass: Pass) -> Action {
    // The upstream gets the path the rules matched (e.g. `/%6Frders` → `/orders`).
    if let Some(path) = &allowed.path {
        if let Err(status) = host::set_request_header(":path", path) {
            return fail_closed(&format!("cannot rewrite :path: {status:?}"));
        }
    }
    for (name, value) in allowed.set_headers.iter() {
        if let Err(status) = host::set_request_header(name, value) {
            return fail_closed(&format!("cannot set header {name}: {status:?}"));
        }
    }
    // `forward_token: false`: the upstream never sees the token.
    for edit in &allowed.token_edits {
        let result = match edit {
            HeaderEdit::Remove(name) => host::remove_request_header(name),
            HeaderEdit::Set(name, value) => host::set_request_header(name, value),
        };
        if let Err(status) = result {
            return fail_closed(&format!(
                "cannot take the token out of the request: {status:?}"
            ));
        }
    }
    // Claims for the rest of Envoy (RBAC, access logs): filter state `wasm.<name>`.
    for (name, value) in allowed.filter_state.iter() {
        if let Err(status) = host::set_property(name, value) {
            return fail_closed(&format!("cannot set filter state {name}: {status:?}"));
        }
    }
    // Counted, not logged: the counters say the same per provider, and a log line per
    // allowed request (formatted, then handed to the host even when its level is off) is
    // measurable at this rate. Denials are logged.
    shared.metrics.count_allowed(allowed.provider);
    resume_if(pass)
}

fn deny(shared: &Shared, denial: &Denial, why: &Denied<'_>) -> Action {
    shared
        .metrics
        .count_denied(denial.reason(), denial.provider, false);
    let response = shared.engine.respond(denial);
    log(
        LogLevel::Info,
        &format!("denied: {}", why.line(shared, denial, response.status)),
    );
    why.explain(false);
    if let Err(status) =
        host::send_response(response.status, &response.headers, response.body.as_bytes())
    {
        log(
            LogLevel::Critical,
            &format!("cannot send the local response: {status:?}"),
        );
    }
    Action::Pause
}

/// Answer with a fixed 503 and stop the request; used when the glue itself cannot work
/// (never for client input).
pub(crate) fn fail_closed(why: &str) -> Action {
    log(LogLevel::Error, why);
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        ("cache-control".to_string(), "no-store".to_string()),
    ];
    let body = br#"{"error":"temporarily_unavailable","error_description":"the token filter is not ready"}"#;
    if let Err(status) = host::send_response(503, &headers, body) {
        log(
            LogLevel::Critical,
            &format!("cannot send the local response: {status:?}"),
        );
    }
    Action::Pause
}
