//! The filter's metrics. Envoy shows custom metrics as `wasmcustom.<name>`; the names carry
//! their labels as `<label>.<value>` pairs, which the `stats_tags` of the bootstrap turn into
//! Prometheus labels (README "Metrics"):
//!
//! | name (after `wasmcustom.`) | Prometheus |
//! |---|---|
//! | `tollgate.prefix.<p>.provider.<prov>.allowed` | `tollgate_allowed{stat_prefix, provider}` |
//! | `tollgate.prefix.<p>.provider.<prov>.reason.<r>.denied` | `tollgate_denied{stat_prefix, provider, reason}` |
//! | `tollgate.prefix.<p>.provider.<prov>.reason.<r>.would_deny` | `tollgate_would_deny{…}` (dry run) |
//! | `tollgate.prefix.<p>.jwt_cache_hit`, `….jwt_cache_miss` | `tollgate_jwt_cache_hit{stat_prefix}` … |
//! | `tollgate.prefix.<p>.signature_path.<host\|wasm>.signatures` | `tollgate_signatures{stat_prefix, signature_path}` |
//! | `tollgate.prefix.<p>.signature_host_algorithms` (gauge) | |
//! | `tollgate.prefix.<p>.vm_memory_bytes` (gauge: the sum over this filter's VMs) | |
//! | `tollgate.prefix.<p>.provider.<prov>.jwks_fetch_success`, `jwks_fetch_failed`, `jwks_refetch_triggered`, gauges `jwks_keys`, `jwks_age_seconds` | (remote keys, see `keys`) |
//!
//! `<prov>` is `none` when no provider was involved (anonymous route, no token). Allowed
//! counters and the cache, signature and gauge metrics are defined at start; a
//! denied/would-deny series is defined on its first use (a Prometheus series appears when
//! it first counts, as with Envoy's own dynamic stats).
//!
//! The per-request counters (allowed, denied, would-deny, cache, signatures) are counted in
//! the VM and added to Envoy's counters by [`Metrics::flush`] on the root context's tick
//! ([`FLUSH_MS`]), not with a host call per request: a host call crosses the VM boundary and
//! costs about as much as the rest of a cached request (`docs/bench/host-calls.md`). A scrape
//! therefore lags the requests by at most one tick (plus however late a loaded Envoy runs
//! its timers); counts of a VM that stops between two ticks are lost.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use proxy_wasm::types::Status;
use tollgate_core::signature::Path;
use tollgate_core::{CacheLookup, Evaluation, ProviderId};

use crate::host;

/// The `provider` label when no provider was involved.
pub(crate) const NO_PROVIDER: &str = "none";

/// How often the counted requests are added to Envoy's counters: the root context's tick
/// period, and how stale a scrape of the per-request counters can be.
pub(crate) const FLUSH_MS: u64 = 1_000;

/// A denied or would-deny series: provider index (or `providers.len()`), reason, dry run.
type DenialSeries = (usize, &'static str, bool);

/// One of Envoy's counters with the counts of this VM that it has not been told yet.
#[derive(Debug, Default)]
struct Counter {
    id: u32,
    pending: Cell<u64>,
}

impl Counter {
    fn new(id: u32) -> Self {
        Counter {
            id,
            pending: Cell::new(0),
        }
    }

    fn add(&self) {
        self.pending.set(self.pending.get().saturating_add(1));
    }

    /// Hand the pending counts to Envoy (one host call, none when nothing was counted).
    fn flush(&self) {
        let pending = self.pending.replace(0);
        if pending > 0 {
            host::add_counter(self.id, pending);
        }
    }
}

/// Metric ids of one configuration.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    prefix: String,
    providers: Vec<String>,
    /// By provider index; the last entry is [`NO_PROVIDER`].
    allowed: Vec<Counter>,
    cache_hit: Counter,
    cache_miss: Counter,
    signature_host: Counter,
    signature_wasm: Counter,
    memory: u32,
    memory_reported: RefCell<u64>,
    /// (provider index or `providers.len()`, reason, dry run) → counter; None when the host
    /// refused to define it (nothing is counted for it then).
    denials: RefCell<HashMap<DenialSeries, Option<Counter>>>,
}

impl Metrics {
    /// `tollgate.prefix.<stat_prefix>.`
    pub(crate) fn base(stat_prefix: &str) -> String {
        format!("tollgate.prefix.{stat_prefix}.")
    }

