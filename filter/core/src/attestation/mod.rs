//! Client attestation (OAuth 2.0 Attestation-Based Client Authentication): the app instance
//! proves it is a genuine app with an attestation signed by a trusted client attester
//! (`OAuth-Client-Attestation`) and a proof of possession of the attested key, either an
//! `OAuth-Client-Attestation-PoP` JWT or, in DPoP combined mode, the request's DPoP proof.
//!
//! Two places use it: a token-endpoint gate (a rule with `grant_types`: the form body is read
//! by [`body`], and only the listed grants need an attestation) and an API rule (every request
//! needs one next to its access token, whose `client_id` must be the attestation's `sub`).
//!
//! # Order of checks (fixed; the first failing check decides)
//!
//! At the token endpoint the body rules of [`body`] come first. Then:
//! 1. Exactly one `OAuth-Client-Attestation` header → [`AttestationError::Missing`],
//!    [`AttestationError::Multiple`].
//! 2. At most [`MAX_JWT_BYTES`], a token68 value of three base64url segments →
//!    [`AttestationError::Malformed`].
//! 3. Header: a JSON object with unique members and no `crit` ([`AttestationError::BadHeader`]);
//!    `typ` `oauth-client-attestation+jwt` → [`AttestationError::WrongType`]; `alg` an
//!    asymmetric algorithm of some attester's `algorithms` (never `none`, never HMAC) →
//!    [`AttestationError::AlgorithmNotAllowed`].
//! 4. The key: by `kid` among those attesters' keys for that `alg`, or the only such key
//!    when there is no `kid` → [`AttestationError::UnknownKey`]; the signature →
//!    [`AttestationError::BadSignature`] (on the same paths as tokens, [`crate::signature`]).
//! 5. Claims: a JSON object with unique members ([`AttestationError::BadPayload`]); `iss`
//!    equal to the attester's `issuer` when one is configured →
//!    [`AttestationError::WrongIssuer`]; `sub` a non-empty string →
//!    [`AttestationError::BadPayload`]; `exp` a number ([`AttestationError::MissingExp`]) not
//!    past (with skew, [`AttestationError::Expired`]); `iat` a number
//!    ([`AttestationError::MissingIat`]: the draft makes it optional, but without it
//!    `max_age_seconds` cannot hold, and the reference server requires it too) not in the
//!    future ([`AttestationError::IssuedInFuture`]) and at most `max_age_seconds` old
//!    ([`AttestationError::Stale`], answered `use_fresh_attestation`).
//! 6. `cnf.jwk`: an object ([`AttestationError::MissingKey`]) without private members
//!    ([`AttestationError::PrivateKey`]) with an RFC 7638 thumbprint
//!    ([`AttestationError::BadKey`]).
//! 7. The proof, exactly one: an `OAuth-Client-Attestation-PoP` header (more than one →
//!    [`AttestationError::MultiplePops`]), else a `DPoP` header (combined mode), else
//!    [`AttestationError::PopMissing`]; a method the rule's `pop_methods` leaves out →
//!    [`AttestationError::PopMethodNotAllowed`].
//!    - PoP JWT: size and form ([`AttestationError::PopMalformed`]); header object without
//!      `crit` ([`AttestationError::PopBadHeader`]); `typ`
//!      `oauth-client-attestation-pop+jwt` ([`AttestationError::PopWrongType`]); `alg`
//!      asymmetric ([`AttestationError::PopAlgorithmNotAllowed`]) and fitting `cnf.jwk`
//!      ([`AttestationError::PopKeyMismatch`]); the signature by `cnf.jwk`
//!      ([`AttestationError::PopBadSignature`]); claims object with `aud`, `jti`, `iat`
//!      ([`AttestationError::PopBadPayload`]); `aud` the rule's `audience` (a string, or an
//!      array holding exactly it) → [`AttestationError::PopWrongAudience`]; `iat` within
//!      `[now − pop_max_age − skew, now + skew]` ([`AttestationError::PopStale`],
//!      [`AttestationError::PopIssuedInFuture`]).
//!    - Combined mode: the RFC 9449 proof check of [`crate::dpop`] (htm, htu, iat within
//!      `pop_max_age_seconds`, `ath` where a token is present, none at the token endpoint) →
//!      [`AttestationError::DpopProof`]; its key's thumbprint equal to `cnf.jwk`'s →
//!      [`AttestationError::PopKeyMismatch`]. At an API the proof was already checked with
//!      the access token by the binding step; a request without the DPoP scheme has no
//!      combined mode there.
//! 8. With `challenges` on: the PoP's `challenge` (the DPoP proof's `nonce` in combined
//!    mode) present ([`AttestationError::ChallengeMissing`]) and current
//!    ([`AttestationError::ChallengeInvalid`]); both answered `use_attestation_challenge`
//!    with a fresh challenge.
//! 9. `client_id`: the token request's (when present) or the access token's `client_id`
//!    equals `sub` → [`AttestationError::ClientMismatch`].
//! 10. Only then the PoP's `jti` goes into the shared replay store
//!     ([`AttestationError::PopReplayed`] when seen before within its window), under a key
//!     of its own space (a purpose byte before the hashed input); a combined-mode proof goes
//!     in as the DPoP proof it is. A request refused anyway writes nothing there.
//!
//! Nothing of the attestation or proof is ever logged or echoed: the answers carry fixed texts.

