//! The host side of a request for the core ([`tollgate_core::environment::Environment`]):
//! the TLS client certificate from Envoy's connection properties, and the DPoP replay store
//! in proxy-wasm shared data, shared by every worker VM of the Envoy process.
//!
//! The store's bucket hash is keyed by a secret in shared data too ([`REPLAY_SECRET`]):
//! every VM of the process must choose the same bucket for a proof, and no client may be able
//! to. Each VM's root context creates it when it is missing ([`ensure_replay_secret`], at
//! configuration, before the VM serves requests), and every DPoP request reads it. Two VMs
//! starting at the same instant may both create one (shared data cannot create a key only if
//! it is absent); the later write wins and both read it from then on, so only proofs
//! remembered in that instant, before any listener serves traffic in practice, could be
//! filed under the losing secret.

use proxy_wasm::types::{LogLevel, Status};
use tollgate_core::environment::{Environment, RememberError};
use tollgate_core::replay::{self, ReplaySecret};

use crate::host;

/// Compare-and-swap attempts before a replay bucket update is given up (the request then
/// gets 503: a proof is never let through unremembered).
const CAS_ATTEMPTS: usize = 8;

/// Shared-data name of the replay store's bucket-hash secret.
pub(crate) const REPLAY_SECRET: &str = "tollgate.dpop.replay.secret";

/// Shared-data name prefix of the replay store's buckets (the layout of this version: a
/// fixed number of buckets chosen by a keyed hash).
const BUCKET_PREFIX: &str = "tollgate.dpop.replay.v2.";

/// One request's view of the host. The certificate property is read at most once, and only
/// if a token or route needs it.
pub(crate) struct EnvoyRequest {
    capacity: usize,
    certificate: Option<Option<[u8; 32]>>,
}

impl EnvoyRequest {
    /// For a configuration whose replay store holds `replay_entries` proofs.
    pub(crate) fn new(replay_entries: usize) -> EnvoyRequest {
        EnvoyRequest {
            capacity: replay::bucket_capacity(replay_entries),
            certificate: None,
        }
    }
}

/// The replay store's secret, if it exists.
fn read_replay_secret() -> Option<ReplaySecret> {
    let (value, _) = host::shared_data(REPLAY_SECRET).ok()?;
    let bytes: [u8; 16] = value?.as_slice().try_into().ok()?;
    Some(ReplaySecret(bytes))
}

/// Create the replay store's secret unless another VM of the process already did.
pub(crate) fn ensure_replay_secret() -> Result<(), Status> {
    if read_replay_secret().is_some() {
        return Ok(());
    }
    let candidate = crate::keys::replay_secret();
    host::set_shared_data(REPLAY_SECRET, &candidate.0, None)
}

/// `connection.sha256_peer_certificate_digest`: Envoy gives the SHA-256 of the DER client
/// certificate as 64 hex digits.
fn parse_hex_digest(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = nibble(*text.get(2 * i)?)? << 4 | nibble(*text.get(2 * i + 1)?)?;
    }
    Some(out)
}

impl Environment for EnvoyRequest {
    fn client_certificate_sha256(&mut self) -> Option<[u8; 32]> {
        *self.certificate.get_or_insert_with(|| {
            host::property(&["connection", "sha256_peer_certificate_digest"])
                .and_then(|v| parse_hex_digest(v.trim_ascii()))
        })
    }

    fn remember_proof(
        &mut self,
        key: &[u8; 16],
        remember_until: u64,
        now: u64,
    ) -> Result<(), RememberError> {
        let secret = match read_replay_secret() {
            Some(secret) => secret,
            None => {
                ensure_replay_secret().map_err(|_| RememberError::Unavailable)?;
                read_replay_secret().ok_or(RememberError::Unavailable)?
            }
        };
        let name = format!("{BUCKET_PREFIX}{}", replay::bucket_of(&secret, key));
        for _ in 0..CAS_ATTEMPTS {
            let (record, cas) = host::shared_data(&name).map_err(|_| RememberError::Unavailable)?;
            let next =
                replay::remember(record.as_deref(), key, remember_until, now, self.capacity)?;
            match host::set_shared_data(&name, &next, cas) {
                Ok(()) => return Ok(()),
                Err(Status::CasMismatch) => continue,
                Err(status) => {
                    host::log(
                        LogLevel::Error,
                        &format!("cannot write the DPoP replay store: {status:?}"),
                    );
                    return Err(RememberError::Unavailable);
                }
            }
        }
        Err(RememberError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_64_hex_digits() {
        let hex = "a1".repeat(32);
        assert_eq!(parse_hex_digest(hex.as_bytes()), Some([0xa1; 32]));
        assert_eq!(
            parse_hex_digest("A1".repeat(32).as_bytes()),
            Some([0xa1; 32])
        );
        assert_eq!(parse_hex_digest(b"a1"), None);
        assert_eq!(parse_hex_digest("zz".repeat(32).as_bytes()), None);
    }
}
