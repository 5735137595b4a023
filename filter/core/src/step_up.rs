//! Step-up authentication (RFC 9470): a route that needs a stronger or more recent login
//! (`acr_values`, `max_age_seconds`) refuses a token whose `acr` is not one of the values,
//! or whose `auth_time` is older than the maximum age, with 401
//! `insufficient_user_authentication` and the `acr_values` / `max_age` the client must ask the
//! authorization server for. The app re-authenticates the user and retries.
//!
//! Where it runs: after the token and its binding are accepted (the question is about how the
//! user authenticated, which only a valid token can answer, and the answer is a 401 like the
//! other authentication failures), before the route's scopes (a 403 `insufficient_scope` would
//! send the client asking for scopes when a new login is what it needs).
//!
//! Checks, in order:
//! 1. With `acr_values`: `acr` is a string → else [`StepUpError::MissingAcr`]; it is one of
//!    the values (exact, case-sensitive) → else [`StepUpError::AcrNotAccepted`].
//! 2. With `max_age_seconds`: `auth_time` is a non-negative number → else
//!    [`StepUpError::MissingAuthTime`]; it is not after `now + skew` →
//!    else [`StepUpError::AuthTimeInFuture`]; `now ≤ auth_time + max_age + skew` → else
//!    [`StepUpError::AuthenticationTooOld`]. `skew` is the provider's `clock_skew_seconds`.

use std::fmt;

use serde_json::{Map, Value};

use crate::config::StepUp;

/// The claims about the user's authentication, kept with a verified token (and in the
/// verified-token cache, so a hit is held to the same rule).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthClaims {
    /// `acr`, if a string.
    pub acr: Option<String>,
    /// `auth_time`, if a non-negative number (fractions dropped).
    pub auth_time: Option<u64>,
}

impl AuthClaims {
    /// Read `acr` and `auth_time` from verified claims; other types count as absent.
    pub fn from_claims(claims: &Map<String, Value>) -> AuthClaims {
        AuthClaims {
            acr: claims.get("acr").and_then(Value::as_str).map(str::to_owned),
            auth_time: claims.get("auth_time").and_then(|v| {
                v.as_u64().or_else(|| {
                    v.as_f64()
                        .filter(|f| *f >= 0.0 && f.is_finite())
                        .map(|f| f as u64)
                })
            }),
        }
    }
}

/// Why a token does not meet a route's step-up requirement (401
/// `insufficient_user_authentication`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUpError {
    /// The route lists `acr_values` and the token has no `acr` string.
    MissingAcr,
    /// The token's `acr` is not one of the route's `acr_values`.
    AcrNotAccepted,
    /// The route has `max_age_seconds` and the token has no numeric `auth_time`.
    MissingAuthTime,
    /// `auth_time` is later than now (beyond the clock skew).
    AuthTimeInFuture,
    /// The user authenticated longer ago than `max_age_seconds` (beyond the clock skew).
    AuthenticationTooOld,
}

impl StepUpError {
    /// Stable metric/log reason.
    pub fn reason(self) -> &'static str {
        match self {
            StepUpError::MissingAcr => "step_up_missing_acr",
            StepUpError::AcrNotAccepted => "step_up_acr_not_accepted",
            StepUpError::MissingAuthTime => "step_up_missing_auth_time",
            StepUpError::AuthTimeInFuture => "step_up_auth_time_in_future",
            StepUpError::AuthenticationTooOld => "step_up_authentication_too_old",
        }
    }
}

impl fmt::Display for StepUpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepUpError::MissingAcr | StepUpError::AcrNotAccepted => {
                "a different authentication level is required"
            }
            StepUpError::MissingAuthTime
            | StepUpError::AuthTimeInFuture
            | StepUpError::AuthenticationTooOld => "a more recent authentication is required",
        })
    }
}

