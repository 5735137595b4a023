//! JSON Web Key Sets: per-key import of the public signature keys tollgate supports.
//!
//! Supported keys (and the one algorithm each is used with — a key never chooses its
//! algorithm from the token header):
//!
//! | `kty` | `crv` | algorithm |
//! |---|---|---|
//! | `EC` | `P-256` | `ES256` |
//! | `EC` | `P-384` | `ES384` |
//! | `EC` | `P-521` | `ES512` |
//! | `OKP` | `Ed25519` | `EdDSA` |
//! | `RSA` (2048–4096 bits, e = 65537) | – | the key's `alg`: `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`; `RS256` when the key has no `alg` (Entra ID publishes RSA keys without `alg`) |
//!
//! Two modes:
//! - [`KeySet::from_jwks_strict`] for inline configuration: any key that cannot be used is
//!   an error naming its index (the plugin refuses to load);
//! - [`KeySet::from_jwks_lenient`] for fetched key sets: unusable keys are skipped one by
//!   one, each with a [`SkipReason`], and the usable rest is returned.
//!
//! Checks per key, in order: JSON object; `kty` supported; no private key material;
//! `use` (if present) is `sig`; `key_ops` (if present) contains `verify`; `crv` supported;
//! `alg` (if present) consistent with the key type; `kid` (if present) a string not seen
//! before in the set; key material imports ([`crate::signature::KeyMaterial`]: EC points on
//! the curve with coordinates of the exact length, Ed25519 keys of 32 bytes, RSA moduli of
//! 2048–4096 bits with exponent 65537).
//! At most [`MAX_KEYS`] keys are considered.

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::{Map, Value};

use crate::signature::KeyMaterial;

/// Maximum number of keys taken from one JWKS; further keys are an error (strict) or
/// skipped with [`SkipReason::TooManyKeys`] (lenient).
pub const MAX_KEYS: usize = 32;

/// A signature algorithm tollgate can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA P-256 / SHA-256.
    ES256,
    /// ECDSA P-384 / SHA-384.
    ES384,
    /// ECDSA P-521 / SHA-512.
    ES512,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 / SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 / SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 / SHA-512.
    RS512,
    /// RSASSA-PSS / SHA-256.
    PS256,
    /// RSASSA-PSS / SHA-384.
    PS384,
    /// RSASSA-PSS / SHA-512.
    PS512,
}

impl Algorithm {
    /// Every supported algorithm (the default for remote providers).
    pub const ALL: [Algorithm; 10] = [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];

    /// The JOSE name (`"ES256"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
        }
    }

    /// Parse a JOSE algorithm name (exact, case-sensitive as RFC 7515 requires).
    /// `none`, `HS*` and anything else unsupported give `None`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// [`Algorithm::from_name`], also reading RFC 9864's fully-specified `Ed25519` (EdDSA
    /// with an Ed25519 key, the only EdDSA curve the filter knows) as clients of proofs
    /// with an embedded key (DPoP, attestation PoPs) may name it; the `dpop` npm package
    /// signs so.
    pub fn from_embedded_key_name(name: &str) -> Option<Algorithm> {
        match name {
            "Ed25519" => Some(Algorithm::EdDSA),
            name => Algorithm::from_name(name),
        }
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(
            self,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One usable public key.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    alg: Algorithm,
    material: KeyMaterial,
}

impl Key {
    /// The key id (`kid`), if the JWK had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The only algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key material, for signature checks.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }
}

/// Key material is redacted: only `kid` and algorithm are shown.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("material", &"<redacted>")
            .finish()
    }
}

