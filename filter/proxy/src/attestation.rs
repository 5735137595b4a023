//! Client attestation in the glue: the challenge endpoint, answered here, and the body of a
//! token-endpoint gate, gathered whole before the decision (see
//! `tollgate_core::attestation`). A gated request's headers stop (`StopIteration`), its
//! body callbacks buffer (`StopIterationAndBuffer`) until the stream's end, or until the body
//! passes the rule's bound (then 413 at once); only then is the request decided, and nothing
//! of it reaches the upstream before an allow. Every other request takes the usual path.

use proxy_wasm::types::{Action, LogLevel};

use crate::flow::{self, Pass};
use crate::host;
use crate::shared::Shared;

/// Where a request stands with the body of a token-endpoint gate.
pub(crate) enum Gate {
    /// Not a gated request, or already decided.
    Off,
    /// Gathering the body of a gated request.
    Gathering {
        /// The rule's `max_body_bytes`.
        limit: usize,
        /// The request headers, read (and stripped of claim headers) when they arrived.
        headers: Vec<(String, String)>,
        /// Body bytes buffered so far.
        seen: usize,
    },
}

/// The request headers arrived, with `client_attestation` configured.
pub(crate) fn on_headers(
    shared: &mut Shared,
    context_id: u32,
    end_of_stream: bool,
    gate: &mut Gate,
) -> Action {
    let headers = match flow::read_headers(shared) {
        Ok(headers) => headers,
        Err(why) => return flow::fail_closed(&why),
    };
    if let Some(answer) = shared
        .engine
        .challenge_endpoint(&headers, host::now_seconds())
    {
        if let Err(status) =
            host::send_response(answer.status, &answer.headers, answer.body.as_bytes())
        {
            host::log(
                LogLevel::Critical,
                &format!("cannot send the local response: {status:?}"),
            );
        }
        return Action::Pause;
    }
    match shared.engine.body_limit(&headers) {
        Some(limit) if !end_of_stream => {
            *gate = Gate::Gathering {
                limit,
                headers,
                seen: 0,
            };
            Action::Pause
        }
        Some(_) => flow::run_with(shared, context_id, Pass::Arrived, &headers, Some(&[])),
        None => flow::run_with(shared, context_id, Pass::Arrived, &headers, None),
    }
}

/// A body callback of a gated request: keep buffering, or decide.
pub(crate) fn on_body(
    shared: &mut Shared,
    context_id: u32,
    body_size: usize,
    end_of_stream: bool,
    gate: &mut Gate,
) -> Action {
    let Gate::Gathering { limit, seen, .. } = gate else {
        return Action::Continue;
    };
    *seen = body_size;
    if body_size <= *limit && !end_of_stream {
        return Action::Pause;
    }
    decide(shared, context_id, gate)
}

/// Trailers arrived: the body of a gated request is complete.
pub(crate) fn on_trailers(shared: &mut Shared, context_id: u32, gate: &mut Gate) -> Action {
    match gate {
        Gate::Off => Action::Continue,
        Gate::Gathering { .. } => decide(shared, context_id, gate),
    }
}

/// Decide a gated request with its buffered body (at most `limit + 1` bytes are read: more
/// is refused as too large whatever it holds).
fn decide(shared: &mut Shared, context_id: u32, gate: &mut Gate) -> Action {
    let Gate::Gathering {
        limit,
        headers,
        seen,
    } = std::mem::replace(gate, Gate::Off)
    else {
        return Action::Continue;
    };
    let body = match host::request_body(seen.min(limit.saturating_add(1))) {
        Ok(body) => body,
        Err(status) => {
            return flow::fail_closed(&format!("cannot read the request body: {status:?}"))
        }
    };
    flow::run_with(shared, context_id, Pass::Arrived, &headers, Some(&body))
}
