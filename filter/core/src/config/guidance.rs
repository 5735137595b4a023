//! The fields with which the API tells clients how to succeed: `dpop_nonce` (DPoP server
//! nonces), `resource_metadata` (RFC 9728) and a rule's `acr_values` / `max_age_seconds`
//! (step-up, RFC 9470). Every rule about them lives here, next to the field path it reports.

use serde_json::Map;

use super::model::{Access, Provider, Rule, StepUp};
use super::raw::{RawDpopNonce, RawResourceMetadata, DPOP_NONCE_LIFETIME_RANGE};
use super::{ConfigError, EnvLookup};
use crate::metadata::{self, ResourceMetadata, Settings, COMPUTED_MEMBERS};
use crate::nonce::NonceKey;

/// `dpop_nonce`: the secret (a MAC key, inline or from the VM's environment) and the lifetime.
pub(super) fn dpop_nonce(
    raw: Option<RawDpopNonce>,
    env: EnvLookup,
) -> Result<Option<NonceKey>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let secret = super::secret_key("dpop_nonce.secret", &raw.secret, env)?;
    let (lo, hi) = DPOP_NONCE_LIFETIME_RANGE;
    if !(lo..=hi).contains(&raw.lifetime_seconds) {
        return Err(ConfigError::new(
            "dpop_nonce.lifetime_seconds",
            format!(
                "must be between {lo} and {hi}: a nonce must outlive the client's round trip (a one-second nonce issued late in its second is stale before the retry arrives)"
            ),
        ));
    }
    Ok(Some(NonceKey::new(
        &secret,
        crate::dpop_nonce::PURPOSE,
        raw.lifetime_seconds,
    )))
}

/// A rule's `acr_values` and `max_age_seconds`.
pub(super) fn step_up(
    i: usize,
    access: Access,
    acr_values: Option<Vec<String>>,
    max_age_seconds: Option<u64>,
) -> Result<StepUp, ConfigError> {
    let at = |f: &str| format!("rules[{i}].{f}");
    let mut values: Vec<String> = Vec::new();
    if let Some(list) = acr_values {
        if list.is_empty() {
            return Err(ConfigError::new(
                at("acr_values"),
                "must list at least one value (or be left out)",
            ));
        }
        for (j, v) in list.into_iter().enumerate() {
            // The values go into a quoted, space-separated `acr_values="…"` of the challenge.
            if v.is_empty()
                || v.bytes()
                    .any(|b| b <= b' ' || b == b'"' || b == b'\\' || b == 0x7f)
            {
                return Err(ConfigError::new(
                    format!("rules[{i}].acr_values[{j}]"),
                    "must be non-empty, without spaces, quotes, backslashes or control characters",
                ));
            }
            if values.contains(&v) {
                return Err(ConfigError::new(
                    format!("rules[{i}].acr_values[{j}]"),
                    format!("\"{v}\" is listed twice"),
                ));
            }
            values.push(v);
        }
    }
    if let Some(age) = max_age_seconds {
        if age > 31_536_000 {
            return Err(ConfigError::new(
                at("max_age_seconds"),
                "must be at most 31536000 (a year)",
            ));
        }
    }
    let step_up = StepUp {
        acr_values: values,
        max_age_seconds,
    };
    if step_up.is_required() && access != Access::Token {
        let field = if step_up.acr_values.is_empty() {
            at("max_age_seconds")
        } else {
            at("acr_values")
        };
        return Err(ConfigError::new(
            field,
            "step-up needs a token: the rule must not be anonymous or allow_missing",
        ));
    }
    Ok(step_up)
}

/// `resource_metadata`, and the document it publishes (built from the checked providers and
/// rules).
pub(super) fn resource_metadata(
    raw: Option<RawResourceMetadata>,
    providers: &[Provider],
    rules: &[Rule],
) -> Result<Option<ResourceMetadata>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let (origin, path) = resource(&raw.resource)?;
    let authorization_servers = match raw.authorization_servers {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                "resource_metadata.authorization_servers",
                "must list at least one issuer (or be left out: the providers' issuers)",
            ))
        }
        Some(list) => {
            for (j, s) in list.iter().enumerate() {
                if s.is_empty() || list.iter().take(j).any(|o| o == s) {
                    return Err(ConfigError::new(
                        format!("resource_metadata.authorization_servers[{j}]"),
                        "must be a non-empty issuer identifier, listed once",
                    ));
                }
            }
            Some(list)
        }
    };
    if let Some(list) = &raw.scopes_supported {
        for (j, s) in list.iter().enumerate() {
            if !crate::scopes::is_valid_config_scope(s) || list.iter().take(j).any(|o| o == s) {
                return Err(ConfigError::new(
                    format!("resource_metadata.scopes_supported[{j}]"),
                    "a scope must be non-empty, without spaces, quotes or backslashes, listed once",
                ));
            }
        }
    }
    let mut additional = Map::new();
    for (name, value) in raw.additional_members {
        let field = format!("resource_metadata.additional_members.{name}");
        if name.is_empty() {
            return Err(ConfigError::new(field, "a member name must not be empty"));
        }
        if COMPUTED_MEMBERS.contains(&name.as_str()) {
            return Err(ConfigError::new(
                field,
                format!("\"{name}\" is computed from the configuration (write it as its own field, if it has one)"),
            ));
        }
        additional.insert(name, value);
    }
    Ok(Some(metadata::build(
        Settings {
            resource: &raw.resource,
            origin: &origin,
            path: &path,
            authorization_servers,
            scopes_supported: raw.scopes_supported,
            additional_members: additional,
        },
        providers,
        rules,
    )))
}

/// `resource_metadata.resource`: an `https` URL without query, fragment or user (RFC 9728 §2;
/// `http` only for a loopback host, for local development). Returns the normalised origin and
/// the path without a trailing `/`.
fn resource(value: &str) -> Result<(String, String), ConfigError> {
    let field = "resource_metadata.resource";
    let bad = |why: &str| ConfigError::new(field, why.to_owned());
    if value.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(bad("must be a URL without spaces or control characters"));
    }
    if value.contains(['?', '#']) {
        return Err(bad("must be a URL without query or fragment (RFC 9728 §2)"));
    }
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| bad("must be an absolute https URL"))?;
    let split = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.contains('@') {
        return Err(bad("must not carry a user name or password"));
    }
    let origin = crate::dpop::normal_origin(&format!("{scheme}://{authority}"))
        .ok_or_else(|| bad("must be an absolute https URL with a valid host and port"))?;
    if let Some(host_port) = origin.strip_prefix("http://") {
        let host = if host_port.starts_with('[') {
            host_port.split(']').next().map(|h| format!("{h}]"))
        } else {
            host_port.split(':').next().map(str::to_owned)
        }
        .unwrap_or_default();
        let loopback = host == "localhost"
            || host == "[::1]"
            || (host.starts_with("127.") && host.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        if !loopback {
            return Err(bad(
                "must be an https URL (http only for localhost, 127.0.0.0/8 or [::1])",
            ));
        }
    }
    Ok((origin, path.trim_end_matches('/').to_owned()))
}
