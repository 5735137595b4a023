//! `page`: the redirect page's parameter handling and the link its Continue button opens.
//!
//! Input: `[app link] 0x00 [query] 0x00 [fragment]`; a leading `!` on the app link makes
//! it the logout page's, and an empty app link means the standard
//! `https://mobile.example.com/app/callback`.
//!
//! Checked: an accepted app link is `https://` (or `http://` to 127.0.0.1 / localhost)
//! with a lower-case host and no user info, query or fragment. Every link a screen offers
//! starts with the configured base, followed by nothing or by one `?`/`#` (where the
//! response was) and `&`-joined `name=value` pairs whose names are allow-listed, unique and
//! in forwarding order (only `state` on the logout page), whose values hold only unreserved
//! characters and upper-case escapes and decode to exactly the values `extract` read from
//! the response, with no control character; `error_uri` only when absolute `https`;
//! never `code` and `error` together. `extract` of its own re-encoding is the identity.

use tollgate_redirect_page::link::{percent_encode_into, AppLink};
use tollgate_redirect_page::params::{
    extract, form_decode, is_forwardable_error_uri, read_response, Param, Params,
};
use tollgate_redirect_page::screen::{decide, PageConfig, Screen};

use crate::split_parts;

const STANDARD_LINK: &str = "https://mobile.example.com/app/callback";

/// Run one input.
pub fn run(data: &[u8]) {
    let parts = split_parts(data, 0, 3);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (link, query, fragment) = (text(parts[0]), text(parts[1]), text(parts[2]));
    let (kind, link) = match link.strip_prefix('!') {
        Some(rest) => ("logout", rest.to_owned()),
        None => ("login", link),
    };
    let link = if link.is_empty() {
        STANDARD_LINK.to_owned()
    } else {
        link
    };

    for input in [&query, &fragment] {
        if let Ok(p) = extract(input) {
            let again =
                extract(&encode(&p)).unwrap_or_else(|e| panic!("re-encoded params refused: {e:?}"));
            assert_eq!(again, p, "extract is not idempotent on {input:?}");
        }
    }
    let config = match PageConfig::from_meta(Some(kind), Some(&link)) {
        Ok(c) => c,
        Err(_) => return,
    };
    check_app_link(&config.app_link);
    let screen = decide(&config, &query, &fragment);
    let Some(forwarded) = screen.link() else {
        return;
    };
    let base = config.app_link.as_str();
    let Some(rest) = forwarded.strip_prefix(base) else {
        panic!("forwarded link {forwarded:?} does not start with {base:?}")
    };
    let pairs = match rest.chars().next() {
        None => return,
        Some('?' | '#') => &rest[1..],
        Some(c) => panic!("forwarded link continues with {c:?} after the base"),
    };
    let (source_query, _) = match read_response(&query, &fragment) {
        Ok(Some((src, p))) => (src == tollgate_redirect_page::params::Source::Query, p),
        other => panic!("a link was forwarded for a response read as {other:?}"),
    };
    assert_eq!(
        rest.starts_with('?'),
        source_query,
        "parameters moved between query and fragment"
    );
    let received = if source_query {
        extract(&query)
    } else {
        extract(&fragment)
    };
    let Ok(received) = received else {
        panic!("forwarded a refused response")
    };
    let mut seen: Vec<Param> = Vec::new();
    for pair in pairs.split('&') {
        let (name, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("pair {pair:?} without ="));
        let Some(param) = Param::from_name(name) else {
            panic!("forwarded {name:?}, not allow-listed")
        };
        assert!(!seen.contains(&param), "{name} forwarded twice");
        assert!(
            seen.last().is_none_or(|last| *last < param),
            "parameters out of order"
        );
        seen.push(param);
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "value of {name} not encoded: {value:?}"
        );
        let value =
            form_decode(value).unwrap_or_else(|e| panic!("value of {name} does not decode: {e:?}"));
        assert_eq!(
            received.get(param),
            Some(value.as_str()),
            "value of {name} changed"
        );
        assert!(
            !value.chars().any(char::is_control),
            "control character in {name}"
        );
        if param == Param::ErrorUri {
            assert!(
                is_forwardable_error_uri(&value),
                "error_uri {value:?} forwarded"
            );
        }
    }
    if kind == "logout" {
        assert!(
            seen.iter().all(|p| *p == Param::State),
            "logout forwarded {seen:?}"
        );
    } else {
        assert!(
            !(seen.contains(&Param::Code) && seen.contains(&Param::Error)),
            "code and error forwarded"
        );
        match &screen {
            Screen::Continue { .. } => assert!(seen.contains(&Param::Code)),
            Screen::Error { .. } => assert!(seen.contains(&Param::Error)),
            other => panic!("login page forwarded from screen {other:?}"),
        }
    }
}

/// `name=value&…` of `p`, percent-encoded as the page encodes.
fn encode(p: &Params) -> String {
    let mut out = String::new();
    for (param, value) in p.iter() {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(param.name());
        out.push('=');
        percent_encode_into(value, &mut out);
    }
    out
}

fn check_app_link(l: &AppLink) {
    let url = l.as_str();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| {
            url.strip_prefix("http://").filter(|r| {
                ["127.0.0.1", "localhost"]
                    .iter()
                    .any(|h| r.strip_prefix(h).is_some_and(|a| a.starts_with([':', '/'])))
            })
        })
        .unwrap_or_else(|| panic!("app link {url:?} is neither https nor loopback http"));
    assert!(
        !url.contains(['?', '#', '@']),
        "app link {url:?} has a query, fragment or user info"
    );
    let authority = rest.split('/').next().unwrap_or("");
    assert_eq!(l.authority(), authority, "authority");
    let host = authority.split(':').next().unwrap_or("");
    assert!(!host.is_empty(), "empty host");
    assert!(
        host.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "host {host:?}"
    );
    assert!(l.path().starts_with('/'), "path {:?}", l.path());
}
