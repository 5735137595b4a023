//! Where the engine calls in: an anonymous rule with `client_attestation` (a token-endpoint
//! gate, or a route that needs an attestation and no token) from `engine.rs`, and a token
//! rule from the admission step of `binding.rs`, after the token's binding and before the
//! grant. Both turn an [`AttestationError`] into a [`Denial`] and write the replay-store entry
//! only when the whole request is admitted.

use super::{
    body, check, token_endpoint_proof_request, AttestationDenial, AttestationError, Attested,
    DpopSide, Inputs, Place, Remember,
};
use crate::config::{Config, RuleAttestation};
use crate::dpop::{ProofError, VerifiedProof};
use crate::environment::{Environment, RememberError};
use crate::path::CanonicalTarget;
use crate::response::{Challenge, Denial, DenialKind};
use crate::signature::{Path, Verifiers};

/// The denial of `error` at `place`, with a fresh challenge when the answer asks for one.
pub(crate) fn denial(
    config: &Config,
    error: AttestationError,
    place: Place,
    challenge: Challenge,
    now: u64,
) -> Denial {
    let fresh = match error.class() {
        super::ErrorClass::UseChallenge => config
            .client_attestation
            .as_ref()
            .and_then(|c| c.challenges.as_ref())
            .map(|c| c.key.issue(now)),
        _ => None,
    };
    Denial {
        kind: DenialKind::ClientAttestation(AttestationDenial {
            error,
            place,
            challenge: fresh,
        }),
        provider: None,
        challenge,
    }
}

/// What an anonymous rule's attestation needs besides the configuration.
pub(crate) struct Anonymous<'a> {
    pub(crate) config: &'a Config,
    pub(crate) verifiers: &'a Verifiers,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) method: &'a str,
    pub(crate) target: &'a CanonicalTarget<'a>,
    /// The whole request body, when the glue read it (gated routes).
    pub(crate) body: Option<&'a [u8]>,
    pub(crate) now: u64,
}

impl Anonymous<'_> {
    /// Check an anonymous rule's attestation; the verifying path on success (`None` when
    /// the gate let the request through without one: another grant type).
    pub(crate) fn admit(
        &self,
        wanted: &RuleAttestation,
        env: &mut dyn Environment,
    ) -> Result<Option<Path>, Denial> {
        let place = if wanted.is_gate() {
            Place::TokenEndpoint
        } else {
            Place::Api
        };
        let fail = |e: AttestationError| denial(self.config, e, place, Challenge::Bearer, self.now);
        let Some(top) = &self.config.client_attestation else {
            return Err(fail(AttestationError::Missing));
        };
        let mut client_id = None;
        if let Some(grants) = &wanted.grant_types {
            let Some(bytes) = self.body else {
                return Err(fail(AttestationError::Body(body::BodyError::NotRead)));
            };
            let request = body::parse(
                self.headers,
                self.target.query(),
                bytes,
                wanted.max_body_bytes,
            )
            .map_err(|e| fail(AttestationError::Body(e)))?;
            if !grants.contains(&request.grant_type) {
                return Ok(None);
            }
            client_id = request.client_id;
        }
        let input = Inputs {
            config: top,
            rule: wanted,
            verifiers: self.verifiers,
            headers: self.headers,
            dpop: DpopSide::Unchecked {
                request: token_endpoint_proof_request(
                    self.headers,
                    self.method,
                    self.target.path(),
                    self.config.path_parameters,
                    &wanted.origins,
                ),
            },
            client_id: client_id.as_deref(),
            now: self.now,
        };
        let attested = check(&input).map_err(fail)?;
        remember(&attested, env, self.now).map_err(|e| match e {
            Stored::Refused(e) => fail(e),
            Stored::Store(kind) => Denial::new(kind),
        })?;
        Ok(Some(attested.path))
    }
}

/// The edits that take the attestation out of an admitted request on a route that does not
/// forward it (not on a gate: its glue removes them as the headers go on).
pub(crate) fn removal(wanted: &RuleAttestation) -> Vec<crate::HeaderEdit> {
    if wanted.forward_attestation || wanted.is_gate() {
        return Vec::new();
    }
    super::ATTESTATION_HEADERS
        .iter()
        .map(|h| crate::HeaderEdit::Remove((*h).to_owned()))
        .collect()
}

/// Why a replay-store entry was not written.
pub(crate) enum Stored {
    /// Seen before.
    Refused(AttestationError),
    /// The store could not take it (503).
    Store(DenialKind),
}

/// Write the attested request's replay-store entry, if it has one.
pub(crate) fn remember(
    attested: &Attested,
    env: &mut dyn Environment,
    now: u64,
) -> Result<(), Stored> {
    let Some(Remember { key, until, dpop }) = attested.remember else {
        return Ok(());
    };
    match env.remember_proof(&key, until, now) {
        Ok(()) => Ok(()),
        Err(RememberError::Replayed) if dpop => Err(Stored::Refused(AttestationError::DpopProof(
            ProofError::Replayed,
        ))),
        Err(RememberError::Replayed) => Err(Stored::Refused(AttestationError::PopReplayed)),
        Err(RememberError::Full { retry_after }) => {
            Err(Stored::Store(DenialKind::ReplayStoreFull { retry_after }))
        }
        Err(RememberError::Unavailable) => Err(Stored::Store(DenialKind::ReplayCacheUnavailable)),
    }
}

/// Check a token rule's attestation: the access token's `client_id` must be the
/// attestation's `sub`; in combined mode the proof the binding step checked (`proof`) must be
/// made with the attested key. The replay-store entry is returned, for the caller to write
/// after the grant.
#[allow(clippy::too_many_arguments)]
pub(crate) fn for_token(
    config: &Config,
    wanted: &RuleAttestation,
    verifiers: &Verifiers,
    headers: &[(String, String)],
    proof: Option<(&str, &VerifiedProof)>,
    client_id: Option<&str>,
    challenge: Challenge,
    now: u64,
) -> Result<Attested, Denial> {
    let fail = |e: AttestationError| denial(config, e, Place::Api, challenge.clone(), now);
    let Some(top) = &config.client_attestation else {
        return Err(fail(AttestationError::Missing));
    };
    let input = Inputs {
        config: top,
        rule: wanted,
        verifiers,
        headers,
        dpop: match proof {
            Some((proof, verified)) => DpopSide::Checked { proof, verified },
            None => DpopSide::None,
        },
        // A token without `client_id` cannot be matched to an attested client.
        client_id: Some(client_id.unwrap_or("")),
        now,
    };
    check(&input).map_err(fail)
}
