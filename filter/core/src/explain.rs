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
