//! The loop's checks, natively: a good case is measured on every mode that serves it, and
//! every way a case can be wrong is refused with its own error before anything is timed.

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use tollgate_core::testkit::{self, TestKey, NOW};

use super::*;

fn b64(value: &serde_json::Value) -> Vec<u8> {
    Base64UrlSafeNoPadding::decode_to_vec(value.as_str().unwrap(), None).unwrap()
}

/// A case signed with a testkit key over a standard token's signing input.
fn case(key: TestKey) -> Case {
    let token = testkit::token(key, NOW);
    let (text, _) = token.rsplit_once('.').unwrap();
    let jwk = key.public_jwk();
    let public = match key.alg() {
        "ES256" => Key::Ec {
            x: b64(&jwk["x"]),
            y: b64(&jwk["y"]),
        },
        "EdDSA" => Key::Ed25519 { x: b64(&jwk["x"]) },
        _ => Key::Rsa {
            n: b64(&jwk["n"]),
            e: b64(&jwk["e"]),
        },
    };
    Case {
        name: key.alg().to_owned(),
        alg: key.alg().to_owned(),
        key: public,
        text: text.as_bytes().to_vec(),
        signature: key.sign(text.as_bytes()),
    }
}

fn smoke(mode: Mode, cases: Vec<Case>) -> Request {
    Request {
        mode,
        batch_micros: 0,
        batches: 1,
        cases,
    }
}

#[test]
fn a_good_case_is_checked_then_timed_in_every_mode_that_serves_it() {
    for mode in [Mode::Pure, Mode::Host] {
        let response = run(&smoke(
            mode,
            vec![case(TestKey::Es256), case(TestKey::Rs256)],
        ))
        .unwrap();
        assert_eq!(response.arch, std::env::consts::ARCH);
        for outcome in &response.outcomes {
            assert_eq!(
                (outcome.valid, outcome.tampered),
                (Some(true), Some(false)),
                "{mode} {}",
                outcome.name
            );
            assert_eq!((outcome.iterations, outcome.batch_nanos.len()), (1, 1));
            assert_eq!(outcome.arguments, None);
        }
    }
    let response = run(&smoke(Mode::Pure, vec![case(TestKey::EdDsa)])).unwrap();
    assert_eq!(response.outcomes[0].valid, Some(true));
}

#[test]
fn host_glue_mode_returns_what_a_host_must_accept_and_refuse() {
    for key in [TestKey::Es256, TestKey::Rs256] {
        let response = run(&smoke(Mode::HostGlue, vec![case(key)])).unwrap();
        let outcome = &response.outcomes[0];
        assert_eq!((outcome.valid, outcome.tampered), (None, None));
        let arguments = outcome.arguments.as_ref().unwrap();
        // The arguments are the filter's own encoding: the tampered copy differs only in
        // its signature field.
        assert_ne!(arguments.valid, arguments.tampered);
        assert_eq!(arguments.valid.len(), arguments.tampered.len());
        assert!(arguments.valid.starts_with(b"\x0a\x06sha256"), "{key:?}");
    }
}

#[test]
fn timed_batches_have_the_requested_count_and_roughly_the_requested_length() {
    let request = Request {
        mode: Mode::Pure,
        batch_micros: 2_000,
        batches: 3,
        cases: vec![case(TestKey::EdDsa)],
    };
    let outcome = run(&request).unwrap().outcomes.remove(0);
    assert_eq!(outcome.batch_nanos.len(), 3);
    assert!(outcome.iterations >= 1);
    assert!(outcome.batch_nanos.iter().all(|n| *n > 0));
}

#[test]
fn a_signature_that_does_not_verify_is_an_error_not_a_figure() {
    let mut bad = case(TestKey::Es256);
    bad.signature = tampered(&bad.signature);
    for mode in [Mode::Pure, Mode::Host] {
        assert_eq!(
            run(&smoke(mode, vec![bad.clone()])),
            Err(BenchError::CheckFailed {
                case: "ES256".into(),
                mode,
                what: "the signature does not verify"
            })
        );
    }
    // A signature over other text is refused the same way.
    let mut other = case(TestKey::EdDsa);
    other.text.push(b'x');
    assert_eq!(
        run(&smoke(Mode::Pure, vec![other])),
        Err(BenchError::CheckFailed {
            case: "EdDSA".into(),
            mode: Mode::Pure,
            what: "the signature does not verify"
        })
    );
}

#[test]
fn a_verdict_from_another_path_is_refused() {
    // A signature of the wrong length is refused before any host sees it (on the pure path),
    // so in host mode the check must notice the path, not only the verdict.
    let mut short = case(TestKey::Es256);
    short.signature.pop();
    assert_eq!(
        run(&smoke(Mode::Host, vec![short])),
        Err(BenchError::CheckFailed {
            case: "ES256".into(),
            mode: Mode::Host,
            what: "the verdict came from another path"
        })
    );
}

#[test]
fn cases_that_cannot_run_are_refused_with_their_reason() {
    let mut hs = case(TestKey::Es256);
    hs.alg = "HS256".into();
    assert_eq!(
        run(&smoke(Mode::Pure, vec![hs])),
        Err(BenchError::UnknownAlgorithm("HS256".into()))
    );
    let mut wrong_key = case(TestKey::EdDsa);
    wrong_key.alg = "ES256".into();
    assert_eq!(
        run(&smoke(Mode::Pure, vec![wrong_key])),
        Err(BenchError::BadKey {
            case: "EdDSA".into()
        })
    );
    for mode in [Mode::HostGlue, Mode::Host] {
        assert_eq!(
            run(&smoke(mode, vec![case(TestKey::EdDsa)])),
            Err(BenchError::Unsupported {
                case: "EdDSA".into(),
                mode
            })
        );
    }
}

#[test]
fn the_program_answers_json_and_explains_bad_input() {
    let request = serde_json::to_string(&smoke(Mode::Pure, vec![case(TestKey::EdDsa)])).unwrap();
    let response: Response = serde_json::from_str(&answer(&request).unwrap()).unwrap();
    assert_eq!(response.outcomes[0].mode, Mode::Pure);
    assert!(answer("{")
        .unwrap_err()
        .starts_with("the input is not a benchmark request: "));
    let mut bad = smoke(Mode::Pure, vec![case(TestKey::EdDsa)]);
    bad.cases[0].alg = "none".into();
    assert_eq!(
        answer(&serde_json::to_string(&bad).unwrap()),
        Err("\"none\" is not an algorithm tollgate verifies".into())
    );
}
