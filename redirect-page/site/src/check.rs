//! `tollgate-site check`: the deep-link asset files (in a built directory or served),
//! and a served site the way iOS, Android and a browser fetch it.
//!
//! Over `https://` (or plain `http://` to a loopback `serve`), for the app-link origin:
//! both asset files answer 200 **without a redirect**, as `application/json`,
//! uncompressed, under [`MAX_ASSET_BYTES`], with valid content (and, given the config,
//! the content the config generates); the app-not-installed pages answer 200 as HTML
//! with every security header. For the page origin: every redirect page the same, and
//! every asset with its exact type (`application/wasm` for the module). The TLS
//! certificate must verify against the system's roots (or `--ca`).

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::config::{is_valid_fingerprint, is_valid_ios_app_id, is_valid_package_name, SiteConfig};
use crate::generate::{
    apple_app_site_association, assetlinks, public_files, FileKind, PublicFile, APP_LINK_ROOT,
};
pub use crate::generate::{AASA_PATH, ASSETLINKS_PATH};
use crate::headers::security_headers;
use crate::http::{self, Client, HttpError, Origin};

/// Apple documents this limit for apple-app-site-association (uncompressed); the same
/// bound is applied to assetlinks.json (Google documents none; a file this large is a
/// mistake).
pub const MAX_ASSET_BYTES: usize = 128 * 1024;

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssetProblem {
    /// The file does not exist / the server answered 404.
    Missing,
    /// `MAX_ASSET_BYTES` or more.
    TooLarge(usize),
    /// Not JSON (serde's message).
    InvalidJson(String),
    /// A required field is missing or has the wrong JSON type.
    MissingField,
    /// The legacy `applinks.details[].appID`/`paths` format (iOS 13+ wants `appIDs` + `components`).
    LegacyFormat,
    /// A component's `/` pattern does not start with `/`.
    InvalidComponent,
    /// Not `TEAMID.bundle.id`.
    InvalidAppId,
    /// Not `delegate_permission/common.handle_all_urls`.
    MissingRelation,
    /// `target.namespace` is not `android_app`.
    WrongNamespace,
    /// Not a valid package name.
    InvalidPackageName,
    /// Not 32 upper-case colon-separated hex bytes.
    InvalidFingerprint,
    /// The server answered with a redirect (platforms do not follow it): status, `Location`.
    Redirect(u16, Option<String>),
    /// The server answered with another non-200 status.
    Status(u16),
    /// `Content-Type` is not the one required (value found, media type required).
    WrongContentType(String, &'static str),
    /// The body came compressed although the request asked for identity (value found).
    ContentEncoding(String),
    /// The served file is valid but not what the config generates (an old deployment?).
    DiffersFromConfig,
    /// A required security header is missing.
    MissingHeader(&'static str),
    /// A security header has a different value (value found).
    WrongHeader(&'static str, String),
    /// The request failed.
    Http(String),
}

/// One finding: which file (or URL path), which field, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetError {
    /// The file or URL path checked.
    pub file: String,
    /// JSON path inside the file (empty for the whole file).
    pub field: String,
    /// What is wrong.
    pub problem: AssetProblem,
}

impl fmt::Display for AssetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.problem {
            AssetProblem::Missing => "missing".to_owned(),
            AssetProblem::TooLarge(n) => format!("{n} bytes or more, must be under {MAX_ASSET_BYTES}"),
            AssetProblem::InvalidJson(m) => format!("invalid JSON: {m}"),
            AssetProblem::MissingField => "missing or wrong JSON type".to_owned(),
            AssetProblem::LegacyFormat => {
                "legacy appID/paths format; use appIDs + components".to_owned()
            }
            AssetProblem::InvalidComponent => "component \"/\" must start with /".to_owned(),
            AssetProblem::InvalidAppId => "must be TEAMID.bundle.id".to_owned(),
            AssetProblem::MissingRelation => {
                "must include delegate_permission/common.handle_all_urls".to_owned()
            }
            AssetProblem::WrongNamespace => "must be android_app".to_owned(),
            AssetProblem::InvalidPackageName => "invalid Android package name".to_owned(),
            AssetProblem::InvalidFingerprint => {
                "must be 32 upper-case hex bytes separated by colons".to_owned()
            }
            AssetProblem::Redirect(s, location) => format!(
                "answered {s} (Location: {}): must answer 200 itself, iOS and Android do not follow redirects",
                location.as_deref().unwrap_or("none")
            ),
            AssetProblem::Status(s) => format!("answered {s}, expected 200"),
            AssetProblem::WrongContentType(c, want) => {
                format!("Content-Type is {c:?}, must be {want}")
            }
            AssetProblem::ContentEncoding(c) => format!(
                "served with Content-Encoding {c:?} although the request accepted only identity"
            ),
            AssetProblem::DiffersFromConfig => {
                "differs from what the config generates (deploy the current build)".to_owned()
            }
            AssetProblem::MissingHeader(h) => format!("header {h} missing"),
            AssetProblem::WrongHeader(h, v) => format!("header {h} is {v:?}"),
            AssetProblem::Http(e) => e.clone(),
        };
        if self.field.is_empty() {
            write!(f, "{}: {what}", self.file)
        } else {
            write!(f, "{} {}: {what}", self.file, self.field)
        }
    }
}

