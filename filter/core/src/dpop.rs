//! DPoP proofs (RFC 9449 §4.3): the `DPoP` header that proves the client holds the key its
//! access token is bound to (`cnf.jkt`), checked on every request.
//!
//! # Order of checks (fixed; the first failing check decides the error)
//!
//! Cheap checks come before the signature, so a flood of garbage costs no signature check.
//! 1. **Size** — at most [`MAX_PROOF_BYTES`] → [`ProofError::TooLarge`].
//! 2. **Compact form** — three base64url segments, header and claims non-empty →
//!    [`ProofError::Malformed`]. The signature may be empty here (an unsecured JWS is
//!    written so): such a proof fails the `alg` check below, or the signature check.
//! 3. **Header** — a JSON object with unique members ([`ProofError::BadHeader`]), no
//!    `crit`; `typ` is `dpop+jwt` (case-insensitive) → [`ProofError::WrongType`]; `alg` an
//!    asymmetric algorithm of the provider's `dpop.algorithms` (`none` and HMAC never;
//!    `Ed25519`, RFC 9864's fully-specified name, counts as `EdDSA`) →
//!    [`ProofError::AlgorithmNotAllowed`]; `jwk` a public key of that algorithm
//!    ([`ProofError::PrivateKey`] for private members, else [`ProofError::BadKey`]).
//! 4. **Claims** — a JSON object with unique members; `jti` a non-empty string, `htm` and
//!    `htu` strings, `iat` a number, `ath` a string → [`ProofError::BadPayload`].
//! 5. **`htm`** equals the request method exactly → [`ProofError::WrongMethod`].
//! 6. **`htu`** names this API and the request's path → [`ProofError::WrongUri`]: its
//!    scheme and authority are one of the provider's `dpop.origins` when they are configured,
//!    else the request's `:scheme` and `:authority` (the `Host` the client chose: with a
//!    virtual host matching `*`, a proof made for another API behind the same client-chosen
//!    host name would pass, so configure `origins`); its path is the canonical request path;
//!    query and fragment ignored; both sides after RFC 3986 syntax- and scheme-based
//!    normalisation (lower-case scheme and host, default port dropped, percent-encoding
//!    normalised as in [`crate::path`]).
//! 7. **`iat`** in `[now − max_age − skew, now + skew]` → [`ProofError::Stale`] /
//!    [`ProofError::IssuedInFuture`].
//! 8. **`ath`** is the base64url SHA-256 of the access token → [`ProofError::WrongTokenHash`];
//!    without an access token (a token request, [`ProofRequest::access_token`] `None`) the
//!    proof must carry no `ath` (→ [`ProofError::WrongTokenHash`]).
//! 9. **Signature** with the `jwk`, on the same paths as tokens ([`crate::signature`]) →
//!    [`ProofError::BadSignature`].
//!
//! The caller then compares [`VerifiedProof::thumbprint`] (RFC 7638) with the token's
//! `cnf.jkt` ([`ProofError::KeyMismatch`]) and remembers [`VerifiedProof::replay_key`] until
//! [`VerifiedProof::remember_until`] to refuse a second use ([`ProofError::Replayed`], see
//! [`crate::replay`]).

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde_json::{Map, Value};

use crate::config::DpopPolicy;
use crate::json;
use crate::jwks::{import_embedded_key, Algorithm, EmbeddedKeyError};
use crate::path::{canonicalize, PathParameters};
use crate::signature::{Path, Verifiers};

/// Longest DPoP header accepted (bytes). An RSA-4096 proof is about 1.5 KiB.
pub const MAX_PROOF_BYTES: usize = 8192;

