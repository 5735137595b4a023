//! [`Outbound`] against an in-memory host: shared data with real compare-and-swap tokens
//! (several workers share one [`Store`]), a recorded list of dispatched calls, and the
//! reports in order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::json;

use super::*;
use crate::cache::CacheSecret;
use crate::remote::FetchState;
use crate::remote::Severity;
use crate::testkit::{self, TestKey, NOW};
use crate::Outcome;

const JWKS_URL: &str = "https://login.example.test/jwks";
const NOW_MS: u64 = NOW * 1000;

/// Process-wide shared data: value and a version per key.
type Store = Rc<RefCell<HashMap<String, (Vec<u8>, u32)>>>;

/// One worker's view of the host.
struct MockHost {
    store: Store,
    /// Calls sent, by token (token = index + 1).
    sent: Vec<(String, Vec<(String, String)>)>,
    refuse_dispatch: bool,
    /// The next this many writes lose a race (refused with a mismatch).
    conflicts: usize,
    reports: Vec<Report>,
}

impl MockHost {
    fn new(store: &Store) -> MockHost {
        MockHost {
            store: Rc::clone(store),
            sent: Vec::new(),
            refuse_dispatch: false,
            conflicts: 0,
            reports: Vec::new(),
        }
    }

    /// The `:path` of every call sent.
    fn paths(&self) -> Vec<&str> {
        self.sent
            .iter()
            .map(|(_, headers)| {
                headers
                    .iter()
                    .find(|(n, _)| n == ":path")
                    .map_or("", |(_, v)| v.as_str())
            })
            .collect()
    }

    fn count(&self, f: impl Fn(&Report) -> bool) -> usize {
        self.reports.iter().filter(|r| f(r)).count()
    }
}

impl SharedData for MockHost {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.store.borrow().get(key) {
            Some((value, version)) => (Some(value.clone()), Some(*version)),
            None => (None, None),
        }
    }

    fn compare_and_swap(
        &mut self,
        key: &str,
        value: &[u8],
        cas: Option<u32>,
    ) -> Result<(), SwapError> {
        if self.conflicts > 0 {
            self.conflicts -= 1;
            return Err(SwapError::Mismatch);
        }
        let mut store = self.store.borrow_mut();
        let current = store.get(key).map(|(_, v)| *v);
        if cas.is_some() && cas != current {
            return Err(SwapError::Mismatch);
        }
        let next = current.unwrap_or(0) + 1;
        store.insert(key.to_string(), (value.to_vec(), next));
        Ok(())
    }
}

impl OutboundHost for MockHost {
    fn dispatch(&mut self, call: &HttpCall<'_>) -> Result<u32, String> {
        if self.refuse_dispatch {
            return Err("BadArgument".to_string());
        }
        self.sent
            .push((call.cluster.to_string(), call.headers.clone()));
        Ok(u32::try_from(self.sent.len()).unwrap())
    }

    fn report(&mut self, report: Report) {
        self.reports.push(report);
    }
}

/// One provider whose keys come from `jwks`; every path needs a valid token.
fn engine_with(jwks: serde_json::Value) -> Engine {
    let config = json!({
        "realm": "tollgate-test",
        "providers": [{
            "name": "remote",
            "issuer": testkit::ISSUER,
            "audiences": [testkit::AUDIENCE],
            "jwks": jwks
        }],
        "rules": [{ "match": { "prefix": "/" } }]
    });
    Engine::from_json(config.to_string().as_bytes(), CacheSecret([1, 2])).unwrap()
}

fn engine() -> Engine {
    engine_with(json!({ "remote": { "cluster": "idp", "url": JWKS_URL, "timeout_ms": 2000 } }))
}

fn jwks_body(keys: &[TestKey]) -> Vec<u8> {
    testkit::jwks(keys).to_string().into_bytes()
}

fn ok(body: &[u8]) -> HttpResponse<'_> {
    HttpResponse {
        status: Some(200),
        body_size: body.len(),
        body,
    }
}

