//! Per-VM verified-token cache, sized for mobile traffic: many users, each reusing one
//! short-lived token for minutes. A signature check costs tens of microseconds on the host
//! path and hundreds in Wasm; a hit costs one hash of the token and a table look-up.
//!
//! - Key: SipHash-2-4 with a 128-bit output of the token bytes, keyed with a secret the glue
//!   draws at random for each VM ([`CacheSecret`]); the token itself is never stored. Keyed,
//!   the hash is a pseudo-random function: without the secret an attacker cannot make a token
//!   whose key equals another token's (2^-128 per try), and it costs a fraction of a SHA-256.
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
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher24;

use crate::config::ProviderId;
use crate::token::Confirmation;

/// The secret key of the cache's token hash. Draw it at random once per VM and never log it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CacheSecret(pub [u64; 2]);

impl fmt::Debug for CacheSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheSecret(<redacted>)")
    }
}

/// The cache index is keyed by values that are already uniformly random (a keyed hash), so
/// the table hashes them by taking 64 of their bits instead of hashing them again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What is remembered about a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedToken {
    pub provider: ProviderId,
    pub exp: u64,
    /// `exp` plus the provider's clock skew: after this the entry is useless.
    pub valid_until: u64,
    pub nbf: Option<u64>,
    /// What the token is bound to: checked on every hit, never skipped.
    pub confirmation: Confirmation,
    pub scopes: Vec<String>,
    pub headers: std::sync::Arc<[(String, String)]>,
    /// `claims_to_filter_state` values.
    pub filter_state: std::sync::Arc<[(String, String)]>,
    /// `acr` and `auth_time`, for routes with step-up (checked on every hit).
    pub auth: crate::step_up::AuthClaims,
    /// The `client_id` claim, kept only when client attestation is configured (a route
    /// may compare it with an attestation's `sub`).
    pub client_id: Option<String>,
    /// Introspection with `forward: "jwt"`: the JWT that replaces `Authorization` upstream.
    pub forward_jwt: Option<std::sync::Arc<str>>,
}

/// The `client_id` claim to keep in a cache entry: only when client attestation is
/// configured (a route may compare it with an attestation's `sub`).
pub(crate) fn attested_client_id(
    config: &crate::config::Config,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    config.client_attestation.as_ref()?;
    claims
        .get("client_id")
        .and_then(|c| c.as_str())
        .map(str::to_owned)
}

pub(crate) type TokenHash = u128;

#[derive(Debug)]
struct Slot {
    hash: TokenHash,
    entry: CachedToken,
    referenced: bool,
}

#[derive(Debug)]
pub(crate) struct TokenCache {
    capacity: usize,
    hasher: SipHasher24,
    index: HashMap<TokenHash, usize, BuildHasherDefault<Prehashed>>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    pub fn new(capacity: usize, secret: CacheSecret) -> TokenCache {
        TokenCache {
            capacity,
            hasher: SipHasher24::new_with_keys(secret.0[0], secret.0[1]),
            index: HashMap::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The cache key of `token`.
    pub fn key(&self, token: &str) -> TokenHash {
        self.hasher.hash(token.as_bytes()).as_u128()
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
            confirmation: Confirmation::default(),
            scopes: vec![],
            headers: std::sync::Arc::from([]),
            filter_state: std::sync::Arc::from([]),
            auth: Default::default(),
            client_id: None,
            forward_jwt: None,
        }
    }

    const SECRET: CacheSecret = CacheSecret([1, 2]);

    fn h(s: &str) -> TokenHash {
        TokenCache::new(0, SECRET).key(s)
    }

    #[test]
    fn keys_depend_on_the_secret() {
        let a = TokenCache::new(1, SECRET).key("token");
        let b = TokenCache::new(1, CacheSecret([1, 3])).key("token");
        assert_ne!(a, b);
        assert_eq!(a, TokenCache::new(9, SECRET).key("token"));
        assert_ne!(a, TokenCache::new(1, SECRET).key("token2"));
        assert_eq!(format!("{SECRET:?}"), "CacheSecret(<redacted>)");
    }

    #[test]
    fn bounded_and_a_hit_keeps_an_entry() {
        let mut c = TokenCache::new(3, SECRET);
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
        let mut c = TokenCache::new(100, SECRET);
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
        let mut c = TokenCache::new(2, SECRET);
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
        let mut c = TokenCache::new(0, SECRET);
        c.insert(h("a"), entry(0, 100), 0);
        assert_eq!(c.len(), 0);
        assert!(c.get(&h("a"), 0).is_none());
    }

    #[test]
    fn remove_provider_only_drops_that_provider() {
        let mut c = TokenCache::new(10, SECRET);
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
        let mut c = TokenCache::new(2, SECRET);
        for _ in 0..5 {
            c.insert(h("a"), entry(0, 100), 0);
        }
        c.insert(h("b"), entry(0, 100), 0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&h("a"), 0).is_some());
    }

    #[test]
    fn churn_keeps_index_and_slots_consistent() {
        let mut c = TokenCache::new(64, SECRET);
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
