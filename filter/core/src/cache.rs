//! Per-VM verified-token cache, sized for mobile traffic: many users, each reusing one
//! short-lived token for minutes. A signature check costs tens of microseconds on the host
//! path and hundreds in Wasm; a hit costs one hash of the token and a table look-up.
//!
//! - Key: SHA-256 of the token bytes (the token itself is never stored).
//! - Value: what a request decision needs: provider, `exp`/`nbf`, scopes and the claim
//!   headers to forward. **Only tokens that passed every check are stored**, so a flood of
//!   forged or garbled tokens never displaces a good entry.
//! - Every hit is re-checked against `now` by the engine, and an entry whose token has
//!   expired (beyond the provider's clock skew) is dropped when it is next looked up or met
//!   by the eviction hand: entries end with their token.
//! - Eviction is CLOCK (second chance): a hit sets the entry's reference bit; when the cache
//!   is full, the hand clears set bits and evicts the first entry found unreferenced (or
//!   expired). Tokens in use stay; a token seen once goes first. O(1) amortised, no
//!   reordering on a hit.
//! - [`TokenCache::remove_provider`] drops a provider's entries when its keys are replaced,
//!   so a key removed from the JWKS stops working at once.
//! - `cache_size = 0` disables the cache.

use std::collections::HashMap;

use crate::config::ProviderId;

/// What is remembered about a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedToken {
    pub provider: ProviderId,
    pub exp: u64,
    /// `exp` plus the provider's clock skew: after this the entry is useless.
    pub valid_until: u64,
    pub nbf: Option<u64>,
    pub scopes: Vec<String>,
    pub headers: Vec<(String, String)>,
}

pub(crate) type TokenHash = [u8; 32];

pub(crate) fn hash_token(token: &str) -> TokenHash {
    hmac_sha256::Hash::hash(token.as_bytes())
}

