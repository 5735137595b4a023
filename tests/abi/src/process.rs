//! What one proxy process holds for all its Wasm VMs: the clock, proxy-wasm shared data
//! and the metrics (stats) table. Two [`crate::FilterVm`]s created from the same
//! [`Process`] see the same shared data and counters, like two Envoy worker threads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::{format_err, Result};

use crate::abi::{MetricType, Status};

/// Clock, shared data and metrics of one simulated proxy process. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Process {
    inner: Arc<Mutex<ProcessState>>,
}

#[derive(Default)]
pub(crate) struct ProcessState {
    pub(crate) clock_nanos: u64,
    pub(crate) shared_data: BTreeMap<String, SharedEntry>,
    next_cas: u32,
    pub(crate) metrics: Vec<Metric>,
}

#[derive(Clone)]
pub(crate) struct SharedEntry {
    pub(crate) value: Vec<u8>,
    pub(crate) cas: u32,
}

/// One defined metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricType,
    pub value: u64,
}

impl Process {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, ProcessState>> {
        self.inner
            .lock()
            .map_err(|_| format_err!("host process state poisoned by an earlier failure"))
    }

    /// Set the clock the filter reads through `proxy_get_current_time_nanoseconds`.
    pub fn set_time_seconds(&self, unix_seconds: u64) -> Result<()> {
        self.lock()?.clock_nanos = unix_seconds.saturating_mul(1_000_000_000);
        Ok(())
    }

    /// Move the clock forward.
    pub fn advance_seconds(&self, seconds: u64) -> Result<()> {
        let mut state = self.lock()?;
        state.clock_nanos = state
            .clock_nanos
            .saturating_add(seconds.saturating_mul(1_000_000_000));
        Ok(())
    }

    pub fn time_nanos(&self) -> Result<u64> {
        Ok(self.lock()?.clock_nanos)
    }

    /// Value of the metric named `name`, if the filter defined it.
    pub fn metric(&self, name: &str) -> Result<Option<Metric>> {
        Ok(self
            .lock()?
            .metrics
            .iter()
            .find(|m| m.name == name)
            .cloned())
    }

    /// All metrics, in definition order.
    pub fn metrics(&self) -> Result<Vec<Metric>> {
        Ok(self.lock()?.metrics.clone())
    }

    /// Read a shared-data entry (value and CAS), as another VM would.
    pub fn shared_data(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>> {
        Ok(self
            .lock()?
            .shared_data
            .get(key)
            .map(|e| (e.value.clone(), e.cas)))
    }

    /// Every shared-data entry (key → value and CAS), as the whole process sees it: lets a
    /// test show that a request wrote nothing.
    pub fn shared_data_snapshot(&self) -> Result<BTreeMap<String, (Vec<u8>, u32)>> {
        Ok(self
            .lock()?
            .shared_data
            .iter()
            .map(|(k, e)| (k.clone(), (e.value.clone(), e.cas)))
            .collect())
    }

    /// Write a shared-data entry from the test (unconditionally).
    pub fn set_shared_data(&self, key: &str, value: &[u8]) -> Result<()> {
        let mut state = self.lock()?;
        state.set_shared(key, value, 0);
        Ok(())
    }
}

impl ProcessState {
    /// `proxy_set_shared_data` semantics: cas 0 writes unconditionally; otherwise the
    /// stored CAS must match or the write fails with `CasMismatch`.
    pub(crate) fn set_shared(&mut self, key: &str, value: &[u8], cas: u32) -> Status {
        if cas != 0 {
            match self.shared_data.get(key) {
                Some(entry) if entry.cas == cas => {}
                _ => return Status::CasMismatch,
            }
        }
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        let cas = self.next_cas;
        self.shared_data.insert(
            key.to_string(),
            SharedEntry {
                value: value.to_vec(),
                cas,
            },
        );
        Status::Ok
    }

    /// `proxy_define_metric`: the same name and kind yields the same id.
    pub(crate) fn define_metric(&mut self, kind: MetricType, name: &str) -> Result<u32> {
        if let Some(pos) = self.metrics.iter().position(|m| m.name == name) {
            let existing = self
                .metrics
                .get(pos)
                .ok_or_else(|| format_err!("metric table changed underfoot"))?;
            if existing.kind != kind {
                return Err(format_err!(
                    "metric {name} defined twice with different kinds ({:?}, {kind:?})",
                    existing.kind
                ));
            }
            return id_of(pos);
        }
        self.metrics.push(Metric {
            name: name.to_string(),
            kind,
            value: 0,
        });
        id_of(self.metrics.len() - 1)
    }

    pub(crate) fn metric_mut(&mut self, id: u32) -> Option<&mut Metric> {
        let index = usize::try_from(id).ok()?.checked_sub(METRIC_ID_BASE)?;
        self.metrics.get_mut(index)
    }
}

/// Metric ids start at 1 so that a zero id from an uninitialised variable is caught.
const METRIC_ID_BASE: usize = 1;

fn id_of(index: usize) -> Result<u32> {
    u32::try_from(index + METRIC_ID_BASE).map_err(|_| format_err!("too many metrics"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_data_compare_and_swap() {
        let mut state = ProcessState::default();
        assert_eq!(state.set_shared("k", b"v1", 0), Status::Ok);
        let cas = state.shared_data["k"].cas;
        assert_ne!(cas, 0);
        // A stale CAS loses; the current one wins and moves the CAS on.
        assert_eq!(
            state.set_shared("k", b"v2", cas.wrapping_add(7)),
            Status::CasMismatch
        );
        assert_eq!(state.set_shared("k", b"v2", cas), Status::Ok);
        assert_eq!(state.shared_data["k"].value, b"v2");
        assert_ne!(state.shared_data["k"].cas, cas);
        assert_eq!(state.set_shared("k", b"v3", cas), Status::CasMismatch);
        // A CAS on a missing key cannot match.
        assert_eq!(state.set_shared("missing", b"x", 1), Status::CasMismatch);
    }

    #[test]
    fn two_handles_of_one_process_share_clock_data_and_metrics() {
        let a = Process::new();
        let b = a.clone();
        a.set_time_seconds(10).unwrap();
        b.advance_seconds(5).unwrap();
        assert_eq!(a.time_nanos().unwrap(), 15_000_000_000);
        a.set_shared_data("jwks", b"{}").unwrap();
        assert_eq!(b.shared_data("jwks").unwrap().unwrap().0, b"{}");
        let id = a
            .lock()
            .unwrap()
            .define_metric(MetricType::Counter, "c")
            .unwrap();
        assert_eq!(
            b.lock()
                .unwrap()
                .define_metric(MetricType::Counter, "c")
                .unwrap(),
            id
        );
        b.lock().unwrap().metric_mut(id).unwrap().value = 3;
        assert_eq!(a.metric("c").unwrap().unwrap().value, 3);
    }

    #[test]
    fn metric_ids_are_checked() {
        let mut state = ProcessState::default();
        assert!(state.metric_mut(0).is_none());
        let id = state.define_metric(MetricType::Gauge, "g").unwrap();
        assert_eq!(id, 1);
        assert!(state.metric_mut(2).is_none());
        assert!(state.define_metric(MetricType::Counter, "g").is_err());
    }
}