pub(crate) mod admit;
pub mod body;
pub mod endpoint;

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::{Map, Value};

use crate::config::{ClientAttestation, DpopPolicy, RuleAttestation};
use crate::dpop::{self, ProofError, ProofRequest, VerifiedProof};
use crate::json;
use crate::jwks::{import_embedded_key, Algorithm, EmbeddedKeyError, Key};
use crate::path::PathParameters;
use crate::request;
use crate::signature::{Path, Verifiers};

pub use body::{BodyError, TokenRequest};

/// Longest attestation or PoP accepted (bytes).
pub const MAX_JWT_BYTES: usize = 16_384;

/// The header carrying the attestation.
pub const ATTESTATION_HEADER: &str = "oauth-client-attestation";
/// The header carrying the attestation PoP.
pub const POP_HEADER: &str = "oauth-client-attestation-pop";
/// The request headers `forward_attestation: false` removes.
pub const ATTESTATION_HEADERS: [&str; 2] = [ATTESTATION_HEADER, POP_HEADER];
/// The response header carrying a fresh challenge.
pub const CHALLENGE_HEADER: &str = "oauth-client-attestation-challenge";

/// Members of a JWK that hold private key material.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a client attestation (or its request) is refused. `Display` is fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// The token request breaks a body rule (see [`body`]).
    Body(BodyError),
    /// No `OAuth-Client-Attestation` header.
    Missing,
    /// More than one `OAuth-Client-Attestation` header.
    Multiple,
    /// Too large, not token68, or not three base64url segments.
    Malformed,
    /// The header is not a JSON object with unique members, or has `crit`.
    BadHeader,
    /// `typ` is not `oauth-client-attestation+jwt`.
    WrongType,
    /// `alg` is missing, `none`, symmetric, or no attester accepts it.
    AlgorithmNotAllowed,
    /// No attester key fits (`kid` unknown, or no `kid` and not exactly one key).
    UnknownKey,
    /// The signature does not verify with the attester's key.
    BadSignature,
    /// The claims are not a JSON object with a non-empty string `sub`.
    BadPayload,
    /// `iss` is not the attester's `issuer`.
    WrongIssuer,
    /// No numeric `exp`.
    MissingExp,
    /// `exp` has passed.
    Expired,
    /// No numeric `iat`, so its age cannot be checked.
    MissingIat,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `iat` is older than `max_age_seconds` (`use_fresh_attestation`).
    Stale,
    /// No `cnf.jwk` object.
    MissingKey,
    /// `cnf.jwk` holds private key material.
    PrivateKey,
    /// `cnf.jwk` is not a usable public key.
    BadKey,
    /// No PoP and no DPoP proof.
    PopMissing,
    /// More than one `OAuth-Client-Attestation-PoP` header.
    MultiplePops,
    /// The proof method is not in the rule's `pop_methods`.
    PopMethodNotAllowed,
    /// The PoP is too large or not three base64url segments.
    PopMalformed,
    /// The PoP header is not a JSON object with unique members, or has `crit`.
    PopBadHeader,
    /// The PoP `typ` is not `oauth-client-attestation-pop+jwt`.
    PopWrongType,
    /// The PoP `alg` is missing, `none` or symmetric.
    PopAlgorithmNotAllowed,
    /// The proof is made with another key than `cnf.jwk` (or an algorithm that key cannot
    /// make).
    PopKeyMismatch,
    /// The PoP signature does not verify with `cnf.jwk`.
    PopBadSignature,
    /// The PoP claims are not an object with `aud`, a non-empty `jti` and a numeric `iat`.
    PopBadPayload,
    /// The PoP `aud` is not the rule's `audience`.
    PopWrongAudience,
    /// The PoP `iat` is too old.
    PopStale,
    /// The PoP `iat` is in the future.
    PopIssuedInFuture,
    /// The PoP's `jti` was seen before within its window.
    PopReplayed,
    /// The combined-mode DPoP proof fails the RFC 9449 check.
    DpopProof(ProofError),
    /// Challenges are on and the proof carries none (`use_attestation_challenge`).
    ChallengeMissing,
    /// The proof's challenge is not current (`use_attestation_challenge`).
    ChallengeInvalid,
    /// The attestation's `sub` is not the request's (or access token's) `client_id`.
    ClientMismatch,
}

