//! ABI tests of the built filter (`tollgate_filter.wasm`) in our wasmtime proxy-wasm host.
//! One module per scenario; all share one compiled module (see `common`).
//!
//! Build the filter first: `cargo build -p tollgate-filter --target wasm32-wasip1 --release`.
//!
//! Every module is marked `#[cfg(test)]` (always true in an integration test) so that
//! clippy treats helper functions as test code (`allow-unwrap-in-tests`).

#[cfg(test)]
mod anonymous_route;
#[cfg(test)]
mod client_attestation;
#[cfg(test)]
mod common;
#[cfg(test)]
mod config_rejected;
#[cfg(test)]
mod cors_and_reconfigure;
#[cfg(test)]
mod dpop_nonce;
#[cfg(test)]
mod expired_token;
#[cfg(test)]
mod forward_token;
#[cfg(test)]
mod hostile_headers;
#[cfg(test)]
mod insufficient_scope;
#[cfg(test)]
mod introspection;
#[cfg(test)]
mod logs_never_carry_the_token;
#[cfg(test)]
mod missing_token;
#[cfg(test)]
mod module_contract;
#[cfg(test)]
mod operator_interface;
#[cfg(test)]
mod provider_metrics;
#[cfg(test)]
mod remote_jwks;
#[cfg(test)]
mod remote_keys_waiting;
#[cfg(test)]
mod remote_workers;
#[cfg(test)]
mod replay_store_eviction;
#[cfg(test)]
mod request_canonicalisation;
#[cfg(test)]
mod resource_metadata;
#[cfg(test)]
mod sender_constrained;
#[cfg(test)]
mod signature_paths;
#[cfg(test)]
mod stream_reset_during_fetch;
#[cfg(test)]
mod token_cache;
#[cfg(test)]
mod two_authorization_headers;
#[cfg(test)]
mod valid_token;
