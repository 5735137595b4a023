//! HTTP context: a thin adapter from the request's callbacks to [`crate::flow`].

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use tollgate_core::is_claim_header;

use crate::attestation::{self, Gate};
use crate::flow;
use crate::host;
use crate::shared::Shared;

pub(crate) struct TollgateHttp {
    context_id: u32,
    /// None only if Envoy created a stream although the configuration was refused.
    shared: Option<Rc<RefCell<Shared>>>,
    /// The body of a token-endpoint gate being gathered.
    gate: Gate,
}

impl TollgateHttp {
    pub(crate) fn new(context_id: u32, shared: Option<Rc<RefCell<Shared>>>) -> Self {
        Self {
            context_id,
            shared,
            gate: Gate::Off,
        }
    }
}

impl Context for TollgateHttp {
    fn on_done(&mut self) -> bool {
        // A request that ends while it waits for keys is forgotten.
        if let Some(Ok(mut shared)) = self.shared.as_ref().map(|s| s.try_borrow_mut()) {
            shared.outbound.forget(self.context_id);
            crate::guidance::forget(&mut shared, self.context_id);
        }
        true
    }
}

impl HttpContext for TollgateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return flow::fail_closed("no valid configuration; refusing the request");
        };
        // A VM is single-threaded and no host call re-enters this context, so the engine is
        // never borrowed here already; fail closed rather than panic if that ever changes.
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return flow::fail_closed("the engine is busy (re-entrant call)");
        };
        flow::arrived(&mut shared, self.context_id, end_of_stream, &mut self.gate)
    }

    /// A fresh DPoP server nonce, when the allowed request's nonce is near its end.
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(Ok(mut shared)) = self.shared.as_ref().map(|s| s.try_borrow_mut()) {
            crate::guidance::add_nonce_to_response(&mut shared, self.context_id);
        }
        Action::Continue
    }

    /// The body of a token-endpoint gate is gathered whole, none of it forwarded, before the
    /// decision; every other body passes.
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if matches!(self.gate, Gate::Off) {
            return Action::Continue;
        }
        let Some(shared) = self.shared.clone() else {
            return flow::fail_closed("no valid configuration; refusing the request");
        };
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return flow::fail_closed("the engine is busy (re-entrant call)");
        };
        attestation::on_body(
            &mut shared,
            self.context_id,
            body_size,
            end_of_stream,
            &mut self.gate,
        )
    }

    /// Claim headers sent as request trailers are removed too: some gateways merge
    /// trailers into the headers the application reads.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let Some(Ok(mut shared)) = self.shared.as_ref().map(|s| s.try_borrow_mut()) else {
            return Action::Continue;
        };
        let strip = shared.engine.claim_header_names();
        let names = match host::request_trailer_names() {
            Ok(names) => names,
            Err(status) => {
                host::log(
                    LogLevel::Error,
                    &format!("cannot read request trailers: {status:?}"),
                );
                return Action::Continue;
            }
        };
        for name in names.iter().filter(|n| is_claim_header(strip, n)) {
            if let Err(status) = host::remove_request_trailer(name) {
                host::log(
                    LogLevel::Error,
                    &format!("cannot remove trailer {name}: {status:?}"),
                );
            }
        }
        // Trailers end a body whose last callback did not say so.
        attestation::on_trailers(&mut shared, self.context_id, &mut self.gate)
    }
}
