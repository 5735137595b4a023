//! Opaque access tokens checked at the authorization server's introspection endpoint
//! (RFC 7662; RFC 9701 signed answers; the "phantom token" variant whose answer is itself a
//! JWT access token). Pure: the glue sends the call and keeps the shared cache; this module
//! decides which provider introspects a token, builds the call, reads and checks the answer,
//! and says how long an answer may be reused.
//!
//! - **Which tokens.** A token that is not a JWS compact serialization (three base64url
//!   segments, [`is_jws_compact`]) goes to introspection; a JWT never does.
//! - **Which provider.** Exactly one per request: the first of the rule's allowed providers,
//!   in configuration order, that has `introspection` ([`choose`]). No such provider: the
//!   opaque token is refused as a malformed JWT would be (401 `invalid_token`).
//! - **The call** ([`call`]): `POST` of `token=…&token_type_hint=access_token` with
//!   `client_secret_basic` (RFC 6749 §2.3.1: client id and secret form-encoded, then
//!   base64), `Accept` by mode, through the provider's Envoy cluster, from the root context,
//!   one call per token in flight per worker ([`crate::remote::Outbound`]).
//! - **The answer** ([`answer`]): a JSON object with unique members whose registered members
//!   have their RFC 7662 types, or a signed JWT checked with the provider's keys. A
//!   malformed answer, a status other than 200 (204 means inactive in `phantom` mode), no
//!   answer, or no answer within `timeout_ms` is a server-side failure: 503 with
//!   `Retry-After`, never a 401 and never a pass ([`Failure`]).
//! - **The verdict**: `active: false`, or `iss`/`aud`/`exp`/`nbf` (when present) failing the
//!   provider's rules, is a 401 `invalid_token`; an active answer becomes the same cache
//!   entry a verified JWT does (scopes from `scope`, `cnf` binding, claim headers and filter
//!   state from its members), so rules, scopes, DPoP and certificate binding apply unchanged.
//! - **Reuse** ([`store`]): an answer is kept in the process-wide shared cache under a keyed
//!   hash of the token, until `min(cache_seconds, exp − now, Cache-Control max-age)` and never
//!   after `exp`; an inactive answer for `negative_cache_seconds`.

pub mod answer;
pub mod store;

use std::fmt;
use std::sync::Arc;

use ct_codecs::{Base64, Encoder};
use serde_json::{Map, Value};

use crate::cache::CachedToken;
use crate::config::{Config, Provider, ProviderId, Secret};
use crate::remote::HttpUrl;
use crate::token::TokenError;
use crate::upstream::claim_headers;

pub use answer::{admit_claims, Admitted};
pub use store::{cache_until, max_age, SharedKey, StoreError, Stored};

/// `providers[].introspection`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// The Envoy cluster the call goes through.
    pub cluster: String,
    /// The endpoint (`http://` or `https://`); `:authority` and `:path` come from it.
    pub url: HttpUrl,
    /// This gateway's client id at the authorization server.
    pub client_id: String,
    /// Its secret (inline or from the VM's environment); never logged.
    pub client_secret: Secret,
    /// What the endpoint answers with.
    pub response: ResponseMode,
    /// Longest reuse of an active answer (0: never reused, revocation is seen at once).
    pub cache_seconds: u64,
    /// Reuse of an inactive answer (0: never reused).
    pub negative_cache_seconds: u64,
    /// Limit of the call, and of a request's wait for it.
    pub timeout_ms: u64,
    /// What the API gets.
    pub forward: Forward,
}

/// `introspection.response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// RFC 7662 JSON.
    Json,
    /// RFC 9701: a JWT with `typ: token-introspection+jwt` holding the answer in its
    /// `token_introspection` member, signed with the provider's keys, `aud` naming this client.
    Jwt,
    /// The answer's body is a JWT access token of this provider (phantom token pattern),
    /// verified like any other token of the provider; 204 means inactive.
    Phantom,
}

impl ResponseMode {
    /// The `Accept` header of the call.
    pub fn accept(self) -> &'static str {
        match self {
            ResponseMode::Json => "application/json",
            ResponseMode::Jwt => "application/token-introspection+jwt",
            ResponseMode::Phantom => "application/jwt",
        }
    }
}

/// `introspection.forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Claim headers and filter state, as for JWTs (`Authorization` as `forward_token` says).
    Claims,
    /// Also replace `Authorization` with `Bearer <the JWT of the answer>` (`jwt` and
    /// `phantom` modes only): the API can verify it itself.
    Jwt,
}

/// Why no verdict could be had from the authorization server: a server-side failure,
/// answered 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No answer (connection refused, reset, the host refused to send the call) or a status
    /// other than 200 (and 204 in `phantom` mode).
    Unavailable,
    /// No answer within `timeout_ms`.
    Timeout,
    /// An answer that is not what the mode says: not JSON, duplicate or wrongly typed
    /// members, a JWT that does not verify, too large.
    BadAnswer,
}

