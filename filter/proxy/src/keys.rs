//! Remote key sets, host side only. The decisions — who fetches, when, which requests wait
//! and until when, what an answer changes — live in `tollgate_core::remote::Outbound` (its
//! module docs have the table of callbacks and the timing rules). This file gives it the
//! host: shared data with compare-and-swap, `dispatch_http_call`, the call answer, and the
//! log lines and metrics of its reports; plus the VM's randomness (worker id, cache secret).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use proxy_wasm::types::{LogLevel, Status};
use tollgate_core::remote::{
    HttpCall, HttpResponse, Outbound, OutboundHost, Report, Severity, SharedData, SwapError,
};
use tollgate_core::{Engine, ProviderId};

use crate::host;

/// Timer period while any provider's keys are remote (milliseconds).
pub(crate) const TICK_MS: u64 = 1_000;

/// Name and metric ids of one remote provider.
struct ProviderMetrics {
    provider: ProviderId,
    name: String,
    fetch_success: u32,
    fetch_failure: u32,
    key_count: u32,
    age_seconds: u32,
    refetch_triggered: u32,
}

/// The host as `Outbound` sees it: proxy-wasm calls, and the metrics of each remote provider
/// and of each introspecting provider.
pub(crate) struct KeysHost {
    providers: Vec<ProviderMetrics>,
    pub(crate) introspection: crate::introspection::IntrospectionMetrics,
}

/// A random worker id: std seeds `RandomState` from the host's randomness (WASI
/// `random_get`), which is all this needs (uniqueness among the VMs of one process).
pub(crate) fn worker_id() -> u64 {
    random_u64(0)
}

/// A fresh secret for the verified-token cache's keyed hash (see `tollgate_core::CacheSecret`),
/// from the same source of randomness.
pub(crate) fn cache_secret() -> tollgate_core::CacheSecret {
    tollgate_core::CacheSecret([random_u64(1), random_u64(2)])
}

/// A candidate secret for the DPoP replay store's bucket hash (see
/// `tollgate_core::replay::ReplaySecret`), from the same source of randomness.
pub(crate) fn replay_secret() -> tollgate_core::replay::ReplaySecret {
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&random_u64(3).to_le_bytes());
    secret[8..].copy_from_slice(&random_u64(4).to_le_bytes());
    tollgate_core::replay::ReplaySecret(secret)
}

fn random_u64(tag: u8) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u8(tag);
    hasher.finish().max(1)
}

/// The outbound calls of `engine`'s configuration and their host, with the metrics of every
/// remote provider defined. The error is the log line (a URL that cannot be fetched, or a
/// metric the host refused).
pub(crate) fn new(engine: &Engine) -> Result<(Outbound, KeysHost), String> {
    let outbound =
        Outbound::new(engine, worker_id()).map_err(|e| format!("invalid configuration: {e}"))?;
    let base = crate::metrics::Metrics::base(&engine.config().stat_prefix);
    let mut providers = Vec::new();
    for provider in outbound.remote_providers() {
        let name = engine.provider_name(provider).to_owned();
        let metric = |suffix: &str, gauge: bool| {
            let metric = format!("{base}provider.{name}.{suffix}");
            let id = if gauge {
                host::define_gauge(&metric)
            } else {
                host::define_counter(&metric)
            };
            id.map_err(|s| format!("cannot define metric {metric}: host returned {s:?}"))
        };
        providers.push(ProviderMetrics {
            provider,
            fetch_success: metric("jwks_fetch_success", false)?,
            fetch_failure: metric("jwks_fetch_failed", false)?,
            key_count: metric("jwks_keys", true)?,
            age_seconds: metric("jwks_age_seconds", true)?,
            refetch_triggered: metric("jwks_refetch_triggered", false)?,
            name,
        });
    }
    let introspection = crate::introspection::IntrospectionMetrics::define(engine, &base)?;
    Ok((
        outbound,
        KeysHost {
            providers,
            introspection,
        },
    ))
}

/// The answer of the current HTTP call: its status (`None`: it failed without a response)
/// and its body, read only when it is at most `body_limit` bytes (a larger one is rejected
/// by its reported size).
pub(crate) fn read_answer(
    num_headers: usize,
    body_size: usize,
    body_limit: usize,
) -> (Option<u32>, Vec<u8>) {
    let status = if num_headers == 0 {
        None
    } else {
        host::http_call_status()
    };
    let body = if body_size <= body_limit {
        host::http_call_body(body_size).unwrap_or_default()
    } else {
        Vec::new()
    };
    (status, body)
}

/// The `Cache-Control` max-age of the HTTP call response being delivered (introspection
/// answers may shorten their reuse with it).
pub(crate) fn max_age() -> Option<u64> {
    tollgate_core::introspection::max_age(host::http_call_header("cache-control").as_deref())
}

/// [`read_answer`] as the core takes it.
pub(crate) fn response(status: Option<u32>, body_size: usize, body: &[u8]) -> HttpResponse<'_> {
    HttpResponse {
        status,
        body_size,
        body,
    }
}

impl SharedData for KeysHost {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        host::shared_data(key).unwrap_or((None, None))
    }

    fn compare_and_swap(
        &mut self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), SwapError> {
        host::set_shared_data(key, value, cas).map_err(|status| match status {
            Status::CasMismatch => SwapError::Mismatch,
            other => SwapError::Refused(format!("{other:?}")),
        })
    }
}

impl OutboundHost for KeysHost {
    fn dispatch(&mut self, call: &HttpCall<'_>) -> Result<u32, String> {
        host::http_call(call.cluster, &call.headers, call.body, call.timeout_ms)
            .map_err(|s| format!("{s:?}"))
    }

    fn report(&mut self, report: Report) {
        if self.introspection.report(&report) {
            return;
        }
        let Some(m) = self
            .providers
            .iter()
            .find(|m| m.provider == report.provider())
        else {
            return;
        };
        match &report {
            Report::KeysFetched { count, .. } => {
                host::increment(m.fetch_success);
                host::set_gauge(m.key_count, *count as u64);
                host::set_gauge(m.age_seconds, 0);
            }
            Report::FetchFailed { .. } => host::increment(m.fetch_failure),
            Report::RefetchTriggered { .. } => host::increment(m.refetch_triggered),
            Report::KeysInUse {
                count, age_seconds, ..
            } => {
                host::set_gauge(m.key_count, u64::from(*count));
                host::set_gauge(m.age_seconds, *age_seconds);
            }
            _ => {}
        }
        let level = match report.severity() {
            Severity::Silent => return,
            Severity::Debug => LogLevel::Debug,
            Severity::Info => LogLevel::Info,
            Severity::Warn => LogLevel::Warn,
            Severity::Error => LogLevel::Error,
        };
        host::log(level, &report.line(&m.name));
    }
}