    /// Define the metrics of a configuration with `providers` (config order). Fails on the
    /// first metric the host refuses, naming it.
    pub(crate) fn define(
        stat_prefix: &str,
        providers: &[String],
        host_algorithms: usize,
    ) -> Result<Metrics, (String, Status)> {
        let base = Self::base(stat_prefix);
        let counter = |name: String| {
            host::define_counter(&name)
                .map(Counter::new)
                .map_err(|s| (name, s))
        };
        let gauge = |name: String| host::define_gauge(&name).map_err(|s| (name, s));
        let mut allowed = Vec::with_capacity(providers.len() + 1);
        for name in providers.iter().map(String::as_str).chain([NO_PROVIDER]) {
            allowed.push(counter(format!("{base}provider.{name}.allowed"))?);
        }
        let host_gauge = gauge(format!("{base}signature_host_algorithms"))?;
        host::set_gauge(host_gauge, host_algorithms as u64);
        Ok(Metrics {
            prefix: base.clone(),
            providers: providers.to_vec(),
            allowed,
            cache_hit: counter(format!("{base}jwt_cache_hit"))?,
            cache_miss: counter(format!("{base}jwt_cache_miss"))?,
            signature_host: counter(format!("{base}signature_path.host.signatures"))?,
            signature_wasm: counter(format!("{base}signature_path.wasm.signatures"))?,
            memory: gauge(format!("{base}vm_memory_bytes"))?,
            ..Metrics::default()
        })
    }

    fn provider_index(&self, provider: Option<ProviderId>) -> usize {
        provider
            .map(|p| p.0)
            .filter(|i| *i < self.providers.len())
            .unwrap_or(self.providers.len())
    }

    /// Count one allowed request.
    pub(crate) fn count_allowed(&self, provider: Option<ProviderId>) {
        if let Some(counter) = self.allowed.get(self.provider_index(provider)) {
            counter.add();
        }
    }

    /// Count what one evaluation did besides its outcome: the cache look-up (when
    /// `count_cache`; false for the second pass of a request that waited for keys, whose
    /// look-up was counted when it arrived) and the signature checks, if any.
    pub(crate) fn count_evaluation(&self, evaluation: &Evaluation, count_cache: bool) {
        match evaluation.cache.filter(|_| count_cache) {
            Some(CacheLookup::Hit) => self.cache_hit.add(),
            Some(CacheLookup::Miss) => self.cache_miss.add(),
            None => {}
        }
        for path in [evaluation.signature, evaluation.proof_signature] {
            match path {
                Some(Path::Host) => self.signature_host.add(),
                Some(Path::Wasm) => self.signature_wasm.add(),
                None => {}
            }
        }
    }

    /// Count one denial (or, in dry run, one request that would have been denied).
    pub(crate) fn count_denied(
        &self,
        reason: &'static str,
        provider: Option<ProviderId>,
        dry_run: bool,
    ) {
        let index = self.provider_index(provider);
        let key = (index, reason, dry_run);
        let mut denials = self.denials.borrow_mut();
        let counter = denials.entry(key).or_insert_with(|| {
            let provider = self
                .providers
                .get(index)
                .map_or(NO_PROVIDER, String::as_str);
            let kind = if dry_run { "would_deny" } else { "denied" };
            let name = format!("{}provider.{provider}.reason.{reason}.{kind}", self.prefix);
            host::define_counter(&name).ok().map(Counter::new)
        });
        if let Some(counter) = counter {
            counter.add();
        }
    }

    /// Add what this VM counted since the last flush to Envoy's counters: one host call per
    /// counter that counted something. Runs on every tick ([`FLUSH_MS`]).
    pub(crate) fn flush(&self) {
        let fixed = [
            &self.cache_hit,
            &self.cache_miss,
            &self.signature_host,
            &self.signature_wasm,
        ];
        for counter in self.allowed.iter().chain(fixed) {
            counter.flush();
        }
        for counter in self.denials.borrow().values().flatten() {
            counter.flush();
        }
    }

    /// Report this VM's linear memory: the gauge is the sum over the VMs of this filter,
    /// so each VM adds the change since its last report.
    pub(crate) fn report_memory(&self, bytes: u64) {
        let mut last = self.memory_reported.borrow_mut();
        if bytes != *last {
            let delta =
                i64::try_from(bytes).unwrap_or(i64::MAX) - i64::try_from(*last).unwrap_or(0);
            host::add_gauge(self.memory, delta);
            *last = bytes;
        }
    }

    /// Hand over the last counts and take this VM's memory out of the gauge (its
    /// configuration is being replaced).
    pub(crate) fn retire(&self) {
        self.flush();
        self.report_memory(0);
    }
}