fn no_keys() -> KeysNeeded {
    KeysNeeded {
        provider: ProviderId(0),
        reason: WaitReason::NoKeys,
    }
}

fn unknown_kid() -> KeysNeeded {
    KeysNeeded {
        provider: ProviderId(0),
        reason: WaitReason::UnknownKid,
    }
}

fn decide(engine: &mut Engine, key: TestKey) -> Outcome {
    let request = testkit::request("GET", "/orders", Some(&testkit::token(key, NOW)));
    engine.evaluate(&request, NOW).outcome
}

fn waiter(context_id: u32) -> Waiter {
    Waiter {
        context_id,
        awaits: Awaited::Keys(0),
        deadline_ms: NOW_MS + 2000,
    }
}

#[test]
fn a_request_without_keys_queues_one_fetch_that_only_flush_sends() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut engine = engine();
    let mut out = Outbound::new(&engine, 1).unwrap();

    assert!(out.wait_for_keys(&mut host, 7, no_keys(), NOW, NOW_MS));
    assert!(out.has_pending());
    assert!(host.sent.is_empty(), "a request never dispatches");
    // A second request waits for the same fetch.
    assert!(out.wait_for_keys(&mut host, 8, no_keys(), NOW, NOW_MS));

    assert_eq!(out.flush(&mut host, NOW), vec![]);
    assert_eq!(host.paths(), vec!["/jwks"]);
    assert_eq!(host.sent[0].0, "idp");
    assert!(!out.has_pending());

    let body = jwks_body(&[TestKey::Es256]);
    let released = out.on_response(&mut host, &mut engine, 1, &ok(&body), NOW);
    assert_eq!(released, Some(vec![waiter(7), waiter(8)]));
    assert!(matches!(
        decide(&mut engine, TestKey::Es256),
        Outcome::Allow(_)
    ));
    assert_eq!(
        host.count(|r| matches!(
            r,
            Report::KeysFetched {
                count: 1,
                next_refresh: Some(_),
                ..
            }
        )),
        1
    );
    // An answer nobody asked for is not ours.
    assert_eq!(
        out.on_response(&mut host, &mut engine, 1, &ok(&body), NOW),
        None
    );
}

#[test]
fn one_worker_fetches_and_the_other_adopts_from_shared_data() {
    let store = Store::default();
    let (mut host_a, mut host_b) = (MockHost::new(&store), MockHost::new(&store));
    let (mut engine_a, mut engine_b) = (engine(), engine());
    let mut a = Outbound::new(&engine_a, 1).unwrap();
    let mut b = Outbound::new(&engine_b, 2).unwrap();

    a.tick(&mut host_a, &mut engine_a, NOW);
    b.tick(&mut host_b, &mut engine_b, NOW);
    assert!(a.has_pending());
    assert!(!b.has_pending(), "the lease is A's");
    // B's request waits for A's fetch.
    assert!(b.wait_for_keys(&mut host_b, 3, no_keys(), NOW, NOW_MS));
    assert!(!b.has_pending());

    a.flush(&mut host_a, NOW);
    let body = jwks_body(&[TestKey::Es256]);
    a.on_response(&mut host_a, &mut engine_a, 1, &ok(&body), NOW);

    // B's waiter is due once the lease is gone; B installs the keys.
    assert_eq!(b.due_waiters(&mut host_b, NOW, NOW_MS), vec![waiter(3)]);
    assert!(b.adopt(&mut host_b, &mut engine_b, ProviderId(0), NOW));
    assert!(
        !b.adopt(&mut host_b, &mut engine_b, ProviderId(0), NOW),
        "once"
    );
    assert!(matches!(
        decide(&mut engine_b, TestKey::Es256),
        Outcome::Allow(_)
    ));
    assert!(host_b.sent.is_empty());
}

