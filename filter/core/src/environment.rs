//! What the engine needs to know about a request beyond its headers, behind a small trait so
//! the core stays free of host calls: the connection's client certificate (for
//! certificate-bound tokens, RFC 8705) and the DPoP replay store (shared by the worker VMs of
//! an Envoy process, see [`crate::replay`]). The engine asks only when a token or route
//! needs it, so a plain bearer request costs nothing here.

use crate::replay::{self, Refusal, ReplaySecret, ReplayUnavailable};

/// Why a proof could not be remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RememberError {
    /// It was seen before.
    Replayed,
    /// Its bucket is full of unexpired proofs: the request gets 503 with `Retry-After`
    /// (seconds), and no remembered proof is forgotten to make room.
    Full {
        /// Seconds until room is made by expiry.
        retry_after: u64,
    },
    /// The store is not available: the request gets 503, never a pass.
    Unavailable,
}

impl From<Refusal> for RememberError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Replayed => RememberError::Replayed,
            Refusal::Full { retry_after } => RememberError::Full { retry_after },
        }
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
    /// What is known about the opaque `token` of introspecting `provider`: a stored or just
    /// received verdict, or the failure of the call that just ended ([`crate::introspection`]).
    /// `None`: nothing yet (the request may wait for a call). The default knows nothing.
    fn introspection(
        &mut self,
        provider: crate::config::ProviderId,
        token: &str,
        now: u64,
    ) -> Option<crate::introspection::Known> {
        let _ = (provider, token, now);
        None
    }
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
    secret: ReplaySecret,
    capacity: usize,
    buckets: Vec<Vec<u8>>,
}

impl InMemory {
    /// A store of `replay_entries` proofs and the given client certificate, its buckets
    /// chosen under a fixed secret (tests: a host with one VM uses [`InMemory::with_secret`]
    /// and a random secret).
    pub fn new(client_certificate: Option<[u8; 32]>, replay_entries: usize) -> InMemory {
        InMemory::with_secret(client_certificate, replay_entries, ReplaySecret([7; 16]))
    }

    /// The same with the bucket hash keyed by `secret`.
    pub fn with_secret(
        client_certificate: Option<[u8; 32]>,
        replay_entries: usize,
        secret: ReplaySecret,
    ) -> InMemory {
        InMemory {
            client_certificate,
            secret,
            capacity: replay::bucket_capacity(replay_entries),
            buckets: vec![Vec::new(); replay::BUCKETS],
        }
    }

    /// Proofs remembered now (expired ones included until their bucket is next written).
    pub fn remembered(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.len() / replay::ENTRY_BYTES)
            .sum()
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
        let bucket = self
            .buckets
            .get_mut(replay::bucket_of(&self.secret, key))
            .ok_or(RememberError::Unavailable)?;
        *bucket = replay::remember(Some(bucket), key, remember_until, now, self.capacity)?;
        Ok(())
    }
}
