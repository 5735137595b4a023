//! `tollgate-site`: builds, serves, checks and measures the redirect page's static site.
//!
//! ```text
//! tollgate-site build --config www/site.json --pkg target/redirect-page-pkg --out target/www
//!                     [--assets DIR] [--app-link-origin http://127.0.0.1:PORT]
//! tollgate-site serve --dir target/www/page | target/www/app-link [--addr 127.0.0.1:0] [--public] [--hsts-max-age N]
//! tollgate-site check [--config FILE] [--dir target/www] [--url BASE | --page-url BASE --app-link-url BASE | --live] [--ca FILE]
//! tollgate-site size  [--dir target/www]
//! tollgate-site vectors --out FILE | --check FILE
//! tollgate-site --help | --version
//! ```
//! A mistake on the command line exits 2 with one line on stderr; a failed command exits 1.
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
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use config::{Mode, SiteConfig};

const USAGE: &str = "usage:
  tollgate-site build --config FILE --out DIR [--pkg DIR] [--assets DIR] [--app-link-origin http://127.0.0.1:PORT]
  tollgate-site serve --dir DIR/page|DIR/app-link [--addr 127.0.0.1:0] [--public] [--hsts-max-age SECONDS]
  tollgate-site check [--config FILE] [--dir DIR] [--url BASE | --page-url BASE --app-link-url BASE | --live] [--ca FILE]
  tollgate-site size  [--dir DIR]
  tollgate-site vectors --out FILE | --check FILE
  tollgate-site --help | --version
serve listens on loopback only unless --public is given; it logs one line per request (never the query).
see www/README.md";

/// Why a command did not succeed: a mistake on the command line (exit 2) or a failure (exit 1).
#[derive(Debug, PartialEq, Eq)]
enum CliError {
    Usage(String),
    Failed(String),
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Failed(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::Failed(message.to_owned())
    }
}

/// `--name value` pairs; every option takes a value except the `switches`.
fn options(
    args: &[String],
    allowed: &[&str],
    switches: &[&str],
) -> Result<HashMap<String, String>, CliError> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .filter(|n| allowed.contains(n) || switches.contains(n))
            .ok_or_else(|| CliError::Usage(format!("unknown option {flag:?}")))?;
        let value = if switches.contains(&name) {
            String::new()
        } else {
            it.next()
                .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))?
                .clone()
        };
        if out.insert(name.to_owned(), value).is_some() {
            return Err(CliError::Usage(format!("{flag} given twice")));
        }
    }
    Ok(out)
}

/// The value of a required option, or a usage error that names it.
fn required<'a>(
    o: &'a HashMap<String, String>,
    name: &str,
    message: &str,
) -> Result<&'a String, CliError> {
    o.get(name)
        .ok_or_else(|| CliError::Usage(message.to_owned()))
}

/// The addresses `addr` stands for, all of them loopback unless `public`: a non-loopback
/// address (`0.0.0.0`, a LAN address, a name that resolves to one) is refused without it.
fn listen_addresses(addr: &str, public: bool) -> Result<Vec<SocketAddr>, CliError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| CliError::Usage(format!("--addr {addr:?}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(CliError::Usage(format!(
            "--addr {addr:?}: names no address"
        )));
    }
    if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        if !public {
            return Err(CliError::Usage(format!(
                "--addr {addr}: {} is not a loopback address, so other machines could reach the server; use 127.0.0.1:PORT, or add --public to serve beyond this machine",
                open.ip()
            )));
        }
    }
    Ok(addrs)
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

fn cmd_build(args: &[String]) -> Result<(), CliError> {
    let o = options(
        args,
        &["config", "out", "pkg", "assets", "app-link-origin"],
        &[],
    )?;
    let config_path = required(&o, "config", "build needs --config FILE")?;
    let out = PathBuf::from(required(&o, "out", "build needs --out DIR")?);
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
                    .join("\n")
                    .into());
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