#[test]
fn during_the_backoff_a_request_triggers_one_rate_limited_refetch() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut engine = engine();
    let mut out = Outbound::new(&engine, 1).unwrap();

    out.tick(&mut host, &mut engine, NOW);
    out.flush(&mut host, NOW);
    let failed = HttpResponse {
        status: None,
        body_size: 0,
        body: b"",
    };
    assert_eq!(
        out.on_response(&mut host, &mut engine, 1, &failed, NOW),
        Some(vec![])
    );
    assert_eq!(
        host.count(|r| matches!(r, Report::FetchFailed { error: FetchError::NoResponse, next_attempt: Some(t), .. } if *t == NOW + 2)),
        1
    );

    // The backoff runs (next attempt at NOW + 2): the tick does nothing…
    out.tick(&mut host, &mut engine, NOW + 1);
    assert!(!out.has_pending());
    // …but a request triggers a refetch and waits for it (reported as triggered).
    assert!(out.wait_for_keys(&mut host, 5, no_keys(), NOW + 1, NOW_MS + 1000));
    assert!(out.has_pending());
    assert_eq!(
        host.count(|r| matches!(r, Report::RefetchTriggered { .. })),
        1
    );
    out.flush(&mut host, NOW + 1);
    let released = out.on_response(&mut host, &mut engine, 2, &failed, NOW + 1);
    assert_eq!(released.map(|w| w.len()), Some(1));

    // Within the refetch interval and the backoff: no wait, nothing queued (503 now).
    assert!(!out.wait_for_keys(&mut host, 6, no_keys(), NOW + 2, NOW_MS + 2000));
    assert!(!out.has_pending());
    assert_eq!(
        host.count(|r| matches!(r, Report::RefetchTriggered { .. })),
        1
    );
}

#[test]
fn an_unknown_kid_refetches_once_per_interval() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut engine = engine();
    let mut out = Outbound::new(&engine, 1).unwrap();
    out.tick(&mut host, &mut engine, NOW);
    out.flush(&mut host, NOW);
    let body = jwks_body(&[TestKey::Es256]);
    out.on_response(&mut host, &mut engine, 1, &ok(&body), NOW);

    assert!(out.wait_for_keys(&mut host, 9, unknown_kid(), NOW + 1, NOW_MS));
    out.flush(&mut host, NOW + 1);
    let rotated = jwks_body(&[TestKey::Es256, TestKey::EdDsa]);
    out.on_response(&mut host, &mut engine, 2, &ok(&rotated), NOW + 1);
    assert!(matches!(
        decide(&mut engine, TestKey::EdDsa),
        Outcome::Allow(_)
    ));

    // The default interval is 30 s: a forged kid right after is answered at once.
    assert!(!out.wait_for_keys(&mut host, 10, unknown_kid(), NOW + 2, NOW_MS));
    assert!(!out.has_pending());
    assert!(out.wait_for_keys(&mut host, 11, unknown_kid(), NOW + 31, NOW_MS));
    assert!(out.has_pending());
    assert_eq!(
        host.count(|r| matches!(r, Report::RefetchTriggered { .. })),
        2
    );
}

#[test]
fn a_refused_dispatch_is_a_failed_fetch_and_releases_the_waiters_at_once() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    host.refuse_dispatch = true;
    let mut out = Outbound::new(&engine(), 1).unwrap();

    assert!(out.wait_for_keys(&mut host, 4, no_keys(), NOW, NOW_MS));
    assert_eq!(out.flush(&mut host, NOW), vec![waiter(4)]);
    assert_eq!(
        host.reports
            .iter()
            .filter(|r| !matches!(r, Report::KeysInUse { .. }))
            .map(|r| (r.severity(), r.line("remote")))
            .collect::<Vec<_>>(),
        vec![
            (
                Severity::Warn,
                "provider remote: cannot call cluster idp: BadArgument".to_string()
            ),
            (
                Severity::Warn,
                "provider remote: key fetch failed (dispatch_failed: the host refused to start \
                 the call); keeping the last good keys, next attempt at 2023-11-14T22:13:22Z"
                    .to_string()
            ),
        ]
    );
    let (record, _) = RemoteProvider::load(&out.remotes[0], &mut host);
    assert_eq!(record.state.failures(), 1);
    assert!(!record.state.fetch_in_flight(NOW));
}

