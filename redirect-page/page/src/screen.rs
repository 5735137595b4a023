//! What the page shows, decided from its configuration and the URL — no DOM here.

use crate::link::{AppLink, AppLinkError};
use crate::params::{is_valid_error_code, read_response, Param, ResponseError};

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
    /// An error response: shown as text; the button still hands it to the app.
    Error {
        /// `error`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
        /// The app link with the forwarded error parameters.
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
            error: error.to_owned(),
            description: params.get(Param::ErrorDescription).map(str::to_owned),
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
                error: "access_denied".into(),
                description: Some("<b>no</b>".into()),
                link: "https://mobile.example.com/app/callback?state=s&iss=i&error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&error_uri=https%3A%2F%2Fas.example%2Fe".into(),
            }
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
                let link = match decide(&config, q, f) {
                    Screen::Continue { link }
                    | Screen::Error { link, .. }
                    | Screen::LoggedOut { link } => link,
                    _ => continue,
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
