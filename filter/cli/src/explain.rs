//! `tollgate explain`: the decision the filter would make on one request, with the engine
//! itself (`Engine::evaluate_in`), and how it got there. Never prints the token.

use serde_json::{json, Value};
use tollgate_core::config::{Access, KeySource, Rule};
use tollgate_core::environment::InMemory;
use tollgate_core::explain::{failed_step, steps, Passage, StepResult};
use tollgate_core::{Engine, Evaluation, HeaderEdit, KeySet, Outcome, ProviderId};

/// What the request is.
pub struct Request {
    pub method: String,
    pub path: String,
    pub authority: String,
    pub scheme: String,
    /// Other headers as given (`name: value`), names lower-cased.
    pub headers: Vec<(String, String)>,
    pub now: u64,
    /// SHA-256 of the client certificate the connection presented (mTLS), if any.
    pub client_certificate: Option<[u8; 32]>,
}

/// Keys for a provider whose keys the filter would fetch: `(provider name or None for every
/// such provider, JWKS text)`.
pub type KeysArg = (Option<String>, String);

/// Give fetched-key providers the keys from `--keys`. `Err` says which argument is wrong.
pub fn load_keys(engine: &mut Engine, keys: &[KeysArg]) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for (name, jwks) in keys {
        let (set, skipped) = KeySet::from_jwks_lenient(jwks.as_bytes())
            .map_err(|e| format!("--keys: not a usable JWKS: {e}"))?;
        for s in skipped {
            notes.push(format!(
                "--keys: key [{}] skipped, as the filter would skip it: {}",
                s.index, s.reason
            ));
        }
        let targets: Vec<ProviderId> = (0..engine.providers().len())
            .map(ProviderId)
            .filter(|id| {
                let fetched = !matches!(engine.key_source(*id), Some(KeySource::Inline) | None);
                match name {
                    Some(n) => engine.provider_name(*id) == n,
                    None => fetched,
                }
            })
            .collect();
        if targets.is_empty() {
            return Err(match name {
                Some(n) => format!("--keys {n}=…: no provider is named {n}"),
                None => "--keys: no provider fetches its keys (they are inline)".to_owned(),
            });
        }
        for id in targets {
            if matches!(engine.key_source(id), Some(KeySource::Inline)) {
                return Err(format!(
                    "--keys: provider {} has inline keys; --keys is for fetched keys",
                    engine.provider_name(id)
                ));
            }
            engine.set_provider_keys(id, set.clone());
        }
    }
    Ok(notes)
}

/// The evaluation and everything printed about it.
pub struct Explained {
    pub text: String,
    pub json: Value,
}

fn passage(engine: &Engine, e: &Evaluation) -> Passage {
    let rule = e.rule.and_then(|i| engine.config().rules.get(i));
    match (rule, &e.outcome) {
        (None, _) => Passage::Preflight,
        (Some(r), _) if r.access == Access::Anonymous => Passage::Anonymous,
        (Some(_), Outcome::Allow(a)) if a.provider.is_none() => Passage::NoTokenAllowed,
        _ => Passage::Token,
    }
}

fn rule_text(engine: &Engine, index: usize, rule: &Rule) -> String {
    format!(
        "rules[{index}] {}",
        crate::check::rule_summary(engine.config(), rule)
    )
}

