//! `tollgate`: check a filter configuration before it ships, and explain what the filter
//! would answer to a request, with the filter's own core (no second implementation of any
//! check). Exit status: 0 valid / explained, 1 a configuration or input the filter would
//! refuse, 2 a usage error.

mod check;
mod explain;
mod input;

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

const USAGE: &str = "usage:
  tollgate check [--json] FILE...
  tollgate explain FILE --method METHOD --path PATH [--header 'NAME: VALUE']...
                   [--now UNIX_SECONDS] [--keys [PROVIDER=]JWKS.json]...
                   [--authority HOST] [--scheme https|http]
                   [--client-cert-sha256 HEX] [--json]
  tollgate schema
  tollgate --help | --version
check: FILE (- for standard input) is a plugin configuration (JSON), an Envoy configuration with the
  envoy.filters.http.wasm filter, an Istio WasmPlugin or an Envoy Gateway
  EnvoyExtensionPolicy (YAML; anchors and aliases are refused). Valid: a summary
  and warnings, exit 0. Invalid: the error the filter would log, exit 1.
explain: the decision the filter would make on one request: the rule, each check
  in order, the status and WWW-Authenticate, the changes to the request. Keys of
  a provider with remote or discovery keys come from --keys (never fetched). The
  token is never printed. --now defaults to the current time; --authority to
  api.example.com; --client-cert-sha256 is the SHA-256 (64 hex digits) of the
  DER client certificate of an mTLS connection.
schema: the JSON Schema (draft 2020-12) of the configuration.
see README.md, \"Check a policy before you ship it\"";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (code, stdout, stderr) = run(&args);
    // Written without println!: a closed pipe (`tollgate … | head`) is not a reason to panic.
    if !stdout.is_empty() {
        let _ = writeln!(std::io::stdout().lock(), "{stdout}");
    }
    if !stderr.is_empty() {
        let _ = writeln!(std::io::stderr().lock(), "{stderr}");
    }
    ExitCode::from(code)
}

/// Run one command: (exit status, standard output, standard error).
fn run(args: &[String]) -> (u8, String, String) {
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h" | "help") => (0, USAGE.trim_end().to_owned(), String::new()),
        Some("--version" | "-V") => (
            0,
            format!("tollgate {}", env!("CARGO_PKG_VERSION")),
            String::new(),
        ),
        Some("check") => run_check(args.get(1..).unwrap_or_default()),
        Some("explain") => run_explain(args.get(1..).unwrap_or_default()),
        Some("schema") if args.len() == 1 => (
            0,
            serde_json::to_string_pretty(&tollgate_core::config::json_schema()).unwrap_or_default(),
            String::new(),
        ),
        Some(other) if other.starts_with('-') => usage_error(&format!("unknown option {other}")),
        Some(other) => usage_error(&format!("unknown command {other}")),
    }
}

fn usage_error(message: &str) -> (u8, String, String) {
    (
        2,
        String::new(),
        format!("tollgate: {message} (see tollgate --help)"),
    )
}

fn run_check(args: &[String]) -> (u8, String, String) {
    let mut as_json = false;
    let mut files = Vec::new();
    for a in args {
        match a.as_str() {
            "--json" => as_json = true,
            "--help" | "-h" => return (0, USAGE.trim_end().to_owned(), String::new()),
            s if s.starts_with('-') && s != "-" => {
                return usage_error(&format!("check: unknown option {s}"))
            }
            s => files.push(s.to_owned()),
        }
    }
    if files.is_empty() {
        return usage_error("check: name at least one FILE");
    }
    let mut all_valid = true;
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut reports = Vec::new();
    for file in &files {
        let found = input::read_text(file).and_then(|t| input::configurations(&t));
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                all_valid = false;
                errors.push(format!("{file}: {e}"));
                reports.push(json!({"file": file, "valid": false, "error": e.to_string(), "configurations": []}));
                continue;
            }
        };
        let mut configs = Vec::new();
        let mut file_valid = true;
        for f in &found {
            let at = if f.location.is_empty() {
                file.clone()
            } else {
                format!("{file} ({})", f.location)
            };
            match check::check(&f.json, &f.env) {
                Ok(c) => {
                    lines.push(format!(
                        "{at}: valid: {}",
                        check::summary(c.engine.config())
                    ));
                    for w in &c.warnings {
                        lines.push(format!("{at}: warning: {}: {}", w.field, w.message));
                    }
                    configs.push(json!({
                        "location": f.location,
                        "valid": true,
                        "error": null,
                        "summary": check::summary_json(c.engine.config()),
                        "warnings": c.warnings.iter().map(|w| json!({"field": w.field, "message": w.message})).collect::<Vec<_>>(),
                    }));
                }
                Err(e) => {
                    file_valid = false;
                    errors.push(format!("{at}: invalid configuration: {e}"));
                    configs.push(json!({
                        "location": f.location,
                        "valid": false,
                        "error": {"field": e.field, "message": e.message, "text": format!("invalid configuration: {e}")},
                        "warnings": [],
                    }));
                }
            }
        }
        all_valid &= file_valid;
        reports.push(
            json!({"file": file, "valid": file_valid, "error": null, "configurations": configs}),
        );
    }
    let code = if all_valid { 0 } else { 1 };
    if as_json {
        let doc = json!({"valid": all_valid, "files": reports});
        return (
            code,
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
            String::new(),
        );
    }
    (code, lines.join("\n"), errors.join("\n"))
}

