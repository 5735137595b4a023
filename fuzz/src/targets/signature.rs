//! `signature`: the signature verifiers on their own.
//!
//! Input: `[key][n][n × (pos, xor)][message]`: `testkit` signs the message with key
//! `key % 4` (ES256, EdDSA, RS256, partner ES256), then the `n` edits flip bits of the
//! signature. Checked: the unedited signature verifies on the pure path, on the host path
//! (Envoy's semantics on the reference host) and with `ring`; all three give the same
//! verdict on the edited one; a signature that changed verifies nowhere (ECDSA's `(r, n−s)`
//! twin aside, which the three must still agree on); `p1363_to_der` turns the raw `r‖s`
//! into a DER `SEQUENCE` of two minimal `INTEGER`s that decodes back to `r` and `s`.

use std::sync::OnceLock;

use tollgate_core::jwks::KeySet;
use tollgate_core::signature::{p1363_to_der, KeyMaterial, Verifiers, HOST_CAPABLE};
use tollgate_core::testkit::{self, TestKey};

use crate::oracle;
use tollgate_core::testkit::ReferenceHost;

const KEYS: [TestKey; 4] = [
    TestKey::Es256,
    TestKey::EdDsa,
    TestKey::Rs256,
    TestKey::PartnerEs256,
];

fn materials() -> &'static [KeyMaterial] {
    static M: OnceLock<Vec<KeyMaterial>> = OnceLock::new();
    M.get_or_init(|| {
        KEYS.iter()
            .map(|k| {
                let jwks = testkit::jwks(&[*k]).to_string();
                let set = KeySet::from_jwks_strict(jwks.as_bytes())
                    .unwrap_or_else(|e| panic!("test key {k:?} must import: {e}"));
                set.keys()[0].material().clone()
            })
            .collect()
    })
}

/// Run one input.
pub fn run(data: &[u8]) {
    let [key, n, ref rest @ ..] = *data else {
        return;
    };
    let index = usize::from(key) % KEYS.len();
    let key = KEYS[index];
    let edits_len = (2 * usize::from(n)).min(rest.len());
    let (edits, message) = rest.split_at(edits_len);
    let signed = key.sign(message);
    let mut sig = signed.clone();
    for e in edits.chunks_exact(2) {
        let i = usize::from(e[0]) % sig.len();
        sig[i] ^= e[1];
    }
    let material = &materials()[index];
    let pure = Verifiers::pure();
    let host = Verifiers::with_host(Box::new(ReferenceHost), &HOST_CAPABLE);

    for (name, v) in [("pure", &pure), ("host", &host)] {
        assert!(
            v.verify(material, message, &signed).0,
            "{name} path refused a valid {key:?} signature"
        );
    }
    let (on_pure, _) = pure.verify(material, message, &sig);
    let (on_host, _) = host.verify(material, message, &sig);
    let by_ring = oracle::ring_verify(key, message, &sig);
    assert_eq!(
        on_pure, by_ring,
        "pure path and ring disagree on a {key:?} signature"
    );
    assert_eq!(
        on_host, by_ring,
        "host path and ring disagree on a {key:?} signature"
    );
    if sig != signed && on_pure {
        assert!(key.alg() == "ES256", "a changed {key:?} signature verified");
        assert_eq!(sig[..32], signed[..32], "a changed ECDSA r verified");
    }
    check_der(&sig);
    check_der(data);
}

/// `p1363_to_der(raw)` for raw `r‖s` must decode back to `r` and `s`.
pub fn check_der(raw: &[u8]) {
    let Some(der) = p1363_to_der(raw) else {
        assert!(
            raw.is_empty() || raw.len() % 2 == 1 || raw.len() > 120,
            "no DER for {} bytes",
            raw.len()
        );
        return;
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let [0x30, len, ref body @ ..] = der[..] else {
        panic!("not a short-form SEQUENCE")
    };
    assert_eq!(usize::from(len), body.len(), "SEQUENCE length");
    let (r2, rest) = der_integer(body);
    let (s2, rest) = der_integer(rest);
    assert!(rest.is_empty(), "bytes after the two INTEGERs");
    let trim = |x: &[u8]| {
        x.iter()
            .position(|b| *b != 0)
            .map_or(Vec::new(), |i| x[i..].to_vec())
    };
    assert_eq!(trim(&r2), trim(r), "r changed");
    assert_eq!(trim(&s2), trim(s), "s changed");
}

/// One DER INTEGER (minimal, non-negative): its value bytes and what follows.
fn der_integer(der: &[u8]) -> (Vec<u8>, &[u8]) {
    let [0x02, len, ref rest @ ..] = *der else {
        panic!("not an INTEGER")
    };
    let len = usize::from(len);
    assert!(len > 0 && len <= rest.len(), "INTEGER length {len}");
    let (value, rest) = rest.split_at(len);
    assert!(value[0] & 0x80 == 0, "negative INTEGER");
    if len > 1 {
        assert!(value[0] != 0 || value[1] & 0x80 != 0, "INTEGER not minimal");
    }
    (value.to_vec(), rest)
}
