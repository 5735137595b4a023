//! The deployment config (`www/site.json`): typed, parsed once, fully checked.
//!
//! Every problem names the JSON field it is about (`apps[0].android[1].package_name`).

use std::fmt;

use serde::Deserialize;
use tollgate_redirect_page::link::{AppLink, AppLinkError};

/// Default `Strict-Transport-Security` max-age: one year.
pub const DEFAULT_HSTS_MAX_AGE: u64 = 31_536_000;

/// The whole deployment: one page domain, one app-link domain, one or more apps.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Origin that serves the pages (`https://www.example.com`). Redirect URIs are
    /// this origin plus each app's `login_path` / `logout_path`.
    pub page_origin: String,
    /// Origin of the Universal/App Links (`https://mobile.example.com`); serves the
    /// `.well-known` files. Must be a different host from `page_origin`: iOS does not
    /// open a universal link on a navigation within the same domain.
    pub app_link_origin: String,
    /// `Strict-Transport-Security` max-age in seconds (default one year).
    #[serde(default = "default_hsts")]
    pub hsts_max_age: u64,
    /// The apps.
    pub apps: Vec<AppConfig>,
}

fn default_hsts() -> u64 {
    DEFAULT_HSTS_MAX_AGE
}

/// One app.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Short identifier, used in messages (`[a-z0-9-]`).
    pub id: String,
    /// Path of the login page on the page origin: the redirect URI's path.
    pub login_path: String,
    /// Path of the logout page on the page origin (post-logout redirect URI), if any.
    #[serde(default)]
    pub logout_path: Option<String>,
    /// Path on the app-link origin that the login page forwards to.
    pub app_link_login_path: String,
    /// Path on the app-link origin that the logout page forwards to (required with `logout_path`).
    #[serde(default)]
    pub app_link_logout_path: Option<String>,
    /// iOS app IDs `TEAMID.bundle.id` that may open the app links.
    #[serde(default)]
    pub ios_app_ids: Vec<String>,
    /// Android apps that may open the app links.
    #[serde(default)]
    pub android: Vec<AndroidApp>,
    /// The App Store's numeric app ID (`1234567890` from `apps.apple.com/app/id1234567890`):
    /// the app-not-installed page links to it.
    #[serde(default)]
    pub app_store_id: Option<String>,
    /// The package the app-not-installed page links to on Google Play (default: the
    /// first `android[].package_name`).
    #[serde(default)]
    pub play_store_package: Option<String>,
}

impl AppConfig {
    /// The App Store link of the app-not-installed page, if configured.
    pub fn app_store_url(&self) -> Option<String> {
        self.app_store_id
            .as_ref()
            .map(|id| format!("https://apps.apple.com/app/id{id}"))
    }

    /// The Google Play link of the app-not-installed page, if there is an Android app.
    pub fn play_store_url(&self) -> Option<String> {
        self.play_store_package
            .as_deref()
            .or_else(|| self.android.first().map(|a| a.package_name.as_str()))
            .map(|p| format!("https://play.google.com/store/apps/details?id={p}"))
    }
}

/// One Android package and its signing-certificate fingerprints.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AndroidApp {
    /// Package name (`com.example.app`).
    pub package_name: String,
    /// SHA-256 fingerprints of the signing certificates, `AA:BB:…` (32 upper-case hex bytes).
    pub sha256_cert_fingerprints: Vec<String>,
}

