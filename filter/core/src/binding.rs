//! The binding stage: what a verified (or cached) token demands of the request it came with,
//! checked on every request, cache hit or miss alike ([`Bound::admit`]): the token came from
//! a source its provider reads; a certificate-bound token (RFC 8705) needs the connection's
//! certificate; a DPoP-bound token (RFC 9449) the `DPoP` scheme and a valid proof by its key,
//! and the `DPoP` scheme a DPoP-bound token; then the route's scopes
//! ([`crate::upstream::grant`]); only then is the proof written to the replay store. Also the
//! challenge a denial on a route carries ([`route_challenge`]).
//!
//! A check on the calling client next to the token's binding (e.g. a client attestation) goes
//! into [`Bound::admit`], between the binding and the grant.

use crate::cache::CachedToken;
use crate::config::{Binding, Config, Provider, ProviderId, Rule, TokenSource};
use crate::credential::{Credential, Proof};
use crate::dpop::{self, ProofError, ProofRequest, VerifiedProof};
use crate::engine::Allowed;
use crate::environment::{Environment, RememberError};
use crate::path::CanonicalTarget;
use crate::request;
use crate::response::{Challenge, Denial, DenialKind};
use crate::signature::{Path, Verifiers};
use crate::token::{Confirmation, TokenError};
use crate::upstream::grant;

/// What the binding step needs about the request.
pub(crate) struct Bound<'a> {
    pub(crate) config: &'a Config,
    pub(crate) verifiers: &'a Verifiers,
    pub(crate) rule: &'a Rule,
    pub(crate) credential: &'a Credential<'a>,
    /// Where the token was found.
    pub(crate) source: Option<&'a TokenSource>,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) now: u64,
}

