//! The filter's counters (Envoy shows them as `wasmcustom.<name>`):
//!
//! - `tollgate.allowed`, `tollgate.denied`
//! - `tollgate.denied.<reason>` for every reason in [`tollgate_core::ALL_REASONS`]
//! - `tollgate.provider.<name>.allowed`, `tollgate.provider.<name>.denied`
//! - `tollgate.cache.hit`, `tollgate.cache.miss` (verified-token cache look-ups)
//! - `tollgate.signature.host`, `tollgate.signature.wasm` (signature checks by path) and the
//!   gauge `tollgate.signature.host_algorithms` (how many algorithms use the host path)
//!
//! All are defined when the configuration is applied, so every counter exists (at 0)
//! before the first request.

use std::collections::BTreeMap;

use proxy_wasm::types::Status;
use tollgate_core::signature::Path;
use tollgate_core::{CacheLookup, Evaluation, ProviderId, ALL_REASONS};

use crate::host;

/// Counter ids of one configuration.
#[derive(Debug, Default)]
pub struct Metrics {
    allowed: u32,
    denied: u32,
    cache_hit: u32,
    cache_miss: u32,
    signature_host: u32,
    signature_wasm: u32,
    denied_by_reason: BTreeMap<&'static str, u32>,
    /// Per provider, by [`ProviderId`]: (allowed, denied).
    by_provider: Vec<(u32, u32)>,
}

impl Metrics {
    /// Define every counter for `providers` (config order) and set the signature gauge.
    /// Fails on the first metric the host refuses, naming it.
    pub fn define(
        providers: &[String],
        host_algorithms: usize,
    ) -> Result<Metrics, (String, Status)> {
        let counter = |name: String| host::define_counter(&name).map_err(|s| (name, s));
        let mut metrics = Metrics {
            allowed: counter("tollgate.allowed".into())?,
            denied: counter("tollgate.denied".into())?,
            cache_hit: counter("tollgate.cache.hit".into())?,
            cache_miss: counter("tollgate.cache.miss".into())?,
            signature_host: counter("tollgate.signature.host".into())?,
            signature_wasm: counter("tollgate.signature.wasm".into())?,
            ..Metrics::default()
        };
        let gauge_name = "tollgate.signature.host_algorithms";
        let gauge = host::define_gauge(gauge_name).map_err(|s| (gauge_name.to_owned(), s))?;
        host::set_gauge(gauge, host_algorithms as u64);
        for reason in ALL_REASONS {
            let id = counter(format!("tollgate.denied.{reason}"))?;
            metrics.denied_by_reason.insert(reason, id);
        }
        for name in providers {
            let allowed = counter(format!("tollgate.provider.{name}.allowed"))?;
            let denied = counter(format!("tollgate.provider.{name}.denied"))?;
            metrics.by_provider.push((allowed, denied));
        }
        Ok(metrics)
    }

    /// Count one allowed request (`provider` None: anonymous route or CORS preflight).
    pub fn count_allowed(&self, provider: Option<ProviderId>) {
        host::increment(self.allowed);
        if let Some((allowed, _)) = provider.and_then(|p| self.by_provider.get(p.0)) {
            host::increment(*allowed);
        }
    }

    /// Count what one evaluation did besides its outcome: the cache look-up and the
    /// signature check, if any.
    pub fn count_evaluation(&self, evaluation: &Evaluation) {
        match evaluation.cache {
            Some(CacheLookup::Hit) => host::increment(self.cache_hit),
            Some(CacheLookup::Miss) => host::increment(self.cache_miss),
            None => {}
        }
        for path in [evaluation.signature, evaluation.proof_signature] {
            match path {
                Some(Path::Host) => host::increment(self.signature_host),
                Some(Path::Wasm) => host::increment(self.signature_wasm),
                None => {}
            }
        }
    }

    /// Count one denied request with its reason.
    pub fn count_denied(&self, reason: &str, provider: Option<ProviderId>) {
        host::increment(self.denied);
        if let Some(id) = self.denied_by_reason.get(reason) {
            host::increment(*id);
        }
        if let Some((_, denied)) = provider.and_then(|p| self.by_provider.get(p.0)) {
            host::increment(*denied);
        }
    }
}
