//! How long an introspection answer may be reused, and how it is kept in the process-wide
//! shared cache (proxy-wasm shared data, seen by every worker VM of an Envoy).
//!
//! - **Key**: HMAC-SHA-256 of the endpoint URL, the client id and the token, keyed with a
//!   key derived from the client secret ([`SharedKey`]); 128 bits of it name the entry. The
//!   token is never stored, and without the client secret nobody can tell which token an
//!   entry belongs to or make two tokens share one.
//! - **Expiry** ([`cache_until`]): an active answer until `now + min(cache_seconds,
//!   max-age)`, and never after its `exp`; `cache_seconds: 0` (or `Cache-Control: max-age=0`)
//!   keeps nothing. A rejected (inactive) answer for
//!   `negative_cache_seconds`. Failures are never kept.
//! - **Bounds**: each introspecting provider has [`BUCKETS`] buckets (shared-data keys
//!   `tollgate.introspection.<provider>.<bucket>`, the bucket chosen by the key, written with
//!   compare-and-swap), each holding up to [`ENTRIES_PER_BUCKET`] entries and
//!   [`MAX_BUCKET_BYTES`] bytes ([`insert`]): a new entry first drops the expired ones and
//!   the token's own older entry, then, if the bucket is still full, the entries that expire
//!   soonest (inactive answers, with their short window, go first). An entry larger than
//!   [`MAX_ENTRY_BYTES`] is not kept. Envoy never frees a shared-data key, so the buckets
//!   bound the memory: at most `BUCKETS × MAX_BUCKET_BYTES` = 16 MiB per introspecting
//!   provider per Envoy process; a JSON answer's entry takes 200–600 bytes, a signed one
//!   1–2 KiB, so 8 192 typical entries take 2–5 MiB.

use hmac_sha256::{Hash, HMAC};
use serde_json::{Map, Value};

use super::{Introspection, Verdict};
use crate::json;
use crate::token::TokenError;

/// Buckets of the shared cache per introspecting provider.
pub const BUCKETS: u64 = 1024;

/// Entries a bucket holds at most.
pub const ENTRIES_PER_BUCKET: usize = 8;

/// Largest entry kept in the shared cache, in bytes.
pub const MAX_ENTRY_BYTES: usize = 4096;

/// Largest bucket, in bytes.
pub const MAX_BUCKET_BYTES: usize = 16384;

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

    /// The shared-data key of this entry's bucket for `provider` (a provider name).
    pub fn bucket_name(&self, provider: &str) -> String {
        let bucket = (self.0 as u64) % BUCKETS;
        format!("tollgate.introspection.{provider}.{bucket}")
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
    /// The bucket holds no entry of this token.
    Absent,
    /// The entry has expired.
    Expired,
    /// The bytes are not an entry (another version wrote it, or they were damaged).
    Unreadable,
    /// The entry would be larger than [`MAX_ENTRY_BYTES`].
    TooLarge,
}

/// The `max-age` of a `Cache-Control` value (the smallest, if repeated); `None` when there
/// is none. Only `max-age` shortens an entry: `no-store` and `no-cache`, which OAuth servers
/// put on every answer carrying token data (RFC 6749 §5.1), speak to HTTP caches about the
/// bytes, not to how long the token's state holds. A directive that cannot be read is
/// ignored.
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    let mut out: Option<u64> = None;
    for directive in cache_control?.split(',') {
        let lower = directive.trim().to_ascii_lowercase();
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
    /// The entry as a JSON object (fails for a rejection that cannot be stored, or an entry
    /// larger than [`MAX_ENTRY_BYTES`]).
    fn entry(&self, key: SharedKey) -> Result<Value, StoreError> {
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
        let entry = Value::Object(entry);
        if entry.to_string().len() > MAX_ENTRY_BYTES {
            return Err(StoreError::TooLarge);
        }
        Ok(entry)
    }

    /// A bucket holding only this entry.
    pub fn encode(&self, key: SharedKey) -> Result<Vec<u8>, StoreError> {
        insert(None, key, self, 0)
    }

    /// The entry of `key` in a bucket's bytes, if it is there and not expired at `now`.
    pub fn decode(bytes: &[u8], key: SharedKey, now: u64) -> Result<Stored, StoreError> {
        if bytes.is_empty() {
            return Err(StoreError::Absent);
        }
        let Some(Value::Array(entries)) = json::parse_unique(bytes) else {
            return Err(StoreError::Unreadable);
        };
        let hex = key.hex();
        let entry = entries
            .into_iter()
            .find(|e| e.get("k").and_then(Value::as_str) == Some(hex.as_str()))
            .ok_or(StoreError::Absent)?;
        let Value::Object(mut entry) = entry else {
            return Err(StoreError::Unreadable);
        };
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

/// The bucket `bucket` (its current bytes; `None` or unreadable: empty) with `stored` as the
/// entry of `key` at `now`: expired entries and the key's older entry dropped, then the
/// soonest-expiring others until the bucket fits [`ENTRIES_PER_BUCKET`] and
/// [`MAX_BUCKET_BYTES`].
pub fn insert(
    bucket: Option<&[u8]>,
    key: SharedKey,
    stored: &Stored,
    now: u64,
) -> Result<Vec<u8>, StoreError> {
    let entry = stored.entry(key)?;
    let hex = key.hex();
    let mut others: Vec<(u64, Value)> = match bucket.and_then(json::parse_unique) {
        Some(Value::Array(entries)) => entries
            .into_iter()
            .filter_map(|e| {
                let until = e.get("until").and_then(Value::as_u64)?;
                let k = e.get("k").and_then(Value::as_str)?;
                (until > now && k != hex).then_some((until, e))
            })
            .collect(),
        _ => Vec::new(),
    };
    // Latest expiry first: the soonest-expiring are cut from the end.
    others.sort_by_key(|(until, _)| std::cmp::Reverse(*until));
    others.truncate(ENTRIES_PER_BUCKET - 1);
    loop {
        let mut all: Vec<Value> = vec![entry.clone()];
        all.extend(others.iter().map(|(_, e)| e.clone()));
        let bytes = serde_json::to_vec(&Value::Array(all)).map_err(|_| StoreError::Unreadable)?;
        if bytes.len() <= MAX_BUCKET_BYTES || others.pop().is_none() {
            return Ok(bytes);
        }
    }
}
