//! The benchmark's smallest mode on every algorithm and every path (one verification each):
//! each case verifies and its tampered copy does not, on the native loop, in the Wasm guest
//! under wasmtime, and on the host path, so the benchmark cannot quietly time failing
//! verifications. Shapes only, never timings. Needs the guest module built with
//! `cargo build -p tollgate-sigbench-guest --target wasm32-wasip1 --release` (scripts/build.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use tollgate_sigbench::cases::{self, NAMES};
use tollgate_sigbench::guest::Guest;
use tollgate_sigbench::report::{self, Column, Meta, Run, Size};
use tollgate_sigbench::{check_response, measure, HarnessError, Timing};
use tollgate_sigbench_guest::{tampered, HostArguments, Mode, Outcome, Request, Response};

const HOST_NAMES: [&str; 6] = [
    "ES256",
    "ES384",
    "RS256",
    "RS384",
    "RS512",
    "RS256 (4096-bit)",
];

fn wasm() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(
        || match Guest::wasm("wasm", &tollgate_sigbench::guest_wasm_path()) {
            Ok(guest) => guest,
            Err(e) => panic!("{e}"),
        },
    )
}

fn all_cases() -> Vec<tollgate_sigbench_guest::Case> {
    static CASES: OnceLock<Vec<tollgate_sigbench_guest::Case>> = OnceLock::new();
    CASES.get_or_init(|| cases::all().unwrap()).clone()
}

