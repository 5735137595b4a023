//! The configured app link and the URL the Continue button opens.
//!
//! The target comes only from deployment configuration (a `<meta>` tag the site
//! builder writes into the same-origin HTML), never from the request. It must be
//! a plain `https://host[:port]/path` URL: no user info, query or fragment, so the
//! forwarded parameters are the only ones the app receives.
//!
//! One exception, for local demos and tests only: `http://127.0.0.1[:port]/…` and
//! `http://localhost[:port]/…` (loopback, never reachable from another machine).
//! `tollgate-site check` refuses such links in a deployment config.

use crate::params::{Params, Source};

/// Longest accepted app-link base URL, in bytes.
pub const MAX_APP_LINK_BYTES: usize = 2048;

/// Why a configured app link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppLinkError {
    /// Not configured (missing or empty).
    Missing,
    /// Longer than [`MAX_APP_LINK_BYTES`].
    TooLong,
    /// Does not start with `https://` (lower case), and is not a plain-HTTP loopback
    /// link. Universal/App Links are HTTPS only; this also excludes `javascript:`,
    /// `data:` and custom schemes.
    NotHttps,
    /// No host after `https://`.
    MissingHost,
    /// The authority holds `user:pass@`.
    UserInfo,
    /// The host is not lower-case ASCII letters, digits, `-` and `.`, or the port is not numeric.
    InvalidHost,
    /// No path: write at least `/`.
    MissingPath,
    /// The path holds a character outside `A-Z a-z 0-9 - . _ ~ / %`.
    InvalidPath,
    /// A `?query`: the page would mix configured and forwarded parameters.
    HasQuery,
    /// A `#fragment`.
    HasFragment,
}

/// A validated app-link base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLink {
    url: String,
    scheme_len: usize,
    host_end: usize,
}

impl AppLink {
    /// Validates a configured app-link base URL.
    pub fn parse(url: &str) -> Result<AppLink, AppLinkError> {
        if url.is_empty() {
            return Err(AppLinkError::Missing);
        }
        if url.len() > MAX_APP_LINK_BYTES {
            return Err(AppLinkError::TooLong);
        }
        let (scheme, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => ("https://", rest),
            (None, Some(rest)) if is_loopback_authority(rest) => ("http://", rest),
            _ => return Err(AppLinkError::NotHttps),
        };
        if url.contains('#') {
            return Err(AppLinkError::HasFragment);
        }
        if url.contains('?') {
            return Err(AppLinkError::HasQuery);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or_default(),
            ),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(AppLinkError::MissingHost);
        }
        if authority.contains('@') {
            return Err(AppLinkError::UserInfo);
        }
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
        if !host_ok || !port_ok {
            return Err(AppLinkError::InvalidHost);
        }
        if path.is_empty() {
            return Err(AppLinkError::MissingPath);
        }
        if !path.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b'%')
        }) {
            return Err(AppLinkError::InvalidPath);
        }
        Ok(AppLink {
            url: url.to_owned(),
            scheme_len: scheme.len(),
            host_end: scheme.len() + authority.len(),
        })
    }

    /// True for the plain-HTTP loopback links allowed for local demos and tests.
    pub fn is_loopback_http(&self) -> bool {
        self.scheme_len == "http://".len()
    }

    /// The whole base URL.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `host[:port]`.
    pub fn authority(&self) -> &str {
        self.url
            .get(self.scheme_len..self.host_end)
            .unwrap_or_default()
    }

    /// The host without the port.
    pub fn host(&self) -> &str {
        let authority = self.authority();
        authority.split_once(':').map_or(authority, |(h, _)| h)
    }

    /// The path (starts with `/`).
    pub fn path(&self) -> &str {
        self.url.get(self.host_end..).unwrap_or_default()
    }

    /// The URL the Continue button opens: the base plus the parameters, percent-encoded,
    /// in the same place (query or fragment) the authorization server used.
    pub fn with_params(&self, source: Source, params: &Params) -> String {
        let mut url = self.url.clone();
        let mut first = true;
        for (param, value) in params.iter() {
            url.push(match (first, source) {
                (true, Source::Query) => '?',
                (true, Source::Fragment) => '#',
                (false, _) => '&',
            });
            first = false;
            url.push_str(param.name());
            url.push('=');
            percent_encode_into(value, &mut url);
        }
        url
    }
}