/// What is wrong with one config field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not valid JSON for this schema (serde's message).
    Json(String),
    /// Not an `https://host[:port]` origin without path.
    InvalidOrigin,
    /// `page_origin` and `app_link_origin` have the same host.
    SameHost,
    /// `app_link_origin` has a port: the platforms fetch the asset files from port 443.
    AppLinkPort,
    /// No apps configured.
    NoApps,
    /// `id` is empty or not `[a-z0-9-]`.
    InvalidId,
    /// Two apps share an `id`.
    DuplicateId,
    /// Not `/segment[/segment…]` of `[A-Za-z0-9._~-]` (no trailing slash, no `..`).
    InvalidPath,
    /// A page path under `/assets/` or `/.well-known/`.
    ReservedPath,
    /// Two pages share a path.
    DuplicatePath,
    /// The app link built from the origin and this path is invalid.
    AppLink(AppLinkError),
    /// A plain-HTTP loopback app link: allowed for local builds only.
    LoopbackAppLink,
    /// `logout_path` without `app_link_logout_path`, or the other way round.
    LogoutPairIncomplete,
    /// Neither `ios_app_ids` nor `android` is set.
    NoPlatforms,
    /// Not `TEAMID.bundle.id` (10 upper-case letters/digits, then a reverse-DNS bundle id).
    InvalidIosAppId,
    /// Not a valid Android package name.
    InvalidPackageName,
    /// An Android app without fingerprints.
    NoFingerprints,
    /// Not 32 upper-case hex bytes separated by colons.
    InvalidFingerprint,
    /// `app_store_id` is not 1 to 12 digits.
    InvalidAppStoreId,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Json(m) => write!(f, "invalid JSON: {m}"),
            Problem::InvalidOrigin => f.write_str("must be an https://host[:port] origin, lower case, no path"),
            Problem::SameHost => f.write_str(
                "must be a different host from page_origin (iOS does not open a universal link on a same-domain navigation)",
            ),
            Problem::NoApps => f.write_str("at least one app is required"),
            Problem::InvalidId => f.write_str("must be non-empty [a-z0-9-]"),
            Problem::DuplicateId => f.write_str("another app has the same id"),
            Problem::InvalidPath => {
                f.write_str("must be /segment[/segment…] of A-Z a-z 0-9 . _ ~ - (no trailing slash, no ..)")
            }
            Problem::ReservedPath => f.write_str("must not be under /assets/ or /.well-known/"),
            Problem::DuplicatePath => f.write_str("another page has the same path"),
            Problem::AppLinkPort => f.write_str(
                "must not have a port: iOS associated domains and Android App Links are verified on https port 443",
            ),
            Problem::AppLink(e) => write!(f, "app link is invalid: {e:?}"),
            Problem::LoopbackAppLink => {
                f.write_str("a plain-HTTP loopback app link is for local builds only, not a deployment")
            }
            Problem::LogoutPairIncomplete => {
                f.write_str("logout_path and app_link_logout_path must be given together")
            }
            Problem::NoPlatforms => f.write_str("give ios_app_ids and/or android"),
            Problem::InvalidIosAppId => {
                f.write_str("must be TEAMID.bundle.id (10 upper-case letters/digits, a dot, a reverse-DNS bundle id)")
            }
            Problem::InvalidPackageName => {
                f.write_str("must be a Java package name like com.example.app (at least two segments)")
            }
            Problem::NoFingerprints => f.write_str("at least one fingerprint is required"),
            Problem::InvalidFingerprint => {
                f.write_str("must be 32 upper-case hex bytes separated by colons (AA:BB:…:FF)")
            }
            Problem::InvalidAppStoreId => f.write_str(
                "must be the App Store's numeric app ID, 1 to 12 digits (apps.apple.com/app/id<digits>)",
            ),
        }
    }
}

/// A config problem and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// JSON path of the field (`apps[0].ios_app_ids[1]`), or the file for JSON errors.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

fn err(field: impl Into<String>, problem: Problem) -> ConfigError {
    ConfigError {
        field: field.into(),
        problem,
    }
}

/// Whether plain-HTTP loopback app links are acceptable (local builds for the demo/tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A real deployment: app links must be https.
    Deployment,
    /// A local build: `http://127.0.0.1:…` app-link origins are allowed.
    Local,
}

/// Parses and checks a config file's text.
pub fn parse(text: &str, mode: Mode) -> Result<SiteConfig, Vec<ConfigError>> {
    let config: SiteConfig = serde_json::from_str(text)
        .map_err(|e| vec![err("site config", Problem::Json(e.to_string()))])?;
    let errors = config.check(mode);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// The host of an origin `scheme://host[:port]`, if it is a valid origin.
fn origin_host(origin: &str, mode: Mode) -> Option<&str> {
    let link = AppLink::parse(&format!("{origin}/")).ok()?;
    if link.path() != "/" || (link.is_loopback_http() && mode == Mode::Deployment) {
        return None;
    }
    let host_start = origin.find("://")? + 3;
    let host = origin.get(host_start..)?;
    Some(host.split(':').next().unwrap_or(host))
}

/// True for `/seg[/seg…]` with segments of `[A-Za-z0-9._~-]`, no `.`/`..` segments.
pub fn is_valid_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    !rest.is_empty()
        && rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
        })
}

