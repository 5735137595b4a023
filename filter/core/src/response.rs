//! Denials and their RFC 6750 local responses.
//!
//! | kind | status | `WWW-Authenticate` / extra headers | `error` |
//! |---|---|---|---|
//! | [`DenialKind::MissingToken`] | 401 | `Bearer realm="…"` (no error attribute, RFC 6750 §3.1) | `missing_token`* |
//! | [`DenialKind::InvalidToken`] | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` | `invalid_token` |
//! | [`DenialKind::InsufficientScope`] | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…", scope="a b"` | `insufficient_scope` |
//! | [`DenialKind::InvalidRequest`] | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` | `invalid_request` |
//! | [`DenialKind::NoMatchingRule`] | 403 | none (no token could help) | `access_denied` |
//! | [`DenialKind::KeysUnavailable`] | 503 | `Retry-After: 5` (a server-side failure is never a 401) | `temporarily_unavailable` |
//! | [`DenialKind::InvalidDpopProof`] | 401 | `DPoP realm="…", error="invalid_dpop_proof", error_description="…", algs="ES256 …"` | `invalid_dpop_proof` |
//! | [`DenialKind::ReplayCacheUnavailable`] | 503 | `Retry-After: 5` | `temporarily_unavailable` |
//! | [`DenialKind::ReplayStoreFull`] | 503 | `Retry-After: <seconds until room>` | `temporarily_unavailable` |
//! | [`DenialKind::UseDpopNonce`] | 401 | `DPoP realm="…", error="use_dpop_nonce", error_description="…", algs="…"` and `DPoP-Nonce: <fresh>` | `use_dpop_nonce` |
//! | [`DenialKind::InsufficientUserAuthentication`] | 401 | `Bearer realm="…", error="insufficient_user_authentication", error_description="…", acr_values="…", max_age="…"` (RFC 9470 §3) | `insufficient_user_authentication` |
//! | [`DenialKind::IntrospectionUnavailable`] | 503 | `Retry-After: 5` | `temporarily_unavailable` |
//!
//! With [`Challenge::Dpop`] (the request used the DPoP scheme, or the route requires DPoP)
//! every challenge is `DPoP realm="…", …, algs="…"` instead of `Bearer realm="…", …`.
//!
//! With `resource_metadata` configured, every 401 also carries `resource_metadata="<url>"`
//! (RFC 9728 §5.1), added by [`crate::Engine::respond`].
//!
//! *RFC 6750 sends no `error` attribute when the request carried no token; the JSON body
//! still needs an `error` member, so it says `"missing_token"` there only.
//!
//! Every response carries `content-type: application/json` and `cache-control: no-store`,
//! and a JSON body `{"error": …, "error_description": …}`. Nothing from the request (in
//! particular never the token) is echoed: descriptions are fixed texts.

use crate::config::ProviderId;
use crate::dpop::ProofError;
use crate::dpop_nonce::NonceRefusal;
use crate::jwks::Algorithm;
use crate::request::RequestError;
use crate::step_up::StepUpError;
use crate::token::TokenError;