impl AttestationError {
    /// Stable metric/log reason (one of [`crate::ALL_REASONS`]).
    pub fn reason(&self) -> &'static str {
        use AttestationError as E;
        match self {
            E::Body(b) => b.reason(),
            E::Missing => "attestation_missing",
            E::Multiple => "attestation_multiple",
            E::Malformed => "attestation_malformed",
            E::BadHeader => "attestation_bad_header",
            E::WrongType => "attestation_wrong_type",
            E::AlgorithmNotAllowed => "attestation_algorithm_not_allowed",
            E::UnknownKey => "attestation_unknown_key",
            E::BadSignature => "attestation_invalid_signature",
            E::BadPayload => "attestation_bad_payload",
            E::WrongIssuer => "attestation_wrong_issuer",
            E::MissingExp => "attestation_missing_exp",
            E::MissingIat => "attestation_missing_iat",
            E::Expired => "attestation_expired",
            E::IssuedInFuture => "attestation_issued_in_future",
            E::Stale => "attestation_stale",
            E::MissingKey => "attestation_missing_key",
            E::PrivateKey => "attestation_private_key",
            E::BadKey => "attestation_bad_key",
            E::PopMissing => "attestation_pop_missing",
            E::MultiplePops => "attestation_pop_multiple",
            E::PopMethodNotAllowed => "attestation_pop_method_not_allowed",
            E::PopMalformed => "attestation_pop_malformed",
            E::PopBadHeader => "attestation_pop_bad_header",
            E::PopWrongType => "attestation_pop_wrong_type",
            E::PopAlgorithmNotAllowed => "attestation_pop_algorithm_not_allowed",
            E::PopKeyMismatch => "attestation_pop_key_mismatch",
            E::PopBadSignature => "attestation_pop_invalid_signature",
            E::PopBadPayload => "attestation_pop_bad_payload",
            E::PopWrongAudience => "attestation_pop_wrong_audience",
            E::PopStale => "attestation_pop_stale",
            E::PopIssuedInFuture => "attestation_pop_issued_in_future",
            E::PopReplayed => "attestation_pop_replayed",
            E::DpopProof(_) => "attestation_dpop_proof_invalid",
            E::ChallengeMissing => "attestation_challenge_missing",
            E::ChallengeInvalid => "attestation_challenge_invalid",
            E::ClientMismatch => "attestation_client_mismatch",
        }
    }

    /// The OAuth error code class of this refusal.
    pub fn class(&self) -> ErrorClass {
        match self {
            AttestationError::Body(BodyError::TooLarge) => ErrorClass::TooLarge,
            AttestationError::Body(_) => ErrorClass::InvalidRequest,
            AttestationError::ChallengeMissing | AttestationError::ChallengeInvalid => {
                ErrorClass::UseChallenge
            }
            AttestationError::Stale => ErrorClass::UseFresh,
            _ => ErrorClass::InvalidClient,
        }
    }
}

