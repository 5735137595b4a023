//! Replay detection for DPoP proofs: every accepted proof's key ([`crate::dpop::VerifiedProof`])
//! is remembered until the proof would be stale anyway; a second use within that time is
//! refused.
//!
//! The store is shared by every worker VM of an Envoy process (proxy-wasm shared data, written
//! with compare-and-swap by the glue), split into [`BUCKETS`] buckets so that one write copies
//! only a small record. A bucket record is a list of 24-byte entries (16-byte key, 8-byte
//! little-endian expiry).
//!
//! Three rules keep the store from being turned against the proofs it protects:
//! - **The bucket is chosen by a keyed hash** ([`bucket_of`], SipHash-1-3 under a
//!   [`ReplaySecret`] drawn once per Envoy process and shared by its workers): a client that
//!   makes its own proofs cannot compute which bucket a proof lands in, so it cannot aim its
//!   proofs at the bucket of a proof it captured.
//! - **A full bucket never forgets early**: writing prunes expired entries only; when a
//!   bucket is full of unexpired entries the NEW proof is refused ([`Refusal::Full`], answered
//!   503 with `Retry-After` until the first entry expires), never an old one dropped. The
//!   store is sized by `dpop_replay_cache_size`: each bucket holds [`bucket_capacity`] proofs
//!   (at least twice the even share, so a store whose live proofs stay below the configured
//!   size refuses almost never: a bucket fills only when the proof rate of the process stays
//!   above about `dpop_replay_cache_size / max_age` proofs a second).
//! - **The layout does not depend on the size**: always [`BUCKETS`] buckets, so plugins
//!   that share a `vm_id` (and so the store) with different sizes still put one proof in one
//!   record; each enforces its own capacity on write.
//!
//! Memory: at most `BUCKETS × bucket_capacity(size) × 24` bytes, about 3 MiB at the default
//! 65 536.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

/// Buckets of every store (whatever its size).
pub const BUCKETS: usize = 1024;
/// Fewest entries a bucket holds, however small the configured size.
pub const MIN_BUCKET_CAPACITY: usize = 4;
/// Bytes of one entry of a bucket record (16-byte key, 8-byte expiry).
pub const ENTRY_BYTES: usize = 24;

/// The key of the bucket hash: draw it at random once per Envoy process, share it between
/// the worker VMs (they must choose the same bucket for the same proof), never log it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplaySecret(pub [u8; 16]);

impl std::fmt::Debug for ReplaySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplaySecret(<redacted>)")
    }
}

/// Why a proof was not remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The proof was seen before and its entry has not expired.
    Replayed,
    /// Its bucket is full of unexpired proofs: the new proof is refused (fail closed) until
    /// the first of them expires, in `retry_after` seconds.
    Full {
        /// Seconds until the bucket's first entry expires (at least 1).
        retry_after: u64,
    },
}

/// The store could not be read or written (the glue could not update shared data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayUnavailable;

/// How many proofs one bucket of a store sized for `size` proofs holds: twice the even share,
/// rounded up, and at least [`MIN_BUCKET_CAPACITY`].
pub fn bucket_capacity(size: usize) -> usize {
    size.saturating_mul(2)
        .div_ceil(BUCKETS)
        .max(MIN_BUCKET_CAPACITY)
}

/// The bucket of `key`, under `secret`.
pub fn bucket_of(secret: &ReplaySecret, key: &[u8; 16]) -> usize {
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(secret.0.get(..8).unwrap_or(&[0; 8]));
    k1.copy_from_slice(secret.0.get(8..).unwrap_or(&[0; 8]));
    let mut h = SipHasher13::new_with_keys(u64::from_le_bytes(k0), u64::from_le_bytes(k1));
    h.write(key);
    (h.finish() % BUCKETS as u64) as usize
}

