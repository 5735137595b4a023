//! Remote key sets, glue side: turns timer ticks and HTTP-call answers into the
//! events of `tollgate_core::remote::Refresher`, keeps each remote provider's shared
//! record (fetch state + last good JWKS) in proxy-wasm shared data with compare-and-swap,
//! dispatches the fetches it decides on, and installs fetched keys in the engine.
//!
//! One fetch per process: the record's lease names the worker (VM) that fetches; every
//! other worker adopts the keys from the record on its next tick.
//!
//! Requests that need keys wait for them (per worker, bounded by the fetch timeout, see
//! `tollgate_core::remote::Waiters`): without any keys yet, or with an unknown `kid` while a
//! refetch runs. They are evaluated again when the fetch ends or their deadline passes.
//!
//! **A fetch never belongs to a request.** A request may *decide* that a fetch is due (no
//! keys yet, an unknown `kid`), but the call itself is only queued here ([`RemoteKeys`]'s
//! pending list) and dispatched by the root context ([`RemoteKeys::flush`]), woken at once
//! through the VM's shared-queue doorbell (and by the next tick at the latest). The SDK
//! delivers a call's answer to the context that was active when it was dispatched; a call
//! dispatched from a request's context would lose its answer when the client resets the
//! stream, leaving the lease held and, for an unknown `kid`, the refetch slot spent.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use proxy_wasm::types::{LogLevel, Status};
use tollgate_core::remote::{
    self, Action, FetchError, FetchRequest, FetchState, HttpResponse, Record, Refresher, Step,
    WaitReason, Waiter, Waiters,
};
use tollgate_core::{Engine, ProviderId};

use crate::host;

/// Timer period while any provider's keys are remote (milliseconds).
pub const TICK_MS: u64 = 1_000;

/// Compare-and-swap attempts before a record update is given up (another worker keeps
/// writing; the next tick tries again).
const CAS_ATTEMPTS: usize = 4;

/// Counter / gauge ids of one remote provider.
struct RemoteMetrics {
    fetch_success: u32,
    fetch_failure: u32,
    key_count: u32,
    age_seconds: u32,
    refetch_triggered: u32,
}

/// One provider whose keys are fetched.
struct Remote {
    /// Index in the configuration (and the engine).
    index: usize,
    name: String,
    shared_key: String,
    refresher: Refresher,
    /// Generation of the record whose keys the engine holds (0: none yet).
    installed_generation: u64,
    metrics: RemoteMetrics,
}

/// All remote providers of one configuration, and this worker's HTTP calls in flight.
pub struct RemoteKeys {
    /// This worker's id in fetch leases (random per VM).
    me: u64,
    remotes: Vec<Remote>,
    /// call token -> (position in `remotes`, step)
    calls: BTreeMap<u32, (usize, Step)>,
    /// Fetches decided on but not dispatched yet: the root context sends them ([`flush`]).
    ///
    /// [`flush`]: RemoteKeys::flush
    pending: Vec<(usize, FetchRequest)>,
    /// Requests of this worker paused until keys arrive.
    waiters: Waiters,
}

fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// A random worker id: std seeds `RandomState` from the host's randomness (WASI
/// `random_get`), which is all this needs (uniqueness among the VMs of one process).
pub fn worker_id() -> u64 {
    random_u64(0)
}

/// A fresh secret for the verified-token cache's keyed hash (see `tollgate_core::CacheSecret`),
/// from the same source of randomness.
pub fn cache_secret() -> tollgate_core::CacheSecret {
    tollgate_core::CacheSecret([random_u64(1), random_u64(2)])
}

