//! Introspection calls, the second kind of outbound call of [`Outbound`]: one call per token
//! in flight per worker (single flight: the requests with the same token wait for it),
//! queued by a request and sent by the root context ([`Outbound::flush`]) so that a client
//! reset cannot cancel it, its answer read and held to the provider's rules
//! ([`crate::introspection::answer`]), kept in the process-wide shared cache
//! ([`crate::introspection::store`]) and handed to the requests that waited for it.
//!
//! | glue callback | method |
//! |---|---|
//! | a request whose opaque token has no verdict yet | [`Outbound::wait_for_introspection`] |
//! | a request (the environment's look-up) | [`Outbound::introspection_known`] |
//! | root context: call answer | [`Outbound::on_answer`] |
//! | after the waiting requests were decided | [`Outbound::settle`] |

use std::collections::BTreeMap;
use std::fmt;

use super::{Call, HttpCall, Outbound, OutboundHost, SharedData, SwapError};
use crate::config::ProviderId;
use crate::engine::Engine;
use crate::introspection::answer::{self, Reader};
use crate::introspection::store;
use crate::introspection::{
    self, cache_until, Failure, Introspection, IntrospectionNeeded, Known, SharedKey, Stored,
    Verdict,
};
use crate::remote::refresher::HttpResponse;
use crate::remote::report::Report;
use crate::remote::waiters::{Awaited, Waiter};

/// Added to `timeout_ms` for a waiting request's deadline, so that Envoy's own answer to a
/// call that timed out arrives first (the timer is the fallback).
const WAIT_GRACE_MS: u64 = 500;

/// One introspecting provider.
#[derive(Debug, Clone)]
struct Introspector {
    /// Index in the configuration.
    index: usize,
    /// Its name (the shared-cache slots are named after it).
    name: String,
    config: Introspection,
}

/// A call decided on but not sent yet. Its headers carry the client secret: `Debug` shows
/// neither them nor the body (the token).
#[derive(Clone)]
struct Queued {
    call: Call,
    cluster: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: u64,
    queued_ms: u64,
}

impl fmt::Debug for Queued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queued")
            .field("call", &self.call)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// The introspection state of one configuration in one worker VM.
#[derive(Debug, Clone, Default)]
pub(super) struct Introspections {
    providers: Vec<Introspector>,
    pending: Vec<Queued>,
    /// Calls in flight: host call token → when the call was queued (ms) and its timeout.
    started: BTreeMap<u32, (u64, u64)>,
    /// Verdicts (or failures) of calls that just ended, for the requests that waited for
    /// them; cleared once those are decided ([`Outbound::settle`]), so a verdict that may not
    /// be reused (`cache_seconds: 0`) serves only them.
    answers: BTreeMap<SharedKey, Known>,
}