impl Failure {
    /// Stable metric/log reason.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Unavailable => "introspection_unavailable",
            Failure::Timeout => "introspection_timeout",
            Failure::BadAnswer => "introspection_bad_answer",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Unavailable => "the authorization server did not answer",
            Failure::Timeout => "the authorization server did not answer in time",
            Failure::BadAnswer => "the authorization server's answer is malformed",
        })
    }
}

/// What the authorization server said about a token, once its answer is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Active, with the answer's members (the verified JWT's claims in `jwt`/`phantom`
    /// modes; in `jwt` mode the `token_introspection` member) and, in those modes, the JWT.
    Active {
        /// The members that become the token's claims.
        claims: Map<String, Value>,
        /// The JWT of the answer (forwarded with `forward: "jwt"`).
        jwt: Option<String>,
    },
    /// Not acceptable: inactive ([`TokenError::Inactive`]) or failing the provider's rules.
    Rejected(TokenError),
}

/// What the glue knows about an opaque token when a request asks: a stored (or just
/// received) verdict, or the failure of the call that just ended.
pub type Known = Result<Stored, Failure>;

/// An opaque token, in a type whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(pub String);

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(..)")
    }
}

/// A request whose opaque token has no known verdict yet: a call could bring one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionNeeded {
    /// The introspecting provider.
    pub provider: ProviderId,
    /// The token to send.
    pub token: OpaqueToken,
}

/// True when `token` is a JWS compact serialization: three non-empty base64url segments.
/// Such a token is always validated as a JWT, never introspected.
pub fn is_jws_compact(token: &str) -> bool {
    let mut segments = 0;
    for part in token.split('.') {
        segments += 1;
        if segments > 3
            || part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}

/// The provider that introspects opaque tokens on a route: the first of the allowed
/// providers (all when `allowed` is `None`), in configuration order, with `introspection`.
pub fn choose(providers: &[Provider], allowed: Option<&[ProviderId]>) -> Option<ProviderId> {
    providers
        .iter()
        .enumerate()
        .find(|(i, p)| {
            p.introspection.is_some() && allowed.is_none_or(|a| a.contains(&ProviderId(*i)))
        })
        .map(|(i, _)| ProviderId(i))
}

/// The introspection call for `token`: headers (pseudo-headers first) and body.
pub fn call(intro: &Introspection, token: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let credentials = format!(
        "{}:{}",
        form_encode(&intro.client_id),
        form_encode(intro.client_secret.expose())
    );
    let basic = Base64::encode_to_string(credentials.as_bytes()).unwrap_or_default();
    let body = format!("token={}&token_type_hint=access_token", form_encode(token));
    let headers = vec![
        (":method".to_owned(), "POST".to_owned()),
        (":path".to_owned(), intro.url.path().to_owned()),
        (":authority".to_owned(), intro.url.authority().to_owned()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept".to_owned(), intro.response.accept().to_owned()),
        ("authorization".to_owned(), format!("Basic {basic}")),
    ];
    (headers, body.into_bytes())
}

/// `application/x-www-form-urlencoded` encoding of one value (unreserved characters kept,
/// space as `+`, every other byte `%XX`).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The verified-token cache entry of an opaque token whose verdict is `stored`: the same
/// entry a verified JWT makes, so binding, scopes, claim headers and filter state apply
/// unchanged. The entry lives no longer than the stored verdict may be reused.
pub(crate) fn cache_entry(
    config: &Config,
    provider: ProviderId,
    filter_state_names: &[(String, String)],
    stored: &Stored,
    now: u64,
) -> Result<CachedToken, TokenError> {
    let (claims, jwt) = match &stored.verdict {
        Verdict::Rejected(e) => return Err(*e),
        Verdict::Active { claims, jwt } => (claims, jwt),
    };
    let p = config
        .providers
        .get(provider.0)
        .ok_or(TokenError::UnknownIssuer)?;
    let admitted = admit_claims(p, claims, now)?;
    let skew = p.clock_skew_seconds;
    let exp = admitted.exp.map_or(stored.until, |e| e.min(stored.until));
    let forward_jwt = match (&p.introspection, jwt) {
        (Some(intro), Some(jwt)) if intro.forward == Forward::Jwt => Some(Arc::from(jwt.as_str())),
        _ => None,
    };
    Ok(CachedToken {
        provider,
        exp,
        valid_until: admitted
            .exp
            .map_or(stored.until, |e| e.saturating_add(skew).min(stored.until)),
        nbf: admitted.nbf,
        confirmation: admitted.confirmation,
        scopes: admitted.scopes,
        headers: claim_headers(&config.claims_to_headers, claims).into(),
        filter_state: claim_headers(filter_state_names, claims).into(),
        auth: crate::step_up::AuthClaims::from_claims(claims),
        client_id: crate::cache::attested_client_id(config, claims),
        forward_jwt,
    })
}

#[cfg(test)]
mod tests;
