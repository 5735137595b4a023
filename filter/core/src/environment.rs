//! What the engine needs to know about a request beyond its headers, behind a small trait so
//! the core stays free of host calls: the connection's client certificate (for
//! certificate-bound tokens, RFC 8705) and the DPoP replay store (shared by the worker VMs of
//! an Envoy process, see [`crate::replay`]). The engine asks only when a token or route
//! needs it, so a plain bearer request costs nothing here.

use crate::replay::{self, ReplayUnavailable, Replayed};

/// Why a proof could not be remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RememberError {
    /// It was seen before.
    Replayed,
    /// The store is not available: the request gets 503, never a pass.
    Unavailable,
}

impl From<Replayed> for RememberError {
    fn from(_: Replayed) -> Self {
        RememberError::Replayed
    }
}

impl From<ReplayUnavailable> for RememberError {
    fn from(_: ReplayUnavailable) -> Self {
        RememberError::Unavailable
    }
}

/// The host side of a request.
pub trait Environment {
    /// SHA-256 of the DER client certificate of the connection, if the client presented
    /// one (and TLS verified it).
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]>;
    /// Remember a DPoP proof until `remember_until`; fails if it was remembered before.
    fn remember_proof(
        &mut self,
        key: &[u8; 16],
        remember_until: u64,
        now: u64,
    ) -> Result<(), RememberError>;
}

/// A request without TLS client certificate and without a replay store: certificate-bound
/// tokens and DPoP proofs are refused (the latter with 503, as the store is missing).
#[derive(Debug, Default)]
pub struct Plain;

impl Environment for Plain {
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]> {
        None
    }
    fn remember_proof(&mut self, _: &[u8; 16], _: u64, _: u64) -> Result<(), RememberError> {
        Err(RememberError::Unavailable)
    }
}

/// An in-memory environment (tests, and hosts with one VM): a fixed client certificate and
/// a replay store with the same bucket rules as the shared one.
#[derive(Debug)]
pub struct InMemory {
    /// The client certificate's SHA-256, if any.
    pub client_certificate: Option<[u8; 32]>,
    buckets: Vec<Vec<u8>>,
}

impl InMemory {
    /// A store of `replay_entries` proofs and the given client certificate.
    pub fn new(client_certificate: Option<[u8; 32]>, replay_entries: usize) -> InMemory {
        InMemory {
            client_certificate,
            buckets: vec![Vec::new(); replay::bucket_count(replay_entries)],
        }
    }
}

impl Environment for InMemory {
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]> {
        self.client_certificate
    }
    fn remember_proof(
        &mut self,
        key: &[u8; 16],
        remember_until: u64,
        now: u64,
    ) -> Result<(), RememberError> {
        let n = self.buckets.len();
        let bucket = self
            .buckets
            .get_mut(replay::bucket_of(key, n))
            .ok_or(RememberError::Unavailable)?;
        *bucket = replay::remember(Some(bucket), key, remember_until, now)?;
        Ok(())
    }
}
