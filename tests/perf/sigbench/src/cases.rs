//! The cases: for every algorithm tollgate verifies, one token-sized signing input (the
//! testkit's standard header and claims) signed with a TEST-ONLY key. EC and Ed25519 keys
//! come from fixed seeds, RSA keys from the TEST-ONLY PEM fixtures; ECDSA and PKCS#1 v1.5
//! signatures are deterministic, PSS ones carry a random salt (same cost every run).

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde_json::{json, Value};
use tollgate_core::testkit::{self, TestKey, NOW};
use tollgate_sigbench_guest::{Case, Key};

/// The 2048-bit TEST-ONLY RSA key of the core's tests (RS*, PS* cases).
const RSA_2048_PEM: &str =
    include_str!("../../../../filter/core/tests/fixtures/test-only-rs256-2048.pem");
/// The 4096-bit TEST-ONLY RSA key (`fixtures/README.md`).
const RSA_4096_PEM: &str = include_str!("../fixtures/test-only-rsa-4096.pem");
/// TEST-ONLY P-384 private scalar.
const P384_SCALAR: [u8; 48] = [0x33; 48];
/// TEST-ONLY P-521 private scalar (66 bytes, below the group order).
const P521_SCALAR: [u8; 66] = {
    let mut s = [0x44; 66];
    s[0] = 0x01;
    s
};

/// The row names, in table order.
pub const NAMES: [&str; 11] = [
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "RS256 (4096-bit)",
];

/// A case could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningError {
    pub case: &'static str,
    pub reason: String,
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot sign the {} case: {}", self.case, self.reason)
    }
}

impl std::error::Error for SigningError {}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap_or_default()
}

/// `<b64url header>.<b64url claims>`: the testkit's standard header (`alg`, `typ: at+jwt`,
/// `kid`) and claims, as a token the filter would verify.
pub fn signing_input(alg: &str, kid: &str) -> String {
    let header = json!({ "alg": alg, "typ": "at+jwt", "kid": kid });
    let claims = Value::Object(testkit::claims(NOW));
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// Every case, in [`NAMES`] order.
pub fn all() -> Result<Vec<Case>, SigningError> {
    NAMES.iter().map(|name| case(name)).collect()
}

/// The case named `name` (one of [`NAMES`]).
pub fn case(name: &'static str) -> Result<Case, SigningError> {
    let fail = |reason: String| SigningError { case: name, reason };
    let (alg, kid) = match name {
        "RS256 (4096-bit)" => ("RS256", "rsa-4096"),
        other => (other, other),
    };
    let text = signing_input(alg, kid);
    let (key, signature) = match alg {
        "ES256" => testkit_key(TestKey::Es256, &text).map_err(fail)?,
        "EdDSA" => testkit_key(TestKey::EdDsa, &text).map_err(fail)?,
        "ES384" => {
            use p384::ecdsa::signature::Signer;
            let sk = p384::ecdsa::SigningKey::from_slice(&P384_SCALAR)
                .map_err(|e| fail(e.to_string()))?;
            let sig: p384::ecdsa::Signature = sk.sign(text.as_bytes());
            let point = sk.verifying_key().to_sec1_point(false);
            (ec_key(point.as_bytes(), 48), sig.to_bytes().to_vec())
        }
        "ES512" => {
            use p521::ecdsa::signature::Signer;
            let sk = p521::ecdsa::SigningKey::from_slice(&P521_SCALAR)
                .map_err(|e| fail(e.to_string()))?;
            let sig: p521::ecdsa::Signature = sk.sign(text.as_bytes());
            let point = sk.verifying_key().to_sec1_point(false);
            (ec_key(point.as_bytes(), 66), sig.to_bytes().to_vec())
        }
        _ => {
            let pem = if name == "RS256 (4096-bit)" {
                RSA_4096_PEM
            } else {
                RSA_2048_PEM
            };
            rsa_sign(pem, alg, text.as_bytes()).map_err(fail)?
        }
    };
    Ok(Case {
        name: name.to_owned(),
        alg: alg.to_owned(),
        key,
        text: text.into_bytes(),
        signature,
    })
}

/// An uncompressed SEC1 point (`04 ‖ x ‖ y`) as affine coordinates of `size` bytes.
fn ec_key(sec1: &[u8], size: usize) -> Key {
    let x = sec1.get(1..1 + size).unwrap_or_default().to_vec();
    let y = sec1.get(1 + size..).unwrap_or_default().to_vec();
    Key::Ec { x, y }
}

fn jwk_bytes(jwk: &Value, member: &str) -> Result<Vec<u8>, String> {
    let text = jwk[member]
        .as_str()
        .ok_or_else(|| format!("the JWK has no {member}"))?;
    Base64UrlSafeNoPadding::decode_to_vec(text, None).map_err(|e| format!("{member}: {e}"))
}

fn testkit_key(key: TestKey, text: &str) -> Result<(Key, Vec<u8>), String> {
    let jwk = key.public_jwk();
    let public = match key {
        TestKey::EdDsa => Key::Ed25519 {
            x: jwk_bytes(&jwk, "x")?,
        },
        _ => Key::Ec {
            x: jwk_bytes(&jwk, "x")?,
            y: jwk_bytes(&jwk, "y")?,
        },
    };
    Ok((public, key.sign(text.as_bytes())))
}

/// RSASSA-PKCS1-v1_5 (`RS*`) or RSASSA-PSS with the salt as long as the hash (`PS*`, RFC 7518
/// §3.5) over `input`, and the public key.
fn rsa_sign(pem: &str, alg: &str, input: &[u8]) -> Result<(Key, Vec<u8>), String> {
    use superboring::hash::MessageDigest;
    use superboring::pkey::PKey;
    use superboring::rsa::{Padding, Rsa};
    use superboring::sign::{RsaPssSaltlen, Signer};
    let e = |e: superboring::error::ErrorStack| format!("{e:?}");
    let rsa = Rsa::private_key_from_pem(pem.as_bytes()).map_err(e)?;
    let public = Key::Rsa {
        n: rsa.n().to_vec(),
        e: rsa.e().to_vec(),
    };
    let digest = match alg.get(2..) {
        Some("256") => MessageDigest::sha256(),
        Some("384") => MessageDigest::sha384(),
        Some("512") => MessageDigest::sha512(),
        _ => return Err(format!("{alg} is not an RSA algorithm")),
    };
    let pkey = PKey::from_rsa(rsa).map_err(e)?;
    let mut signer = Signer::new(digest, &pkey).map_err(e)?;
    if alg.starts_with("PS") {
        signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(e)?;
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(e)?;
    } else {
        signer.set_rsa_padding(Padding::PKCS1).map_err(e)?;
    }
    signer.update(input).map_err(e)?;
    Ok((public, signer.sign_to_vec().map_err(e)?))
}
