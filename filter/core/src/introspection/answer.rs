//! Reading an introspection answer ([`read`]) and holding its members to the provider's
//! rules ([`admit_claims`]).
//!
//! Order of checks, `json` mode: status 200 → a JSON object with unique member names (at
//! every depth) → `active` a boolean → the RFC 7662 members with their types (`scope`,
//! `client_id`, `username`, `token_type`, `sub`, `iss`, `jti` strings; `aud` a string or an
//! array of strings; `exp`, `iat`, `nbf` non-negative numbers; `cnf` an object). Anything
//! else is [`Failure::BadAnswer`] (503): the server, not the client, is at fault.
//!
//! `jwt` mode (RFC 9701): status 200 → three base64url segments → the header a JSON object
//! with `typ` `token-introspection+jwt`, no `crit`, `alg` the algorithm of the key chosen by
//! `kid` among the provider's keys and one the provider allows → the signature → `iss` the
//! provider's issuer, `aud` naming this client, `iat` a number → `token_introspection` an
//! object read as in `json` mode.
//!
//! `phantom` mode: 204 is an inactive token; 200 carries a JWT access token of the provider,
//! validated exactly like one sent by a client ([`crate::token::validate`]). A JWT whose
//! claims fail the provider's rules is a rejected token (401); one that does not verify is
//! a bad answer (503).

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::{Map, Value};

use super::{Failure, Introspection, ResponseMode, Verdict};
use crate::config::{Provider, ProviderId};
use crate::json;
use crate::jwks::{Algorithm, Key, KeySet};
use crate::scopes;
use crate::signature::Verifiers;
use crate::token::{self, Confirmation, ProviderView, TokenError};

/// Largest answer read, in bytes; a larger one is a bad answer, unread.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The `typ` of an RFC 9701 answer (compared ignoring case, with or without `application/`).
pub const INTROSPECTION_JWT_TYPE: &str = "token-introspection+jwt";

/// What reading an answer needs about the provider.
pub struct Reader<'a> {
    /// Every provider (a phantom JWT is validated against them, restricted to `provider`).
    pub providers: &'a [Provider],
    /// Their current keys.
    pub keys: &'a [KeySet],
    /// The signature paths.
    pub verifiers: &'a Verifiers,
    /// The introspecting provider.
    pub provider: ProviderId,
    /// Its `introspection`.
    pub introspection: &'a Introspection,
    /// `max_token_bytes`: a phantom JWT may be as large as this or [`MAX_ANSWER_BYTES`],
    /// whichever is larger.
    pub max_token_bytes: usize,
}

