//! The measuring loop of the signature micro-benchmark (`make bench-signatures`, see
//! `filter/core/README.md`): tollgate-core's [`Verifiers`] on one signing input and signature
//! per [`Case`], timed in batches. The same code runs compiled to wasm32-wasip1 under wasmtime
//! and compiled for the host: the binary reads a [`Request`] as JSON on stdin and writes the
//! [`Response`] on stdout ([`answer`]); the harness's tests also call [`run`] in-process.
//!
//! Before timing, every case is checked: the signature must verify, a copy with one bit
//! flipped must not, and the verdict must come from the path the [`Mode`] measures; then every
//! timed iteration must verify again. A failure of either is an error, never a figure, so the
//! benchmark cannot report the time of failing verifications.

use std::cell::Cell;
use std::fmt;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tollgate_core::host_verify;
use tollgate_core::jwks::Algorithm;
use tollgate_core::signature::{
    HostFailure, KeyMaterial, Path, SignatureHost, Verifiers, HOST_CAPABLE,
};

/// A public key in the form [`KeyMaterial`] imports it (the JWK's members, decoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// EC point: affine coordinates, big-endian, as long as the curve's field elements.
    Ec { x: Vec<u8>, y: Vec<u8> },
    /// Ed25519 public key (32 bytes).
    Ed25519 { x: Vec<u8> },
    /// RSA modulus and public exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// One signature to verify, over and over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Row label, e.g. `RS256 (4096-bit)`.
    pub name: String,
    /// JOSE algorithm name (`ES256`, …).
    pub alg: String,
    pub key: Key,
    /// The JWS signing input (`<b64url header>.<b64url payload>`).
    pub text: Vec<u8>,
    /// The JWS signature (raw `r‖s` for ECDSA).
    pub signature: Vec<u8>,
}

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `Verifiers::pure()`: the pure-Rust verifier, as the filter runs it in the VM for every
    /// algorithm the host path does not serve.
    Pure,
    /// The filter's own share of the host path: `Verifiers::with_host` with a host that
    /// encodes the `verify_signature` arguments as the glue does (after the P1363 → DER
    /// conversion for ECDSA), returns a canned "valid" answer and decodes it. No signature is
    /// checked here; the check run's arguments are returned ([`Outcome::arguments`]) for the
    /// caller to verify on a real host.
    HostGlue,
    /// The whole host path on the host: `Verifiers::with_host` with Envoy's `verify_signature`
    /// semantics on `ring` (`tollgate-reference-crypto`), P1363 → DER included. Host target only.
    Host,
}

impl Mode {
    /// The mode's name as in the JSON (`pure`, `host-glue`, `host`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Pure => "pure",
            Mode::HostGlue => "host-glue",
            Mode::Host => "host",
        }
    }

    /// The path a verdict in this mode must come from.
    fn path(self) -> Path {
        match self {
            Mode::Pure => Path::Wasm,
            Mode::HostGlue | Mode::Host => Path::Host,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to run: every case in one mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub mode: Mode,
    /// Target duration of one timed batch in µs; 0 runs one iteration per batch (the smoke
    /// mode: the checks without the timing).
    pub batch_micros: u64,
    /// Timed batches per case (at least one is run).
    pub batches: usize,
    pub cases: Vec<Case>,
}

/// The `VerifySignatureArguments` the glue would send to the host (host-glue mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostArguments {
    /// For the case's signature: a host must answer "valid".
    pub valid: Vec<u8>,
    /// For the copy with one bit flipped: a host must answer "not valid".
    pub tampered: Vec<u8>,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub name: String,
    pub alg: String,
    pub mode: Mode,
    /// The verdict on the case's signature (`None` in host-glue mode, which has no verdict of
    /// its own: see `arguments`).
    pub valid: Option<bool>,
    /// The verdict on the signature with one bit flipped (`None` in host-glue mode).
    pub tampered: Option<bool>,
    /// Host-glue mode only: what the glue would send to the host.
    pub arguments: Option<HostArguments>,
    /// Verifications per timed batch.
    pub iterations: u64,
    /// Wall time of each timed batch, ns.
    pub batch_nanos: Vec<u64>,
}

/// A whole run's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The architecture the loop ran on (`wasm32`, `x86_64`, …).
    pub arch: String,
    pub outcomes: Vec<Outcome>,
}