struct Findings<'a> {
    file: &'a str,
    errors: Vec<AssetError>,
}

impl Findings<'_> {
    fn add(&mut self, field: impl Into<String>, problem: AssetProblem) {
        self.errors.push(AssetError {
            file: self.file.to_owned(),
            field: field.into(),
            problem,
        });
    }
}

fn parse_json(f: &mut Findings<'_>, bytes: &[u8]) -> Option<Value> {
    if bytes.len() >= MAX_ASSET_BYTES {
        f.add("", AssetProblem::TooLarge(bytes.len()));
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            f.add("", AssetProblem::InvalidJson(e.to_string()));
            None
        }
    }
}

/// Checks the body of an apple-app-site-association file.
pub fn check_aasa(file: &str, bytes: &[u8]) -> Vec<AssetError> {
    let mut f = Findings {
        file,
        errors: vec![],
    };
    let Some(v) = parse_json(&mut f, bytes) else {
        return f.errors;
    };
    let Some(details) = v
        .pointer("/applinks/details")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    else {
        f.add("applinks.details", AssetProblem::MissingField);
        return f.errors;
    };
    for (i, d) in details.iter().enumerate() {
        if d.get("appID").is_some() || d.get("paths").is_some() {
            f.add(format!("applinks.details[{i}]"), AssetProblem::LegacyFormat);
            continue;
        }
        match d
            .get("appIDs")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            None => f.add(
                format!("applinks.details[{i}].appIDs"),
                AssetProblem::MissingField,
            ),
            Some(ids) => {
                for (j, id) in ids.iter().enumerate() {
                    if !id.as_str().is_some_and(is_valid_ios_app_id) {
                        f.add(
                            format!("applinks.details[{i}].appIDs[{j}]"),
                            AssetProblem::InvalidAppId,
                        );
                    }
                }
            }
        }
        match d
            .get("components")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            None => f.add(
                format!("applinks.details[{i}].components"),
                AssetProblem::MissingField,
            ),
            Some(cs) => {
                for (j, c) in cs.iter().enumerate() {
                    match c.get("/").map(Value::as_str) {
                        None => {} // components may match on "?" or "#" only
                        Some(Some(p)) if p.starts_with('/') || p == "*" => {}
                        Some(_) => f.add(
                            format!("applinks.details[{i}].components[{j}]./"),
                            AssetProblem::InvalidComponent,
                        ),
                    }
                }
            }
        }
    }
    f.errors
}

