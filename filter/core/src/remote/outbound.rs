//! One home for the filter's outbound HTTP calls and for the requests that wait for them
//! (per worker VM): the calls decided on but not sent yet, the calls in flight, the paused
//! requests, and — for remote key sets — the shared fetch record with its lease and timing
//! rules ([`Refresher`]).
//!
//! The glue (`filter/proxy`) owns no logic here: it implements [`OutboundHost`] (shared
//! data with compare-and-swap, `dispatch_http_call`, and turning each [`Report`] into a log
//! line or a metric) and forwards the proxy-wasm callbacks:
//!
//! | glue callback | method |
//! |---|---|
//! | request headers, a denial that keys could change | [`Outbound::adopt`], then [`Outbound::wait_for_keys`] |
//! | root context: doorbell, timer, call answer | [`Outbound::flush`] (sends the queued calls) |
//! | root context: timer | [`Outbound::tick`], [`Outbound::due_waiters`] |
//! | root context: call answer | [`Outbound::on_response`] |
//! | request ends | [`Outbound::forget`] |
//! | new configuration | [`Outbound::take_all_waiters`] (old), [`Outbound::adopt_all`] (new) |
//!
//! Every method that returns [`Waiter`]s returns the requests whose wait is over: the glue
//! decides each once more, for good.
//!
//! # A call never belongs to a request
//!
//! A request may *decide* that a call is due, but the call is only queued here and sent by
//! the root context ([`Outbound::flush`]), so its answer comes back to the root context
//! whatever happens to the request (the SDK hands an answer to the context that was active
//! when the call was dispatched; a client reset would otherwise lose it, leaving the lease
//! held and an unknown-`kid` refetch slot spent).
//!
//! # Another kind of call
//!
//! What a request waits for and what a call is for are enums ([`Awaited`], [`Call`]) with one
//! variant today, remote keys. A second kind (e.g. token introspection, single-flight per
//! token) adds a variant to each, its own decision next to [`Outbound::wait_for_keys`] and
//! its own answer handling in [`Outbound::on_response`]; the queue, the dispatch from the
//! root context, the waiters with their deadlines and capacity stay the ones here.

use std::collections::BTreeMap;

use super::record::{shared_data_key, Record};
use super::refresher::{
    refreshers, Action, FetchError, FetchRequest, HttpResponse, Refresher, Step,
};
use super::report::Report;
use super::waiters::{Awaited, WaitReason, Waiter, Waiters};
use crate::config::{ConfigError, ProviderId};
use crate::engine::{Engine, KeysNeeded};
use crate::introspection::SharedKey;

/// Compare-and-swap attempts before a record update is given up (another worker keeps
/// writing; the next tick tries again).
pub(crate) const CAS_ATTEMPTS: usize = 4;

/// Why a shared-data write did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapError {
    /// Another worker wrote the entry since it was read: read again and retry.
    Mismatch,
    /// The host refused the write (the text is its status, for the log).
    Refused(String),
}

/// The process-wide shared data (proxy-wasm `get_shared_data` / `set_shared_data`).
pub trait SharedData {
    /// The entry's bytes and its compare-and-swap token (`(None, None)` when absent).
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Writes the entry if it is unchanged since the read that returned `cas`.
    fn compare_and_swap(
        &mut self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), SwapError>;
}

/// An HTTP call for the host to send (`dispatch_http_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall<'a> {
    /// The Envoy cluster.
    pub cluster: &'a str,
    /// Request headers, pseudo-headers first.
    pub headers: Vec<(String, String)>,
    /// Time limit of the call (milliseconds).
    pub timeout_ms: u64,
    /// The request body (empty for a `GET`).
    pub body: &'a [u8],
}

/// Everything [`Outbound`] needs from the host besides the clock (time is a parameter).
pub trait OutboundHost: SharedData {
    /// Sends `call`; the token identifies its answer. `Err` is the host's status, for the log.
    fn dispatch(&mut self, call: &HttpCall<'_>) -> Result<u32, String>;
    /// Something the operator should see (a log line, a metric, or both).
    fn report(&mut self, report: Report);
}

/// An outbound call queued or in flight: what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// One step of a key fetch of the provider with this configuration index.
    Keys { provider: usize, step: Step },
    /// The introspection of one token by the provider with this configuration index.
    Introspect { provider: usize, key: SharedKey },
}

