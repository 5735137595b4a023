//! Route rules: the first rule whose path and method match decides.

use crate::config::{PathMatch, Rule};

/// Index of the first rule matching `method` and `path` (query string already removed).
pub(crate) fn first_match(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
    rules.iter().position(|r| {
        let path_ok = match &r.path {
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::Exact(p) => path == p,
        };
        let method_ok = r
            .methods
            .as_ref()
            .is_none_or(|ms| ms.iter().any(|m| m == method));
        path_ok && method_ok
    })
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
        assert_eq!(first_match(&rules, "POST", "/orders"), Some(1));
        assert_eq!(first_match(&rules, "DELETE", "/orders"), Some(3));
        assert_eq!(
            first_match(&rules, "get", "/orders"),
            Some(3),
            "methods are case-sensitive"
        );
        assert_eq!(first_match(&rules, "GET", "/exact"), Some(2));
        assert_eq!(first_match(&rules, "GET", "/exact/more"), Some(3));
        assert_eq!(first_match(&rules[..3], "GET", "/other"), None);
    }
}