/// Remember `key` until `expires_at` in the bucket `record` (as stored; `None` or garbage
/// start an empty bucket) holding at most `capacity` entries. `Err(Replayed)` if it is there
/// and unexpired at `now`; `Err(Full)` if the bucket holds `capacity` unexpired entries;
/// otherwise the record to write back.
pub fn remember(
    record: Option<&[u8]>,
    key: &[u8; 16],
    expires_at: u64,
    now: u64,
    capacity: usize,
) -> Result<Vec<u8>, Refusal> {
    let entries: Vec<([u8; 16], u64)> = record
        .filter(|r| r.len() % ENTRY_BYTES == 0)
        .map(|r| {
            r.chunks_exact(ENTRY_BYTES)
                .filter_map(|c| {
                    let k: [u8; 16] = c.get(..16)?.try_into().ok()?;
                    let e: [u8; 8] = c.get(16..)?.try_into().ok()?;
                    Some((k, u64::from_le_bytes(e)))
                })
                .filter(|(_, e)| *e > now)
                .collect()
        })
        .unwrap_or_default();
    if entries.iter().any(|(k, _)| k == key) {
        return Err(Refusal::Replayed);
    }
    if entries.len() >= capacity.max(1) {
        let first = entries.iter().map(|(_, e)| *e).min().unwrap_or(now);
        return Err(Refusal::Full {
            retry_after: first.saturating_sub(now).max(1),
        });
    }
    let mut out = Vec::with_capacity((entries.len() + 1) * ENTRY_BYTES);
    for (k, e) in entries.iter().chain(std::iter::once(&(*key, expires_at))) {
        out.extend_from_slice(k);
        out.extend_from_slice(&e.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn a_second_use_is_a_replay_until_it_expires() {
        let r = remember(None, &key(1), 100, 10, 4).unwrap();
        assert_eq!(
            remember(Some(&r), &key(1), 100, 50, 4),
            Err(Refusal::Replayed)
        );
        let r2 = remember(Some(&r), &key(2), 100, 50, 4).unwrap();
        assert_eq!(r2.len(), 48);
        // Expired entries are pruned and may be used again (the proof is stale by then).
        let r3 = remember(Some(&r2), &key(1), 300, 100, 4).unwrap();
        assert_eq!(r3.len(), 24);
    }

    #[test]
    fn a_full_bucket_refuses_the_new_proof_and_forgets_nothing() {
        let mut r = Vec::new();
        for i in 0..4u8 {
            r = remember(Some(&r), &key(i), 1000 + u64::from(i), 0, 4).unwrap();
        }
        assert_eq!(
            remember(Some(&r), &key(200), 5000, 10, 4),
            Err(Refusal::Full { retry_after: 990 })
        );
        // Every earlier proof is still a replay.
        for i in 0..4u8 {
            assert_eq!(
                remember(Some(&r), &key(i), 1, 10, 4),
                Err(Refusal::Replayed)
            );
        }
        // Once the first expires, there is room again.
        let r = remember(Some(&r), &key(200), 5000, 1000, 4).unwrap();
        assert_eq!(r.len(), 4 * ENTRY_BYTES);
        assert_eq!(
            remember(Some(&r), &key(1), 1, 1000, 4),
            Err(Refusal::Replayed)
        );
    }

    #[test]
    fn a_record_written_by_a_larger_store_is_full_for_a_smaller_one() {
        let mut r = Vec::new();
        for i in 0..6u8 {
            r = remember(Some(&r), &key(i), 100, 0, 8).unwrap();
        }
        assert!(matches!(
            remember(Some(&r), &key(9), 100, 0, 4),
            Err(Refusal::Full { .. })
        ));
        assert_eq!(
            remember(Some(&r), &key(5), 100, 0, 4),
            Err(Refusal::Replayed)
        );
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let r = remember(None, &key(1), 11, 0, 1).unwrap();
        assert_eq!(
            remember(Some(&r), &key(2), 50, 10, 1),
            Err(Refusal::Full { retry_after: 1 })
        );
    }

    #[test]
    fn capacity_is_twice_the_even_share() {
        assert_eq!(bucket_capacity(65_536), 128);
        assert_eq!(bucket_capacity(1024), 4);
        assert_eq!(bucket_capacity(1), MIN_BUCKET_CAPACITY);
        assert_eq!(bucket_capacity(3000), 6);
        assert_eq!(bucket_capacity(usize::MAX), usize::MAX / BUCKETS + 1);
    }

    #[test]
    fn garbage_records_start_empty() {
        assert!(remember(Some(&[1, 2, 3]), &key(1), 10, 0, 4).is_ok());
    }

    #[test]
    fn buckets_depend_on_the_secret_and_spread() {
        let a = ReplaySecret([1; 16]);
        let b = ReplaySecret([2; 16]);
        let mut seen = std::collections::BTreeSet::new();
        let mut differ = 0;
        for i in 0..=255u8 {
            let mut k = [0u8; 16];
            k[0] = i;
            // Keys that differ only in bytes the old unkeyed layout ignored still spread.
            k[15] = i;
            seen.insert(bucket_of(&a, &k));
            if bucket_of(&a, &k) != bucket_of(&b, &k) {
                differ += 1;
            }
            assert!(bucket_of(&a, &k) < BUCKETS);
        }
        assert!(seen.len() > 200, "{}", seen.len());
        assert!(differ > 250, "{differ}");
        assert_eq!(format!("{a:?}"), "ReplaySecret(<redacted>)");
    }
}
