//! Secrets in the configuration: written inline, or named by a variable of the VM's
//! environment so that the plugin configuration (often a ConfigMap or a CRD anyone with read
//! access sees) never holds them.
//!
//! ```json
//! "secret": "c2VjcmV0LXdpdGgtYXQtbGVhc3QtMzItYnl0ZXMtb2YtZW50cm9weQ"
//! "secret": { "env": "TOLLGATE_DPOP_NONCE_SECRET" }
//! ```
//!
//! Envoy fills a Wasm VM's environment from `vm_config.environment_variables`
//! (`key_values`, or `host_env_keys` to pass the Envoy process's own variables, which
//! Kubernetes can fill from a Secret); Istio's `WasmPlugin` does the same with
//! `vmConfig.env`. The core never reads the environment itself: whoever builds the
//! configuration passes a lookup ([`super::Config::from_json_with_env`]).
//!
//! A [`Secret`] never prints its value: its `Debug` is `Secret(..)`, so a configuration can be
//! logged or asserted on without leaking it.

use std::fmt;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde::Deserialize;

use super::ConfigError;

/// Looks up a variable of the VM's environment by name.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A secret as written in the configuration.
#[derive(Deserialize, Clone)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "Secret")
)]
#[serde(untagged)]
pub(crate) enum RawSecret {
    /// The value itself.
    Inline(String),
    /// The name of a variable of the VM's environment that holds the value.
    Env(RawEnvSecret),
}

#[derive(Deserialize, Clone)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "EnvSecret")
)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvSecret {
    pub(crate) env: String,
}

/// A secret value, resolved and non-empty. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A key for MACs: at least [`MIN_KEY_BYTES`] bytes, written base64url without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Vec<u8>);

/// The shortest MAC key a secret may hold, in bytes (256 bits, the strength of HMAC-SHA-256).
pub const MIN_KEY_BYTES: usize = 32;

impl SecretKey {
    #[cfg(test)]
    pub(crate) fn for_tests(seed: u8) -> SecretKey {
        SecretKey(vec![seed; MIN_KEY_BYTES])
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Resolve a secret. `field` is the path of the field it was written in; an error names it
/// (and `.env` when the variable is missing), never the value.
pub(crate) fn resolve(field: &str, raw: &RawSecret, env: EnvLookup) -> Result<Secret, ConfigError> {
    let value = match raw {
        RawSecret::Inline(v) => v.clone(),
        RawSecret::Env(RawEnvSecret { env: name }) => {
            if name.is_empty() {
                return Err(ConfigError::new(
                    format!("{field}.env"),
                    "must name an environment variable",
                ));
            }
            match env(name) {
                Some(v) => v,
                None => {
                    return Err(ConfigError::new(
                        format!("{field}.env"),
                        format!("the VM's environment has no variable {name:?}"),
                    ))
                }
            }
        }
    };
    if value.is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    Ok(Secret(value))
}

/// Resolve a secret that is a MAC key: base64url without padding, at least
/// [`MIN_KEY_BYTES`] bytes once decoded.
pub(crate) fn key(field: &str, raw: &RawSecret, env: EnvLookup) -> Result<SecretKey, ConfigError> {
    let secret = resolve(field, raw, env)?;
    let bytes = Base64UrlSafeNoPadding::decode_to_vec(secret.expose().trim_end_matches('='), None)
        .map_err(|_| ConfigError::new(field, "must be base64url"))?;
    if bytes.len() < MIN_KEY_BYTES {
        return Err(ConfigError::new(
            field,
            format!(
                "must hold at least {MIN_KEY_BYTES} bytes once decoded (it holds {}); generate one with `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`",
                bytes.len()
            ),
        ));
    }
    Ok(SecretKey(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn parse(json: &str) -> RawSecret {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn inline_and_env_values_resolve_and_never_print() {
        let s = resolve("x", &parse(r#""hunter2""#), &env).unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "Secret(..)");
        let k = key("x", &parse(r#"{"env":"KEY"}"#), &env).unwrap();
        assert_eq!(k.bytes(), (0u8..32).collect::<Vec<_>>());
        assert_eq!(format!("{k:?}"), "SecretKey(..)");
    }

    #[test]
    fn errors_name_the_field_and_never_the_value() {
        let e = |json: &str| resolve("a.secret", &parse(json), &env).unwrap_err();
        assert_eq!(
            e(r#""""#),
            ConfigError::new("a.secret", "must not be empty")
        );
        assert_eq!(
            e(r#"{"env":"NOPE"}"#),
            ConfigError::new(
                "a.secret.env",
                "the VM's environment has no variable \"NOPE\""
            )
        );
        assert_eq!(
            e(r#"{"env":"EMPTY"}"#),
            ConfigError::new("a.secret", "must not be empty")
        );
        assert_eq!(
            e(r#"{"env":""}"#),
            ConfigError::new("a.secret.env", "must name an environment variable")
        );
        let k = |json: &str| key("a.secret", &parse(json), &env).unwrap_err();
        assert_eq!(
            k(r#""not base64!""#),
            ConfigError::new("a.secret", "must be base64url")
        );
        let short = k(r#""c2hvcnQ""#);
        assert_eq!(short.field, "a.secret");
        assert!(short
            .message
            .starts_with("must hold at least 32 bytes once decoded (it holds 5)"));
        assert!(!short.message.contains("c2hvcnQ"));
    }

    #[test]
    fn unknown_members_of_the_env_form_are_refused() {
        assert!(serde_json::from_str::<RawSecret>(r#"{"env":"KEY","value":"x"}"#).is_err());
        assert!(serde_json::from_str::<RawSecret>(r#"{"file":"/x"}"#).is_err());
    }
}