/// Why a case could not be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchError {
    /// Not a JOSE algorithm tollgate verifies.
    UnknownAlgorithm(String),
    /// The case's key does not import for its algorithm.
    BadKey { case: String },
    /// The mode cannot run this case here: the host modes serve only the algorithms of
    /// `HOST_CAPABLE`, and `host` runs only on the host target.
    Unsupported { case: String, mode: Mode },
    /// The check before timing failed (`what` says which part).
    CheckFailed {
        case: String,
        mode: Mode,
        what: &'static str,
    },
    /// A timed iteration did not verify (or not on the mode's path).
    NotVerified {
        case: String,
        mode: Mode,
        verified: u64,
        iterations: u64,
    },
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::UnknownAlgorithm(alg) => {
                write!(f, "{alg:?} is not an algorithm tollgate verifies")
            }
            BenchError::BadKey { case } => {
                write!(f, "{case}: the key does not import for its algorithm")
            }
            BenchError::Unsupported { case, mode } => {
                write!(f, "{case}: the {mode} mode cannot run this algorithm here")
            }
            BenchError::CheckFailed { case, mode, what } => {
                write!(f, "{case} ({mode}): {what}")
            }
            BenchError::NotVerified {
                case,
                mode,
                verified,
                iterations,
            } => write!(
                f,
                "{case} ({mode}): only {verified} of {iterations} timed verifications succeeded"
            ),
        }
    }
}

impl std::error::Error for BenchError {}

/// Run every case of `request`.
pub fn run(request: &Request) -> Result<Response, BenchError> {
    let outcomes = request
        .cases
        .iter()
        .map(|case| run_case(case, request))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response {
        arch: std::env::consts::ARCH.to_owned(),
        outcomes,
    })
}

/// The program's work: a JSON [`Request`] in, the JSON [`Response`] out, or the reason why not.
pub fn answer(input: &str) -> Result<String, String> {
    let request: Request = serde_json::from_str(input)
        .map_err(|e| format!("the input is not a benchmark request: {e}"))?;
    let response = run(&request).map_err(|e| e.to_string())?;
    serde_json::to_string(&response).map_err(|e| format!("cannot write the response: {e}"))
}

/// The verifiers of a mode, and where host-glue mode leaves the last arguments it encoded.
struct Setup {
    verifiers: Verifiers,
    sent: Option<Rc<Cell<Vec<u8>>>>,
}

fn setup(mode: Mode, alg: Algorithm, case: &Case) -> Result<Setup, BenchError> {
    let unsupported = || BenchError::Unsupported {
        case: case.name.clone(),
        mode,
    };
    if mode != Mode::Pure && !HOST_CAPABLE.contains(&alg) {
        return Err(unsupported());
    }
    match mode {
        Mode::Pure => Ok(Setup {
            verifiers: Verifiers::pure(),
            sent: None,
        }),
        Mode::HostGlue => {
            let sent = Rc::new(Cell::new(Vec::new()));
            let host = GlueHost { sent: sent.clone() };
            Ok(Setup {
                verifiers: Verifiers::with_host(Box::new(host), &[alg]),
                sent: Some(sent),
            })
        }
        Mode::Host => reference_host(alg)
            .map(|verifiers| Setup {
                verifiers,
                sent: None,
            })
            .ok_or_else(unsupported),
    }
}

/// `VerifySignatureResult { result: true }`, as a host answers a valid signature.
const VALID_ANSWER: [u8; 2] = [0x08, 0x01];

/// The glue's side of `verify_signature` without the call: encode, take an answer, decode.
struct GlueHost {
    sent: Rc<Cell<Vec<u8>>>,
}