/// The usable keys of one provider.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// Why one key of a JWKS was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON object.
    NotAnObject,
    /// `kty` missing, not a string, or not `EC`/`OKP`/`RSA` (e.g. `oct`: symmetric keys are
    /// never accepted).
    UnsupportedKeyType,
    /// The key contains private key material (`d`, `p`, `q`, …): never accepted in a
    /// public key set.
    PrivateKeyMaterial,
    /// `use` is present and not `sig` (e.g. an encryption key).
    NotForSignatures,
    /// `key_ops` is present and does not contain `verify`, or is not an array of strings.
    KeyOpsExcludeVerify,
    /// `crv` missing or not a supported curve for the key type.
    UnsupportedCurve,
    /// `alg` is not a string, or names an algorithm this key type cannot be used with
    /// (or one tollgate does not support).
    AlgorithmMismatch,
    /// `kid` present but not a string.
    BadKeyId,
    /// Another key earlier in the set has the same `kid`; the later one is skipped.
    DuplicateKeyId,
    /// The key material does not import (bad base64url, point not on the curve, RSA
    /// modulus outside 2048–4096 bits, exponent other than 65537, …).
    BadKeyMaterial,
    /// More than [`MAX_KEYS`] keys in the set.
    TooManyKeys,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NotAnObject => "key is not a JSON object",
            SkipReason::UnsupportedKeyType => "unsupported key type (kty)",
            SkipReason::PrivateKeyMaterial => "key contains private key material",
            SkipReason::NotForSignatures => "key use is not \"sig\"",
            SkipReason::KeyOpsExcludeVerify => "key_ops does not allow \"verify\"",
            SkipReason::UnsupportedCurve => "unsupported or missing curve (crv)",
            SkipReason::AlgorithmMismatch => "alg is unsupported or does not fit the key type",
            SkipReason::BadKeyId => "kid is not a string",
            SkipReason::DuplicateKeyId => "duplicate kid",
            SkipReason::BadKeyMaterial => "key material cannot be imported",
            SkipReason::TooManyKeys => "too many keys in the set",
        })
    }
}

/// A key left out of a leniently parsed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Index in the JWKS `keys` array.
    pub index: usize,
    /// The key's `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// A JWKS document that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// Not valid JSON.
    NotJson,
    /// Not an object with a `keys` array.
    NoKeysArray,
    /// A key cannot be used (strict mode only): index and reason.
    Key {
        /// Index in the `keys` array.
        index: usize,
        /// Why it cannot be used.
        reason: SkipReason,
    },
    /// No usable key at all.
    Empty,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::NotJson => f.write_str("JWKS is not valid JSON"),
            JwksError::NoKeysArray => f.write_str("JWKS is not an object with a \"keys\" array"),
            JwksError::Key { index, reason } => write!(f, "keys[{index}]: {reason}"),
            JwksError::Empty => f.write_str("JWKS contains no usable key"),
        }
    }
}

impl KeySet {
    /// An empty set (remote providers start with it until the first fetch).
    pub fn empty() -> KeySet {
        KeySet::default()
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable keys, in JWKS order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Parse a JWKS document (`{"keys":[…]}`) for inline configuration: every key must be
    /// usable, and at least one must be present.
    pub fn from_jwks_strict(json: &[u8]) -> Result<KeySet, JwksError> {
        let value: Value = serde_json::from_slice(json).map_err(|_| JwksError::NotJson)?;
        Self::from_value_strict(&value)
    }

    /// Parse a JWKS document for a fetched key set: unusable keys are skipped and listed.
    /// Errors only when the document as a whole is unusable or no key is usable.
    pub fn from_jwks_lenient(json: &[u8]) -> Result<(KeySet, Vec<SkippedKey>), JwksError> {
        let value: Value = serde_json::from_slice(json).map_err(|_| JwksError::NotJson)?;
        let keys = keys_array(&value)?;
        let mut set = KeySet::default();
        let mut skipped = Vec::new();
        for (index, jwk) in keys.iter().enumerate() {
            let result = if index >= MAX_KEYS {
                Err(SkipReason::TooManyKeys)
            } else {
                import_key(jwk, &set)
            };
            match result {
                Ok(key) => set.keys.push(key),
                Err(reason) => skipped.push(SkippedKey {
                    index,
                    kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
                    reason,
                }),
            }
        }
        if set.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok((set, skipped))
    }

    pub(crate) fn from_value_strict(value: &Value) -> Result<KeySet, JwksError> {
        let keys = keys_array(value)?;
        let mut set = KeySet::default();
        for (index, jwk) in keys.iter().enumerate() {
            if index >= MAX_KEYS {
                return Err(JwksError::Key {
                    index,
                    reason: SkipReason::TooManyKeys,
                });
            }
            let key = import_key(jwk, &set).map_err(|reason| JwksError::Key { index, reason })?;
            set.keys.push(key);
        }
        if set.is_empty() {
            return Err(JwksError::Empty);
        }
        Ok(set)
    }

    /// Keys usable with `alg`.
    pub(crate) fn keys_for(&self, alg: Algorithm) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(move |k| k.alg == alg)
    }

    /// The key with this `kid`.
    pub(crate) fn by_kid(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// Algorithms of the keys in the set (no duplicates, in key order).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut out: Vec<Algorithm> = Vec::new();
        for k in &self.keys {
            if !out.contains(&k.alg) {
                out.push(k.alg);
            }
        }
        out
    }
}

