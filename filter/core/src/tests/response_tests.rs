//! RFC 6750 responses and the reason list.

use std::collections::HashSet;

use serde_json::Value;

use crate::dpop::ProofError;
use crate::request::RequestError;
use crate::response::quote_escape;
use crate::{Denial, DenialKind, TokenError, ALL_REASONS};

pub(crate) fn all_token_errors() -> Vec<TokenError> {
    use TokenError::*;
    vec![
        TooLarge,
        Malformed,
        BadEncoding,
        BadHeader,
        CriticalHeader,
        WrongType,
        AlgorithmNotAllowed,
        BadPayload,
        InvalidDate,
        UnknownIssuer,
        ProviderNotAllowed,
        UnknownKeyId,
        AmbiguousKey,
        BadSignature,
        WrongIssuer,
        WrongAudience,
        MissingExp,
        Expired,
        NotYetValid,
        MissingIssuedAt,
        IssuedInFuture,
        LifetimeTooLong,
        BadScopeClaim,
        ClaimMismatch,
        BadConfirmation,
        DpopBoundAsBearer,
        DpopRequired,
        NotDpopBound,
        NoClientCertificate,
        CertificateMismatch,
        NotCertificateBound,
        SourceNotAllowed,
        Inactive,
    ]
}

pub(crate) fn all_proof_errors() -> Vec<ProofError> {
    use ProofError::*;
    vec![
        MissingProof,
        MultipleProofs,
        TooLarge,
        Malformed,
        BadHeader,
        WrongType,
        AlgorithmNotAllowed,
        PrivateKey,
        BadKey,
        BadSignature,
        BadPayload,
        WrongMethod,
        WrongUri,
        Stale,
        IssuedInFuture,
        WrongTokenHash,
        KeyMismatch,
        Replayed,
    ]
}

/// Compile-time guard for ProofError, as for TokenError below.
#[allow(dead_code)]
fn proof_listed(e: ProofError) -> bool {
    use ProofError::*;
    match e {
        MissingProof | MultipleProofs | TooLarge | Malformed | BadHeader | WrongType
        | AlgorithmNotAllowed | PrivateKey | BadKey | BadSignature | BadPayload | WrongMethod
        | WrongUri | Stale | IssuedInFuture | WrongTokenHash | KeyMismatch | Replayed => {
            all_proof_errors().contains(&e)
        }
    }
}

/// Compile-time guard: adding a TokenError variant without listing it above fails here.
#[allow(dead_code)]
fn listed(e: TokenError) -> bool {
    use TokenError::*;
    match e {
        TooLarge | Malformed | BadEncoding | BadHeader | CriticalHeader | WrongType
        | AlgorithmNotAllowed | BadPayload | InvalidDate | UnknownIssuer | ProviderNotAllowed
        | UnknownKeyId | AmbiguousKey | BadSignature | WrongIssuer | WrongAudience | MissingExp
        | Expired | NotYetValid | MissingIssuedAt | IssuedInFuture | LifetimeTooLong
        | BadScopeClaim | ClaimMismatch | BadConfirmation | DpopBoundAsBearer | DpopRequired
        | NotDpopBound | NoClientCertificate | CertificateMismatch | NotCertificateBound
        | SourceNotAllowed | Inactive => all_token_errors().contains(&e),
    }
}

fn all_request_errors() -> Vec<RequestError> {
    use RequestError::*;
    vec![
        MultipleAuthorizationHeaders,
        MalformedAuthorization,
        MultipleTokens,
        MissingMethod,
        MissingPath,
        InvalidMethod,
        MethodOverride,
        PathOverride,
        EncodedToken,
        InvalidPath(crate::PathError::DotSegment),
    ]
}