impl Call {
    /// The requests this call's end releases.
    pub fn awaited(&self) -> Awaited {
        match self {
            Call::Keys { provider, .. } => Awaited::Keys(*provider),
            Call::Introspect { key, .. } => Awaited::Introspection(key.0),
        }
    }
}

/// One provider whose keys are fetched.
#[derive(Debug, Clone)]
struct RemoteProvider {
    /// Index in the configuration (and the engine).
    index: usize,
    /// Its shared-data key ([`shared_data_key`]).
    shared_key: String,
    refresher: Refresher,
    /// Generation of the record whose keys the engine holds (0: none yet).
    installed_generation: u64,
}

impl RemoteProvider {
    fn id(&self) -> ProviderId {
        ProviderId(self.index)
    }

    /// The shared record (a fresh one if absent or unusable) and its CAS token.
    fn load(&self, host: &mut impl OutboundHost) -> (Record, Option<u32>) {
        let (bytes, cas) = host.get(&self.shared_key);
        let (record, problem) = Record::decode_or_new(bytes.as_deref(), &self.refresher);
        if let Some(problem) = problem {
            host.report(Report::RecordReplaced {
                provider: self.id(),
                problem,
            });
        }
        (record, cas)
    }

    /// Read the record, let `change` decide (and say whether to write), write it back with
    /// compare-and-swap, retrying when another worker wrote in between. Returns the
    /// decision and the record as written (or read); `None` when it could not be written.
    fn update<T>(
        &self,
        host: &mut impl OutboundHost,
        mut change: impl FnMut(&mut Record) -> (T, bool),
    ) -> Option<(T, Record)> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut record, cas) = self.load(host);
            let (decision, write) = change(&mut record);
            if !write {
                return Some((decision, record));
            }
            match host.compare_and_swap(&self.shared_key, &record.encode(), cas) {
                Ok(()) => return Some((decision, record)),
                Err(SwapError::Mismatch) => continue,
                Err(SwapError::Refused(status)) => {
                    host.report(Report::RecordNotWritten {
                        provider: self.id(),
                        status,
                    });
                    return None;
                }
            }
        }
        host.report(Report::RecordBusy {
            provider: self.id(),
        });
        None
    }

    /// Install the record's keys if another worker fetched newer ones; report the keys in
    /// use. True when keys were installed.
    fn adopt(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        record: &Record,
        now: u64,
    ) -> bool {
        let state = &record.state;
        let mut installed = false;
        if state.has_keys() && state.generation() != self.installed_generation {
            match record.key_set() {
                Ok((keys, _skipped)) => {
                    engine.set_provider_keys(self.id(), keys);
                    self.installed_generation = state.generation();
                    installed = true;
                }
                Err(error) => host.report(Report::SharedKeysUnusable {
                    provider: self.id(),
                    error,
                }),
            }
        }
        host.report(Report::KeysInUse {
            provider: self.id(),
            count: state.key_count(),
            age_seconds: state.age_seconds(now).unwrap_or(0),
        });
        installed
    }

    /// Record a failed fetch: the last good keys stay, the backoff grows.
    fn failed(&self, host: &mut impl OutboundHost, me: u64, now: u64, error: FetchError) {
        let refresher = &self.refresher;
        let next = self.update(host, |record| {
            (refresher.fetch_failed(&mut record.state, me, now), true)
        });
        host.report(Report::FetchFailed {
            provider: self.id(),
            error,
            next_attempt: next.map(|(at, _)| at),
        });
    }
}

/// The outbound calls and waiting requests of one configuration in one worker VM.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// This worker's id in fetch leases (unique among the VMs of the process).
    me: u64,
    remotes: Vec<RemoteProvider>,
    /// Calls in flight: host call token → what it is for.
    calls: BTreeMap<u32, Call>,
    /// Calls decided on but not sent yet: the root context sends them ([`Outbound::flush`]).
    pending: Vec<(Call, FetchRequest)>,
    /// Requests of this worker paused until a call ends.
    waiters: Waiters,
    /// The introspecting providers, their queued calls and the verdicts just received.
    introspection: introspect::Introspections,
}