/// A candidate secret for the DPoP replay store's bucket hash (see
/// `tollgate_core::replay::ReplaySecret`), from the same source of randomness.
pub fn replay_secret() -> tollgate_core::replay::ReplaySecret {
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

impl RemoteKeys {
    /// The remote providers of `engine`'s configuration, with their metrics defined.
    /// The error is the log line (a URL that cannot be fetched, or a metric the host refused).
    pub fn new(engine: &Engine) -> Result<RemoteKeys, String> {
        let refreshers = remote::refreshers(engine.config())
            .map_err(|e| format!("invalid configuration: {e}"))?;
        let mut remotes = Vec::new();
        for (index, refresher) in refreshers.into_iter().enumerate() {
            let Some(refresher) = refresher else { continue };
            let name = engine
                .providers()
                .get(index)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let base = crate::metrics::Metrics::base(&engine.config().stat_prefix);
            let metric = |suffix: &str, gauge: bool| {
                let metric = format!("{base}provider.{name}.{suffix}");
                let id = if gauge {
                    host::define_gauge(&metric)
                } else {
                    host::define_counter(&metric)
                };
                id.map_err(|s| format!("cannot define metric {metric}: host returned {s:?}"))
            };
            let metrics = RemoteMetrics {
                fetch_success: metric("jwks_fetch_success", false)?,
                fetch_failure: metric("jwks_fetch_failed", false)?,
                key_count: metric("jwks_keys", true)?,
                age_seconds: metric("jwks_age_seconds", true)?,
                refetch_triggered: metric("jwks_refetch_triggered", false)?,
            };
            remotes.push(Remote {
                index,
                shared_key: remote::shared_data_key(&name, &refresher),
                name,
                refresher,
                installed_generation: 0,
                metrics,
            });
        }
        Ok(RemoteKeys {
            me: worker_id(),
            remotes,
            calls: BTreeMap::new(),
            pending: Vec::new(),
            waiters: Waiters::default(),
        })
    }

    /// True when every provider's keys are inline (no timer needed).
    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
    }

    fn position(&self, provider: usize) -> Option<usize> {
        self.remotes.iter().position(|r| r.index == provider)
    }

    /// Run one event of the fetch state machine for `provider` (config index): the
    /// decision is written back to the shared record and, if it is a fetch, dispatched.
    /// None for a provider whose keys are not remote, or when the record could not be
    /// written.
    fn event(
        &mut self,
        provider: usize,
        now: u64,
        decide: impl Fn(&Refresher, &mut FetchState, u64, u64) -> Action,
    ) -> Option<Action> {
        let me = self.me;
        let pos = self.position(provider)?;
        let remote = self.remotes.get_mut(pos)?;
        let refresher = remote.refresher.clone();
        let (action, _) = remote.update(|record| {
            let action = decide(&refresher, &mut record.state, me, now);
            let write = matches!(action, Action::Fetch(_));
            (action, write)
        })?;
        if let Action::Fetch(request) = &action {
            self.pending.push((pos, request.clone()));
        }
        Some(action)
    }

    /// A request needs `provider`'s keys and there are none yet.
    pub fn request_without_keys(&mut self, provider: ProviderId, now: u64) -> Option<Action> {
        self.event(provider.0, now, |r, st, me, now| {
            r.request_without_keys(st, me, now)
        })
    }

    /// A token named a `kid` that `provider` does not know, or came while it had no keys:
    /// refetch now, rate limited (counted as `jwks_refetch_triggered`).
    pub fn unknown_kid(&mut self, provider: ProviderId, now: u64) -> Option<Action> {
        let action = self.event(provider.0, now, |r, st, me, now| r.unknown_kid(st, me, now))?;
        if matches!(action, Action::Fetch(_)) {
            if let Some(remote) = self.position(provider.0).and_then(|p| self.remotes.get(p)) {
                host::increment(remote.metrics.refetch_triggered);
            }
        }
        Some(action)
    }

    /// Pause request `context_id` until `provider`'s fetch ends (at most one fetch timeout
    /// per step). False when it cannot wait (too many waiting): answer it now.
    pub fn wait(
        &mut self,
        context_id: u32,
        provider: ProviderId,
        reason: WaitReason,
        now_ms: u64,
    ) -> bool {
        let Some(remote) = self.position(provider.0).and_then(|p| self.remotes.get(p)) else {
            return false;
        };
        let waiter = Waiter {
            context_id,
            provider: provider.0,
            deadline_ms: now_ms.saturating_add(remote.refresher.max_wait_ms()),
            reason,
        };
        self.waiters.add(waiter).is_ok()
    }

    /// Every paused request (the configuration is being replaced).
    pub fn take_all_waiters(&mut self) -> Vec<Waiter> {
        self.waiters.take_expired(u64::MAX)
    }

    /// Install keys that another worker fetched since this one last looked (without
    /// fetching anything). True when newer keys of `provider` were installed: a request
    /// denied for lack of keys or an unknown `kid` should then be decided again, before it
    /// waits or triggers a refetch (which the rate limit may refuse: the other worker's
    /// refetch already brought the key).
    pub fn adopt(&mut self, engine: &mut Engine, provider: ProviderId, now: u64) -> bool {
        let Some(remote) = self
            .position(provider.0)
            .and_then(|p| self.remotes.get_mut(p))
        else {
            return false;
        };
        let (record, _) = remote.load();
        remote.adopt(engine, &record, now)
    }

    /// [`RemoteKeys::adopt`] for every remote provider (a new configuration or VM).
    pub fn adopt_all(&mut self, engine: &mut Engine, now: u64) {
        for remote in &mut self.remotes {
            let (record, _) = remote.load();
            remote.adopt(engine, &record, now);
        }
    }

    /// True while this worker has a fetch of `provider` in flight or about to be sent.
    fn calling(&self, provider: usize) -> bool {
        self.position(provider).is_some_and(|pos| {
            self.calls.values().any(|(p, _)| *p == pos)
                || self.pending.iter().any(|(p, _)| *p == pos)
        })
    }

    /// True when fetches wait to be dispatched by the root context.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Dispatch the fetches decided on since the last call. Root context only (timer,
    /// doorbell, call answers), so that every call's answer comes back to the root context
    /// whatever happens to the request that asked for it. A call the host refuses counts as
    /// a failed fetch; the requests waiting for that provider are returned, to be answered
    /// now rather than at their deadline.
    pub fn flush(&mut self, now: u64) -> Vec<Waiter> {
        let mut released = Vec::new();
        for (pos, request) in std::mem::take(&mut self.pending) {
            if !self.dispatch(pos, &request, now) {
                if let Some(provider) = self.remotes.get(pos).map(|r| r.index) {
                    released.extend(self.waiters.take_provider(provider));
                }
            }
        }
        released
    }

    /// A request ended (e.g. the client went away): stop waiting for it.
    pub fn forget(&mut self, context_id: u32) {
        self.waiters.remove(context_id);
    }

    /// Requests whose wait is over: their deadline passed, or no fetch of their provider
    /// is in progress any more (it ended here or in another worker).
    pub fn due_waiters(&mut self, now: u64, now_ms: u64) -> Vec<Waiter> {
        let mut due = self.waiters.take_expired(now_ms);
        for provider in self.waiters.providers() {
            let in_flight = self
                .position(provider)
                .and_then(|p| self.remotes.get(p))
                .is_some_and(|r| r.load().0.state.fetch_in_flight(now));
            if !in_flight {
                due.extend(self.waiters.take_provider(provider));
            }
        }
        due
    }

    /// Timer event (and plugin start): adopt keys another worker fetched, start the
    /// fetches that are due.
    pub fn tick(&mut self, engine: &mut Engine, now: u64) {
        let me = self.me;
        for pos in 0..self.remotes.len() {
            let Some(remote) = self.remotes.get_mut(pos) else {
                continue;
            };
            let refresher = remote.refresher.clone();
            let updated = remote.update(|record| {
                let action = refresher.tick(&mut record.state, me, now);
                let write = matches!(action, Action::Fetch(_));
                (action, write)
            });
            let Some((action, record)) = updated else {
                continue;
            };
            remote.adopt(engine, &record, now);
            // A call whose lease is no longer ours is over; its answer may never come
            // (its HTTP context ended first), so forget it.
            if record.state.lease(now).map(|l| l.holder) != Some(me) {
                self.calls.retain(|_, (p, _)| *p != pos);
            }
            if let Action::Fetch(request) = action {
                self.pending.push((pos, request));
            }
        }
    }

    /// An HTTP call answer (or failure: no headers). Returns the requests that waited for
    /// this fetch when it ended (keys or failure); None if the call is not one of this
    /// configuration's fetches.
    pub fn on_response(
        &mut self,
        engine: &mut Engine,
        token: u32,
        num_headers: usize,
        body_size: usize,
        now: u64,
    ) -> Option<Vec<Waiter>> {
        let (pos, step) = self.calls.remove(&token)?;
        let provider = self.remotes.get(pos)?.index;
        self.handle_response(engine, pos, step, num_headers, body_size, now);
        // Still fetching (discovery answered, JWKS request queued): keep waiting.
        if self.calling(provider) {
            return Some(Vec::new());
        }
        Some(self.waiters.take_provider(provider))
    }

    fn handle_response(
        &mut self,
        engine: &mut Engine,
        pos: usize,
        step: Step,
        num_headers: usize,
        body_size: usize,
        now: u64,
    ) {
        let me = self.me;
        let Some(remote) = self.remotes.get_mut(pos) else {
            return;
        };
        let status = if num_headers == 0 {
            None
        } else {
            host::http_call_status()
        };
        // An oversize body is not read at all; the core rejects it by its reported size.
        let body = if body_size <= remote.refresher.max_body_bytes() {
            host::http_call_body(body_size).unwrap_or_default()
        } else {
            Vec::new()
        };
        let response = HttpResponse {
            status,
            body_size,
            body: &body,
        };
        let refresher = remote.refresher.clone();
        match step {
            Step::Discovery => match refresher.check_discovery(&response) {
                Ok(jwks_uri) => {
                    let next = remote.update(|record| {
                        match refresher.discovered(&mut record.state, me, &jwks_uri, now) {
                            Ok(request) => (Ok(request), true),
                            Err(e) => (Err(e), false),
                        }
                    });
                    match next {
                        Some((Ok(request), _)) => self.pending.push((pos, request)),
                        Some((Err(FetchError::LeaseLost), _)) => log(
                            LogLevel::Debug,
                            &format!("provider {}: late discovery answer dropped", remote.name),
                        ),
                        Some((Err(e), _)) => remote.failed(me, now, &e),
                        None => {}
                    }
                }
                Err(e) => remote.failed(me, now, &e),
            },
            Step::Jwks => match refresher.check_jwks(&response) {
                Ok((keys, skipped)) => {
                    for key in &skipped {
                        log(
                            LogLevel::Warn,
                            &format!(
                                "provider {}: JWKS key #{} (kid {}) skipped: {}",
                                remote.name,
                                key.index,
                                key.kid.as_deref().unwrap_or("-"),
                                key.reason
                            ),
                        );
                    }
                    let count = keys.len();
                    let stored = remote.update(|record| {
                        let next = refresher.keys_fetched(&mut record.state, me, count, now);
                        record.jwks.clone_from(&body);
                        (next, true)
                    });
                    engine.set_provider_keys(ProviderId(remote.index), keys);
                    host::increment(remote.metrics.fetch_success);
                    host::set_gauge(remote.metrics.key_count, count as u64);
                    host::set_gauge(remote.metrics.age_seconds, 0);
                    if let Some((next, record)) = stored {
                        remote.installed_generation = record.state.generation();
                        log(
                            LogLevel::Info,
                            &format!(
                                "provider {}: {count} keys fetched; next refresh at {}",
                                remote.name,
                                tollgate_core::time::rfc3339(next)
                            ),
                        );
                    }
                }
                Err(e) => remote.failed(me, now, &e),
            },
        }
    }

    /// Send `request`; a call the host refuses counts as a failed fetch (false).
    fn dispatch(&mut self, pos: usize, request: &FetchRequest, now: u64) -> bool {
        let me = self.me;
        let Some(remote) = self.remotes.get_mut(pos) else {
            return false;
        };
        match host::http_call(&request.cluster, &request.headers(), request.timeout_ms) {
            Ok(token) => {
                self.calls.insert(token, (pos, request.step));
                true
            }
            Err(status) => {
                log(
                    LogLevel::Warn,
                    &format!(
                        "provider {}: cannot call cluster {}: {status:?}",
                        remote.name, request.cluster
                    ),
                );
                remote.failed(me, now, &FetchError::Dispatch);
                false
            }
        }
    }
}

