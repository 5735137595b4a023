//! Generates the static site from the config and the wasm-bindgen output.
//!
//! Layout of the output directory:
//! - `<login_path>.html`, `<logout_path>.html` per app (served at the extensionless path);
//! - `assets/`: `page.css`, `boot.js`, `fallback.js` (copied from `www/assets`),
//!   `fallback-data.js` (generated from the page crate), the wasm-bindgen JS and Wasm;
//! - `.well-known/apple-app-site-association` and `.well-known/assetlinks.json`;
//! - `_headers` (Netlify / Cloudflare Pages) and `_nginx.conf` (nginx snippet).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tollgate_redirect_page::lang::Lang;
use tollgate_redirect_page::link::MAX_APP_LINK_BYTES;
use tollgate_redirect_page::messages::messages;
use tollgate_redirect_page::params::{Param, MAX_INPUT_BYTES, MAX_PAIRS, MAX_VALUE_BYTES};
use tollgate_redirect_page::screen::{PageKind, META_APP_LINK, META_PAGE};

use crate::config::SiteConfig;
use crate::headers::{headers_file, nginx_snippet};

/// The wasm-bindgen output files the site needs (`--target web`).
pub const PKG_FILES: [&str; 2] = [
    "tollgate_redirect_page.js",
    "tollgate_redirect_page_bg.wasm",
];
/// The hand-written assets copied from `www/assets`.
pub const STATIC_ASSETS: [&str; 3] = ["page.css", "boot.js", "fallback.js"];
/// Marker file: the output directory was written by this tool and may be replaced.
const MARKER: &str = ".tollgate-site";

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

/// One page of the site.
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
}

/// Every page of the config.
pub fn pages(config: &SiteConfig) -> Vec<Page> {
    let mut out = Vec::new();
    for app in &config.apps {
        out.push(Page {
            app: app.id.clone(),
            kind: PageKind::Login,
            path: app.login_path.clone(),
            app_link: config.app_link(&app.app_link_login_path),
        });
        if let (Some(path), Some(link)) = (&app.logout_path, &app.app_link_logout_path) {
            out.push(Page {
                app: app.id.clone(),
                kind: PageKind::Logout,
                path: path.clone(),
                app_link: config.app_link(link),
            });
        }
    }
    out
}

/// The HTML of one page. Text is filled in by the Wasm (or the fallback) with
/// `textContent`; the `<noscript>` part is the no-JavaScript view.
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
<dt id="tg-error-desc-label" hidden></dt>
<dd id="tg-error-desc" hidden></dd>
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