impl Bound<'_> {
    pub(crate) fn challenge(&self, provider: ProviderId) -> Challenge {
        route_challenge(
            &self.config.providers,
            self.rule,
            self.credential,
            Some(provider),
        )
    }

    /// The admission of a verified or cached token, one step for cache hits and misses: the
    /// binding, the route's scopes, and only then the DPoP proof into the replay store (a
    /// request refused anyway writes nothing there), then the allow decision.
    pub(crate) fn admit(
        &self,
        entry: &CachedToken,
        target: &CanonicalTarget<'_>,
        forward_token: bool,
        env: &mut dyn Environment,
        proof_signature: &mut Option<Path>,
    ) -> Result<Allowed, Denial> {
        let proof = self.enforce(entry.provider, &entry.confirmation, env)?;
        *proof_signature = proof.as_ref().map(|p| p.path);
        let attested = match &self.rule.client_attestation {
            Some(wanted) => Some(self.attestation(wanted, entry, proof.as_ref())?),
            None => None,
        };
        let mut allowed = grant(
            self.rule,
            entry,
            (!forward_token).then_some(self),
            target,
            || self.challenge(entry.provider),
        )?;
        if let Some(proof) = proof {
            self.remember(entry.provider, &proof, env)?;
        }
        if let (Some(wanted), Some(_)) = (&self.rule.client_attestation, &attested) {
            allowed
                .token_edits
                .extend(crate::attestation::admit::removal(wanted));
        }
        if let Some(attested) = attested {
            crate::attestation::admit::remember(&attested, env, self.now).map_err(|e| match e {
                crate::attestation::admit::Stored::Refused(e) => crate::attestation::admit::denial(
                    self.config,
                    e,
                    crate::attestation::Place::Api,
                    self.challenge(entry.provider),
                    self.now,
                ),
                crate::attestation::admit::Stored::Store(kind) => Denial {
                    kind,
                    provider: Some(entry.provider),
                    challenge: self.challenge(entry.provider),
                },
            })?;
        }
        Ok(allowed)
    }

    /// The client attestation the route requires, next to the token (see
    /// [`crate::attestation`]): its `sub` is the token's `client_id`, and in combined mode
    /// the DPoP proof checked above is made with the attested key.
    fn attestation(
        &self,
        wanted: &crate::config::RuleAttestation,
        entry: &CachedToken,
        proof: Option<&VerifiedProof>,
    ) -> Result<crate::attestation::Attested, Denial> {
        let proof = match (self.credential, proof) {
            (
                Credential::Dpop {
                    proof: Proof::One(text),
                    ..
                },
                Some(verified),
            ) => Some((*text, verified)),
            _ => None,
        };
        crate::attestation::admit::for_token(
            self.config,
            wanted,
            self.verifiers,
            self.headers,
            proof,
            entry.client_id.as_deref(),
            self.challenge(entry.provider),
            self.now,
        )
        .map_err(|d| Denial {
            provider: Some(entry.provider),
            ..d
        })
    }

    /// The token's confirmation and the route's binding, on every request (cached or not):
    /// a certificate-bound token needs the connection's certificate, a DPoP-bound token the
    /// DPoP scheme and a valid proof by its key; the DPoP scheme needs a DPoP-bound token
    /// (RFC 9449 §7.1); `binding: mtls` / `dpop` require the binding. Returns the verified
    /// proof, if one was checked, for [`Bound::remember`].
    fn enforce(
        &self,
        provider: ProviderId,
        confirmation: &Confirmation,
        env: &mut dyn Environment,
    ) -> Result<Option<VerifiedProof>, Denial> {
        let Some(p) = self.config.providers.get(provider.0) else {
            return Err(Denial::new(DenialKind::NoMatchingRule));
        };
        let binding = self.rule.binding.unwrap_or(p.binding);
        let fail = |kind: DenialKind| Denial {
            kind,
            provider: Some(provider),
            challenge: self.challenge(provider),
        };
        // A DPoP problem always challenges with DPoP: that is what the client must use.
        let dpop_fail = |e: TokenError| Denial {
            kind: DenialKind::InvalidToken(e),
            provider: Some(provider),
            challenge: Challenge::Dpop {
                algs: p.dpop.algorithms.clone(),
            },
        };
        let token_error = |e: TokenError| fail(DenialKind::InvalidToken(e));
        // The token came from a place its provider reads tokens from.
        if self.source.is_some_and(|s| !p.sources.contains(s)) {
            return Err(token_error(TokenError::SourceNotAllowed));
        }
        // RFC 8705: the certificate.
        match (confirmation.x5t_s256, binding) {
            (Some(bound), _) => match env.client_certificate_sha256() {
                None => return Err(token_error(TokenError::NoClientCertificate)),
                Some(presented) if presented != bound => {
                    return Err(token_error(TokenError::CertificateMismatch))
                }
                Some(_) => {}
            },
            (None, Binding::Mtls) => return Err(token_error(TokenError::NotCertificateBound)),
            (None, _) => {}
        }
        // RFC 9449: the proof.
        match self.credential {
            Credential::None => Err(fail(DenialKind::MissingToken)),
            Credential::Bearer(_) if confirmation.jkt.is_some() => {
                Err(dpop_fail(TokenError::DpopBoundAsBearer))
            }
            Credential::Bearer(_) if binding == Binding::Dpop => {
                Err(dpop_fail(TokenError::DpopRequired))
            }
            Credential::Bearer(_) => Ok(None),
            // The DPoP scheme with a token that is not DPoP-bound (RFC 9449 §7.1): refused
            // before the proof is even read, so an unbound token cannot be used to write
            // proofs of any key into the replay store.
            Credential::Dpop { .. } if confirmation.jkt.is_none() => {
                Err(dpop_fail(TokenError::NotDpopBound))
            }
            Credential::Dpop { token, proof } => {
                let proof_error = |e: ProofError| fail(DenialKind::InvalidDpopProof(e));
                let proof = match proof {
                    Proof::Missing => return Err(proof_error(ProofError::MissingProof)),
                    Proof::Several => return Err(proof_error(ProofError::MultipleProofs)),
                    Proof::One(proof) => proof,
                };
                let req = ProofRequest {
                    method: self.method,
                    scheme: request::header(self.headers, ":scheme").unwrap_or(""),
                    authority: request::header(self.headers, ":authority").unwrap_or(""),
                    origins: &p.dpop.origins,
                    path: self.path,
                    path_parameters: self.config.path_parameters,
                    access_token: Some(token),
                };
                let verified = dpop::check(proof, &p.dpop, self.verifiers, &req, self.now)
                    .map_err(proof_error)?;
                if confirmation.jkt != Some(verified.thumbprint) {
                    return Err(proof_error(ProofError::KeyMismatch));
                }
                Ok(Some(verified))
            }
        }
    }

    /// Write a verified proof into the replay store: a second use within its lifetime is
    /// refused, a full store refuses the new proof (503) rather than forget an old one.
    fn remember(
        &self,
        provider: ProviderId,
        proof: &VerifiedProof,
        env: &mut dyn Environment,
    ) -> Result<(), Denial> {
        let fail = |kind: DenialKind| Denial {
            kind,
            provider: Some(provider),
            challenge: self.challenge(provider),
        };
        match env.remember_proof(&proof.replay_key, proof.remember_until, self.now) {
            Ok(()) => Ok(()),
            Err(RememberError::Replayed) => {
                Err(fail(DenialKind::InvalidDpopProof(ProofError::Replayed)))
            }
            Err(RememberError::Full { retry_after }) => {
                Err(fail(DenialKind::ReplayStoreFull { retry_after }))
            }
            Err(RememberError::Unavailable) => Err(fail(DenialKind::ReplayCacheUnavailable)),
        }
    }
}

/// The challenge of a denial on `rule`: DPoP when the request used the DPoP scheme, or the
/// route requires DPoP (its `binding`, else the binding of every provider it accepts); then
/// `algs` are the proof algorithms of `provider` (or of all the route's providers).
pub(crate) fn route_challenge(
    providers: &[Provider],
    rule: &Rule,
    credential: &Credential<'_>,
    provider: Option<ProviderId>,
) -> Challenge {
    let accepted: Vec<&Provider> = match (provider, &rule.providers) {
        (Some(id), _) => providers.get(id.0).into_iter().collect(),
        (None, Some(ids)) => ids.iter().filter_map(|id| providers.get(id.0)).collect(),
        (None, None) => providers.iter().collect(),
    };
    let requires_dpop = match rule.binding {
        Some(b) => b == Binding::Dpop,
        None => !accepted.is_empty() && accepted.iter().all(|p| p.binding == Binding::Dpop),
    };
    if !requires_dpop && !matches!(credential, Credential::Dpop { .. }) {
        return Challenge::Bearer;
    }
    let mut algs = Vec::new();
    for p in accepted {
        for a in &p.dpop.algorithms {
            if !algs.contains(a) {
                algs.push(*a);
            }
        }
    }
    Challenge::Dpop { algs }
}