impl fmt::Display for AttestationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AttestationError as E;
        f.write_str(match self {
            E::Body(b) => return b.fmt(f),
            E::DpopProof(p) => return p.fmt(f),
            E::Missing => "the request carries no client attestation",
            E::Multiple => "the request carries more than one client attestation",
            E::Malformed => "the client attestation is not a compact JWT",
            E::BadHeader => "the client attestation header is malformed",
            E::WrongType => "the client attestation typ is not oauth-client-attestation+jwt",
            E::AlgorithmNotAllowed => "the client attestation algorithm is not allowed",
            E::UnknownKey => "the client attestation is not signed by a trusted attester key",
            E::BadSignature => "the client attestation signature is invalid",
            E::BadPayload => "the client attestation claims are malformed or incomplete",
            E::WrongIssuer => "the client attestation issuer is not trusted",
            E::MissingExp => "the client attestation has no exp",
            E::MissingIat => "the client attestation has no iat",
            E::Expired => "the client attestation has expired",
            E::IssuedInFuture => "the client attestation was issued in the future",
            E::Stale => "the client attestation is too old",
            E::MissingKey => "the client attestation has no cnf.jwk",
            E::PrivateKey => "the client attestation key contains private key material",
            E::BadKey => "the client attestation key is unusable",
            E::PopMissing => "the request carries no proof of possession of the attested key",
            E::MultiplePops => "the request carries more than one client attestation PoP",
            E::PopMethodNotAllowed => "this proof of possession method is not accepted here",
            E::PopMalformed => "the client attestation PoP is not a compact JWT",
            E::PopBadHeader => "the client attestation PoP header is malformed",
            E::PopWrongType => {
                "the client attestation PoP typ is not oauth-client-attestation-pop+jwt"
            }
            E::PopAlgorithmNotAllowed => "the client attestation PoP algorithm is not allowed",
            E::PopKeyMismatch => "the proof is not made with the attested key",
            E::PopBadSignature => "the client attestation PoP signature is invalid",
            E::PopBadPayload => "the client attestation PoP claims are malformed or incomplete",
            E::PopWrongAudience => "the client attestation PoP is for another audience",
            E::PopStale => "the client attestation PoP is too old",
            E::PopIssuedInFuture => "the client attestation PoP was issued in the future",
            E::PopReplayed => "the client attestation PoP was used before",
            E::ChallengeMissing => "the proof carries no attestation challenge",
            E::ChallengeInvalid => "the attestation challenge is not current",
            E::ClientMismatch => "the client attestation is for another client",
        })
    }
}

impl std::error::Error for AttestationError {}

/// How a refusal is answered (RFC 6749 §5.2 at the token endpoint, the draft's codes in
/// `WWW-Authenticate` at an API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 413 `invalid_request`.
    TooLarge,
    /// 401 `invalid_client` (token endpoint) / `invalid_client_attestation` (API).
    InvalidClient,
    /// 400 (401 at an API) `use_attestation_challenge`, with a fresh challenge.
    UseChallenge,
    /// 400 (401 at an API) `use_fresh_attestation`.
    UseFresh,
}

/// Where a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A token-endpoint gate: RFC 6749 §5.2 JSON, no `WWW-Authenticate`.
    TokenEndpoint,
    /// An API rule: 401 with `WWW-Authenticate`.
    Api,
}

/// A refused attestation, with what its answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationDenial {
    /// Why.
    pub error: AttestationError,
    /// Where.
    pub place: Place,
    /// A fresh challenge for the `OAuth-Client-Attestation-Challenge` header
    /// (`use_attestation_challenge` only).
    pub challenge: Option<String>,
}

impl AttestationDenial {
    /// Status, `error` code and extra headers (besides `WWW-Authenticate`, which the caller
    /// writes from the error code at an API).
    pub fn status_and_code(&self) -> (u32, &'static str) {
        match (self.place, self.error.class()) {
            (_, ErrorClass::TooLarge) => (413, "invalid_request"),
            (_, ErrorClass::InvalidRequest) => (400, "invalid_request"),
            (Place::TokenEndpoint, ErrorClass::InvalidClient) => (401, "invalid_client"),
            (Place::TokenEndpoint, ErrorClass::UseChallenge) => (400, "use_attestation_challenge"),
            (Place::TokenEndpoint, ErrorClass::UseFresh) => (400, "use_fresh_attestation"),
            (Place::Api, ErrorClass::InvalidClient) => (401, "invalid_client_attestation"),
            (Place::Api, ErrorClass::UseChallenge) => (401, "use_attestation_challenge"),
            (Place::Api, ErrorClass::UseFresh) => (401, "use_fresh_attestation"),
        }
    }
}

