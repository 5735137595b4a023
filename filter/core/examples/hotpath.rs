//! Run the engine's per-request paths in a loop, natively, for profiling (e.g. under
//! `valgrind --tool=callgrind`): `cargo run --release -p tollgate-core --features testkit
//! --example hotpath -- cached 100000` (paths: cached, anonymous, miss-es256, miss-eddsa).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Instant;

use tollgate_core::testkit::{self, TestKey, NOW};
use tollgate_core::{CacheSecret, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("cached", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut engine = Engine::from_json(
        testkit::config().to_string().as_bytes(),
        CacheSecret([3, 4]),
    )
    .unwrap();
    let (path, key) = match which {
        "anonymous" => ("/health", TestKey::Es256),
        "miss-eddsa" => ("/orders", TestKey::EdDsa),
        _ => ("/orders", TestKey::Es256),
    };
    let tokens: Vec<String> = if which.starts_with("miss") {
        (0..n.min(20_000))
            .map(|i| {
                let mut c = testkit::claims(NOW);
                c.insert("jti".into(), format!("jti-{i}").into());
                testkit::mint(key, &testkit::header(key), &c)
            })
            .collect()
    } else {
        vec![testkit::token(key, NOW)]
    };
    let requests: Vec<Vec<(String, String)>> = tokens
        .iter()
        .map(|t| {
            let mut h = testkit::request("GET", path, Some(t));
            h.push(("user-agent".into(), "okhttp/4.12.0".into()));
            h.push(("accept".into(), "application/json".into()));
            h.push((
                "x-request-id".into(),
                "4b1f5a0e-9c1d-4c55-b7a4-3e0b0f1d2a77".into(),
            ));
            h
        })
        .collect();
    let start = Instant::now();
    let mut allowed = 0usize;
    for i in 0..n {
        let req = &requests[i % requests.len()];
        if matches!(
            engine.evaluate(req, NOW).outcome,
            tollgate_core::Outcome::Allow(_)
        ) {
            allowed += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{which}: {n} requests, {allowed} allowed, {:.0} ns per request",
        elapsed.as_nanos() as f64 / n as f64
    );
}
