//! Stateless server nonces: values the filter hands out and later accepts, derived from a
//! secret and a time step, so that every worker and every Envoy with the same secret issues and
//! accepts the same values without storing anything (DPoP server nonces, RFC 9449 §9; client
//! attestation challenges).
//!
//! A value is `base64url(step ‖ HMAC-SHA-256(purpose key, step)[..16])`, 32 characters, where
//! `step` is the unix time divided by the step length, as 8 big-endian bytes. The purpose key is
//! HMAC-SHA-256 of the configured secret over a label, so one secret used for two purposes
//! (nonces and challenges) never yields values the other accepts. Without the secret a value
//! cannot be made (a 128-bit MAC); with it, values are the same for everyone within a step,
//! which is what lets replicas agree without talking to each other.
//!
//! A value issued in step `s` is accepted while `now < s·step + lifetime`: the lifetime is what
//! the operator configured, whatever the step. The step is a fifth of the lifetime (at least one
//! second), so a client that fetched a value just before a step ended still has four fifths of
//! the lifetime left. Values from the future (a replica whose clock runs ahead) are accepted up
//! to one step ahead and refused after.

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use hmac_sha256::HMAC;

use crate::config::SecretKey;

/// Length of a value's MAC, in bytes.
const MAC_BYTES: usize = 16;
/// Length of a value, in characters.
pub const NONCE_CHARS: usize = 32;

/// Why a value presented by a client is not current. The answer is the same for all three
/// (a fresh value and a challenge to retry); the reason goes to logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Not a value of this form at all (wrong length or alphabet).
    Malformed,
    /// Well formed but not made with this secret and purpose.
    Foreign,
    /// Made with this secret, but outside its lifetime (expired, or too far in the future).
    Expired,
}

impl NonceError {
    /// Short snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NonceError::Malformed => "malformed",
            NonceError::Foreign => "foreign",
            NonceError::Expired => "expired",
        }
    }
}