fn is_loopback_authority(rest: &str) -> bool {
    ["127.0.0.1", "localhost"].into_iter().any(|host| {
        rest.strip_prefix(host)
            .is_some_and(|after| after.starts_with([':', '/']))
    })
}

/// Percent-encodes every byte except RFC 3986 unreserved characters.
pub fn percent_encode_into(value: &str, out: &mut String) {
    fn hex_digit(nibble: u8) -> char {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        })
    }
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0F));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{extract, Param};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn accepts_plain_https_links() {
        let l = AppLink::parse("https://mobile.example.com/app/callback").unwrap();
        assert_eq!(l.host(), "mobile.example.com");
        assert_eq!(l.path(), "/app/callback");
        let l = AppLink::parse("https://127.0.0.1:8443/cb").unwrap();
        assert_eq!((l.host(), l.authority()), ("127.0.0.1", "127.0.0.1:8443"));
        assert!(!l.is_loopback_http());
    }

    #[test]
    fn plain_http_only_for_loopback() {
        let l = AppLink::parse("http://127.0.0.1:9000/app/cb").unwrap();
        assert_eq!((l.authority(), l.path()), ("127.0.0.1:9000", "/app/cb"));
        assert!(l.is_loopback_http());
        assert!(AppLink::parse("http://localhost/cb")
            .unwrap()
            .is_loopback_http());
        for bad in [
            "http://mobile.example.com/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
            "http://127.0.0.2/cb",
        ] {
            assert_eq!(AppLink::parse(bad), Err(AppLinkError::NotHttps), "{bad}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        let cases = [
            ("", AppLinkError::Missing),
            ("http://mobile.example.com/cb", AppLinkError::NotHttps),
            ("HTTPS://mobile.example.com/cb", AppLinkError::NotHttps),
            ("javascript:alert(1)//https://x/", AppLinkError::NotHttps),
            ("com.example.app:/callback", AppLinkError::NotHttps),
            ("https:///cb", AppLinkError::MissingHost),
            (
                "https://user:pw@mobile.example.com/cb",
                AppLinkError::UserInfo,
            ),
            ("https://Mobile.example.com/cb", AppLinkError::InvalidHost),
            ("https://mobile.example.com:x/cb", AppLinkError::InvalidHost),
            ("https://.example.com/cb", AppLinkError::InvalidHost),
            ("https://mobile.example.com", AppLinkError::MissingPath),
            ("https://mobile.example.com/a b", AppLinkError::InvalidPath),
            (
                "https://mobile.example.com/a\"><script>",
                AppLinkError::InvalidPath,
            ),
            ("https://mobile.example.com/cb?x=1", AppLinkError::HasQuery),
            ("https://mobile.example.com/cb#x", AppLinkError::HasFragment),
        ];
        for (input, want) in cases {
            assert_eq!(AppLink::parse(input), Err(want), "{input}");
        }
        let long = format!(
            "https://mobile.example.com/{}",
            "a".repeat(MAX_APP_LINK_BYTES)
        );
        assert_eq!(AppLink::parse(&long), Err(AppLinkError::TooLong));
    }

    #[test]
    fn builds_encoded_link_in_query_or_fragment() {
        let l = AppLink::parse("https://mobile.example.com/cb").unwrap();
        let p = extract("state=a+b%26c%3D%23&code=x%2Fy&iss=https%3A%2F%2Fas.example%2F").unwrap();
        assert_eq!(
            l.with_params(Source::Query, &p),
            "https://mobile.example.com/cb?code=x%2Fy&state=a%20b%26c%3D%23&iss=https%3A%2F%2Fas.example%2F"
        );
        assert_eq!(
            l.with_params(Source::Fragment, &p.only(&[Param::State])),
            "https://mobile.example.com/cb#state=a%20b%26c%3D%23"
        );
        assert_eq!(
            l.with_params(Source::Query, &Default::default()),
            "https://mobile.example.com/cb"
        );
    }

    #[test]
    fn encodes_non_ascii_and_markup() {
        let mut s = String::new();
        percent_encode_into("<é>\"'", &mut s);
        assert_eq!(s, "%3C%C3%A9%3E%22%27");
    }
}
