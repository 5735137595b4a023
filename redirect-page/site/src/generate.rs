//! Generates the static site from the config and the wasm-bindgen output.
//!
//! Layout of the output directory — two document roots, one per origin, and the
//! files for the people deploying them outside both roots, where no web server
//! configured as documented can serve them:
//!
//! ```text
//! OUT/
//!   .tollgate-site            marker: this directory was written by tollgate-site and may be replaced
//!   nginx-page.conf           nginx snippet for the page_origin server block (root OUT/page)
//!   nginx-app-link.conf       nginx snippet for the app_link_origin server block (root OUT/app-link)
//!   mobile/                   the iOS entitlement and Android intent filters that match the asset files
//!   page/                     document root of page_origin
//!     <login_path>.html, <logout_path>.html     the redirect pages, served at the path without .html
//!     assets/…                                   page.css, boot.js, fallback.js, fallback-data.js, Wasm + glue
//!     _headers                                   Netlify / Cloudflare Pages (never served by them)
//!   app-link/                 document root of app_link_origin
//!     <app_link_login_path>.html, …              the app-not-installed pages
//!     assets/page.css, assets/not-installed.js
//!     .well-known/apple-app-site-association, .well-known/assetlinks.json
//!     _headers
//! ```
//!
//! [`public_files`] is the one list of what each root serves: the builder writes
//! it, the nginx snippets and `_headers` serve exactly it, `check --url` fetches it.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tollgate_redirect_page::error_code::KNOWN_ERRORS;
use tollgate_redirect_page::lang::Lang;
use tollgate_redirect_page::link::MAX_APP_LINK_BYTES;
use tollgate_redirect_page::messages::{messages, not_installed};
use tollgate_redirect_page::params::{Param, MAX_INPUT_BYTES, MAX_PAIRS, MAX_VALUE_BYTES};
use tollgate_redirect_page::screen::{PageKind, META_APP_LINK, META_PAGE};

use crate::config::{AppConfig, SiteConfig};
use crate::headers::{headers_file, nginx_snippet};

/// The page origin's document root inside the output directory.
pub const PAGE_ROOT: &str = "page";
/// The app-link origin's document root inside the output directory.
pub const APP_LINK_ROOT: &str = "app-link";
/// nginx snippet for the page origin (outside both roots).
pub const NGINX_PAGE: &str = "nginx-page.conf";
/// nginx snippet for the app-link origin (outside both roots).
pub const NGINX_APP_LINK: &str = "nginx-app-link.conf";
/// iOS entitlement matching the asset files (outside both roots).
pub const IOS_ENTITLEMENTS: &str = "mobile/associated-domains.entitlements";
/// Android intent filters matching the asset files (outside both roots).
pub const ANDROID_INTENT_FILTERS: &str = "mobile/android-intent-filters.xml";
/// Marker file: the output directory was written by this tool and may be replaced.
pub const MARKER: &str = ".tollgate-site";
/// `<meta id="tollgate-page">` value of the app-not-installed pages.
pub const NOT_INSTALLED_KIND: &str = "not-installed";

/// The two deep-link asset files, as served on the app-link origin.
pub const AASA_PATH: &str = "/.well-known/apple-app-site-association";
/// See [`AASA_PATH`].
pub const ASSETLINKS_PATH: &str = "/.well-known/assetlinks.json";

/// The wasm-bindgen output files the page needs (`--target web`).
pub const PKG_FILES: [&str; 2] = [
    "tollgate_redirect_page.js",
    "tollgate_redirect_page_bg.wasm",
];

/// The hand-written assets of `www/assets`, built into this binary so that a build
/// takes them from the project whatever directory the config is in.
pub const EMBEDDED_ASSETS: [(&str, &[u8]); 4] = [
    ("page.css", include_bytes!("../../../www/assets/page.css")),
    ("boot.js", include_bytes!("../../../www/assets/boot.js")),
    (
        "fallback.js",
        include_bytes!("../../../www/assets/fallback.js"),
    ),
    (
        "not-installed.js",
        include_bytes!("../../../www/assets/not-installed.js"),
    ),
];

