//! How long an introspection answer may be reused, and how it is kept in the process-wide
//! shared cache (proxy-wasm shared data, seen by every worker VM of an Envoy).
//!
//! - **Key**: HMAC-SHA-256 of the endpoint URL, the client id and the token, keyed with a
//!   key derived from the client secret ([`SharedKey`]); 128 bits of it name the entry. The
//!   token is never stored, and without the client secret nobody can tell which token an
//!   entry belongs to or make two tokens share one.
//! - **Expiry** ([`cache_until`]): an active answer until `now + min(cache_seconds,
//!   max-age)`, and never after its `exp`; `cache_seconds: 0` (or `Cache-Control: no-store`,
//!   `no-cache`, `max-age=0`) keeps nothing. A rejected (inactive) answer for
//!   `negative_cache_seconds`. Failures are never kept.
//! - **Bounds**: each introspecting provider has [`SLOTS`] slots (shared-data keys
//!   `tollgate.introspection.<provider>.<slot>`, the slot chosen by the key); an entry
//!   replaces whatever its slot held, and an entry larger than [`MAX_ENTRY_BYTES`] is not
//!   kept. Envoy never frees a shared-data key, so the slots bound the memory: at most
//!   `SLOTS × MAX_ENTRY_BYTES` = 8 MiB per introspecting provider per Envoy process
//!   (typically a few hundred bytes per entry).

use hmac_sha256::{Hash, HMAC};
use serde_json::{Map, Value};

use super::{Introspection, Verdict};
use crate::json;
use crate::token::TokenError;

/// Slots of the shared cache per introspecting provider.
pub const SLOTS: u64 = 1024;

/// Largest entry kept in the shared cache, in bytes.
pub const MAX_ENTRY_BYTES: usize = 8192;

/// The name of a token's entry: a keyed hash (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedKey(pub u128);

impl SharedKey {
    /// The key of `token` for this introspection endpoint and client.
    pub fn of(intro: &Introspection, token: &str) -> SharedKey {
        let mut key_input = b"tollgate introspection cache\0".to_vec();
        key_input.extend_from_slice(intro.client_secret.expose().as_bytes());
        let key = Hash::hash(&key_input);
        let mut mac = HMAC::new(key);
        mac.update(intro.url.authority().as_bytes());
        mac.update(intro.url.path().as_bytes());
        mac.update([0]);
        mac.update(intro.client_id.as_bytes());
        mac.update([0]);
        mac.update(token.as_bytes());
        let digest = mac.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        SharedKey(u128::from_be_bytes(first))
    }

    /// The shared-data key of this entry's slot for `provider` (a provider name).
    pub fn slot_name(&self, provider: &str) -> String {
        let slot = (self.0 as u64) % SLOTS;
        format!("tollgate.introspection.{provider}.{slot}")
    }

    fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

/// A verdict and until when it may be reused (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Reuse ends at this second.
    pub until: u64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Why a shared entry is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The slot holds another token's entry (or nothing).
    Absent,
    /// The entry has expired.
    Expired,
    /// The bytes are not an entry (another version wrote it, or they were damaged).
    Unreadable,
    /// The entry would be larger than [`MAX_ENTRY_BYTES`].
    TooLarge,
}

/// The `max-age` of a `Cache-Control` value: `no-store`, `no-cache` and `private` count as
/// 0; a directive that cannot be read is ignored. `None` when there is no limit.
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    let mut out: Option<u64> = None;
    for directive in cache_control?.split(',') {
        let directive = directive.trim();
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            if let Ok(seconds) = value.trim_matches('"').parse::<u64>() {
                out = Some(out.map_or(seconds, |o| o.min(seconds)));
            }
        }
    }
    out
}

/// Until when a verdict received at `now` may be reused; `None`: not at all.
///
/// Active: `now + min(cache_seconds, max_age)`, never after `exp`. Rejected:
/// `now + negative_cache_seconds`.
pub fn cache_until(
    intro: &Introspection,
    verdict: &Verdict,
    exp: Option<u64>,
    max_age: Option<u64>,
    now: u64,
) -> Option<u64> {
    let life = match verdict {
        Verdict::Active { .. } => {
            let life = max_age.map_or(intro.cache_seconds, |m| m.min(intro.cache_seconds));
            let until = now.saturating_add(life);
            exp.map_or(until, |exp| until.min(exp)).saturating_sub(now)
        }
        Verdict::Rejected(_) => intro.negative_cache_seconds,
    };
    (life > 0).then(|| now.saturating_add(life))
}

/// Rejections that may be stored (the ones [`super::answer`] produces).
const STORED_REJECTIONS: [TokenError; 14] = [
    TokenError::Inactive,
    TokenError::WrongIssuer,
    TokenError::WrongAudience,
    TokenError::MissingExp,
    TokenError::Expired,
    TokenError::NotYetValid,
    TokenError::MissingIssuedAt,
    TokenError::IssuedInFuture,
    TokenError::LifetimeTooLong,
    TokenError::ClaimMismatch,
    TokenError::BadConfirmation,
    TokenError::BadScopeClaim,
    TokenError::InvalidDate,
    TokenError::NotDpopBound,
];

impl Stored {
    /// The entry's bytes for the shared cache.
    pub fn encode(&self, key: SharedKey) -> Result<Vec<u8>, StoreError> {
        let mut entry = Map::new();
        entry.insert("k".into(), Value::String(key.hex()));
        entry.insert("until".into(), Value::from(self.until));
        match &self.verdict {
            Verdict::Active { claims, jwt } => {
                entry.insert("claims".into(), Value::Object(claims.clone()));
                if let Some(jwt) = jwt {
                    entry.insert("jwt".into(), Value::String(jwt.clone()));
                }
            }
            Verdict::Rejected(e) => {
                if !STORED_REJECTIONS.contains(e) {
                    return Err(StoreError::Unreadable);
                }
                entry.insert("rejected".into(), Value::String(e.reason().into()));
            }
        }
        let bytes =
            serde_json::to_vec(&Value::Object(entry)).map_err(|_| StoreError::Unreadable)?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(StoreError::TooLarge);
        }
        Ok(bytes)
    }

    /// The entry of `key` in a slot's bytes, if it is there and not expired at `now`.
    pub fn decode(bytes: &[u8], key: SharedKey, now: u64) -> Result<Stored, StoreError> {
        if bytes.is_empty() {
            return Err(StoreError::Absent);
        }
        let mut entry = json::parse_object(bytes).ok_or(StoreError::Unreadable)?;
        match entry.get("k").and_then(Value::as_str) {
            Some(k) if k == key.hex() => {}
            Some(_) => return Err(StoreError::Absent),
            None => return Err(StoreError::Unreadable),
        }
        let until = entry
            .get("until")
            .and_then(Value::as_u64)
            .ok_or(StoreError::Unreadable)?;
        if now >= until {
            return Err(StoreError::Expired);
        }
        let verdict = match (entry.remove("claims"), entry.remove("rejected")) {
            (Some(Value::Object(claims)), None) => Verdict::Active {
                claims,
                jwt: match entry.remove("jwt") {
                    None => None,
                    Some(Value::String(jwt)) => Some(jwt),
                    Some(_) => return Err(StoreError::Unreadable),
                },
            },
            (None, Some(Value::String(reason))) => Verdict::Rejected(
                STORED_REJECTIONS
                    .into_iter()
                    .find(|e| e.reason() == reason)
                    .ok_or(StoreError::Unreadable)?,
            ),
            _ => return Err(StoreError::Unreadable),
        };
        Ok(Stored { until, verdict })
    }
}
