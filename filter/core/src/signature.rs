//! Signature checks: the imported public keys, the pure-Rust verifiers, and the host path.
//!
//! Two paths give the same verdicts:
//! - **Host** (Envoy's `verify_signature` foreign function, through [`SignatureHost`]):
//!   `ES256`, `ES384` (the JWS raw `r‖s` converted to a canonical DER `ECDSA-Sig-Value`),
//!   `RS256`, `RS384`, `RS512`. The check runs in Envoy's own crypto, at native speed. The
//!   glue turns it on per algorithm after a known-answer self-test ([`crate::selftest`]).
//! - **Pure Rust** (inside the VM): every algorithm; the only one for `EdDSA` and `PS*`
//!   (the host offers neither PSS padding nor Ed25519) and for `ES512` (not self-tested on
//!   the host), and for everything on hosts without the function. RustCrypto
//!   `p256`/`p384`/`p521` ECDSA, `ed25519-dalek`, `rsa` (PKCS#1 v1.5 and PSS with the
//!   salt as long as the hash, RFC 7518 §3.5).
//!
//! The security properties do not depend on the path: the algorithm comes from the key (the
//! caller checked it equals the header's), the key was chosen by `kid`, and the signature
//! length is checked exactly before either path sees it (64 bytes for ES256, 96 for ES384
//! and 64 for EdDSA, the modulus length for RSA), so a DER-encoded signature in a token is
//! refused on both paths. A host failure (an error, not a verdict) falls back to the pure
//! path, never to acceptance.

use std::fmt;

use crate::jwks::Algorithm;

/// The host's signature check, as Envoy's `verify_signature` foreign function defines it:
/// `public_key` is a DER SubjectPublicKeyInfo, `hash` one of `"sha256"`, `"sha384"`,
/// `"sha512"`; RSA keys use PKCS#1 v1.5 padding and EC keys a DER `ECDSA-Sig-Value`.
pub trait SignatureHost {
    /// `Ok(true)`: the signature is valid; `Ok(false)`: it is not; `Err`: the call failed
    /// (no verdict).
    fn verify(
        &self,
        hash: &'static str,
        public_key: &[u8],
        signature: &[u8],
        text: &[u8],
    ) -> Result<bool, HostFailure>;
}

/// The host could not give a verdict (the call failed or its answer was unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure(pub String);

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The algorithms the host path can serve at all.
pub const HOST_CAPABLE: [Algorithm; 5] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// Which path verified a signature (for metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Envoy's `verify_signature`.
    Host,
    /// The pure-Rust verifier in the VM.
    Wasm,
}

/// The verifiers in use: an optional host, and the algorithms it serves.
#[derive(Default)]
pub struct Verifiers {
    host: Option<Box<dyn SignatureHost>>,
    host_algorithms: Vec<Algorithm>,
}

impl fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifiers")
            .field("host_algorithms", &self.host_algorithms)
            .finish()
    }
}

impl Verifiers {
    /// Pure Rust only.
    pub fn pure() -> Verifiers {
        Verifiers::default()
    }

    /// Use `host` for `algorithms` (those not in [`HOST_CAPABLE`] are ignored).
    pub fn with_host(host: Box<dyn SignatureHost>, algorithms: &[Algorithm]) -> Verifiers {
        let host_algorithms = algorithms
            .iter()
            .copied()
            .filter(|a| HOST_CAPABLE.contains(a))
            .collect();
        Verifiers {
            host: Some(host),
            host_algorithms,
        }
    }

    /// The algorithms verified by the host.
    pub fn host_algorithms(&self) -> &[Algorithm] {
        &self.host_algorithms
    }

    /// Verify `signature` over `text` with `key`. Returns the verdict and the path that gave it.
    pub fn verify(&self, key: &KeyMaterial, text: &[u8], signature: &[u8]) -> (bool, Path) {
        if signature.len() != key.signature_len {
            return (false, Path::Wasm);
        }
        if let Some(host) = &self.host {
            if self.host_algorithms.contains(&key.alg) {
                if let Some(verdict) = verify_on_host(host.as_ref(), key, text, signature) {
                    return (verdict, Path::Host);
                }
            }
        }
        (verify_pure(key, text, signature), Path::Wasm)
    }
}

