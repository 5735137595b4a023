//! TEST-ONLY helpers (compiled for this crate's tests and with the `testkit` feature, for
//! tests/abi, the fuzz targets and the signature benchmark): fixed-seed keys, their JWKS, a
//! standard configuration, a token minter that signs *arbitrary* header and payload bytes,
//! so tests can build every malformed variant, and [`ReferenceHost`], Envoy's
//! `verify_signature` without Envoy. Time is a parameter everywhere; [`NOW`] is the fixed
//! "current time" of tests.
//!
//! Never enable the `testkit` feature in the shipped filter: these private keys are public.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};

use crate::signature::{HostFailure, SignatureHost};

/// The host signature path without Envoy: Envoy's `verify_signature` semantics on `ring`
/// (`tollgate-reference-crypto`), a different crypto library than the filter's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceHost;

impl SignatureHost for ReferenceHost {
    fn verify(
        &self,
        hash: &'static str,
        public_key: &[u8],
        signature: &[u8],
        text: &[u8],
    ) -> Result<bool, HostFailure> {
        tollgate_reference_crypto::verify_signature(hash, public_key, signature, text)
            .map_err(|e| HostFailure(e.0.to_owned()))
    }
}

/// Fixed "now" of the tests (unix seconds, 2023-11-14T22:13:20Z).
pub const NOW: u64 = 1_700_000_000;
/// Issuer of the main test provider `idsvr`.
pub const ISSUER: &str = "https://login.example.test/oauth/v2/anonymous";
/// Issuer of the second test provider `partner`.
pub const PARTNER_ISSUER: &str = "https://partner.example.test";
/// Audience both test providers accept.
pub const AUDIENCE: &str = "api.example.test";

/// The test keys. All private keys here are TEST-ONLY and public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    /// ES256 key of `idsvr` (P-256 scalar 0x11…11), kid `es256-1`.
    Es256,
    /// EdDSA key of `idsvr` (Ed25519 seed 0x01…01), kid `ed25519-1`.
    EdDsa,
    /// RS256 key of `idsvr` (tests/fixtures/test-only-rs256-2048.pem), kid `rs256-1`.
    Rs256,
    /// ES256 key of `partner` (P-256 scalar 0x22…22), kid `partner-es256`.
    PartnerEs256,
    /// An Ed25519 key in no JWKS (seed 0x09…09), kid `rogue-1`: signs "unknown kid" tokens.
    Rogue,
}

const RSA_PEM: &str = include_str!("../tests/fixtures/test-only-rs256-2048.pem");

impl TestKey {
    /// The key's `kid`.
    pub fn kid(self) -> &'static str {
        match self {
            TestKey::Es256 => "es256-1",
            TestKey::EdDsa => "ed25519-1",
            TestKey::Rs256 => "rs256-1",
            TestKey::PartnerEs256 => "partner-es256",
            TestKey::Rogue => "rogue-1",
        }
    }

    /// The key's JOSE algorithm.
    pub fn alg(self) -> &'static str {
        match self {
            TestKey::Es256 | TestKey::PartnerEs256 => "ES256",
            TestKey::EdDsa | TestKey::Rogue => "EdDSA",
            TestKey::Rs256 => "RS256",
        }
    }

    fn p256(self) -> ES256KeyPair {
        let scalar = if self == TestKey::PartnerEs256 {
            [0x22u8; 32]
        } else {
            [0x11u8; 32]
        };
        ES256KeyPair::from_bytes(&scalar).unwrap()
    }

    fn ed25519(self) -> ed25519_compact::KeyPair {
        let seed = if self == TestKey::Rogue {
            [9u8; 32]
        } else {
            [1u8; 32]
        };
        ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed))
    }

    fn rsa(self) -> RS256KeyPair {
        RS256KeyPair::from_pem(RSA_PEM).unwrap()
    }

    /// The public key as a JWK (with `kid`, `alg`, `use: sig`).
    pub fn public_jwk(self) -> Value {
        let text = match self {
            TestKey::Es256 | TestKey::PartnerEs256 => {
                self.p256().public_key().with_key_id(self.kid()).to_jwk()
            }
            TestKey::EdDsa | TestKey::Rogue => Ed25519PublicKey::from_bytes(&self.ed25519().pk[..])
                .unwrap()
                .with_key_id(self.kid())
                .to_jwk(),
            TestKey::Rs256 => self.rsa().public_key().with_key_id(self.kid()).to_jwk(),
        };
        serde_json::from_str(&text).unwrap()
    }

    /// Sign `signing_input` (`"<b64 header>.<b64 payload>"`) and return the raw signature.
    pub fn sign(self, signing_input: &[u8]) -> Vec<u8> {
        match self {
            TestKey::Es256 | TestKey::PartnerEs256 => {
                use p256::ecdsa::signature::Signer;
                let kp = self.p256();
                let sig: p256::ecdsa::Signature = kp.key_pair().as_ref().sign(signing_input);
                sig.to_bytes().to_vec()
            }
            TestKey::EdDsa | TestKey::Rogue => self.ed25519().sk.sign(signing_input, None).to_vec(),
            TestKey::Rs256 => sign_rs256(self.rsa(), signing_input),
        }
    }
}