/// Paths the site itself uses: the assets and the `.well-known` files.
fn is_reserved(path: &str) -> bool {
    path == "/assets"
        || path.starts_with("/assets/")
        || path == "/.well-known"
        || path.starts_with("/.well-known/")
}

/// True for `TEAMID.bundle.id`: a 10-character upper-case alphanumeric team ID and a
/// bundle ID of at least two dot-separated `[A-Za-z0-9-]` segments.
pub fn is_valid_ios_app_id(id: &str) -> bool {
    let Some((team, bundle)) = id.split_once('.') else {
        return false;
    };
    team.len() == 10
        && team
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && bundle.split('.').count() >= 2
        && bundle.split('.').all(|seg| {
            !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// True for a Java-style package name with at least two segments, each starting with a letter.
pub fn is_valid_package_name(name: &str) -> bool {
    name.split('.').count() >= 2
        && name.split('.').all(|seg| {
            seg.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// True for `AA:BB:…` — exactly 32 upper-case hex bytes separated by colons.
pub fn is_valid_fingerprint(fp: &str) -> bool {
    let parts: Vec<&str> = fp.split(':').collect();
    parts.len() == 32
        && parts.iter().all(|p| {
            p.len() == 2
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
}

impl SiteConfig {
    /// Every problem in the config (empty when it is usable).
    pub fn check(&self, mode: Mode) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        // The page origin is always https in a deployment; loopback only locally.
        let page_host = origin_host(&self.page_origin, mode);
        if page_host.is_none() {
            errors.push(err("page_origin", Problem::InvalidOrigin));
        }
        let link_host = origin_host(&self.app_link_origin, mode);
        match link_host {
            None if mode == Mode::Deployment
                && origin_host(&self.app_link_origin, Mode::Local).is_some() =>
            {
                errors.push(err("app_link_origin", Problem::LoopbackAppLink));
            }
            None => errors.push(err("app_link_origin", Problem::InvalidOrigin)),
            Some(h) if mode == Mode::Deployment && Some(h) == page_host => {
                errors.push(err("app_link_origin", Problem::SameHost));
            }
            Some(h)
                if mode == Mode::Deployment
                    && self.app_link_origin.len() > "https://".len() + h.len() =>
            {
                errors.push(err("app_link_origin", Problem::AppLinkPort));
            }
            Some(_) => {}
        }
        if self.apps.is_empty() {
            errors.push(err("apps", Problem::NoApps));
        }
        let mut ids: Vec<&str> = Vec::new();
        let mut page_paths: Vec<&str> = Vec::new();
        let mut link_paths: Vec<&str> = Vec::new();
        for (i, app) in self.apps.iter().enumerate() {
            let at = |field: &str| format!("apps[{i}].{field}");
            if app.id.is_empty()
                || !app
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                errors.push(err(at("id"), Problem::InvalidId));
            } else if ids.contains(&app.id.as_str()) {
                errors.push(err(at("id"), Problem::DuplicateId));
            }
            ids.push(&app.id);

            let mut pages = vec![("login_path", app.login_path.as_str())];
            if let Some(p) = &app.logout_path {
                pages.push(("logout_path", p));
            }
            for (field, path) in pages {
                if !is_valid_path(path) {
                    errors.push(err(at(field), Problem::InvalidPath));
                } else if is_reserved(path) {
                    errors.push(err(at(field), Problem::ReservedPath));
                } else if page_paths.contains(&path) {
                    errors.push(err(at(field), Problem::DuplicatePath));
                }
                page_paths.push(path);
            }

            if app.logout_path.is_some() != app.app_link_logout_path.is_some() {
                errors.push(err(
                    at("app_link_logout_path"),
                    Problem::LogoutPairIncomplete,
                ));
            }
            let mut links = vec![("app_link_login_path", app.app_link_login_path.as_str())];
            if let Some(p) = &app.app_link_logout_path {
                links.push(("app_link_logout_path", p));
            }
            for (field, path) in links {
                // The app-link origin serves the app-not-installed page at each of these paths.
                if !is_valid_path(path) {
                    errors.push(err(at(field), Problem::InvalidPath));
                } else if is_reserved(path) {
                    errors.push(err(at(field), Problem::ReservedPath));
                } else if link_paths.contains(&path) {
                    errors.push(err(at(field), Problem::DuplicatePath));
                } else if let Err(e) = AppLink::parse(&format!("{}{path}", self.app_link_origin)) {
                    if link_host.is_some() {
                        errors.push(err(at(field), Problem::AppLink(e)));
                    }
                }
                link_paths.push(path);
            }
            if let Some(id) = &app.app_store_id {
                if id.is_empty() || id.len() > 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    errors.push(err(at("app_store_id"), Problem::InvalidAppStoreId));
                }
            }
            if let Some(p) = &app.play_store_package {
                if !is_valid_package_name(p) {
                    errors.push(err(at("play_store_package"), Problem::InvalidPackageName));
                }
            }

            if app.ios_app_ids.is_empty() && app.android.is_empty() {
                errors.push(err(format!("apps[{i}]"), Problem::NoPlatforms));
            }
            for (j, id) in app.ios_app_ids.iter().enumerate() {
                if !is_valid_ios_app_id(id) {
                    errors.push(err(
                        at(&format!("ios_app_ids[{j}]")),
                        Problem::InvalidIosAppId,
                    ));
                }
            }
            for (j, android) in app.android.iter().enumerate() {
                if !is_valid_package_name(&android.package_name) {
                    errors.push(err(
                        at(&format!("android[{j}].package_name")),
                        Problem::InvalidPackageName,
                    ));
                }
                if android.sha256_cert_fingerprints.is_empty() {
                    errors.push(err(
                        at(&format!("android[{j}].sha256_cert_fingerprints")),
                        Problem::NoFingerprints,
                    ));
                }
                for (k, fp) in android.sha256_cert_fingerprints.iter().enumerate() {
                    if !is_valid_fingerprint(fp) {
                        errors.push(err(
                            at(&format!("android[{j}].sha256_cert_fingerprints[{k}]")),
                            Problem::InvalidFingerprint,
                        ));
                    }
                }
            }
        }
        errors
    }

    /// The app link the login page of `app` forwards to.
    pub fn app_link(&self, path: &str) -> String {
        format!("{}{path}", self.app_link_origin)
    }

    /// Replaces the app-link origin (local demo/test builds: `http://127.0.0.1:PORT`).
    pub fn with_app_link_origin(mut self, origin: &str) -> SiteConfig {
        origin.clone_into(&mut self.app_link_origin);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const FP: &str =
        "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

    pub(crate) fn example() -> serde_json::Value {
        serde_json::json!({
            "page_origin": "https://www.example.com",
            "app_link_origin": "https://mobile.example.com",
            "apps": [{
                "id": "example",
                "login_path": "/example/callback",
                "logout_path": "/example/logout",
                "app_link_login_path": "/example/callback",
                "app_link_logout_path": "/example/logout",
                "ios_app_ids": ["ABCDE12345.com.example.app"],
                "android": [{"package_name": "com.example.app", "sha256_cert_fingerprints": [FP]}],
                "app_store_id": "1234567890"
            }]
        })
    }

    fn problems(v: &serde_json::Value, mode: Mode) -> Vec<(String, Problem)> {
        match parse(&v.to_string(), mode) {
            Ok(_) => vec![],
            Err(errs) => errs.into_iter().map(|e| (e.field, e.problem)).collect(),
        }
    }

    #[test]
    fn example_config_is_valid() {
        let c = parse(&example().to_string(), Mode::Deployment).unwrap();
        assert_eq!(c.hsts_max_age, DEFAULT_HSTS_MAX_AGE);
        assert_eq!(
            c.app_link("/example/callback"),
            "https://mobile.example.com/example/callback"
        );
    }

    #[test]
    fn the_shipped_config_is_valid() {
        let text = include_str!("../../../www/site.json");
        parse(text, Mode::Deployment).unwrap();
    }

    #[test]
    fn fingerprint_format() {
        assert!(is_valid_fingerprint(FP));
        assert!(!is_valid_fingerprint(&FP.to_lowercase()));
        assert!(!is_valid_fingerprint(&FP.replace(':', "")));
        assert!(!is_valid_fingerprint(&FP[3..]));
        assert!(!is_valid_fingerprint(&format!("{FP}:AA")));
        assert!(!is_valid_fingerprint(&FP.replacen("14", "1G", 1)));
        let mut v = example();
        v["apps"][0]["android"][0]["sha256_cert_fingerprints"][0] = FP.to_lowercase().into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![(
                "apps[0].android[0].sha256_cert_fingerprints[0]".into(),
                Problem::InvalidFingerprint
            )]
        );
    }

    #[test]
    fn ios_app_id_format() {
        assert!(is_valid_ios_app_id("ABCDE12345.com.example.app"));
        for bad in [
            "abcde12345.com.example.app",
            "ABCDE1234.com.example.app",
            "ABCDE12345.app",
            "ABCDE12345",
            "ABCDE12345.com..app",
            "ABCDE12345.com.exa mple",
        ] {
            assert!(!is_valid_ios_app_id(bad), "{bad}");
        }
        let mut v = example();
        v["apps"][0]["ios_app_ids"] =
            serde_json::json!(["ABCDE12345.com.example.app", "com.example.app"]);
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("apps[0].ios_app_ids[1]".into(), Problem::InvalidIosAppId)]
        );
    }

    #[test]
    fn package_name_format() {
        assert!(is_valid_package_name("com.example.app_2"));
        for bad in ["app", "com..app", "com.1app", "com.exa-mple", ""] {
            assert!(!is_valid_package_name(bad), "{bad}");
        }
    }

    #[test]
    fn page_and_app_link_domains_must_differ() {
        let mut v = example();
        v["app_link_origin"] = "https://www.example.com".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("app_link_origin".into(), Problem::SameHost)]
        );
    }

    #[test]
    fn store_links() {
        let c = parse(&example().to_string(), Mode::Deployment).unwrap();
        assert_eq!(
            c.apps[0].app_store_url().as_deref(),
            Some("https://apps.apple.com/app/id1234567890")
        );
        assert_eq!(
            c.apps[0].play_store_url().as_deref(),
            Some("https://play.google.com/store/apps/details?id=com.example.app")
        );
        let mut v = example();
        v["apps"][0]["play_store_package"] = "com.example.other".into();
        let c = parse(&v.to_string(), Mode::Deployment).unwrap();
        assert_eq!(
            c.apps[0].play_store_url().as_deref(),
            Some("https://play.google.com/store/apps/details?id=com.example.other")
        );
        for bad in [
            "",
            "id1234",
            "12345678901234",
            "12 34",
            "https://apps.apple.com/app/id1",
        ] {
            let mut v = example();
            v["apps"][0]["app_store_id"] = bad.into();
            assert_eq!(
                problems(&v, Mode::Deployment),
                vec![("apps[0].app_store_id".into(), Problem::InvalidAppStoreId)],
                "{bad}"
            );
        }
        let mut v = example();
        v["apps"][0]["play_store_package"] = "evil.example/x?id=".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![(
                "apps[0].play_store_package".into(),
                Problem::InvalidPackageName
            )]
        );
    }

    #[test]
    fn app_link_origin_has_no_port_in_a_deployment() {
        let mut v = example();
        v["app_link_origin"] = "https://mobile.example.com:8443".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("app_link_origin".into(), Problem::AppLinkPort)]
        );
        assert_eq!(problems(&v, Mode::Local), vec![]);
    }

    #[test]
    fn app_link_paths_avoid_the_sites_own_paths_and_each_other() {
        let mut v = example();
        v["apps"][0]["app_link_login_path"] = "/assets/not-installed.js".into();
        v["apps"][0]["app_link_logout_path"] = "/.well-known/assetlinks.json".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![
                ("apps[0].app_link_login_path".into(), Problem::ReservedPath),
                ("apps[0].app_link_logout_path".into(), Problem::ReservedPath),
            ]
        );
        let mut v = example();
        v["apps"][0]["app_link_logout_path"] = "/example/callback".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![(
                "apps[0].app_link_logout_path".into(),
                Problem::DuplicatePath
            )]
        );
    }

    #[test]
    fn origins_must_be_https_without_path() {
        for (field, bad) in [
            ("page_origin", "http://www.example.com"),
            ("page_origin", "https://www.example.com/x"),
            ("app_link_origin", "https://mobile.example.com/"),
            ("app_link_origin", "javascript:alert(1)"),
            ("app_link_origin", "https://MOBILE.example.com"),
        ] {
            let mut v = example();
            v[field] = bad.into();
            assert_eq!(
                problems(&v, Mode::Deployment),
                vec![(field.into(), Problem::InvalidOrigin)],
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_app_links_only_for_local_builds() {
        let mut v = example();
        v["app_link_origin"] = "http://127.0.0.1:9000".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("app_link_origin".into(), Problem::LoopbackAppLink)]
        );
        assert_eq!(problems(&v, Mode::Local), vec![]);
    }

    #[test]
    fn paths_are_checked() {
        let mut v = example();
        v["apps"][0]["login_path"] = "/example/../x".into();
        v["apps"][0]["logout_path"] = "/.well-known/x".into();
        v["apps"][0]["app_link_login_path"] = "example".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![
                ("apps[0].login_path".into(), Problem::InvalidPath),
                ("apps[0].logout_path".into(), Problem::ReservedPath),
                ("apps[0].app_link_login_path".into(), Problem::InvalidPath),
            ]
        );
        let mut v = example();
        v["apps"][0]["logout_path"] = "/example/callback".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("apps[0].logout_path".into(), Problem::DuplicatePath)]
        );
        let mut v = example();
        v["apps"][0]
            .as_object_mut()
            .unwrap()
            .remove("app_link_logout_path");
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![(
                "apps[0].app_link_logout_path".into(),
                Problem::LogoutPairIncomplete
            )]
        );
    }

    #[test]
    fn apps_are_checked() {
        let mut v = example();
        v["apps"] = serde_json::json!([]);
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![("apps".into(), Problem::NoApps)]
        );

        let mut v = example();
        let mut second = v["apps"][0].clone();
        second["login_path"] = "/other/callback".into();
        second["logout_path"] = "/other/logout".into();
        second["app_link_login_path"] = "/other/callback".into();
        second["app_link_logout_path"] = "/other/logout".into();
        second["ios_app_ids"] = serde_json::json!([]);
        second["android"] = serde_json::json!([]);
        v["apps"].as_array_mut().unwrap().push(second);
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![
                ("apps[1].id".into(), Problem::DuplicateId),
                ("apps[1]".into(), Problem::NoPlatforms)
            ]
        );

        let mut v = example();
        v["apps"][0]["android"][0]["sha256_cert_fingerprints"] = serde_json::json!([]);
        v["apps"][0]["android"][0]["package_name"] = "app".into();
        v["apps"][0]["id"] = "Example".into();
        assert_eq!(
            problems(&v, Mode::Deployment),
            vec![
                ("apps[0].id".into(), Problem::InvalidId),
                (
                    "apps[0].android[0].package_name".into(),
                    Problem::InvalidPackageName
                ),
                (
                    "apps[0].android[0].sha256_cert_fingerprints".into(),
                    Problem::NoFingerprints
                ),
            ]
        );
    }

    #[test]
    fn unknown_fields_and_bad_json_are_errors_not_panics() {
        let mut v = example();
        v["apps"][0]["redirect_to"] = "https://evil.example".into();
        let errs = parse(&v.to_string(), Mode::Deployment).unwrap_err();
        assert!(matches!(&errs[0].problem, Problem::Json(m) if m.contains("redirect_to")));
        for text in ["", "{", "[]", "null", "{\"page_origin\": 1}"] {
            let errs = parse(text, Mode::Deployment).unwrap_err();
            assert!(matches!(errs[0].problem, Problem::Json(_)), "{text}");
        }
    }
}