#[test]
fn the_wait_ends_at_the_deadline_and_a_full_list_answers_at_once() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut out = Outbound::new(&engine(), 1).unwrap();
    assert!(out.wait_for_keys(&mut host, 1, no_keys(), NOW, NOW_MS));
    out.flush(&mut host, NOW);
    // The fetch is still in flight: only the deadline (timeout 2 s) ends the wait.
    assert_eq!(out.due_waiters(&mut host, NOW, NOW_MS + 1999), vec![]);
    assert_eq!(
        out.due_waiters(&mut host, NOW, NOW_MS + 2000),
        vec![waiter(1)]
    );

    // Forgotten requests are never released.
    assert!(out.wait_for_keys(&mut host, 2, no_keys(), NOW, NOW_MS));
    out.forget(2);
    assert_eq!(out.take_all_waiters(), vec![]);

    out.waiters = Waiters::new(1);
    assert!(out.wait_for_keys(&mut host, 3, no_keys(), NOW, NOW_MS));
    assert!(!out.wait_for_keys(&mut host, 4, no_keys(), NOW, NOW_MS));
    assert_eq!(out.take_all_waiters(), vec![waiter(3)]);
}

#[test]
fn compare_and_swap_retries_then_gives_up_until_the_next_tick() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut engine = engine();
    let mut out = Outbound::new(&engine, 1).unwrap();

    // Three lost races: the fourth attempt writes.
    host.conflicts = CAS_ATTEMPTS - 1;
    out.tick(&mut host, &mut engine, NOW);
    assert!(out.has_pending());
    assert_eq!(host.count(|r| matches!(r, Report::RecordBusy { .. })), 0);

    // Four lost races: nothing is fetched, the record stays as it was.
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut out = Outbound::new(&engine, 1).unwrap();
    host.conflicts = CAS_ATTEMPTS;
    out.tick(&mut host, &mut engine, NOW);
    assert!(!out.has_pending());
    assert_eq!(host.count(|r| matches!(r, Report::RecordBusy { .. })), 1);
    assert!(store.borrow().is_empty());
}

#[test]
fn discovery_waits_through_both_calls() {
    let store = Store::default();
    let mut host = MockHost::new(&store);
    let mut engine = engine_with(json!({ "discovery": { "cluster": "idp" } }));
    let mut out = Outbound::new(&engine, 1).unwrap();

    assert!(out.wait_for_keys(&mut host, 1, no_keys(), NOW, NOW_MS));
    out.flush(&mut host, NOW);
    assert_eq!(out.body_limit(1), Some(256 * 1024));
    let document = json!({ "issuer": testkit::ISSUER, "jwks_uri": JWKS_URL }).to_string();
    let released = out.on_response(&mut host, &mut engine, 1, &ok(document.as_bytes()), NOW);
    assert_eq!(released, Some(vec![]), "the JWKS request is next");
    out.flush(&mut host, NOW);
    assert_eq!(
        host.paths(),
        vec![
            "/oauth/v2/anonymous/.well-known/openid-configuration",
            "/jwks"
        ]
    );
    let body = jwks_body(&[TestKey::Es256]);
    let released = out.on_response(&mut host, &mut engine, 2, &ok(&body), NOW);
    assert_eq!(
        released,
        Some(vec![Waiter {
            deadline_ms: NOW_MS + 10_000,
            ..waiter(1)
        }])
    );
    let state: FetchState = RemoteProvider::load(&out.remotes[0], &mut host).0.state;
    assert_eq!(state.jwks_uri(), Some(JWKS_URL));
}