fn all_kinds() -> Vec<DenialKind> {
    let mut v = vec![
        DenialKind::MissingToken,
        DenialKind::InsufficientScope {
            required: vec!["a".into()],
        },
        DenialKind::NoMatchingRule,
        DenialKind::KeysUnavailable,
        DenialKind::ReplayCacheUnavailable,
        DenialKind::ReplayStoreFull { retry_after: 7 },
        DenialKind::IntrospectionUnavailable(crate::introspection::Failure::Unavailable),
        DenialKind::IntrospectionUnavailable(crate::introspection::Failure::Timeout),
        DenialKind::IntrospectionUnavailable(crate::introspection::Failure::BadAnswer),
    ];
    use crate::dpop_nonce::NonceRefusal as N;
    use crate::step_up::StepUpError as S;
    v.extend(
        [N::Missing, N::Malformed, N::Foreign, N::Expired].map(|reason| DenialKind::UseDpopNonce {
            reason,
            nonce: "n".into(),
        }),
    );
    v.extend(
        [
            S::MissingAcr,
            S::AcrNotAccepted,
            S::MissingAuthTime,
            S::AuthTimeInFuture,
            S::AuthenticationTooOld,
        ]
        .map(|reason| DenialKind::InsufficientUserAuthentication {
            reason,
            acr_values: vec![],
            max_age: None,
        }),
    );
    v.extend(
        all_proof_errors()
            .into_iter()
            .map(DenialKind::InvalidDpopProof),
    );
    v.extend(all_token_errors().into_iter().map(DenialKind::InvalidToken));
    v.extend(
        all_request_errors()
            .into_iter()
            .map(DenialKind::InvalidRequest),
    );
    v.extend(
        crate::attestation::tests::all_errors()
            .into_iter()
            .map(|error| {
                DenialKind::ClientAttestation(crate::attestation::AttestationDenial {
                    error,
                    place: crate::attestation::Place::TokenEndpoint,
                    challenge: None,
                })
            }),
    );
    v
}

fn deny(kind: DenialKind) -> Denial {
    Denial::new(kind)
}

#[test]
fn dpop_challenges_carry_the_scheme_and_algs() {
    use crate::jwks::Algorithm;
    use crate::response::Challenge;
    let dpop = |kind: DenialKind| Denial {
        kind,
        provider: None,
        challenge: Challenge::Dpop {
            algs: vec![Algorithm::ES256, Algorithm::EdDSA],
        },
    };
    let r = dpop(DenialKind::InvalidDpopProof(ProofError::Replayed)).response("api");
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("DPoP realm=\"api\", error=\"invalid_dpop_proof\", error_description=\"the DPoP proof was used before\", algs=\"ES256 EdDSA\"")
    );
    assert_eq!(
        r.body,
        r#"{"error":"invalid_dpop_proof","error_description":"the DPoP proof was used before"}"#
    );
    let r = dpop(DenialKind::MissingToken).response("api");
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("DPoP realm=\"api\", algs=\"ES256 EdDSA\"")
    );
    let r = dpop(DenialKind::InvalidToken(TokenError::DpopBoundAsBearer)).response("api");
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("DPoP realm=\"api\", error=\"invalid_token\", error_description=\"the token is bound to a DPoP key and must be sent with the DPoP scheme\", algs=\"ES256 EdDSA\"")
    );
    let r = deny(DenialKind::ReplayCacheUnavailable).response("api");
    assert_eq!((r.status, header(&r, "retry-after")), (503, Some("5")));
    let r = deny(DenialKind::ReplayStoreFull { retry_after: 42 }).response("api");
    assert_eq!((r.status, header(&r, "retry-after")), (503, Some("42")));
    assert_eq!(header(&r, "www-authenticate"), None);
    assert_eq!(
        r.body,
        r#"{"error":"temporarily_unavailable","error_description":"the DPoP replay store is full; retry later"}"#
    );
    let r = deny(DenialKind::ReplayStoreFull { retry_after: 0 }).response("api");
    assert_eq!(header(&r, "retry-after"), Some("1"));
}

#[test]
fn the_nonce_challenge_carries_the_fresh_nonce_and_the_dpop_scheme() {
    use crate::dpop_nonce::NonceRefusal;
    use crate::jwks::Algorithm;
    use crate::response::Challenge;
    let d = Denial {
        kind: DenialKind::UseDpopNonce {
            reason: NonceRefusal::Expired,
            nonce: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        },
        provider: None,
        challenge: Challenge::Dpop {
            algs: vec![Algorithm::ES256],
        },
    };
    let r = d.response("api");
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("DPoP realm=\"api\", error=\"use_dpop_nonce\", error_description=\"the DPoP proof nonce is not current; use the nonce sent in DPoP-Nonce\", algs=\"ES256\"")
    );
    assert_eq!(
        header(&r, "dpop-nonce"),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(
        r.body,
        r#"{"error":"use_dpop_nonce","error_description":"the DPoP proof nonce is not current; use the nonce sent in DPoP-Nonce"}"#
    );
    assert_eq!(d.reason(), "dpop_nonce_expired");
}

