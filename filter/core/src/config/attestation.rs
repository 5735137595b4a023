//! Client attestation configuration (OAuth 2.0 Attestation-Based Client Authentication):
//! the top-level `client_attestation` (trusted attesters, ages, challenges) and a rule's
//! `client_attestation` (audience, gated grant types, proof methods, body bound). The raw
//! shapes, the checked model and every rule about these fields live here, next to the field
//! paths they report; `raw.rs`, `model.rs` and `check.rs` only call in.

use serde::Deserialize;
use serde_json::Value;

use super::{ConfigError, EnvLookup, RawSecret};
use crate::jwks::{Algorithm, JwksError, KeySet};
use crate::nonce::NonceKey;

/// Default `client_attestation.max_age_seconds`: how old an attestation's `iat` may be.
pub const DEFAULT_ATTESTATION_MAX_AGE_SECONDS: u64 = 86_400;
/// Default `client_attestation.pop_max_age_seconds`: how old a proof's `iat` may be.
pub const DEFAULT_ATTESTATION_POP_MAX_AGE_SECONDS: u64 = 300;
/// Default `client_attestation.clock_skew_seconds`.
pub const DEFAULT_ATTESTATION_CLOCK_SKEW_SECONDS: u64 = 30;
/// Default `client_attestation.challenges.lifetime_seconds`.
pub const DEFAULT_CHALLENGE_LIFETIME_SECONDS: u64 = 300;
/// Default rule `client_attestation.max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16_384;
/// Allowed range of rule `client_attestation.max_body_bytes`.
pub const MAX_BODY_BYTES_RANGE: (usize, usize) = (256, 1_048_576);
/// The nonce purpose of attestation challenges (see [`crate::nonce`]).
pub const CHALLENGE_PURPOSE: &str = "attestation-challenge";

/// Top-level `client_attestation` as written.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ClientAttestation")
)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClientAttestation {
    attesters: Vec<RawAttester>,
    #[serde(default = "default_max_age")]
    max_age_seconds: u64,
    #[serde(default = "default_pop_max_age")]
    pop_max_age_seconds: u64,
    #[serde(default = "default_skew")]
    clock_skew_seconds: u64,
    #[serde(default)]
    challenges: Option<RawChallenges>,
}

/// One trusted client attester as written.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Attester")
)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttester {
    name: String,
    #[serde(default)]
    issuer: Option<String>,
    jwks: super::raw::RawJwks,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
}

/// `client_attestation.challenges` as written.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "AttestationChallenges")
)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChallenges {
    secret: RawSecret,
    endpoint: String,
    #[serde(default = "default_lifetime")]
    lifetime_seconds: u64,
}

/// A rule's `client_attestation` as written.
#[derive(Deserialize)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "RuleAttestation")
)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuleAttestation {
    audience: String,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    pop_methods: Option<Vec<String>>,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
    #[serde(default)]
    forward_attestation: bool,
    #[serde(default)]
    origins: Option<Vec<String>>,
}

fn default_max_age() -> u64 {
    DEFAULT_ATTESTATION_MAX_AGE_SECONDS
}
fn default_pop_max_age() -> u64 {
    DEFAULT_ATTESTATION_POP_MAX_AGE_SECONDS
}
fn default_skew() -> u64 {
    DEFAULT_ATTESTATION_CLOCK_SKEW_SECONDS
}
fn default_lifetime() -> u64 {
    DEFAULT_CHALLENGE_LIFETIME_SECONDS
}
fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

/// The checked top-level `client_attestation`.
#[derive(Debug, Clone)]
pub struct ClientAttestation {
    /// Trusted attesters in config order; an attestation signed by anything else is refused.
    pub attesters: Vec<Attester>,
    /// An attestation whose `iat` is older than this is refused (`use_fresh_attestation`).
    pub max_age_seconds: u64,
    /// The window of a proof's `iat` (attestation PoP or combined-mode DPoP proof).
    pub pop_max_age_seconds: u64,
    /// Tolerated clock difference for `exp` and `iat` of attestations and proofs.
    pub clock_skew_seconds: u64,
    /// Server challenges: when present, every proof must carry a current one.
    pub challenges: Option<Challenges>,
}

/// One trusted client attester (the vendor-run backend that signs attestations).
#[derive(Debug, Clone)]
pub struct Attester {
    /// Name for logs (`[A-Za-z0-9_-]+`).
    pub name: String,
    /// When set, an attestation's `iss` must equal it.
    pub issuer: Option<String>,
    /// Asymmetric algorithms accepted for its attestations.
    pub algorithms: Vec<Algorithm>,
    /// Its signing keys (`jwks.inline`).
    pub keys: KeySet,
}

/// Stateless server challenges (see [`crate::nonce`]).
#[derive(Debug, Clone)]
pub struct Challenges {
    /// Issues and checks the values (purpose [`CHALLENGE_PURPOSE`]).
    pub key: NonceKey,
    /// The path of the challenge endpoint the filter answers itself (`POST`).
    pub endpoint: String,
}