/// The names of [`EMBEDDED_ASSETS`].
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    EMBEDDED_ASSETS.iter().map(|(name, _)| *name)
}

/// Why the build failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// An input file is missing or unreadable.
    Input(PathBuf, std::io::Error),
    /// The output could not be written.
    Output(PathBuf, std::io::Error),
    /// The output directory exists, is not empty and was not written by this tool.
    RefuseToOverwrite(PathBuf),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Input(p, e) => write!(
                f,
                "cannot read {}: {e} (build the page first: redirect-page/build.sh)",
                p.display()
            ),
            BuildError::Output(p, e) => write!(f, "cannot write {}: {e}", p.display()),
            BuildError::RefuseToOverwrite(p) => write!(
                f,
                "{} exists and was not written by tollgate-site; choose an empty or new directory",
                p.display()
            ),
        }
    }
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One redirect page of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// App id.
    pub app: String,
    /// Login or logout.
    pub kind: PageKind,
    /// Path on the page origin (`/example/callback`).
    pub path: String,
    /// The app link Continue opens.
    pub app_link: String,
    /// The app link's path: where the app-not-installed page is served on the app-link origin.
    pub app_link_path: String,
}

/// Every redirect page of the config.
pub fn pages(config: &SiteConfig) -> Vec<Page> {
    let mut out = Vec::new();
    for app in &config.apps {
        out.push(Page {
            app: app.id.clone(),
            kind: PageKind::Login,
            path: app.login_path.clone(),
            app_link: config.app_link(&app.app_link_login_path),
            app_link_path: app.app_link_login_path.clone(),
        });
        if let (Some(path), Some(link)) = (&app.logout_path, &app.app_link_logout_path) {
            out.push(Page {
                app: app.id.clone(),
                kind: PageKind::Logout,
                path: path.clone(),
                app_link: config.app_link(link),
                app_link_path: link.clone(),
            });
        }
    }
    out
}

/// What a public file is, for the server configs and the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A redirect page (its request line carries the authorization response).
    RedirectPage,
    /// An app-not-installed page (its request line carries the authorization response).
    NotInstalledPage,
    /// A script, style sheet or the Wasm module.
    Asset,
    /// `apple-app-site-association` or `assetlinks.json`.
    DeepLinkFile,
}

/// One file a document root serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFile {
    /// The request path (`/example/callback`, `/assets/boot.js`).
    pub url_path: String,
    /// The file, relative to the document root (`example/callback.html`).
    pub file: String,
    /// The exact `Content-Type` it is served with.
    pub content_type: &'static str,
    /// What it is.
    pub kind: FileKind,
}

impl PublicFile {
    /// True when the request line may hold an authorization code (keep it out of access logs).
    pub fn carries_response(&self) -> bool {
        matches!(
            self.kind,
            FileKind::RedirectPage | FileKind::NotInstalledPage
        )
    }
}

/// What each document root serves: nothing else is ever served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFiles {
    /// The page origin's files.
    pub page: Vec<PublicFile>,
    /// The app-link origin's files.
    pub app_link: Vec<PublicFile>,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const WASM: &str = "application/wasm";
const JSON: &str = "application/json";

fn html_file(path: &str, kind: FileKind) -> PublicFile {
    PublicFile {
        url_path: path.to_owned(),
        file: format!("{}.html", path.trim_start_matches('/')),
        content_type: HTML,
        kind,
    }
}

fn asset(name: &str, content_type: &'static str) -> PublicFile {
    PublicFile {
        url_path: format!("/assets/{name}"),
        file: format!("assets/{name}"),
        content_type,
        kind: FileKind::Asset,
    }
}

fn deep_link_file(path: &str) -> PublicFile {
    PublicFile {
        url_path: path.to_owned(),
        file: path.trim_start_matches('/').to_owned(),
        content_type: JSON,
        kind: FileKind::DeepLinkFile,
    }
}

