//! The shared-data record of one remote provider: the [`FetchState`] plus the bytes of the
//! last accepted JWKS, so that one worker fetches and every worker VM of the process uses
//! the result.
//!
//! Format (version 1), chosen so the small state can be read without copying the JWKS
//! through a JSON string:
//!
//! ```text
//! tollgate-jwks/1\n
//! {"source":"…","generation":3,"fetched_at":…,…}\n      ← FetchState as one JSON line
//! {"keys":[…]}                                          ← the JWKS body exactly as fetched
//! ```
//!
//! The JWKS part is empty until the first success. A record with another magic, another
//! version, an unreadable state line, or written under another configuration of the
//! provider ([`RecordError::OtherSource`]) is not used: the glue starts from
//! [`super::Refresher::new_state`] and overwrites it (compare-and-swap).
//! No `ETag`/`Last-Modified` is kept: key sets are small and fetched rarely.

use std::fmt;

use super::refresher::{FetchState, Refresher};
use crate::jwks::{JwksError, KeySet, SkippedKey};

/// First line of a version-1 record.
pub(crate) const MAGIC_V1: &str = "tollgate-jwks/1";
/// Prefix shared by every version.
const MAGIC_PREFIX: &str = "tollgate-jwks/";

/// Why a stored record was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes do not start with `tollgate-jwks/`.
    UnknownFormat,
    /// A `tollgate-jwks/<n>` record of a version this build does not read.
    UnsupportedVersion,
    /// The state line is missing or not a valid state.
    BadState,
    /// The state says keys were accepted, but the JWKS part is empty.
    MissingKeys,
    /// Written under another source or cluster for the same provider name.
    OtherSource,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordError::UnknownFormat => "not a tollgate key record",
            RecordError::UnsupportedVersion => "key record of an unsupported version",
            RecordError::BadState => "key record state is unreadable",
            RecordError::MissingKeys => "key record claims keys but holds none",
            RecordError::OtherSource => "key record was written for another key source",
        })
    }
}

impl std::error::Error for RecordError {}

/// The shared-data key of a provider's record: `tollgate.jwks.v1.<provider>.<hash>`, where
/// `<hash>` is the FNV-1a 64 hash of [`Refresher::fingerprint`] in hex. Two configurations
/// sharing a `vm_id` with the same provider name but another source or cluster therefore use
/// different records instead of overwriting each other's forever (which would refetch on
/// every tick); a changed configuration starts from a fresh record.
pub(crate) fn shared_data_key(provider_name: &str, refresher: &Refresher) -> String {
    format!(
        "tollgate.jwks.v1.{provider_name}.{:016x}",
        fnv1a64(refresher.fingerprint().as_bytes())
    )
}

/// FNV-1a, 64 bit: stable across builds and processes (unlike `std`'s `RandomState`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One provider's shared record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The fetch state.
    pub state: FetchState,
    /// The last accepted JWKS body (empty before the first success).
    pub jwks: Vec<u8>,
}

impl Record {
    /// A record with `state` and no keys yet.
    pub fn new(state: FetchState) -> Record {
        Record {
            state,
            jwks: Vec::new(),
        }
    }

    /// Serialises the record.
    pub fn encode(&self) -> Vec<u8> {
        // FetchState holds only strings, integers and options: serialising cannot fail;
        // were it ever to, an empty state line decodes as BadState and is overwritten.
        let state = serde_json::to_vec(&self.state).unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC_V1.len() + state.len() + self.jwks.len() + 2);
        out.extend_from_slice(MAGIC_V1.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&state);
        out.push(b'\n');
        out.extend_from_slice(&self.jwks);
        out
    }

    /// Reads a record written for `refresher`'s configuration.
    pub fn decode(bytes: &[u8], refresher: &Refresher) -> Result<Record, RecordError> {
        let (magic, rest) = split_line(bytes).ok_or(RecordError::UnknownFormat)?;
        if magic != MAGIC_V1.as_bytes() {
            return Err(if magic.starts_with(MAGIC_PREFIX.as_bytes()) {
                RecordError::UnsupportedVersion
            } else {
                RecordError::UnknownFormat
            });
        }
        let (state_line, jwks) = split_line(rest).ok_or(RecordError::BadState)?;
        let state: FetchState =
            serde_json::from_slice(state_line).map_err(|_| RecordError::BadState)?;
        if state.source != refresher.fingerprint() {
            return Err(RecordError::OtherSource);
        }
        if state.has_keys() && jwks.is_empty() {
            return Err(RecordError::MissingKeys);
        }
        Ok(Record {
            state,
            jwks: jwks.to_vec(),
        })
    }

    /// The stored record if usable, else a fresh state for `refresher` (the reason is
    /// returned for a log line when there was something unusable).
    pub fn decode_or_new(
        bytes: Option<&[u8]>,
        refresher: &Refresher,
    ) -> (Record, Option<RecordError>) {
        match bytes {
            None | Some([]) => (Record::new(refresher.new_state()), None),
            Some(b) => match Record::decode(b, refresher) {
                Ok(r) => (r, None),
                Err(e) => (Record::new(refresher.new_state()), Some(e)),
            },
        }
    }

    /// The key set of the stored JWKS (a worker that did not fetch it parses it itself).
    pub fn key_set(&self) -> Result<(KeySet, Vec<SkippedKey>), JwksError> {
        KeySet::from_jwks_lenient(&self.jwks)
    }
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let pos = bytes.iter().position(|b| *b == b'\n')?;
    Some((bytes.get(..pos)?, bytes.get(pos + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::fnv1a64;

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        // Test vectors of the FNV reference (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
