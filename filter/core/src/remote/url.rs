//! The small subset of URL parsing a key fetch needs: an absolute `http`/`https` URL split
//! into the `:authority` and `:path` pseudo headers of the request the glue dispatches to
//! the configured Envoy cluster.
//!
//! The cluster, not the URL, decides where the request goes and whether it uses TLS; the
//! URL only names the host (for `:authority`, virtual hosting and SNI when the cluster uses
//! `auto_sni`) and the path. Anything unusual is refused with a specific [`UrlError`] rather
//! than guessed at: user info (`user:pass@`), fragments, whitespace and control characters,
//! an empty host, a port outside 1–65535.

use std::fmt;

/// Longest URL accepted (bytes). Real JWKS and discovery URLs are far shorter.
pub const MAX_URL_LEN: usize = 2048;

/// Why a string is not an acceptable fetch URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// Longer than [`MAX_URL_LEN`].
    TooLong,
    /// Contains a space, a control character or a non-ASCII byte (URLs on the wire are ASCII).
    InvalidCharacter,
    /// Not of the form `scheme://authority…`.
    NotAbsolute,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme,
    /// `user:password@host`: credentials never belong in a key URL.
    UserInfo,
    /// Nothing between `//` and the path.
    EmptyHost,
    /// The port is not a number in 1–65535.
    BadPort,
    /// A `#fragment`, which is never sent to a server and means the URL was mistyped.
    Fragment,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::TooLong => "URL is too long",
            UrlError::InvalidCharacter => {
                "URL contains a space, a control or a non-ASCII character"
            }
            UrlError::NotAbsolute => "URL must be absolute (scheme://host/path)",
            UrlError::UnsupportedScheme => "URL scheme must be http or https",
            UrlError::UserInfo => "URL must not contain user info (user:password@)",
            UrlError::EmptyHost => "URL has no host",
            UrlError::BadPort => "URL port must be a number from 1 to 65535",
            UrlError::Fragment => "URL must not contain a fragment (#...)",
        })
    }
}

impl std::error::Error for UrlError {}

/// URL scheme of a fetch URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

/// A checked absolute `http`/`https` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    scheme: Scheme,
    authority: String,
    host: String,
    path: String,
}

impl HttpUrl {
    /// Parses and checks `raw`; see the module docs for what is refused.
    pub fn parse(raw: &str) -> Result<HttpUrl, UrlError> {
        if raw.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        if raw.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = raw.split_once("://").ok_or(UrlError::NotAbsolute)?;
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.is_empty() || scheme.contains(['/', '?', '#']) {
            return Err(UrlError::NotAbsolute);
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let host = host_of(authority)?;
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(HttpUrl {
            scheme,
            authority: authority.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            path,
        })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Host with the port, if one was given (lower-cased): the `:authority` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Host without the port (IPv6 literals keep their brackets), lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Path and query, always starting with `/`: the `:path` header.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// True for `localhost`, `127.0.0.0/8` and `[::1]`: hosts that never leave the machine.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        if host == "localhost" || host == "[::1]" {
            return true;
        }
        let mut parts = host.split('.');
        let first_is_127 = parts.next() == Some("127");
        let rest: Vec<&str> = parts.collect();
        first_is_127
            && rest.len() == 3
            && rest.iter().all(|p| {
                !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && p.parse::<u16>().is_ok_and(|n| n <= 255)
            })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.authority, self.path)
    }
}

