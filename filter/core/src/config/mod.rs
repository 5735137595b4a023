//! Plugin configuration: typed serde structs (`deny_unknown_fields`, explicit defaults),
//! parsed and fully checked once by [`Config::from_json`]. Any problem is a
//! [`ConfigError`] naming the exact field, e.g. `providers[0].issuer` or
//! `providers[1].jwks.inline.keys[2]`; the glue then refuses to start the plugin.
//!
//! ```json
//! {
//!   "realm": "tollgate",                 // WWW-Authenticate realm (default "tollgate")
//!   "max_token_bytes": 8192,             // bearer tokens longer than this are rejected
//!   "cors_preflight": false,             // true: OPTIONS + Origin + Access-Control-Request-Method pass
//!   "cache_size": 5000,                  // verified-token cache entries per VM, 0 disables
//!   "forward_token": true,               // false: Authorization removed once the token is accepted
//!   "providers": [{
//!     "name": "idsvr", "issuer": "https://login.example.com", "audiences": ["api.example.com"],
//!     "jwks": {"inline": {"keys": []}}   // or {"remote": {…}} or {"discovery": {…}}
//!     "algorithms": ["ES256"],           // default: those of the inline keys; all supported for remote
//!     "token_types": ["at+jwt", "application/at+jwt"], "allow_missing_typ": false,
//!     "max_lifetime_seconds": 900, "clock_skew_seconds": 30,
//!     "required_claims": {"azp": ["mobile-app"]}  // optional: claim must equal (contain) one value
//!   }],
//!   "rules": [{"match": {"prefix": "/orders", "methods": ["GET"]}, "scopes": ["orders:read"],
//!              "providers": ["idsvr"], "anonymous": false,
//!              "acr_values": ["urn:example:mfa"], "max_age_seconds": 300}],   // optional step-up
//!   "claims_to_headers": {"sub": "x-user-id"},
//!   "dpop_nonce": {"secret": {"env": "TOLLGATE_DPOP_NONCE_SECRET"}, "lifetime_seconds": 300},
//!   "resource_metadata": {"resource": "https://api.example.com"}   // RFC 9728 document
//! }
//! ```

//!
//! Three private parts: `raw` holds the serde shapes and defaults exactly as written in the
//! JSON, `check` turns them into the checked `model` (every rule about a field lives there,
//! next to the field path it reports), and `model` is what the rest of the core uses.

use std::fmt;

mod attestation;
mod check;
mod guidance;
mod model;
mod raw;
#[cfg(feature = "schema")]
mod schema;
mod secret;

#[cfg(feature = "schema")]
pub use schema::json_schema;

pub use attestation::{
    Attester, Challenges, ClientAttestation, PopMethods, RuleAttestation, CHALLENGE_PURPOSE,
    DEFAULT_ATTESTATION_CLOCK_SKEW_SECONDS, DEFAULT_ATTESTATION_MAX_AGE_SECONDS,
    DEFAULT_ATTESTATION_POP_MAX_AGE_SECONDS, DEFAULT_CHALLENGE_LIFETIME_SECONDS,
    DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_RANGE,
};
pub use model::*;
pub use raw::{
    DEFAULT_CACHE_SECONDS, DEFAULT_CACHE_SIZE, DEFAULT_CLOCK_SKEW_SECONDS,
    DEFAULT_MAX_LIFETIME_SECONDS, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_REALM,
    DEFAULT_REFETCH_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS, DEFAULT_TOKEN_TYPES, MAX_CACHE_SIZE,
    MAX_CLOCK_SKEW_SECONDS, MAX_TOKEN_BYTES_RANGE,
};
pub use raw::{
    DEFAULT_DPOP_ALGORITHMS, DEFAULT_DPOP_CLOCK_SKEW_SECONDS, DEFAULT_DPOP_MAX_AGE_SECONDS,
    DEFAULT_DPOP_NONCE_LIFETIME_SECONDS, DEFAULT_DPOP_REPLAY_CACHE_SIZE, DPOP_NONCE_LIFETIME_RANGE,
    DPOP_REPLAY_CACHE_SIZE_RANGE,
};
pub use raw::{
    DEFAULT_INTROSPECTION_CACHE_SECONDS, DEFAULT_INTROSPECTION_TIMEOUT_MS,
    DEFAULT_NEGATIVE_CACHE_SECONDS,
};
pub(crate) use secret::{key as secret_key, resolve as resolve_secret, RawSecret};
pub use secret::{EnvLookup, Secret, SecretKey, MIN_KEY_BYTES};

/// A configuration problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field, e.g. `providers[0].issuer`, `rules[3].match.methods[0]`.
    /// Empty when the document as a whole is wrong (not JSON).
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `"providers[0].issuer: must not be empty"`.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse and fully check the plugin configuration JSON, with an empty environment: a
    /// secret written as `{"env": NAME}` is refused (see [`Config::from_json_with_env`]).
    pub fn from_json(json: &[u8]) -> Result<Config, ConfigError> {
        Config::from_json_with_env(json, &|_| None)
    }

    /// Parse and fully check the plugin configuration JSON; secrets written as
    /// `{"env": NAME}` are looked up with `env` (the glue passes the VM's environment).
    pub fn from_json_with_env(json: &[u8], env: EnvLookup) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let raw: raw::RawConfig = serde_path_to_error::deserialize(&mut de).map_err(serde_error)?;
        de.end()
            .map_err(|_| ConfigError::new("", "trailing characters after the JSON document"))?;
        check::config(raw, env)
    }
}

/// A key from a fixed seed, for unit tests of what uses secrets.
#[cfg(test)]
pub(crate) fn test_secret_key(seed: u8) -> SecretKey {
    secret::SecretKey::for_tests(seed)
}

fn serde_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let mut field = e.path().to_string();
    if field == "." || field == "?" {
        field.clear();
    }
    let inner = e.into_inner();
    let mut message = inner.to_string();
    // serde_json appends " at line L column C"; the field path says more.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    // Name the unknown, missing or repeated field in the path itself; a member whose name
    // is empty is written `""`.
    let named = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))
        .or_else(|| message.strip_prefix("duplicate field `"));
    if let Some(rest) = named {
        if let Some(name) = rest.split('`').next() {
            let name = if name.is_empty() {
                "\"\"".to_owned()
            } else {
                name.to_owned()
            };
            if !field.ends_with(&name) {
                if field.is_empty() {
                    field = name;
                } else {
                    field = format!("{field}.{name}");
                }
            }
        }
    }
    ConfigError { field, message }
}
