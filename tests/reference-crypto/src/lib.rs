//! TEST-ONLY: what Envoy's `verify_signature` foreign function does, written on `ring`
//! (derived from BoringSSL, like Envoy's crypto; unrelated to the RustCrypto crates the
//! filter's pure path uses), so tests can run the filter's host path without Envoy and
//! compare the two paths. Semantics (Envoy `source/common/crypto/utility_impl.cc`): the key
//! is a DER SubjectPublicKeyInfo; `hash` is `sha256`, `sha384` or `sha512`
//! (case-insensitive); RSA keys verify RSASSA-PKCS1-v1_5, EC keys a DER `ECDSA-Sig-Value`;
//! a key that does not parse is an argument error, a failed check is `Ok(false)`.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

/// The key cannot be used (Envoy answers `BadArgument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadArgument(pub &'static str);

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// One DER TLV: (tag, content, rest).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            rest,
        )
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

/// The parts of a `SubjectPublicKeyInfo` the verifier needs.
struct Spki<'a> {
    algorithm: &'a [u8],
    parameter: Option<&'a [u8]>,
    key: &'a [u8],
}

fn spki(der: &[u8]) -> Option<Spki<'_>> {
    let (0x30, body, []) = tlv(der)? else {
        return None;
    };
    let (0x30, alg, rest) = tlv(body)? else {
        return None;
    };
    let (0x03, bits, []) = tlv(rest)? else {
        return None;
    };
    let (0x06, oid, params) = tlv(alg)? else {
        return None;
    };
    let param = match tlv(params) {
        Some((0x06, p, [])) => Some(p),
        _ => None,
    };
    let (0, key) = bits.split_first()? else {
        return None;
    };
    Some(Spki {
        algorithm: oid,
        parameter: param,
        key,
    })
}

/// Envoy's `verify_signature`.
pub fn verify_signature(
    hash: &str,
    public_key: &[u8],
    signature: &[u8],
    text: &[u8],
) -> Result<bool, BadArgument> {
    let Spki {
        algorithm: oid,
        parameter: param,
        key,
    } = spki(public_key).ok_or(BadArgument("not a SubjectPublicKeyInfo"))?;
    let hash = hash.to_ascii_lowercase();
    let alg: &'static dyn VerificationAlgorithm = match (oid, param, hash.as_str()) {
        (OID_EC_PUBLIC_KEY, Some(OID_P256), "sha256") => &signature::ECDSA_P256_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P256), "sha384") => &signature::ECDSA_P256_SHA384_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P384), "sha256") => &signature::ECDSA_P384_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P384), "sha384") => &signature::ECDSA_P384_SHA384_ASN1,
        (OID_RSA, _, "sha256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA, _, "sha384") => &signature::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA, _, "sha512") => &signature::RSA_PKCS1_2048_8192_SHA512,
        (OID_EC_PUBLIC_KEY | OID_RSA, _, _) => return Ok(false),
        _ => return Err(BadArgument("unsupported key type")),
    };
    Ok(UnparsedPublicKey::new(alg, key)
        .verify(text, signature)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keys_are_argument_errors() {
        assert_eq!(
            verify_signature("sha256", b"", b"", b""),
            Err(BadArgument("not a SubjectPublicKeyInfo"))
        );
        assert_eq!(
            verify_signature("sha256", &[0x30, 0x03, 0x02, 0x01, 0x00], b"", b""),
            Err(BadArgument("not a SubjectPublicKeyInfo"))
        );
    }
}