fn cmd_serve(args: &[String]) -> Result<(), CliError> {
    let o = options(args, &["dir", "addr", "hsts-max-age"], &["public"])?;
    let dir = PathBuf::from(required(&o, "dir", "serve needs --dir DIR")?);
    let addr = o.get("addr").map_or("127.0.0.1:0", String::as_str);
    let public = o.contains_key("public");
    let addrs = listen_addresses(addr, public)?;
    if dir.join(generate::MARKER).is_file() {
        return Err(CliError::Failed(format!(
            "{} is a whole build with two document roots: serve {} (page origin) or {} (app-link origin)",
            dir.display(),
            dir.join(generate::PAGE_ROOT).display(),
            dir.join(generate::APP_LINK_ROOT).display()
        )));
    }
    let is_root = dir.join("assets/page.css").is_file();
    if !is_root {
        return Err(CliError::Failed(format!(
            "{} does not look like a document root of a built site (build it: redirect-page/build.sh; serve target/www/page or target/www/app-link)",
            dir.display()
        )));
    }
    let hsts = match o.get("hsts-max-age") {
        Some(v) => v
            .parse()
            .map_err(|_| CliError::Usage(format!("--hsts-max-age: not a number: {v:?}")))?,
        None => config::DEFAULT_HSTS_MAX_AGE,
    };
    let listener =
        TcpListener::bind(&addrs[..]).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if !local.ip().is_loopback() {
        eprintln!(
            "warning: --public: serving on {local}, reachable from other machines; this is a small server for trying the site, put nginx with the generated snippets in front of real traffic"
        );
    }
    println!("serving {} at http://{local}/", dir.display());
    // Tests read the URL from the first line of stdout.
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    serve::serve(listener, dir, hsts);
    Ok(())
}

fn cmd_check(args: &[String]) -> Result<(), CliError> {
    let o = options(
        args,
        &["config", "dir", "url", "page-url", "app-link-url", "ca"],
        &["live"],
    )?;
    if !["config", "dir", "url", "page-url", "app-link-url", "live"]
        .iter()
        .any(|k| o.contains_key(*k))
    {
        return Err(CliError::Usage(
            "check needs --config, --dir and/or a URL (--url, --page-url, --app-link-url, --live)"
                .into(),
        ));
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
        Err(failures.join("\n").into())
    }
}

fn cmd_vectors(args: &[String]) -> Result<(), CliError> {
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
                )
                .into())
            }
        }
        _ => Err(CliError::Usage(
            "vectors needs --out FILE or --check FILE".into(),
        )),
    }
}

fn cmd_size(args: &[String]) -> Result<(), CliError> {
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
        )
        .into());
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
    // `--help` anywhere (`tollgate-site serve --help`) shows the usage instead of running anything.
    if matches!(cmd, "-h" | "--help" | "help") || rest.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match cmd {
        "--version" | "-V" | "version" => {
            println!("tollgate-site {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "build" => cmd_build(rest),
        "serve" => cmd_serve(rest),
        "check" => cmd_check(rest),
        "size" => cmd_size(rest),
        "vectors" => cmd_vectors(rest),
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(e)) => {
            eprintln!("error: {e} (see tollgate-site --help)");
            ExitCode::from(2)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_need_no_flag() {
        for addr in ["127.0.0.1:0", "[::1]:8080", "localhost:0", "127.1.2.3:9"] {
            let addrs = listen_addresses(addr, false).unwrap();
            assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addr}");
        }
    }

    #[test]
    fn other_addresses_need_public() {
        for (addr, ip) in [
            ("0.0.0.0:0", "0.0.0.0"),
            ("[::]:0", "::"),
            ("192.0.2.7:80", "192.0.2.7"),
        ] {
            assert_eq!(
                listen_addresses(addr, false),
                Err(CliError::Usage(format!("--addr {addr}: {ip} is not a loopback address, so other machines could reach the server; use 127.0.0.1:PORT, or add --public to serve beyond this machine"))),
            );
            assert!(listen_addresses(addr, true).is_ok(), "{addr}");
        }
        assert!(matches!(
            listen_addresses("no-port", false),
            Err(CliError::Usage(m)) if m.starts_with("--addr \"no-port\": ")
        ));
    }
}