/// Decide `req` and describe the decision.
pub fn explain(engine: &mut Engine, req: &Request) -> Explained {
    engine.set_explain(true);
    let mut headers = vec![
        (":method".to_owned(), req.method.clone()),
        (":path".to_owned(), req.path.clone()),
        (":authority".to_owned(), req.authority.clone()),
        (":scheme".to_owned(), req.scheme.clone()),
    ];
    headers.extend(req.headers.iter().cloned());
    let mut env = InMemory::new(
        req.client_certificate,
        engine.config().dpop_replay_cache_size,
    );
    let evaluation = engine.evaluate_in(&headers, &mut env, req.now);

    let mut lines = Vec::new();
    let mut out = serde_json::Map::new();
    let denial = match &evaluation.outcome {
        Outcome::Deny(d) | Outcome::DryRun(d) => Some(d),
        Outcome::Allow(_) => None,
    };
    // What the filter sends (with `resource_metadata` and the CORS exposure of `DPoP-Nonce`).
    let response = denial.map(|d| engine.respond(d));
    let decision = match (&evaluation.outcome, &response) {
        (Outcome::Allow(_), _) => "allow: the request goes to the API".to_owned(),
        (Outcome::Deny(d), Some(r)) => format!("deny: {} {}", r.status, d.reason()),
        (Outcome::DryRun(d), Some(r)) => format!(
            "dry run: would deny with {} {}, the request goes to the API unchanged",
            r.status,
            d.reason()
        ),
        _ => String::new(),
    };
    lines.push(format!("decision: {decision}"));
    out.insert(
        "decision".into(),
        json!(match &evaluation.outcome {
            Outcome::Allow(_) => "allow",
            Outcome::Deny(_) => "deny",
            Outcome::DryRun(_) => "dry_run",
        }),
    );
    out.insert("reason".into(), json!(denial.map(|d| d.reason())));

    let rule = evaluation
        .rule
        .and_then(|i| engine.config().rules.get(i).map(|r| (i, r)));
    match rule {
        Some((i, r)) => {
            lines.push(format!("rule: {}", rule_text(engine, i, r)));
            out.insert(
                "rule".into(),
                json!({"index": i, "match": r.path.to_string(), "methods": r.methods}),
            );
        }
        None => {
            lines.push("rule: none".to_owned());
            out.insert("rule".into(), Value::Null);
        }
    }

    let decided_at = denial.map(failed_step);
    let checks = steps(
        engine.config().cors_preflight,
        decided_at,
        passage(engine, &evaluation),
    );
    lines.push("checks:".to_owned());
    let mut checks_json = Vec::new();
    for (step, result) in &checks {
        let (word, key) = match result {
            StepResult::Passed => ("pass", "passed"),
            StepResult::Failed => ("FAIL", "failed"),
            StepResult::NotRun => (" -- ", "not_run"),
        };
        let detail = match (result, denial) {
            (StepResult::Failed, Some(d)) => format!(": {} ({})", d.kind_description(), d.reason()),
            _ => String::new(),
        };
        lines.push(format!(
            "  {word}  {:<14} {}{detail}",
            step.name(),
            step.description()
        ));
        checks_json.push(json!({"step": step.name(), "result": key}));
    }
    out.insert("checks".into(), Value::Array(checks_json));

    match &response {
        Some(r) => {
            let passes = matches!(evaluation.outcome, Outcome::DryRun(_));
            lines.push(format!(
                "response: {}{}",
                r.status,
                if passes { " (not sent: dry run)" } else { "" }
            ));
            for (name, value) in &r.headers {
                lines.push(format!("  {name}: {value}"));
            }
            lines.push(format!("  body: {}", r.body));
            let www = r
                .headers
                .iter()
                .find(|(n, _)| n == "www-authenticate")
                .map(|(_, v)| v.clone());
            out.insert("status".into(), json!(r.status));
            out.insert("www_authenticate".into(), json!(www));
            out.insert("body".into(), json!(r.body));
        }
        None => {
            out.insert("status".into(), Value::Null);
            out.insert("www_authenticate".into(), Value::Null);
        }
    }

    // What the API receives.
    let stripped = engine.claim_header_names().to_vec();
    let mut upstream = serde_json::Map::new();
    if let Outcome::Allow(a) = &evaluation.outcome {
        lines.push("upstream:".to_owned());
        // Query values are left out: a token read from the query string may still be in it.
        let path = a.path.as_deref().map(without_query_values);
        if let Some(p) = &path {
            lines.push(format!("  :path rewritten to {p}"));
        }
        upstream.insert("path".into(), json!(path));
        if !stripped.is_empty() {
            lines.push(format!(
                "  removed if the client sent them: {}",
                stripped.join(", ")
            ));
        }
        for (n, v) in a.set_headers.iter() {
            lines.push(format!("  set {n}: {v}"));
        }
        upstream.insert(
            "set_headers".into(),
            Value::Array(a.set_headers.iter().map(|(n, v)| json!([n, v])).collect()),
        );
        let mut removed = Vec::new();
        for edit in &a.token_edits {
            match edit {
                HeaderEdit::Remove(n) => {
                    lines.push(format!("  removed {n} (forward_token: false)"));
                    removed.push(json!(n));
                }
                HeaderEdit::Set(n, _) => {
                    lines.push(format!(
                        "  {n} rewritten without the token (forward_token: false)"
                    ));
                    removed.push(json!(n));
                }
            }
        }
        upstream.insert("token_removed_from".into(), Value::Array(removed));
        for (n, v) in a.filter_state.iter() {
            lines.push(format!("  filter state wasm.{n}: {v}"));
        }
        if let Some(p) = a.provider {
            lines.push(format!("  token accepted from {}", engine.provider_name(p)));
        }
        out.insert("upstream".into(), Value::Object(upstream));
    } else {
        out.insert("upstream".into(), Value::Null);
    }
    if let Some(k) = &evaluation.keys {
        lines.push(format!(
            "note: provider {} has no keys for this token here; give its JWKS with --keys",
            engine.provider_name(k.provider)
        ));
    }
    if let Some(e) = &evaluation.explanation {
        lines.push(format!("why: {e}"));
        out.insert("explanation".into(), json!(e));
    }
    Explained {
        text: lines.join("\n"),
        json: Value::Object(out),
    }
}

/// `/orders?access_token=…&page=…`: the path with every query value replaced by `…`.
fn without_query_values(path: &str) -> String {
    match path.split_once('?') {
        None => path.to_owned(),
        Some((p, q)) => {
            let names: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((n, _)) => format!("{n}=…"),
                    None => pair.to_owned(),
                })
                .collect();
            format!("{p}?{}", names.join("&"))
        }
    }
}