/// Seconds a client is told to wait (`Retry-After`) when no keys are available yet.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Why a request was refused. Each variant maps to exactly one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialKind {
    /// The route needs a token and the request carried no `Authorization: Bearer` token
    /// (a token only in the query string counts as missing: it is never read from there).
    /// 401 with `WWW-Authenticate: Bearer realm="…"` and no error attribute.
    MissingToken,
    /// The token was present but is not acceptable. 401 `invalid_token`.
    InvalidToken(TokenError),
    /// The token is valid but lacks scopes the route requires; `required` lists all of the
    /// route's scopes. 403 `insufficient_scope` with `scope="…"`.
    InsufficientScope {
        /// All scopes the matched rule requires, in config order.
        required: Vec<String>,
    },
    /// The request itself is malformed (e.g. two `Authorization` headers). 400 `invalid_request`.
    InvalidRequest(RequestError),
    /// The request matched no rule. Such a request never reaches the API: 403
    /// `access_denied` (a token cannot help, so 401 would mislead the client).
    NoMatchingRule,
    /// The token's provider has no keys yet (remote JWKS / discovery not fetched yet, or
    /// every fetch so far failed). A server-side condition: 503 with `Retry-After`, never 401.
    KeysUnavailable,
    /// The DPoP proof is not acceptable. 401 `invalid_dpop_proof` (RFC 9449 §7.1).
    InvalidDpopProof(ProofError),
    /// The DPoP replay store could not be consulted: 503, never a pass.
    ReplayCacheUnavailable,
    /// The proof's bucket of the DPoP replay store is full of unexpired proofs: the new proof
    /// is refused rather than an old one forgotten (see [`crate::replay`]). 503 with
    /// `Retry-After`: the client's own proof was fine, so this is not a 401.
    ReplayStoreFull {
        /// Seconds until the bucket has room again.
        retry_after: u64,
    },
    /// `dpop_nonce` is configured and the proof carries no current nonce (RFC 9449 §9): 401
    /// `use_dpop_nonce` with `nonce` in the `DPoP-Nonce` header; the client retries with it.
    UseDpopNonce {
        /// Why the proof's nonce was not accepted.
        reason: NonceRefusal,
        /// The fresh nonce for the retry.
        nonce: String,
    },
    /// The token does not meet the route's step-up requirement (RFC 9470): 401
    /// `insufficient_user_authentication` with the route's `acr_values` and `max_age`.
    InsufficientUserAuthentication {
        /// What is missing.
        reason: StepUpError,
        /// The route's `acr_values` (empty: not asked).
        acr_values: Vec<String>,
        /// The route's `max_age_seconds`.
        max_age: Option<u64>,
    },
    /// A client attestation (or the token request it comes with) is refused: see
    /// [`crate::attestation`] for the status and `error` of each case.
    ClientAttestation(crate::attestation::AttestationDenial),
    /// The authorization server's introspection endpoint gave no verdict on an opaque token
    /// (down, too slow, 5xx, a malformed answer): 503 with `Retry-After`, never 401.
    IntrospectionUnavailable(crate::introspection::Failure),
}

/// The authentication scheme a 401 (or 400/403) challenges with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Challenge {
    /// `WWW-Authenticate: Bearer realm="…", …` (RFC 6750).
    #[default]
    Bearer,
    /// `WWW-Authenticate: DPoP realm="…", …, algs="…"` (RFC 9449 §7.1): the request used the
    /// DPoP scheme, or the route requires DPoP-bound tokens.
    Dpop {
        /// The proof algorithms accepted.
        algs: Vec<Algorithm>,
    },
}

/// A refused request: what went wrong and, when known, which provider's token it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Why the request was refused.
    pub kind: DenialKind,
    /// The provider the token was attributed to (by its unverified `iss`), if any.
    pub provider: Option<ProviderId>,
    /// The scheme of the `WWW-Authenticate` challenge.
    pub challenge: Challenge,
}

impl Denial {
    /// A denial with no provider and the `Bearer` challenge.
    pub fn new(kind: DenialKind) -> Denial {
        Denial {
            kind,
            provider: None,
            challenge: Challenge::Bearer,
        }
    }
}

/// A complete local response for the glue to send (`send_http_response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status: u32,
    /// Response headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// JSON body `{"error":…,"error_description":…}`.
    pub body: String,
}