/// What passed: the attested client, and what to write into the replay store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The attestation's `sub` (the client_id).
    pub client_id: String,
    /// The replay-store entry to write once the whole request is admitted (PoP JWT, or the
    /// combined-mode DPoP proof at the token endpoint); `None` when the binding step
    /// remembers the proof itself (combined mode at an API).
    pub remember: Option<Remember>,
    /// The path that verified the attestation's signature.
    pub path: Path,
}

/// A replay-store entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remember {
    /// The key (16 bytes of a hash).
    pub key: [u8; 16],
    /// Until when (unix seconds).
    pub until: u64,
    /// Whether it is a DPoP proof (its refusal then reads as a replayed DPoP proof).
    pub dpop: bool,
}

/// The DPoP side of a request, for combined mode.
#[derive(Debug, Clone, Copy)]
pub enum DpopSide<'a> {
    /// No access token: a `DPoP` header is checked here, without `ath`, against this
    /// request.
    Unchecked {
        /// The request the proof must name.
        request: ProofRequest<'a>,
    },
    /// The binding step already checked the proof with the access token.
    Checked {
        /// The proof as sent.
        proof: &'a str,
        /// What the check found.
        verified: &'a VerifiedProof,
    },
    /// A request with a token but without the DPoP scheme: no combined mode.
    None,
}

/// Everything a check reads.
pub struct Inputs<'a> {
    /// The top-level configuration.
    pub config: &'a ClientAttestation,
    /// The rule's.
    pub rule: &'a RuleAttestation,
    /// Signature verifiers (the same paths as tokens).
    pub verifiers: &'a Verifiers,
    /// All request headers (lower-case names).
    pub headers: &'a [(String, String)],
    /// The DPoP side (combined mode).
    pub dpop: DpopSide<'a>,
    /// The `client_id` the attestation's `sub` must equal, when the request names one.
    pub client_id: Option<&'a str>,
    /// Unix seconds.
    pub now: u64,
}

/// Run checks 1–9 of the module documentation (the replay store is the caller's, step 10).
pub fn check(input: &Inputs<'_>) -> Result<Attested, AttestationError> {
    use AttestationError as E;
    let (cfg, now) = (input.config, input.now);
    // 1-6. The attestation.
    let value = one_header(input.headers, ATTESTATION_HEADER, E::Missing, E::Multiple)?;
    let jwt = split_jwt(value).ok_or(E::Malformed)?;
    let header = json_object(jwt.header).ok_or(E::BadHeader)?;
    if header.contains_key("crit") {
        return Err(E::BadHeader);
    }
    match header.get("typ") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("oauth-client-attestation+jwt") => {}
        Some(Value::String(_)) | None => return Err(E::WrongType),
        Some(_) => return Err(E::BadHeader),
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
        .filter(|a| cfg.attesters.iter().any(|t| t.algorithms.contains(a)))
        .ok_or(E::AlgorithmNotAllowed)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(E::BadHeader),
    };
    let (attester, key) = attester_key(cfg, alg, kid).ok_or(E::UnknownKey)?;
    let (valid, path) = verify(input.verifiers, key, &jwt)?;
    if !valid {
        return Err(E::BadSignature);
    }
    let claims = json_object(jwt.payload).ok_or(E::BadPayload)?;
    if let Some(issuer) = &attester.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(E::WrongIssuer);
        }
    }
    let sub = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err(E::BadPayload),
    };
    let skew = cfg.clock_skew_seconds;
    let exp = match claims.get("exp") {
        None => return Err(E::MissingExp),
        Some(v) => number(v).ok_or(E::BadPayload)?,
    };
    if now > exp.saturating_add(skew) {
        return Err(E::Expired);
    }
    let iat = match claims.get("iat") {
        None => return Err(E::MissingIat),
        Some(v) => number(v).ok_or(E::BadPayload)?,
    };
    if iat > now.saturating_add(skew) {
        return Err(E::IssuedInFuture);
    }
    if now > iat.saturating_add(cfg.max_age_seconds).saturating_add(skew) {
        return Err(E::Stale);
    }
    let jwk = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .and_then(Value::as_object)
        .ok_or(E::MissingKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(E::PrivateKey);
    }
    let thumbprint = dpop::thumbprint(jwk).ok_or(E::BadKey)?;
    // 7-8. The proof.
    let pops = input
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(POP_HEADER))
        .count();
    let remember = match (pops, input.dpop) {
        (0, DpopSide::None) => return Err(E::PopMissing),
        (0, side) => {
            if !input.rule.pop_methods.dpop_combined {
                return Err(E::PopMethodNotAllowed);
            }
            combined(input, side, &thumbprint)?
        }
        (1, _) => {
            if !input.rule.pop_methods.pop_jwt {
                return Err(E::PopMethodNotAllowed);
            }
            let pop = request::header(input.headers, POP_HEADER).unwrap_or("");
            Some(pop_jwt(input, pop, jwk, &thumbprint)?)
        }
        _ => return Err(E::MultiplePops),
    };
    // 9. The client.
    if input.client_id.is_some_and(|c| c != sub) {
        return Err(E::ClientMismatch);
    }
    Ok(Attested {
        client_id: sub.to_owned(),
        remember,
        path,
    })
}

