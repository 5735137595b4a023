//! Bearer-token (JWT access token, RFC 9068) validation.
//!
//! # Order of checks (fixed; the first failing check decides the error)
//!
//! 1. **Size cap** — longer than `max_token_bytes` → [`TokenError::TooLarge`].
//! 2. **Compact form** — exactly three non-empty segments of base64url characters
//!    (no padding) → [`TokenError::Malformed`].
//! 3. **Header** — base64url-decodes ([`TokenError::BadEncoding`]) to a JSON object with
//!    unique member names whose registered members have their RFC 7515 types; an embedded
//!    `jwk` is refused → [`TokenError::BadHeader`].
//!    `jku`, `x5u`, `x5c`, `jwk` are never followed.
//! 4. **`crit`** — present at all → [`TokenError::CriticalHeader`] (we understand no extension).
//! 5. **`alg`** — must name a supported asymmetric algorithm; `none`, `HS*` and anything
//!    else → [`TokenError::AlgorithmNotAllowed`].
//! 6. **Payload** — base64url-decodes to a JSON object with unique member names
//!    ([`TokenError::BadPayload`]); registered claims have their RFC 7519 types
//!    (`iss`/`sub`/`jti`/`nonce` strings, `aud` string or array of strings, else
//!    `BadPayload`; `exp`/`nbf`/`iat` non-negative JSON numbers, else
//!    [`TokenError::InvalidDate`]). Nothing in it is trusted yet.
//! 7. **Provider** — chosen by the *unverified* `iss` (exact match; issuers are unique
//!    across providers, so this only picks which keys to try: the signature check below is
//!    what makes `iss` trustworthy) → [`TokenError::UnknownIssuer`]; the route may restrict
//!    providers → [`TokenError::ProviderNotAllowed`]; a provider with no keys yet → the
//!    request is answered 503 (`DenialKind::KeysUnavailable`), never 401.
//! 8. **`typ`** — compared case-insensitively with the provider's `token_types` (default
//!    `at+jwt`, `application/at+jwt`); missing `typ` only with `allow_missing_typ`
//!    → [`TokenError::WrongType`]. (Checked after step 7 because `token_types` is per provider.)
//! 9. **Key** — by `kid` among the provider's keys → [`TokenError::UnknownKeyId`] (the glue
//!    may refetch a remote JWKS). Without `kid`: only if the provider has exactly one key for
//!    the header's `alg` (none → `AlgorithmNotAllowed`, several → [`TokenError::AmbiguousKey`]).
//! 10. **Algorithm** — must equal the key's own algorithm and be in the provider's
//!     `algorithms` → `AlgorithmNotAllowed` (so HMAC-with-the-public-key confusion fails).
//! 11. **Signature** — over `<header>.<payload>` as sent, with the selected key, on the host
//!     path or the pure-Rust path ([`crate::signature`]); the signature segment must decode to
//!     exactly the key's signature length → [`TokenError::BadSignature`].
//! 12. **Claims** — `iss` equals the provider's issuer ([`TokenError::WrongIssuer`]);
//!     `aud` contains a configured audience ([`TokenError::WrongAudience`]); `exp` required
//!     ([`TokenError::MissingExp`]) and `now < exp + skew` ([`TokenError::Expired`]);
//!     `nbf ≤ now + skew` ([`TokenError::NotYetValid`]); `iat` required
//!     ([`TokenError::MissingIssuedAt`] — needed for the lifetime cap) and `iat ≤ now + skew`
//!     ([`TokenError::IssuedInFuture`]); `exp − iat ≤ max_lifetime_seconds`
//!     ([`TokenError::LifetimeTooLong`]); every `required_claims` entry matches
//!     ([`TokenError::ClaimMismatch`]); `cnf`, if present, holds only `jkt` and/or
//!     `x5t#S256` ([`TokenError::BadConfirmation`]) — what it binds the token to is enforced
//!     by the engine on every request, cached or not.
//! 13. **Scopes** — `scope` (space-delimited string) and/or `scp` (array of strings or
//!     space-delimited string); any other type → [`TokenError::BadScopeClaim`]. Route scopes
//!     are matched exactly, token by token (`admin` never matches `superadmin`).

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::{Map, Value};

