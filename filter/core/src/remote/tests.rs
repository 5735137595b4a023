//! Decisions of the remote key-fetch state machine, asserted exactly.

use jwt_simple::prelude::*;

use super::record::{shared_data_key, Record};
use super::refresher::refreshers;
use super::*;
use crate::config::ConfigError;
use crate::jwks::{JwksError, SkipReason, SkippedKey};

const A: u64 = 1; // worker ids
const B: u64 = 2;
const T0: u64 = 1_700_000_000;
const ISS: &str = "https://login.example.com/oauth/v2/anon";

/// A fixed-seed TEST-ONLY P-256 public JWK (generated from the seed, not pasted).
fn test_jwk(seed: u8, kid: &str) -> serde_json::Value {
    let pair = ES256KeyPair::from_bytes(&[seed; 32]).unwrap();
    let jwk = pair.public_key().with_key_id(kid).to_jwk();
    serde_json::from_str(&jwk).unwrap()
}

fn jwks(keys: &[serde_json::Value]) -> Vec<u8> {
    serde_json::json!({ "keys": keys }).to_string().into_bytes()
}

fn ok(body: &[u8]) -> HttpResponse<'_> {
    HttpResponse {
        status: Some(200),
        body_size: body.len(),
        body,
    }
}

fn jwks_refresher() -> Refresher {
    Refresher::jwks("idp", "https://login.example.com/oauth/v2/jwks").unwrap()
}

fn discovery_refresher() -> Refresher {
    Refresher::discovery("idp", ISS).unwrap()
}

fn discovery_doc(jwks_uri: &str) -> Vec<u8> {
    serde_json::json!({ "issuer": ISS, "jwks_uri": jwks_uri })
        .to_string()
        .into_bytes()
}

fn fetch(action: Action) -> FetchRequest {
    match action {
        Action::Fetch(req) => req,
        other => panic!("expected Fetch, got {other:?}"),
    }
}

/// Runs a whole successful JWKS fetch for worker `me` starting at `now`.
fn fetch_ok(r: &Refresher, st: &mut FetchState, me: u64, now: u64, body: &[u8]) -> u64 {
    let req = fetch(r.tick(st, me, now));
    assert_eq!(req.step, Step::Jwks);
    let (keys, _) = r.check_jwks(&ok(body)).unwrap();
    r.keys_fetched(st, me, keys.len(), now)
}

// ---------------------------------------------------------------- policy numbers

#[test]
fn refresh_is_80_percent_of_cache_clamped_to_a_minute_and_a_day() {
    let r = jwks_refresher();
    assert_eq!(r.refresh_after_seconds(), 480); // default cache 600 s
    let cases = [
        (0, 60),
        (10, 60),
        (75, 60),
        (76, 60),
        (100, 80),
        (3600, 2880),
        (108_000, 86_400),
        (u64::MAX, 86_400),
    ];
    for (cache, want) in cases {
        assert_eq!(
            r.clone().with_cache_seconds(cache).refresh_after_seconds(),
            want,
            "cache {cache}"
        );
    }
}

#[test]
fn lease_outlives_the_call_timeout() {
    let r = jwks_refresher();
    assert_eq!(r.lease_seconds(), 6); // default 5 000 ms
    for (ms, want) in [(1, 2), (0, 2), (1000, 2), (1001, 3), (2500, 4)] {
        assert_eq!(
            r.clone().with_timeout_ms(ms).lease_seconds(),
            want,
            "{ms} ms"
        );
    }
}

#[test]
fn waits_are_bounded_by_one_timeout_per_step() {
    assert_eq!(jwks_refresher().with_timeout_ms(1500).max_wait_ms(), 1500);
    assert_eq!(
        discovery_refresher().with_timeout_ms(1500).max_wait_ms(),
        3000
    );
}