/// Read one answer: the status (`None`: no answer), the body size as reported and the
/// body. `Ok` is the authorization server's verdict (an active answer still goes through
/// [`admit_claims`]); `Err` a server-side failure.
pub fn read(
    reader: &Reader<'_>,
    status: Option<u32>,
    body_size: usize,
    body: &[u8],
    now: u64,
) -> Result<Verdict, Failure> {
    let mode = reader.introspection.response;
    match status {
        None => return Err(Failure::Unavailable),
        Some(204) if mode == ResponseMode::Phantom => {
            return Ok(Verdict::Rejected(TokenError::Inactive))
        }
        Some(200) => {}
        Some(_) => return Err(Failure::Unavailable),
    }
    if body_size > MAX_ANSWER_BYTES || body.len() > MAX_ANSWER_BYTES || body.len() != body_size {
        return Err(Failure::BadAnswer);
    }
    match mode {
        ResponseMode::Json => {
            let object = json::parse_object(body).ok_or(Failure::BadAnswer)?;
            members(object)
        }
        ResponseMode::Jwt => {
            let jwt = std::str::from_utf8(body)
                .map_err(|_| Failure::BadAnswer)?
                .trim();
            let keys = provider_keys(reader)?;
            let provider = reader
                .providers
                .get(reader.provider.0)
                .ok_or(Failure::BadAnswer)?;
            let claims = verify_introspection_jwt(jwt, provider, keys, reader.verifiers)
                .ok_or(Failure::BadAnswer)?;
            if claims.get("iss").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
                return Err(Failure::BadAnswer);
            }
            if !names(claims.get("aud"), &reader.introspection.client_id) {
                return Err(Failure::BadAnswer);
            }
            if !claims.get("iat").is_some_and(is_date) {
                return Err(Failure::BadAnswer);
            }
            let Some(Value::Object(inner)) = claims.get("token_introspection") else {
                return Err(Failure::BadAnswer);
            };
            match members(inner.clone())? {
                Verdict::Active { claims, .. } => Ok(Verdict::Active {
                    claims,
                    jwt: Some(jwt.to_owned()),
                }),
                rejected => Ok(rejected),
            }
        }
        ResponseMode::Phantom => {
            let jwt = std::str::from_utf8(body)
                .map_err(|_| Failure::BadAnswer)?
                .trim();
            // A JSON answer to a phantom request can only say "inactive".
            if let Some(object) = json::parse_object(body) {
                return match object.get("active") {
                    Some(Value::Bool(false)) => Ok(Verdict::Rejected(TokenError::Inactive)),
                    _ => Err(Failure::BadAnswer),
                };
            }
            provider_keys(reader)?;
            let view = ProviderView {
                providers: reader.providers,
                keys: reader.keys,
                verifiers: reader.verifiers,
            };
            let limit = reader.max_token_bytes.max(MAX_ANSWER_BYTES);
            match token::validate(jwt, limit, &view, Some(&[reader.provider]), now) {
                Ok(v) if v.provider == reader.provider => Ok(Verdict::Active {
                    claims: v.claims,
                    jwt: Some(jwt.to_owned()),
                }),
                Ok(_) => Err(Failure::BadAnswer),
                Err(r) => match r.failure {
                    token::Failure::Token(e) if is_claim_failure(e) => Ok(Verdict::Rejected(e)),
                    token::Failure::Token(_) => Err(Failure::BadAnswer),
                    token::Failure::KeysUnavailable => Err(Failure::Unavailable),
                },
            }
        }
    }
}

/// The provider's keys; none yet (remote keys not fetched) means the answer cannot be
/// checked now: a server-side condition.
fn provider_keys<'a>(reader: &Reader<'a>) -> Result<&'a KeySet, Failure> {
    match reader.keys.get(reader.provider.0) {
        Some(keys) if !keys.is_empty() => Ok(keys),
        _ => Err(Failure::Unavailable),
    }
}

/// Token errors about what a verified JWT says (its claims), as opposed to its form or
/// signature.
fn is_claim_failure(e: TokenError) -> bool {
    matches!(
        e,
        TokenError::WrongIssuer
            | TokenError::WrongAudience
            | TokenError::MissingExp
            | TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::MissingIssuedAt
            | TokenError::IssuedInFuture
            | TokenError::LifetimeTooLong
            | TokenError::ClaimMismatch
            | TokenError::BadConfirmation
            | TokenError::BadScopeClaim
    )
}

/// True for a non-negative JSON number (a NumericDate).
fn is_date(v: &Value) -> bool {
    v.as_u64().is_some() || v.as_f64().is_some_and(|f| f >= 0.0 && f.is_finite())
}

/// A NumericDate in whole seconds.
fn date(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(|f| f.floor() as u64)
    })
}

/// `aud` (a string or an array of strings) names `who`.
fn names(aud: Option<&Value>, who: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == who,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(who)),
        _ => false,
    }
}

/// An RFC 7662 answer object: `active` and the registered members' types.
fn members(object: Map<String, Value>) -> Result<Verdict, Failure> {
    let active = match object.get("active") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(Failure::BadAnswer),
    };
    for name in [
        "scope",
        "client_id",
        "username",
        "token_type",
        "sub",
        "iss",
        "jti",
    ] {
        if object.get(name).is_some_and(|v| !v.is_string()) {
            return Err(Failure::BadAnswer);
        }
    }
    for name in ["exp", "iat", "nbf"] {
        if object.get(name).is_some_and(|v| !is_date(v)) {
            return Err(Failure::BadAnswer);
        }
    }
    match object.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
        Some(_) => return Err(Failure::BadAnswer),
    }
    if object.get("cnf").is_some_and(|v| !v.is_object()) {
        return Err(Failure::BadAnswer);
    }
    if !active {
        return Ok(Verdict::Rejected(TokenError::Inactive));
    }
    Ok(Verdict::Active {
        claims: object,
        jwt: None,
    })
}