fn keys_array(value: &Value) -> Result<&Vec<Value>, JwksError> {
    value
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or(JwksError::NoKeysArray)
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn import_key(jwk: &Value, set: &KeySet) -> Result<Key, SkipReason> {
    let obj = jwk.as_object().ok_or(SkipReason::NotAnObject)?;
    let kty = obj
        .get("kty")
        .and_then(Value::as_str)
        .ok_or(SkipReason::UnsupportedKeyType)?;
    if !matches!(kty, "EC" | "OKP" | "RSA") {
        return Err(SkipReason::UnsupportedKeyType);
    }
    if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
        return Err(SkipReason::PrivateKeyMaterial);
    }
    if let Some(u) = obj.get("use") {
        if u.as_str() != Some("sig") {
            return Err(SkipReason::NotForSignatures);
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let ops = ops.as_array().ok_or(SkipReason::KeyOpsExcludeVerify)?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err(SkipReason::KeyOpsExcludeVerify);
        }
    }
    let crv = obj.get("crv").and_then(Value::as_str);
    let natural = match (kty, crv) {
        ("EC", Some("P-256")) => Algorithm::ES256,
        ("EC", Some("P-384")) => Algorithm::ES384,
        ("EC", Some("P-521")) => Algorithm::ES512,
        ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
        ("RSA", _) => Algorithm::RS256,
        _ => return Err(SkipReason::UnsupportedCurve),
    };
    let alg = match obj.get("alg") {
        None => natural,
        Some(v) => {
            let a = v
                .as_str()
                .and_then(Algorithm::from_name)
                .ok_or(SkipReason::AlgorithmMismatch)?;
            let fits = if natural.is_rsa() {
                a.is_rsa()
            } else {
                a == natural
            };
            if !fits {
                return Err(SkipReason::AlgorithmMismatch);
            }
            a
        }
    };
    let kid = match obj.get("kid") {
        None => None,
        Some(v) => Some(v.as_str().ok_or(SkipReason::BadKeyId)?.to_owned()),
    };
    if let Some(k) = &kid {
        if set.by_kid(k).is_some() {
            return Err(SkipReason::DuplicateKeyId);
        }
    }
    let material = import_material(obj, kty, alg).ok_or(SkipReason::BadKeyMaterial)?;
    Ok(Key { kid, alg, material })
}

/// Why a JWK cannot be used with a given algorithm (the key of a DPoP proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedKeyError {
    /// The key contains private members (`d`, `p`, `q`, …).
    PrivateKeyMaterial,
    /// Missing, of another type or curve than `alg` needs, or its material does not import.
    Unusable,
}

/// Import a public JWK for use with exactly `alg` (a key that arrives with the message it
/// verifies, like the `jwk` header of a DPoP proof): `kty`/`crv` must fit `alg`, no private
/// members, and the material must import as for a key set.
pub fn import_embedded_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
) -> Result<KeyMaterial, EmbeddedKeyError> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(EmbeddedKeyError::PrivateKeyMaterial);
    }
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    let fits = match (kty, crv) {
        (Some("EC"), Some("P-256")) => alg == Algorithm::ES256,
        (Some("EC"), Some("P-384")) => alg == Algorithm::ES384,
        (Some("EC"), Some("P-521")) => alg == Algorithm::ES512,
        (Some("OKP"), Some("Ed25519")) => alg == Algorithm::EdDSA,
        (Some("RSA"), _) => alg.is_rsa(),
        _ => false,
    };
    if !fits {
        return Err(EmbeddedKeyError::Unusable);
    }
    import_material(jwk, kty.unwrap_or(""), alg).ok_or(EmbeddedKeyError::Unusable)
}

/// Import the public members only (`x5c` chains and other metadata never influence the
/// import). `kid` is not part of it: selection by `kid` is done here.
fn import_material(obj: &Map<String, Value>, kty: &str, alg: Algorithm) -> Option<KeyMaterial> {
    let member = |name: &str| -> Option<Vec<u8>> {
        let text = obj.get(name)?.as_str()?;
        Base64UrlSafeNoPadding::decode_to_vec(text, None).ok()
    };
    match kty {
        "EC" => KeyMaterial::ec(alg, &member("x")?, &member("y")?),
        "OKP" => KeyMaterial::ed25519(&member("x")?),
        _ => KeyMaterial::rsa(alg, &member("n")?, &member("e")?),
    }
}