/// How the proof of possession of the attested key may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PopMethods {
    /// `attestation_pop_jwt`: an `OAuth-Client-Attestation-PoP` header.
    pub pop_jwt: bool,
    /// `dpop_combined`: the request's DPoP proof, made with the attested key.
    pub dpop_combined: bool,
}

/// The checked rule-level `client_attestation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAttestation {
    /// A PoP's `aud` must equal it (the authorization server's issuer at the token
    /// endpoint, the resource identifier at an API).
    pub audience: String,
    /// `Some`: a token-endpoint gate (the form body is read and only these grant types
    /// need an attestation). `None`: every request on the route needs one.
    pub grant_types: Option<Vec<String>>,
    /// The accepted proof methods.
    pub pop_methods: PopMethods,
    /// Token-request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// `false` (default): the `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP`
    /// headers are removed before the request goes on (an authorization server that does not
    /// know attestation refuses a token request carrying them, and an API has no use for
    /// them). `true`: they go on, for an authorization server that checks them itself. On a
    /// token-endpoint gate they are removed from every request of the route, as its headers
    /// go on before the body is read.
    pub forward_attestation: bool,
    /// A token-endpoint gate's combined-mode proofs: the origins their `htu` may name
    /// (normalised); empty: the request's own `:scheme` and `:authority`, which the client
    /// chooses, so configure it. (At an API the provider's `dpop.origins` apply.)
    pub origins: Vec<String>,
}

impl RuleAttestation {
    /// True for a token-endpoint gate (the request body decides).
    pub fn is_gate(&self) -> bool {
        self.grant_types.is_some()
    }
}

/// Check the top-level `client_attestation`.
pub(crate) fn check(
    raw: RawClientAttestation,
    env: EnvLookup,
) -> Result<ClientAttestation, ConfigError> {
    const AT: &str = "client_attestation";
    if raw.attesters.is_empty() {
        return Err(ConfigError::new(
            format!("{AT}.attesters"),
            "at least one attester is required",
        ));
    }
    let mut attesters: Vec<Attester> = Vec::with_capacity(raw.attesters.len());
    for (i, a) in raw.attesters.into_iter().enumerate() {
        let at = |f: &str| format!("{AT}.attesters[{i}].{f}");
        super::check::check_name(&at("name"), &a.name)?;
        if attesters.iter().any(|o| o.name == a.name) {
            return Err(ConfigError::new(
                at("name"),
                format!("duplicate attester name \"{}\"", a.name),
            ));
        }
        if a.issuer.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::new(
                at("issuer"),
                "must not be empty (or be left out)",
            ));
        }
        let keys = match a.jwks {
            super::raw::RawJwks::Inline(value) => inline_keys(&at("jwks.inline"), &value)?,
            super::raw::RawJwks::Remote(_) | super::raw::RawJwks::Discovery(_) => {
                return Err(ConfigError::new(
                    at("jwks"),
                    "an attester's keys are given inline ({\"inline\": {\"keys\": [...]}}); remote and discovery key sets are not supported for attesters yet",
                ))
            }
        };
        let algorithms = match a.algorithms {
            None => keys.algorithms(),
            Some(list) if list.is_empty() => {
                return Err(ConfigError::new(
                    at("algorithms"),
                    "must list at least one algorithm (or be left out)",
                ))
            }
            Some(list) => {
                let mut algs = Vec::with_capacity(list.len());
                for (j, name) in list.iter().enumerate() {
                    let field = format!("{AT}.attesters[{i}].algorithms[{j}]");
                    let alg = Algorithm::from_name(name).ok_or_else(|| {
                        ConfigError::new(
                            field.clone(),
                            format!("unsupported algorithm \"{name}\" (asymmetric algorithms only: ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512)"),
                        )
                    })?;
                    if keys.keys_for(alg).next().is_none() {
                        return Err(ConfigError::new(
                            field,
                            format!("no key in jwks.inline can be used with {name}"),
                        ));
                    }
                    if !algs.contains(&alg) {
                        algs.push(alg);
                    }
                }
                algs
            }
        };
        if algorithms.is_empty() {
            return Err(ConfigError::new(
                at("jwks.inline"),
                "holds no key usable for signatures",
            ));
        }
        attesters.push(Attester {
            name: a.name,
            issuer: a.issuer,
            algorithms,
            keys,
        });
    }
    if raw.max_age_seconds == 0 || raw.max_age_seconds > 31_536_000 {
        return Err(ConfigError::new(
            format!("{AT}.max_age_seconds"),
            "must be between 1 and 31536000",
        ));
    }
    if raw.pop_max_age_seconds == 0 || raw.pop_max_age_seconds > 3600 {
        return Err(ConfigError::new(
            format!("{AT}.pop_max_age_seconds"),
            "must be between 1 and 3600",
        ));
    }
    if raw.clock_skew_seconds > super::MAX_CLOCK_SKEW_SECONDS {
        return Err(ConfigError::new(
            format!("{AT}.clock_skew_seconds"),
            format!("must be at most {}", super::MAX_CLOCK_SKEW_SECONDS),
        ));
    }
    let challenges = match raw.challenges {
        None => None,
        Some(c) => {
            let at = |f: &str| format!("{AT}.challenges.{f}");
            if !(10..=86_400).contains(&c.lifetime_seconds) {
                return Err(ConfigError::new(
                    at("lifetime_seconds"),
                    "must be between 10 and 86400",
                ));
            }
            let canonical = crate::path::canonical_rule_path(&c.endpoint).is_ok()
                && c.endpoint.len() > 1
                && !c.endpoint.ends_with('/');
            if !canonical {
                return Err(ConfigError::new(
                    at("endpoint"),
                    "must be a path in canonical form, without query, fragment or trailing slash (e.g. \"/attestation/challenge\")",
                ));
            }
            let secret = super::secret_key(&at("secret"), &c.secret, env)?;
            Some(Challenges {
                key: NonceKey::new(&secret, CHALLENGE_PURPOSE, c.lifetime_seconds),
                endpoint: c.endpoint,
            })
        }
    };
    Ok(ClientAttestation {
        attesters,
        max_age_seconds: raw.max_age_seconds,
        pop_max_age_seconds: raw.pop_max_age_seconds,
        clock_skew_seconds: raw.clock_skew_seconds,
        challenges,
    })
}