/// Checks the body of an assetlinks.json file.
pub fn check_assetlinks(file: &str, bytes: &[u8]) -> Vec<AssetError> {
    let mut f = Findings {
        file,
        errors: vec![],
    };
    let Some(v) = parse_json(&mut f, bytes) else {
        return f.errors;
    };
    let Some(statements) = v.as_array().filter(|a| !a.is_empty()) else {
        f.add("[]", AssetProblem::MissingField);
        return f.errors;
    };
    for (i, s) in statements.iter().enumerate() {
        let has_relation = s
            .get("relation")
            .and_then(Value::as_array)
            .is_some_and(|r| {
                r.iter()
                    .any(|x| x == "delegate_permission/common.handle_all_urls")
            });
        if !has_relation {
            f.add(format!("[{i}].relation"), AssetProblem::MissingRelation);
        }
        if s.pointer("/target/namespace").and_then(Value::as_str) != Some("android_app") {
            f.add(
                format!("[{i}].target.namespace"),
                AssetProblem::WrongNamespace,
            );
        }
        if !s
            .pointer("/target/package_name")
            .and_then(Value::as_str)
            .is_some_and(is_valid_package_name)
        {
            f.add(
                format!("[{i}].target.package_name"),
                AssetProblem::InvalidPackageName,
            );
        }
        match s
            .pointer("/target/sha256_cert_fingerprints")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            None => f.add(
                format!("[{i}].target.sha256_cert_fingerprints"),
                AssetProblem::MissingField,
            ),
            Some(fps) => {
                for (j, fp) in fps.iter().enumerate() {
                    if !fp.as_str().is_some_and(is_valid_fingerprint) {
                        f.add(
                            format!("[{i}].target.sha256_cert_fingerprints[{j}]"),
                            AssetProblem::InvalidFingerprint,
                        );
                    }
                }
            }
        }
    }
    f.errors
}

/// The app-link document root of a build output directory (or `dir` itself when it
/// already is one).
pub fn app_link_root(dir: &Path) -> std::path::PathBuf {
    let nested = dir.join(APP_LINK_ROOT);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Checks both asset files in a built site directory (the build output or its
/// `app-link/` root); with `config`, also that they are what it generates.
pub fn check_dir(dir: &Path, config: Option<&SiteConfig>) -> Vec<AssetError> {
    let root = app_link_root(dir);
    let mut errors = Vec::new();
    for (path, check) in [
        (AASA_PATH, check_aasa as fn(&str, &[u8]) -> Vec<AssetError>),
        (ASSETLINKS_PATH, check_assetlinks),
    ] {
        let file = root.join(path.trim_start_matches('/'));
        let name = file.display().to_string();
        match std::fs::read(&file) {
            Ok(bytes) => {
                let found = check(&name, &bytes);
                if found.is_empty() && !matches_config(path, &bytes, config) {
                    errors.push(url_error(&name, AssetProblem::DiffersFromConfig));
                }
                errors.extend(found);
            }
            Err(_) => errors.push(AssetError {
                file: name,
                field: String::new(),
                problem: AssetProblem::Missing,
            }),
        }
    }
    errors
}

/// True when `bytes` is the JSON the config generates for `path` (or there is no config).
fn matches_config(path: &str, bytes: &[u8], config: Option<&SiteConfig>) -> bool {
    let Some(config) = config else {
        return true;
    };
    let want = if path == AASA_PATH {
        apple_app_site_association(config)
    } else {
        assetlinks(config)
    };
    serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v == want)
}

fn url_error(file: &str, problem: AssetProblem) -> AssetError {
    AssetError {
        file: file.to_owned(),
        field: String::new(),
        problem,
    }
}

/// The media types accepted for a file served with `content_type`.
fn accepted_media_types(content_type: &str) -> &'static [&'static str] {
    match content_type.split(';').next().unwrap_or_default() {
        "text/html" => &["text/html"],
        "text/javascript" => &["text/javascript", "application/javascript"],
        "text/css" => &["text/css"],
        "application/wasm" => &["application/wasm"],
        _ => &["application/json"],
    }
}

/// What `check --url` / `--live` looks at.
#[derive(Debug, Clone, Default)]
pub struct Targets<'a> {
    /// Base URL serving the redirect pages (the page origin).
    pub page: Option<&'a str>,
    /// Base URL serving the asset files and app-not-installed pages (the app-link origin).
    pub app_link: Option<&'a str>,
    /// Trust this CA file besides the system's roots.
    pub ca: Option<&'a Path>,
}

