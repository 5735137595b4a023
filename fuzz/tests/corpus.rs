//! The regression suite of the fuzz targets, run natively by `cargo test`:
//! - the seed corpus in `corpus/<target>/` is exactly what `tollgate_fuzz::seeds` generates
//!   (`TOLLGATE_FUZZ_WRITE_SEEDS=1 cargo test` rewrites it);
//! - every seed and every input in `regressions/<target>/` (crashes the fuzzer found, kept
//!   once fixed) passes its target's invariants;
//! - the oracles are not vacuous: valid seeds are accepted, planted violations are caught.

use std::fs;
use std::path::{Path, PathBuf};

use tollgate_fuzz::targets::{path, token};
use tollgate_fuzz::{seeds, TARGETS};

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
}

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir(kind, target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"));
    out.sort();
    out
}

#[test]
fn seed_corpus_is_generated() {
    let write = std::env::var_os("TOLLGATE_FUZZ_WRITE_SEEDS").is_some();
    for t in TARGETS {
        let want = seeds::seeds(t.name);
        assert!(!want.is_empty(), "target {} has no seeds", t.name);
        let d = dir("corpus", t.name);
        if write {
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            for (name, bytes) in &want {
                fs::write(d.join(name), bytes).unwrap();
            }
        }
        let mut have: Vec<(String, Vec<u8>)> = files("corpus", t.name)
            .into_iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        let mut want = want;
        have.sort();
        want.sort();
        assert!(
            have == want,
            "corpus/{} differs from the generator; run TOLLGATE_FUZZ_WRITE_SEEDS=1 cargo test",
            t.name
        );
    }
}

#[test]
fn every_seed_and_regression_input_keeps_the_invariants() {
    let mut n = 0;
    for t in TARGETS {
        for f in files("corpus", t.name)
            .into_iter()
            .chain(files("regressions", t.name))
        {
            let data = fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| (t.run)(&data));
            assert!(
                outcome.is_ok(),
                "{} broke an invariant on {}",
                t.name,
                f.display()
            );
            n += 1;
        }
    }
    assert!(n > 50, "only {n} inputs");
}

#[test]
fn token_oracle_accepts_valid_tokens_and_rejects_the_rest() {
    let verdict = |name: &str| {
        let data = seeds::seeds("token")
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        token::check(&token::case(&data).unwrap())
    };
    for name in [
        "es256",
        "eddsa",
        "rs256",
        "partner-on-partner-route",
        "scp-array-admin",
        "aud-array-float-dates",
        "raw-valid",
        "eddsa-no-kid",
    ] {
        assert!(
            matches!(verdict(name), token::Verdict::Accept(..)),
            "{name}"
        );
    }
    let expect = [
        ("rogue-key", "key"),
        ("es256-admin-scope-missing", "route scopes"),
        ("expired", "expired"),
        ("alg-mismatch", "algorithm"),
        ("typ-jwt", "typ"),
        ("crit", "crit or jwk"),
        ("duplicate-claim", "payload object"),
        ("lifetime-too-long", "lifetime"),
        ("no-iat", "exp and iat required"),
        ("mutated-signature", "signature"),
        ("raw-garbled", "empty segment"),
    ];
    for (name, why) in expect {
        assert_eq!(verdict(name), token::Verdict::Reject(why), "{name}");
    }
}

#[test]
fn token_oracle_catches_an_accepted_forgery() {
    // The reference refuses a token whose signature segment is spelled non-canonically even
    // though it decodes to the same bytes: "byte-identical to a validly signed token".
    let t = tollgate_core::testkit::token(
        tollgate_core::testkit::TestKey::EdDsa,
        tollgate_core::testkit::NOW,
    );
    let mut bytes = t.clone().into_bytes();
    let last = bytes.last_mut().unwrap();
    *last = if *last == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    let route = &token::ROUTES[0];
    assert!(matches!(
        token::reference(&t, route, tollgate_core::testkit::NOW),
        token::Verdict::Accept(..)
    ));
    assert!(matches!(
        token::reference(&forged, route, tollgate_core::testkit::NOW),
        token::Verdict::Reject(_)
    ));
}

#[test]
fn canonical_path_checker_catches_every_refused_spelling() {
    for bad in [
        "/a/../b", "/a/./b", "//a", "/a//b", "/a%2Fb", "/a%2fb", "/a;b", "/a\\b", "/%6F",
        "/%c3%a9", "/%252e", "/%00", "/%FF", "/a b", "a",
    ] {
        assert!(path::check_canonical(bad).is_err(), "{bad}");
    }
    for good in ["/", "/orders/", "/caf%C3%A9", "/a%2Bb", "/ORDERS/1"] {
        assert_eq!(path::check_canonical(good), Ok(()), "{good}");
    }
}

#[test]
fn method_override_reference() {
    assert!(path::is_method_override("_method"));
    assert!(path::is_method_override("%5Fmethod"));
    assert!(path::is_method_override("%5fMETHOD"));
    assert!(path::is_method_override("_%6Dethod"));
    assert!(!path::is_method_override("_methods"));
    assert!(!path::is_method_override("%+5method"));
}

#[test]
fn every_target_runs_on_hostile_bytes() {
    let long = vec![b'%'; 70_000];
    let inputs: [&[u8]; 6] = [
        b"",
        b"\0",
        b"\0\0\0",
        b"\xff\xfe\xfd",
        b"{\"keys\":[{}]}",
        &long,
    ];
    for t in TARGETS {
        for i in inputs {
            (t.run)(i);
        }
    }
}

#[test]
fn the_attestation_seeds_reach_an_allowed_refresh() {
    use tollgate_core::environment::InMemory;
    use tollgate_core::{CacheSecret, Engine, Outcome};
    let data = fs::read(dir("corpus", "attestation").join("check-valid")).unwrap();
    let parts = tollgate_fuzz::split_parts(&data[1..], 0xff, 3);
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let headers = vec![
        (":method".to_owned(), "POST".to_owned()),
        (":path".to_owned(), "/token".to_owned()),
        (":authority".to_owned(), "login.example.test".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("oauth-client-attestation".to_owned(), text(parts[0])),
        ("oauth-client-attestation-pop".to_owned(), text(parts[1])),
    ];
    let config = tollgate_fuzz::targets::attestation::config().to_string();
    let mut engine = Engine::from_json(config.as_bytes(), CacheSecret([3, 4])).unwrap();
    let mut env = InMemory::new(None, 1024);
    let ev = engine.evaluate_body_in(
        &headers,
        Some(parts[2]),
        &mut env,
        tollgate_core::testkit::NOW,
    );
    assert!(matches!(ev.outcome, Outcome::Allow(_)), "{:?}", ev.outcome);
}