impl Introspections {
    pub(super) fn new(engine: &Engine) -> Introspections {
        let providers = engine
            .providers()
            .iter()
            .enumerate()
            .filter_map(|(index, p)| {
                Some(Introspector {
                    index,
                    name: p.name.clone(),
                    config: p.introspection.clone()?,
                })
            })
            .collect();
        Introspections {
            providers,
            ..Introspections::default()
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// True when a call for `awaited` is queued.
    pub(super) fn queued(&self, awaited: Awaited) -> bool {
        self.pending.iter().any(|q| q.call.awaited() == awaited)
    }

    fn provider(&self, index: usize) -> Option<&Introspector> {
        self.providers.iter().find(|p| p.index == index)
    }
}

impl Outbound {
    /// A request's opaque token has no known verdict: pause the request (true) until the
    /// call for its token ends — the one in flight, or one queued now for the root context
    /// to send. False when the request cannot wait (too many wait already, or the provider
    /// does not introspect): answer it now (503).
    pub fn wait_for_introspection(
        &mut self,
        host: &mut impl OutboundHost,
        context_id: u32,
        need: &IntrospectionNeeded,
        now_ms: u64,
    ) -> bool {
        let Some(p) = self.introspection.provider(need.provider.0) else {
            return false;
        };
        let key = SharedKey::of(&p.config, &need.token.0);
        let timeout_ms = p.config.timeout_ms;
        let awaited = Awaited::Introspection(key.0);
        let waiter = Waiter {
            context_id,
            awaits: awaited,
            deadline_ms: now_ms.saturating_add(timeout_ms + WAIT_GRACE_MS),
        };
        if self.waiters.add(waiter).is_err() {
            return false;
        }
        if !self.calling(awaited) {
            let (headers, body) = introspection::call(&p.config, &need.token.0);
            let queued = Queued {
                call: Call::Introspect {
                    provider: p.index,
                    key,
                },
                cluster: p.config.cluster.clone(),
                headers,
                body,
                timeout_ms,
                queued_ms: now_ms,
            };
            self.introspection.pending.push(queued);
            host.report(Report::IntrospectionCalled {
                provider: need.provider,
            });
        }
        true
    }

    /// What is known about `token` of introspecting `provider`: the verdict (or failure) of
    /// a call that just ended, else an unexpired entry of the shared cache. `None`: nothing.
    pub fn introspection_known(
        &self,
        host: &impl SharedData,
        provider: ProviderId,
        token: &str,
        now: u64,
    ) -> Option<Known> {
        let p = self.introspection.provider(provider.0)?;
        let key = SharedKey::of(&p.config, token);
        if let Some(known) = self.introspection.answers.get(&key) {
            return Some(known.clone());
        }
        let (bytes, _) = host.get(&key.bucket_name(&p.name));
        Stored::decode(&bytes?, key, now).ok().map(Ok)
    }

    /// The requests that waited for introspection calls have been decided: forget the
    /// verdicts held for them.
    pub fn settle(&mut self) {
        self.introspection.answers.clear();
    }

    /// Send the queued introspection calls (root context only). A call the host refuses
    /// ends at once: its requests are released, to be answered 503.
    pub(super) fn flush_introspections(&mut self, host: &mut impl OutboundHost) -> Vec<Waiter> {
        let mut released = Vec::new();
        for q in std::mem::take(&mut self.introspection.pending) {
            let http = HttpCall {
                cluster: &q.cluster,
                headers: q.headers.clone(),
                timeout_ms: q.timeout_ms,
                body: &q.body,
            };
            match host.dispatch(&http) {
                Ok(token) => {
                    self.calls.insert(token, q.call);
                    self.introspection
                        .started
                        .insert(token, (q.queued_ms, q.timeout_ms));
                }
                Err(status) => {
                    if let Call::Introspect { provider, key } = q.call {
                        host.report(Report::IntrospectionNotSent {
                            provider: ProviderId(provider),
                            cluster: q.cluster.clone(),
                            status,
                        });
                        self.introspection
                            .answers
                            .insert(key, Err(Failure::Unavailable));
                    }
                    released.extend(self.waiters.take(q.call.awaited()));
                }
            }
        }
        released
    }

    /// The answer to call `token`, whatever kind of call it is: `max_age` is the answer's
    /// `Cache-Control` max-age ([`crate::introspection::max_age`]), `now_ms` the host clock
    /// (to tell a timeout from a refused connection). Returns the requests whose wait is
    /// over; None if the call is not one of this configuration's.
    #[allow(clippy::too_many_arguments)]
    pub fn on_answer(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        token: u32,
        response: &HttpResponse<'_>,
        max_age: Option<u64>,
        now: u64,
        now_ms: u64,
    ) -> Option<Vec<Waiter>> {
        match self.calls.get(&token)? {
            Call::Introspect { .. } => {
                self.introspection_answer(host, engine, token, response, max_age, now, Some(now_ms))
            }
            Call::Keys { .. } => self.on_response(host, engine, token, response, now),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn introspection_answer(
        &mut self,
        host: &mut impl OutboundHost,
        engine: &mut Engine,
        token: u32,
        response: &HttpResponse<'_>,
        max_age: Option<u64>,
        now: u64,
        now_ms: Option<u64>,
    ) -> Option<Vec<Waiter>> {
        let Some(Call::Introspect { provider, key }) = self.calls.remove(&token) else {
            return None;
        };
        let (queued_ms, timeout_ms) = self
            .introspection
            .started
            .remove(&token)
            .unwrap_or((0, u64::MAX));
        let latency_ms = now_ms.map_or(0, |n| n.saturating_sub(queued_ms));
        let id = ProviderId(provider);
        let p = self.introspection.provider(provider)?.clone();
        let reader = Reader {
            providers: engine.providers(),
            keys: engine.key_sets(),
            verifiers: engine.verifiers(),
            provider: id,
            introspection: &p.config,
            max_token_bytes: engine.config().max_token_bytes,
        };
        // Envoy ends a call that outlives its timeout with no answer, or with its own 504
        // (the router's "upstream request timeout"): either, at the timeout, is a timeout.
        let timed_out = matches!(response.status, None | Some(504))
            && latency_ms.saturating_add(100) >= timeout_ms;
        let read = if timed_out {
            Err(Failure::Timeout)
        } else {
            answer::read(
                &reader,
                response.status,
                response.body_size,
                response.body,
                now,
            )
        };
        let known = match read {
            Err(failure) => {
                host.report(Report::IntrospectionFailed {
                    provider: id,
                    failure,
                    latency_ms,
                });
                Err(failure)
            }
            Ok(verdict) => {
                // The provider's rules now, so that a rejected token is kept for the
                // negative window like an inactive one.
                let (verdict, exp) = match verdict {
                    Verdict::Active { claims, jwt } => {
                        let admitted = engine
                            .provider(id)
                            .map(|pc| introspection::admit_claims(pc, &claims, now));
                        match admitted {
                            Some(Ok(a)) => (Verdict::Active { claims, jwt }, a.exp),
                            Some(Err(e)) => (Verdict::Rejected(e), None),
                            None => return None,
                        }
                    }
                    rejected => (rejected, None),
                };
                host.report(Report::IntrospectionAnswered {
                    provider: id,
                    latency_ms,
                    reason: match &verdict {
                        Verdict::Active { .. } => None,
                        Verdict::Rejected(e) => Some(e.reason()),
                    },
                });
                let until = cache_until(&p.config, &verdict, exp, max_age, now);
                let stored = Stored {
                    until: until.unwrap_or(now),
                    verdict,
                };
                if until.is_some() {
                    if let Err(why) =
                        store_shared(host, &key.bucket_name(&p.name), key, &stored, now)
                    {
                        host.report(Report::IntrospectionNotStored { provider: id, why });
                    }
                }
                Ok(stored)
            }
        };
        self.introspection.answers.insert(key, known);
        Some(self.waiters.take(Awaited::Introspection(key.0)))
    }
}

/// Write `stored` into its shared bucket `name`, with compare-and-swap (another worker may
/// write the same bucket); the error says why not, for the log.
fn store_shared(
    host: &mut impl OutboundHost,
    name: &str,
    key: SharedKey,
    stored: &Stored,
    now: u64,
) -> Result<(), String> {
    for _ in 0..super::CAS_ATTEMPTS {
        let (bytes, cas) = host.get(name);
        let bucket =
            store::insert(bytes.as_deref(), key, stored, now).map_err(|e| format!("{e:?}"))?;
        match host.compare_and_swap(name, &bucket, cas) {
            Ok(()) => return Ok(()),
            Err(SwapError::Mismatch) => continue,
            Err(SwapError::Refused(status)) => return Err(status),
        }
    }
    Err("the bucket kept changing".into())
}
