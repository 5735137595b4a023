//! Pure token-validation core of tollgate: configuration, key sets, bearer-token
//! validation, route rules, the verified-token cache and the RFC 6750 response mapping.
//!
//! This crate has **no proxy-wasm dependency and never reads a clock**: the glue
//! (`filter/proxy`) passes request headers and the current unix time in, and turns the
//! [`Outcome`] into host calls. See `filter/core/README.md` for the API and decisions, and the
//! module docs of [`token`] for the fixed order of checks.

pub mod attestation;
pub mod config;
pub mod credential;
pub mod dpop;
pub mod dpop_nonce;
pub mod engine;
pub mod environment;
pub mod explain;
pub mod host_verify;
pub mod introspection;
pub mod jwks;
pub mod metadata;
pub mod nonce;
pub mod path;
pub mod remote;
pub mod replay;
pub mod request;
pub mod response;
pub mod scopes;
pub mod selftest;
mod selftest_vectors;
pub mod signature;
pub mod step_up;
pub mod time;
pub mod token;

mod binding;
mod cache;
mod guidance;
mod json;
mod rules;
mod tchar;
mod upstream;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use cache::CacheSecret;
pub use config::{ConfigError, ProviderId};
pub use engine::{
    claim_value, is_claim_header, Allowed, CacheLookup, Engine, Evaluation, HeaderEdit, KeysNeeded,
    Outcome,
};
pub use guidance::DPOP_NONCE_HEADER;
pub use jwks::KeySet;
pub use path::{PathError, PathParameters};
pub use request::RequestError;
pub use response::{Denial, DenialKind, LocalResponse, ALL_REASONS};
pub use token::TokenError;

#[cfg(test)]
mod tests;