/// The public files of both roots for `config`.
pub fn public_files(config: &SiteConfig) -> PublicFiles {
    let pages = pages(config);
    let mut page: Vec<PublicFile> = pages
        .iter()
        .map(|p| html_file(&p.path, FileKind::RedirectPage))
        .collect();
    page.extend([
        asset("page.css", CSS),
        asset("boot.js", JS),
        asset("fallback.js", JS),
        asset("fallback-data.js", JS),
        asset(PKG_FILES[0], JS),
        asset(PKG_FILES[1], WASM),
    ]);
    let mut app_link: Vec<PublicFile> = pages
        .iter()
        .map(|p| html_file(&p.app_link_path, FileKind::NotInstalledPage))
        .collect();
    app_link.extend([
        asset("page.css", CSS),
        asset("not-installed.js", JS),
        deep_link_file(AASA_PATH),
        deep_link_file(ASSETLINKS_PATH),
    ]);
    PublicFiles { page, app_link }
}

/// The HTML of one redirect page. Text is filled in by the Wasm (or the fallback)
/// with `textContent`; the `<noscript>` part is the no-JavaScript view.
pub fn page_html(page: &Page) -> String {
    let en = messages(Lang::En);
    let title = match page.kind {
        PageKind::Login => en.continue_title,
        PageKind::Logout => en.logout_title,
    };
    let mut noscript = String::new();
    for lang in Lang::ALL {
        let m = messages(lang);
        noscript.push_str(&format!(
            "<p lang=\"{}\">{}</p>\n",
            lang.tag(),
            escape_html(m.noscript_body)
        ));
    }
    // Without JavaScript the parameters cannot be copied; the plain app link at least
    // opens the app, which then restarts the sign-in.
    let open_labels: Vec<String> = Lang::ALL
        .into_iter()
        .map(|l| escape_html(messages(l).open_app_label))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<meta id="{META_PAGE}" name="{META_PAGE}" content="{kind}">
<meta id="{META_APP_LINK}" name="{META_APP_LINK}" content="{link}">
<title>{title}</title>
<link rel="stylesheet" href="/assets/page.css">
<script type="module" src="/assets/boot.js"></script>
</head>
<body>
<main>
<h1 id="tg-title">{title}</h1>
<p id="tg-body"></p>
<dl id="tg-error" hidden>
<dt id="tg-error-code-label" hidden></dt>
<dd id="tg-error-code" hidden></dd>
</dl>
<p class="actions"><a id="tg-continue" class="button" rel="noreferrer" hidden></a></p>
<p id="tg-hint" class="hint" hidden></p>
<noscript>
<div id="tg-noscript">
{noscript}<p class="actions"><a id="tg-noscript-link" class="button" rel="noreferrer" href="{link}">{open}</a></p>
</div>
</noscript>
</main>
</body>
</html>
"#,
        kind = page.kind.as_str(),
        link = escape_html(&page.app_link),
        title = escape_html(title),
        open = open_labels.join(" · "),
    )
}

/// The store links of an app's not-installed page: `(label for lang, URL)`.
fn store_links(app: &AppConfig, lang: Lang) -> Vec<(&'static str, String)> {
    let n = not_installed(lang);
    let mut links = Vec::new();
    if let Some(url) = app.app_store_url() {
        links.push((n.app_store_label, url));
    }
    if let Some(url) = app.play_store_url() {
        links.push((n.play_store_label, url));
    }
    links
}

