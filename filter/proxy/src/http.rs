//! HTTP context: one request through the core.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use tollgate_core::{Denial, Outcome};

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

    fn log(&self, level: LogLevel, message: &str) {
        host::log(level, &format!("tollgate: [{}] {message}", self.context_id));
    }

    /// Answer with a fixed local response and stop the request; used when the glue itself
    /// cannot work (never for client input).
    fn fail_closed(&self, why: &str) -> Action {
        self.log(LogLevel::Error, why);
        let headers = [
            ("content-type".to_string(), "application/json".to_string()),
            ("cache-control".to_string(), "no-store".to_string()),
        ];
        let body = br#"{"error":"temporarily_unavailable","error_description":"the token filter is not ready"}"#;
        if let Err(status) = host::send_response(503, &headers, body) {
            self.log(
                LogLevel::Critical,
                &format!("cannot send the local response: {status:?}"),
            );
        }
        Action::Pause
    }

    fn deny(&self, shared: &Shared, denial: &Denial) -> Action {
        let reason = denial.reason();
        let provider = denial.provider.as_deref();
        shared.metrics.count_denied(reason, provider);
        let response = denial.response(shared.engine.realm());
        self.log(
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
            self.log(
                LogLevel::Critical,
                &format!("cannot send the local response: {status:?}"),
            );
        }
        Action::Pause
    }
}

impl Context for TollgateHttp {}

impl HttpContext for TollgateHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return self.fail_closed("no valid configuration; refusing the request");
        };
        let raw = match host::request_headers() {
            Ok(raw) => raw,
            Err(status) => {
                return self.fail_closed(&format!("cannot read request headers: {status:?}"))
            }
        };
        // A VM is single-threaded and no host call re-enters this context, so the engine is
        // never borrowed here already; fail closed rather than panic if that ever changes.
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return self.fail_closed("the engine is busy (re-entrant call)");
        };

        // Claim headers arriving from the client are removed on every route, allowed or
        // not, so a client can never spoof them. They are not part of the decision either.
        let strip = shared.engine.claim_header_names();
        let mut headers: Vec<(String, String)> = Vec::with_capacity(raw.len());
        for (name, value) in raw {
            let name = name.to_ascii_lowercase();
            if strip.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
                if let Err(status) = host::remove_request_header(&name) {
                    return self.fail_closed(&format!("cannot remove header {name}: {status:?}"));
                }
                continue;
            }
            // Non-UTF-8 bytes cannot be part of a valid token or rule; they become U+FFFD.
            headers.push((name, String::from_utf8_lossy(&value).into_owned()));
        }

        let (hits_before, misses_before, _) = shared.engine.cache_stats();
        let outcome = shared.engine.evaluate(&headers, host::now_seconds());
        let (hits, misses, _) = shared.engine.cache_stats();
        shared.metrics.count_cache(
            hits.saturating_sub(hits_before),
            misses.saturating_sub(misses_before),
        );

        match outcome {
            Outcome::Allow(allowed) => {
                for (name, value) in &allowed.set_headers {
                    if let Err(status) = host::set_request_header(name, value) {
                        return self.fail_closed(&format!("cannot set header {name}: {status:?}"));
                    }
                }
                shared.metrics.count_allowed(allowed.provider.as_deref());
                self.log(
                    LogLevel::Debug,
                    &format!(
                        "allowed: provider={}",
                        allowed.provider.as_deref().unwrap_or("-")
                    ),
                );
                Action::Continue
            }
            Outcome::Deny(denial) => self.deny(&shared, &denial),
        }
    }
}