/// RSASSA-PKCS1-v1_5 / SHA-256 over `input` (as jwt-simple signs, through superboring).
fn sign_rs256(key: RS256KeyPair, input: &[u8]) -> Vec<u8> {
    use superboring::hash::MessageDigest;
    use superboring::pkey::PKey;
    use superboring::rsa::Padding;
    use superboring::sign::Signer;
    let pkey = PKey::from_rsa(key.key_pair().as_ref().clone()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
    signer.set_rsa_padding(Padding::PKCS1).unwrap();
    signer.update(input).unwrap();
    signer.sign_to_vec().unwrap()
}

/// `{"keys":[…]}` with the public JWKs of `keys`.
pub fn jwks(keys: &[TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

/// The standard header for `key`: `alg`, `kid`, `typ: at+jwt`.
pub fn header(key: TestKey) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), key.alg().into());
    h.insert("typ".into(), "at+jwt".into());
    h.insert("kid".into(), key.kid().into());
    h
}

/// Standard valid claims at `now` for `idsvr`: issued 60 s ago, expires in 240 s
/// (lifetime 300 s), scope `orders:read orders:write`, `sub` `user-1`, `client_id` `app-1`.
pub fn claims(now: u64) -> Map<String, Value> {
    let v = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "client_id": "app-1",
        "scope": "orders:read orders:write",
        "iat": now - 60,
        "exp": now + 240,
        "jti": "jti-1",
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Sign arbitrary header and payload *bytes* with `key`. Returns the compact token.
pub fn mint_bytes(key: TestKey, header: &[u8], payload: &[u8]) -> String {
    let h = Base64UrlSafeNoPadding::encode_to_string(header).unwrap();
    let p = Base64UrlSafeNoPadding::encode_to_string(payload).unwrap();
    let input = format!("{h}.{p}");
    let sig = key.sign(input.as_bytes());
    let s = Base64UrlSafeNoPadding::encode_to_string(sig).unwrap();
    format!("{input}.{s}")
}

/// Sign `header` and `claims` (serialised as compact JSON) with `key`.
pub fn mint(key: TestKey, header: &Map<String, Value>, claims: &Map<String, Value>) -> String {
    mint_bytes(
        key,
        Value::Object(header.clone()).to_string().as_bytes(),
        Value::Object(claims.clone()).to_string().as_bytes(),
    )
}

/// A standard valid token from `key` at `now`.
pub fn token(key: TestKey, now: u64) -> String {
    let mut c = claims(now);
    if key == TestKey::PartnerEs256 {
        c.insert("iss".into(), PARTNER_ISSUER.into());
    }
    mint(key, &header(key), &c)
}

/// The standard test configuration (the README's example shape): providers `idsvr` (ES256,
/// EdDSA, RS256 inline keys) and `partner` (ES256), rules `/health` anonymous,
/// `GET /orders*` needs `orders:read`, `POST /orders*` needs `orders:write`, `/admin*`
/// needs `orders:admin`, `/partner*` only for `partner` tokens, `/` any valid token;
/// claims `sub`, `client_id`, `scope`, `scp` forwarded.
pub fn config() -> Value {
    json!({
        "realm": "tollgate-test",
        "providers": [
            {
                "name": "idsvr",
                "issuer": ISSUER,
                "audiences": [AUDIENCE, "other.example.test"],
                "jwks": { "inline": jwks(&[TestKey::Es256, TestKey::EdDsa, TestKey::Rs256]) },
                "algorithms": ["ES256", "EdDSA", "RS256"],
                "token_types": ["at+jwt", "application/at+jwt"],
                "max_lifetime_seconds": 900,
                "clock_skew_seconds": 30
            },
            {
                "name": "partner",
                "issuer": PARTNER_ISSUER,
                "audiences": [AUDIENCE],
                "jwks": { "inline": jwks(&[TestKey::PartnerEs256]) }
            }
        ],
        "rules": [
            { "match": { "prefix": "/health" }, "anonymous": true },
            { "match": { "prefix": "/orders", "methods": ["GET"] }, "scopes": ["orders:read"] },
            { "match": { "prefix": "/orders", "methods": ["POST"] }, "scopes": ["orders:write"] },
            { "match": { "prefix": "/admin" }, "scopes": ["orders:admin"] },
            { "match": { "prefix": "/partner" }, "providers": ["partner"] },
            { "match": { "path": "/exact" }, "scopes": ["exact:only"] },
            { "match": { "prefix": "/" } }
        ],
        "claims_to_headers": {
            "sub": "x-user-id",
            "client_id": "x-client-id",
            "scope": "x-token-scope",
            "scp": "x-token-scp"
        }
    })
}

/// Request headers for `method` `path` with optional `Authorization: Bearer <token>`.
pub fn request(method: &str, path: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        (":method".to_owned(), method.to_owned()),
        (":path".to_owned(), path.to_owned()),
        (":authority".to_owned(), "api.example.test".to_owned()),
    ];
    if let Some(t) = token {
        h.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    h
}
