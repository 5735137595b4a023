//! `tollgate-site check`: the deep-link asset files (in a built directory or over
//! HTTP) and the security headers of a served site.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::config::{is_valid_fingerprint, is_valid_ios_app_id, is_valid_package_name};
use crate::headers::security_headers;
use crate::http;

/// Apple and Google refuse asset files of this size or more.
pub const MAX_ASSET_BYTES: usize = 128 * 1024;
/// The two deep-link asset files, as served.
pub const AASA_PATH: &str = "/.well-known/apple-app-site-association";
/// See [`AASA_PATH`].
pub const ASSETLINKS_PATH: &str = "/.well-known/assetlinks.json";

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
    /// The server answered with a redirect (platforms do not follow it).
    Redirect(u16),
    /// The server answered with another non-200 status.
    Status(u16),
    /// `Content-Type` is not `application/json` (value found).
    WrongContentType(String),
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
            AssetProblem::TooLarge(n) => format!("{n} bytes, must be under {MAX_ASSET_BYTES}"),
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
            AssetProblem::Redirect(s) => format!("answered {s}: asset files must not redirect"),
            AssetProblem::Status(s) => format!("answered {s}, expected 200"),
            AssetProblem::WrongContentType(c) => {
                format!("Content-Type is {c:?}, must be application/json")
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

/// Checks both asset files in a built site directory.
pub fn check_dir(dir: &Path) -> Vec<AssetError> {
    let mut errors = Vec::new();
    for (path, check) in [
        (AASA_PATH, check_aasa as fn(&str, &[u8]) -> Vec<AssetError>),
        (ASSETLINKS_PATH, check_assetlinks),
    ] {
        let file = dir.join(path.trim_start_matches('/'));
        let name = file.display().to_string();
        match std::fs::read(&file) {
            Ok(bytes) => errors.extend(check(&name, &bytes)),
            Err(_) => errors.push(AssetError {
                file: name,
                field: String::new(),
                problem: AssetProblem::Missing,
            }),
        }
    }
    errors
}

fn url_error(file: &str, problem: AssetProblem) -> AssetError {
    AssetError {
        file: file.to_owned(),
        field: String::new(),
        problem,
    }
}

/// Checks the asset files served at `base` (status 200 without redirect,
/// `application/json`, size, content) and, for each of `page_paths`, the security headers.
pub fn check_url(base: &str, page_paths: &[String], hsts_max_age: Option<u64>) -> Vec<AssetError> {
    let mut errors = Vec::new();
    for (path, check) in [
        (AASA_PATH, check_aasa as fn(&str, &[u8]) -> Vec<AssetError>),
        (ASSETLINKS_PATH, check_assetlinks),
    ] {
        let name = format!("{}{path}", base.trim_end_matches('/'));
        let resp = match http::get(base, path) {
            Ok(r) => r,
            Err(e) => {
                errors.push(url_error(&name, AssetProblem::Http(e.to_string())));
                continue;
            }
        };
        match resp.status {
            200 => {}
            404 => {
                errors.push(url_error(&name, AssetProblem::Missing));
                continue;
            }
            s @ 300..=399 => {
                errors.push(url_error(&name, AssetProblem::Redirect(s)));
                continue;
            }
            s => {
                errors.push(url_error(&name, AssetProblem::Status(s)));
                continue;
            }
        }
        let ct = resp.header("content-type").unwrap_or_default();
        if ct.split(';').next().map(str::trim) != Some("application/json") {
            errors.push(url_error(
                &name,
                AssetProblem::WrongContentType(ct.to_owned()),
            ));
        }
        errors.extend(check(&name, &resp.body));
    }
    for path in page_paths {
        let name = format!("{}{path}", base.trim_end_matches('/'));
        match http::get(base, path) {
            Err(e) => errors.push(url_error(&name, AssetProblem::Http(e.to_string()))),
            Ok(resp) if resp.status != 200 => {
                errors.push(url_error(&name, AssetProblem::Status(resp.status)))
            }
            Ok(resp) => errors.extend(check_headers(&name, &resp, hsts_max_age)),
        }
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
    use crate::generate::{apple_app_site_association, assetlinks};

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
        let errs = check_dir(&dir);
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.problem == AssetProblem::Missing));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A misconfigured static host: AASA behind a redirect, assetlinks as text/plain.
    #[test]
    fn served_files_behind_a_redirect_or_with_the_wrong_type_fail() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap() > 2 {
                    header.clear();
                }
                let resp = if line.contains("apple-app-site-association") {
                    "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/aasa\r\nContent-Length: 0\r\n\r\n".to_owned()
                } else {
                    let body = serde_json::to_string(&assetlinks(
                        &parse(include_str!("../../../www/site.json"), Mode::Deployment).unwrap(),
                    ))
                    .unwrap();
                    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                };
                stream.write_all(resp.as_bytes()).unwrap();
            }
        });
        let errors = check_url(&base, &[], None);
        assert_eq!(
            errors.into_iter().map(|e| e.problem).collect::<Vec<_>>(),
            vec![
                AssetProblem::Redirect(301),
                AssetProblem::WrongContentType("text/plain".into())
            ]
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