/// Why a DPoP proof is not accepted (401 `invalid_dpop_proof`). `Display` is fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The `DPoP` scheme came without a `DPoP` header.
    MissingProof,
    /// More than one `DPoP` header.
    MultipleProofs,
    /// Longer than [`MAX_PROOF_BYTES`].
    TooLarge,
    /// Not three non-empty base64url segments.
    Malformed,
    /// The header is not a JSON object with unique members, or has `crit`.
    BadHeader,
    /// `typ` is missing or not `dpop+jwt`.
    WrongType,
    /// `alg` is missing, `none`, symmetric, unsupported or not allowed.
    AlgorithmNotAllowed,
    /// The `jwk` holds private key material.
    PrivateKey,
    /// The `jwk` is missing, unusable, or of another type than `alg` needs.
    BadKey,
    /// The signature does not verify with the `jwk`.
    BadSignature,
    /// The claims are not a JSON object with `jti`, `htm`, `htu`, `iat` and `ath` of the
    /// right types.
    BadPayload,
    /// `htm` is not the request method.
    WrongMethod,
    /// `htu` is not the request URI.
    WrongUri,
    /// `iat` is older than the allowed age.
    Stale,
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture,
    /// `ath` is not the hash of the presented access token.
    WrongTokenHash,
    /// The proof key is not the key the access token is bound to (`cnf.jkt`).
    KeyMismatch,
    /// The proof's `jti` was seen before, within its lifetime.
    Replayed,
}

impl ProofError {
    /// Stable metric/log reason.
    pub fn reason(&self) -> &'static str {
        match self {
            ProofError::MissingProof => "dpop_missing_proof",
            ProofError::MultipleProofs => "dpop_multiple_proofs",
            ProofError::TooLarge => "dpop_too_large",
            ProofError::Malformed => "dpop_malformed",
            ProofError::BadHeader => "dpop_bad_header",
            ProofError::WrongType => "dpop_wrong_type",
            ProofError::AlgorithmNotAllowed => "dpop_algorithm_not_allowed",
            ProofError::PrivateKey => "dpop_private_key",
            ProofError::BadKey => "dpop_bad_key",
            ProofError::BadSignature => "dpop_bad_signature",
            ProofError::BadPayload => "dpop_bad_payload",
            ProofError::WrongMethod => "dpop_wrong_method",
            ProofError::WrongUri => "dpop_wrong_uri",
            ProofError::Stale => "dpop_stale",
            ProofError::IssuedInFuture => "dpop_issued_in_future",
            ProofError::WrongTokenHash => "dpop_wrong_ath",
            ProofError::KeyMismatch => "dpop_key_mismatch",
            ProofError::Replayed => "dpop_replayed",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::MissingProof => "the DPoP scheme needs a DPoP proof header",
            ProofError::MultipleProofs => "the request carries more than one DPoP proof",
            ProofError::TooLarge => "the DPoP proof is too large",
            ProofError::Malformed => "the DPoP proof is not a compact JWT",
            ProofError::BadHeader => "the DPoP proof header is malformed",
            ProofError::WrongType => "the DPoP proof typ is not dpop+jwt",
            ProofError::AlgorithmNotAllowed => "the DPoP proof algorithm is not allowed",
            ProofError::PrivateKey => "the DPoP proof key contains private key material",
            ProofError::BadKey => {
                "the DPoP proof key is missing, unusable or does not fit its algorithm"
            }
            ProofError::BadSignature => "the DPoP proof signature is invalid",
            ProofError::BadPayload => "the DPoP proof claims are malformed or incomplete",
            ProofError::WrongMethod => "the DPoP proof is for another method",
            ProofError::WrongUri => "the DPoP proof is for another URI",
            ProofError::Stale => "the DPoP proof is too old",
            ProofError::IssuedInFuture => "the DPoP proof was issued in the future",
            ProofError::WrongTokenHash => {
                "the DPoP proof does not carry the hash of this access token"
            }
            ProofError::KeyMismatch => "the access token is bound to another DPoP key",
            ProofError::Replayed => "the DPoP proof was used before",
        })
    }
}

impl std::error::Error for ProofError {}