/// The PoP JWT of step 7, and its challenge (step 8).
fn pop_jwt(
    input: &Inputs<'_>,
    pop: &str,
    jwk: &Map<String, Value>,
    thumbprint: &[u8; 32],
) -> Result<Remember, AttestationError> {
    use AttestationError as E;
    let (cfg, now) = (input.config, input.now);
    let jwt = split_jwt(pop).ok_or(E::PopMalformed)?;
    let header = json_object(jwt.header).ok_or(E::PopBadHeader)?;
    if header.contains_key("crit") {
        return Err(E::PopBadHeader);
    }
    match header.get("typ") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("oauth-client-attestation-pop+jwt") => {}
        Some(Value::String(_)) | None => return Err(E::PopWrongType),
        Some(_) => return Err(E::PopBadHeader),
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_embedded_key_name)
        .ok_or(E::PopAlgorithmNotAllowed)?;
    let key = import_embedded_key(jwk, alg).map_err(|e| match e {
        EmbeddedKeyError::PrivateKeyMaterial => E::PrivateKey,
        EmbeddedKeyError::Unusable => E::PopKeyMismatch,
    })?;
    let signature = Base64UrlSafeNoPadding::decode_to_vec(jwt.signature, None)
        .map_err(|_| E::PopBadSignature)?;
    let (valid, _) = input
        .verifiers
        .verify(&key, jwt.signing_input.as_bytes(), &signature);
    if !valid {
        return Err(E::PopBadSignature);
    }
    let claims = json_object(jwt.payload).ok_or(E::PopBadPayload)?;
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() => j.as_str(),
        _ => return Err(E::PopBadPayload),
    };
    let iat = claims.get("iat").and_then(number).ok_or(E::PopBadPayload)?;
    let audience = input.rule.audience.as_str();
    match claims.get("aud") {
        Some(Value::String(a)) if a == audience => {}
        Some(Value::Array(items))
            if items.len() == 1 && items.first().and_then(Value::as_str) == Some(audience) => {}
        Some(Value::String(_) | Value::Array(_)) => return Err(E::PopWrongAudience),
        _ => return Err(E::PopBadPayload),
    }
    let skew = cfg.clock_skew_seconds;
    if iat > now.saturating_add(skew) {
        return Err(E::PopIssuedInFuture);
    }
    let until = iat
        .saturating_add(cfg.pop_max_age_seconds)
        .saturating_add(skew);
    if now > until {
        return Err(E::PopStale);
    }
    check_challenge(cfg, claims.get("challenge"), now)?;
    let mut input_bytes = vec![POP_REPLAY_PURPOSE];
    input_bytes.extend_from_slice(thumbprint);
    input_bytes.extend_from_slice(jti.as_bytes());
    let digest = hmac_sha256::Hash::hash(&input_bytes);
    let mut key = [0u8; 16];
    key.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Ok(Remember {
        key,
        until: until.saturating_add(1),
        dpop: false,
    })
}

/// The first byte of a PoP's replay-store input: DPoP proofs hash the thumbprint first, so
/// a PoP and a proof with the same `jti` never share a key.
const POP_REPLAY_PURPOSE: u8 = 0x01;