use crate::config::{Provider, ProviderId};
use crate::json;
use crate::jwks::{Algorithm, Key, KeySet};
use crate::scopes;
use crate::signature::{Path, Verifiers};

/// Why a bearer token is not accepted (401 `invalid_token`). `Display` is plain words
/// usable as `error_description`; it never contains the token or any part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than `max_token_bytes`.
    TooLarge,
    /// Not three non-empty base64url segments separated by dots.
    Malformed,
    /// The header segment is not valid base64url (no padding).
    BadEncoding,
    /// The header is not a JSON object, has duplicate or wrongly typed members, or embeds a key.
    BadHeader,
    /// The header has a `crit` member (no critical extension is understood).
    CriticalHeader,
    /// `typ` missing or not one of the provider's accepted token types.
    WrongType,
    /// `alg` is `none`, HMAC, unsupported, not the algorithm of the selected key, or not
    /// allowed for the provider.
    AlgorithmNotAllowed,
    /// The payload is not base64url JSON object with unique members, or a registered claim
    /// (`iss`, `sub`, `aud`, `jti`, `nonce`) has the wrong type.
    BadPayload,
    /// `exp`, `nbf` or `iat` is not a non-negative JSON number (e.g. a string).
    InvalidDate,
    /// No configured provider has this `iss` (or `iss` is missing).
    UnknownIssuer,
    /// The token's provider is not accepted on this route (`rules[].providers`).
    ProviderNotAllowed,
    /// The `kid` is not among the provider's keys.
    UnknownKeyId,
    /// No `kid`, and the provider has several keys for the algorithm.
    AmbiguousKey,
    /// The signature does not verify.
    BadSignature,
    /// `iss` differs from the provider's issuer (defence in depth after the signature).
    WrongIssuer,
    /// `aud` missing or without any configured audience.
    WrongAudience,
    /// No `exp` claim.
    MissingExp,
    /// `exp` is in the past (beyond the clock skew).
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid,
    /// No `iat` claim (required to enforce the lifetime cap).
    MissingIssuedAt,
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture,
    /// `exp − iat` exceeds the provider's `max_lifetime_seconds`.
    LifetimeTooLong,
    /// `scope` is not a string, or `scp` is neither a string nor an array of strings.
    BadScopeClaim,
    /// A claim listed in the provider's `required_claims` is missing or has none of the
    /// required values.
    ClaimMismatch,
    /// `cnf` is not an object holding `jkt` and/or `x5t#S256` as base64url SHA-256 values
    /// (a confirmation method tollgate cannot enforce is refused, never ignored).
    BadConfirmation,
    /// A DPoP-bound token (`cnf.jkt`) came with the `Bearer` scheme (RFC 9449 §7.1).
    DpopBoundAsBearer,
    /// The route (or provider) requires DPoP and the token came with the `Bearer` scheme.
    DpopRequired,
    /// The route requires a DPoP-bound token and this one has no `cnf.jkt`.
    NotDpopBound,
    /// The token is certificate-bound (`cnf.x5t#S256`) and the connection has no client
    /// certificate.
    NoClientCertificate,
    /// The token is bound to another client certificate than the connection's.
    CertificateMismatch,
    /// The route requires a certificate-bound token and this one has no `cnf.x5t#S256`.
    NotCertificateBound,
    /// The token came from a source (header, cookie, query parameter) its provider does
    /// not read tokens from (another provider of the route does).
    SourceNotAllowed,
    /// The authorization server says the opaque token is not active (introspection:
    /// revoked, expired or unknown).
    Inactive,
}