impl Outbound {
    /// The remote providers of `engine`'s configuration. `me` is this worker's id (random
    /// per VM). Fails on a key URL that cannot be fetched, naming the field.
    pub fn new(engine: &Engine, me: u64) -> Result<Outbound, ConfigError> {
        let mut remotes = Vec::new();
        for (index, refresher) in refreshers(engine.config())?.into_iter().enumerate() {
            let Some(refresher) = refresher else { continue };
            let name = engine.provider_name(ProviderId(index));
            remotes.push(RemoteProvider {
                index,
                shared_key: shared_data_key(name, &refresher),
                refresher,
                installed_generation: 0,
            });
        }
        Ok(Outbound {
            me,
            remotes,
            calls: BTreeMap::new(),
            pending: Vec::new(),
            waiters: Waiters::default(),
            introspection: introspect::Introspections::new(engine),
        })
    }

    /// True when no provider's keys are fetched and none introspects (no timer needed).
    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty() && self.introspection.is_empty()
    }

    /// The providers whose keys are fetched, in configuration order.
    pub fn remote_providers(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.remotes.iter().map(RemoteProvider::id)
    }

    fn position(&self, provider: usize) -> Option<usize> {
        self.remotes.iter().position(|r| r.index == provider)
    }

    /// Run one event of the fetch state machine for `provider`: the decision is written back
    /// to the shared record and, if it is a fetch, queued. None for a provider whose keys
    /// are not remote, or when the record could not be written.
    fn event(
        &mut self,
        host: &mut impl OutboundHost,
        provider: usize,
        now: u64,
        decide: impl Fn(&Refresher, &mut super::FetchState, u64, u64) -> Action,
    ) -> Option<Action> {
        let me = self.me;
        let remote = self.remotes.get(self.position(provider)?)?;
        let (action, _) = remote.update(host, |record| {
            let action = decide(&remote.refresher, &mut record.state, me, now);
            let write = matches!(action, Action::Fetch(_));
            (action, write)
        })?;
        if let Action::Fetch(request) = &action {
            let call = Call::Keys {
                provider,
                step: request.step,
            };
            self.pending.push((call, request.clone()));
        }
        Some(action)
    }

    /// A request was denied for lack of `need.provider`'s keys: pause it (true) if a fetch
    /// in progress, or one it may start now, could bring them. The fetch itself is queued
    /// for the root context ([`Outbound::flush`]).
    ///
    /// - No keys yet: the scheduled decision ([`Refresher::request_without_keys`]); while
    ///   the failure backoff runs, a request may still trigger one refetch per
    ///   `refetch_interval_seconds` (as for an unknown `kid`); otherwise false (503 now).
    /// - Unknown `kid`: a refetch at once, rate limited ([`Refresher::unknown_kid`]);
    ///   false when rate limited (401 now).
    ///
    /// A request-triggered refetch is reported ([`Report::RefetchTriggered`]). False as well
    /// when too many requests wait already: answer it now.
    pub fn wait_for_keys(
        &mut self,
        host: &mut impl OutboundHost,
        context_id: u32,
        need: KeysNeeded,
        now: u64,
        now_ms: u64,
    ) -> bool {
        let provider = need.provider.0;
        let action = match need.reason {
            WaitReason::NoKeys => {
                match self.event(host, provider, now, Refresher::request_without_keys) {
                    Some(Action::Idle { .. }) => self.triggered_refetch(host, provider, now),
                    decided => decided,
                }
            }
            WaitReason::UnknownKid => self.triggered_refetch(host, provider, now),
        };
        if !matches!(action, Some(Action::Fetch(_) | Action::Wait { .. })) {
            return false;
        }
        let Some(remote) = self.position(provider).and_then(|p| self.remotes.get(p)) else {
            return false;
        };
        let waiter = Waiter {
            context_id,
            awaits: Awaited::Keys(provider),
            deadline_ms: now_ms.saturating_add(remote.refresher.max_wait_ms()),
        };
        self.waiters.add(waiter).is_ok()
    }

    /// A refetch requested by a request (rate limited), reported when it starts.
    fn triggered_refetch(
        &mut self,
        host: &mut impl OutboundHost,
        provider: usize,
        now: u64,
    ) -> Option<Action> {
        let action = self.event(host, provider, now, Refresher::unknown_kid)?;
        if matches!(action, Action::Fetch(_)) {
            host.report(Report::RefetchTriggered {
                provider: ProviderId(provider),
            });
        }
        Some(action)
    }

    /// Every paused request (the configuration is being replaced).
    pub fn take_all_waiters(&mut self) -> Vec<Waiter> {
        self.waiters.take_expired(u64::MAX)
    }

    /// Install keys of `provider` that another worker fetched since this one last looked
    /// (without fetching anything). True when newer keys were installed: a request denied
    /// for lack of keys or an unknown `kid` should then be decided again, before it waits or
    /// triggers a refetch (which the rate limit may refuse: the other worker's refetch
    /// already brought the key).
    pub fn adopt(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        provider: ProviderId,
        now: u64,
    ) -> bool {
        let Some(remote) = self
            .position(provider.0)
            .and_then(|p| self.remotes.get_mut(p))
        else {
            return false;
        };
        let (record, _) = remote.load(host);
        remote.adopt(host, engine, &record, now)
    }

    /// [`Outbound::adopt`] for every remote provider (a new configuration or VM).
    pub fn adopt_all(&mut self, host: &mut impl OutboundHost, engine: &mut Engine, now: u64) {
        for remote in &mut self.remotes {
            let (record, _) = remote.load(host);
            remote.adopt(host, engine, &record, now);
        }
    }

    /// True when calls wait to be sent by the root context.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.introspection.has_pending()
    }

    /// True while this worker has a call for `awaited` in flight or queued.
    fn calling(&self, awaited: Awaited) -> bool {
        self.calls.values().any(|c| c.awaited() == awaited)
            || self.pending.iter().any(|(c, _)| c.awaited() == awaited)
            || self.introspection.queued(awaited)
    }

    /// Send the calls decided on since the last flush. Root context only (timer, doorbell,
    /// call answers), so that every answer comes back to the root context whatever happens
    /// to the request that asked for it. A call the host refuses counts as a failed fetch;
    /// the requests waiting for it are returned, to be answered now rather than at their
    /// deadline.
    pub fn flush(&mut self, host: &mut impl OutboundHost, now: u64) -> Vec<Waiter> {
        let mut released = Vec::new();
        for (call, request) in std::mem::take(&mut self.pending) {
            let http = HttpCall {
                cluster: &request.cluster,
                headers: request.headers(),
                timeout_ms: request.timeout_ms,
                body: &[],
            };
            match host.dispatch(&http) {
                Ok(token) => {
                    self.calls.insert(token, call);
                }
                Err(status) => {
                    let provider = match call {
                        Call::Keys { provider, .. } => provider,
                        Call::Introspect { .. } => continue,
                    };
                    if let Some(remote) = self.position(provider).and_then(|p| self.remotes.get(p))
                    {
                        host.report(Report::DispatchRefused {
                            provider: remote.id(),
                            cluster: request.cluster.clone(),
                            status,
                        });
                        remote.failed(host, self.me, now, FetchError::Dispatch);
                    }
                    released.extend(self.waiters.take(call.awaited()));
                }
            }
        }
        released.extend(self.flush_introspections(host));
        released
    }

    /// A request ended (e.g. the client went away): stop waiting for it.
    pub fn forget(&mut self, context_id: u32) {
        self.waiters.remove(context_id);
    }

    /// Requests whose wait is over: their deadline passed, or no fetch of their provider
    /// is in progress any more (it ended here or in another worker).
    pub fn due_waiters(
        &mut self,
        host: &mut impl OutboundHost,
        now: u64,
        now_ms: u64,
    ) -> Vec<Waiter> {
        let mut due = self.waiters.take_expired(now_ms);
        for awaited in self.waiters.awaited() {
            let Awaited::Keys(provider) = awaited else {
                // An introspection call in flight here ends with an answer (or Envoy's
                // timeout); none in flight: nothing will come.
                if !self.calling(awaited) {
                    due.extend(self.waiters.take(awaited));
                }
                continue;
            };
            let in_flight = self
                .position(provider)
                .and_then(|p| self.remotes.get(p))
                .is_some_and(|r| r.load(host).0.state.fetch_in_flight(now));
            if !in_flight {
                due.extend(self.waiters.take(awaited));
            }
        }
        due
    }

    /// Timer event (and plugin start): adopt keys another worker fetched, queue the fetches
    /// that are due.
    pub fn tick(&mut self, host: &mut impl OutboundHost, engine: &mut Engine, now: u64) {
        let me = self.me;
        for remote in &mut self.remotes {
            let refresher = &remote.refresher;
            let updated = remote.update(host, |record| {
                let action = refresher.tick(&mut record.state, me, now);
                let write = matches!(action, Action::Fetch(_));
                (action, write)
            });
            let Some((action, record)) = updated else {
                continue;
            };
            remote.adopt(host, engine, &record, now);
            let provider = remote.index;
            // A call whose lease is no longer ours is over; its answer may never come
            // (its HTTP context ended first), so forget it.
            if record.state.lease(now).map(|l| l.holder) != Some(me) {
                self.calls
                    .retain(|_, c| c.awaited() != Awaited::Keys(provider));
            }
            if let Action::Fetch(request) = action {
                let call = Call::Keys {
                    provider,
                    step: request.step,
                };
                self.pending.push((call, request));
            }
        }
    }

    /// The largest body worth reading for the answer to call `token` (a larger one is
    /// rejected by its reported size, unread). None if the call is not one of this
    /// configuration's.
    pub fn body_limit(&self, token: u32) -> Option<usize> {
        match self.calls.get(&token)? {
            Call::Keys { provider, .. } => {
                let remote = self.remotes.get(self.position(*provider)?)?;
                Some(remote.refresher.max_body_bytes())
            }
            Call::Introspect { .. } => Some(crate::introspection::answer::MAX_ANSWER_BYTES),
        }
    }

    /// The answer to call `token` (`response.status` is `None` when the call failed without
    /// a response). Returns the requests that waited for this call when it ended (keys or
    /// failure; none while a discovery answer led to the JWKS request); None if the call is
    /// not one of this configuration's.
    pub fn on_response(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        token: u32,
        response: &HttpResponse<'_>,
        now: u64,
    ) -> Option<Vec<Waiter>> {
        if let Some(Call::Introspect { .. }) = self.calls.get(&token) {
            return self.introspection_answer(host, engine, token, response, None, now, None);
        }
        let call = self.calls.remove(&token)?;
        let Call::Keys { provider, step } = call else {
            return None;
        };
        let pos = self.position(provider)?;
        if let Some(next) = self.keys_answer(host, engine, pos, step, response, now) {
            self.pending.push((
                Call::Keys {
                    provider,
                    step: next.step,
                },
                next,
            ));
        }
        // Still fetching (discovery answered, JWKS request queued): keep waiting.
        if self.calling(call.awaited()) {
            return Some(Vec::new());
        }
        Some(self.waiters.take(call.awaited()))
    }

    /// Handles one answer of a key fetch; returns the next request of the fetch, if any.
    fn keys_answer(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        pos: usize,
        step: Step,
        response: &HttpResponse<'_>,
        now: u64,
    ) -> Option<FetchRequest> {
        let me = self.me;
        let remote = self.remotes.get_mut(pos)?;
        let refresher = &remote.refresher;
        match step {
            Step::Discovery => match refresher.check_discovery(response) {
                Ok(jwks_uri) => {
                    let next = remote.update(host, |record| {
                        match refresher.discovered(&mut record.state, me, &jwks_uri, now) {
                            Ok(request) => (Ok(request), true),
                            Err(e) => (Err(e), false),
                        }
                    });
                    match next {
                        Some((Ok(request), _)) => return Some(request),
                        Some((Err(FetchError::LeaseLost), _)) => {
                            host.report(Report::LateDiscoveryAnswer {
                                provider: remote.id(),
                            });
                        }
                        Some((Err(e), _)) => remote.failed(host, me, now, e),
                        None => {}
                    }
                }
                Err(e) => remote.failed(host, me, now, e),
            },
            Step::Jwks => match refresher.check_jwks(response) {
                Ok((keys, skipped)) => {
                    for key in skipped {
                        host.report(Report::KeySkipped {
                            provider: remote.id(),
                            key,
                        });
                    }
                    let count = keys.len();
                    let stored = remote.update(host, |record| {
                        let next = refresher.keys_fetched(&mut record.state, me, count, now);
                        record.jwks = response.body.to_vec();
                        (next, true)
                    });
                    engine.set_provider_keys(remote.id(), keys);
                    if let Some((_, record)) = &stored {
                        remote.installed_generation = record.state.generation();
                    }
                    host.report(Report::KeysFetched {
                        provider: remote.id(),
                        count,
                        next_refresh: stored.map(|(next, _)| next),
                    });
                }
                Err(e) => remote.failed(host, me, now, e),
            },
        }
        None
    }
}

#[path = "introspect.rs"]
mod introspect;

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;
