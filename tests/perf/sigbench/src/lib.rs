//! The signature micro-benchmark (`make bench-signatures`; `filter/core/README.md` says what
//! it measures): [`cases`] signs one token per algorithm with TEST-ONLY keys, [`guest`] runs
//! the measuring loop (`tollgate-sigbench-guest`) natively, under wasmtime and in this
//! process, [`measure`] checks every answer before taking its figures, and [`report`] writes
//! the tables.
//!
//! The harness itself can be built in any profile: the figures come from the guest builds
//! (the native program and the Wasm modules are built with the filter's release profile);
//! wasmtime's Cranelift compiles the modules to the same code either way.

pub mod cases;
pub mod guest;
pub mod report;

use std::fmt;

use tollgate_core::host_verify;
use tollgate_core::jwks::Algorithm;
use tollgate_core::signature::HOST_CAPABLE;
use tollgate_sigbench_guest::{Case, Mode, Outcome, Request, Response};

use crate::guest::Guest;

/// Why the benchmark cannot give a figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HarnessError {
    /// A guest build could not be loaded or run.
    Guest { guest: String, reason: String },
    /// The guest refused the run (a case failed its check): the guest's message.
    Refused { guest: String, message: String },
    /// The guest's answer does not hold up: `what` says which check failed.
    Check {
        guest: String,
        case: String,
        what: String,
    },
    /// A case could not be signed.
    Signing(String),
    /// The report could not be written.
    Output(String),
    /// Bad command line.
    Usage(String),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Guest { guest, reason } => write!(f, "{guest}: {reason}"),
            HarnessError::Refused { guest, message } => {
                write!(f, "{guest} refused the run: {message}")
            }
            HarnessError::Check { guest, case, what } => write!(f, "{guest}, {case}: {what}"),
            HarnessError::Signing(why) | HarnessError::Output(why) | HarnessError::Usage(why) => {
                f.write_str(why)
            }
        }
    }
}

impl std::error::Error for HarnessError {}

impl From<cases::SigningError> for HarnessError {
    fn from(e: cases::SigningError) -> Self {
        HarnessError::Signing(e.to_string())
    }
}

/// How long each figure is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Target length of one batch, µs (0: one verification per batch).
    pub batch_micros: u64,
    /// Batches per figure; the figure is their median.
    pub batches: usize,
}

impl Timing {
    /// The default run: 11 batches of about 100 ms per figure.
    pub const DEFAULT: Timing = Timing {
        batch_micros: 100_000,
        batches: 11,
    };
    /// `--quick`: 3 batches of about 10 ms.
    pub const QUICK: Timing = Timing {
        batch_micros: 10_000,
        batches: 3,
    };
    /// `--smoke`: one verification per case and path, every check, no meaningful timing.
    pub const SMOKE: Timing = Timing {
        batch_micros: 0,
        batches: 1,
    };
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub alg: String,
    /// Verifications per batch.
    pub iterations: u64,
    pub batch_nanos: Vec<u64>,
    /// Median over the batches of the time per verification, ns.
    pub median_nanos: f64,
}

impl Figure {
    /// Verifications per second at the median.
    pub fn per_second(&self) -> f64 {
        1e9 / self.median_nanos.max(f64::MIN_POSITIVE)
    }
}

/// Whether `mode` serves the case's algorithm (the host modes: the host path's algorithms).
pub fn serves(mode: Mode, case: &Case) -> bool {
    mode == Mode::Pure
        || Algorithm::from_name(&case.alg).is_some_and(|alg| HOST_CAPABLE.contains(&alg))
}

/// Measure `cases` (those the mode serves) on `guest`, check the answer, return the figures.
pub fn measure(
    guest: &Guest,
    mode: Mode,
    cases: &[Case],
    timing: Timing,
) -> Result<Vec<Figure>, HarnessError> {
    let request = Request {
        mode,
        batch_micros: timing.batch_micros,
        batches: timing.batches,
        cases: cases.iter().filter(|c| serves(mode, c)).cloned().collect(),
    };
    let response = guest.run(&request)?;
    check_response(guest.label(), guest.expected_arch(), &request, &response)?;
    Ok(response.outcomes.iter().map(figure).collect())
}

