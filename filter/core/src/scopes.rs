//! Scopes, all in one place: what a configured scope may look like, how a token's scopes
//! are read (`scope`, RFC 9068, and `scp`, as Entra and Okta send), and how a route's
//! required scopes are matched — whole scope tokens only, so `admin` never matches
//! `superadmin` and `orders` never matches `orders:write`.

use serde_json::{Map, Value};

use crate::token::TokenError;

/// A configured scope: non-empty, without spaces, quotes, backslashes or control characters
/// (it is written into `WWW-Authenticate: … scope="…"`).
pub fn is_valid_config_scope(s: &str) -> bool {
    !s.is_empty()
        && !s
            .bytes()
            .any(|b| b <= b' ' || b == b'"' || b == b'\\' || b == 0x7f)
}

/// The token's scopes from `scope` (space-delimited string) and `scp` (array of strings or
/// space-delimited string), de-duplicated, in token order. Any other type →
/// [`TokenError::BadScopeClaim`].
pub fn of_claims(c: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    match c.get("scope") {
        None => {}
        Some(Value::String(s)) => s.split_ascii_whitespace().for_each(&mut add),
        Some(_) => return Err(TokenError::BadScopeClaim),
    }
    match c.get("scp") {
        None => {}
        Some(Value::String(s)) => s.split_ascii_whitespace().for_each(&mut add),
        Some(Value::Array(a)) => {
            for v in a {
                let s = v.as_str().ok_or(TokenError::BadScopeClaim)?;
                if s.is_empty() || s.contains(|ch: char| ch.is_ascii_whitespace()) {
                    return Err(TokenError::BadScopeClaim);
                }
                add(s);
            }
        }
        Some(_) => return Err(TokenError::BadScopeClaim),
    }
    Ok(out)
}

/// Every `required` scope is one of `granted`, compared exactly.
pub fn has_all(granted: &[String], required: &[String]) -> bool {
    required.iter().all(|r| granted.iter().any(|s| s == r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_scope_tokens_only() {
        let granted = vec!["superadmin".to_owned(), "orders:write".to_owned()];
        assert!(!has_all(&granted, &["admin".to_owned()]));
        assert!(!has_all(&granted, &["orders".to_owned()]));
        assert!(has_all(&granted, &["orders:write".to_owned()]));
        assert!(has_all(&granted, &[]));
    }

    #[test]
    fn config_scopes() {
        for ok in ["orders:read", "a", "https://api.example.com/x"] {
            assert!(is_valid_config_scope(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "a\tb", "\u{7f}"] {
            assert!(!is_valid_config_scope(bad), "{bad:?}");
        }
    }
}