/// The value after option `name`, or a usage error.
fn value<'a>(it: &mut impl Iterator<Item = &'a String>, name: &str) -> Result<String, String> {
    it.next()
        .cloned()
        .ok_or_else(|| format!("explain: {name} needs a value"))
}

fn run_explain(args: &[String]) -> (u8, String, String) {
    let parsed = parse_explain(args);
    let (file, req, keys, as_json) = match parsed {
        Ok(p) => p,
        Err(e) if e.is_empty() => return (0, USAGE.trim_end().to_owned(), String::new()),
        Err(e) => return usage_error(&e),
    };
    let found = match input::read_text(&file).and_then(|t| input::configurations(&t)) {
        Ok(f) => f,
        Err(e) => return (1, String::new(), format!("{file}: {e}")),
    };
    let [one] = found.as_slice() else {
        let places: Vec<&str> = found.iter().map(|f| f.location.as_str()).collect();
        return (
            1,
            String::new(),
            format!(
                "{file}: {} configurations ({}); explain needs a file with one",
                found.len(),
                places.join(", ")
            ),
        );
    };
    let mut checked = match check::check(&one.json, &one.env) {
        Ok(c) => c,
        Err(e) => {
            return (
                1,
                String::new(),
                format!("{file}: invalid configuration: {e}"),
            )
        }
    };
    let mut jwks = Vec::new();
    for (name, path) in keys {
        match input::read_text(&path) {
            Ok(text) => jwks.push((name, text)),
            Err(e) => return (1, String::new(), format!("--keys {path}: {e}")),
        }
    }
    let notes = match explain::load_keys(&mut checked.engine, &jwks) {
        Ok(n) => n,
        Err(e) => return (1, String::new(), e),
    };
    let explained = explain::explain(&mut checked.engine, &req);
    if as_json {
        let mut doc = explained.json;
        if let Value::Object(o) = &mut doc {
            o.insert("notes".into(), json!(notes));
        }
        return (
            0,
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
            String::new(),
        );
    }
    (0, explained.text, notes.join("\n"))
}

type ExplainArgs = (
    String,
    explain::Request,
    Vec<(Option<String>, String)>,
    bool,
);

/// `Err("")` asks for the help text.
fn parse_explain(args: &[String]) -> Result<ExplainArgs, String> {
    let mut file = None;
    let mut method = None;
    let mut path = None;
    let mut authority = "api.example.com".to_owned();
    let mut scheme = "https".to_owned();
    let mut headers = Vec::new();
    let mut now = None;
    let mut keys = Vec::new();
    let mut as_json = false;
    let mut client_certificate = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--json" => as_json = true,
            "--method" | "-X" => method = Some(value(&mut it, "--method")?),
            "--path" => path = Some(value(&mut it, "--path")?),
            "--authority" => authority = value(&mut it, "--authority")?,
            "--scheme" => scheme = value(&mut it, "--scheme")?,
            "--now" => {
                let v = value(&mut it, "--now")?;
                now = Some(v.parse::<u64>().map_err(|_| {
                    format!("explain: --now takes unix seconds (e.g. 1765000000), not {v}")
                })?);
            }
            "--client-cert-sha256" => {
                let v = value(&mut it, "--client-cert-sha256")?;
                client_certificate = Some(sha256_hex(&v).ok_or_else(|| {
                    format!("explain: --client-cert-sha256 takes 64 hex digits, not {v}")
                })?);
            }
            "--header" | "-H" => {
                let v = value(&mut it, "--header")?;
                let (n, val) = v
                    .split_once(':')
                    .filter(|(n, _)| !n.trim().is_empty())
                    .ok_or_else(|| format!("explain: --header takes 'NAME: VALUE', not {v}"))?;
                headers.push((n.trim().to_ascii_lowercase(), val.trim().to_owned()));
            }
            "--keys" => {
                let v = value(&mut it, "--keys")?;
                keys.push(match v.split_once('=') {
                    Some((n, p)) if !n.contains('/') => (Some(n.to_owned()), p.to_owned()),
                    _ => (None, v),
                });
            }
            s if s.starts_with('-') => return Err(format!("explain: unknown option {s}")),
            s if file.is_none() => file = Some(s.to_owned()),
            s => return Err(format!("explain: one FILE only ({s})")),
        }
    }
    let file = file.ok_or("explain: name the configuration FILE")?;
    let method = method.ok_or("explain: --method is required")?;
    let path = path.ok_or("explain: --path is required")?;
    let now = match now {
        Some(n) => n,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    Ok((
        file,
        explain::Request {
            method,
            path,
            authority,
            scheme,
            headers,
            now,
            client_certificate,
        },
        keys,
        as_json,
    ))
}

/// 64 hex digits as 32 bytes.
fn sha256_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