impl TokenError {
    /// Stable metric/log reason.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::TooLarge => "token_too_large",
            TokenError::Malformed => "malformed_token",
            TokenError::BadEncoding => "bad_encoding",
            TokenError::BadHeader => "bad_header",
            TokenError::CriticalHeader => "critical_header",
            TokenError::WrongType => "wrong_token_type",
            TokenError::AlgorithmNotAllowed => "algorithm_not_allowed",
            TokenError::BadPayload => "bad_payload",
            TokenError::InvalidDate => "invalid_date",
            TokenError::UnknownIssuer => "unknown_issuer",
            TokenError::ProviderNotAllowed => "provider_not_allowed",
            TokenError::UnknownKeyId => "unknown_kid",
            TokenError::AmbiguousKey => "ambiguous_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::WrongIssuer => "wrong_issuer",
            TokenError::WrongAudience => "wrong_audience",
            TokenError::MissingExp => "missing_exp",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::MissingIssuedAt => "missing_iat",
            TokenError::IssuedInFuture => "issued_in_future",
            TokenError::LifetimeTooLong => "lifetime_too_long",
            TokenError::BadScopeClaim => "bad_scope_claim",
            TokenError::ClaimMismatch => "claim_mismatch",
            TokenError::BadConfirmation => "bad_confirmation",
            TokenError::DpopBoundAsBearer => "dpop_bound_token_as_bearer",
            TokenError::DpopRequired => "dpop_required",
            TokenError::NotDpopBound => "not_dpop_bound",
            TokenError::NoClientCertificate => "no_client_certificate",
            TokenError::CertificateMismatch => "certificate_mismatch",
            TokenError::NotCertificateBound => "not_certificate_bound",
            TokenError::SourceNotAllowed => "token_source_not_allowed",
            TokenError::Inactive => "token_inactive",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::TooLarge => "the token is too large",
            TokenError::Malformed => "the token is not a compact JWT",
            TokenError::BadEncoding => "the token header is not valid base64url",
            TokenError::BadHeader => "the token header is malformed",
            TokenError::CriticalHeader => "the token uses an unsupported critical header",
            TokenError::WrongType => "the token is not an access token of an accepted type",
            TokenError::AlgorithmNotAllowed => "the token algorithm is not allowed",
            TokenError::BadPayload => "the token payload is malformed",
            TokenError::InvalidDate => "a date in the token is not a number",
            TokenError::UnknownIssuer => "the token issuer is not trusted",
            TokenError::ProviderNotAllowed => "the token issuer is not accepted for this resource",
            TokenError::UnknownKeyId => "the token signing key is unknown",
            TokenError::AmbiguousKey => "the token does not say which key signed it",
            TokenError::BadSignature => "the token signature is invalid",
            TokenError::WrongIssuer => "the token issuer does not match",
            TokenError::WrongAudience => "the token is not meant for this audience",
            TokenError::MissingExp => "the token has no expiry",
            TokenError::Expired => "the token has expired",
            TokenError::NotYetValid => "the token is not valid yet",
            TokenError::MissingIssuedAt => "the token has no issue time",
            TokenError::IssuedInFuture => "the token was issued in the future",
            TokenError::LifetimeTooLong => "the token lifetime is too long",
            TokenError::BadScopeClaim => "the token scope claim is malformed",
            TokenError::ClaimMismatch => "a required token claim is missing or does not match",
            TokenError::BadConfirmation => "the token confirmation claim (cnf) is malformed",
            TokenError::DpopBoundAsBearer => {
                "the token is bound to a DPoP key and must be sent with the DPoP scheme"
            }
            TokenError::DpopRequired => "this resource requires a DPoP-bound token",
            TokenError::NotDpopBound => "the token is not bound to a DPoP key",
            TokenError::NoClientCertificate => {
                "the token is bound to a client certificate the connection did not present"
            }
            TokenError::CertificateMismatch => "the token is bound to another client certificate",
            TokenError::NotCertificateBound => "the token is not bound to a client certificate",
            TokenError::SourceNotAllowed => {
                "the token was sent where its issuer's tokens are not accepted"
            }
            TokenError::Inactive => "the token is not active",
        })
    }
}

impl std::error::Error for TokenError {}

/// Why validation failed: a bad token, or no keys to check it with yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The token is not acceptable.
    Token(TokenError),
    /// The provider's key set is empty (remote keys not fetched yet): a server-side condition.
    KeysUnavailable,
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Failure {
        Failure::Token(e)
    }
}