#[test]
fn backoff_doubles_up_to_its_caps() {
    let r = jwks_refresher();
    let with_keys: Vec<u64> = (1..=10).map(|n| r.backoff_seconds(n, true)).collect();
    assert_eq!(with_keys, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    let without: Vec<u64> = (1..=6).map(|n| r.backoff_seconds(n, false)).collect();
    assert_eq!(without, vec![2, 4, 8, 16, 30, 30]);
    assert_eq!(r.backoff_seconds(u32::MAX, true), 300);
    // Never longer than the regular refresh interval.
    let short = r.clone().with_cache_seconds(60); // refresh after 60 s
    assert_eq!(short.backoff_seconds(6, true), 60);
    assert_eq!(short.backoff_seconds(5, true), 32);
}

#[test]
fn fingerprint_names_kind_cluster_and_source() {
    assert_eq!(
        jwks_refresher().fingerprint(),
        "jwks idp https://login.example.com/oauth/v2/jwks"
    );
    assert_eq!(
        discovery_refresher().fingerprint(),
        format!("discovery idp {ISS}")
    );
    let other_cluster = Refresher::jwks("idp2", "https://login.example.com/oauth/v2/jwks").unwrap();
    assert_ne!(other_cluster.fingerprint(), jwks_refresher().fingerprint());
}

#[test]
fn bad_urls_refuse_the_policy() {
    assert_eq!(Refresher::jwks("c", "/jwks"), Err(UrlError::NotAbsolute));
    assert_eq!(
        Refresher::jwks("c", "ftp://x/jwks"),
        Err(UrlError::UnsupportedScheme)
    );
    assert_eq!(Refresher::discovery("c", "idp"), Err(UrlError::NotAbsolute));
}

// ---------------------------------------------------------------- scheduling

#[test]
fn first_tick_fetches_the_jwks_at_once_and_takes_the_lease() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    assert!(!st.has_keys());
    let req = fetch(r.tick(&mut st, A, T0));
    assert_eq!(
        req,
        FetchRequest {
            step: Step::Jwks,
            cluster: "idp".into(),
            url: HttpUrl::parse("https://login.example.com/oauth/v2/jwks").unwrap(),
            timeout_ms: 5000,
        }
    );
    assert_eq!(
        req.headers(),
        vec![
            (":method".to_string(), "GET".to_string()),
            (":path".to_string(), "/oauth/v2/jwks".to_string()),
            (":authority".to_string(), "login.example.com".to_string()),
            (
                "accept".to_string(),
                "application/jwk-set+json, application/json".to_string()
            ),
        ]
    );
    assert_eq!(
        st.lease(T0),
        Some(Lease {
            holder: A,
            step: Step::Jwks,
            since: T0,
            until: T0 + 6
        })
    );
    assert!(st.fetch_in_flight(T0 + 5));
    assert!(!st.fetch_in_flight(T0 + 6));
}

#[test]
fn only_one_worker_fetches_at_a_time() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    fetch(r.tick(&mut st, A, T0));
    let before = st.clone();
    assert_eq!(r.tick(&mut st, B, T0 + 1), Action::Wait { until: T0 + 6 });
    assert_eq!(r.tick(&mut st, A, T0 + 1), Action::Wait { until: T0 + 6 });
    assert_eq!(
        r.request_without_keys(&mut st, B, T0 + 2),
        Action::Wait { until: T0 + 6 }
    );
    assert_eq!(
        r.unknown_kid(&mut st, B, T0 + 2),
        Action::Wait { until: T0 + 6 }
    );
    assert_eq!(st, before, "waiting changes nothing");
}

#[test]
fn success_schedules_the_refresh_and_releases_the_lease() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    let body = jwks(&[test_jwk(1, "k1"), test_jwk(2, "k2")]);
    let next = fetch_ok(&r, &mut st, A, T0, &body);
    assert_eq!(next, T0 + 480);
    assert_eq!(st.generation(), 1);
    assert!(st.has_keys());
    assert_eq!(st.key_count(), 2);
    assert_eq!(st.fetched_at(), Some(T0));
    assert_eq!(st.age_seconds(T0 + 42), Some(42));
    assert_eq!(st.lease(T0), None);
    assert_eq!(st.failures(), 0);
    assert_eq!(
        r.tick(&mut st, B, T0 + 479),
        Action::Idle { next_at: T0 + 480 }
    );
    let req = fetch(r.tick(&mut st, B, T0 + 480));
    assert_eq!(req.step, Step::Jwks);
    assert_eq!(st.lease(T0 + 480).map(|l| l.holder), Some(B));
    r.keys_fetched(&mut st, B, 1, T0 + 481);
    assert_eq!(st.generation(), 2);
    assert_eq!(st.key_count(), 1);
    assert_eq!(st.next_attempt_at(), T0 + 481 + 480);
}