fn names(figures: &[tollgate_sigbench::Figure]) -> Vec<&str> {
    figures.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn the_cases_are_token_sized_and_signed_at_each_algorithms_length() {
    let cases = all_cases();
    let lengths: Vec<(&str, &str, usize)> = cases
        .iter()
        .map(|c| (c.name.as_str(), c.alg.as_str(), c.signature.len()))
        .collect();
    assert_eq!(
        lengths,
        [
            ("ES256", "ES256", 64),
            ("ES384", "ES384", 96),
            ("ES512", "ES512", 132),
            ("EdDSA", "EdDSA", 64),
            ("RS256", "RS256", 256),
            ("RS384", "RS384", 256),
            ("RS512", "RS512", 256),
            ("PS256", "PS256", 256),
            ("PS384", "PS384", 256),
            ("PS512", "PS512", 256),
            ("RS256 (4096-bit)", "RS256", 512),
        ]
    );
    for case in &cases {
        // A compact token's first two segments, a few hundred bytes like a real access token.
        let text = std::str::from_utf8(&case.text).unwrap();
        assert_eq!(text.split('.').count(), 2, "{}", case.name);
        assert!(
            (250..400).contains(&text.len()),
            "{}: {}",
            case.name,
            text.len()
        );
    }
}

#[test]
fn every_algorithm_verifies_on_every_path() {
    let cases = all_cases();
    let runs: [(&Guest, Mode, &[&str]); 5] = [
        (&Guest::InProcess, Mode::Pure, &NAMES),
        (&Guest::InProcess, Mode::Host, &HOST_NAMES),
        (&Guest::InProcess, Mode::HostGlue, &HOST_NAMES),
        (wasm(), Mode::Pure, &NAMES),
        (wasm(), Mode::HostGlue, &HOST_NAMES),
    ];
    for (guest, mode, expected) in runs {
        let figures = measure(guest, mode, &cases, Timing::SMOKE)
            .unwrap_or_else(|e| panic!("{} {mode}: {e}", guest.label()));
        assert_eq!(names(&figures), expected, "{} {mode}", guest.label());
        for f in &figures {
            assert_eq!((f.iterations, f.batch_nanos.len()), (1, 1), "{}", f.name);
        }
    }
}

#[test]
fn a_signature_that_does_not_verify_stops_the_run_on_every_path() {
    let mut bad = cases::case("ES256").unwrap();
    bad.signature = tampered(&bad.signature);
    let bad = [bad];
    for (guest, label) in [(&Guest::InProcess, "in-process"), (wasm(), "wasm")] {
        assert_eq!(
            measure(guest, Mode::Pure, &bad, Timing::SMOKE),
            Err(HarnessError::Refused {
                guest: label.into(),
                message: "ES256 (pure): the signature does not verify".into()
            })
        );
    }
    assert_eq!(
        measure(&Guest::InProcess, Mode::Host, &bad, Timing::SMOKE),
        Err(HarnessError::Refused {
            guest: "in-process".into(),
            message: "ES256 (host): the signature does not verify".into()
        })
    );
    // The glue has no verdict of its own: the harness asks a host about what it would send.
    assert_eq!(
        measure(wasm(), Mode::HostGlue, &bad, Timing::SMOKE),
        Err(HarnessError::Check {
            guest: "wasm".into(),
            case: "ES256".into(),
            what: "a host does not accept the glue's arguments".into()
        })
    );
}

fn outcome(mode: Mode) -> Outcome {
    Outcome {
        name: "ES256".into(),
        alg: "ES256".into(),
        mode,
        valid: Some(true),
        tampered: Some(false),
        arguments: None,
        iterations: 1,
        batch_nanos: vec![1000],
    }
}

#[test]
fn answers_that_do_not_hold_up_are_refused() {
    let request = Request {
        mode: Mode::Pure,
        batch_micros: 0,
        batches: 1,
        cases: vec![cases::case("ES256").unwrap()],
    };
    let answer = |outcomes: Vec<Outcome>| Response {
        arch: "wasm32".into(),
        outcomes,
    };
    let check = |response: &Response| check_response("g", "wasm32", &request, response);
    let what = |case: &str, what: &str| {
        Err(HarnessError::Check {
            guest: "g".into(),
            case: case.into(),
            what: what.into(),
        })
    };
    assert_eq!(check(&answer(vec![outcome(Mode::Pure)])), Ok(()));

    let mut native = answer(vec![outcome(Mode::Pure)]);
    native.arch = "x86_64".into();
    assert_eq!(
        check(&native),
        what("-", "the loop ran on x86_64, not wasm32")
    );
    assert_eq!(
        check(&answer(vec![])),
        what("-", "answered for [], asked for [\"ES256\"]")
    );
    let mut o = outcome(Mode::Pure);
    o.valid = Some(false);
    assert_eq!(
        check(&answer(vec![o])),
        what("ES256", "the signature did not verify")
    );
    let mut o = outcome(Mode::Pure);
    o.tampered = Some(true);
    assert_eq!(
        check(&answer(vec![o])),
        what("ES256", "the tampered signature was not refused")
    );
    let mut o = outcome(Mode::Pure);
    o.batch_nanos.clear();
    assert_eq!(
        check(&answer(vec![o])),
        what("ES256", "not the requested batches")
    );
    assert_eq!(
        check(&answer(vec![outcome(Mode::Host)])),
        what("ES256", "measured in another mode")
    );

    // Host-glue answers: the arguments must be accepted, their tampered copy refused.
    let glue_request = Request {
        mode: Mode::HostGlue,
        ..request.clone()
    };
    let good = &measure(
        &Guest::InProcess,
        Mode::HostGlue,
        &request.cases,
        Timing::SMOKE,
    );
    assert!(good.is_ok(), "{good:?}");
    let glue = Guest::InProcess
        .run(&glue_request)
        .unwrap()
        .outcomes
        .remove(0);
    let arguments = glue.arguments.clone().unwrap();
    let swapped = Outcome {
        arguments: Some(HostArguments {
            valid: arguments.tampered.clone(),
            tampered: arguments.valid.clone(),
        }),
        ..glue.clone()
    };
    let same = Outcome {
        arguments: Some(HostArguments {
            valid: arguments.valid.clone(),
            tampered: arguments.valid.clone(),
        }),
        ..glue.clone()
    };
    let missing = Outcome {
        arguments: None,
        ..glue
    };
    let check_glue = |o: Outcome| check_response("g", "wasm32", &glue_request, &answer(vec![o]));
    assert_eq!(
        check_glue(swapped),
        what("ES256", "a host does not accept the glue's arguments")
    );
    assert_eq!(
        check_glue(same),
        what("ES256", "a host does not refuse the tampered arguments")
    );
    assert_eq!(
        check_glue(missing),
        what("ES256", "no host arguments to check")
    );
}

#[test]
fn a_missing_guest_build_fails_with_the_build_command() {
    let missing = std::path::Path::new("no-such-guest.wasm");
    let Err(HarnessError::Guest { reason, .. }) = Guest::wasm("wasm", missing) else {
        panic!("loaded a module that does not exist");
    };
    assert!(
        reason.contains("cargo build -p tollgate-sigbench-guest --target wasm32-wasip1 --release"),
        "{reason}"
    );
    let Err(HarnessError::Guest { reason, .. }) = Guest::native("native", missing) else {
        panic!("found a program that does not exist");
    };
    assert!(
        reason.contains("cargo build -p tollgate-sigbench-guest --release"),
        "{reason}"
    );
}

fn meta(load: &str) -> Meta {
    Meta {
        date: "2026-12-02 10:00 UTC".into(),
        nproc: 2,
        cpu_model: "Test CPU".into(),
        load_start: vec![load.into(), "0.50".into(), "0.40".into()],
        load_end: vec!["0.30".into(), "0.40".into(), "0.40".into()],
        wasmtime: "48.0.8".into(),
        level: "s".into(),
        alt_level: "3".into(),
        timing: Timing::SMOKE,
        command: "tollgate-sigbench --smoke".into(),
    }
}

#[test]
fn the_report_has_a_row_per_algorithm_and_says_how_it_was_taken() {
    let cases = all_cases();
    let col = |mode| Column {
        heading: format!("{mode}"),
        figures: measure(&Guest::InProcess, mode, &cases, Timing::SMOKE).unwrap(),
    };
    let run = Run {
        meta: meta("0.70"),
        native: col(Mode::Pure),
        wasm: col(Mode::Pure),
        wasm_alt: col(Mode::Pure),
        host: col(Mode::Host),
        glue: col(Mode::HostGlue),
        sizes: vec![Size {
            artefact: "tollgate_filter.wasm".into(),
            bytes: 800_000,
            alt_bytes: 1_000_000,
        }],
    };
    let md = report::markdown(&run);
    assert!(md.contains("load average at start 0.70 0.50 0.40 (a loaded machine)"));
    assert!(md.contains("**Figures from a loaded machine** (load average 0.70 on 2 CPUs"));
    assert!(md.contains("Envoy runs the filter on V8, not wasmtime"));
    assert!(md.contains("| algorithm | native (opt-level \"s\") | Wasm, opt-level \"s\" (shipped) | Wasm, opt-level 3 |"));
    assert!(md.contains("| `tollgate_filter.wasm` | 800 000 | 1 000 000 | 1.25× |"));
    // One row per algorithm in each of the two tables; the host columns are empty where
    // the host path does not serve the algorithm.
    for name in NAMES {
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {name} |")))
            .collect();
        assert_eq!(rows.len(), 2, "{name}");
        let host_cell = rows[0].split(" | ").nth(6).unwrap();
        assert_eq!(
            host_cell == "—",
            !HOST_NAMES.contains(&name),
            "{name}: {}",
            rows[0]
        );
    }
    let json = report::json(&run);
    assert_eq!(json["meta"]["loaded"], true);
    assert_eq!(json["native"]["figures"].as_array().unwrap().len(), 11);
    assert_eq!(json["host"]["figures"].as_array().unwrap().len(), 6);
    assert_eq!(
        json["wasm"]["figures"][0]["batch_nanos"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The end-to-end benchmark's threshold: 0.3 × the CPUs.
    let quiet = report::markdown(&Run {
        meta: meta("0.50"),
        ..run
    });
    assert!(!quiet.contains("loaded machine"));
    assert!(report::is_loaded(&["0.61".into()], 2));
    assert!(!report::is_loaded(&["0.60".into()], 2));
}

#[test]
fn figures_are_medians_of_the_per_verification_times() {
    assert_eq!(tollgate_sigbench::median(&[1.0, 2.0, 9.0]), 2.0);
    assert_eq!(tollgate_sigbench::median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    assert_eq!(report::micros(612_345.0), "612.3");
    assert_eq!(report::micros(2_481_499.0), "2 481");
    assert_eq!(report::micros(420.0), "0.42");
    assert_eq!(report::grouped(1_234_567), "1 234 567");
}
