//! The verified-token cache's memory per entry, in the built filter: one VM with the standard
//! test configuration (default `cache_size` 5 000; `sub`, `client_id` and `scope` forwarded as
//! headers) takes 5 000 distinct valid tokens, then 10 000 more (every one evicts an entry),
//! then 100 000 requests of one token; after each step it reports the VM's linear memory.
//! Linear memory grows in 64 KiB pages and never shrinks, so it shows the peak the
//! allocator needed, slack included.
//!
//! `cargo run -p tollgate-abi-tests --example cache_memory [-- --out DIR]` (needs the release
//! filter, see `BUILD_COMMAND`); part of `make bench-signatures`. Writes
//! `<target>/bench/cache-memory.{md,json}` and prints the table. Tokens are ES256 from the
//! testkit's TEST-ONLY key, verified on the host path (this host's `verify_signature`), so the
//! run takes seconds even with the module compiled unoptimised.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use tollgate_abi_tests::{Action, FilterModule, FilterVm};
use tollgate_core::testkit::{self, TestKey, NOW};

/// The default `cache_size`.
const ENTRIES: usize = 5_000;
const EVICTING: usize = 10_000;
const REPEATS: usize = 100_000;

/// Sum of every series of a metric family (`….jwt_cache_miss`).
fn family(vm: &FilterVm, family: &str) -> u64 {
    vm.process()
        .metrics()
        .unwrap()
        .iter()
        .filter(|m| m.name.ends_with(&format!(".{family}")) || m.name == family)
        .map(|m| m.value)
        .sum()
}

/// Send one request that must be forwarded, and end its stream.
fn allowed(vm: &mut FilterVm, headers: &[(String, String)]) {
    let ctx = vm.new_http_context().unwrap();
    let action = vm.on_request_headers(ctx, headers, true).unwrap();
    assert_eq!(action, Action::Continue, "the request was not forwarded");
    assert_eq!(vm.local_response(ctx).unwrap(), None);
    vm.finish(ctx).unwrap();
}

fn distinct_tokens(from: usize, count: usize) -> Vec<Vec<(String, String)>> {
    (from..from + count)
        .map(|i| {
            let mut claims = testkit::claims(NOW);
            claims.insert("jti".into(), format!("cache-memory-{i}").into());
            let token = testkit::mint(TestKey::Es256, &testkit::header(TestKey::Es256), &claims);
            testkit::request("GET", "/orders", Some(&token))
        })
        .collect()
}

struct Step {
    what: String,
    requests: usize,
    memory: usize,
    misses: u64,
    hits: u64,
    seconds: f64,
}

/// The VM's state after a step that began at `t`.
fn step(vm: &mut FilterVm, what: &str, requests: usize, t: Instant) -> Step {
    Step {
        what: what.to_owned(),
        requests,
        memory: vm.memory_size().unwrap(),
        misses: family(vm, "jwt_cache_miss"),
        hits: family(vm, "jwt_cache_hit"),
        seconds: t.elapsed().as_secs_f64(),
    }
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn signed_kib(delta: i64) -> String {
    if delta == 0 {
        "0 (flat)".into()
    } else {
        format!("{:+.1} KiB", delta as f64 / 1024.0)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [] => None,
        [flag, dir] if flag == "--out" => Some(PathBuf::from(dir)),
        _ => {
            eprintln!("usage: cache_memory [--out DIR]");
            std::process::exit(2);
        }
    };
    let out = out.unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
            PathBuf::from,
        );
        target.join("bench")
    });

    let started = Instant::now();
    let module = FilterModule::load().unwrap_or_else(|e| panic!("{e:?}"));
    let mut vm = FilterVm::new(&module).unwrap();
    vm.set_time_seconds(NOW).unwrap();
    assert!(vm.start(testkit::config().to_string().as_bytes()).unwrap());

    eprintln!("minting {} distinct ES256 tokens…", ENTRIES + EVICTING);
    let fill = distinct_tokens(0, ENTRIES);
    let evict = distinct_tokens(ENTRIES, EVICTING);
    let one = testkit::request("GET", "/orders", Some(&testkit::token(TestKey::Es256, NOW)));

    // Warm-up without the cache: whatever the first requests allocate is not the cache's.
    let t = Instant::now();
    let anonymous = testkit::request("GET", "/health", None);
    for _ in 0..10 {
        allowed(&mut vm, &anonymous);
    }
    let started_step = step(&mut vm, "started, 10 anonymous requests", 10, t);
    let verify_calls = vm.verify_signature_calls();

    let t = Instant::now();
    for request in &fill {
        allowed(&mut vm, request);
    }
    let full_step = step(&mut vm, "5 000 distinct tokens (cache full)", ENTRIES, t);
    let host_verified = vm.verify_signature_calls() - verify_calls;

    let t = Instant::now();
    for request in &evict {
        allowed(&mut vm, request);
    }
    let evicted_step = step(
        &mut vm,
        "10 000 more distinct tokens (each evicts one)",
        EVICTING,
        t,
    );

    let t = Instant::now();
    for _ in 0..REPEATS {
        allowed(&mut vm, &one);
    }
    let repeated_step = step(&mut vm, "100 000 requests of one token", REPEATS, t);

    let (base, full) = (started_step.memory, full_step.memory);
    let after_evictions = evicted_step.memory as i64 - full as i64;
    let after_hits = repeated_step.memory as i64 - evicted_step.memory as i64;
    let steps = [started_step, full_step, evicted_step, repeated_step];
    let per_entry = (full - base) as f64 / ENTRIES as f64;
    let mut md = vec![
        "# Verified-token cache: linear memory per entry".to_owned(),
        String::new(),
        format!(
            "The built `tollgate_filter.wasm` in the ABI host (wasmtime), the standard test \
             configuration (default `cache_size` {ENTRIES}, 3 claim headers per entry), ES256 \
             tokens ({host_verified} of the first {ENTRIES} verified on the host path). Linear \
             memory grows in 64 KiB pages and never shrinks."
        ),
        String::new(),
        "| step | requests | cache misses / hits so far | linear memory | change |".to_owned(),
        "|---|--:|--:|--:|--:|".to_owned(),
    ];
    let mut previous: Option<usize> = None;
    for s in &steps {
        let change = previous.map_or("—".to_owned(), |p| signed_kib(s.memory as i64 - p as i64));
        md.push(format!(
            "| {} | {} | {} / {} | {} | {} |",
            s.what,
            s.requests,
            s.misses,
            s.hits,
            kib(s.memory),
            change
        ));
        previous = Some(s.memory);
    }
    md.push(String::new());
    md.push(format!(
        "**{per_entry:.0} bytes per entry** ({} for {ENTRIES} entries); after the cache is full: \
         {} over 10 000 evictions, {} over 100 000 cache hits.",
        kib(full - base),
        signed_kib(after_evictions),
        signed_kib(after_hits),
    ));
    md.push(String::new());
    let md = md.join("\n");
    println!("{md}");

    let json = json!({
        "cache_size": ENTRIES,
        "bytes_per_entry": per_entry,
        "host_verified": host_verified,
        "steps": steps.iter().map(|s| json!({
            "step": s.what, "requests": s.requests, "memory_bytes": s.memory,
            "cache_misses": s.misses, "cache_hits": s.hits, "seconds": s.seconds,
        })).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("cache-memory.md"), &md).unwrap();
    std::fs::write(
        out.join("cache-memory.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
    eprintln!(
        "wrote {} and cache-memory.json in {:.0} s",
        out.join("cache-memory.md").display(),
        started.elapsed().as_secs_f64()
    );
}