#[test]
fn failure_keeps_the_keys_and_backs_off() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    fetch_ok(&r, &mut st, A, T0, &jwks(&[test_jwk(1, "k1")]));
    let t = T0 + 480;
    fetch(r.tick(&mut st, A, t));
    assert_eq!(r.fetch_failed(&mut st, A, t + 1), t + 1 + 2);
    assert_eq!(st.failures(), 1);
    assert_eq!(st.generation(), 1, "last good keys stay");
    assert_eq!(st.key_count(), 1);
    assert_eq!(st.lease(t + 1), None);
    assert_eq!(r.tick(&mut st, B, t + 2), Action::Idle { next_at: t + 3 });
    fetch(r.tick(&mut st, B, t + 3));
    assert_eq!(r.fetch_failed(&mut st, B, t + 3), t + 3 + 4);
    fetch(r.tick(&mut st, A, t + 7));
    assert_eq!(r.fetch_failed(&mut st, A, t + 7), t + 7 + 8);
    assert_eq!(st.failures(), 3);
    // Recovery resets the count and returns to the regular schedule.
    fetch(r.tick(&mut st, A, t + 15));
    assert_eq!(r.keys_fetched(&mut st, A, 1, t + 15), t + 15 + 480);
    assert_eq!(st.failures(), 0);
    assert_eq!(st.generation(), 2);
}

#[test]
fn without_keys_requests_wait_for_a_fetch_or_get_a_retry_time() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    // No fetch yet: the request starts one.
    fetch(r.request_without_keys(&mut st, A, T0));
    assert_eq!(
        r.request_without_keys(&mut st, B, T0),
        Action::Wait { until: T0 + 6 }
    );
    assert_eq!(r.fetch_failed(&mut st, A, T0 + 5), T0 + 7);
    // During the backoff: 503 with Retry-After at once.
    assert_eq!(
        r.request_without_keys(&mut st, B, T0 + 5),
        Action::Idle { next_at: T0 + 7 }
    );
    // The backoff without keys is capped at 30 s.
    let mut delays = Vec::new();
    for _ in 0..6 {
        let now = st.next_attempt_at();
        fetch(r.request_without_keys(&mut st, A, now));
        delays.push(r.fetch_failed(&mut st, A, now) - now);
    }
    assert_eq!(delays, vec![4, 8, 16, 30, 30, 30]);
    let now = st.next_attempt_at() - 30;
    assert_eq!(
        r.request_without_keys(&mut st, A, now),
        Action::Idle { next_at: now + 30 }
    );
}

#[test]
fn a_lease_whose_holder_vanished_passes_on_and_late_answers_change_little() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    fetch(r.tick(&mut st, A, T0));
    assert_eq!(r.tick(&mut st, B, T0 + 5), Action::Wait { until: T0 + 6 });
    fetch(r.tick(&mut st, B, T0 + 6));
    assert_eq!(st.lease(T0 + 6).map(|l| l.holder), Some(B));
    // A's late failure neither counts nor releases B's lease.
    let before = st.clone();
    assert_eq!(r.fetch_failed(&mut st, A, T0 + 7), 0);
    assert_eq!(st, before);
    // A's late success still brings fresh keys, but B keeps its lease.
    r.keys_fetched(&mut st, A, 3, T0 + 8);
    assert_eq!(st.generation(), 1);
    assert_eq!(st.key_count(), 3);
    assert_eq!(st.lease(T0 + 8).map(|l| l.holder), Some(B));
    // B finishing releases it.
    r.keys_fetched(&mut st, B, 3, T0 + 9);
    assert_eq!(st.generation(), 2);
    assert_eq!(st.lease(T0 + 9), None);
}

// ---------------------------------------------------------------- unknown kid