/// Every reason [`Denial::reason`] can return, for defining metrics up front.
pub const ALL_REASONS: &[&str] = &[
    "missing_token",
    "insufficient_scope",
    "no_matching_rule",
    "keys_unavailable",
    // RequestError
    "multiple_authorization_headers",
    "malformed_authorization",
    "multiple_tokens",
    "encoded_token",
    "missing_method",
    "missing_path",
    "invalid_method",
    "method_override",
    "path_override",
    "invalid_path",
    // TokenError
    "token_too_large",
    "malformed_token",
    "bad_encoding",
    "bad_header",
    "critical_header",
    "wrong_token_type",
    "algorithm_not_allowed",
    "bad_payload",
    "invalid_date",
    "unknown_issuer",
    "provider_not_allowed",
    "unknown_kid",
    "ambiguous_key",
    "bad_signature",
    "wrong_issuer",
    "wrong_audience",
    "missing_exp",
    "expired",
    "not_yet_valid",
    "missing_iat",
    "issued_in_future",
    "lifetime_too_long",
    "bad_scope_claim",
    "claim_mismatch",
    "bad_confirmation",
    "dpop_bound_token_as_bearer",
    "dpop_required",
    "not_dpop_bound",
    "no_client_certificate",
    "certificate_mismatch",
    "not_certificate_bound",
    "token_source_not_allowed",
    "token_inactive",
    // Introspection failures
    "introspection_unavailable",
    "introspection_timeout",
    "introspection_bad_answer",
    // ProofError (invalid_dpop_proof)
    "dpop_missing_proof",
    "dpop_multiple_proofs",
    "dpop_too_large",
    "dpop_malformed",
    "dpop_bad_header",
    "dpop_wrong_type",
    "dpop_algorithm_not_allowed",
    "dpop_private_key",
    "dpop_bad_key",
    "dpop_bad_signature",
    "dpop_bad_payload",
    "dpop_wrong_method",
    "dpop_wrong_uri",
    "dpop_stale",
    "dpop_issued_in_future",
    "dpop_wrong_ath",
    "dpop_key_mismatch",
    "dpop_replayed",
    "replay_cache_unavailable",
    "dpop_replay_store_full",
    // NonceRefusal (use_dpop_nonce)
    "dpop_nonce_missing",
    "dpop_nonce_malformed",
    "dpop_nonce_foreign",
    "dpop_nonce_expired",
    // StepUpError (insufficient_user_authentication)
    "step_up_missing_acr",
    "step_up_acr_not_accepted",
    "step_up_missing_auth_time",
    "step_up_auth_time_in_future",
    "step_up_authentication_too_old",
    // AttestationError
    "token_request_too_large",
    "token_request_content_encoding",
    "token_request_content_type",
    "token_request_parameter_in_query",
    "token_request_malformed",
    "token_request_ambiguous_name",
    "token_request_repeated_parameter",
    "token_request_missing_grant_type",
    "token_request_body_not_read",
    "attestation_missing",
    "attestation_multiple",
    "attestation_malformed",
    "attestation_bad_header",
    "attestation_wrong_type",
    "attestation_algorithm_not_allowed",
    "attestation_unknown_key",
    "attestation_invalid_signature",
    "attestation_bad_payload",
    "attestation_wrong_issuer",
    "attestation_missing_exp",
    "attestation_missing_iat",
    "attestation_expired",
    "attestation_issued_in_future",
    "attestation_stale",
    "attestation_missing_key",
    "attestation_private_key",
    "attestation_bad_key",
    "attestation_pop_missing",
    "attestation_pop_multiple",
    "attestation_pop_method_not_allowed",
    "attestation_pop_malformed",
    "attestation_pop_bad_header",
    "attestation_pop_wrong_type",
    "attestation_pop_algorithm_not_allowed",
    "attestation_pop_key_mismatch",
    "attestation_pop_invalid_signature",
    "attestation_pop_bad_payload",
    "attestation_pop_wrong_audience",
    "attestation_pop_stale",
    "attestation_pop_issued_in_future",
    "attestation_pop_replayed",
    "attestation_dpop_proof_invalid",
    "attestation_challenge_missing",
    "attestation_challenge_invalid",
    "attestation_client_mismatch",
];

