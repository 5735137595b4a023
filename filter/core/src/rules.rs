//! Route rules: the first rule whose path and method match decides.

use crate::config::{PathMatch, Rule};
use crate::path;

/// Index of the first rule matching `method` and the canonical `path` (see
/// [`crate::path`]; query string already removed). Paths compare ASCII-case-insensitively;
/// a rule listing `GET` also matches `HEAD`.
pub(crate) fn first_match(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
    rules.iter().position(|r| {
        let path_ok = match &r.path {
            PathMatch::Prefix(p) => path::prefix_matches(path, p),
            PathMatch::Exact(p) => path::exact_matches(path, p),
            PathMatch::StringPrefix(p) => path::string_prefix_matches(path, p),
        };
        path_ok
            && r.methods
                .as_ref()
                .is_none_or(|ms| method_listed(ms, method))
    })
}

/// `method` is one of `methods`; `HEAD` counts as `GET`, since frameworks (Flask, Django,
/// Express, Spring, Go's `ServeMux`) run the `GET` handler for it.
fn method_listed(methods: &[String], method: &str) -> bool {
    methods
        .iter()
        .any(|m| m == method || (method == "HEAD" && m == "GET"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: PathMatch, methods: Option<&[&str]>) -> Rule {
        Rule {
            path,
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            anonymous: false,
            scopes: vec![],
            providers: None,
            binding: None,
        }
    }

    #[test]
    fn first_match_wins_and_methods_filter() {
        let rules = vec![
            rule(PathMatch::Prefix("/orders".into()), Some(&["GET"])),
            rule(PathMatch::Prefix("/orders".into()), Some(&["POST"])),
            rule(PathMatch::Exact("/exact".into()), None),
            rule(PathMatch::Prefix("/".into()), None),
        ];
        assert_eq!(first_match(&rules, "GET", "/orders/1"), Some(0));
        assert_eq!(first_match(&rules, "HEAD", "/orders/1"), Some(0));
        assert_eq!(first_match(&rules, "POST", "/orders"), Some(1));
        assert_eq!(first_match(&rules, "DELETE", "/orders"), Some(3));
        assert_eq!(first_match(&rules, "GET", "/exact"), Some(2));
        assert_eq!(first_match(&rules, "GET", "/exact/"), Some(2));
        assert_eq!(first_match(&rules, "GET", "/EXACT"), Some(2));
        assert_eq!(first_match(&rules, "GET", "/exact/more"), Some(3));
        assert_eq!(first_match(&rules, "GET", "/orders-admin"), Some(3));
        assert_eq!(first_match(&rules, "GET", "/Orders/1"), Some(0));
        assert_eq!(first_match(&rules[..3], "GET", "/other"), None);
    }

    #[test]
    fn head_is_covered_only_by_get() {
        let rules = vec![
            rule(PathMatch::Prefix("/a".into()), Some(&["POST"])),
            rule(PathMatch::Prefix("/a".into()), Some(&["HEAD"])),
        ];
        assert_eq!(first_match(&rules, "HEAD", "/a"), Some(1));
        assert_eq!(first_match(&rules, "GET", "/a"), None);
    }

    #[test]
    fn string_prefix_is_a_plain_prefix() {
        let rules = vec![rule(PathMatch::StringPrefix("/orders".into()), None)];
        assert_eq!(first_match(&rules, "GET", "/orders-admin"), Some(0));
        assert_eq!(first_match(&rules, "GET", "/ORDERSx"), Some(0));
        assert_eq!(first_match(&rules, "GET", "/order"), None);
    }
}