/// The HTML of the app-not-installed page served at an app-link path.
///
/// When the app is not installed, the Universal Link / App Link opens in the browser
/// with the authorization response in the URL. This page is static: it explains that
/// the app is needed and links to the stores from the config. It never reads, shows,
/// logs or forwards the response; `not-installed.js` only removes it from the address
/// bar and history and picks the language. Without JavaScript every language is shown.
pub fn not_installed_html(app: &AppConfig) -> String {
    let en = not_installed(Lang::En);
    let mut sections = String::new();
    for lang in Lang::ALL {
        let n = not_installed(lang);
        let links = store_links(app, lang);
        let actions = if links.is_empty() {
            format!("<p>{}</p>\n", escape_html(n.no_store_body))
        } else {
            let anchors: Vec<String> = links
                .iter()
                .map(|(label, url)| {
                    format!(
                        "<a class=\"button\" rel=\"noreferrer\" href=\"{}\">{}</a>",
                        escape_html(url),
                        escape_html(label)
                    )
                })
                .collect();
            format!("<p class=\"actions\">{}</p>\n", anchors.join("\n"))
        };
        sections.push_str(&format!(
            "<section lang=\"{tag}\" data-lang=\"{tag}\">\n<h1>{title}</h1>\n<p>{body}</p>\n{actions}<p class=\"hint\">{hint}</p>\n</section>\n",
            tag = lang.tag(),
            title = escape_html(n.title),
            body = escape_html(n.body),
            hint = escape_html(n.installed_hint),
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<meta id="{META_PAGE}" name="{META_PAGE}" content="{NOT_INSTALLED_KIND}">
<title>{title}</title>
<link rel="stylesheet" href="/assets/page.css">
<script type="module" src="/assets/not-installed.js"></script>
</head>
<body>
<main>
{sections}</main>
</body>
</html>
"#,
        title = escape_html(en.title),
    )
}

/// `fallback-data.js`: the allow-list, limits, known error codes and messages of the
/// page crate, for the plain-JavaScript fallback (no WebAssembly). Generated so both
/// implementations agree.
pub fn fallback_data_js() -> String {
    let params: Vec<&str> = Param::ALL.into_iter().map(Param::name).collect();
    let mut msgs = serde_json::Map::new();
    for lang in Lang::ALL {
        let entries: serde_json::Map<String, Value> = messages(lang)
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect();
        msgs.insert(lang.tag().to_owned(), Value::Object(entries));
    }
    let errors: serde_json::Map<String, Value> = KNOWN_ERRORS
        .into_iter()
        .map(|(code, message)| (code.to_owned(), Value::from(message.key())))
        .collect();
    format!(
        "// Generated by tollgate-site from the tollgate-redirect-page crate; do not edit.\n\
         export const PARAMS = {};\n\
         export const LIMITS = {};\n\
         export const META = {};\n\
         export const ERRORS = {};\n\
         export const MESSAGES = {};\n",
        json!(params),
        json!({"input": MAX_INPUT_BYTES, "value": MAX_VALUE_BYTES, "pairs": MAX_PAIRS, "appLink": MAX_APP_LINK_BYTES}),
        json!({"page": META_PAGE, "appLink": META_APP_LINK}),
        Value::Object(errors),
        Value::Object(msgs),
    )
}

/// `/.well-known/apple-app-site-association` (modern `applinks.details[].appIDs` +
/// `components` format): each app's app-link paths, any query and fragment.
pub fn apple_app_site_association(config: &SiteConfig) -> Value {
    let details: Vec<Value> = config
        .apps
        .iter()
        .filter(|app| !app.ios_app_ids.is_empty())
        .map(|app| {
            let mut components = vec![json!({"/": app.app_link_login_path, "comment": format!("{}: sign-in response", app.id)})];
            if let Some(p) = &app.app_link_logout_path {
                components.push(json!({"/": p, "comment": format!("{}: sign-out return", app.id)}));
            }
            json!({"appIDs": app.ios_app_ids, "components": components})
        })
        .collect();
    json!({"applinks": {"details": details}})
}

/// `/.well-known/assetlinks.json`: one statement per Android package.
pub fn assetlinks(config: &SiteConfig) -> Value {
    let statements: Vec<Value> = config
        .apps
        .iter()
        .flat_map(|app| app.android.iter())
        .map(|a| {
            json!({
                "relation": ["delegate_permission/common.handle_all_urls"],
                "target": {
                    "namespace": "android_app",
                    "package_name": a.package_name,
                    "sha256_cert_fingerprints": a.sha256_cert_fingerprints,
                }
            })
        })
        .collect();
    Value::Array(statements)
}

/// The app-link host as the platforms name it (no scheme, no port).
fn app_link_host(config: &SiteConfig) -> &str {
    let rest = config
        .app_link_origin
        .split_once("://")
        .map_or(config.app_link_origin.as_str(), |(_, r)| r);
    rest.split(':').next().unwrap_or(rest)
}

/// The iOS Associated Domains entitlement that matches the apple-app-site-association file.
pub fn ios_entitlements(config: &SiteConfig) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Generated by tollgate-site: the Associated Domains entitlement of every iOS app in the config
     ({apps}). The app-link domain only, never the page domain. -->
<plist version="1.0">
<dict>
	<key>com.apple.developer.associated-domains</key>
	<array>
		<string>applinks:{host}</string>
	</array>
</dict>
</plist>
"#,
        apps = config
            .apps
            .iter()
            .flat_map(|a| a.ios_app_ids.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        host = escape_html(app_link_host(config)),
    )
}

/// The Android intent filters (with `autoVerify`) that match assetlinks.json.
pub fn android_intent_filters(config: &SiteConfig) -> String {
    let mut out = String::from(
        "<!-- Generated by tollgate-site: one intent filter per app, for the AndroidManifest.xml <activity>\n     that receives the sign-in response (AppAuth: net.openid.appauth.RedirectUriReceiverActivity). -->\n",
    );
    for app in config.apps.iter().filter(|a| !a.android.is_empty()) {
        let packages: Vec<&str> = app
            .android
            .iter()
            .map(|a| a.package_name.as_str())
            .collect();
        out.push_str(&format!(
            "<!-- {} ({}) -->\n<intent-filter android:autoVerify=\"true\">\n    <action android:name=\"android.intent.action.VIEW\" />\n    <category android:name=\"android.intent.category.DEFAULT\" />\n    <category android:name=\"android.intent.category.BROWSABLE\" />\n    <data android:scheme=\"https\" android:host=\"{}\" />\n",
            escape_html(&app.id),
            escape_html(&packages.join(", ")),
            escape_html(app_link_host(config)),
        ));
        for path in std::iter::once(&app.app_link_login_path).chain(&app.app_link_logout_path) {
            out.push_str(&format!(
                "    <data android:path=\"{}\" />\n",
                escape_html(path)
            ));
        }
        out.push_str("</intent-filter>\n");
    }
    out
}

fn write(out: &Path, rel: &str, contents: &[u8]) -> Result<(), BuildError> {
    let path = out.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| BuildError::Output(parent.to_path_buf(), e))?;
    }
    fs::write(&path, contents).map_err(|e| BuildError::Output(path, e))
}