#[test]
fn the_step_up_challenge_names_acr_values_and_max_age() {
    use crate::step_up::StepUpError;
    let d = |acr_values: Vec<String>, max_age| {
        deny(DenialKind::InsufficientUserAuthentication {
            reason: StepUpError::AcrNotAccepted,
            acr_values,
            max_age,
        })
        .response("api")
    };
    let r = d(vec!["urn:example:mfa".into(), "phr".into()], Some(300));
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a different authentication level is required\", acr_values=\"urn:example:mfa phr\", max_age=\"300\"")
    );
    assert_eq!(
        r.body,
        r#"{"error":"insufficient_user_authentication","error_description":"a different authentication level is required"}"#
    );
    let r = d(vec![], Some(60));
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a different authentication level is required\", max_age=\"60\"")
    );
    let r = d(vec!["mfa".into()], None);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a different authentication level is required\", acr_values=\"mfa\"")
    );
}

fn header<'a>(r: &'a crate::LocalResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn reasons_are_complete_and_unique() {
    assert!(all_token_errors().into_iter().all(listed));
    let produced: Vec<&str> = all_kinds().into_iter().map(|k| deny(k).reason()).collect();
    let set: HashSet<&str> = produced.iter().copied().collect();
    assert_eq!(set.len(), produced.len(), "duplicate reason");
    let listed: HashSet<&str> = ALL_REASONS.iter().copied().collect();
    assert_eq!(listed.len(), ALL_REASONS.len());
    assert_eq!(set, listed);
    for r in ALL_REASONS {
        assert!(
            r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{r}"
        );
    }
}

#[test]
fn missing_token_has_no_error_attribute() {
    let r = deny(DenialKind::MissingToken).response("orders-api");
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"orders-api\"")
    );
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "missing_token");
    assert_eq!(
        body["error_description"],
        "the request carries no bearer token"
    );
}

#[test]
fn invalid_token_response() {
    let r = deny(DenialKind::InvalidToken(TokenError::Expired)).response("r");
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"r\", error=\"invalid_token\", error_description=\"the token has expired\"")
    );
    assert_eq!(
        r.body,
        r#"{"error":"invalid_token","error_description":"the token has expired"}"#
    );
}

#[test]
fn insufficient_scope_lists_required_scopes() {
    let r = deny(DenialKind::InsufficientScope {
        required: vec!["orders:read".into(), "orders:admin".into()],
    })
    .response("r");
    assert_eq!(r.status, 403);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"r\", error=\"insufficient_scope\", error_description=\"the token lacks a scope this resource requires\", scope=\"orders:read orders:admin\"")
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

#[test]
fn invalid_request_no_rule_and_keys_unavailable() {
    let r = deny(DenialKind::InvalidRequest(
        RequestError::MultipleAuthorizationHeaders,
    ))
    .response("r");
    assert_eq!(r.status, 400);
    assert!(header(&r, "www-authenticate")
        .unwrap()
        .contains("error=\"invalid_request\""));
    let r = deny(DenialKind::NoMatchingRule).response("r");
    assert_eq!(r.status, 403);
    assert_eq!(header(&r, "www-authenticate"), None);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["error"],
        "access_denied"
    );
    let r = deny(DenialKind::KeysUnavailable).response("r");
    assert_eq!(r.status, 503);
    assert_eq!(header(&r, "retry-after"), Some("5"));
    assert_eq!(header(&r, "www-authenticate"), None);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["error"],
        "temporarily_unavailable"
    );
}

#[test]
fn every_response_is_well_formed() {
    for k in all_kinds() {
        let r = deny(k.clone()).response("realm");
        assert!((400..600).contains(&r.status) && r.status != 500, "{k:?}");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body["error"].is_string() && body["error_description"].is_string());
        assert_eq!(body.as_object().unwrap().len(), 2);
        for (n, v) in &r.headers {
            assert_eq!(n, &n.to_ascii_lowercase());
            assert!(!v.chars().any(char::is_control), "{n}: {v:?}");
        }
    }
}

#[test]
fn quote_escaping() {
    assert_eq!(quote_escape(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(quote_escape("a\r\nb"), "a  b");
    let r = deny(DenialKind::MissingToken).response("my \"realm\"");
    assert_eq!(
        header(&r, "www-authenticate"),
        Some(r#"Bearer realm="my \"realm\"""#)
    );
}