#[test]
fn unknown_kid_refetches_at_once_then_at_most_once_per_interval() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    fetch_ok(&r, &mut st, A, T0, &jwks(&[test_jwk(1, "k1")]));
    // Well before the scheduled refresh.
    let req = fetch(r.unknown_kid(&mut st, B, T0 + 5));
    assert_eq!(req.step, Step::Jwks);
    r.keys_fetched(&mut st, B, 1, T0 + 6);
    // A flood of forged kids within the interval: no fetch.
    for now in [T0 + 6, T0 + 20, T0 + 34] {
        let before = st.clone();
        assert_eq!(
            r.unknown_kid(&mut st, A, now),
            Action::RateLimited { until: T0 + 35 }
        );
        assert_eq!(st, before);
    }
    fetch(r.unknown_kid(&mut st, A, T0 + 35));
    assert_eq!(
        r.unknown_kid(&mut st, B, T0 + 36),
        Action::Wait { until: T0 + 41 }
    );
}

#[test]
fn unknown_kid_interval_is_configurable() {
    let r = jwks_refresher().with_refetch_interval_seconds(5);
    let mut st = r.new_state();
    fetch_ok(&r, &mut st, A, T0, &jwks(&[test_jwk(1, "k1")]));
    fetch(r.unknown_kid(&mut st, A, T0 + 1));
    r.keys_fetched(&mut st, A, 1, T0 + 1);
    assert_eq!(
        r.unknown_kid(&mut st, A, T0 + 2),
        Action::RateLimited { until: T0 + 6 }
    );
    fetch(r.unknown_kid(&mut st, A, T0 + 6));
}

#[test]
fn unknown_kid_ignores_the_failure_backoff_but_not_the_interval() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    fetch_ok(&r, &mut st, A, T0, &jwks(&[test_jwk(1, "k1")]));
    for i in 0..6 {
        let now = T0 + 480 + i * 400;
        fetch(r.tick(&mut st, A, now));
        r.fetch_failed(&mut st, A, now);
    }
    let now = T0 + 480 + 5 * 400 + 1;
    assert!(now < st.next_attempt_at(), "in backoff");
    fetch(r.unknown_kid(&mut st, B, now));
    r.fetch_failed(&mut st, B, now + 1);
    assert_eq!(
        r.unknown_kid(&mut st, B, now + 2),
        Action::RateLimited { until: now + 30 }
    );
}

// ---------------------------------------------------------------- answers

#[test]
fn answers_are_checked_status_size_then_body() {
    let r = jwks_refresher().with_max_body_bytes(1000);
    let good = jwks(&[test_jwk(1, "k1")]);
    assert!(good.len() < 1000);
    let status = |s: Option<u32>| HttpResponse {
        status: s,
        body_size: good.len(),
        body: &good,
    };
    assert_eq!(
        r.check_jwks(&status(None)).unwrap_err(),
        FetchError::NoResponse
    );
    for s in [201, 204, 301, 304, 404, 500, 503] {
        assert_eq!(
            r.check_jwks(&status(Some(s))).unwrap_err(),
            FetchError::HttpStatus(s)
        );
    }
    // Oversize as reported by the host: the body is never read.
    let big = HttpResponse {
        status: Some(200),
        body_size: 1001,
        body: &[],
    };
    assert_eq!(
        r.check_jwks(&big).unwrap_err(),
        FetchError::Oversize { size: 1001 }
    );
    // Oversize as read (defensive: the host under-reported).
    let padded = {
        let mut v = good.clone();
        v.resize(1001, b' ');
        v
    };
    let lying = HttpResponse {
        status: Some(200),
        body_size: 10,
        body: &padded,
    };
    assert_eq!(
        r.check_jwks(&lying).unwrap_err(),
        FetchError::Oversize { size: 1001 }
    );
    // Exactly at the cap is fine (trailing spaces are valid JSON whitespace).
    let at_cap = &padded[..1000];
    assert_eq!(r.check_jwks(&ok(at_cap)).unwrap().0.len(), 1);
}

#[test]
fn default_body_cap_is_256_kib() {
    let r = jwks_refresher();
    assert_eq!(r.max_body_bytes(), 262_144);
    let resp = HttpResponse {
        status: Some(200),
        body_size: 262_145,
        body: &[],
    };
    assert_eq!(
        r.check_jwks(&resp).unwrap_err(),
        FetchError::Oversize { size: 262_145 }
    );
}

