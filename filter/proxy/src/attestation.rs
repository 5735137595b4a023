//! Client attestation in the glue: the body of a token-endpoint gate, gathered whole before
//! the decision (see `tollgate_core::attestation`). The challenge endpoint is answered with the
//! filter's other local answers, in [`flow::arrived`].
//!
//! A gated request's headers are read (claim headers stripped, the path written in canonical
//! form) and let on: a proxy-wasm host turns a paused header callback into "stop everything"
//! (proxy-wasm-cpp-host converts `StopIteration` to `StopAllIterationAndWatermark`), and then
//! never hands the body to the filter. Its body callbacks buffer (`StopIterationAndBuffer`)
//! until the stream's end, or until the body passes the rule's bound (then 413 at once); only
//! then is the request decided, and no byte of the body goes on before an allow. The router
//! after the filter may already have sent the headers upstream, so an authorization server
//! sees at most an incomplete request that is reset; with Envoy's `buffer` filter placed after
//! tollgate on the token endpoint, the upstream sees nothing at all of a refused request (the
//! README's deployment section).

use proxy_wasm::types::Action;

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

/// The request headers arrived (read by [`flow::arrived`]), with `client_attestation`
/// configured: a gated request gathers its body, every other one is decided now.
pub(crate) fn on_headers(
    shared: &mut Shared,
    context_id: u32,
    headers: Vec<(String, String)>,
    end_of_stream: bool,
    gate: &mut Gate,
) -> Action {
    let Some(body_gate) = shared.engine.body_gate(&headers) else {
        return flow::run_with(shared, context_id, Pass::Arrived, &headers, None);
    };
    if end_of_stream {
        return flow::run_with(shared, context_id, Pass::Arrived, &headers, Some(&[]));
    }
    // The headers go on now: the canonical path is written while they still can change, and
    // the decision is made with it; the attestation is taken out unless the rule forwards it
    // (the decision reads it from `headers`).
    for name in body_gate.remove {
        if let Err(status) = host::remove_request_header(name) {
            return flow::fail_closed(&format!("cannot remove header {name}: {status:?}"));
        }
    }
    let mut headers = headers;
    if let Some(path) = body_gate.path {
        if let Err(status) = host::set_request_header(":path", &path) {
            return flow::fail_closed(&format!("cannot rewrite :path: {status:?}"));
        }
        for (name, value) in headers.iter_mut() {
            if name == ":path" {
                value.clone_from(&path);
            }
        }
    }
    *gate = Gate::Gathering {
        limit: body_gate.max_body_bytes,
        headers,
        seen: 0,
    };
    Action::Continue
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
