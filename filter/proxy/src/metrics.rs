//! The filter's counters (Envoy shows them as `wasmcustom.<name>`):
//!
//! - `tollgate.allowed`, `tollgate.denied`
//! - `tollgate.denied.<reason>` for every reason in [`tollgate_core::ALL_REASONS`]
//! - `tollgate.provider.<name>.allowed`, `tollgate.provider.<name>.denied`
//! - `tollgate.cache.hit`, `tollgate.cache.miss` (verified-token cache look-ups)
//!
//! All are defined when the configuration is applied, so every counter exists (at 0)
//! before the first request.

use std::collections::BTreeMap;

use proxy_wasm::types::Status;
use tollgate_core::{CacheLookup, ALL_REASONS};

use crate::host;

/// Counter ids of one configuration.
#[derive(Debug, Default)]
pub struct Metrics {
    allowed: u32,
    denied: u32,
    cache_hit: u32,
    cache_miss: u32,
    denied_by_reason: BTreeMap<&'static str, u32>,
    /// provider name -> (allowed, denied)
    by_provider: BTreeMap<String, (u32, u32)>,
}

impl Metrics {
    /// Define every counter for `providers` (config order). Fails on the first counter the
    /// host refuses, naming it.
    pub fn define(providers: &[String]) -> Result<Metrics, (String, Status)> {
        let counter = |name: String| host::define_counter(&name).map_err(|s| (name, s));
        let mut metrics = Metrics {
            allowed: counter("tollgate.allowed".into())?,
            denied: counter("tollgate.denied".into())?,
            cache_hit: counter("tollgate.cache.hit".into())?,
            cache_miss: counter("tollgate.cache.miss".into())?,
            ..Metrics::default()
        };
        for reason in ALL_REASONS {
            let id = counter(format!("tollgate.denied.{reason}"))?;
            metrics.denied_by_reason.insert(reason, id);
        }
        for name in providers {
            let allowed = counter(format!("tollgate.provider.{name}.allowed"))?;
            let denied = counter(format!("tollgate.provider.{name}.denied"))?;
            metrics.by_provider.insert(name.clone(), (allowed, denied));
        }
        Ok(metrics)
    }

    /// Count one allowed request (`provider` None: anonymous route or CORS preflight).
    pub fn count_allowed(&self, provider: Option<&str>) {
        host::increment(self.allowed);
        if let Some((allowed, _)) = provider.and_then(|p| self.by_provider.get(p)) {
            host::increment(*allowed);
        }
    }

    /// Count the verified-token cache look-up of one evaluation, if it made one.
    pub fn count_cache(&self, lookup: Option<CacheLookup>) {
        match lookup {
            Some(CacheLookup::Hit) => host::increment(self.cache_hit),
            Some(CacheLookup::Miss) => host::increment(self.cache_miss),
            None => {}
        }
    }

    /// Count one denied request with its reason.
    pub fn count_denied(&self, reason: &str, provider: Option<&str>) {
        host::increment(self.denied);
        if let Some(id) = self.denied_by_reason.get(reason) {
            host::increment(*id);
        }
        if let Some((_, denied)) = provider.and_then(|p| self.by_provider.get(p)) {
            host::increment(*denied);
        }
    }
}