/// A failure and the provider the token was attributed to (by its unverified `iss`), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// What failed.
    pub failure: Failure,
    /// The provider chosen by `iss`, when step 7 was reached.
    pub provider: Option<ProviderId>,
    /// The path that checked the signature, when step 11 was reached.
    pub signature: Option<Path>,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The provider.
    pub provider: ProviderId,
    /// `exp`.
    pub exp: u64,
    /// `nbf`, if present.
    pub nbf: Option<u64>,
    /// Scopes from `scope` and `scp`, de-duplicated, in token order.
    pub scopes: Vec<String>,
    /// The whole (verified) claims set.
    pub claims: Map<String, Value>,
    /// Which path verified the signature.
    pub path: Path,
    /// What the token is bound to (`cnf`).
    pub confirmation: Confirmation,
}

/// A token's confirmation (`cnf`, RFC 7800): the keys it is bound to. Empty for a plain
/// bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confirmation {
    /// `cnf.jkt`: the RFC 7638 SHA-256 thumbprint of the DPoP key (RFC 9449 §6).
    pub jkt: Option<[u8; 32]>,
    /// `cnf.x5t#S256`: the SHA-256 of the client certificate (RFC 8705 §3.1).
    pub x5t_s256: Option<[u8; 32]>,
}

impl Confirmation {
    /// True for a plain bearer token.
    pub fn is_empty(&self) -> bool {
        self.jkt.is_none() && self.x5t_s256.is_none()
    }
}

/// Step 12 (`cnf`): absent, or an object with only `jkt` and/or `x5t#S256`, each the
/// base64url encoding of 32 bytes.
pub(crate) fn confirmation(c: &Map<String, Value>) -> Result<Confirmation, TokenError> {
    let Some(cnf) = c.get("cnf") else {
        return Ok(Confirmation::default());
    };
    let cnf = cnf.as_object().ok_or(TokenError::BadConfirmation)?;
    let digest = |name: &str| -> Result<Option<[u8; 32]>, TokenError> {
        match cnf.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Base64UrlSafeNoPadding::decode_to_vec(s, None)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Some)
                .ok_or(TokenError::BadConfirmation),
            Some(_) => Err(TokenError::BadConfirmation),
        }
    };
    let out = Confirmation {
        jkt: digest("jkt")?,
        x5t_s256: digest("x5t#S256")?,
    };
    if out.is_empty() || cnf.keys().any(|k| k != "jkt" && k != "x5t#S256") {
        return Err(TokenError::BadConfirmation);
    }
    Ok(out)
}

/// What validation needs to know about the providers: config and current keys, by index,
/// and the signature verifiers in use.
pub struct ProviderView<'a> {
    /// Provider configurations in config order.
    pub providers: &'a [Provider],
    /// Current key set per provider (same order).
    pub keys: &'a [KeySet],
    /// The signature paths (host and pure Rust).
    pub verifiers: &'a Verifiers,
}

