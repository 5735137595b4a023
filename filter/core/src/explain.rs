//! The debug explanation of a denial: which check refused the request and what the token
//! said that made it fail (its header and the registered claims, decoded but not trusted),
//! never the token, its signature or personal claims (`sub`, `email`, names).

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::{Map, Value};

use crate::response::{Denial, DenialKind};
use crate::time::rfc3339;

/// Claims shown (besides the header's `alg`, `kid`, `typ`): the ones the checks look at.
const SHOWN: [&str; 8] = [
    "iss",
    "aud",
    "client_id",
    "azp",
    "scope",
    "scp",
    "cnf",
    "jti",
];

/// One line: the reason and description, the rule's requirement, and the token's fields.
pub fn explain(denial: &Denial, token: Option<&str>, rule_scopes: &[String], now: u64) -> String {
    let mut out = format!("{} ({})", denial.kind_description(), denial.reason());
    if let DenialKind::InsufficientScope { required } = &denial.kind {
        out.push_str(&format!(
            "; the route requires scopes {}",
            required.join(" ")
        ));
    } else if !rule_scopes.is_empty() {
        out.push_str(&format!(
            "; the route requires scopes {}",
            rule_scopes.join(" ")
        ));
    }
    let Some(token) = token else {
        out.push_str("; no token");
        return out;
    };
    let mut parts = token.split('.');
    let decode = |s: Option<&str>| -> Option<Map<String, Value>> {
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(s?, None).ok()?;
        match serde_json::from_slice::<Value>(&bytes).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    let (header, claims) = (decode(parts.next()), decode(parts.next()));
    let mut fields = Vec::new();
    match header {
        Some(h) => {
            for name in ["alg", "kid", "typ"] {
                if let Some(v) = h.get(name) {
                    fields.push(format!("{name}={}", short(v)));
                }
            }
        }
        None => fields.push("header not decodable".into()),
    }
    match claims {
        Some(c) => {
            for name in SHOWN {
                if let Some(v) = c.get(name) {
                    fields.push(format!("{name}={}", short(v)));
                }
            }
            for name in ["iat", "nbf", "exp"] {
                if let Some(t) = c.get(name).and_then(Value::as_u64) {
                    let rel = if t > now {
                        format!("in {} s", t - now)
                    } else {
                        format!("{} s ago", now - t)
                    };
                    fields.push(format!("{name}={} ({rel})", rfc3339(t)));
                }
            }
        }
        None => fields.push("claims not decodable".into()),
    }
    out.push_str(&format!("; token {}", fields.join(" ")));
    out.push_str(&format!("; now {}", rfc3339(now)));
    out
}

/// A value for a log line: JSON text, cut at 120 characters, without control characters.
fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if clean.contains(' ') {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// One step of the fixed order in which a request is decided (see [`crate::engine`] and
/// [`crate::token`]), as an operator reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `:method` an upper-case token, `:path` canonical, no method override.
    Request,
    /// `cors_preflight: true`: an `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    CorsPreflight,
    /// The first rule matching path and method.
    Rule,
    /// Exactly one token from the route's sources (or none on an `allow_missing` rule).
    Credential,
    /// `max_token_bytes`.
    TokenSize,
    /// Three base64url segments, header object, no `crit`, payload object, claim types.
    TokenFormat,
    /// The provider of the token's `iss`, accepted on the route, with keys.
    Provider,
    /// `typ` against the provider's `token_types`.
    TokenType,
    /// The key by `kid` and the algorithm (the key's own, allowed by the provider).
    Key,
    /// The signature.
    Signature,
    /// `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime, `required_claims`, `cnf`, scope claim types.
    Claims,
    /// The token's source and binding: mTLS certificate, DPoP scheme, proof, nonce, replay.
    Binding,
    /// The route's step-up requirement (`acr_values`, `max_age_seconds`, RFC 9470).
    StepUp,
    /// The route's scopes.
    Scopes,
}

/// Every step in order.
pub const STEPS: [Step; 14] = [
    Step::Request,
    Step::CorsPreflight,
    Step::Rule,
    Step::Credential,
    Step::TokenSize,
    Step::TokenFormat,
    Step::Provider,
    Step::TokenType,
    Step::Key,
    Step::Signature,
    Step::Claims,
    Step::Binding,
    Step::StepUp,
    Step::Scopes,
];

impl Step {
    /// Stable name (machine output).
    pub fn name(self) -> &'static str {
        match self {
            Step::Request => "request",
            Step::CorsPreflight => "cors_preflight",
            Step::Rule => "rule",
            Step::Credential => "credential",
            Step::TokenSize => "token_size",
            Step::TokenFormat => "token_format",
            Step::Provider => "provider",
            Step::TokenType => "token_type",
            Step::Key => "key",
            Step::Signature => "signature",
            Step::Claims => "claims",
            Step::Binding => "binding",
            Step::StepUp => "step_up",
            Step::Scopes => "scopes",
        }
    }

    /// What the step checks, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Step::Request => "method, canonical path, no method override",
            Step::CorsPreflight => "CORS preflight (cors_preflight)",
            Step::Rule => "first rule matching path and method",
            Step::Credential => "one token from the route's sources",
            Step::TokenSize => "size cap (max_token_bytes)",
            Step::TokenFormat => "compact form, header, crit, payload",
            Step::Provider => "provider by iss, allowed on the route, keys present",
            Step::TokenType => "typ (token_types)",
            Step::Key => "key by kid, algorithm",
            Step::Signature => "signature",
            Step::Claims => "iss, aud, exp, nbf, iat, lifetime, required claims, cnf",
            Step::Binding => "token source and binding (mTLS, DPoP proof and nonce)",
            Step::StepUp => "step-up authentication (acr_values, max_age_seconds)",
            Step::Scopes => "route scopes",
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// The step ran and passed.
    Passed,
    /// The step decided the denial.
    Failed,
    /// The step did not run because the request was decided before it (or it does not
    /// apply to this configuration or route).
    NotRun,
}

