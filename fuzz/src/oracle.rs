//! Independent references the targets compare the code under test with: a base64url codec,
//! a strict JSON parser, signature checks on `ring`, and the test keys' public halves.
//! Written from the specifications (RFC 4648, RFC 8259, RFC 7515/7518), not from the core.

use std::sync::OnceLock;

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tollgate_core::testkit::TestKey;

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5).
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Strict base64url without padding: `None` for a character outside the alphabet, a length
/// that no byte string encodes to, or non-zero bits in the last character (so that every
/// byte string has exactly one accepted spelling).
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64URL.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// A JSON value whose objects have unique member names at every depth (RFC 8259 §4 says
/// names SHOULD be unique; a token whose parsers could disagree is refused).
pub fn strict_json(bytes: &[u8]) -> Option<Value> {
    struct Strict(Value);
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Strict;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
            Ok(Strict(Value::Bool(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
            Ok(Strict(Value::from(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
            Ok(Strict(Value::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
            serde_json::Number::from_f64(v)
                .map(|n| Strict(Value::Number(n)))
                .ok_or_else(|| E::custom("not a finite number"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
            Ok(Strict(Value::String(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> Result<Strict, E> {
            Ok(Strict(Value::String(v)))
        }
        fn visit_unit<E>(self) -> Result<Strict, E> {
            Ok(Strict(Value::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
            let mut out = Vec::new();
            while let Some(Strict(v)) = seq.next_element()? {
                out.push(v);
            }
            Ok(Strict(Value::Array(out)))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
            let mut out = Map::new();
            while let Some(k) = map.next_key::<String>()? {
                let Strict(v) = map.next_value()?;
                if out.insert(k, v).is_some() {
                    return Err(de::Error::custom("duplicate member"));
                }
            }
            Ok(Strict(Value::Object(out)))
        }
    }
    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
            d.deserialize_any(V)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Strict(v) = Strict::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// The keys of the engine's test configuration (`testkit::config()`), with their provider
/// index: `idsvr` (0) has ES256, EdDSA and RS256 keys, `partner` (1) one ES256 key.
pub const TRUSTED: [(TestKey, usize); 4] = [
    (TestKey::Es256, 0),
    (TestKey::EdDsa, 0),
    (TestKey::Rs256, 0),
    (TestKey::PartnerEs256, 1),
];

/// Every test key, trusted or not (`Rogue` is in no JWKS).
pub const ALL_KEYS: [TestKey; 5] = [
    TestKey::Es256,
    TestKey::EdDsa,
    TestKey::Rs256,
    TestKey::PartnerEs256,
    TestKey::Rogue,
];

fn jwk_member(key: TestKey, name: &str) -> Vec<u8> {
    key.public_jwk()
        .get(name)
        .and_then(Value::as_str)
        .and_then(b64url_decode)
        .unwrap_or_default()
}

/// A key and its public half in the form `ring` takes: `(key, point or n, e)`.
type PublicParts = (TestKey, Vec<u8>, Vec<u8>);

/// Public halves of [`ALL_KEYS`], decoded once from their JWKs: EC points as SEC1
/// uncompressed bytes, Ed25519 as 32 bytes, RSA as `(n, e)`.
fn public_parts() -> &'static [PublicParts] {
    static PARTS: OnceLock<Vec<PublicParts>> = OnceLock::new();
    PARTS.get_or_init(|| {
        ALL_KEYS
            .iter()
            .map(|&k| match k.alg() {
                "ES256" => {
                    let mut point = vec![4u8];
                    point.extend(jwk_member(k, "x"));
                    point.extend(jwk_member(k, "y"));
                    (k, point, Vec::new())
                }
                "EdDSA" => (k, jwk_member(k, "x"), Vec::new()),
                _ => (k, jwk_member(k, "n"), jwk_member(k, "e")),
            })
            .collect()
    })
}

/// `ring`'s verdict on a JWS signature (`alg` of `key`) over `input`.
pub fn ring_verify(key: TestKey, input: &[u8], sig: &[u8]) -> bool {
    let Some((_, a, b)) = public_parts().iter().find(|(k, _, _)| *k == key) else {
        return false;
    };
    match key.alg() {
        "ES256" => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, a)
            .verify(input, sig)
            .is_ok(),
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, a)
            .verify(input, sig)
            .is_ok(),
        _ => RsaPublicKeyComponents { n: a, e: b }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
            .is_ok(),
    }
}

/// Whole-segment path prefix, the naive way: lower-case both, then either the prefix ends
/// with `/` and is a string prefix, or the path equals it or continues with `/`.
pub fn naive_prefix(path: &str, prefix: &str) -> bool {
    let (p, r) = (path.to_ascii_lowercase(), prefix.to_ascii_lowercase());
    if r.ends_with('/') {
        p.starts_with(&r)
    } else {
        p == r || p.starts_with(&format!("{r}/"))
    }
}

/// Exact path, with or without one trailing `/`, the naive way.
pub fn naive_exact(path: &str, exact: &str) -> bool {
    let (p, e) = (path.to_ascii_lowercase(), exact.to_ascii_lowercase());
    p == e || (e != "/" && p == format!("{e}/"))
}

/// Plain string prefix ignoring ASCII case, the naive way.
pub fn naive_string_prefix(path: &str, prefix: &str) -> bool {
    path.to_ascii_lowercase()
        .starts_with(&prefix.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_and_has_one_spelling() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = b64url_encode(&bytes);
            assert_eq!(b64url_decode(&text), Some(bytes), "{text}");
        }
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(b64url_decode("-_8"), Some(b"\xfb\xff".to_vec()));
        // "QQ" is "A"; "QR" has a non-zero spare bit, "QQ=" padding, "Q" no whole byte.
        assert_eq!(b64url_decode("QQ"), Some(b"A".to_vec()));
        assert_eq!(b64url_decode("QR"), None);
        assert_eq!(b64url_decode("QQ="), None);
        assert_eq!(b64url_decode("Q"), None);
        assert_eq!(b64url_decode("Q+"), None);
    }

    #[test]
    fn strict_json_refuses_duplicates_at_any_depth() {
        assert!(strict_json(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_some());
        assert!(strict_json(br#"{"a":1,"a":2}"#).is_none());
        assert!(strict_json(br#"{"a":1,"\u0061":2}"#).is_none());
        assert!(strict_json(br#"{"x":[{"d":1,"d":1}]}"#).is_none());
        assert!(strict_json(br#"{"a":1} x"#).is_none());
    }

    #[test]
    fn ring_verifies_testkit_signatures_and_nothing_else() {
        for key in ALL_KEYS {
            let sig = key.sign(b"a.b");
            assert!(ring_verify(key, b"a.b", &sig), "{key:?}");
            assert!(!ring_verify(key, b"a.c", &sig), "{key:?}");
        }
        let sig = TestKey::Es256.sign(b"a.b");
        assert!(!ring_verify(TestKey::PartnerEs256, b"a.b", &sig));
    }

    #[test]
    fn naive_matchers() {
        assert!(naive_prefix("/Orders/1", "/orders"));
        assert!(naive_prefix("/orders", "/orders"));
        assert!(!naive_prefix("/orders-admin", "/orders"));
        assert!(!naive_prefix("/orders", "/orders/"));
        assert!(naive_prefix("/anything", "/"));
        assert!(naive_exact("/exact/", "/exact"));
        assert!(!naive_exact("/exact/x", "/exact"));
        assert!(naive_exact("/", "/"));
        assert!(naive_string_prefix("/ORDERS-admin", "/orders"));
    }
}