fn read(path: PathBuf) -> Result<Vec<u8>, BuildError> {
    fs::read(&path).map_err(|e| BuildError::Input(path, e))
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

/// Where the build takes the hand-written assets from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assets {
    /// The copies built into this binary from the project's `www/assets` (the default).
    Embedded,
    /// A directory with the same file names (for working on the assets without rebuilding).
    Dir(PathBuf),
}

impl Assets {
    fn load(&self) -> Result<Vec<(&'static str, Vec<u8>)>, BuildError> {
        match self {
            Assets::Embedded => Ok(EMBEDDED_ASSETS
                .iter()
                .map(|(name, bytes)| (*name, bytes.to_vec()))
                .collect()),
            Assets::Dir(dir) => asset_names()
                .map(|name| Ok((name, read(dir.join(name))?)))
                .collect(),
        }
    }
}

fn write_site(
    config: &SiteConfig,
    pkg_files: &[(&str, Vec<u8>)],
    assets: &[(&str, Vec<u8>)],
    out: &Path,
) -> Result<Vec<Page>, BuildError> {
    write(out, MARKER, b"written by tollgate-site build\n")?;
    let pages = pages(config);
    let files = public_files(config);
    let asset = |name: &str| -> &[u8] {
        assets
            .iter()
            .chain(pkg_files.iter())
            .find(|(n, _)| *n == name)
            .map_or(&[], |(_, b)| b.as_slice())
    };
    let fallback_data = fallback_data_js();
    let aasa = pretty(&apple_app_site_association(config));
    let links = pretty(&assetlinks(config));
    for (root, list) in [(PAGE_ROOT, &files.page), (APP_LINK_ROOT, &files.app_link)] {
        for f in list {
            let bytes: Vec<u8> = match f.kind {
                FileKind::RedirectPage => pages
                    .iter()
                    .find(|p| p.path == f.url_path)
                    .map(page_html)
                    .unwrap_or_default()
                    .into_bytes(),
                FileKind::NotInstalledPage => pages
                    .iter()
                    .find(|p| p.app_link_path == f.url_path)
                    .and_then(|p| config.apps.iter().find(|a| a.id == p.app))
                    .map(not_installed_html)
                    .unwrap_or_default()
                    .into_bytes(),
                FileKind::Asset if f.url_path == "/assets/fallback-data.js" => {
                    fallback_data.clone().into_bytes()
                }
                FileKind::Asset => asset(f.file.trim_start_matches("assets/")).to_vec(),
                FileKind::DeepLinkFile if f.url_path == AASA_PATH => aasa.clone(),
                FileKind::DeepLinkFile => links.clone(),
            };
            write(out, &format!("{root}/{}", f.file), &bytes)?;
        }
        write(
            out,
            &format!("{root}/_headers"),
            headers_file(config.hsts_max_age, list).as_bytes(),
        )?;
    }
    write(
        out,
        NGINX_PAGE,
        nginx_snippet(
            config.hsts_max_age,
            &config.page_origin,
            PAGE_ROOT,
            &files.page,
        )
        .as_bytes(),
    )?;
    write(
        out,
        NGINX_APP_LINK,
        nginx_snippet(
            config.hsts_max_age,
            &config.app_link_origin,
            APP_LINK_ROOT,
            &files.app_link,
        )
        .as_bytes(),
    )?;
    write(out, IOS_ENTITLEMENTS, ios_entitlements(config).as_bytes())?;
    write(
        out,
        ANDROID_INTENT_FILTERS,
        android_intent_filters(config).as_bytes(),
    )?;
    Ok(pages)
}

