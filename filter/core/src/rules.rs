//! Route rules: the first rule whose path and method match decides.
//!
//! **Format suffixes.** Rails (`(.:format)` on every route), Django REST Framework's format
//! suffixes, Grape and Spring MVC with suffix matching route `/orders.json` to the `/orders`
//! handler. So a `prefix` or `path` rule also governs a request path whose last segment is
//! its own last segment followed by `.` and anything (`/orders.json`, `/orders.tar.gz`,
//! `/api/admin.json/`): each rule, in order, is tried on the path and on the path without
//! that suffix. Only the last segment: `/orders.json/x` is not under `/orders` (no framework
//! routes it there). A rule opts out with `"format_suffixes": false` in its `match`.

use std::borrow::Cow;

use crate::config::{PathMatch, Rule};
use crate::path;

/// Index of the first rule matching `method` and the canonical `path` (see
/// [`crate::path`]; query string already removed). Paths compare ASCII-case-insensitively;
/// a rule listing `GET` also matches `HEAD`; a rule matches the path without its format
/// suffix too (module docs) unless it opts out.
pub(crate) fn first_match(rules: &[Rule], method: &str, path: &str) -> Option<usize> {
    let stripped = without_format_suffix(path);
    rules.iter().position(|r| {
        let path_ok = path_matches(&r.path, path)
            || (r.format_suffixes
                && !matches!(r.path, PathMatch::StringPrefix(_))
                && stripped
                    .as_deref()
                    .is_some_and(|s| path_matches(&r.path, s)));
        path_ok
            && r.methods
                .as_ref()
                .is_none_or(|ms| method_listed(ms, method))
    })
}

fn path_matches(rule: &PathMatch, path: &str) -> bool {
    match rule {
        PathMatch::Prefix(p) => path::prefix_matches(path, p),
        PathMatch::Exact(p) => path::exact_matches(path, p),
        PathMatch::StringPrefix(p) => path::string_prefix_matches(path, p),
    }
}

/// `path` without the format suffix of its last segment (`/orders.json` → `/orders`,
/// `/orders.json/` → `/orders/`); `None` when the last segment has none (no dot, or only a
/// leading one such as `/.well-known`).
pub(crate) fn without_format_suffix(path: &str) -> Option<Cow<'_, str>> {
    let body = path.strip_suffix('/').unwrap_or(path);
    let slash = body.rfind('/')?;
    let segment = body.get(slash + 1..)?;
    let dot = segment.find('.').filter(|d| *d > 0)?;
    let kept = body.get(..slash + 1 + dot)?;
    Some(if body.len() < path.len() {
        Cow::Owned(format!("{kept}/"))
    } else {
        Cow::Borrowed(kept)
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
            access: crate::config::Access::Token,
            scopes: vec![],
            providers: None,
            binding: None,
            mode: None,
            format_suffixes: true,
            step_up: Default::default(),
            client_attestation: None,
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
    fn a_rule_governs_its_last_segment_with_a_format_suffix() {
        let mut no_suffix = rule(PathMatch::Prefix("/reports".into()), None);
        no_suffix.format_suffixes = false;
        let rules = vec![
            rule(PathMatch::Prefix("/health".into()), None),
            rule(PathMatch::Prefix("/orders".into()), Some(&["GET"])),
            rule(PathMatch::Prefix("/api/admin".into()), None),
            rule(PathMatch::Exact("/me".into()), None),
            no_suffix,
            rule(PathMatch::Prefix("/".into()), None),
        ];
        let cases = [
            ("/orders.json", Some(1)),
            ("/orders.tar.gz", Some(1)),
            ("/ORDERS.JSON", Some(1)),
            ("/orders.json/", Some(1)),
            ("/orders/1.json", Some(1)),
            ("/api/admin.json", Some(2)),
            ("/api/admin.xml/", Some(2)),
            ("/health.json", Some(0)),
            ("/me.json", Some(3)),
            // Harmless neighbours and the limits of the rule.
            ("/orders.json/x", Some(5)),
            ("/orders-json", Some(5)),
            ("/ordersjson", Some(5)),
            ("/api/admins.json", Some(5)),
            ("/api.json/admin", Some(5)),
            ("/.orders", Some(5)),
            ("/reports.json", Some(5)),
            ("/reports", Some(4)),
        ];
        for (path, want) in cases {
            assert_eq!(first_match(&rules, "GET", path), want, "{path}");
        }
        // The method still has to match.
        assert_eq!(first_match(&rules, "POST", "/orders.json"), Some(5));
    }

    #[test]
    fn the_format_suffix_is_only_the_last_segment() {
        assert_eq!(
            without_format_suffix("/orders.json").as_deref(),
            Some("/orders")
        );
        assert_eq!(without_format_suffix("/a/b.c.d").as_deref(), Some("/a/b"));
        assert_eq!(without_format_suffix("/a.b/").as_deref(), Some("/a/"));
        assert_eq!(without_format_suffix("/a.b/c"), None);
        assert_eq!(without_format_suffix("/.well-known"), None);
        assert_eq!(without_format_suffix("/"), None);
        assert_eq!(without_format_suffix(""), None);
    }

    #[test]
    fn string_prefix_is_a_plain_prefix() {
        let rules = vec![rule(PathMatch::StringPrefix("/orders".into()), None)];
        assert_eq!(first_match(&rules, "GET", "/orders-admin"), Some(0));
        assert_eq!(first_match(&rules, "GET", "/ORDERSx"), Some(0));
        assert_eq!(first_match(&rules, "GET", "/order"), None);
    }
}