/// The step at which a denial was decided.
pub fn failed_step(denial: &Denial) -> Step {
    use crate::request::RequestError as R;
    use crate::token::TokenError as T;
    match &denial.kind {
        DenialKind::InvalidRequest(
            R::MissingMethod
            | R::MissingPath
            | R::InvalidMethod
            | R::MethodOverride
            | R::PathOverride
            | R::InvalidPath(_),
        ) => Step::Request,
        DenialKind::InvalidRequest(
            R::MultipleAuthorizationHeaders
            | R::MalformedAuthorization
            | R::MultipleTokens
            | R::EncodedToken,
        )
        | DenialKind::MissingToken => Step::Credential,
        DenialKind::NoMatchingRule => Step::Rule,
        DenialKind::KeysUnavailable | DenialKind::IntrospectionUnavailable(_) => Step::Provider,
        DenialKind::InsufficientScope { .. } => Step::Scopes,
        DenialKind::InvalidDpopProof(_)
        | DenialKind::ReplayCacheUnavailable
        | DenialKind::ReplayStoreFull { .. }
        | DenialKind::UseDpopNonce { .. }
        | DenialKind::ClientAttestation(_) => Step::Binding,
        DenialKind::InsufficientUserAuthentication { .. } => Step::StepUp,
        DenialKind::InvalidToken(e) => match e {
            T::TooLarge => Step::TokenSize,
            T::Malformed
            | T::BadEncoding
            | T::BadHeader
            | T::CriticalHeader
            | T::BadPayload
            | T::InvalidDate => Step::TokenFormat,
            T::UnknownIssuer | T::ProviderNotAllowed => Step::Provider,
            T::WrongType => Step::TokenType,
            T::AlgorithmNotAllowed | T::UnknownKeyId | T::AmbiguousKey => Step::Key,
            T::BadSignature => Step::Signature,
            T::WrongIssuer
            | T::WrongAudience
            | T::MissingExp
            | T::Expired
            | T::NotYetValid
            | T::MissingIssuedAt
            | T::IssuedInFuture
            | T::LifetimeTooLong
            | T::BadScopeClaim
            | T::ClaimMismatch
            | T::BadConfirmation
            | T::Inactive => Step::Claims,
            T::DpopBoundAsBearer
            | T::DpopRequired
            | T::NotDpopBound
            | T::NoClientCertificate
            | T::CertificateMismatch
            | T::NotCertificateBound
            | T::SourceNotAllowed => Step::Binding,
        },
    }
}

/// How a request that was allowed got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passage {
    /// A CORS preflight (no rule looked at).
    Preflight,
    /// An `anonymous` rule (no token looked at).
    Anonymous,
    /// An `allow_missing` rule and no token.
    NoTokenAllowed,
    /// A token passed every check.
    Token,
}