/// Checks a served site. Without `config` only the two asset files are checked.
pub fn check_served(targets: &Targets<'_>, config: Option<&SiteConfig>) -> Vec<AssetError> {
    let mut client = Client::new(targets.ca);
    let mut errors = Vec::new();
    let files = config.map(public_files);
    let hsts = config.map(|c| c.hsts_max_age);
    for (base, list) in [
        (
            targets.app_link,
            files
                .as_ref()
                .map(|f| f.app_link.clone())
                .unwrap_or_else(|| {
                    [AASA_PATH, ASSETLINKS_PATH]
                        .map(|p| PublicFile {
                            url_path: p.to_owned(),
                            file: p.trim_start_matches('/').to_owned(),
                            content_type: "application/json",
                            kind: FileKind::DeepLinkFile,
                        })
                        .to_vec()
                }),
        ),
        (
            targets.page,
            files.as_ref().map(|f| f.page.clone()).unwrap_or_default(),
        ),
    ] {
        let Some(base) = base else { continue };
        let origin = match Origin::parse(base) {
            Ok(o) => o,
            Err(e) => {
                errors.push(url_error(base, AssetProblem::Http(e.to_string())));
                continue;
            }
        };
        for f in &list {
            let name = format!("{}{}", base.trim_end_matches('/'), f.url_path);
            match client.get(&origin, &f.url_path) {
                Ok(resp) => errors.extend(check_response(&name, f, &resp, hsts, config)),
                // A TLS or connection failure is the same for every file: report it once.
                Err(
                    e @ (HttpError::Connect(_)
                    | HttpError::CertificateUntrusted(_)
                    | HttpError::CertificateWrongHost(_)
                    | HttpError::CertificateExpired
                    | HttpError::CertificateNotYetValid
                    | HttpError::Tls(_)
                    | HttpError::CaUnreadable(..)
                    | HttpError::CaEmpty(_)
                    | HttpError::CaInvalid(_)
                    | HttpError::NoRoots),
                ) => {
                    errors.push(url_error(base, AssetProblem::Http(e.to_string())));
                    break;
                }
                Err(HttpError::BodyTooLarge) => {
                    errors.push(url_error(&name, AssetProblem::TooLarge(http::MAX_RESPONSE)));
                }
                Err(e) => errors.push(url_error(&name, AssetProblem::Http(e.to_string()))),
            }
        }
    }
    errors
}

/// Checks one response against what `file` must be.
fn check_response(
    name: &str,
    file: &PublicFile,
    resp: &http::Response,
    hsts: Option<u64>,
    config: Option<&SiteConfig>,
) -> Vec<AssetError> {
    let mut errors = Vec::new();
    match resp.status {
        200 => {}
        404 => return vec![url_error(name, AssetProblem::Missing)],
        s @ 300..=399 => {
            return vec![url_error(
                name,
                AssetProblem::Redirect(s, resp.header("location").map(str::to_owned)),
            )]
        }
        s => return vec![url_error(name, AssetProblem::Status(s))],
    }
    let ct = resp.header("content-type").unwrap_or_default();
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let accepted = accepted_media_types(file.content_type);
    if !accepted.contains(&media.as_str()) {
        errors.push(url_error(
            name,
            AssetProblem::WrongContentType(
                ct.to_owned(),
                accepted.first().copied().unwrap_or_default(),
            ),
        ));
    }
    if let Some(enc) = resp
        .header("content-encoding")
        .filter(|e| !e.eq_ignore_ascii_case("identity"))
    {
        errors.push(url_error(
            name,
            AssetProblem::ContentEncoding(enc.to_owned()),
        ));
        return errors;
    }
    match file.kind {
        FileKind::DeepLinkFile => {
            let found = if file.url_path == AASA_PATH {
                check_aasa(name, &resp.body)
            } else {
                check_assetlinks(name, &resp.body)
            };
            if found.is_empty() && !matches_config(&file.url_path, &resp.body, config) {
                errors.push(url_error(name, AssetProblem::DiffersFromConfig));
            }
            errors.extend(found);
        }
        FileKind::RedirectPage | FileKind::NotInstalledPage => {
            errors.extend(check_headers(name, resp, hsts));
        }
        FileKind::Asset => {}
    }
    errors
}