#[derive(Debug)]
struct Slot {
    hash: TokenHash,
    entry: CachedToken,
    referenced: bool,
}

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    capacity: usize,
    index: HashMap<TokenHash, usize>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            index: HashMap::with_capacity(capacity.min(1 << 16)),
            ..TokenCache::default()
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The entry for `key`, marked as used; an entry whose token expired is dropped.
    pub fn get(&mut self, key: &TokenHash, now: u64) -> Option<&CachedToken> {
        let Some(&at) = self.index.get(key) else {
            self.misses = self.misses.saturating_add(1);
            return None;
        };
        let expired = self
            .slots
            .get(at)
            .and_then(Option::as_ref)
            .is_none_or(|s| now >= s.entry.valid_until);
        if expired {
            self.remove_at(at);
            self.misses = self.misses.saturating_add(1);
            return None;
        }
        self.hits = self.hits.saturating_add(1);
        let slot = self.slots.get_mut(at)?.as_mut()?;
        slot.referenced = true;
        Some(&slot.entry)
    }

    /// Remember a verified token (replacing an entry for the same token).
    pub fn insert(&mut self, key: TokenHash, entry: CachedToken, now: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(&at) = self.index.get(&key) {
            if let Some(Some(slot)) = self.slots.get_mut(at) {
                slot.entry = entry;
                return;
            }
        }
        let at = match self.free.pop() {
            Some(at) => at,
            None if self.slots.len() < self.capacity => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => self.evict(now),
        };
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = Some(Slot {
                hash: key,
                entry,
                referenced: false,
            });
            self.index.insert(key, at);
        }
    }

    /// Free one slot with the CLOCK hand and return it: the first expired or unreferenced
    /// entry, clearing reference bits on the way (at most two turns).
    fn evict(&mut self, now: u64) -> usize {
        let n = self.slots.len();
        for _ in 0..2 * n {
            let at = self.hand % n;
            self.hand = (at + 1) % n;
            match self.slots.get_mut(at) {
                Some(Some(slot)) if slot.referenced && now < slot.entry.valid_until => {
                    slot.referenced = false;
                }
                _ => {
                    self.remove_at(at);
                    self.free.retain(|f| *f != at);
                    return at;
                }
            }
        }
        // Not reached (the second turn finds every bit cleared); stay correct anyway.
        let at = self.hand % n;
        self.remove_at(at);
        self.free.retain(|f| *f != at);
        at
    }

    fn remove_at(&mut self, at: usize) {
        if let Some(slot) = self.slots.get_mut(at) {
            if let Some(old) = slot.take() {
                self.index.remove(&old.hash);
                self.free.push(at);
            }
        }
    }

    pub fn remove_provider(&mut self, provider: ProviderId) {
        for at in 0..self.slots.len() {
            let matches = self
                .slots
                .get(at)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.entry.provider == provider);
            if matches {
                self.remove_at(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: usize, valid_until: u64) -> CachedToken {
        CachedToken {
            provider: ProviderId(provider),
            exp: valid_until,
            valid_until,
            nbf: None,
            scopes: vec![],
            headers: vec![],
        }
    }

    fn h(s: &str) -> TokenHash {
        hash_token(s)
    }

    #[test]
    fn bounded_and_a_hit_keeps_an_entry() {
        let mut c = TokenCache::new(3);
        for t in ["a", "b", "c"] {
            c.insert(h(t), entry(0, 100), 0);
        }
        assert!(c.get(&h("a"), 0).is_some());
        c.insert(h("d"), entry(0, 100), 0);
        assert_eq!(c.len(), 3);
        assert!(c.get(&h("b"), 0).is_none(), "the unreferenced entry went");
        assert!(c.get(&h("a"), 0).is_some(), "the hot entry stayed");
        assert!(c.get(&h("c"), 0).is_some());
        assert!(c.get(&h("d"), 0).is_some());
        assert_eq!((c.hits, c.misses), (4, 1));
    }

    #[test]
    fn hot_entries_survive_a_stream_of_one_time_tokens() {
        let mut c = TokenCache::new(100);
        let hot: Vec<String> = (0..50).map(|i| format!("hot-{i}")).collect();
        for t in &hot {
            c.insert(h(t), entry(0, 1000), 0);
        }
        for round in 0..20 {
            for t in &hot {
                assert!(c.get(&h(t), 0).is_some(), "{t} evicted in round {round}");
            }
            // Fewer one-time tokens between two uses than there are other slots: CLOCK
            // keeps every entry used once per turn of the hand.
            for i in 0..45 {
                c.insert(h(&format!("once-{round}-{i}")), entry(0, 1000), 0);
            }
        }
        assert_eq!(c.len(), 100);
    }

    #[test]
    fn entries_end_with_their_token() {
        let mut c = TokenCache::new(2);
        c.insert(h("short"), entry(0, 10), 0);
        c.insert(h("long"), entry(0, 1000), 0);
        assert!(c.get(&h("short"), 9).is_some());
        assert!(c.get(&h("short"), 10).is_none());
        assert_eq!(c.len(), 1, "dropped at its expiry");
        // When full, an expired entry is evicted before a live unreferenced one.
        c.insert(h("short2"), entry(0, 20), 0);
        c.insert(h("new"), entry(0, 1000), 30);
        assert!(c.get(&h("long"), 30).is_some());
        assert!(c.get(&h("new"), 30).is_some());
    }

    #[test]
    fn zero_capacity_disables() {
        let mut c = TokenCache::new(0);
        c.insert(h("a"), entry(0, 100), 0);
        assert_eq!(c.len(), 0);
        assert!(c.get(&h("a"), 0).is_none());
    }

    #[test]
    fn remove_provider_only_drops_that_provider() {
        let mut c = TokenCache::new(10);
        c.insert(h("a"), entry(0, 100), 0);
        c.insert(h("b"), entry(1, 100), 0);
        c.remove_provider(ProviderId(0));
        assert!(c.get(&h("a"), 0).is_none());
        assert_eq!(c.get(&h("b"), 0).map(|e| e.provider), Some(ProviderId(1)));
        // The freed slot is reused.
        c.insert(h("c"), entry(0, 100), 0);
        assert_eq!(c.slots.len(), 2);
    }

    #[test]
    fn reinsert_replaces_in_place() {
        let mut c = TokenCache::new(2);
        for _ in 0..5 {
            c.insert(h("a"), entry(0, 100), 0);
        }
        c.insert(h("b"), entry(0, 100), 0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&h("a"), 0).is_some());
    }

    #[test]
    fn churn_keeps_index_and_slots_consistent() {
        let mut c = TokenCache::new(64);
        for i in 0..10_000u64 {
            let t = format!("t{}", i % 200);
            if c.get(&h(&t), i / 10).is_none() {
                c.insert(h(&t), entry(0, i / 10 + 50), i / 10);
            }
            if i % 997 == 0 {
                c.remove_provider(ProviderId(0));
            }
            assert!(c.len() <= 64);
            let live = c.slots.iter().filter(|s| s.is_some()).count();
            assert_eq!(live, c.index.len());
        }
    }
}