/// Combined mode (step 7) and its challenge (step 8).
fn combined(
    input: &Inputs<'_>,
    side: DpopSide<'_>,
    thumbprint: &[u8; 32],
) -> Result<Option<Remember>, AttestationError> {
    use AttestationError as E;
    let cfg = input.config;
    let (proof, verified, remember) = match side {
        DpopSide::None => return Err(E::PopMissing),
        DpopSide::Checked { proof, verified } => (proof, verified.clone(), false),
        DpopSide::Unchecked { request } => {
            let proof = one_header(
                input.headers,
                "dpop",
                E::PopMissing,
                E::DpopProof(ProofError::MultipleProofs),
            )?;
            let policy = DpopPolicy {
                max_age_seconds: cfg.pop_max_age_seconds,
                clock_skew_seconds: cfg.clock_skew_seconds,
                algorithms: Algorithm::ALL.to_vec(),
                origins: request.origins.to_vec(),
            };
            let verified = dpop::check(proof, &policy, input.verifiers, &request, input.now)
                .map_err(E::DpopProof)?;
            (proof, verified, true)
        }
    };
    if verified.thumbprint != *thumbprint {
        return Err(E::PopKeyMismatch);
    }
    let nonce = split_jwt(proof)
        .and_then(|j| json_object(j.payload))
        .and_then(|c| c.get("nonce").cloned());
    check_challenge(cfg, nonce.as_ref(), input.now)?;
    Ok(remember.then_some(Remember {
        key: verified.replay_key,
        until: verified.remember_until,
        dpop: true,
    }))
}

fn check_challenge(
    cfg: &ClientAttestation,
    value: Option<&Value>,
    now: u64,
) -> Result<(), AttestationError> {
    let Some(challenges) = &cfg.challenges else {
        return Ok(());
    };
    match value {
        None => Err(AttestationError::ChallengeMissing),
        Some(Value::String(c)) => challenges
            .key
            .check(c, now)
            .map(|_| ())
            .map_err(|_| AttestationError::ChallengeInvalid),
        Some(_) => Err(AttestationError::ChallengeInvalid),
    }
}

/// The one value of header `name`: none → `missing`, several → `several`.
fn one_header<'h>(
    headers: &'h [(String, String)],
    name: &str,
    missing: AttestationError,
    several: AttestationError,
) -> Result<&'h str, AttestationError> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(missing),
        (Some(_), Some(_)) => Err(several),
    }
}

/// A compact JWS, split.
struct Jwt<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

/// At most [`MAX_JWT_BYTES`], three non-empty base64url segments.
fn split_jwt(value: &str) -> Option<Jwt<'_>> {
    if value.len() > MAX_JWT_BYTES {
        return None;
    }
    let mut parts = value.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let b64 = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(b64(header) && b64(payload) && b64(signature)) {
        return None;
    }
    Some(Jwt {
        header,
        payload,
        signature,
        signing_input: value.get(..header.len() + 1 + payload.len())?,
    })
}

fn json_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = Base64UrlSafeNoPadding::decode_to_vec(segment, None).ok()?;
    json::parse_object(&bytes)
}

/// A JSON number as whole unix seconds (fractions dropped); `None` when negative or not a
/// number.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// The attester key for `alg` and `kid`: by `kid` among the keys of the attesters that
/// accept `alg`, else the only key for `alg` among them. Never tries several keys.
fn attester_key<'c>(
    cfg: &'c ClientAttestation,
    alg: Algorithm,
    kid: Option<&str>,
) -> Option<(&'c crate::config::Attester, &'c Key)> {
    let mut found = None;
    for attester in cfg.attesters.iter().filter(|a| a.algorithms.contains(&alg)) {
        for key in attester.keys.keys_for(alg) {
            let fits = match kid {
                Some(k) => key.kid() == Some(k),
                None => true,
            };
            if fits {
                if found.is_some() {
                    return None;
                }
                found = Some((attester, key));
            }
        }
    }
    found
}

fn verify(
    verifiers: &Verifiers,
    key: &Key,
    jwt: &Jwt<'_>,
) -> Result<(bool, Path), AttestationError> {
    let signature = Base64UrlSafeNoPadding::decode_to_vec(jwt.signature, None)
        .map_err(|_| AttestationError::BadSignature)?;
    Ok(verifiers.verify(key.material(), jwt.signing_input.as_bytes(), &signature))
}

/// The proof request of a token-endpoint (or token-less) combined-mode proof.
pub fn token_endpoint_proof_request<'a>(
    headers: &'a [(String, String)],
    method: &'a str,
    path: &'a str,
    path_parameters: PathParameters,
    origins: &'a [String],
) -> ProofRequest<'a> {
    ProofRequest {
        method,
        scheme: request::header(headers, ":scheme").unwrap_or(""),
        authority: request::header(headers, ":authority").unwrap_or(""),
        origins,
        path,
        path_parameters,
        access_token: None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