#[test]
fn garbage_jwks_bodies_are_failures_with_the_exact_reason() {
    let r = jwks_refresher();
    let cases: Vec<(Vec<u8>, JwksError)> = vec![
        (b"".to_vec(), JwksError::NotJson),
        (b"<html>502 Bad Gateway</html>".to_vec(), JwksError::NotJson),
        (b"{\"keys\":".to_vec(), JwksError::NotJson),
        (b"{}".to_vec(), JwksError::NoKeysArray),
        (b"[]".to_vec(), JwksError::NoKeysArray),
        (b"{\"keys\":{}}".to_vec(), JwksError::NoKeysArray),
        (b"{\"keys\":[]}".to_vec(), JwksError::Empty),
        (
            br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","crv":"P-256","x":"!","y":"!"}]}"#
                .to_vec(),
            JwksError::Empty,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            r.check_jwks(&ok(&body)).unwrap_err(),
            FetchError::Jwks(want),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn unusable_keys_are_skipped_one_by_one() {
    let r = jwks_refresher();
    let mut enc = test_jwk(3, "enc");
    enc["use"] = "enc".into();
    let mut bad = test_jwk(4, "bad");
    bad["x"] = "AAAA".into();
    let body = jwks(&[
        test_jwk(1, "k1"),
        enc,
        serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
        bad,
        test_jwk(2, "k2"),
    ]);
    let (keys, skipped) = r.check_jwks(&ok(&body)).unwrap();
    let kids: Vec<_> = keys.keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids, vec![Some("k1"), Some("k2")]);
    assert_eq!(
        skipped,
        vec![
            SkippedKey {
                index: 1,
                kid: Some("enc".into()),
                reason: SkipReason::NotForSignatures
            },
            SkippedKey {
                index: 2,
                kid: Some("hmac".into()),
                reason: SkipReason::UnsupportedKeyType
            },
            SkippedKey {
                index: 3,
                kid: Some("bad".into()),
                reason: SkipReason::BadKeyMaterial
            },
        ]
    );
}

#[test]
fn hostile_bodies_do_not_panic() {
    let r = jwks_refresher();
    let d = discovery_refresher();
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff, 0xfe, 0x00],
        "[".repeat(100_000).into_bytes(),
        "a".repeat(200_000).into_bytes(),
        br#"{"keys":[null,1,"x",[],{"kty":null}]}"#.to_vec(),
        format!(r#"{{"keys":[{}]}}"#, vec!["{}"; 10_000].join(",")).into_bytes(),
        b"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\\ud800\"}]}".to_vec(),
    ];
    for body in &bodies {
        assert!(r.check_jwks(&ok(body)).is_err());
        assert!(d.check_discovery(&ok(body)).is_err());
    }
}

#[test]
fn last_good_keys_survive_a_garbage_answer() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    let good = jwks(&[test_jwk(1, "k1")]);
    fetch_ok(&r, &mut st, A, T0, &good);
    let mut record = Record {
        state: st.clone(),
        jwks: good.clone(),
    };
    // The refresh answers with garbage: the glue records the failure and keeps the bytes.
    let now = T0 + 480;
    fetch(r.tick(&mut record.state, A, now));
    let err = r.check_jwks(&ok(b"{\"keys\":[]}")).unwrap_err();
    assert_eq!(err, FetchError::Jwks(JwksError::Empty));
    r.fetch_failed(&mut record.state, A, now);
    let shared = Record::decode(&record.encode(), &r).unwrap();
    assert_eq!(shared.jwks, good);
    assert_eq!(shared.state.generation(), 1);
    let (keys, _) = shared.key_set().unwrap();
    assert_eq!(keys.keys()[0].kid(), Some("k1"));
}

// ---------------------------------------------------------------- discovery

