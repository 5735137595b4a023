//! `tollgate-site`: builds, serves, checks and measures the redirect page's static site.
//!
//! ```text
//! tollgate-site build --config www/site.json --pkg target/redirect-page-pkg --out target/www
//!                     [--assets www/assets] [--app-link-origin http://127.0.0.1:PORT]
//! tollgate-site serve --dir target/www [--addr 127.0.0.1:0] [--hsts-max-age N]
//! tollgate-site check [--config www/site.json] [--dir target/www] [--url http://127.0.0.1:PORT]
//! tollgate-site size  [--dir target/www]
//! ```
//! See www/README.md.

mod check;
mod config;
mod generate;
mod headers;
mod http;
mod serve;
mod size;

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use config::{Mode, SiteConfig};

const USAGE: &str = "usage:
  tollgate-site build --config FILE --out DIR [--pkg DIR] [--assets DIR] [--app-link-origin http://127.0.0.1:PORT]
  tollgate-site serve --dir DIR [--addr 127.0.0.1:0] [--hsts-max-age SECONDS]
  tollgate-site check [--config FILE] [--dir DIR] [--url http://HOST:PORT]
  tollgate-site size  [--dir DIR]
see www/README.md";

/// `--name value` pairs; every option takes a value.
fn options(args: &[String], allowed: &[&str]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| allowed.contains(n))
            .ok_or_else(|| format!("unknown option {flag:?}"))?;
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        out.insert(name.to_owned(), value.clone());
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
    let o = options(args, &["config", "out", "pkg", "assets", "app-link-origin"])?;
    let config_path = o.get("config").ok_or("build needs --config FILE")?;
    let out = PathBuf::from(o.get("out").ok_or("build needs --out DIR")?);
    let pkg = PathBuf::from(
        o.get("pkg")
            .map_or("target/redirect-page-pkg", String::as_str),
    );
    let assets = o.get("assets").map_or_else(
        || {
            Path::new(config_path)
                .parent()
                .unwrap_or(Path::new("."))
                .join("assets")
        },
        PathBuf::from,
    );
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
    Ok(())
}

fn cmd_serve(args: &[String]) -> Result<(), String> {
    let o = options(args, &["dir", "addr", "hsts-max-age"])?;
    let dir = PathBuf::from(o.get("dir").ok_or("serve needs --dir DIR")?);
    if !dir.join(check::AASA_PATH.trim_start_matches('/')).is_file() {
        return Err(format!(
            "{} does not look like a built site (build it: redirect-page/build.sh)",
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
    let o = options(args, &["config", "dir", "url"])?;
    if o.is_empty() {
        return Err("check needs --config, --dir and/or --url".into());
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
        let errors = check::check_dir(Path::new(dir));
        if errors.is_empty() {
            println!("ok   {dir}: apple-app-site-association, assetlinks.json");
        }
        failures.extend(errors.iter().map(ToString::to_string));
    }
    if let Some(url) = o.get("url") {
        let pages: Vec<String> = config
            .as_ref()
            .map(|c| generate::pages(c).into_iter().map(|p| p.path).collect())
            .unwrap_or_default();
        let errors = check::check_url(url, &pages, config.as_ref().map(|c| c.hsts_max_age));
        if errors.is_empty() {
            println!("ok   {url}: asset files served as application/json without redirects; {} page(s) with every security header", pages.len());
        }
        failures.extend(errors.iter().map(ToString::to_string));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn cmd_size(args: &[String]) -> Result<(), String> {
    let o = options(args, &["dir"])?;
    let dir = PathBuf::from(o.get("dir").map_or("target/www", String::as_str));
    let page = size::find_login_page(&dir)?;
    let wasm = size::measure(&dir, &page, &size::WASM_PATH_ASSETS)?;
    let total = size::report(
        "page load with WebAssembly (HTML + CSS + JS + Wasm):",
        &wasm,
    );
    let fallback = size::measure(&dir, &page, &size::FALLBACK_PATH_ASSETS)?;
    size::report("page load without WebAssembly (fallback):", &fallback);
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