/// Checks an authority (`host`, `host:port`, `[v6]`, `[v6]:port`) and returns the host part.
fn host_of(authority: &str) -> Result<&str, UrlError> {
    let (host, port) = if let Some(after_bracket) = authority.strip_prefix('[') {
        let close = after_bracket.find(']').ok_or(UrlError::EmptyHost)?;
        let host_len = close + 2; // '[' … ']'
        let host = authority.get(..host_len).ok_or(UrlError::EmptyHost)?;
        let rest = authority.get(host_len..).unwrap_or("");
        if close == 0 {
            return Err(UrlError::EmptyHost);
        }
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return Err(UrlError::BadPort),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err(UrlError::BadPort);
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_authority_and_path() {
        let url = HttpUrl::parse("https://Login.Example.com/oauth/v2/jwks?x=1").unwrap();
        assert_eq!(url.scheme(), Scheme::Https);
        assert_eq!(url.authority(), "login.example.com");
        assert_eq!(url.host(), "login.example.com");
        assert_eq!(url.path(), "/oauth/v2/jwks?x=1");
        assert_eq!(
            url.to_string(),
            "https://login.example.com/oauth/v2/jwks?x=1"
        );
    }

    #[test]
    fn keeps_the_port_in_the_authority_only() {
        let url = HttpUrl::parse("http://127.0.0.1:8443/jwks").unwrap();
        assert_eq!(url.scheme(), Scheme::Http);
        assert_eq!(url.authority(), "127.0.0.1:8443");
        assert_eq!(url.host(), "127.0.0.1");
        assert_eq!(url.path(), "/jwks");
    }

    #[test]
    fn empty_path_becomes_slash_and_bare_query_gets_one() {
        assert_eq!(HttpUrl::parse("https://a.example").unwrap().path(), "/");
        assert_eq!(
            HttpUrl::parse("https://a.example?k=v").unwrap().path(),
            "/?k=v"
        );
    }

    #[test]
    fn ipv6_literal() {
        let url = HttpUrl::parse("http://[::1]:9000/certs").unwrap();
        assert_eq!(url.authority(), "[::1]:9000");
        assert_eq!(url.host(), "[::1]");
        assert!(url.is_loopback());
        assert_eq!(HttpUrl::parse("http://[::1]/").unwrap().host(), "[::1]");
    }

    #[test]
    fn refusals_name_the_reason() {
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::NotAbsolute),
            ("/jwks", UrlError::NotAbsolute),
            ("login.example.com/jwks", UrlError::NotAbsolute),
            ("://x/y", UrlError::NotAbsolute),
            ("ftp://x/y", UrlError::UnsupportedScheme),
            ("file:///etc/passwd", UrlError::UnsupportedScheme),
            ("https://user:pw@x.example/jwks", UrlError::UserInfo),
            ("https:///jwks", UrlError::EmptyHost),
            ("https://:443/jwks", UrlError::EmptyHost),
            ("https://[]/jwks", UrlError::EmptyHost),
            ("https://[::1/jwks", UrlError::EmptyHost),
            ("https://x.example:0/", UrlError::BadPort),
            ("https://x.example:65536/", UrlError::BadPort),
            ("https://x.example:/", UrlError::BadPort),
            ("https://x.example:8o/", UrlError::BadPort),
            ("https://[::1]x/", UrlError::BadPort),
            ("https://x.example/jwks#k", UrlError::Fragment),
            ("https://x.example/j wks", UrlError::InvalidCharacter),
            ("https://x.example/\njwks", UrlError::InvalidCharacter),
            ("https://x.example/jwks\u{e9}", UrlError::InvalidCharacter),
        ];
        for (raw, want) in cases {
            assert_eq!(HttpUrl::parse(raw), Err(*want), "{raw:?}");
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(HttpUrl::parse(&long), Err(UrlError::TooLong));
    }

    #[test]
    fn loopback_hosts() {
        for raw in [
            "http://localhost:1/",
            "http://127.0.0.1/",
            "http://127.9.8.7:80/x",
        ] {
            assert!(HttpUrl::parse(raw).unwrap().is_loopback(), "{raw}");
        }
        for raw in [
            "http://127.0.0.1.nip.io/",
            "http://localhost.example/",
            "http://128.0.0.1/",
            "http://127.0.0.256/",
            "http://[::2]/",
            "http://10.0.0.1/",
        ] {
            assert!(!HttpUrl::parse(raw).unwrap().is_loopback(), "{raw}");
        }
    }
}