fn figure(outcome: &Outcome) -> Figure {
    let iterations = outcome.iterations.max(1) as f64;
    let mut per: Vec<f64> = outcome
        .batch_nanos
        .iter()
        .map(|n| *n as f64 / iterations)
        .collect();
    per.sort_by(f64::total_cmp);
    Figure {
        name: outcome.name.clone(),
        alg: outcome.alg.clone(),
        iterations: outcome.iterations,
        batch_nanos: outcome.batch_nanos.clone(),
        median_nanos: median(&per),
    }
}

/// Median of sorted values (0 for none).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted.get(n / 2).copied().unwrap_or_default(),
        _ => {
            let a = sorted.get(n / 2 - 1).copied().unwrap_or_default();
            let b = sorted.get(n / 2).copied().unwrap_or_default();
            (a + b) / 2.0
        }
    }
}

/// The verdict of the ABI host's `verify_signature` (Envoy's semantics on ring) on the
/// serialized arguments the glue would send; `None` when the host refuses them.
pub fn host_verdict(arguments: &[u8]) -> Option<bool> {
    let answer = tollgate_abi_tests::foreign::verify_signature(arguments).ok()?;
    host_verify::decode_result(&answer).ok().map(|r| r.result)
}

/// Every check an answer must pass before its times count: it came from the right build,
/// has one outcome per case in order, in the requested mode and number of batches; each
/// signature verified and its tampered copy did not (for host-glue mode: the arguments the
/// glue built are accepted by a host, the tampered ones refused).
pub fn check_response(
    guest: &str,
    arch: &str,
    request: &Request,
    response: &Response,
) -> Result<(), HarnessError> {
    let fail = |case: &str, what: String| HarnessError::Check {
        guest: guest.to_owned(),
        case: case.to_owned(),
        what,
    };
    if response.arch != arch {
        return Err(fail(
            "-",
            format!("the loop ran on {}, not {arch}", response.arch),
        ));
    }
    let names: Vec<&str> = response.outcomes.iter().map(|o| o.name.as_str()).collect();
    let wanted: Vec<&str> = request.cases.iter().map(|c| c.name.as_str()).collect();
    if names != wanted {
        return Err(fail(
            "-",
            format!("answered for {names:?}, asked for {wanted:?}"),
        ));
    }
    for outcome in &response.outcomes {
        let fail = |what: &str| fail(&outcome.name, what.to_owned());
        if outcome.mode != request.mode {
            return Err(fail("measured in another mode"));
        }
        if outcome.iterations == 0 || outcome.batch_nanos.len() != request.batches.max(1) {
            return Err(fail("not the requested batches"));
        }
        match request.mode {
            Mode::HostGlue => {
                let Some(arguments) = &outcome.arguments else {
                    return Err(fail("no host arguments to check"));
                };
                if host_verdict(&arguments.valid) != Some(true) {
                    return Err(fail("a host does not accept the glue's arguments"));
                }
                if host_verdict(&arguments.tampered) != Some(false) {
                    return Err(fail("a host does not refuse the tampered arguments"));
                }
            }
            Mode::Pure | Mode::Host => {
                if outcome.valid != Some(true) {
                    return Err(fail("the signature did not verify"));
                }
                if outcome.tampered != Some(false) {
                    return Err(fail("the tampered signature was not refused"));
                }
            }
        }
    }
    Ok(())
}

/// The workspace's target directory: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    // Read at run time (cargo sets it): a value baked in at compile time goes stale when
    // checkouts share one target directory.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest.join("..").join("..").join("..").join("target")
}

/// The guest module built with the release profile:
/// `$TOLLGATE_SIGBENCH_GUEST_WASM`, else `<target>/wasm32-wasip1/release/tollgate-sigbench-guest.wasm`.
pub fn guest_wasm_path() -> std::path::PathBuf {
    std::env::var_os("TOLLGATE_SIGBENCH_GUEST_WASM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            target_dir()
                .join("wasm32-wasip1")
                .join("release")
                .join("tollgate-sigbench-guest.wasm")
        })
}