fn inline_keys(field: &str, value: &Value) -> Result<KeySet, ConfigError> {
    KeySet::from_value_strict(value).map_err(|e| match e {
        JwksError::Key { index, reason } => {
            ConfigError::new(format!("{field}.keys[{index}]"), reason.to_string())
        }
        other => ConfigError::new(field, other.to_string()),
    })
}

/// Check a rule's `client_attestation`. `at` is the rule's path (`rules[3]`); `anonymous`
/// whether the rule is `anonymous: true`; `top` whether the top-level `client_attestation`
/// is configured.
pub(crate) fn check_rule(
    rule_at: &str,
    raw: RawRuleAttestation,
    anonymous: bool,
    top: bool,
) -> Result<RuleAttestation, ConfigError> {
    let at = |f: &str| format!("{rule_at}.client_attestation.{f}");
    if !top {
        return Err(ConfigError::new(
            format!("{rule_at}.client_attestation"),
            "needs the top-level client_attestation (the trusted attesters)",
        ));
    }
    if raw.audience.is_empty() || raw.audience.chars().any(char::is_control) {
        return Err(ConfigError::new(
            at("audience"),
            "must be non-empty, without control characters",
        ));
    }
    let grant_types = match raw.grant_types {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                at("grant_types"),
                "must list at least one grant type (or be left out)",
            ))
        }
        Some(list) => {
            if !anonymous {
                return Err(ConfigError::new(
                    at("grant_types"),
                    "a token-endpoint gate goes on an anonymous rule (\"anonymous\": true): token requests carry no access token",
                ));
            }
            for (j, g) in list.iter().enumerate() {
                let ok = !g.is_empty()
                    && g.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
                if !ok {
                    return Err(ConfigError::new(
                        format!("{}[{j}]", at("grant_types")),
                        "must be a grant type name, e.g. \"refresh_token\"",
                    ));
                }
                if list.get(..j).is_some_and(|before| before.contains(g)) {
                    return Err(ConfigError::new(
                        format!("{}[{j}]", at("grant_types")),
                        "this grant type is listed twice",
                    ));
                }
            }
            Some(list)
        }
    };
    let pop_methods = match raw.pop_methods {
        None => PopMethods {
            pop_jwt: true,
            dpop_combined: true,
        },
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                at("pop_methods"),
                "must list at least one method (or be left out)",
            ))
        }
        Some(list) => {
            let mut m = PopMethods {
                pop_jwt: false,
                dpop_combined: false,
            };
            for (j, name) in list.iter().enumerate() {
                let slot = match name.as_str() {
                    "attestation_pop_jwt" => &mut m.pop_jwt,
                    "dpop_combined" => &mut m.dpop_combined,
                    _ => {
                        return Err(ConfigError::new(
                            format!("{}[{j}]", at("pop_methods")),
                            format!(
                            "unknown method \"{name}\" (known: attestation_pop_jwt, dpop_combined)"
                        ),
                        ))
                    }
                };
                if *slot {
                    return Err(ConfigError::new(
                        format!("{}[{j}]", at("pop_methods")),
                        "this method is listed twice",
                    ));
                }
                *slot = true;
            }
            m
        }
    };
    let (lo, hi) = MAX_BODY_BYTES_RANGE;
    if !(lo..=hi).contains(&raw.max_body_bytes) {
        return Err(ConfigError::new(
            at("max_body_bytes"),
            format!("must be between {lo} and {hi}"),
        ));
    }
    if raw.origins.is_some() && grant_types.is_none() {
        return Err(ConfigError::new(
            at("origins"),
            "only for a token-endpoint gate (with grant_types): at an API the provider's dpop.origins apply",
        ));
    }
    let origins = super::check::check_origins(&at("origins"), raw.origins)?;
    Ok(RuleAttestation {
        audience: raw.audience,
        grant_types,
        pop_methods,
        max_body_bytes: raw.max_body_bytes,
        forward_attestation: raw.forward_attestation,
        origins,
    })
}
