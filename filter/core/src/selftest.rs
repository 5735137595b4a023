//! Known-answer self-test of the host's `verify_signature`, run once when the plugin starts:
//! for each algorithm the host path could serve, a valid signature must verify and the same
//! signature over a changed text must not. Only algorithms that pass both are sent to the
//! host; the others stay on the pure-Rust path. A host that lacks the function, answers
//! garbage, or accepts a tampered text therefore never decides a token.
//!
//! The vectors ([`VECTORS`], in `selftest_vectors.rs`) are generated from fixed TEST-ONLY
//! keys by `selftest_vectors_are_reproducible` in this crate's tests; they hold public keys
//! and signatures only.

use std::fmt;

use crate::jwks::Algorithm;
use crate::signature::{verify_on_host, KeyMaterial, SignatureHost};

/// One known answer: a public key, a text and its JWS-form signature.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    /// The algorithm.
    pub alg: Algorithm,
    /// `x` and `y` (EC) or `n` and `e` (RSA), big-endian.
    pub key: (&'static [u8], &'static [u8]),
    /// What was signed.
    pub text: &'static [u8],
    /// The signature as a JWS carries it (`r‖s` for ECDSA).
    pub signature: &'static [u8],
}

pub use crate::selftest_vectors::VECTORS;

/// Why an algorithm stays on the pure path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfTestFailure {
    /// The host gave no verdict (the function is missing, or the call failed).
    NoVerdict,
    /// The valid signature was refused.
    RejectedValid,
    /// The signature over a changed text was accepted.
    AcceptedTampered,
}

impl fmt::Display for SelfTestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelfTestFailure::NoVerdict => "the host gave no verdict",
            SelfTestFailure::RejectedValid => "the host refused a valid signature",
            SelfTestFailure::AcceptedTampered => {
                "the host accepted a signature over a changed text"
            }
        })
    }
}

/// The outcome per algorithm, in [`VECTORS`] order.
pub fn run(host: &dyn SignatureHost) -> Vec<(Algorithm, Result<(), SelfTestFailure>)> {
    VECTORS.iter().map(|v| (v.alg, check(host, v))).collect()
}

/// The algorithms that passed.
pub fn passed(results: &[(Algorithm, Result<(), SelfTestFailure>)]) -> Vec<Algorithm> {
    results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(a, _)| *a)
        .collect()
}

fn check(host: &dyn SignatureHost, v: &Vector) -> Result<(), SelfTestFailure> {
    let key = match v.alg {
        Algorithm::ES256 | Algorithm::ES384 => KeyMaterial::ec(v.alg, v.key.0, v.key.1),
        _ => KeyMaterial::rsa(v.alg, v.key.0, v.key.1),
    }
    .ok_or(SelfTestFailure::NoVerdict)?;
    match verify_on_host(host, &key, v.text, v.signature) {
        None => return Err(SelfTestFailure::NoVerdict),
        Some(false) => return Err(SelfTestFailure::RejectedValid),
        Some(true) => {}
    }
    let mut tampered = v.text.to_vec();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    match verify_on_host(host, &key, &tampered, v.signature) {
        None => Err(SelfTestFailure::NoVerdict),
        Some(true) => Err(SelfTestFailure::AcceptedTampered),
        Some(false) => Ok(()),
    }
}
