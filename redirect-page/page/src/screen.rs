//! What the page shows, decided from its configuration and the URL — no DOM here.

use crate::error_code::{ErrorMessage, KnownError};
use crate::link::{AppLink, AppLinkError};
use crate::params::{
    is_forwardable_error_uri, is_valid_error_code, read_response, Param, ResponseError,
};

/// `<meta id="tollgate-page" content="login|logout">`: which page variant this is.
pub const META_PAGE: &str = "tollgate-page";
/// `<meta id="tollgate-app-link" content="https://…">`: the configured app-link base URL.
pub const META_APP_LINK: &str = "tollgate-app-link";

/// The page variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// The redirect URI of the authorization request: forwards the allow-listed response.
    Login,
    /// The post-logout redirect URI: forwards only `state`.
    Logout,
}

impl PageKind {
    /// The value used in `<meta id="tollgate-page">`.
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Login => "login",
            PageKind::Logout => "logout",
        }
    }
}

/// Why the page's own configuration is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageConfigError {
    /// `tollgate-page` is missing or not `login`/`logout`.
    UnknownKind,
    /// `tollgate-app-link` is missing or invalid.
    AppLink(AppLinkError),
}

/// The page's configuration, read from same-origin `<meta>` tags written at build time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageConfig {
    /// Login or logout page.
    pub kind: PageKind,
    /// Where Continue goes. Never taken from the request.
    pub app_link: AppLink,
}

impl PageConfig {
    /// Validates the `<meta>` values.
    pub fn from_meta(
        kind: Option<&str>,
        app_link: Option<&str>,
    ) -> Result<PageConfig, PageConfigError> {
        let kind = match kind {
            Some("login") => PageKind::Login,
            Some("logout") => PageKind::Logout,
            _ => return Err(PageConfigError::UnknownKind),
        };
        let app_link =
            AppLink::parse(app_link.unwrap_or_default()).map_err(PageConfigError::AppLink)?;
        Ok(PageConfig { kind, app_link })
    }
}

/// The screen the page renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// A login response with `code`: Continue opens `link`.
    Continue {
        /// The app link with the forwarded parameters.
        link: String,
    },
    /// An error response: a fixed explanation (never the request's text, see
    /// [`crate::error_code`]); the button still hands the response to the app.
    Error {
        /// The known `error` code, or `None` for any other value (then only the
        /// generic explanation is shown, not the value).
        known: Option<KnownError>,
        /// The app link with the forwarded error parameters (`error` and
        /// `error_description` untouched).
        link: String,
    },
    /// The logout page: Continue opens the logout app link, with `state` if present.
    LoggedOut {
        /// The logout app link.
        link: String,
    },
    /// Login page opened without response parameters: nothing is forwarded.
    NoResponse,
    /// The response was rejected: nothing is forwarded.
    Malformed(ResponseError),
    /// The page's configuration is unusable: nothing is forwarded.
    Misconfigured(PageConfigError),
}

impl Screen {
    /// Which explanation an error screen shows (`None` for other screens).
    pub fn error_message(&self) -> Option<ErrorMessage> {
        match self {
            Screen::Error { known, .. } => {
                Some(known.map_or(ErrorMessage::Unknown, KnownError::message))
            }
            _ => None,
        }
    }

    /// The link Continue opens, if the screen has one.
    pub fn link(&self) -> Option<&str> {
        match self {
            Screen::Continue { link } | Screen::Error { link, .. } | Screen::LoggedOut { link } => {
                Some(link)
            }
            _ => None,
        }
    }

    /// A short stable name, written to `<html data-screen>` for tests and styling.
    pub fn name(&self) -> &'static str {
        match self {
            Screen::Continue { .. } => "continue",
            Screen::Error { .. } => "error",
            Screen::LoggedOut { .. } => "logout",
            Screen::NoResponse => "no-response",
            Screen::Malformed(_) => "malformed",
            Screen::Misconfigured(_) => "misconfigured",
        }
    }
}