#[test]
fn discovery_fetches_the_document_then_its_jwks_under_one_lease() {
    let r = discovery_refresher();
    let mut st = r.new_state();
    let req = fetch(r.tick(&mut st, A, T0));
    assert_eq!(req.step, Step::Discovery);
    assert_eq!(req.url.authority(), "login.example.com");
    assert_eq!(
        req.url.path(),
        "/oauth/v2/anon/.well-known/openid-configuration"
    );
    assert_eq!(
        req.headers()[3],
        ("accept".into(), "application/json".into())
    );
    assert_eq!(st.lease(T0).map(|l| l.step), Some(Step::Discovery));

    let doc = discovery_doc("https://keys.example.com/anon/jwks");
    let uri = r.check_discovery(&ok(&doc)).unwrap();
    let next = r.discovered(&mut st, A, &uri, T0 + 1).unwrap();
    assert_eq!(next.step, Step::Jwks);
    assert_eq!(next.cluster, "idp");
    assert_eq!(next.url.authority(), "keys.example.com");
    assert_eq!(next.url.path(), "/anon/jwks");
    assert_eq!(
        st.lease(T0 + 1),
        Some(Lease {
            holder: A,
            step: Step::Jwks,
            since: T0 + 1,
            until: T0 + 7
        })
    );
    assert_eq!(st.jwks_uri(), Some("https://keys.example.com/anon/jwks"));
    r.keys_fetched(&mut st, A, 1, T0 + 2);

    // The refresh reuses the discovered jwks_uri…
    let req = fetch(r.tick(&mut st, B, T0 + 482));
    assert_eq!(req.step, Step::Jwks);
    assert_eq!(req.url.path(), "/anon/jwks");
    // …but after a failure the document is read again.
    r.fetch_failed(&mut st, B, T0 + 483);
    let req = fetch(r.tick(&mut st, B, T0 + 485));
    assert_eq!(req.step, Step::Discovery);
    let next = r.discovered(&mut st, B, &uri, T0 + 486).unwrap();
    r.keys_fetched(&mut st, B, 1, T0 + 487);
    assert_eq!(next.step, Step::Jwks);
    // An unknown kid uses the cached jwks_uri too.
    assert_eq!(fetch(r.unknown_kid(&mut st, A, T0 + 500)).step, Step::Jwks);
    r.keys_fetched(&mut st, A, 1, T0 + 500);
    // And after a day the document is read again.
    assert_eq!(
        fetch(r.tick(&mut st, A, T0 + 486 + 86_400)).step,
        Step::Discovery
    );
}

#[test]
fn discovery_answers_are_checked() {
    let r = discovery_refresher();
    let other = serde_json::json!({ "issuer": "https://evil.example", "jwks_uri": "https://evil.example/jwks" })
        .to_string()
        .into_bytes();
    assert_eq!(
        r.check_discovery(&ok(&other)).unwrap_err(),
        FetchError::Discovery(DiscoveryError::IssuerMismatch)
    );
    assert_eq!(
        r.check_discovery(&ok(&discovery_doc("http://keys.example.com/jwks")))
            .unwrap_err(),
        FetchError::Discovery(DiscoveryError::InsecureJwksUri)
    );
    assert_eq!(
        r.check_discovery(&ok(b"nope")).unwrap_err(),
        FetchError::Discovery(DiscoveryError::NotJson)
    );
    let not_found = HttpResponse {
        status: Some(404),
        body_size: 0,
        body: &[],
    };
    assert_eq!(
        r.check_discovery(&not_found).unwrap_err(),
        FetchError::HttpStatus(404)
    );
    // A provider with a JWKS URL never asks for a discovery document.
    assert_eq!(
        jwks_refresher()
            .check_discovery(&ok(&discovery_doc("https://k.example/jwks")))
            .unwrap_err(),
        FetchError::UnexpectedStep
    );
}

#[test]
fn a_discovery_answer_after_the_lease_passed_on_is_dropped() {
    let r = discovery_refresher();
    let mut st = r.new_state();
    fetch(r.tick(&mut st, A, T0));
    fetch(r.tick(&mut st, B, T0 + 20)); // A's lease ran out; B took over
    let before = st.clone();
    let uri = HttpUrl::parse("https://keys.example.com/jwks").unwrap();
    assert_eq!(
        r.discovered(&mut st, A, &uri, T0 + 21),
        Err(FetchError::LeaseLost)
    );
    assert_eq!(st, before);
}

// ---------------------------------------------------------------- the shared record