impl Remote {
    /// The shared record (a fresh one if absent or unusable) and its CAS token.
    fn load(&self) -> (Record, Option<u32>) {
        let (bytes, cas) = host::shared_data(&self.shared_key).unwrap_or((None, None));
        let (record, problem) = Record::decode_or_new(bytes.as_deref(), &self.refresher);
        if let Some(problem) = problem {
            log(
                LogLevel::Warn,
                &format!(
                    "provider {}: shared key record replaced: {problem}",
                    self.name
                ),
            );
        }
        (record, cas)
    }

    /// Read the record, let `change` decide (and say whether to write), write it back with
    /// compare-and-swap, retrying when another worker wrote in between. Returns the
    /// decision and the record as written (or read).
    fn update<T>(&self, mut change: impl FnMut(&mut Record) -> (T, bool)) -> Option<(T, Record)> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut record, cas) = self.load();
            let (decision, write) = change(&mut record);
            if !write {
                return Some((decision, record));
            }
            match host::set_shared_data(&self.shared_key, &record.encode(), cas) {
                Ok(()) => return Some((decision, record)),
                Err(Status::CasMismatch) => continue,
                Err(status) => {
                    log(
                        LogLevel::Error,
                        &format!(
                            "provider {}: cannot write shared data: {status:?}",
                            self.name
                        ),
                    );
                    return None;
                }
            }
        }
        log(
            LogLevel::Warn,
            &format!(
                "provider {}: shared record busy; retrying on the next tick",
                self.name
            ),
        );
        None
    }

    /// Install the record's keys if another worker fetched newer ones; update the gauges.
    /// True when keys were installed.
    fn adopt(&mut self, engine: &mut Engine, record: &Record, now: u64) -> bool {
        let state = &record.state;
        let mut installed = false;
        if state.has_keys() && state.generation() != self.installed_generation {
            match record.key_set() {
                Ok((keys, _skipped)) => {
                    engine.set_provider_keys(ProviderId(self.index), keys);
                    self.installed_generation = state.generation();
                    installed = true;
                }
                Err(e) => log(
                    LogLevel::Error,
                    &format!("provider {}: shared JWKS unusable: {e}", self.name),
                ),
            }
        }
        host::set_gauge(self.metrics.key_count, u64::from(state.key_count()));
        host::set_gauge(
            self.metrics.age_seconds,
            state.age_seconds(now).unwrap_or(0),
        );
        installed
    }

    /// Record a failed fetch: the last good keys stay, the backoff grows.
    fn failed(&mut self, me: u64, now: u64, error: &FetchError) {
        host::increment(self.metrics.fetch_failure);
        let refresher = self.refresher.clone();
        let next = self.update(|record| (refresher.fetch_failed(&mut record.state, me, now), true));
        log(
            LogLevel::Warn,
            &format!(
                "provider {}: key fetch failed ({}: {error}); keeping the last good keys{}",
                self.name,
                error.reason(),
                next.map(|(at, _)| format!(
                    ", next attempt at {}",
                    tollgate_core::time::rfc3339(at)
                ))
                .unwrap_or_default()
            ),
        );
    }
}