/// Validate `token` (the bearer value, not yet checked) at unix time `now`.
/// `allowed` restricts the providers (route `providers`); `None` = all.
/// The order of checks is the one in the module documentation.
pub fn validate(
    token: &str,
    max_token_bytes: usize,
    view: &ProviderView<'_>,
    allowed: Option<&[ProviderId]>,
    now: u64,
) -> Result<Verified, Rejection> {
    let reject = |failure: Failure, provider: Option<ProviderId>| Rejection {
        failure,
        provider,
        signature: None,
    };
    let tok = |e: TokenError| reject(Failure::Token(e), None);

    // 1. size cap
    if token.len() > max_token_bytes {
        return Err(tok(TokenError::TooLarge));
    }
    // 2. compact form
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(tok(TokenError::Malformed));
    };
    if [h64, p64, s64]
        .iter()
        .any(|s| s.is_empty() || !s.bytes().all(is_b64url))
    {
        return Err(tok(TokenError::Malformed));
    }
    // 3. header
    let header_bytes = Base64UrlSafeNoPadding::decode_to_vec(h64, None)
        .map_err(|_| tok(TokenError::BadEncoding))?;
    let header = json::parse_object(&header_bytes).ok_or(tok(TokenError::BadHeader))?;
    let head = check_header(&header).map_err(tok)?;
    // 4. crit
    if header.contains_key("crit") {
        return Err(tok(TokenError::CriticalHeader));
    }
    // 5. alg
    let alg = Algorithm::from_name(head.alg).ok_or(tok(TokenError::AlgorithmNotAllowed))?;
    // 6. payload
    let payload_bytes = Base64UrlSafeNoPadding::decode_to_vec(p64, None)
        .map_err(|_| tok(TokenError::BadPayload))?;
    let claims = json::parse_object(&payload_bytes).ok_or(tok(TokenError::BadPayload))?;
    let dates = check_claim_types(&claims).map_err(tok)?;
    // 7. provider by unverified iss
    let iss = claims.get("iss").and_then(Value::as_str);
    let index = iss
        .and_then(|iss| view.providers.iter().position(|p| p.issuer == iss))
        .ok_or(tok(TokenError::UnknownIssuer))?;
    let pv = Some(ProviderId(index));
    let (Some(provider), Some(keys)) = (view.providers.get(index), view.keys.get(index)) else {
        return Err(tok(TokenError::UnknownIssuer));
    };
    if let Some(allowed) = allowed {
        if !allowed.contains(&ProviderId(index)) {
            return Err(reject(TokenError::ProviderNotAllowed.into(), pv));
        }
    }
    if keys.is_empty() {
        // A provider without keys of its own (it only introspects opaque tokens) will never
        // have any: the token cannot be verified, which no retry changes.
        if provider.key_source == crate::config::KeySource::Inline {
            return Err(reject(TokenError::UnknownKeyId.into(), pv));
        }
        return Err(reject(Failure::KeysUnavailable, pv));
    }
    // 8. typ
    match head.typ {
        None if provider.allow_missing_typ => {}
        None => return Err(reject(TokenError::WrongType.into(), pv)),
        Some(t) => {
            let t = t.to_ascii_lowercase();
            if !provider.token_types.contains(&t) {
                return Err(reject(TokenError::WrongType.into(), pv));
            }
        }
    }
    // 9. key by kid
    let key: &Key = match head.kid {
        Some(kid) => keys
            .by_kid(kid)
            .ok_or(reject(TokenError::UnknownKeyId.into(), pv))?,
        None => {
            let mut candidates = keys.keys_for(alg);
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => k,
                (None, _) => return Err(reject(TokenError::AlgorithmNotAllowed.into(), pv)),
                (Some(_), Some(_)) => return Err(reject(TokenError::AmbiguousKey.into(), pv)),
            }
        }
    };
    // 10. algorithm
    if key.algorithm() != alg || !provider.algorithms.contains(&alg) {
        return Err(reject(TokenError::AlgorithmNotAllowed.into(), pv));
    }
    // 11. signature, over the bytes as sent
    let signing_input = token.get(..h64.len() + 1 + p64.len()).unwrap_or("");
    let signature = Base64UrlSafeNoPadding::decode_to_vec(s64, None)
        .map_err(|_| reject(TokenError::BadSignature.into(), pv))?;
    let (valid, path) = view
        .verifiers
        .verify(key.material(), signing_input.as_bytes(), &signature);
    let signed = |e: TokenError| Rejection {
        failure: e.into(),
        provider: pv,
        signature: Some(path),
    };
    if !valid {
        return Err(signed(TokenError::BadSignature));
    }
    // 12. claims
    check_claims(provider, &claims, &dates, now).map_err(signed)?;
    let confirmation = confirmation(&claims).map_err(signed)?;
    // 13. scopes
    let scopes = scopes::of_claims(&claims).map_err(signed)?;
    let exp = dates.exp.unwrap_or(0);
    Ok(Verified {
        provider: ProviderId(index),
        exp,
        nbf: dates.nbf,
        scopes,
        claims,
        path,
        confirmation,
    })
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

struct Head<'a> {
    alg: &'a str,
    kid: Option<&'a str>,
    typ: Option<&'a str>,
}