/// Checks that every security header is present (exact values where they are fixed).
pub fn check_headers(
    name: &str,
    resp: &http::Response,
    hsts_max_age: Option<u64>,
) -> Vec<AssetError> {
    let mut errors = Vec::new();
    for (header, want) in security_headers(hsts_max_age.unwrap_or(0)) {
        match resp.header(&header.to_ascii_lowercase()) {
            None => errors.push(url_error(name, AssetProblem::MissingHeader(header))),
            Some(_) if header == "Strict-Transport-Security" && hsts_max_age.is_none() => {}
            Some(v) if v != want => errors.push(url_error(
                name,
                AssetProblem::WrongHeader(header, v.to_owned()),
            )),
            Some(_) => {}
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Mode};

    const FP: &str =
        "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

    fn problems(errors: Vec<AssetError>) -> Vec<(String, AssetProblem)> {
        errors.into_iter().map(|e| (e.field, e.problem)).collect()
    }

    #[test]
    fn generated_files_pass() {
        let c = parse(include_str!("../../../www/site.json"), Mode::Deployment).unwrap();
        let aasa = serde_json::to_vec(&apple_app_site_association(&c)).unwrap();
        let links = serde_json::to_vec(&assetlinks(&c)).unwrap();
        assert_eq!(check_aasa("aasa", &aasa), vec![]);
        assert_eq!(check_assetlinks("links", &links), vec![]);
    }

    #[test]
    fn aasa_problems() {
        assert_eq!(
            problems(check_aasa(
                "a",
                br#"{"applinks":{"details":[{"appID":"ABCDE12345.a.b","paths":["*"]}]}}"#
            )),
            vec![("applinks.details[0]".into(), AssetProblem::LegacyFormat)]
        );
        assert_eq!(
            problems(check_aasa(
                "a",
                br#"{"applinks":{"details":[{"appIDs":["abc.a.b"],"components":[{"/":"x"},{"?":{"code":"?*"}}]}]}}"#
            )),
            vec![
                ("applinks.details[0].appIDs[0]".into(), AssetProblem::InvalidAppId),
                ("applinks.details[0].components[0]./".into(), AssetProblem::InvalidComponent),
            ]
        );
        assert_eq!(
            problems(check_aasa("a", br#"{"applinks":{}}"#)),
            vec![("applinks.details".into(), AssetProblem::MissingField)]
        );
        assert!(matches!(
            problems(check_aasa("a", b"{"))[0].1,
            AssetProblem::InvalidJson(_)
        ));
        let big = format!(
            r#"{{"applinks":{{"details":[{{"appIDs":["ABCDE12345.a.b"],"components":[{{"/":"/x","comment":"{}"}}]}}]}}}}"#,
            "x".repeat(MAX_ASSET_BYTES)
        );
        assert!(matches!(
            problems(check_aasa("a", big.as_bytes()))[0].1,
            AssetProblem::TooLarge(_)
        ));
    }

    #[test]
    fn assetlinks_problems() {
        let bad = serde_json::json!([{
            "relation": ["delegate_permission/common.get_login_creds"],
            "target": {"namespace": "web", "package_name": "app", "sha256_cert_fingerprints": [FP.to_lowercase()]}
        }]);
        assert_eq!(
            problems(check_assetlinks("l", bad.to_string().as_bytes())),
            vec![
                ("[0].relation".into(), AssetProblem::MissingRelation),
                ("[0].target.namespace".into(), AssetProblem::WrongNamespace),
                (
                    "[0].target.package_name".into(),
                    AssetProblem::InvalidPackageName
                ),
                (
                    "[0].target.sha256_cert_fingerprints[0]".into(),
                    AssetProblem::InvalidFingerprint
                ),
            ]
        );
        assert_eq!(
            problems(check_assetlinks("l", b"{}")),
            vec![("[]".into(), AssetProblem::MissingField)]
        );
    }

    #[test]
    fn missing_files_in_dir() {
        let dir = std::env::temp_dir().join(format!("tollgate-check-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let errs = check_dir(&dir, None);
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.problem == AssetProblem::Missing));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn config() -> SiteConfig {
        parse(include_str!("../../../www/site.json"), Mode::Deployment).unwrap()
    }

    /// A built site (fake Wasm package) in a fresh directory.
    fn built_site(tag: &str) -> std::path::PathBuf {
        let tmp = std::env::temp_dir().join(format!("tollgate-check-{tag}-{}", std::process::id()));
        let pkg = tmp.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for f in crate::generate::PKG_FILES {
            std::fs::write(pkg.join(f), f).unwrap();
        }
        let out = tmp.join("www");
        crate::generate::build(&config(), &pkg, &crate::generate::Assets::Embedded, &out).unwrap();
        out
    }

    #[test]
    fn a_built_dir_passes_and_a_stale_one_is_named() {
        let out = built_site("dir");
        assert_eq!(check_dir(&out, Some(&config())), vec![]);
        assert_eq!(check_dir(&out.join("app-link"), Some(&config())), vec![]);
        let mut other = config();
        other.apps[0].ios_app_ids = vec!["ZYXWV98765.com.example.app".into()];
        let errs = check_dir(&out, Some(&other));
        assert_eq!(
            errs.iter().map(|e| &e.problem).collect::<Vec<_>>(),
            vec![&AssetProblem::DiffersFromConfig]
        );
        assert!(errs[0]
            .file
            .ends_with("app-link/.well-known/apple-app-site-association"));
    }

    /// A correct server for one document root: the file for the path, its type, every header.
    fn serve_root(root: std::path::PathBuf) -> impl Fn(&str) -> Vec<u8> + Send + Sync + 'static {
        move |path: &str| match crate::serve::resolve(&root, path) {
            crate::serve::Resolved::File(file, ct) => {
                let mut headers: Vec<(&str, String)> = vec![("Content-Type", ct.to_owned())];
                headers.extend(security_headers(config().hsts_max_age));
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                ts::response("200 OK", &headers, &std::fs::read(file).unwrap())
            }
            crate::serve::Resolved::NotFound => ts::response("404 Not Found", &[], b""),
        }
    }

    use crate::testserver as ts;

    fn https_pair(ca: &ts::TestCa, out: &Path) -> (String, String) {
        let tls = ca.server(&["127.0.0.1", "localhost"], false);
        (
            ts::start(Some(tls.clone()), serve_root(out.join("page"))),
            ts::start(Some(tls), serve_root(out.join("app-link"))),
        )
    }

    #[test]
    fn a_correct_https_site_passes() {
        let out = built_site("https-ok");
        let ca = ts::TestCa::new("check ok");
        let ca_file = ca.write_pem("ok");
        let (page, app_link) = https_pair(&ca, &out);
        let targets = Targets {
            page: Some(&page),
            app_link: Some(&app_link),
            ca: Some(&ca_file),
        };
        assert_eq!(check_served(&targets, Some(&config())), vec![]);
        // Without the config only the two asset files are fetched, and they pass too.
        let only_assets = Targets {
            page: None,
            ..targets
        };
        assert_eq!(check_served(&only_assets, None), vec![]);
    }

    /// One misconfigured server per case; each failure is reported as its own problem.
    #[test]
    fn each_misconfiguration_is_reported_specifically() {
        let out = built_site("https-bad");
        let ca = ts::TestCa::new("check bad");
        let ca_file = ca.write_pem("bad");
        let tls = ca.server(&["127.0.0.1"], false);
        let aasa = AASA_PATH;
        let links = ASSETLINKS_PATH;
        let big = format!(
            "{{\"applinks\":{{\"details\":[]}},\"pad\":\"{}\"}}",
            "x".repeat(MAX_ASSET_BYTES)
        );
        let other_aasa = r#"{"applinks":{"details":[{"appIDs":["ZYXWV98765.com.example.app"],"components":[{"/":"/example/callback"}]}]}}"#;
        type Case = (&'static str, &'static str, Vec<u8>, AssetProblem);
        let json = [("Content-Type", "application/json")];
        let cases: Vec<Case> = vec![
            (
                "app-link",
                aasa,
                ts::response(
                    "301 Moved Permanently",
                    &[("Location", "https://www.example.com/aasa")],
                    b"",
                ),
                AssetProblem::Redirect(301, Some("https://www.example.com/aasa".into())),
            ),
            (
                "app-link",
                links,
                ts::response("302 Found", &[], b""),
                AssetProblem::Redirect(302, None),
            ),
            (
                "app-link",
                links,
                ts::response("200 OK", &[("Content-Type", "text/plain")], b"[]"),
                AssetProblem::WrongContentType("text/plain".into(), "application/json"),
            ),
            (
                "app-link",
                aasa,
                ts::response("200 OK", &json, big.as_bytes()),
                AssetProblem::TooLarge(big.len()),
            ),
            (
                "app-link",
                aasa,
                ts::response(
                    "200 OK",
                    &[
                        ("Content-Type", "application/json"),
                        ("Content-Encoding", "gzip"),
                    ],
                    b"\x1f\x8b",
                ),
                AssetProblem::ContentEncoding("gzip".into()),
            ),
            (
                "app-link",
                aasa,
                ts::response("200 OK", &json, other_aasa.as_bytes()),
                AssetProblem::DiffersFromConfig,
            ),
            (
                "app-link",
                links,
                ts::response("503 Service Unavailable", &[], b""),
                AssetProblem::Status(503),
            ),
            (
                "app-link",
                "/example/callback",
                ts::response("404 Not Found", &[], b""),
                AssetProblem::Missing,
            ),
            (
                "page",
                "/example/callback",
                ts::response("200 OK", &[("Content-Type", "text/html")], b"<p>"),
                AssetProblem::MissingHeader("Content-Security-Policy"),
            ),
            (
                "page",
                "/assets/tollgate_redirect_page_bg.wasm",
                ts::response(
                    "200 OK",
                    &[("Content-Type", "application/octet-stream")],
                    b"\0asm",
                ),
                AssetProblem::WrongContentType(
                    "application/octet-stream".into(),
                    "application/wasm",
                ),
            ),
        ];
        for (root, path, raw, want) in cases {
            let good = serve_root(out.join(root));
            let raw = std::sync::Arc::new(raw);
            let base = ts::start(Some(tls.clone()), move |p: &str| {
                if p == path {
                    raw.to_vec()
                } else {
                    good(p)
                }
            });
            let targets = if root == "page" {
                Targets {
                    page: Some(&base),
                    app_link: None,
                    ca: Some(&ca_file),
                }
            } else {
                Targets {
                    page: None,
                    app_link: Some(&base),
                    ca: Some(&ca_file),
                }
            };
            let errors = check_served(&targets, Some(&config()));
            let found: Vec<&AssetProblem> = errors.iter().map(|e| &e.problem).collect();
            // The first problem is the one made here (a missing CSP also lacks the other headers).
            assert_eq!(found.first(), Some(&&want), "{path}: {errors:?}");
            assert!(errors[0].file.ends_with(path), "{}", errors[0]);
        }
        // A wrong header value is named with the value found.
        let mut headers: Vec<(&str, String)> =
            vec![("Content-Type", "text/html; charset=utf-8".into())];
        headers.extend(security_headers(config().hsts_max_age));
        for h in &mut headers {
            if h.0 == "Referrer-Policy" {
                h.1 = "origin".into();
            }
        }
        let page = std::sync::Arc::new(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect::<Vec<_>>(),
        );
        let good = serve_root(out.join("page"));
        let base = ts::start(Some(tls.clone()), move |p: &str| {
            if p == "/example/logout" {
                let h: Vec<(&str, &str)> =
                    page.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                ts::response("200 OK", &h, b"<p>")
            } else {
                good(p)
            }
        });
        let errors = check_served(
            &Targets {
                page: Some(&base),
                app_link: None,
                ca: Some(&ca_file),
            },
            Some(&config()),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].to_string(),
            format!("{base}/example/logout: header Referrer-Policy is \"origin\"")
        );
    }

    fn tls_failure(targets: &Targets<'_>) -> String {
        let errors = check_served(targets, None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        match &errors[0].problem {
            AssetProblem::Http(m) => m.clone(),
            other => panic!("not a connection problem: {other:?}"),
        }
    }

    #[test]
    fn tls_and_connection_failures_are_named() {
        let out = built_site("https-tls");
        let ca = ts::TestCa::new("check tls");
        let ca_file = ca.write_pem("tls");
        let good = |names: &[&str], expired| {
            ts::start(
                Some(ca.server(names, expired)),
                serve_root(out.join("app-link")),
            )
        };

        let base = good(&["127.0.0.1"], false);
        let untrusted = tls_failure(&Targets {
            app_link: Some(&base),
            ..Default::default()
        });
        assert!(
            untrusted.starts_with(
                "TLS certificate not trusted (invalid peer certificate: UnknownIssuer)"
            ),
            "{untrusted}"
        );
        assert!(
            untrusted.ends_with("for a test CA pass --ca FILE"),
            "{untrusted}"
        );

        let other_ca = ts::TestCa::new("someone else").write_pem("other");
        let wrong_ca = tls_failure(&Targets {
            app_link: Some(&base),
            ca: Some(&other_ca),
            ..Default::default()
        });
        assert!(
            wrong_ca.starts_with("TLS certificate not trusted"),
            "{wrong_ca}"
        );

        let base = good(&["localhost"], false);
        let wrong_host = tls_failure(&Targets {
            app_link: Some(&base),
            ca: Some(&ca_file),
            ..Default::default()
        });
        assert!(
            wrong_host.starts_with("TLS certificate is not valid for this host name"),
            "{wrong_host}"
        );

        let base = good(&["127.0.0.1"], true);
        let expired = tls_failure(&Targets {
            app_link: Some(&base),
            ca: Some(&ca_file),
            ..Default::default()
        });
        assert_eq!(expired, "TLS certificate has expired");

        // A port nobody listens on.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("https://{}", l.local_addr().unwrap())
        };
        let refused = tls_failure(&Targets {
            app_link: Some(&closed),
            ca: Some(&ca_file),
            ..Default::default()
        });
        assert!(
            refused.starts_with("cannot connect: 127.0.0.1:"),
            "{refused}"
        );

        // Plain http to a real host is refused before any connection.
        let plain = tls_failure(&Targets {
            app_link: Some("http://mobile.example.com"),
            ..Default::default()
        });
        assert_eq!(plain, "http://mobile.example.com: iOS and Android fetch these files over https only; plain http is accepted only for a loopback server");

        // A plain-http loopback server (tollgate-site serve) is fine.
        let local = ts::start(None, serve_root(out.join("app-link")));
        assert_eq!(
            check_served(
                &Targets {
                    app_link: Some(&local),
                    ..Default::default()
                },
                Some(&config())
            ),
            vec![]
        );
    }

    #[test]
    fn header_check() {
        let mut headers: Vec<(String, String)> = security_headers(60)
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect();
        let ok = http::Response {
            status: 200,
            headers: headers.clone(),
            body: vec![],
        };
        assert_eq!(check_headers("p", &ok, Some(60)), vec![]);
        headers.retain(|(n, _)| n != "referrer-policy");
        headers.iter_mut().for_each(|(n, v)| {
            if n == "content-security-policy" {
                *v = "script-src 'self' 'unsafe-inline'".into();
            }
        });
        let bad = http::Response {
            status: 200,
            headers,
            body: vec![],
        };
        assert_eq!(
            problems(check_headers("p", &bad, Some(60))),
            vec![
                (
                    String::new(),
                    AssetProblem::WrongHeader(
                        "Content-Security-Policy",
                        "script-src 'self' 'unsafe-inline'".into()
                    )
                ),
                (
                    String::new(),
                    AssetProblem::MissingHeader("Referrer-Policy")
                ),
            ]
        );
    }
}
