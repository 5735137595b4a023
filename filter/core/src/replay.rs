//! Replay detection for DPoP proofs: every accepted proof's key ([`crate::dpop::VerifiedProof`])
//! is remembered until the proof would be stale anyway; a second use within that time is
//! refused.
//!
//! The store is shared by every worker VM of an Envoy process (proxy-wasm shared data, written
//! with compare-and-swap by the glue), split into buckets so that one write copies only a
//! small record: `dpop_replay_cache_size / ENTRIES_PER_BUCKET` buckets, a key's bucket chosen
//! by its first bytes. A bucket record is a list of 24-byte entries (16-byte key, 8-byte
//! little-endian expiry). Writing prunes expired entries; when a bucket is full of unexpired
//! entries the one that expires first is dropped (so under a proof rate above
//! `dpop_replay_cache_size / max_age` per process, the oldest proofs lose their replay
//! protection early; the memory stays bounded: 24 bytes per entry, about 1.5 MiB at the
//! default 65 536).

/// Entries per bucket record.
pub const ENTRIES_PER_BUCKET: usize = 64;
const ENTRY_BYTES: usize = 24;

/// The proof was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed;

/// The store could not be read or written (the glue could not update shared data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayUnavailable;

/// How many buckets a store of `size` entries has (at least one).
pub fn bucket_count(size: usize) -> usize {
    (size / ENTRIES_PER_BUCKET).max(1)
}

/// The bucket of `key` among `buckets`.
pub fn bucket_of(key: &[u8; 16], buckets: usize) -> usize {
    let mut first = [0u8; 8];
    first.copy_from_slice(key.get(..8).unwrap_or(&[0; 8]));
    (u64::from_le_bytes(first) % buckets.max(1) as u64) as usize
}

/// Remember `key` until `expires_at` in the bucket `record` (as stored; `None` or garbage
/// start an empty bucket). `Err(Replayed)` if it is there and unexpired at `now`; otherwise
/// the record to write back.
pub fn remember(
    record: Option<&[u8]>,
    key: &[u8; 16],
    expires_at: u64,
    now: u64,
) -> Result<Vec<u8>, Replayed> {
    let mut entries: Vec<([u8; 16], u64)> = record
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
        return Err(Replayed);
    }
    while entries.len() >= ENTRIES_PER_BUCKET {
        let first = entries
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, e))| *e)
            .map(|(i, _)| i)
            .unwrap_or(0);
        entries.swap_remove(first);
    }
    entries.push((*key, expires_at));
    let mut out = Vec::with_capacity(entries.len() * ENTRY_BYTES);
    for (k, e) in entries {
        out.extend_from_slice(&k);
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
        let r = remember(None, &key(1), 100, 10).unwrap();
        assert_eq!(remember(Some(&r), &key(1), 100, 50), Err(Replayed));
        let r2 = remember(Some(&r), &key(2), 100, 50).unwrap();
        assert_eq!(r2.len(), 48);
        // Expired entries are pruned and may be used again (the proof is stale by then).
        let r3 = remember(Some(&r2), &key(1), 300, 100).unwrap();
        assert_eq!(r3.len(), 24);
    }

    #[test]
    fn a_full_bucket_drops_the_entry_expiring_first() {
        let mut r = Vec::new();
        for i in 0..ENTRIES_PER_BUCKET as u8 {
            r = remember(Some(&r), &key(i), 1000 + u64::from(i), 0).unwrap();
        }
        assert_eq!(r.len(), ENTRIES_PER_BUCKET * ENTRY_BYTES);
        r = remember(Some(&r), &key(200), 5000, 0).unwrap();
        assert_eq!(r.len(), ENTRIES_PER_BUCKET * ENTRY_BYTES);
        assert!(
            remember(Some(&r), &key(0), 1, 0).is_ok(),
            "key 0 expired first and went"
        );
        assert_eq!(remember(Some(&r), &key(1), 1, 0), Err(Replayed));
    }

    #[test]
    fn garbage_records_start_empty_and_buckets_spread() {
        assert!(remember(Some(&[1, 2, 3]), &key(1), 10, 0).is_ok());
        assert_eq!(bucket_count(65_536), 1024);
        assert_eq!(bucket_count(10), 1);
        let buckets = bucket_count(65_536);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..=255u8 {
            let mut k = [0u8; 16];
            k[0] = i;
            k[1] = i.wrapping_mul(7);
            seen.insert(bucket_of(&k, buckets));
        }
        assert!(seen.len() > 200);
    }
}