/// Builds the site into `out` (replacing an earlier build there). Returns the pages.
pub fn build(
    config: &SiteConfig,
    pkg: &Path,
    assets: &Assets,
    out: &Path,
) -> Result<Vec<Page>, BuildError> {
    // Read every input first so a missing one leaves an earlier build untouched.
    let pkg_files = PKG_FILES
        .iter()
        .map(|f| Ok((*f, read(pkg.join(f))?)))
        .collect::<Result<Vec<_>, BuildError>>()?;
    let asset_files = assets.load()?;

    if out.exists() {
        let empty = fs::read_dir(out)
            .map_err(|e| BuildError::Output(out.to_path_buf(), e))?
            .next()
            .is_none();
        if !empty && !out.join(MARKER).is_file() {
            return Err(BuildError::RefuseToOverwrite(out.to_path_buf()));
        }
    }
    // Write into a sibling directory and swap it in with renames, so a server or a
    // parallel build never sees a half-written site.
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sibling = |tag: &str| out.with_file_name(format!(".{name}.{tag}-{}", std::process::id()));
    let staging = sibling("new");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| BuildError::Output(staging.clone(), e))?;
    }
    let pages = match write_site(config, &pkg_files, &asset_files, &staging) {
        Ok(pages) => pages,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let old = sibling("old");
    if out.exists() {
        fs::rename(out, &old).map_err(|e| BuildError::Output(out.to_path_buf(), e))?;
    }
    fs::rename(&staging, out).map_err(|e| BuildError::Output(out.to_path_buf(), e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| BuildError::Output(old.clone(), e))?;
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Mode};

    fn config() -> SiteConfig {
        parse(include_str!("../../../www/site.json"), Mode::Deployment).unwrap()
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    fn assert_no_inline_code(html: &str) {
        assert_eq!(html.matches("<script").count(), 1);
        for tag in html.split('<').filter_map(|t| t.split('>').next()) {
            assert!(
                !tag.split_whitespace()
                    .skip(1)
                    .any(|attr| attr.starts_with("on")),
                "inline event handler in <{tag}>"
            );
        }
        assert!(!html.contains("style="));
    }

    #[test]
    fn page_carries_config_in_meta_and_no_inline_script() {
        let c = config();
        let pages = pages(&c);
        let login = pages.iter().find(|p| p.kind == PageKind::Login).unwrap();
        let html = page_html(login);
        assert!(html.contains(&format!(
            "<meta id=\"tollgate-app-link\" name=\"tollgate-app-link\" content=\"{}\">",
            login.app_link
        )));
        assert!(
            html.contains("<meta id=\"tollgate-page\" name=\"tollgate-page\" content=\"login\">")
        );
        // The only script is the external module; no inline script, no inline handlers, no style attributes.
        assert!(html.contains("<script type=\"module\" src=\"/assets/boot.js\"></script>"));
        assert_no_inline_code(&html);
        assert!(html.contains("<noscript>"));
        assert!(html.contains("lang=\"de\""));
        // The error screen has a place for a known code only, none for a description.
        assert!(html.contains("id=\"tg-error-code\""));
        assert!(!html.contains("tg-error-desc"));
    }

    #[test]
    fn not_installed_page_links_to_the_stores_and_nothing_else() {
        let c = config();
        let html = not_installed_html(&c.apps[0]);
        assert!(html.contains("<script type=\"module\" src=\"/assets/not-installed.js\"></script>"));
        assert_no_inline_code(&html);
        let hrefs: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        let mut distinct = hrefs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct,
            vec![
                "/assets/page.css",
                "https://apps.apple.com/app/id1234567890",
                "https://play.google.com/store/apps/details?id=com.example.app",
            ]
        );
        for lang in Lang::ALL {
            assert!(html.contains(&escape_html(not_installed(lang).title)));
        }
        assert!(html.contains("content=\"not-installed\""));
        assert!(!html.contains(META_APP_LINK), "no app link on this page");
    }

    #[test]
    fn not_installed_page_without_store_links_says_where_to_ask() {
        let mut c = config();
        c.apps[0].app_store_id = None;
        c.apps[0].play_store_package = None;
        c.apps[0].android.clear();
        let html = not_installed_html(&c.apps[0]);
        assert!(!html.contains("class=\"button\""));
        assert!(html.contains(&escape_html(not_installed(Lang::En).no_store_body)));
    }

    #[test]
    fn aasa_uses_components_format() {
        let v = apple_app_site_association(&config());
        let d = &v["applinks"]["details"][0];
        assert_eq!(d["appIDs"][0], "ABCDE12345.com.example.app");
        assert_eq!(d["components"][0]["/"], "/example/callback");
        assert_eq!(d["components"][1]["/"], "/example/logout");
        assert!(
            v["applinks"].get("apps").is_none(),
            "legacy format not used"
        );
    }

    #[test]
    fn assetlinks_statement() {
        let v = assetlinks(&config());
        assert_eq!(
            v[0]["relation"][0],
            "delegate_permission/common.handle_all_urls"
        );
        assert_eq!(v[0]["target"]["namespace"], "android_app");
        assert_eq!(v[0]["target"]["package_name"], "com.example.app");
        assert_eq!(
            v[0]["target"]["sha256_cert_fingerprints"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn mobile_snippets_match_the_asset_files() {
        let c = config();
        let ios = ios_entitlements(&c);
        assert!(ios.contains("<key>com.apple.developer.associated-domains</key>"));
        assert!(ios.contains("<string>applinks:mobile.example.com</string>"));
        assert!(!ios.contains("www.example.com"));
        let android = android_intent_filters(&c);
        assert!(android.contains("<intent-filter android:autoVerify=\"true\">"));
        assert!(android.contains("android:scheme=\"https\" android:host=\"mobile.example.com\""));
        let aasa = apple_app_site_association(&c);
        for component in aasa["applinks"]["details"][0]["components"]
            .as_array()
            .unwrap()
        {
            let path = component["/"].as_str().unwrap();
            assert!(
                android.contains(&format!("<data android:path=\"{path}\" />")),
                "{path}"
            );
        }
    }

    #[test]
    fn fallback_data_matches_the_page_crate() {
        let js = fallback_data_js();
        assert!(js.contains(
            "export const PARAMS = [\"code\",\"state\",\"iss\",\"session_state\",\"error\",\"error_description\",\"error_uri\"];"
        ));
        assert!(js.contains("\"value\":4096"));
        assert!(js.contains("\"continue_label\":\"Weiter\""));
        assert!(js.contains("\"access_denied\":\"error_cancelled_body\""));
        assert!(js.contains("\"login_required\":\"error_sign_in_body\""));
    }

    #[test]
    fn public_files_are_split_by_origin() {
        let f = public_files(&config());
        let paths = |list: &[PublicFile]| -> Vec<String> {
            list.iter().map(|f| f.url_path.clone()).collect()
        };
        assert_eq!(
            paths(&f.page),
            [
                "/example/callback",
                "/example/logout",
                "/assets/page.css",
                "/assets/boot.js",
                "/assets/fallback.js",
                "/assets/fallback-data.js",
                "/assets/tollgate_redirect_page.js",
                "/assets/tollgate_redirect_page_bg.wasm"
            ]
        );
        assert_eq!(
            paths(&f.app_link),
            [
                "/example/callback",
                "/example/logout",
                "/assets/page.css",
                "/assets/not-installed.js",
                AASA_PATH,
                ASSETLINKS_PATH
            ]
        );
        assert!(f
            .page
            .iter()
            .all(|p| !p.file.starts_with('_') && !p.file.starts_with('.')));
    }

    fn fake_pkg(tmp: &Path) -> PathBuf {
        let pkg = tmp.join("pkg");
        fs::create_dir_all(&pkg).unwrap();
        for f in PKG_FILES {
            fs::write(pkg.join(f), f).unwrap();
        }
        pkg
    }

    /// Every file under `dir`, relative, sorted.
    fn tree(dir: &Path) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    #[test]
    fn build_writes_exactly_the_public_files_and_refuses_foreign_dirs() {
        let tmp = std::env::temp_dir().join(format!("tollgate-site-test-{}", std::process::id()));
        let pkg = fake_pkg(&tmp);
        let out = tmp.join("out");
        let pages = build(&config(), &pkg, &Assets::Embedded, &out).unwrap();
        assert_eq!(pages.len(), 2);
        let files = public_files(&config());
        let mut want: Vec<String> = files
            .page
            .iter()
            .map(|f| format!("page/{}", f.file))
            .chain(
                files
                    .app_link
                    .iter()
                    .map(|f| format!("app-link/{}", f.file)),
            )
            .chain(
                [
                    "page/_headers",
                    "app-link/_headers",
                    MARKER,
                    NGINX_PAGE,
                    NGINX_APP_LINK,
                    IOS_ENTITLEMENTS,
                    ANDROID_INTENT_FILTERS,
                ]
                .map(String::from),
            )
            .collect();
        want.sort();
        assert_eq!(tree(&out), want);
        // The embedded assets are the project's files.
        assert_eq!(
            fs::read(out.join("page/assets/fallback.js")).unwrap(),
            include_bytes!("../../../www/assets/fallback.js")
        );
        // Rebuilding over its own output works.
        build(&config(), &pkg, &Assets::Embedded, &out).unwrap();
        // A directory it did not write is never deleted.
        let foreign = tmp.join("foreign");
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join("keep.txt"), "x").unwrap();
        assert!(matches!(
            build(&config(), &pkg, &Assets::Embedded, &foreign),
            Err(BuildError::RefuseToOverwrite(_))
        ));
        assert!(foreign.join("keep.txt").is_file());
        // A missing input is an error naming the file.
        fs::remove_file(pkg.join(PKG_FILES[1])).unwrap();
        let e = build(&config(), &pkg, &Assets::Embedded, &out).unwrap_err();
        assert!(e.to_string().contains("tollgate_redirect_page_bg.wasm"));
        let e = build(
            &config(),
            &fake_pkg(&tmp),
            &Assets::Dir(tmp.join("no-such-assets")),
            &out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no-such-assets/page.css"), "{e}");
        fs::remove_dir_all(&tmp).unwrap();
    }
}