/// Every step in order with its result: the steps before the deciding one passed, the
/// deciding one failed (`Some(step)`), the rest did not run. For an allowed request
/// (`decided_at: None`), `passage` says where it stopped needing checks.
pub fn steps(
    cors_preflight: bool,
    decided_at: Option<Step>,
    passage: Passage,
) -> Vec<(Step, StepResult)> {
    let last = match (decided_at, passage) {
        (Some(step), _) => step,
        (None, Passage::Preflight) => Step::CorsPreflight,
        (None, Passage::Anonymous) => Step::Rule,
        (None, Passage::NoTokenAllowed) => Step::Credential,
        (None, Passage::Token) => Step::Scopes,
    };
    let mut reached = true;
    STEPS
        .iter()
        .map(|&step| {
            let skipped = !reached || (step == Step::CorsPreflight && !cors_preflight);
            let result = if skipped {
                StepResult::NotRun
            } else if step == last && decided_at.is_some() {
                StepResult::Failed
            } else {
                StepResult::Passed
            };
            if step == last {
                reached = false;
            }
            (step, result)
        })
        .collect()
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::request::RequestError;
    use crate::token::TokenError;

    fn results(v: &[(Step, StepResult)]) -> Vec<(&'static str, StepResult)> {
        v.iter().map(|(s, r)| (s.name(), *r)).collect()
    }

    #[test]
    fn a_denial_fails_its_step_after_passing_the_earlier_ones() {
        let d = Denial::new(DenialKind::InvalidToken(TokenError::Expired));
        assert_eq!(failed_step(&d), Step::Claims);
        let got = steps(false, Some(failed_step(&d)), Passage::Token);
        use StepResult::*;
        assert_eq!(
            results(&got),
            vec![
                ("request", Passed),
                ("cors_preflight", NotRun),
                ("rule", Passed),
                ("credential", Passed),
                ("token_size", Passed),
                ("token_format", Passed),
                ("provider", Passed),
                ("token_type", Passed),
                ("key", Passed),
                ("signature", Passed),
                ("claims", Failed),
                ("binding", NotRun),
                ("step_up", NotRun),
                ("scopes", NotRun),
            ]
        );
    }

    #[test]
    fn allowed_requests_stop_where_no_more_checks_are_needed() {
        use StepResult::*;
        let passed = |v: Vec<(Step, StepResult)>| -> Vec<&'static str> {
            v.iter()
                .filter(|(_, r)| *r == Passed)
                .map(|(s, _)| s.name())
                .collect()
        };
        assert_eq!(
            passed(steps(true, None, Passage::Preflight)),
            ["request", "cors_preflight"]
        );
        assert_eq!(
            passed(steps(false, None, Passage::Anonymous)),
            ["request", "rule"]
        );
        assert_eq!(
            passed(steps(false, None, Passage::NoTokenAllowed)),
            ["request", "rule", "credential"]
        );
        assert_eq!(passed(steps(false, None, Passage::Token)).len(), 13);
    }

    #[test]
    fn nonce_and_step_up_denials_have_their_steps() {
        let step = |k: DenialKind| failed_step(&Denial::new(k));
        assert_eq!(
            step(DenialKind::UseDpopNonce {
                reason: crate::dpop_nonce::NonceRefusal::Missing,
                nonce: String::new(),
            }),
            Step::Binding
        );
        assert_eq!(
            step(DenialKind::InsufficientUserAuthentication {
                reason: crate::step_up::StepUpError::MissingAcr,
                acr_values: vec!["mfa".into()],
                max_age: None,
            }),
            Step::StepUp
        );
    }

    #[test]
    fn each_kind_of_denial_has_its_step() {
        let step = |k: DenialKind| failed_step(&Denial::new(k));
        assert_eq!(
            step(DenialKind::InvalidRequest(RequestError::MethodOverride)),
            Step::Request
        );
        assert_eq!(
            step(DenialKind::InvalidRequest(RequestError::MultipleTokens)),
            Step::Credential
        );
        assert_eq!(step(DenialKind::NoMatchingRule), Step::Rule);
        assert_eq!(step(DenialKind::MissingToken), Step::Credential);
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::TooLarge)),
            Step::TokenSize
        );
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::BadHeader)),
            Step::TokenFormat
        );
        assert_eq!(step(DenialKind::KeysUnavailable), Step::Provider);
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::WrongType)),
            Step::TokenType
        );
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::UnknownKeyId)),
            Step::Key
        );
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::BadSignature)),
            Step::Signature
        );
        assert_eq!(
            step(DenialKind::InvalidToken(TokenError::DpopRequired)),
            Step::Binding
        );
        assert_eq!(step(DenialKind::ReplayCacheUnavailable), Step::Binding);
        assert_eq!(
            step(DenialKind::InsufficientScope {
                required: vec!["a".into()]
            }),
            Step::Scopes
        );
    }
}