/// Verify an RFC 9701 answer JWT with the provider's keys; its claims, or `None`.
fn verify_introspection_jwt(
    jwt: &str,
    provider: &Provider,
    keys: &KeySet,
    verifiers: &Verifiers,
) -> Option<Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !super::is_jws_compact(jwt) {
        return None;
    }
    let header = json::parse_object(&Base64UrlSafeNoPadding::decode_to_vec(h64, None).ok()?)?;
    if header.contains_key("crit") || header.contains_key("jwk") {
        return None;
    }
    let typ = header.get("typ")?.as_str()?.to_ascii_lowercase();
    if typ.strip_prefix("application/").unwrap_or(&typ) != INTROSPECTION_JWT_TYPE {
        return None;
    }
    let alg = Algorithm::from_name(header.get("alg")?.as_str()?)?;
    let key: &Key = match header.get("kid") {
        Some(Value::String(kid)) => keys.by_kid(kid)?,
        Some(_) => return None,
        None => {
            let mut candidates = keys.keys_for(alg);
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => k,
                _ => return None,
            }
        }
    };
    if key.algorithm() != alg || !provider.algorithms.contains(&alg) {
        return None;
    }
    let signing_input = jwt.get(..h64.len() + 1 + p64.len())?;
    let signature = Base64UrlSafeNoPadding::decode_to_vec(s64, None).ok()?;
    let (valid, _) = verifiers.verify(key.material(), signing_input.as_bytes(), &signature);
    if !valid {
        return None;
    }
    json::parse_object(&Base64UrlSafeNoPadding::decode_to_vec(p64, None).ok()?)
}

/// What an active answer grants, once held to the provider's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// `exp`, if the answer has one.
    pub exp: Option<u64>,
    /// `nbf`, if present.
    pub nbf: Option<u64>,
    /// Scopes from `scope` (and `scp`).
    pub scopes: Vec<String>,
    /// `cnf`: the binding enforced on every request.
    pub confirmation: Confirmation,
}

/// Hold an active answer's members to the provider's rules at `now`: `iss` (when present)
/// the provider's issuer, `aud` (when present) one of its audiences, `exp`/`nbf` (when
/// present) with its clock skew, its `required_claims`, a well-formed `cnf`, and
/// `token_type: DPoP` (any case) only with `cnf.jkt`.
pub fn admit_claims(
    provider: &Provider,
    claims: &Map<String, Value>,
    now: u64,
) -> Result<Admitted, TokenError> {
    if let Some(iss) = claims.get("iss") {
        if iss.as_str() != Some(provider.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
    }
    if let Some(aud) = claims.get("aud") {
        let ok = match aud {
            Value::String(a) => provider.audiences.iter().any(|x| x == a),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| provider.audiences.iter().any(|x| x == a)),
            _ => false,
        };
        if !ok {
            return Err(TokenError::WrongAudience);
        }
    }
    let exp = match claims.get("exp") {
        None => None,
        Some(v) => Some(date(v).ok_or(TokenError::InvalidDate)?),
    };
    let nbf = match claims.get("nbf") {
        None => None,
        Some(v) => Some(date(v).ok_or(TokenError::InvalidDate)?),
    };
    let skew = provider.clock_skew_seconds;
    if exp.is_some_and(|exp| now >= exp.saturating_add(skew)) {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(TokenError::NotYetValid);
    }
    token::required_claims_hold(provider, claims)?;
    let confirmation = token::confirmation(claims)?;
    let dpop_type = claims
        .get("token_type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop"));
    if dpop_type && confirmation.jkt.is_none() {
        return Err(TokenError::NotDpopBound);
    }
    let scopes = scopes::of_claims(claims)?;
    Ok(Admitted {
        exp,
        nbf,
        scopes,
        confirmation,
    })
}