/// An imported public key, bound to one algorithm. Key material is never printed.
#[derive(Clone)]
pub struct KeyMaterial {
    alg: Algorithm,
    key: PublicKey,
    /// DER SubjectPublicKeyInfo for the host path (empty for Ed25519).
    spki: Vec<u8>,
    /// Exact length of a valid JWS signature with this key.
    signature_len: usize,
}

#[derive(Clone)]
enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(Box<rsa::RsaPublicKey>),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("alg", &self.alg)
            .field("material", &"<redacted>")
            .finish()
    }
}

/// DER prefix of a P-256 SubjectPublicKeyInfo up to the uncompressed point.
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
/// DER prefix of a P-384 SubjectPublicKeyInfo up to the uncompressed point.
const P384_SPKI_PREFIX: [u8; 24] = [
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04,
];

/// Smallest and largest accepted RSA modulus (bits).
pub const RSA_BITS: (usize, usize) = (2048, 4096);

impl KeyMaterial {
    /// The algorithm the key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// An EC key from its affine coordinates (`x`, `y` exactly as long as the curve's field
    /// elements). `None` when the point is not on the curve or the lengths are wrong.
    pub fn ec(alg: Algorithm, x: &[u8], y: &[u8]) -> Option<KeyMaterial> {
        let (prefix, size): (&[u8], usize) = match alg {
            Algorithm::ES256 => (&P256_SPKI_PREFIX, 32),
            Algorithm::ES384 => (&P384_SPKI_PREFIX, 48),
            // ES512 stays on the pure path: no SPKI needed.
            Algorithm::ES512 => (&[], 66),
            _ => return None,
        };
        if x.len() != size || y.len() != size {
            return None;
        }
        let mut sec1 = Vec::with_capacity(1 + 2 * size);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let key = match alg {
            Algorithm::ES256 => {
                PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).ok()?)
            }
            Algorithm::ES384 => {
                PublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).ok()?)
            }
            _ => PublicKey::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).ok()?),
        };
        let mut spki = prefix.to_vec();
        if !spki.is_empty() {
            spki.extend_from_slice(sec1.get(1..).unwrap_or(&[]));
        }
        Some(KeyMaterial {
            alg,
            key,
            spki,
            signature_len: 2 * size,
        })
    }

    /// An Ed25519 key (`x`, 32 bytes).
    pub fn ed25519(x: &[u8]) -> Option<KeyMaterial> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(x.try_into().ok()?).ok()?;
        Some(KeyMaterial {
            alg: Algorithm::EdDSA,
            key: PublicKey::Ed25519(key),
            spki: Vec::new(),
            signature_len: 64,
        })
    }

    /// An RSA key for `alg` (one of the `RS*`/`PS*` algorithms): modulus of
    /// [`RSA_BITS`] bits (leading zero bytes ignored), public exponent 65537.
    pub fn rsa(alg: Algorithm, n: &[u8], e: &[u8]) -> Option<KeyMaterial> {
        if !alg.is_rsa() {
            return None;
        }
        let n = strip_leading_zeros(n);
        let bits = n
            .first()
            .map(|b| n.len() * 8 - b.leading_zeros() as usize)?;
        if bits < RSA_BITS.0 || bits > RSA_BITS.1 || strip_leading_zeros(e) != [1, 0, 1] {
            return None;
        }
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(n),
            rsa::BigUint::from_bytes_be(&[1, 0, 1]),
        )
        .ok()?;
        use rsa::pkcs8::EncodePublicKey;
        let spki = key.to_public_key_der().ok()?.as_bytes().to_vec();
        Some(KeyMaterial {
            alg,
            key: PublicKey::Rsa(Box::new(key)),
            spki,
            signature_len: n.len(),
        })
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or(&[])
}