#[test]
fn record_round_trips_and_is_shared_between_workers() {
    let r = jwks_refresher();
    // Worker A starts the fetch and publishes the lease.
    let (mut rec_a, err) = Record::decode_or_new(None, &r);
    assert_eq!(err, None);
    fetch(r.tick(&mut rec_a.state, A, T0));
    let shared = rec_a.encode();
    // Worker B reads it and waits.
    let (mut rec_b, _) = Record::decode_or_new(Some(&shared), &r);
    assert_eq!(rec_b, rec_a);
    assert_eq!(
        r.tick(&mut rec_b.state, B, T0 + 1),
        Action::Wait { until: T0 + 6 }
    );
    // A's fetch succeeds: it publishes state and bytes.
    let body = jwks(&[test_jwk(1, "k1"), test_jwk(2, "k2")]);
    let (keys, _) = r.check_jwks(&ok(&body)).unwrap();
    r.keys_fetched(&mut rec_a.state, A, keys.len(), T0 + 1);
    rec_a.jwks = body.clone();
    let shared = rec_a.encode();
    assert!(shared.starts_with(b"tollgate-jwks/1\n{"));
    assert!(shared.ends_with(&body));
    // B sees generation 1 and builds the same key set.
    let rec_b = Record::decode(&shared, &r).unwrap();
    assert_eq!(rec_b.state.generation(), 1);
    assert_eq!(rec_b.state.key_count(), 2);
    let (keys_b, skipped) = rec_b.key_set().unwrap();
    assert!(skipped.is_empty());
    let kids: Vec<_> = keys_b.keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids, vec![Some("k1"), Some("k2")]);
}

#[test]
fn unusable_records_name_the_reason_and_are_replaced() {
    let r = jwks_refresher();
    let mut st = r.new_state();
    let state_line = serde_json::to_string(&st).unwrap();
    let cases: Vec<(Vec<u8>, RecordError)> = vec![
        (b"no newline".to_vec(), RecordError::UnknownFormat),
        (b"something else\n{}\n".to_vec(), RecordError::UnknownFormat),
        (
            format!("tollgate-jwks/2\n{state_line}\n").into_bytes(),
            RecordError::UnsupportedVersion,
        ),
        (b"tollgate-jwks/1\n".to_vec(), RecordError::BadState),
        (b"tollgate-jwks/1\n{}\n".to_vec(), RecordError::BadState),
        (
            format!("tollgate-jwks/1\n{state_line}").into_bytes(),
            RecordError::BadState,
        ),
        (
            format!(
                "tollgate-jwks/1\n{}\n",
                state_line.replacen('{', "{\"extra\":1,", 1)
            )
            .into_bytes(),
            RecordError::BadState,
        ),
        (
            Record::new(discovery_refresher().new_state()).encode(),
            RecordError::OtherSource,
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            Record::decode(&bytes, &r),
            Err(want.clone()),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let (fresh, err) = Record::decode_or_new(Some(&bytes), &r);
        assert_eq!(err, Some(want));
        assert_eq!(fresh, Record::new(r.new_state()));
    }
    // Keys claimed but none stored.
    st.generation = 1;
    assert_eq!(
        Record::decode(&Record::new(st).encode(), &r),
        Err(RecordError::MissingKeys)
    );
    assert_eq!(Record::decode_or_new(Some(&[]), &r).1, None);
}

#[test]
fn shared_data_keys_are_per_provider_and_source() {
    let r = jwks_refresher();
    let key = shared_data_key("idsvr", &r);
    assert!(key.starts_with("tollgate.jwks.v1.idsvr."), "{key}");
    assert_eq!(key.len(), "tollgate.jwks.v1.idsvr.".len() + 16);
    assert_eq!(key, shared_data_key("idsvr", &jwks_refresher()), "stable");
    assert_ne!(key, shared_data_key("other", &r));
    // Another URL, cluster or kind of source: another record.
    let other_url = Refresher::jwks("idp", "https://login.example.com/oauth/v2/jwks2").unwrap();
    let other_cluster = Refresher::jwks("idp2", "https://login.example.com/oauth/v2/jwks").unwrap();
    for other in [other_url, other_cluster, discovery_refresher()] {
        assert_ne!(key, shared_data_key("idsvr", &other));
    }
    // Timing settings do not change where the keys are shared.
    assert_eq!(
        key,
        shared_data_key("idsvr", &r.clone().with_timeout_ms(100))
    );
}

#[test]
fn fetch_errors_have_stable_reasons() {
    let all = [
        (FetchError::Dispatch, "dispatch_failed"),
        (FetchError::NoResponse, "no_response"),
        (FetchError::HttpStatus(500), "http_status"),
        (FetchError::Oversize { size: 1 }, "oversize"),
        (
            FetchError::Discovery(DiscoveryError::NotJson),
            "bad_discovery_document",
        ),
        (FetchError::Jwks(JwksError::Empty), "bad_jwks"),
        (FetchError::LeaseLost, "lease_lost"),
        (FetchError::UnexpectedStep, "unexpected_step"),
    ];
    for (e, reason) in all {
        assert_eq!(e.reason(), reason);
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(FetchError::HttpStatus(503).to_string(), "HTTP status 503");
}

// ---------------------------------------------------------------- from the configuration

fn config(jwks: serde_json::Value, issuer: &str) -> Vec<u8> {
    serde_json::json!({
        "providers": [
            {"name": "local", "issuer": "https://local.example", "audiences": ["api"],
             "jwks": {"inline": {"keys": [test_jwk(9, "inline")]}}},
            {"name": "remote", "issuer": issuer, "audiences": ["api"], "jwks": jwks},
        ],
        "rules": [{"match": {"prefix": "/"}}],
    })
    .to_string()
    .into_bytes()
}

#[test]
fn refreshers_follow_the_configuration() {
    let cfg = crate::config::Config::from_json(&config(
        serde_json::json!({"remote": {"cluster": "keys", "url": "https://k.example:8443/jwks",
            "timeout_ms": 1500, "cache_seconds": 3600, "refetch_interval_seconds": 7}}),
        ISS,
    ))
    .unwrap();
    let rs = refreshers(&cfg).unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0], None, "inline keys are never fetched");
    let r = rs[1].as_ref().unwrap();
    assert_eq!(r.cluster(), "keys");
    assert_eq!(
        r.source(),
        &Source::Jwks(HttpUrl::parse("https://k.example:8443/jwks").unwrap())
    );
    assert_eq!(r.timeout_ms(), 1500);
    assert_eq!(r.refresh_after_seconds(), 2880);
    assert_eq!(r.refetch_interval_seconds(), 7);

    let cfg = crate::config::Config::from_json(&config(
        serde_json::json!({"discovery": {"cluster": "idp"}}),
        "http://127.0.0.1:4000/",
    ))
    .unwrap();
    let r = refreshers(&cfg).unwrap().remove(1).unwrap();
    assert_eq!(
        r.source(),
        &Source::Discovery {
            issuer: "http://127.0.0.1:4000/".into(),
            document: HttpUrl::parse("http://127.0.0.1:4000/.well-known/openid-configuration")
                .unwrap(),
        }
    );
    assert_eq!(r.timeout_ms(), DEFAULT_TIMEOUT_MS);
    assert_eq!(r.refresh_after_seconds(), 480);
    assert_eq!(
        r.refetch_interval_seconds(),
        DEFAULT_REFETCH_INTERVAL_SECONDS
    );
}