impl SignatureHost for GlueHost {
    fn verify(
        &self,
        hash: &'static str,
        public_key: &[u8],
        signature: &[u8],
        text: &[u8],
    ) -> Result<bool, HostFailure> {
        let arguments = host_verify::encode_arguments(hash, public_key, signature, text);
        // The host hands its answer back in a buffer of the VM's own.
        let answer = black_box(&VALID_ANSWER[..]).to_vec();
        let result = host_verify::decode_result(&answer).map_err(|e| HostFailure(e.to_string()))?;
        // Where the glue drops the arguments; the last ones are kept for the check.
        drop(self.sent.replace(arguments));
        Ok(result.result)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn reference_host(alg: Algorithm) -> Option<Verifiers> {
    Some(Verifiers::with_host(
        Box::new(tollgate_core::testkit::ReferenceHost),
        &[alg],
    ))
}

#[cfg(target_arch = "wasm32")]
fn reference_host(_alg: Algorithm) -> Option<Verifiers> {
    None
}

fn import(alg: Algorithm, key: &Key) -> Option<KeyMaterial> {
    match key {
        Key::Ec { x, y } => KeyMaterial::ec(alg, x, y),
        Key::Ed25519 { x } if alg == Algorithm::EdDSA => KeyMaterial::ed25519(x),
        Key::Ed25519 { .. } => None,
        Key::Rsa { n, e } => KeyMaterial::rsa(alg, n, e),
    }
}

/// `signature` with the lowest bit of its last byte flipped.
pub fn tampered(signature: &[u8]) -> Vec<u8> {
    let mut out = signature.to_vec();
    if let Some(last) = out.last_mut() {
        *last ^= 1;
    }
    out
}

fn run_case(case: &Case, request: &Request) -> Result<Outcome, BenchError> {
    let mode = request.mode;
    let alg = Algorithm::from_name(&case.alg)
        .ok_or_else(|| BenchError::UnknownAlgorithm(case.alg.clone()))?;
    let key = import(alg, &case.key).ok_or_else(|| BenchError::BadKey {
        case: case.name.clone(),
    })?;
    let Setup { verifiers, sent } = setup(mode, alg, case)?;
    let failed = |what| BenchError::CheckFailed {
        case: case.name.clone(),
        mode,
        what,
    };

    let flipped = tampered(&case.signature);
    let (valid, valid_path) = verifiers.verify(&key, &case.text, &case.signature);
    let valid_sent = sent.as_ref().map(|s| s.take());
    let (rejected, rejected_path) = verifiers.verify(&key, &case.text, &flipped);
    let rejected_sent = sent.as_ref().map(|s| s.take());
    if valid_path != mode.path() || rejected_path != mode.path() {
        return Err(failed("the verdict came from another path"));
    }
    let (valid, tampered, arguments) = match (valid_sent, rejected_sent) {
        (Some(valid), Some(tampered)) => {
            if valid.is_empty() || tampered.is_empty() {
                return Err(failed("no arguments reached the host"));
            }
            (None, None, Some(HostArguments { valid, tampered }))
        }
        _ => {
            if !valid {
                return Err(failed("the signature does not verify"));
            }
            if rejected {
                return Err(failed("a tampered signature verifies"));
            }
            (Some(valid), Some(rejected), None)
        }
    };

    let timed = |iterations: u64| -> Result<u64, BenchError> {
        let start = Instant::now();
        let mut verified = 0u64;
        for _ in 0..iterations {
            let (ok, path) = verifiers.verify(
                &key,
                black_box(case.text.as_slice()),
                black_box(case.signature.as_slice()),
            );
            verified += u64::from(ok && path == mode.path());
        }
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if verified != iterations {
            return Err(BenchError::NotVerified {
                case: case.name.clone(),
                mode,
                verified,
                iterations,
            });
        }
        Ok(nanos)
    };

    let iterations = iterations_per_batch(request.batch_micros, &timed)?;
    let batch_nanos = (0..request.batches.max(1))
        .map(|_| timed(iterations))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome {
        name: case.name.clone(),
        alg: case.alg.clone(),
        mode,
        valid,
        tampered,
        arguments,
        iterations,
        batch_nanos,
    })
}

/// Iterations that take about `batch_micros`, found by doubling a warm-up run until it lasts a
/// quarter of that (the warm-up is not reported). 0 µs: one iteration.
fn iterations_per_batch(
    batch_micros: u64,
    timed: &dyn Fn(u64) -> Result<u64, BenchError>,
) -> Result<u64, BenchError> {
    if batch_micros == 0 {
        return Ok(1);
    }
    let target = u128::from(batch_micros) * 1000;
    let mut n = 1u64;
    loop {
        let nanos = u128::from(timed(n)?.max(1));
        if nanos * 4 >= target || n >= 1 << 30 {
            let scaled = u128::from(n) * target / nanos;
            return Ok(u64::try_from(scaled).unwrap_or(u64::MAX).max(1));
        }
        n *= 2;
    }
}

#[cfg(test)]
mod tests;