/// What the proof is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:scheme` (as Envoy saw the request).
    pub scheme: &'a str,
    /// `:authority`.
    pub authority: &'a str,
    /// The origins `htu` may name (normalised by [`normal_origin`]); when empty, `htu` must
    /// name `scheme` and `authority`.
    pub origins: &'a [String],
    /// The canonical request path (see [`crate::path`]).
    pub path: &'a str,
    /// How `;` in paths is treated (the same rule for `htu`).
    pub path_parameters: PathParameters,
    /// The access token presented with the proof; `None` where there is none (a token
    /// request), and then the proof must carry no `ath`.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check of the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof key (compare with `cnf.jkt`).
    pub thumbprint: [u8; 32],
    /// What identifies this proof for replay detection (thumbprint and `jti`, hashed).
    pub replay_key: [u8; 16],
    /// Until when (unix seconds) the proof could still be accepted, so must be remembered.
    pub remember_until: u64,
    /// Which path verified the signature.
    pub path: Path,
    /// The `nonce` claim, if any (a string; another type is [`ProofError::BadPayload`]).
    pub nonce: Option<String>,
}

/// Check `proof` (the `DPoP` header value) for `req` at `now`.
pub fn check(
    proof: &str,
    policy: &DpopPolicy,
    verifiers: &Verifiers,
    req: &ProofRequest<'_>,
    now: u64,
) -> Result<VerifiedProof, ProofError> {
    use ProofError as E;
    // 1-2.
    if proof.len() > MAX_PROOF_BYTES {
        return Err(E::TooLarge);
    }
    let mut parts = proof.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(E::Malformed);
    };
    let b64 = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(b64(h64) && b64(p64) && (s64.is_empty() || b64(s64))) {
        return Err(E::Malformed);
    }
    // 3. header
    let header = decode_object(h64).ok_or(E::BadHeader)?;
    if header.contains_key("crit") {
        return Err(E::BadHeader);
    }
    match header.get("typ") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop+jwt") => {}
        Some(Value::String(_)) | None => return Err(E::WrongType),
        Some(_) => return Err(E::BadHeader),
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::from_embedded_key_name)
        .filter(|a| policy.algorithms.contains(a))
        .ok_or(E::AlgorithmNotAllowed)?;
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(E::BadKey)?;
    let key = import_embedded_key(jwk, alg).map_err(|e| match e {
        EmbeddedKeyError::PrivateKeyMaterial => E::PrivateKey,
        EmbeddedKeyError::Unusable => E::BadKey,
    })?;
    let thumbprint = thumbprint(jwk).ok_or(E::BadKey)?;
    // 4. claims
    let claims = decode_object(p64).ok_or(E::BadPayload)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let (Some(jti), Some(htm), Some(htu)) = (text("jti"), text("htm"), text("htu")) else {
        return Err(E::BadPayload);
    };
    let ath = match (claims.get("ath"), req.access_token) {
        (Some(Value::String(a)), _) => Some(a.as_str()),
        (None, None) => None,
        _ => return Err(E::BadPayload),
    };
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            })
            .ok_or(E::BadPayload)?,
        _ => return Err(E::BadPayload),
    };
    if jti.is_empty() {
        return Err(E::BadPayload);
    }
    // A server nonce (RFC 9449 §8); checked by the caller when nonces are configured.
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(E::BadPayload),
    };
    // 5-8.
    if htm != req.method {
        return Err(E::WrongMethod);
    }
    if !same_uri(htu, req) {
        return Err(E::WrongUri);
    }
    if iat > now.saturating_add(policy.clock_skew_seconds) {
        return Err(E::IssuedInFuture);
    }
    let remember_until = iat
        .saturating_add(policy.max_age_seconds)
        .saturating_add(policy.clock_skew_seconds);
    if now > remember_until {
        return Err(E::Stale);
    }
    match (ath, req.access_token) {
        (Some(ath), Some(token)) if ath == token_hash(token) => {}
        (None, None) => {}
        _ => return Err(E::WrongTokenHash),
    }
    // 9. signature over the bytes as sent
    let signing_input = proof.get(..h64.len() + 1 + p64.len()).unwrap_or("");
    let signature =
        Base64UrlSafeNoPadding::decode_to_vec(s64, None).map_err(|_| E::BadSignature)?;
    let (valid, path) = verifiers.verify(&key, signing_input.as_bytes(), &signature);
    if !valid {
        return Err(E::BadSignature);
    }
    let mut replay_input = thumbprint.to_vec();
    replay_input.extend_from_slice(jti.as_bytes());
    let digest = hmac_sha256::Hash::hash(&replay_input);
    let mut replay_key = [0u8; 16];
    replay_key.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Ok(VerifiedProof {
        thumbprint,
        replay_key,
        remember_until: remember_until.saturating_add(1),
        path,
        nonce,
    })
}

fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = Base64UrlSafeNoPadding::decode_to_vec(segment, None).ok()?;
    json::parse_object(&bytes)
}

/// `ath`: the base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn token_hash(access_token: &str) -> String {
    let digest = hmac_sha256::Hash::hash(access_token.as_bytes());
    Base64UrlSafeNoPadding::encode_to_string(digest).unwrap_or_default()
}

/// RFC 7638 JWK thumbprint (SHA-256) over the required members in lexicographic order,
/// with their values exactly as given. `None` when a required member is missing or not a
/// plain string.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<[u8; 32]> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let v = jwk.get(*m)?.as_str()?;
        // The values are base64url or fixed names: nothing that JSON would escape.
        if !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&format!("\"{m}\":\"{v}\""));
    }
    canonical.push('}');
    Some(hmac_sha256::Hash::hash(canonical.as_bytes()))
}

/// `htu` and the request name the same URI (query and fragment ignored).
fn same_uri(htu: &str, req: &ProofRequest<'_>) -> bool {
    let Some((scheme, rest)) = htu.split_once("://") else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = rest.get(..path_end).unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    let Ok(canonical) = canonicalize(path, req.path_parameters) else {
        return false;
    };
    let origin_ok = if req.origins.is_empty() {
        scheme.eq_ignore_ascii_case(req.scheme)
            && normal_authority(scheme, authority).is_some_and(|a| {
                normal_authority(req.scheme, req.authority).is_some_and(|b| a == b)
            })
    } else {
        normal_origin(htu.get(..scheme.len() + 3 + authority.len()).unwrap_or(""))
            .is_some_and(|o| req.origins.contains(&o))
    };
    origin_ok && canonical.path() == req.path
}

/// An origin (`https://api.example.com:8443`) in normal form: lower case, without the
/// scheme's default port; `None` unless it is exactly `http://` or `https://` and an
/// authority (host, optional port) with no user, path, query or fragment.
pub fn normal_origin(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let (host_ok, port) = match authority.strip_prefix('[') {
        // An IPv6 literal.
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            let ok = !v6.is_empty()
                && v6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            match after.strip_prefix(':') {
                Some(port) => (ok, Some(port)),
                None if after.is_empty() => (ok, None),
                None => return None,
            }
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            (ok, port)
        }
    };
    let port_ok =
        port.is_none_or(|p| p.parse::<u16>().is_ok() && p.bytes().all(|b| b.is_ascii_digit()));
    if !(host_ok && port_ok) {
        return None;
    }
    Some(format!(
        "{scheme}://{}",
        normal_authority(&scheme, authority)?
    ))
}

/// Lower-case host, without the scheme's default port; `None` with user info or no host.
fn normal_authority(scheme: &str, authority: &str) -> Option<String> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let lower = authority.to_ascii_lowercase();
    let (host, port) = match lower.rfind(':') {
        Some(i) if !lower.get(i..).unwrap_or("").contains(']') => {
            (lower.get(..i).unwrap_or(""), lower.get(i + 1..))
        }
        _ => (lower.as_str(), None),
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => "",
    };
    match port {
        Some(p) if !p.is_empty() && p != default => Some(format!("{host}:{p}")),
        _ => Some(host.to_owned()),
    }
}