#[test]
fn unfetchable_urls_are_configuration_errors_naming_the_field() {
    // The configuration itself refuses them, with the same rule the fetcher uses.
    assert_eq!(
        crate::config::Config::from_json(&config(
            serde_json::json!({"remote": {"cluster": "keys", "url": "https://u:p@k.example/jwks"}}),
            ISS,
        ))
        .unwrap_err(),
        ConfigError {
            field: "providers[1].jwks.remote.url".into(),
            message: "URL must not contain user info (user:password@)".into(),
        }
    );
    let e = crate::config::Config::from_json(&config(
        serde_json::json!({"discovery": {"cluster": "keys"}}),
        "https://login.example.com/#frag",
    ))
    .unwrap_err();
    assert_eq!(e.field, "providers[1].issuer");
    assert_eq!(
        e.message,
        "URL must not contain a fragment (#...) (discovery)"
    );
    for (url, message) in [
        ("ftp://k.example/jwks", "URL scheme must be http or https"),
        (
            "https://k.example/jwks#x",
            "URL must not contain a fragment (#...)",
        ),
        (
            "https://k.example:0/jwks",
            "URL port must be a number from 1 to 65535",
        ),
        ("https:///jwks", "URL has no host"),
        (
            "https://k.example/a b",
            "URL contains a space, a control or a non-ASCII character",
        ),
    ] {
        let e = crate::config::Config::from_json(&config(
            serde_json::json!({"remote": {"cluster": "keys", "url": url}}),
            ISS,
        ))
        .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("providers[1].jwks.remote.url", message),
            "{url}"
        );
    }
}
