//! DPoP server nonces (RFC 9449 §9): with `dpop_nonce` configured, every DPoP proof must carry
//! in its `nonce` claim a value this filter (or any Envoy sharing the secret) issued within
//! `lifetime_seconds`.
//!
//! Without nonces, a proof's freshness rests on the client's clock (`iat`) and on the replay
//! store, which is per Envoy process: a proof captured on the way can be replayed once at
//! every other replica within `dpop.max_age_seconds`. A nonce bounds that to the nonce's
//! lifetime, across all replicas, without a shared store: the values are derived from the
//! shared secret and a time step ([`crate::nonce`]).
//!
//! The check ([`require`]) runs after the proof's own checks (signature, claims, key) and
//! before its `jti` is written to the replay store: an otherwise invalid proof keeps its
//! `invalid_dpop_proof` answer, and a proof refused for its nonce is not remembered. The
//! answer to a missing or non-current nonce is 401 `use_dpop_nonce` with a fresh value in
//! `DPoP-Nonce`; a client that retries with it succeeds. An accepted nonce near the end of its
//! life gets a fresh value on the response ([`refresh`]), so a busy client never meets the
//! challenge again.
//!
//! [`require`] takes the presented value as it is, so any other proof that carries a server
//! nonce (e.g. a client attestation proof in combined mode) can be held to the same rule.

use crate::nonce::{NonceError, NonceKey};

/// The purpose label of DPoP server nonces (see [`NonceKey::new`]).
pub const PURPOSE: &str = "dpop-nonce";

/// Why a proof's nonce is not accepted. The answer is the same for all (401
/// `use_dpop_nonce` and a fresh nonce); the reason goes to logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRefusal {
    /// The proof has no `nonce` claim (a client's first request, usually).
    Missing,
    /// The `nonce` is not a value of the filter's form.
    Malformed,
    /// The `nonce` was made with another secret (another server's nonce, or a guess).
    Foreign,
    /// The `nonce` was made with this secret but is no longer (or not yet) current.
    Expired,
}

impl From<NonceError> for NonceRefusal {
    fn from(e: NonceError) -> NonceRefusal {
        match e {
            NonceError::Malformed => NonceRefusal::Malformed,
            NonceError::Foreign => NonceRefusal::Foreign,
            NonceError::Expired => NonceRefusal::Expired,
        }
    }
}

impl NonceRefusal {
    /// Stable metric/log reason.
    pub fn reason(self) -> &'static str {
        match self {
            NonceRefusal::Missing => "dpop_nonce_missing",
            NonceRefusal::Malformed => "dpop_nonce_malformed",
            NonceRefusal::Foreign => "dpop_nonce_foreign",
            NonceRefusal::Expired => "dpop_nonce_expired",
        }
    }

    /// The fixed `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            NonceRefusal::Missing => "the DPoP proof must carry the nonce sent in DPoP-Nonce",
            NonceRefusal::Malformed | NonceRefusal::Foreign | NonceRefusal::Expired => {
                "the DPoP proof nonce is not current; use the nonce sent in DPoP-Nonce"
            }
        }
    }
}

/// Check the `nonce` a proof carries (`None`: none) at unix time `now`. On success, the
/// seconds the nonce has left (for [`refresh`]).
pub fn require(key: &NonceKey, presented: Option<&str>, now: u64) -> Result<u64, NonceRefusal> {
    let value = presented.ok_or(NonceRefusal::Missing)?;
    Ok(key.check(value, now)?)
}

/// The fresh nonce to send with a successful response, when the one the client used has
/// `left` seconds and should be replaced (see [`NonceKey::should_refresh`]).
pub fn refresh(key: &NonceKey, left: u64, now: u64) -> Option<String> {
    key.should_refresh(left).then(|| key.issue(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_secret_key;

    fn key(lifetime: u64) -> NonceKey {
        NonceKey::new(&test_secret_key(3), PURPOSE, lifetime)
    }

    #[test]
    fn a_missing_nonce_is_named_so_and_the_rest_come_from_the_nonce_check() {
        let k = key(300);
        let now = 1_700_000_000;
        assert_eq!(require(&k, None, now), Err(NonceRefusal::Missing));
        assert_eq!(require(&k, Some(""), now), Err(NonceRefusal::Malformed));
        assert_eq!(
            require(&k, Some(&"A".repeat(31)), now),
            Err(NonceRefusal::Malformed)
        );
        assert_eq!(
            require(&k, Some(&"A".repeat(32)), now),
            Err(NonceRefusal::Foreign)
        );
        let other = NonceKey::new(&test_secret_key(4), PURPOSE, 300);
        assert_eq!(
            require(&k, Some(&other.issue(now)), now),
            Err(NonceRefusal::Foreign)
        );
        let attestation = NonceKey::new(&test_secret_key(3), "attestation-challenge", 300);
        assert_eq!(
            require(&k, Some(&attestation.issue(now)), now),
            Err(NonceRefusal::Foreign)
        );
    }

    #[test]
    fn the_window_ends_exactly_at_the_lifetime_after_the_step_start() {
        let k = key(300); // step 60
        let start = 1_700_000_040; // a multiple of 60
        let v = k.issue(start + 59);
        assert_eq!(require(&k, Some(&v), start), Ok(300));
        assert_eq!(require(&k, Some(&v), start + 299), Ok(1));
        assert_eq!(
            require(&k, Some(&v), start + 300),
            Err(NonceRefusal::Expired)
        );
        // A replica whose clock is one step behind accepts it; two steps behind does not.
        assert_eq!(require(&k, Some(&v), start - 60), Ok(360));
        assert_eq!(
            require(&k, Some(&v), start - 61),
            Err(NonceRefusal::Expired)
        );
    }

    #[test]
    fn a_fresh_nonce_rides_on_the_response_only_in_the_last_two_fifths() {
        let k = key(300); // step 60: refresh below 120 s left
        let now = 1_700_000_040;
        assert_eq!(refresh(&k, 120, now), None);
        assert_eq!(refresh(&k, 119, now), Some(k.issue(now)));
        assert_eq!(refresh(&k, 1, now), Some(k.issue(now)));
    }

    #[test]
    fn hostile_values_are_refused_without_panicking() {
        let k = key(300);
        let long = "a".repeat(100_000);
        let multibyte = "é".repeat(16); // 32 bytes, not base64url
        for v in [
            "",
            ".",
            "=",
            &long,
            &multibyte,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        ] {
            assert!(require(&k, Some(v), 1_700_000_000).is_err(), "{v:?}");
        }
        // The largest step a value can name: expired, not an overflow.
        let far = crate::nonce::NonceKey::new(&test_secret_key(3), PURPOSE, 300);
        assert_eq!(
            require(&k, Some(&far.issue(u64::MAX)), 1_700_000_000),
            Err(NonceRefusal::Expired)
        );
        assert_eq!(
            require(&k, Some(&k.issue(0)), u64::MAX),
            Err(NonceRefusal::Expired)
        );
    }

    #[test]
    fn reasons_are_distinct_and_the_description_never_echoes_the_value() {
        let all = [
            NonceRefusal::Missing,
            NonceRefusal::Malformed,
            NonceRefusal::Foreign,
            NonceRefusal::Expired,
        ];
        let mut reasons: Vec<&str> = all.iter().map(|r| r.reason()).collect();
        reasons.dedup();
        assert_eq!(reasons.len(), 4);
        for r in all {
            assert!(crate::ALL_REASONS.contains(&r.reason()), "{}", r.reason());
        }
    }
}