/// `fallback-data.js`: the allow-list, limits and messages of the page crate, for the
/// plain-JavaScript fallback (no WebAssembly). Generated so both implementations agree.
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
    format!(
        "// Generated by tollgate-site from the tollgate-redirect-page crate; do not edit.\n\
         export const PARAMS = {};\n\
         export const LIMITS = {};\n\
         export const META = {};\n\
         export const MESSAGES = {};\n",
        json!(params),
        json!({"input": MAX_INPUT_BYTES, "value": MAX_VALUE_BYTES, "pairs": MAX_PAIRS, "appLink": MAX_APP_LINK_BYTES}),
        json!({"page": META_PAGE, "appLink": META_APP_LINK}),
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

fn write_site(
    config: &SiteConfig,
    pkg_files: &[(&str, Vec<u8>)],
    static_files: &[(&str, Vec<u8>)],
    out: &Path,
) -> Result<Vec<Page>, BuildError> {
    write(out, MARKER, b"written by tollgate-site build\n")?;
    let pages = pages(config);
    for page in &pages {
        let rel = format!("{}.html", page.path.trim_start_matches('/'));
        write(out, &rel, page_html(page).as_bytes())?;
    }
    for (name, bytes) in pkg_files.iter().chain(static_files.iter()) {
        write(out, &format!("assets/{name}"), bytes)?;
    }
    write(
        out,
        "assets/fallback-data.js",
        fallback_data_js().as_bytes(),
    )?;
    write(
        out,
        ".well-known/apple-app-site-association",
        &pretty(&apple_app_site_association(config)),
    )?;
    write(
        out,
        ".well-known/assetlinks.json",
        &pretty(&assetlinks(config)),
    )?;
    write(
        out,
        "_headers",
        headers_file(config.hsts_max_age).as_bytes(),
    )?;
    write(
        out,
        "_nginx.conf",
        nginx_snippet(config.hsts_max_age).as_bytes(),
    )?;
    Ok(pages)
}

/// Builds the site into `out` (replacing an earlier build there). Returns the pages.
pub fn build(
    config: &SiteConfig,
    pkg: &Path,
    assets: &Path,
    out: &Path,
) -> Result<Vec<Page>, BuildError> {
    // Read every input first so a missing one leaves an earlier build untouched.
    let pkg_files = PKG_FILES
        .iter()
        .map(|f| Ok((*f, read(pkg.join(f))?)))
        .collect::<Result<Vec<_>, BuildError>>()?;
    let static_files = STATIC_ASSETS
        .iter()
        .map(|f| Ok((*f, read(assets.join(f))?)))
        .collect::<Result<Vec<_>, BuildError>>()?;

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
    let pages = match write_site(config, &pkg_files, &static_files, &staging) {
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
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script type=\"module\" src=\"/assets/boot.js\"></script>"));
        for tag in html.split('<').filter_map(|t| t.split('>').next()) {
            assert!(
                !tag.split_whitespace()
                    .skip(1)
                    .any(|attr| attr.starts_with("on")),
                "inline event handler in <{tag}>"
            );
        }
        assert!(!html.contains("style="));
        assert!(html.contains("<noscript>"));
        assert!(html.contains("lang=\"de\""));
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
    fn fallback_data_matches_the_page_crate() {
        let js = fallback_data_js();
        assert!(js.contains(
            "export const PARAMS = [\"code\",\"state\",\"iss\",\"session_state\",\"error\",\"error_description\",\"error_uri\"];"
        ));
        assert!(js.contains("\"value\":4096"));
        assert!(js.contains("\"continue_label\":\"Weiter\""));
    }

    #[test]
    fn build_writes_every_file_and_refuses_foreign_dirs() {
        let tmp = std::env::temp_dir().join(format!("tollgate-site-test-{}", std::process::id()));
        let pkg = tmp.join("pkg");
        let assets = tmp.join("assets");
        fs::create_dir_all(&pkg).unwrap();
        fs::create_dir_all(&assets).unwrap();
        for f in PKG_FILES {
            fs::write(pkg.join(f), f).unwrap();
        }
        for f in STATIC_ASSETS {
            fs::write(assets.join(f), f).unwrap();
        }
        let out = tmp.join("out");
        let pages = build(&config(), &pkg, &assets, &out).unwrap();
        assert_eq!(pages.len(), 2);
        for rel in [
            "example/callback.html",
            "example/logout.html",
            "assets/tollgate_redirect_page_bg.wasm",
            "assets/boot.js",
            "assets/fallback-data.js",
            ".well-known/apple-app-site-association",
            ".well-known/assetlinks.json",
            "_headers",
            "_nginx.conf",
        ] {
            assert!(out.join(rel).is_file(), "{rel}");
        }
        // Rebuilding over its own output works.
        build(&config(), &pkg, &assets, &out).unwrap();
        // A directory it did not write is never deleted.
        let foreign = tmp.join("foreign");
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join("keep.txt"), "x").unwrap();
        assert!(matches!(
            build(&config(), &pkg, &assets, &foreign),
            Err(BuildError::RefuseToOverwrite(_))
        ));
        assert!(foreign.join("keep.txt").is_file());
        // A missing input is an error naming the file.
        fs::remove_file(pkg.join(PKG_FILES[1])).unwrap();
        let e = build(&config(), &pkg, &assets, &out).unwrap_err();
        assert!(e.to_string().contains("tollgate_redirect_page_bg.wasm"));
        fs::remove_dir_all(&tmp).unwrap();
    }
}