/// Check `auth` against the route's `step_up` at `now`, with the provider's `skew`.
pub fn check(step_up: &StepUp, auth: &AuthClaims, skew: u64, now: u64) -> Result<(), StepUpError> {
    if !step_up.acr_values.is_empty() {
        let acr = auth.acr.as_deref().ok_or(StepUpError::MissingAcr)?;
        if !step_up.acr_values.iter().any(|v| v == acr) {
            return Err(StepUpError::AcrNotAccepted);
        }
    }
    if let Some(max_age) = step_up.max_age_seconds {
        let auth_time = auth.auth_time.ok_or(StepUpError::MissingAuthTime)?;
        if auth_time > now.saturating_add(skew) {
            return Err(StepUpError::AuthTimeInFuture);
        }
        if now > auth_time.saturating_add(max_age).saturating_add(skew) {
            return Err(StepUpError::AuthenticationTooOld);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn rule(acr: &[&str], max_age: Option<u64>) -> StepUp {
        StepUp {
            acr_values: acr.iter().map(|s| (*s).to_owned()).collect(),
            max_age_seconds: max_age,
        }
    }

    fn auth(claims: serde_json::Value) -> AuthClaims {
        AuthClaims::from_claims(claims.as_object().unwrap())
    }

    #[test]
    fn no_requirement_accepts_anything() {
        assert_eq!(check(&rule(&[], None), &auth(json!({})), 30, NOW), Ok(()));
    }

    #[test]
    fn acr_must_be_a_listed_string() {
        let r = rule(&["urn:example:mfa", "phr"], None);
        assert_eq!(check(&r, &auth(json!({"acr": "phr"})), 0, NOW), Ok(()));
        assert_eq!(
            check(&r, &auth(json!({"acr": "urn:example:mfa"})), 0, NOW),
            Ok(())
        );
        assert_eq!(
            check(&r, &auth(json!({"acr": "PHR"})), 0, NOW),
            Err(StepUpError::AcrNotAccepted)
        );
        assert_eq!(
            check(&r, &auth(json!({"acr": "urn:example:pwd"})), 0, NOW),
            Err(StepUpError::AcrNotAccepted)
        );
        assert_eq!(
            check(&r, &auth(json!({})), 0, NOW),
            Err(StepUpError::MissingAcr)
        );
        assert_eq!(
            check(&r, &auth(json!({"acr": ["phr"]})), 0, NOW),
            Err(StepUpError::MissingAcr)
        );
    }

    #[test]
    fn auth_time_edges_move_with_the_clock_skew() {
        let r = rule(&[], Some(300));
        let at = |t: u64| auth(json!({ "auth_time": t }));
        // Exactly max_age + skew ago is still fine; one second more is not.
        assert_eq!(check(&r, &at(NOW - 330), 30, NOW), Ok(()));
        assert_eq!(
            check(&r, &at(NOW - 331), 30, NOW),
            Err(StepUpError::AuthenticationTooOld)
        );
        assert_eq!(check(&r, &at(NOW - 300), 0, NOW), Ok(()));
        assert_eq!(
            check(&r, &at(NOW - 301), 0, NOW),
            Err(StepUpError::AuthenticationTooOld)
        );
        // In the future: tolerated within the skew.
        assert_eq!(check(&r, &at(NOW + 30), 30, NOW), Ok(()));
        assert_eq!(
            check(&r, &at(NOW + 31), 30, NOW),
            Err(StepUpError::AuthTimeInFuture)
        );
        assert_eq!(
            check(&r, &auth(json!({})), 30, NOW),
            Err(StepUpError::MissingAuthTime)
        );
        assert_eq!(
            check(&r, &auth(json!({"auth_time": "1700000000"})), 30, NOW),
            Err(StepUpError::MissingAuthTime)
        );
        assert_eq!(
            check(&r, &auth(json!({"auth_time": -5})), 30, NOW),
            Err(StepUpError::MissingAuthTime)
        );
        assert_eq!(
            check(&r, &auth(json!({"auth_time": 1_699_999_990.7})), 0, NOW),
            Ok(())
        );
    }

    #[test]
    fn acr_is_checked_before_auth_time() {
        let r = rule(&["mfa"], Some(60));
        assert_eq!(
            check(&r, &auth(json!({"acr": "pwd", "auth_time": 1})), 0, NOW),
            Err(StepUpError::AcrNotAccepted)
        );
        assert_eq!(
            check(&r, &auth(json!({"acr": "mfa", "auth_time": 1})), 0, NOW),
            Err(StepUpError::AuthenticationTooOld)
        );
        assert_eq!(
            check(
                &r,
                &auth(json!({"acr": "mfa", "auth_time": NOW - 10})),
                0,
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn every_reason_is_a_known_metric_reason() {
        for e in [
            StepUpError::MissingAcr,
            StepUpError::AcrNotAccepted,
            StepUpError::MissingAuthTime,
            StepUpError::AuthTimeInFuture,
            StepUpError::AuthenticationTooOld,
        ] {
            assert!(crate::ALL_REASONS.contains(&e.reason()), "{}", e.reason());
        }
    }
}
