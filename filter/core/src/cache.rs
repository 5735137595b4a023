//! Per-VM verified-token cache. Signature checks cost 0.4–1.5 ms in Wasm; a cache hit
//! costs one SHA-256 of the token.
//!
//! - Key: SHA-256 of the token bytes (the token itself is never stored).
//! - Value: what a request decision needs: provider, `exp`/`nbf`/skew, scopes and the
//!   claim headers to forward. Only tokens that passed *every* check are stored.
//! - Every hit is re-checked against `now` (`exp`, `nbf`, skew), so a cached token expires
//!   exactly like an uncached one. Route-dependent checks (provider restriction, scopes) are
//!   done per request by the engine.
//! - Bounded by `cache_size` with first-in-first-out eviction; `cache_size = 0` disables it.
//! - [`TokenCache::remove_provider`] drops a provider's entries when its keys are replaced.

use std::collections::{HashMap, VecDeque};

/// What is remembered about a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedToken {
    pub provider: usize,
    pub exp: u64,
    pub nbf: Option<u64>,
    pub scopes: Vec<String>,
    pub headers: Vec<(String, String)>,
}

pub(crate) type TokenHash = [u8; 32];

pub(crate) fn hash_token(token: &str) -> TokenHash {
    hmac_sha256::Hash::hash(token.as_bytes())
}

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    capacity: usize,
    map: HashMap<TokenHash, CachedToken>,
    order: VecDeque<TokenHash>,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity,
            ..TokenCache::default()
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&mut self, key: &TokenHash) -> Option<&CachedToken> {
        let found = self.map.get(key);
        if found.is_some() {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.misses = self.misses.saturating_add(1);
        }
        found
    }

    pub fn insert(&mut self, key: TokenHash, value: CachedToken) {
        if self.capacity == 0 {
            return;
        }
        if self.map.insert(key, value).is_some() {
            return; // already known: keep its queue position
        }
        self.order.push_back(key);
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn remove_provider(&mut self, provider: usize) {
        self.map.retain(|_, v| v.provider != provider);
        let map = &self.map;
        self.order.retain(|k| map.contains_key(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: usize) -> CachedToken {
        CachedToken {
            provider,
            exp: 100,
            nbf: None,
            scopes: vec![],
            headers: vec![],
        }
    }

    #[test]
    fn bounded_fifo_eviction() {
        let mut c = TokenCache::new(2);
        c.insert(hash_token("a"), entry(0));
        c.insert(hash_token("b"), entry(0));
        c.insert(hash_token("c"), entry(0));
        assert_eq!(c.len(), 2);
        assert!(c.get(&hash_token("a")).is_none());
        assert!(c.get(&hash_token("b")).is_some());
        assert!(c.get(&hash_token("c")).is_some());
        assert_eq!((c.hits, c.misses), (2, 1));
    }

    #[test]
    fn zero_capacity_disables() {
        let mut c = TokenCache::new(0);
        c.insert(hash_token("a"), entry(0));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn remove_provider_only_drops_that_provider() {
        let mut c = TokenCache::new(10);
        c.insert(hash_token("a"), entry(0));
        c.insert(hash_token("b"), entry(1));
        c.remove_provider(0);
        assert!(c.get(&hash_token("a")).is_none());
        assert_eq!(c.get(&hash_token("b")).map(|e| e.provider), Some(1));
    }

    #[test]
    fn reinsert_does_not_grow_queue() {
        let mut c = TokenCache::new(2);
        for _ in 0..5 {
            c.insert(hash_token("a"), entry(0));
        }
        c.insert(hash_token("b"), entry(0));
        assert_eq!(c.len(), 2);
        assert!(c.get(&hash_token("a")).is_some());
    }
}
