//! JWKS import: strict and lenient modes, every skip reason, redaction, discovery.

use serde_json::{json, Value};

use crate::jwks::{Algorithm, JwksError, KeySet, SkipReason, MAX_KEYS};
use crate::testkit::{self, TestKey};

fn lenient(v: &Value) -> Result<(KeySet, Vec<crate::jwks::SkippedKey>), JwksError> {
    KeySet::from_jwks_lenient(v.to_string().as_bytes())
}

fn skip_reason(mut bad: Value) -> SkipReason {
    // A good key first, so that the set is never empty.
    if bad.is_object() && bad.get("kid").is_none() {
        bad["kid"] = json!("bad");
    }
    let doc = json!({"keys": [TestKey::EdDsa.public_jwk(), bad]});
    let (set, skipped) = lenient(&doc).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].index, 1);
    skipped[0].reason.clone()
}

#[test]
fn imports_every_supported_key_type() {
    let (set, skipped) = lenient(&testkit::jwks(&[
        TestKey::Es256,
        TestKey::EdDsa,
        TestKey::Rs256,
    ]))
    .unwrap();
    assert!(skipped.is_empty());
    let algs: Vec<Algorithm> = set.keys().iter().map(|k| k.algorithm()).collect();
    assert_eq!(
        algs,
        vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256]
    );
    assert_eq!(set.keys()[0].kid(), Some("es256-1"));
    // RSA without alg (Entra ID style) is RS256; with alg PS256 it is PS256.
    let mut rsa = TestKey::Rs256.public_jwk();
    rsa.as_object_mut().unwrap().remove("alg");
    rsa["x5c"] = json!(["MIIC".repeat(600)]);
    let mut ps = TestKey::Rs256.public_jwk();
    ps["alg"] = json!("PS256");
    ps["kid"] = json!("ps");
    let (set, skipped) = lenient(&json!({"keys": [rsa, ps]})).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(set.keys()[0].algorithm(), Algorithm::RS256);
    assert_eq!(set.keys()[1].algorithm(), Algorithm::PS256);
}

#[test]
fn every_skip_reason() {
    let ec = TestKey::Es256.public_jwk();
    let with = |k: &str, v: Value| {
        let mut j = ec.clone();
        j[k] = v;
        j
    };
    let without = |k: &str| {
        let mut j = ec.clone();
        j.as_object_mut().unwrap().remove(k);
        j
    };
    assert_eq!(skip_reason(json!("not an object")), SkipReason::NotAnObject);
    assert_eq!(
        skip_reason(with("kty", json!("oct"))),
        SkipReason::UnsupportedKeyType
    );
    assert_eq!(skip_reason(without("kty")), SkipReason::UnsupportedKeyType);
    assert_eq!(
        skip_reason(with("d", json!("AAAA"))),
        SkipReason::PrivateKeyMaterial
    );
    assert_eq!(
        skip_reason(with("use", json!("enc"))),
        SkipReason::NotForSignatures
    );
    assert_eq!(
        skip_reason(with("key_ops", json!(["encrypt"]))),
        SkipReason::KeyOpsExcludeVerify
    );
    assert_eq!(
        skip_reason(with("crv", json!("P-192"))),
        SkipReason::UnsupportedCurve
    );
    assert_eq!(
        skip_reason(with("crv", json!("secp256k1"))),
        SkipReason::UnsupportedCurve
    );
    assert_eq!(
        skip_reason(with("alg", json!("RS256"))),
        SkipReason::AlgorithmMismatch
    );
    assert_eq!(
        skip_reason(with("alg", json!("HS256"))),
        SkipReason::AlgorithmMismatch
    );
    assert_eq!(skip_reason(with("kid", json!(5))), SkipReason::BadKeyId);
    assert_eq!(
        skip_reason(with("kid", json!("ed25519-1"))),
        SkipReason::DuplicateKeyId
    );
    assert_eq!(
        skip_reason(with("x", json!("!!!"))),
        SkipReason::BadKeyMaterial
    );
    assert_eq!(
        skip_reason(with("x", json!("AAAA"))),
        SkipReason::BadKeyMaterial
    );
    assert_eq!(skip_reason(without("y")), SkipReason::BadKeyMaterial);
    // Weak RSA (modulus far below 2048 bits).
    let mut rsa = TestKey::Rs256.public_jwk();
    rsa["n"] = json!("AQAB");
    assert_eq!(skip_reason(rsa), SkipReason::BadKeyMaterial);
    // use: sig and key_ops with verify are fine.
    let ok = with("key_ops", json!(["verify"]));
    let (set, skipped) = lenient(&json!({"keys": [ok]})).unwrap();
    assert_eq!((set.len(), skipped.len()), (1, 0));
}

#[test]
fn too_many_keys() {
    let keys: Vec<Value> = (0..MAX_KEYS + 2)
        .map(|i| {
            let mut k = TestKey::EdDsa.public_jwk();
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    let doc = json!({ "keys": keys });
    let (set, skipped) = lenient(&doc).unwrap();
    assert_eq!(set.len(), MAX_KEYS);
    assert_eq!(skipped.len(), 2);
    assert!(skipped.iter().all(|s| s.reason == SkipReason::TooManyKeys));
    assert_eq!(
        KeySet::from_jwks_strict(doc.to_string().as_bytes()).unwrap_err(),
        JwksError::Key {
            index: MAX_KEYS,
            reason: SkipReason::TooManyKeys
        }
    );
}

#[test]
fn document_level_errors() {
    assert_eq!(
        KeySet::from_jwks_lenient(b"not json").unwrap_err(),
        JwksError::NotJson
    );
    assert_eq!(
        KeySet::from_jwks_lenient(b"{\"keys\":{}}").unwrap_err(),
        JwksError::NoKeysArray
    );
    assert_eq!(
        KeySet::from_jwks_lenient(b"[]").unwrap_err(),
        JwksError::NoKeysArray
    );
    assert_eq!(
        KeySet::from_jwks_lenient(b"{\"keys\":[]}").unwrap_err(),
        JwksError::Empty
    );
    assert_eq!(
        KeySet::from_jwks_lenient(b"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}").unwrap_err(),
        JwksError::Empty
    );
    let mut doc = testkit::jwks(&[TestKey::Es256, TestKey::EdDsa]);
    doc["keys"][1]["use"] = json!("enc");
    assert_eq!(
        KeySet::from_jwks_strict(doc.to_string().as_bytes()).unwrap_err(),
        JwksError::Key {
            index: 1,
            reason: SkipReason::NotForSignatures
        }
    );
}

#[test]
fn debug_redacts_key_material() {
    let jwk = TestKey::Es256.public_jwk();
    let set =
        KeySet::from_jwks_strict(json!({"keys": [jwk.clone()]}).to_string().as_bytes()).unwrap();
    let dbg = format!("{set:?}");
    assert!(dbg.contains("es256-1") && dbg.contains("redacted"), "{dbg}");
    for m in ["x", "y"] {
        let v = jwk[m].as_str().unwrap();
        assert!(!dbg.contains(v), "{m} leaked");
    }
}