/// Issues and checks the values of one purpose.
#[derive(Clone)]
pub struct NonceKey {
    key: [u8; 32],
    step: u64,
    lifetime: u64,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKey")
            .field("step", &self.step)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceKey {
    /// A key for `purpose` (e.g. `"dpop-nonce"`, `"attestation-challenge"`) valid for
    /// `lifetime_seconds` (at least 1).
    pub fn new(secret: &SecretKey, purpose: &str, lifetime_seconds: u64) -> NonceKey {
        let lifetime = lifetime_seconds.max(1);
        let mut label = b"tollgate nonce ".to_vec();
        label.extend_from_slice(purpose.as_bytes());
        NonceKey {
            key: HMAC::mac(&label, secret.bytes()),
            step: (lifetime / 5).max(1),
            lifetime,
        }
    }

    /// Seconds a value stays valid after the start of the step it was issued in.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// The current value at unix time `now`.
    pub fn issue(&self, now: u64) -> String {
        self.value_for(now / self.step)
    }

    /// Check a value presented at unix time `now`. On success, the seconds it has left.
    pub fn check(&self, value: &str, now: u64) -> Result<u64, NonceError> {
        if value.len() != NONCE_CHARS {
            return Err(NonceError::Malformed);
        }
        let mut raw = [0u8; 8 + MAC_BYTES];
        let decoded = Base64UrlSafeNoPadding::decode(&mut raw, value.as_bytes(), None)
            .map_err(|_| NonceError::Malformed)?;
        if decoded.len() != raw.len() {
            return Err(NonceError::Malformed);
        }
        let (step_bytes, mac) = raw.split_at(8);
        let mut be = [0u8; 8];
        be.copy_from_slice(step_bytes);
        let step = u64::from_be_bytes(be);
        if !constant_time_eq(&self.mac(step)[..MAC_BYTES], mac) {
            return Err(NonceError::Foreign);
        }
        let now_step = now / self.step;
        let issued_at = step.saturating_mul(self.step);
        let ends = issued_at.saturating_add(self.lifetime);
        if step > now_step.saturating_add(1) || now >= ends {
            return Err(NonceError::Expired);
        }
        Ok(ends - now)
    }

    /// Whether a client holding a value with `left` seconds should be handed a fresh one now:
    /// when less than two steps (two fifths of the lifetime) remain.
    pub fn should_refresh(&self, left: u64) -> bool {
        left < self.step.saturating_mul(2)
    }

    fn mac(&self, step: u64) -> [u8; 32] {
        HMAC::mac(step.to_be_bytes(), self.key)
    }

    fn value_for(&self, step: u64) -> String {
        let mut raw = [0u8; 8 + MAC_BYTES];
        raw[..8].copy_from_slice(&step.to_be_bytes());
        raw[8..].copy_from_slice(&self.mac(step)[..MAC_BYTES]);
        let mut out = [0u8; NONCE_CHARS];
        match Base64UrlSafeNoPadding::encode(&mut out, raw) {
            Ok(s) => String::from_utf8_lossy(s).into_owned(),
            // 24 bytes always fit in 32 characters.
            Err(_) => String::new(),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_secret_key;

    fn key(lifetime: u64) -> NonceKey {
        NonceKey::new(&test_secret_key(7), "dpop-nonce", lifetime)
    }

    #[test]
    fn a_value_is_accepted_for_its_lifetime_and_then_expires() {
        let k = key(300); // step 60
        let v = k.issue(1_000_020); // step 16 667 starts at 1 000 020
        assert_eq!(v.len(), NONCE_CHARS);
        assert_eq!(k.check(&v, 1_000_020), Ok(300));
        assert_eq!(k.check(&v, 1_000_319), Ok(1));
        assert_eq!(k.check(&v, 1_000_320), Err(NonceError::Expired));
        // Issued late in its step: still valid until the step's start + lifetime.
        assert_eq!(k.issue(1_000_079), v);
        assert_eq!(k.check(&v, 1_000_079), Ok(241));
    }

    #[test]
    fn everyone_with_the_secret_issues_the_same_value_within_a_step() {
        let a = key(300);
        let b = key(300);
        assert_eq!(a.issue(1_000_020), b.issue(1_000_050));
        assert_ne!(a.issue(1_000_020), a.issue(1_000_080));
    }

    #[test]
    fn values_from_another_secret_or_purpose_are_foreign() {
        let k = key(300);
        let other_secret = NonceKey::new(&test_secret_key(8), "dpop-nonce", 300);
        let other_purpose = NonceKey::new(&test_secret_key(7), "attestation-challenge", 300);
        let now = 1_000_000;
        assert_eq!(
            k.check(&other_secret.issue(now), now),
            Err(NonceError::Foreign)
        );
        assert_eq!(
            k.check(&other_purpose.issue(now), now),
            Err(NonceError::Foreign)
        );
    }

    #[test]
    fn malformed_values_are_named_so() {
        let k = key(300);
        let good = k.issue(1_000_000);
        assert_eq!(k.check("", 1_000_000), Err(NonceError::Malformed));
        assert_eq!(k.check(&good[..31], 1_000_000), Err(NonceError::Malformed));
        assert_eq!(
            k.check(&format!("{}=", &good[..31]), 1_000_000),
            Err(NonceError::Malformed)
        );
        assert_eq!(
            k.check(&"!".repeat(32), 1_000_000),
            Err(NonceError::Malformed)
        );
        let mut flipped = good.clone().into_bytes();
        flipped[31] = if flipped[31] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(k.check(&flipped, 1_000_000), Err(NonceError::Foreign));
    }

    #[test]
    fn a_clock_one_step_ahead_is_tolerated_two_steps_are_not() {
        let k = key(300);
        let now = 1_000_020;
        assert_eq!(k.check(&k.issue(now + 60), now), Ok(360));
        assert_eq!(k.check(&k.issue(now + 120), now), Err(NonceError::Expired));
    }

    #[test]
    fn short_lifetimes_keep_their_exact_length() {
        let k = key(3); // step 1
        let v = k.issue(500);
        assert_eq!(k.check(&v, 502), Ok(1));
        assert_eq!(k.check(&v, 503), Err(NonceError::Expired));
        assert!(k.should_refresh(1));
        assert!(!k.should_refresh(2));
        assert_eq!(key(0).lifetime(), 1);
    }
}
