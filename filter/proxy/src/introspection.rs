//! Opaque tokens by introspection, host side only. The decisions — which provider, the call,
//! single flight, reading the answer, the shared cache — live in `tollgate_core`
//! (`introspection`, and `remote::Outbound` for the call and the waiting requests). This
//! file gives them the host: the request's look-up of known verdicts (the environment the
//! engine asks) and the metrics and log lines of each introspecting provider:
//!
//! | name (after `wasmcustom.tollgate.prefix.<p>.provider.<prov>.`) | kind |
//! |---|---|
//! | `introspection_calls` | counter: calls sent |
//! | `introspection_cache_hit`, `introspection_cache_miss` | counters: requests whose verdict was (not) in the shared cache |
//! | `introspection_inactive` | counter: answers rejecting the token (inactive, or failing the provider's rules) |
//! | `reason.<r>.introspection_failed` | counter by reason: `introspection_unavailable`, `introspection_timeout`, `introspection_bad_answer` |
//! | `introspection_latency_ms` | histogram: from the request that queued the call to its answer |

use std::cell::RefCell;
use std::collections::HashMap;

use proxy_wasm::types::LogLevel;
use tollgate_core::environment::{Environment, RememberError};
use tollgate_core::introspection::Known;
use tollgate_core::remote::{Outbound, Report, Severity};
use tollgate_core::{Engine, ProviderId};

use crate::environment::EnvoyRequest;
use crate::host;
use crate::keys::KeysHost;

/// Metric ids of one introspecting provider.
struct ProviderMetrics {
    provider: ProviderId,
    name: String,
    /// `tollgate.prefix.<p>.provider.<name>.`
    base: String,
    calls: u32,
    cache_hit: u32,
    cache_miss: u32,
    inactive: u32,
    latency: u32,
    /// Failure reason → counter, defined on first use.
    failed: RefCell<HashMap<&'static str, u32>>,
}

/// The metrics of every introspecting provider of a configuration.
#[derive(Default)]
pub(crate) struct IntrospectionMetrics {
    providers: Vec<ProviderMetrics>,
}

impl IntrospectionMetrics {
    /// Define the metrics of `engine`'s introspecting providers; `base` is
    /// `tollgate.prefix.<stat_prefix>.`. The error is the log line.
    pub(crate) fn define(engine: &Engine, base: &str) -> Result<IntrospectionMetrics, String> {
        let mut providers = Vec::new();
        for (index, p) in engine.providers().iter().enumerate() {
            if p.introspection.is_none() {
                continue;
            }
            let prefix = format!("{base}provider.{}.", p.name);
            let define = |suffix: &str, histogram: bool| {
                let metric = format!("{prefix}{suffix}");
                let id = if histogram {
                    host::define_histogram(&metric)
                } else {
                    host::define_counter(&metric)
                };
                id.map_err(|s| format!("cannot define metric {metric}: host returned {s:?}"))
            };
            providers.push(ProviderMetrics {
                provider: ProviderId(index),
                name: p.name.clone(),
                calls: define("introspection_calls", false)?,
                cache_hit: define("introspection_cache_hit", false)?,
                cache_miss: define("introspection_cache_miss", false)?,
                inactive: define("introspection_inactive", false)?,
                latency: define("introspection_latency_ms", true)?,
                failed: RefCell::new(HashMap::new()),
                base: prefix,
            });
        }
        Ok(IntrospectionMetrics { providers })
    }

    fn of(&self, provider: ProviderId) -> Option<&ProviderMetrics> {
        self.providers.iter().find(|m| m.provider == provider)
    }

    /// Count a request's look-up in the shared cache.
    pub(crate) fn count_lookup(&self, provider: ProviderId, hit: bool) {
        if let Some(m) = self.of(provider) {
            host::increment(if hit { m.cache_hit } else { m.cache_miss });
        }
    }

    /// Count and log an introspection report; false for any other report.
    pub(crate) fn report(&self, report: &Report) -> bool {
        let counted = matches!(
            report,
            Report::IntrospectionCalled { .. }
                | Report::IntrospectionAnswered { .. }
                | Report::IntrospectionFailed { .. }
                | Report::IntrospectionNotSent { .. }
                | Report::IntrospectionNotStored { .. }
        );
        if !counted {
            return false;
        }
        let Some(m) = self.of(report.provider()) else {
            return true;
        };
        match report {
            Report::IntrospectionCalled { .. } => host::increment(m.calls),
            Report::IntrospectionAnswered {
                latency_ms, reason, ..
            } => {
                host::record(m.latency, *latency_ms);
                if reason.is_some() {
                    host::increment(m.inactive);
                }
            }
            Report::IntrospectionFailed {
                failure,
                latency_ms,
                ..
            } => {
                host::record(m.latency, *latency_ms);
                m.count_failure(failure.reason());
            }
            Report::IntrospectionNotSent { .. } => {
                m.count_failure(tollgate_core::introspection::Failure::Unavailable.reason())
            }
            _ => {}
        }
        let level = match report.severity() {
            Severity::Silent => return true,
            Severity::Debug => LogLevel::Debug,
            Severity::Info => LogLevel::Info,
            Severity::Warn => LogLevel::Warn,
            Severity::Error => LogLevel::Error,
        };
        host::log(level, &report.line(&m.name));
        true
    }
}

impl ProviderMetrics {
    fn count_failure(&self, reason: &'static str) {
        let known = self.failed.borrow().get(reason).copied();
        let id = known.or_else(|| {
            let name = format!("{}reason.{reason}.introspection_failed", self.base);
            let id = host::define_counter(&name).ok()?;
            self.failed.borrow_mut().insert(reason, id);
            Some(id)
        });
        if let Some(id) = id {
            host::increment(id);
        }
    }
}

/// A request's environment with the introspection look-up: the verdicts of calls that just
/// ended, then the shared cache. Remembers the last look-up for the metrics.
pub(crate) struct Lookup<'a> {
    pub(crate) request: &'a mut EnvoyRequest,
    pub(crate) outbound: &'a Outbound,
    pub(crate) host: &'a KeysHost,
    /// The provider asked and whether something was known.
    pub(crate) looked_up: Option<(ProviderId, bool)>,
}

impl Environment for Lookup<'_> {
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]> {
        self.request.client_certificate_sha256()
    }

    fn remember_proof(
        &mut self,
        key: &[u8; 16],
        remember_until: u64,
        now: u64,
    ) -> Result<(), RememberError> {
        self.request.remember_proof(key, remember_until, now)
    }

    fn introspection(&mut self, provider: ProviderId, token: &str, now: u64) -> Option<Known> {
        let known = self
            .outbound
            .introspection_known(self.host, provider, token, now);
        self.looked_up = Some((provider, known.is_some()));
        known
    }
}
