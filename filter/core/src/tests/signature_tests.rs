//! Every signature path gives the Wycheproof verdicts: the pure-Rust path for every
//! algorithm, and the host path (Envoy's `verify_signature` semantics, here on `ring` through
//! `tollgate-reference-crypto`) for ECDSA P-256/P-384 and RSA PKCS#1 v1.5. The JWS
//! conversions in between (raw `r‖s` → DER, exact lengths) are what is under test on the host
//! path. Also: the self-test vectors are reproducible and the self-test catches bad hosts.

use wycheproof::TestResult;

use crate::jwks::Algorithm;
use crate::selftest::{self, SelfTestFailure, VECTORS};
use crate::signature::{
    p1363_to_der, HostFailure, KeyMaterial, Path, SignatureHost, Verifiers, HOST_CAPABLE,
};
use crate::testkit::ReferenceHost;

fn host_for(alg: Algorithm) -> Verifiers {
    Verifiers::with_host(Box::new(ReferenceHost), &[alg])
}

/// Run one vector through a path; `acceptable` results may go either way.
fn agrees(verdict: bool, expected: &TestResult) -> bool {
    match expected {
        TestResult::Valid => verdict,
        TestResult::Invalid => !verdict,
        _ => true,
    }
}

fn ecdsa(name: wycheproof::ecdsa::TestName, alg: Algorithm) -> (usize, usize) {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let host = host_for(alg);
    let pure = Verifiers::pure();
    let (mut run, mut on_host) = (0, 0);
    for group in &set.test_groups {
        let point: &[u8] = group.key.key.as_ref();
        let (x, y) = point[1..].split_at((point.len() - 1) / 2);
        let key = KeyMaterial::ec(alg, x, y).expect("Wycheproof keys are valid points");
        for t in &group.tests {
            let (v, path) = pure.verify(&key, &t.msg, &t.sig);
            assert!(
                agrees(v, &t.result),
                "{alg} pure #{} {:?}: {v}",
                t.tc_id,
                t.flags
            );
            assert_eq!(path, Path::Wasm);
            let (v, path) = host.verify(&key, &t.msg, &t.sig);
            assert!(
                agrees(v, &t.result),
                "{alg} host #{} {:?}: {v}",
                t.tc_id,
                t.flags
            );
            on_host += usize::from(path == Path::Host);
            run += 1;
        }
    }
    (run, on_host)
}

#[test]
fn ecdsa_p1363_vectors_on_both_paths() {
    use wycheproof::ecdsa::TestName;
    // Signatures of the wrong length never reach the host: the rest all do.
    let (run, on_host) = ecdsa(TestName::EcdsaSecp256r1Sha256P1363, Algorithm::ES256);
    assert!(
        run > 250 && on_host > 200,
        "{run} run, {on_host} on the host"
    );
    let (run, on_host) = ecdsa(TestName::EcdsaSecp384r1Sha384P1363, Algorithm::ES384);
    assert!(
        run > 250 && on_host > 200,
        "{run} run, {on_host} on the host"
    );
}

fn rsa(name: wycheproof::rsa_pkcs1_verify::TestName, alg: Algorithm) -> usize {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).unwrap();
    let host = host_for(alg);
    let pure = Verifiers::pure();
    let mut run = 0;
    for group in &set.test_groups {
        // Only exponent 65537 is accepted at import.
        let Some(key) = KeyMaterial::rsa(alg, &group.key.n, &group.key.e) else {
            continue;
        };
        for t in &group.tests {
            let (v, _) = pure.verify(&key, &t.msg, &t.sig);
            assert!(
                agrees(v, &t.result),
                "{alg} pure #{} {:?}: {v}",
                t.tc_id,
                t.flags
            );
            let (v, _) = host.verify(&key, &t.msg, &t.sig);
            assert!(
                agrees(v, &t.result),
                "{alg} host #{} {:?}: {v}",
                t.tc_id,
                t.flags
            );
            run += 1;
        }
    }
    run
}

#[test]
fn rsa_pkcs1_vectors_on_both_paths() {
    use wycheproof::rsa_pkcs1_verify::TestName;
    for (name, alg) in [
        (TestName::Rsa2048Sha256, Algorithm::RS256),
        (TestName::Rsa3072Sha256, Algorithm::RS256),
        (TestName::Rsa4096Sha256, Algorithm::RS256),
        (TestName::Rsa2048Sha384, Algorithm::RS384),
        (TestName::Rsa4096Sha384, Algorithm::RS384),
        (TestName::Rsa2048Sha512, Algorithm::RS512),
        (TestName::Rsa4096Sha512, Algorithm::RS512),
    ] {
        assert!(rsa(name, alg) > 50, "{alg}");
    }
}