/// Registered header members must have the types RFC 7515 gives them.
fn check_header(h: &Map<String, Value>) -> Result<Head<'_>, TokenError> {
    let alg = h
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::BadHeader)?;
    let opt_str = |name: &str| -> Result<Option<&str>, TokenError> {
        match h.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(TokenError::BadHeader),
        }
    };
    let kid = opt_str("kid")?;
    let typ = opt_str("typ")?;
    for name in ["cty", "jku", "x5u", "x5t", "x5t#S256"] {
        opt_str(name)?;
    }
    if let Some(x5c) = h.get("x5c") {
        let ok = x5c
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(TokenError::BadHeader);
        }
    }
    if h.contains_key("jwk") {
        return Err(TokenError::BadHeader);
    }
    Ok(Head { alg, kid, typ })
}

struct Dates {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
}

/// Step 6: types of registered claims (values are checked in step 12).
fn check_claim_types(c: &Map<String, Value>) -> Result<Dates, TokenError> {
    for name in ["iss", "sub", "jti", "nonce"] {
        if let Some(v) = c.get(name) {
            if !v.is_string() {
                return Err(TokenError::BadPayload);
            }
        }
    }
    if let Some(aud) = c.get("aud") {
        let ok = match aud {
            Value::String(_) => true,
            Value::Array(a) => a.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(TokenError::BadPayload);
        }
    }
    let date = |name: &str| -> Result<Option<u64>, TokenError> {
        match c.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    Ok(Some(u))
                } else {
                    match n.as_f64() {
                        // Non-integer NumericDate (RFC 7519 allows it): whole seconds.
                        // `as` saturates for huge values.
                        Some(f) if f >= 0.0 && f.is_finite() => Ok(Some(f.floor() as u64)),
                        _ => Err(TokenError::InvalidDate),
                    }
                }
            }
            Some(_) => Err(TokenError::InvalidDate),
        }
    };
    Ok(Dates {
        exp: date("exp")?,
        nbf: date("nbf")?,
        iat: date("iat")?,
    })
}

/// Step 12.
fn check_claims(
    p: &Provider,
    c: &Map<String, Value>,
    d: &Dates,
    now: u64,
) -> Result<(), TokenError> {
    if c.get("iss").and_then(Value::as_str) != Some(p.issuer.as_str()) {
        return Err(TokenError::WrongIssuer);
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => p.audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| p.audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenError::WrongAudience);
    }
    check_time(p.clock_skew_seconds, d.exp, d.nbf, now)?;
    let iat = d.iat.ok_or(TokenError::MissingIssuedAt)?;
    if iat > now.saturating_add(p.clock_skew_seconds) {
        return Err(TokenError::IssuedInFuture);
    }
    let exp = d.exp.unwrap_or(0);
    if exp.saturating_sub(iat) > p.max_lifetime_seconds {
        return Err(TokenError::LifetimeTooLong);
    }
    required_claims_hold(p, c)
}

/// The provider's `required_claims`: each claim equals one of its values (a string), or
/// holds one of them (an array of strings) → else [`TokenError::ClaimMismatch`]. For JWTs
/// and introspection answers alike.
pub(crate) fn required_claims_hold(
    p: &Provider,
    claims: &Map<String, Value>,
) -> Result<(), TokenError> {
    for (claim, wanted) in &p.required_claims {
        let ok = match claims.get(claim) {
            Some(Value::String(s)) => wanted.iter().any(|w| w == s),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|s| wanted.iter().any(|w| w == s)),
            _ => false,
        };
        if !ok {
            return Err(TokenError::ClaimMismatch);
        }
    }
    Ok(())
}

/// `exp` required, `now < exp + skew`; `nbf ≤ now + skew`. Also used on cache hits.
pub(crate) fn check_time(
    skew: u64,
    exp: Option<u64>,
    nbf: Option<u64>,
    now: u64,
) -> Result<(), TokenError> {
    let exp = exp.ok_or(TokenError::MissingExp)?;
    if now >= exp.saturating_add(skew) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = nbf {
        if nbf > now.saturating_add(skew) {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(())
}
