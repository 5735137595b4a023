//! The host path for signature checks: Envoy's `verify_signature` foreign function behind
//! the core's [`SignatureHost`] trait, and the start-up decision which algorithms use it
//! (the core's known-answer self-test, see `tollgate_core::selftest`).

use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;
use tollgate_core::config::SignaturePath;
use tollgate_core::host_verify::{self, FUNCTION};
use tollgate_core::jwks::Algorithm;
use tollgate_core::selftest;
use tollgate_core::signature::{HostFailure, SignatureHost, Verifiers, HOST_CAPABLE};

/// `verify_signature` through `proxy_call_foreign_function`.
pub(crate) struct EnvoyVerify;

impl SignatureHost for EnvoyVerify {
    fn verify(
        &self,
        hash: &'static str,
        public_key: &[u8],
        signature: &[u8],
        text: &[u8],
    ) -> Result<bool, HostFailure> {
        let arguments = host_verify::encode_arguments(hash, public_key, signature, text);
        let answer = hostcalls::call_foreign_function(FUNCTION, Some(&arguments))
            .map_err(|status: Status| HostFailure(format!("{FUNCTION}: {status:?}")))?;
        let result = host_verify::decode_result(&answer.unwrap_or_default())
            .map_err(|e| HostFailure(e.to_string()))?;
        Ok(result.result)
    }
}

/// The verifiers for `mode`, and the line that says what was chosen. `Err` (the
/// configuration is refused) when `mode` is `host` and an algorithm failed its self-test.
pub(crate) fn choose(mode: SignaturePath) -> Result<(Verifiers, String), String> {
    if mode == SignaturePath::Wasm {
        return Ok((
            Verifiers::pure(),
            "signatures: pure Rust for every algorithm (signature_path: wasm)".into(),
        ));
    }
    let results = selftest::run(&EnvoyVerify);
    let passed = selftest::passed(&results);
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(alg, r)| r.as_ref().err().map(|e| format!("{alg} ({e})")))
        .collect();
    if mode == SignaturePath::Host && !failed.is_empty() {
        return Err(format!(
            "invalid configuration: signature_path: \"host\" needs the host's {FUNCTION} for every algorithm it can serve, but the self-test failed for {}",
            failed.join(", ")
        ));
    }
    let pure: Vec<&str> = Algorithm::ALL
        .iter()
        .filter(|a| !passed.contains(a))
        .map(|a| a.name())
        .collect();
    let line = if passed.is_empty() {
        format!(
            "signatures: pure Rust for every algorithm (host {FUNCTION} unavailable: {})",
            failed.join(", ")
        )
    } else {
        format!(
            "signatures: host {FUNCTION} for {}; pure Rust for {}",
            passed
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
            pure.join(", ")
        )
    };
    debug_assert!(passed.iter().all(|a| HOST_CAPABLE.contains(a)));
    Ok((Verifiers::with_host(Box::new(EnvoyVerify), &passed), line))
}