#[test]
fn rsa_pss_vectors_on_the_pure_path() {
    use wycheproof::rsa_pss_verify::TestName;
    for (name, alg) in [
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, Algorithm::PS256),
        (TestName::RsaPss3072Sha256Mgf1SaltLen32, Algorithm::PS256),
        (TestName::RsaPss4096Sha256Mgf1SaltLen32, Algorithm::PS256),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, Algorithm::PS384),
        (TestName::RsaPss4096Sha384Mgf1SaltLen48, Algorithm::PS384),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, Algorithm::PS512),
    ] {
        let set = wycheproof::rsa_pss_verify::TestSet::load(name).unwrap();
        let pure = Verifiers::pure();
        let mut run = 0;
        for group in &set.test_groups {
            let Some(key) = KeyMaterial::rsa(alg, &group.key.n, &group.key.e) else {
                continue;
            };
            for t in &group.tests {
                let (v, path) = pure.verify(&key, &t.msg, &t.sig);
                assert!(
                    agrees(v, &t.result),
                    "{alg} #{} {:?}: {v}",
                    t.tc_id,
                    t.flags
                );
                assert_eq!(path, Path::Wasm);
                run += 1;
            }
        }
        assert!(run > 20, "{alg}: {run}");
        // PSS never goes to the host, even when one is configured for it.
        assert!(!HOST_CAPABLE.contains(&alg));
    }
}

#[test]
fn ed25519_vectors_on_the_pure_path() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut run = 0;
    for group in &set.test_groups {
        let key = KeyMaterial::ed25519(&group.key.pk).expect("32-byte key");
        for t in &group.tests {
            let (v, _) = Verifiers::pure().verify(&key, &t.msg, &t.sig);
            assert!(
                agrees(v, &t.result),
                "EdDSA #{} {:?}: {v}",
                t.tc_id,
                t.flags
            );
            run += 1;
        }
    }
    assert!(run > 100, "{run}");
}

#[test]
fn der_conversion_is_canonical() {
    // High bit set: a zero byte is prepended; leading zeros are dropped.
    let mut sig = vec![0u8; 64];
    sig[0] = 0x80;
    sig[63] = 0x01;
    let der = p1363_to_der(&sig).unwrap();
    assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
    assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
    // Zero integers stay encoded (as 0), for the verifier to refuse.
    assert_eq!(
        p1363_to_der(&[0u8; 64]).unwrap(),
        vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]
    );
    for bad in [&[][..], &[1, 2, 3][..], &[1u8; 122][..]] {
        assert_eq!(p1363_to_der(bad), None, "{}", bad.len());
    }
}

#[test]
fn a_der_signature_in_a_token_is_refused_on_both_paths() {
    let (x, y) = VECTORS
        .iter()
        .find(|v| v.alg == Algorithm::ES256)
        .map(|v| v.key)
        .unwrap();
    let key = KeyMaterial::ec(Algorithm::ES256, x, y).unwrap();
    let v = VECTORS.iter().find(|v| v.alg == Algorithm::ES256).unwrap();
    let der = p1363_to_der(v.signature).unwrap();
    for verifiers in [Verifiers::pure(), host_for(Algorithm::ES256)] {
        assert!(verifiers.verify(&key, v.text, v.signature).0);
        assert_eq!(verifiers.verify(&key, v.text, &der), (false, Path::Wasm));
    }
}

/// A host whose answers are wrong in a chosen way.
struct BadHost(&'static str);

impl SignatureHost for BadHost {
    fn verify(&self, h: &'static str, k: &[u8], s: &[u8], t: &[u8]) -> Result<bool, HostFailure> {
        match self.0 {
            "missing" => Err(HostFailure("NotFound".into())),
            "always" => Ok(true),
            "never" => Ok(false),
            _ => ReferenceHost.verify(h, k, s, t),
        }
    }
}

#[test]
fn the_self_test_passes_a_correct_host_and_catches_bad_ones() {
    let results = selftest::run(&ReferenceHost);
    assert_eq!(selftest::passed(&results), HOST_CAPABLE.to_vec());
    for (host, failure) in [
        ("missing", SelfTestFailure::NoVerdict),
        ("always", SelfTestFailure::AcceptedTampered),
        ("never", SelfTestFailure::RejectedValid),
    ] {
        let results = selftest::run(&BadHost(host));
        assert!(selftest::passed(&results).is_empty(), "{host}");
        assert!(
            results
                .iter()
                .all(|(_, r)| r.as_ref().err() == Some(&failure)),
            "{host}: {results:?}"
        );
    }
}

#[test]
fn a_host_failure_falls_back_to_the_pure_path_never_to_acceptance() {
    let v = VECTORS.iter().find(|v| v.alg == Algorithm::RS256).unwrap();
    let key = KeyMaterial::rsa(Algorithm::RS256, v.key.0, v.key.1).unwrap();
    let failing = Verifiers::with_host(Box::new(BadHost("missing")), &[Algorithm::RS256]);
    assert_eq!(
        failing.verify(&key, v.text, v.signature),
        (true, Path::Wasm)
    );
    assert_eq!(
        failing.verify(&key, b"other", v.signature),
        (false, Path::Wasm)
    );
    let good = host_for(Algorithm::RS256);
    assert_eq!(good.verify(&key, v.text, v.signature), (true, Path::Host));
    assert_eq!(
        good.verify(&key, b"other", v.signature),
        (false, Path::Host)
    );
}

// ----- self-test vectors: generated, then checked for drift -----------------------------

const SELFTEST_TEXT: &[u8] = b"tollgate verify_signature known-answer test";
const RSA_PEM: &str = include_str!("../../tests/fixtures/test-only-rs256-2048.pem");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("0x{b:02x}, ")).collect()
}