/// The host's hash name for an algorithm the host path serves.
fn host_hash(alg: Algorithm) -> Option<&'static str> {
    match alg {
        Algorithm::ES256 | Algorithm::RS256 => Some("sha256"),
        Algorithm::ES384 | Algorithm::RS384 => Some("sha384"),
        Algorithm::RS512 => Some("sha512"),
        _ => None,
    }
}

/// `Some(verdict)` from the host; `None` when the host could not answer (the caller then
/// uses the pure path).
pub(crate) fn verify_on_host(
    host: &dyn SignatureHost,
    key: &KeyMaterial,
    text: &[u8],
    signature: &[u8],
) -> Option<bool> {
    let hash = host_hash(key.alg)?;
    let der;
    let sig = match key.alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            der = p1363_to_der(signature)?;
            der.as_slice()
        }
        _ => signature,
    };
    host.verify(hash, &key.spki, sig, text).ok()
}

/// A JWS ECDSA signature (`r‖s`, two big-endian integers of equal length) as a canonical
/// DER `ECDSA-Sig-Value` (`SEQUENCE { INTEGER r, INTEGER s }`, minimal integers). `None` for
/// an odd or empty length or one too long for a short-form DER length. Values out of range
/// (zero, ≥ the group order) are converted as they are and refused by the verifier.
pub fn p1363_to_der(signature: &[u8]) -> Option<Vec<u8>> {
    if signature.is_empty() || signature.len() % 2 != 0 || signature.len() > 2 * 60 {
        return None;
    }
    let (r, s) = signature.split_at(signature.len() / 2);
    let mut body = Vec::with_capacity(signature.len() + 6);
    for int in [r, s] {
        let digits = strip_leading_zeros(int);
        let pad = digits.first().is_none_or(|b| b & 0x80 != 0);
        let len = digits.len() + usize::from(pad);
        body.push(0x02);
        body.push(u8::try_from(len).ok()?);
        if pad {
            body.push(0x00);
        }
        body.extend_from_slice(digits);
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(u8::try_from(body.len()).ok().filter(|l| *l < 0x80)?);
    out.extend_from_slice(&body);
    Some(out)
}

/// The pure-Rust verdict.
fn verify_pure(key: &KeyMaterial, text: &[u8], signature: &[u8]) -> bool {
    use sha2_rsa::Digest;
    match &key.key {
        PublicKey::P256(k) => {
            use p256::ecdsa::signature::Verifier;
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(text, &sig).is_ok())
        }
        PublicKey::P384(k) => {
            use p384::ecdsa::signature::Verifier;
            p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(text, &sig).is_ok())
        }
        PublicKey::P521(k) => {
            use p521::ecdsa::signature::Verifier;
            p521::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify(text, &sig).is_ok())
        }
        // Strict: a small-order key or `R`, and a non-canonical `S`, are refused.
        PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|sig| k.verify_strict(text, &sig).is_ok()),
        PublicKey::Rsa(k) => {
            let ok = match key.alg {
                Algorithm::RS256 => k.verify(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha256>(),
                    &sha2_rsa::Sha256::digest(text),
                    signature,
                ),
                Algorithm::RS384 => k.verify(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha384>(),
                    &sha2_rsa::Sha384::digest(text),
                    signature,
                ),
                Algorithm::RS512 => k.verify(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha512>(),
                    &sha2_rsa::Sha512::digest(text),
                    signature,
                ),
                Algorithm::PS256 => k.verify(
                    rsa::Pss::new_with_salt::<sha2_rsa::Sha256>(32),
                    &sha2_rsa::Sha256::digest(text),
                    signature,
                ),
                Algorithm::PS384 => k.verify(
                    rsa::Pss::new_with_salt::<sha2_rsa::Sha384>(48),
                    &sha2_rsa::Sha384::digest(text),
                    signature,
                ),
                Algorithm::PS512 => k.verify(
                    rsa::Pss::new_with_salt::<sha2_rsa::Sha512>(64),
                    &sha2_rsa::Sha512::digest(text),
                    signature,
                ),
                _ => return false,
            };
            ok.is_ok()
        }
    }
}