/// Decides the screen for a page with `config` opened at a URL whose query is
/// `query` and fragment is `fragment` (leading `?`/`#` optional).
pub fn decide(config: &PageConfig, query: &str, fragment: &str) -> Screen {
    let (source, params) = match read_response(query, fragment) {
        Err(e) => return Screen::Malformed(e),
        Ok(None) => {
            return match config.kind {
                PageKind::Login => Screen::NoResponse,
                PageKind::Logout => Screen::LoggedOut {
                    link: config.app_link.as_str().to_owned(),
                },
            }
        }
        Ok(Some(found)) => found,
    };
    // An `error_uri` the app must not open is dropped; the rest is still forwarded.
    let params = match params.get(Param::ErrorUri) {
        Some(uri) if !is_forwardable_error_uri(uri) => params.without(Param::ErrorUri),
        _ => params,
    };
    if config.kind == PageKind::Logout {
        let link = config
            .app_link
            .with_params(source, &params.only(&[Param::State]));
        return Screen::LoggedOut { link };
    }
    match (params.get(Param::Code), params.get(Param::Error)) {
        (Some(_), Some(_)) => Screen::Malformed(ResponseError::CodeAndError),
        (None, None) => Screen::Malformed(ResponseError::MissingCodeAndError),
        (Some(_), None) => Screen::Continue {
            link: config.app_link.with_params(source, &params),
        },
        (None, Some(error)) if !is_valid_error_code(error) => {
            Screen::Malformed(ResponseError::InvalidErrorCode)
        }
        (None, Some(error)) => Screen::Error {
            known: KnownError::find(error),
            link: config.app_link.with_params(source, &params),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn login() -> PageConfig {
        PageConfig::from_meta(
            Some("login"),
            Some("https://mobile.example.com/app/callback"),
        )
        .unwrap()
    }

    fn logout() -> PageConfig {
        PageConfig::from_meta(
            Some("logout"),
            Some("https://mobile.example.com/app/logout"),
        )
        .unwrap()
    }

    #[test]
    fn success_forwards_exactly_the_allow_listed_parameters() {
        let s = decide(
            &login(),
            "?code=abc&state=xyz&iss=https%3A%2F%2Fas.example&session_state=ss&redirect_uri=https%3A%2F%2Fevil.example&target=javascript%3Aalert(1)",
            "",
        );
        assert_eq!(
            s,
            Screen::Continue {
                link: "https://mobile.example.com/app/callback?code=abc&state=xyz&iss=https%3A%2F%2Fas.example&session_state=ss".into()
            }
        );
    }

    #[test]
    fn javascript_values_are_only_data() {
        let s = decide(&login(), "?code=javascript:alert(1)&state=%3Cscript%3E", "");
        assert_eq!(
            s,
            Screen::Continue {
                link: "https://mobile.example.com/app/callback?code=javascript%3Aalert%281%29&state=%3Cscript%3E".into()
            }
        );
    }

    #[test]
    fn fragment_response_is_forwarded_in_the_fragment() {
        let s = decide(&login(), "", "#code=abc&state=xyz");
        assert_eq!(
            s,
            Screen::Continue {
                link: "https://mobile.example.com/app/callback#code=abc&state=xyz".into()
            }
        );
    }

    #[test]
    fn error_response_gets_error_screen_and_is_forwarded() {
        let s = decide(
            &login(),
            "?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&error_uri=https%3A%2F%2Fas.example%2Fe&state=s&iss=i",
            "",
        );
        assert_eq!(
            s,
            Screen::Error {
                known: KnownError::find("access_denied"),
                link: "https://mobile.example.com/app/callback?state=s&iss=i&error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&error_uri=https%3A%2F%2Fas.example%2Fe".into(),
            }
        );
        assert_eq!(s.error_message(), Some(ErrorMessage::Cancelled));
    }

    /// The spoofing attempt: attacker's words in `error_description` and an invented
    /// `error`. The screen carries no request text at all; both reach the app.
    #[test]
    fn crafted_description_and_invented_error_are_forwarded_but_not_shown() {
        let s = decide(
            &login(),
            "?error=account_locked&error_description=Your+account+is+locked.+Call+support+at+%2B1-555-0100+or+visit+evil.example&state=s",
            "",
        );
        assert_eq!(
            s,
            Screen::Error {
                known: None,
                link: "https://mobile.example.com/app/callback?state=s&error=account_locked&error_description=Your%20account%20is%20locked.%20Call%20support%20at%20%2B1-555-0100%20or%20visit%20evil.example".into(),
            }
        );
        assert_eq!(s.error_message(), Some(ErrorMessage::Unknown));
        // A known code with a crafted description: the fixed text, the description only forwarded.
        let s = decide(
            &login(),
            "?error=login_required&error_description=Call+%2B1-555-0100",
            "",
        );
        assert_eq!(s.error_message(), Some(ErrorMessage::SignInRequired));
        assert_eq!(
            s.link(),
            Some("https://mobile.example.com/app/callback?error=login_required&error_description=Call%20%2B1-555-0100")
        );
    }

    #[test]
    fn error_uri_is_forwarded_only_when_https() {
        let base = "https://mobile.example.com/app/callback?state=s&error=access_denied";
        for (uri, forwarded) in [
            ("javascript%3Aalert(1)", false),
            (
                "data%3Atext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                false,
            ),
            ("http%3A%2F%2Fas.example%2Fe", false),
            ("%2F%2Fas.example%2Fe", false),
            ("https%3A%2F%2Fbank.example%40evil.example%2F", false),
            ("https%3A%2F%2Fas.example%2Fe", true),
        ] {
            let s = decide(
                &login(),
                &format!("?error=access_denied&state=s&error_uri={uri}"),
                "",
            );
            let want = if forwarded {
                format!("{base}&error_uri=https%3A%2F%2Fas.example%2Fe")
            } else {
                base.to_owned()
            };
            assert_eq!(s.link(), Some(want.as_str()), "{uri}");
            assert_eq!(s.name(), "error", "{uri}");
        }
        // With a code (unusual, but allowed through) the same rule applies.
        assert_eq!(
            decide(&login(), "?code=c&error_uri=javascript%3Ax", "").link(),
            Some("https://mobile.example.com/app/callback?code=c")
        );
    }

    #[test]
    fn rejected_responses_forward_nothing() {
        let cases = [
            ("?code=a&error=b", ResponseError::CodeAndError),
            ("?state=only", ResponseError::MissingCodeAndError),
            ("?error=%3Cscript%3E%22", ResponseError::InvalidErrorCode),
            ("?code=a&code=b", ResponseError::Duplicate(Param::Code)),
            ("?code=%zz", ResponseError::InvalidPercentEncoding),
        ];
        for (query, want) in cases {
            assert_eq!(
                decide(&login(), query, ""),
                Screen::Malformed(want),
                "{query}"
            );
        }
        let long = format!("?code=a&state={}", "s".repeat(10_000));
        assert_eq!(
            decide(&login(), &long, ""),
            Screen::Malformed(ResponseError::ValueTooLong(Param::State))
        );
    }

    #[test]
    fn no_parameters_means_no_response_screen() {
        assert_eq!(decide(&login(), "", ""), Screen::NoResponse);
        assert_eq!(
            decide(&login(), "?redirect_uri=https://evil.example", ""),
            Screen::NoResponse
        );
    }

    #[test]
    fn logout_forwards_only_state() {
        assert_eq!(
            decide(&logout(), "?state=s1&code=c&iss=i", ""),
            Screen::LoggedOut {
                link: "https://mobile.example.com/app/logout?state=s1".into()
            }
        );
        assert_eq!(
            decide(&logout(), "", ""),
            Screen::LoggedOut {
                link: "https://mobile.example.com/app/logout".into()
            }
        );
        assert_eq!(
            decide(&logout(), "?state=a&state=b", ""),
            Screen::Malformed(ResponseError::Duplicate(Param::State))
        );
    }

    /// Deterministic pseudo-random inputs (no fuzzing toolchain needed): whatever the URL,
    /// `decide` does not panic, and any link it builds is the configured base plus only
    /// allow-listed, fully percent-encoded parameters.
    #[test]
    fn random_inputs_never_escape_the_configured_link() {
        const NAMES: &[&str] = &[
            "code",
            "state",
            "iss",
            "error",
            "error_description",
            "error_uri",
            "session_state",
            "redirect_uri",
            "target",
            "co%64e",
            "",
            "state&",
            "#code",
        ];
        const VALUES: &[&str] = &[
            "a",
            "Z",
            "0",
            "=",
            "&",
            "?",
            "#",
            "%",
            "%2",
            "%26",
            "%3D",
            "%23",
            "%0A",
            "%E2%9C%8B",
            "%FF",
            "+",
            "javascript:",
            "<script>",
            "\"",
            "/",
            "//evil.example",
            "access_denied",
            "é",
            " ",
            "%22",
            "https://",
            "https%3A%2F%2F",
            "as.example",
            "@",
        ];
        let mut links_with_params = 0;
        let mut seed: u64 = 0x5eed_1234_abcd_ef01;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap()
        };
        let runs = if cfg!(target_arch = "wasm32") {
            2_000
        } else {
            20_000
        };
        for _ in 0..runs {
            let mut query = String::new();
            for _ in 0..next() % 5 {
                query.push_str(NAMES[next() % NAMES.len()]);
                query.push('=');
                for _ in 0..next() % 4 {
                    query.push_str(VALUES[next() % VALUES.len()]);
                }
                query.push('&');
            }
            let in_fragment = next() % 4 == 0;
            let (q, f) = if in_fragment {
                ("", query.as_str())
            } else {
                (query.as_str(), "")
            };
            for config in [login(), logout()] {
                let screen = decide(&config, q, f);
                let Some(link) = screen.link() else {
                    continue;
                };
                let base = config.app_link.as_str();
                let rest = link
                    .strip_prefix(base)
                    .unwrap_or_else(|| panic!("{link} does not start with {base}"));
                if rest.is_empty() {
                    continue;
                }
                links_with_params += 1;
                let (sep, pairs) = rest.split_at(1);
                assert!(sep == "?" || sep == "#", "{link}");
                for pair in pairs.split('&') {
                    let (name, value) = pair.split_once('=').unwrap_or_else(|| panic!("{link}"));
                    assert!(Param::from_name(name).is_some(), "{name} in {link}");
                    assert!(
                        value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                        "{value} in {link}"
                    );
                    if config.kind == PageKind::Logout {
                        assert_eq!(name, "state", "{link}");
                    }
                    if name == "error_uri" {
                        assert!(value.starts_with("https%3A%2F%2F"), "{link}");
                    }
                }
            }
        }
        // The generator does reach the forwarding paths, not only rejections.
        assert!(links_with_params > runs / 100, "{links_with_params}");
    }

    #[test]
    fn page_config_is_validated() {
        assert_eq!(
            PageConfig::from_meta(Some("other"), Some("https://m.example.com/cb")),
            Err(PageConfigError::UnknownKind)
        );
        assert_eq!(
            PageConfig::from_meta(None, Some("https://m.example.com/cb")),
            Err(PageConfigError::UnknownKind)
        );
        assert_eq!(
            PageConfig::from_meta(Some("login"), None),
            Err(PageConfigError::AppLink(AppLinkError::Missing))
        );
        assert_eq!(
            PageConfig::from_meta(Some("login"), Some("javascript:alert(1)")),
            Err(PageConfigError::AppLink(AppLinkError::NotHttps))
        );
    }
}