impl Denial {
    /// Short stable metric/log reason, e.g. `"missing_token"`, `"expired"`,
    /// `"wrong_audience"`, `"insufficient_scope"`. Always one of [`ALL_REASONS`].
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            DenialKind::MissingToken => "missing_token",
            DenialKind::InvalidToken(e) => e.reason(),
            DenialKind::InsufficientScope { .. } => "insufficient_scope",
            DenialKind::InvalidRequest(e) => e.reason(),
            DenialKind::NoMatchingRule => "no_matching_rule",
            DenialKind::KeysUnavailable => "keys_unavailable",
            DenialKind::InvalidDpopProof(e) => e.reason(),
            DenialKind::ReplayCacheUnavailable => "replay_cache_unavailable",
            DenialKind::ReplayStoreFull { .. } => "dpop_replay_store_full",
            DenialKind::UseDpopNonce { reason, .. } => reason.reason(),
            DenialKind::InsufficientUserAuthentication { reason, .. } => reason.reason(),
            DenialKind::ClientAttestation(a) => a.error.reason(),
            DenialKind::IntrospectionUnavailable(f) => f.reason(),
        }
    }

    /// The fixed description of the denial (the `error_description` text).
    pub fn kind_description(&self) -> String {
        match &self.kind {
            DenialKind::MissingToken => "the request carries no token".into(),
            DenialKind::InvalidToken(e) => e.to_string(),
            DenialKind::InsufficientScope { .. } => {
                "the token lacks a scope this resource requires".into()
            }
            DenialKind::InvalidRequest(e) => e.to_string(),
            DenialKind::NoMatchingRule => "no access rule covers this request".into(),
            DenialKind::KeysUnavailable => "the provider has no keys yet".into(),
            DenialKind::InvalidDpopProof(e) => e.to_string(),
            DenialKind::ReplayCacheUnavailable => "the DPoP replay store is not available".into(),
            DenialKind::ReplayStoreFull { .. } => "the DPoP replay store is full".into(),
            DenialKind::UseDpopNonce { reason, .. } => reason.description().into(),
            DenialKind::InsufficientUserAuthentication { reason, .. } => reason.to_string(),
            DenialKind::ClientAttestation(a) => a.error.to_string(),
            DenialKind::IntrospectionUnavailable(f) => f.to_string(),
        }
    }

    /// The complete local response: status, headers (`www-authenticate` where RFC 6750
    /// applies, `content-type: application/json`, `cache-control: no-store`) and JSON body.
    /// Never echoes the token.
    pub fn response(&self, realm: &str) -> LocalResponse {
        let (scheme, algs) = match &self.challenge {
            Challenge::Bearer => ("Bearer", String::new()),
            Challenge::Dpop { algs } => (
                "DPoP",
                format!(
                    ", algs=\"{}\"",
                    algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(" ")
                ),
            ),
        };
        let realm_attr = format!("{scheme} realm=\"{}\"", quote_escape(realm));
        let mut headers: Vec<(String, String)> = Vec::new();
        let (status, error, description): (u32, &str, String) = match &self.kind {
            DenialKind::MissingToken => {
                headers.push(("www-authenticate".into(), format!("{realm_attr}{algs}")));
                (
                    401,
                    "missing_token",
                    "the request carries no bearer token".into(),
                )
            }
            DenialKind::InvalidToken(e) => {
                let d = e.to_string();
                headers.push((
                    "www-authenticate".into(),
                    format!(
                        "{realm_attr}, error=\"invalid_token\", error_description=\"{}\"{algs}",
                        quote_escape(&d)
                    ),
                ));
                (401, "invalid_token", d)
            }
            DenialKind::InvalidDpopProof(e) => {
                let d = e.to_string();
                headers.push((
                    "www-authenticate".into(),
                    format!(
                        "{realm_attr}, error=\"invalid_dpop_proof\", error_description=\"{}\"{algs}",
                        quote_escape(&d)
                    ),
                ));
                (401, "invalid_dpop_proof", d)
            }
            DenialKind::UseDpopNonce { reason, nonce } => {
                let d = reason.description();
                headers.push((
                    "www-authenticate".into(),
                    format!(
                        "{realm_attr}, error=\"use_dpop_nonce\", error_description=\"{}\"{algs}",
                        quote_escape(d)
                    ),
                ));
                headers.push(("dpop-nonce".into(), nonce.clone()));
                (401, "use_dpop_nonce", d.into())
            }
            DenialKind::InsufficientUserAuthentication {
                reason,
                acr_values,
                max_age,
            } => {
                let d = reason.to_string();
                let mut value = format!(
                    "{realm_attr}, error=\"insufficient_user_authentication\", error_description=\"{}\"",
                    quote_escape(&d)
                );
                if !acr_values.is_empty() {
                    value.push_str(&format!(
                        ", acr_values=\"{}\"",
                        quote_escape(&acr_values.join(" "))
                    ));
                }
                if let Some(max_age) = max_age {
                    value.push_str(&format!(", max_age=\"{max_age}\""));
                }
                value.push_str(&algs);
                headers.push(("www-authenticate".into(), value));
                (401, "insufficient_user_authentication", d)
            }
            DenialKind::ReplayCacheUnavailable => {
                headers.push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
                (
                    503,
                    "temporarily_unavailable",
                    "the DPoP replay store is not available; retry later".into(),
                )
            }
            DenialKind::ReplayStoreFull { retry_after } => {
                headers.push(("retry-after".into(), (*retry_after).max(1).to_string()));
                (
                    503,
                    "temporarily_unavailable",
                    "the DPoP replay store is full; retry later".into(),
                )
            }
            DenialKind::InsufficientScope { required } => {
                let d = "the token lacks a scope this resource requires".to_string();
                let scope = required.join(" ");
                headers.push((
                    "www-authenticate".into(),
                    format!(
                        "{realm_attr}, error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"{algs}",
                        quote_escape(&d),
                        quote_escape(&scope)
                    ),
                ));
                (403, "insufficient_scope", d)
            }
            DenialKind::InvalidRequest(e) => {
                let d = e.to_string();
                headers.push((
                    "www-authenticate".into(),
                    format!(
                        "{realm_attr}, error=\"invalid_request\", error_description=\"{}\"{algs}",
                        quote_escape(&d)
                    ),
                ));
                (400, "invalid_request", d)
            }
            DenialKind::ClientAttestation(a) => {
                let (status, code) = a.status_and_code();
                let d = a.error.to_string();
                if a.place == crate::attestation::Place::Api {
                    headers.push((
                        "www-authenticate".into(),
                        format!(
                            "{realm_attr}, error=\"{code}\", error_description=\"{}\"{algs}",
                            quote_escape(&d)
                        ),
                    ));
                }
                if let Some(fresh) = &a.challenge {
                    headers.push((crate::attestation::CHALLENGE_HEADER.into(), fresh.clone()));
                }
                (status, code, d)
            }
            DenialKind::NoMatchingRule => (
                403,
                "access_denied",
                "no access rule covers this request".into(),
            ),
            DenialKind::KeysUnavailable => {
                headers.push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
                (
                    503,
                    "temporarily_unavailable",
                    "the keys to verify this token are not available yet; retry later".into(),
                )
            }
            DenialKind::IntrospectionUnavailable(f) => {
                headers.push(("retry-after".into(), RETRY_AFTER_SECONDS.to_string()));
                (503, "temporarily_unavailable", format!("{f}; retry later"))
            }
        };
        headers.push(("content-type".into(), "application/json".into()));
        headers.push(("cache-control".into(), "no-store".into()));
        let body =
            serde_json::json!({ "error": error, "error_description": description }).to_string();
        LocalResponse {
            status,
            headers,
            body,
        }
    }
}

/// Escape a value for use inside a quoted-string of `WWW-Authenticate` (RFC 7230 §3.2.6):
/// backslash and double quote are backslash-escaped; control characters (which the
/// quoted-string grammar does not allow, and which could split the header) become spaces.
pub fn quote_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
