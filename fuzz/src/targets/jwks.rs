//! `jwks`: JWKS import, strict (inline configuration) and lenient (fetched key sets).
//!
//! Input: the JWKS document bytes. Checked: strict success means lenient gives the same
//! keys with nothing skipped; strict failure on a key is lenient's first skipped key, same
//! index and reason; lenient keeps + skips every entry of `keys`; no kept key has private
//! members, a `use` other than `sig`, a `key_ops` without `verify` or a repeated `kid`;
//! each kept key's algorithm fits its `kty`/`crv` (and its `alg`, when given); every kept
//! key can be used for a (failing) verification on both signature paths without panicking.

use serde_json::Value;
use tollgate_core::jwks::{JwksError, KeySet, MAX_KEYS};
use tollgate_core::signature::{Verifiers, HOST_CAPABLE};

use tollgate_core::testkit::ReferenceHost;

/// Run one input.
pub fn run(data: &[u8]) {
    let strict = KeySet::from_jwks_strict(data);
    let lenient = KeySet::from_jwks_lenient(data);
    let doc: Option<Value> = serde_json::from_slice(data).ok();
    let entries = doc
        .as_ref()
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array);

    match (&strict, &lenient) {
        (Ok(s), Ok((l, skipped))) => {
            assert!(
                skipped.is_empty(),
                "strict accepted what lenient skipped: {skipped:?}"
            );
            let ids = |k: &KeySet| -> Vec<_> {
                k.keys()
                    .iter()
                    .map(|k| (k.kid().map(str::to_owned), k.algorithm()))
                    .collect()
            };
            assert_eq!(ids(s), ids(l), "strict and lenient kept different keys");
        }
        (Ok(_), Err(e)) => panic!("strict accepted, lenient refused: {e:?}"),
        (Err(JwksError::Key { index, reason }), Ok((_, skipped))) => {
            let first = skipped.first().map(|s| (s.index, &s.reason));
            assert_eq!(
                first,
                Some((*index, reason)),
                "strict and lenient disagree on the first bad key"
            );
        }
        (Err(JwksError::Key { index, reason }), Err(JwksError::Empty)) => {
            // Every key was skipped; strict stopped at the first one.
            assert!(
                entries.is_some_and(|e| !e.is_empty()),
                "{index} {reason:?} without keys"
            );
        }
        (Err(s), Err(l)) => assert_eq!(s, l, "strict and lenient refuse the document differently"),
        (Err(e), Ok(_)) => panic!("lenient accepted a document strict refuses as a whole: {e:?}"),
    }
    match (&strict, doc.as_ref()) {
        (Err(JwksError::NotJson), Some(_)) => panic!("valid JSON reported as not JSON"),
        (Err(JwksError::NoKeysArray), _) => assert!(entries.is_none(), "keys array not found"),
        (Err(JwksError::Empty), _) => {
            assert!(
                entries.is_some_and(Vec::is_empty),
                "keys present, yet reported empty"
            )
        }
        _ => {}
    }

    let Ok((set, skipped)) = lenient else { return };
    let Some(entries) = entries else {
        panic!("lenient accepted a document without a keys array")
    };
    assert_eq!(
        set.len() + skipped.len(),
        entries.len(),
        "kept + skipped != entries"
    );
    assert!(set.len() <= MAX_KEYS, "more than MAX_KEYS keys kept");
    let kept: Vec<&Value> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.iter().any(|s| s.index == *i))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(kept.len(), set.len());
    let pure = Verifiers::pure();
    let host = Verifiers::with_host(Box::new(ReferenceHost), &HOST_CAPABLE);
    for (key, jwk) in set.keys().iter().zip(kept) {
        let obj = jwk
            .as_object()
            .unwrap_or_else(|| panic!("a kept key is not an object"));
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                !obj.contains_key(private),
                "kept a key with private member {private}"
            );
        }
        if let Some(u) = obj.get("use") {
            assert_eq!(u.as_str(), Some("sig"), "kept a key whose use is not sig");
        }
        if let Some(ops) = obj.get("key_ops") {
            let verify = ops
                .as_array()
                .is_some_and(|o| o.iter().any(|x| x == "verify"));
            assert!(verify, "kept a key whose key_ops exclude verify");
        }
        assert_eq!(
            key.kid(),
            obj.get("kid").and_then(Value::as_str),
            "kid changed"
        );
        let alg = key.algorithm().name();
        let fits = match (
            obj.get("kty").and_then(Value::as_str),
            obj.get("crv").and_then(Value::as_str),
        ) {
            (Some("EC"), Some("P-256")) => alg == "ES256",
            (Some("EC"), Some("P-384")) => alg == "ES384",
            (Some("OKP"), Some("Ed25519")) => alg == "EdDSA",
            (Some("RSA"), _) => alg.starts_with("RS") || alg.starts_with("PS"),
            _ => false,
        };
        assert!(fits, "algorithm {alg} does not fit the key type");
        match obj.get("alg").and_then(Value::as_str) {
            Some(a) => assert_eq!(a, alg, "the key's alg was not kept"),
            None if obj.get("kty").and_then(Value::as_str) == Some("RSA") => {
                assert_eq!(alg, "RS256", "an RSA key without alg must be RS256")
            }
            None => {}
        }
        for v in [&pure, &host] {
            let (ok, _) = v.verify(key.material(), b"x.y", &[0x5a; 64]);
            assert!(!ok, "a constant signature verified");
        }
    }
    let mut kids: Vec<&str> = set.keys().iter().filter_map(|k| k.kid()).collect();
    let n = kids.len();
    kids.sort_unstable();
    kids.dedup();
    assert_eq!(kids.len(), n, "duplicate kid kept");
}