fn generated_vectors() -> String {
    use p256::ecdsa::signature::Signer;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let mut entries = Vec::new();
    let p256 = p256::ecdsa::SigningKey::from_slice(&[0x11u8; 32]).unwrap();
    let point = p256.verifying_key().to_sec1_point(false);
    let sig: p256::ecdsa::Signature = p256.sign(SELFTEST_TEXT);
    entries.push((
        "ES256",
        point.as_bytes()[1..33].to_vec(),
        point.as_bytes()[33..].to_vec(),
        sig.to_bytes().to_vec(),
    ));
    let p384 = p384::ecdsa::SigningKey::from_slice(&[0x33u8; 48]).unwrap();
    let point = p384.verifying_key().to_sec1_point(false);
    let sig: p384::ecdsa::Signature = p384.sign(SELFTEST_TEXT);
    entries.push((
        "ES384",
        point.as_bytes()[1..49].to_vec(),
        point.as_bytes()[49..].to_vec(),
        sig.to_bytes().to_vec(),
    ));
    let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).unwrap();
    let (n, e) = (rsa_key.n().to_bytes_be(), rsa_key.e().to_bytes_be());
    for (alg, sig) in [
        ("RS256", {
            use sha2_rsa::Digest;
            rsa_key
                .sign(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha256>(),
                    &sha2_rsa::Sha256::digest(SELFTEST_TEXT),
                )
                .unwrap()
        }),
        ("RS384", {
            use sha2_rsa::Digest;
            rsa_key
                .sign(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha384>(),
                    &sha2_rsa::Sha384::digest(SELFTEST_TEXT),
                )
                .unwrap()
        }),
        ("RS512", {
            use sha2_rsa::Digest;
            rsa_key
                .sign(
                    rsa::Pkcs1v15Sign::new::<sha2_rsa::Sha512>(),
                    &sha2_rsa::Sha512::digest(SELFTEST_TEXT),
                )
                .unwrap()
        }),
    ] {
        entries.push((alg, n.clone(), e.clone(), sig));
    }
    let mut out = String::from(
        "//! Generated by `selftest_vectors_are_reproducible` (TEST-ONLY keys; public data only).\n\
         //! Regenerate: `TOLLGATE_WRITE_SELFTEST_VECTORS=1 cargo test -p tollgate-core selftest_vectors`.\n\
         use crate::jwks::Algorithm;\nuse crate::selftest::Vector;\n\n\
         const TEXT: &[u8] = b\"tollgate verify_signature known-answer test\";\n\n",
    );
    out.push_str(&format!(
        "/// The known answers of [`crate::selftest`], one per host-capable algorithm.\n#[rustfmt::skip]\npub static VECTORS: [Vector; {}] = [\n",
        entries.len()
    ));
    for (alg, a, b, sig) in entries {
        out.push_str(&format!(
            "    Vector {{\n        alg: Algorithm::{alg},\n        key: (&[{}], &[{}]),\n        text: TEXT,\n        signature: &[{}],\n    }},\n",
            hex(&a).trim_end(),
            hex(&b).trim_end(),
            hex(&sig).trim_end()
        ));
    }
    out.push_str("];\n");
    out
}

#[test]
fn selftest_vectors_are_reproducible() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/selftest_vectors.rs");
    let want = generated_vectors();
    if std::env::var_os("TOLLGATE_WRITE_SELFTEST_VECTORS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap();
    assert!(
        have == want,
        "src/selftest_vectors.rs is stale: TOLLGATE_WRITE_SELFTEST_VECTORS=1 cargo test -p tollgate-core selftest_vectors"
    );
    // Each vector verifies on the pure path too.
    for v in VECTORS.iter() {
        let key = match v.alg {
            Algorithm::ES256 | Algorithm::ES384 => KeyMaterial::ec(v.alg, v.key.0, v.key.1),
            _ => KeyMaterial::rsa(v.alg, v.key.0, v.key.1),
        }
        .unwrap();
        assert_eq!(
            Verifiers::pure().verify(&key, v.text, v.signature),
            (true, Path::Wasm)
        );
    }
    assert_eq!(
        VECTORS.iter().map(|v| v.alg).collect::<Vec<_>>(),
        HOST_CAPABLE.to_vec()
    );
}
