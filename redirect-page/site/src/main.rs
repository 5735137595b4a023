//! `tollgate-site`: builds, serves, checks and measures the redirect page's static site.
//!
//! ```text
//! tollgate-site build --config www/site.json --pkg target/redirect-page-pkg --out target/www
//!                     [--assets DIR] [--app-link-origin http://127.0.0.1:PORT]
//! tollgate-site serve --dir target/www/page | target/www/app-link [--addr 127.0.0.1:0] [--hsts-max-age N]
//! tollgate-site check [--config FILE] [--dir target/www] [--url BASE | --page-url BASE --app-link-url BASE | --live] [--ca FILE]
//! tollgate-site size  [--dir target/www]
//! tollgate-site vectors --out FILE | --check FILE
//! ```
//! See www/README.md.

mod check;
mod config;
mod generate;
mod headers;
mod http;
mod serve;
mod size;
#[cfg(test)]
mod testserver;
mod vectors;

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use config::{Mode, SiteConfig};

const USAGE: &str = "usage:
  tollgate-site build --config FILE --out DIR [--pkg DIR] [--assets DIR] [--app-link-origin http://127.0.0.1:PORT]
  tollgate-site serve --dir DIR/page|DIR/app-link [--addr 127.0.0.1:0] [--hsts-max-age SECONDS]
  tollgate-site check [--config FILE] [--dir DIR] [--url BASE | --page-url BASE --app-link-url BASE | --live] [--ca FILE]
  tollgate-site size  [--dir DIR]
  tollgate-site vectors --out FILE | --check FILE
see www/README.md";

/// `--name value` pairs; every option takes a value except the `switches`.
fn options(
    args: &[String],
    allowed: &[&str],
    switches: &[&str],
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| allowed.contains(n) || switches.contains(n))
            .ok_or_else(|| format!("unknown option {flag:?}"))?;
        let value = if switches.contains(&name) {
            String::new()
        } else {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone()
        };
        if out.insert(name.to_owned(), value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    Ok(out)
}

fn load_config(path: &str, mode: Mode) -> Result<SiteConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    config::parse(&text, mode).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{path}: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn cmd_build(args: &[String]) -> Result<(), String> {
    let o = options(
        args,
        &["config", "out", "pkg", "assets", "app-link-origin"],
        &[],
    )?;
    let config_path = o.get("config").ok_or("build needs --config FILE")?;
    let out = PathBuf::from(o.get("out").ok_or("build needs --out DIR")?);
    let pkg = PathBuf::from(
        o.get("pkg")
            .map_or("target/redirect-page-pkg", String::as_str),
    );
    // The project's assets are built into this binary; --assets is for working on them.
    let assets = o.get("assets").map_or(generate::Assets::Embedded, |d| {
        generate::Assets::Dir(PathBuf::from(d))
    });
    let config = match o.get("app-link-origin") {
        // A local build for the demo/tests: the app links point at a loopback "app".
        Some(origin) => {
            let c = load_config(config_path, Mode::Deployment)?.with_app_link_origin(origin);
            let errors = c.check(Mode::Local);
            if !errors.is_empty() {
                return Err(errors
                    .iter()
                    .map(|e| format!("--app-link-origin: {e}"))
                    .collect::<Vec<_>>()
                    .join("\n"));
            }
            eprintln!("note: local build, app links point at {origin} (not for deployment)");
            c
        }
        None => load_config(config_path, Mode::Deployment)?,
    };
    let pages = generate::build(&config, &pkg, &assets, &out).map_err(|e| e.to_string())?;
    println!("built {}", out.display());
    println!(
        "  {}/ -> {}   (include {} in its server block)",
        generate::PAGE_ROOT,
        config.page_origin,
        generate::NGINX_PAGE
    );
    println!(
        "  {}/ -> {}   (include {}; .well-known files and app-not-installed pages)",
        generate::APP_LINK_ROOT,
        config.app_link_origin,
        generate::NGINX_APP_LINK
    );
    for p in pages {
        println!(
            "  {} {:<6} {}{} -> {}",
            p.app,
            p.kind.as_str(),
            config.page_origin,
            p.path,
            p.app_link
        );
    }
    println!(
        "  for the app: {} and {}",
        generate::IOS_ENTITLEMENTS,
        generate::ANDROID_INTENT_FILTERS
    );
    Ok(())
}

fn cmd_serve(args: &[String]) -> Result<(), String> {
    let o = options(args, &["dir", "addr", "hsts-max-age"], &[])?;
    let dir = PathBuf::from(o.get("dir").ok_or("serve needs --dir DIR")?);
    if dir.join(generate::MARKER).is_file() {
        return Err(format!(
            "{} is a whole build with two document roots: serve {} (page origin) or {} (app-link origin)",
            dir.display(),
            dir.join(generate::PAGE_ROOT).display(),
            dir.join(generate::APP_LINK_ROOT).display()
        ));
    }
    let is_root = dir.join("assets/page.css").is_file();
    if !is_root {
        return Err(format!(
            "{} does not look like a document root of a built site (build it: redirect-page/build.sh; serve target/www/page or target/www/app-link)",
            dir.display()
        ));
    }
    let addr = o.get("addr").map_or("127.0.0.1:0", String::as_str);
    let hsts = match o.get("hsts-max-age") {
        Some(v) => v
            .parse()
            .map_err(|_| format!("--hsts-max-age: not a number: {v:?}"))?,
        None => config::DEFAULT_HSTS_MAX_AGE,
    };
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("serving {} at http://{local}/", dir.display());
    // Tests read the URL from the first line of stdout.
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    serve::serve(listener, dir, hsts);
    Ok(())
}

fn cmd_check(args: &[String]) -> Result<(), String> {
    let o = options(
        args,
        &["config", "dir", "url", "page-url", "app-link-url", "ca"],
        &["live"],
    )?;
    if !["config", "dir", "url", "page-url", "app-link-url", "live"]
        .iter()
        .any(|k| o.contains_key(*k))
    {
        return Err(
            "check needs --config, --dir and/or a URL (--url, --page-url, --app-link-url, --live)"
                .into(),
        );
    }
    let mut failures = Vec::new();
    let mut config = None;
    if let Some(path) = o.get("config") {
        match load_config(path, Mode::Deployment) {
            Ok(c) => {
                println!("ok   {path}: config");
                config = Some(c);
            }
            Err(e) => failures.push(e),
        }
    }
    if let Some(dir) = o.get("dir") {
        let errors = check::check_dir(Path::new(dir), config.as_ref());
        if errors.is_empty() {
            println!(
                "ok   {}: apple-app-site-association, assetlinks.json{}",
                check::app_link_root(Path::new(dir)).display(),
                if config.is_some() {
                    " (as the config generates them)"
                } else {
                    ""
                }
            );
        }
        failures.extend(errors.iter().map(ToString::to_string));
    }
    let live = o.contains_key("live");
    if live && config.is_none() {
        failures.push(
            "--live needs --config FILE (it checks the config's page_origin and app_link_origin)"
                .into(),
        );
    }
    if live
        && (o.contains_key("url") || o.contains_key("page-url") || o.contains_key("app-link-url"))
    {
        return Err(
            "--live takes the URLs from the config; leave out --url, --page-url and --app-link-url"
                .into(),
        );
    }
    let url = o.get("url").map(String::as_str);
    let from_config = |pick: fn(&SiteConfig) -> &str| config.as_ref().filter(|_| live).map(pick);
    let targets = check::Targets {
        page: o
            .get("page-url")
            .map(String::as_str)
            .or(url)
            .or_else(|| from_config(|c| c.page_origin.as_str())),
        app_link: o
            .get("app-link-url")
            .map(String::as_str)
            .or(url)
            .or_else(|| from_config(|c| c.app_link_origin.as_str())),
        ca: o.get("ca").map(Path::new),
    };
    if o.contains_key("ca") && targets.page.is_none() && targets.app_link.is_none() {
        return Err(
            "--ca is for checking a served site: give --url, --page-url, --app-link-url or --live"
                .into(),
        );
    }
    if targets.page.is_some() || targets.app_link.is_some() {
        let errors = check::check_served(&targets, config.as_ref());
        if errors.is_empty() {
            if let Some(base) = targets.app_link {
                println!(
                    "ok   {base}: asset files served with 200 (no redirect) as application/json, uncompressed, under {} bytes{}",
                    check::MAX_ASSET_BYTES,
                    if config.is_some() { ", as the config generates them; app-not-installed pages with every security header" } else { "" }
                );
            }
            if let (Some(base), Some(c)) = (targets.page, config.as_ref()) {
                println!(
                    "ok   {base}: {} redirect page(s) with every security header, assets with their exact types",
                    generate::pages(c).len()
                );
            }
            if targets.page.is_some() && targets.app_link.is_none() && config.is_none() {
                println!("note: without --config there is nothing to check on the page origin");
            }
        }
        failures.extend(errors.iter().map(ToString::to_string));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn cmd_vectors(args: &[String]) -> Result<(), String> {
    let o = options(args, &["out", "check"], &[])?;
    let text = vectors::vectors_json();
    match (o.get("out"), o.get("check")) {
        (Some(out), None) => {
            std::fs::write(out, &text).map_err(|e| format!("cannot write {out}: {e}"))?;
            println!("wrote {out}");
            Ok(())
        }
        (None, Some(path)) => {
            let current =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            if current == text {
                println!("ok   {path}: the parity vectors are current");
                Ok(())
            } else {
                Err(format!(
                    "{path} is stale: the page's Rust logic changed. Regenerate it with\n  {}",
                    vectors::REGENERATE
                ))
            }
        }
        _ => Err("vectors needs --out FILE or --check FILE".into()),
    }
}

fn cmd_size(args: &[String]) -> Result<(), String> {
    let o = options(args, &["dir"], &[])?;
    let out = PathBuf::from(o.get("dir").map_or("target/www", String::as_str));
    let dir = size::page_root(&out);
    let page = size::find_login_page(&dir)?;
    let wasm = size::measure(&dir, &page, &size::WASM_PATH_ASSETS)?;
    let total = size::report(
        "page load with WebAssembly (HTML + CSS + JS + Wasm):",
        &wasm,
    );
    let fallback = size::measure(&dir, &page, &size::FALLBACK_PATH_ASSETS)?;
    size::report("page load without WebAssembly (fallback):", &fallback);
    let app_link = check::app_link_root(&out);
    if let Ok(not_installed) = size::find_page(&app_link, generate::NOT_INSTALLED_KIND) {
        let sizes = size::measure(&app_link, &not_installed, &size::NOT_INSTALLED_ASSETS)?;
        size::report("app-not-installed page (app-link origin):", &sizes);
    }
    if total > size::BUDGET_GZIP_BYTES {
        return Err(format!(
            "page is {total} B gzipped, over the budget of {} B",
            size::BUDGET_GZIP_BYTES
        ));
    }
    println!(
        "within budget: {total} B <= {} B gzipped",
        size::BUDGET_GZIP_BYTES
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((cmd, rest)) => (cmd.as_str(), rest),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        "build" => cmd_build(rest),
        "serve" => cmd_serve(rest),
        "check" => cmd_check(rest),
        "size" => cmd_size(rest),
        "vectors" => cmd_vectors(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
