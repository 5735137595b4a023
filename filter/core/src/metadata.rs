//! Protected resource metadata (RFC 9728): the JSON document that tells a client which
//! authorization servers this API trusts, which scopes exist and how tokens must be presented
//! and bound, served at `/.well-known/oauth-protected-resource` (with the resource's path
//! after it, RFC 9728 §3.1) and named by `resource_metadata="…"` in every 401.
//!
//! The document is built once, when the configuration is checked ([`build`]), from the
//! `resource_metadata` settings and from what the rest of the configuration already says, so
//! it cannot drift from what the filter enforces:
//!
//! | member | from |
//! |---|---|
//! | `resource` | `resource_metadata.resource`, as written |
//! | `authorization_servers` | `resource_metadata.authorization_servers`, else the providers' `issuer`s in config order, without repeats |
//! | `scopes_supported` | `resource_metadata.scopes_supported`, else every scope a rule requires, sorted, without repeats (left out when there is none) |
//! | `bearer_methods_supported` | the providers' `sources`: the `Authorization` header → `"header"`, a query parameter → `"query"`; cookies and other headers are no RFC 6750 method and are not listed |
//! | `dpop_signing_alg_values_supported` | the providers' `dpop.algorithms`, without repeats |
//! | `dpop_bound_access_tokens_required` | true when every rule that takes a token requires DPoP |
//! | `tls_client_certificate_bound_access_tokens` | true when a rule or provider asks for `binding: mtls` (the listener then asks for client certificates) |
//! | anything else | `resource_metadata.additional_members`, as written (a name above is refused) |
//!
//! The bytes are the same on every worker and every replica with the same configuration
//! (members in name order).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{Access, Binding, Provider, Rule, TokenSource};

/// The path every metadata URL starts with (RFC 9728 §3).
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// How long clients and caches may keep the document (`Cache-Control: public, max-age=…`):
/// it changes only with the configuration, and a client that holds an old copy learns the
/// new requirements from the next 401 anyway.
pub const MAX_AGE_SECONDS: u32 = 3600;

/// The members the filter computes; `additional_members` cannot name them.
pub const COMPUTED_MEMBERS: [&str; 7] = [
    "resource",
    "authorization_servers",
    "scopes_supported",
    "bearer_methods_supported",
    "dpop_signing_alg_values_supported",
    "dpop_bound_access_tokens_required",
    "tls_client_certificate_bound_access_tokens",
];

/// The checked `resource_metadata` and its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMetadata {
    /// The resource identifier (`resource`).
    pub resource: String,
    /// The document's URL, for `resource_metadata="…"` in a 401.
    pub url: String,
    /// The request path the filter answers (without query).
    pub path: String,
    /// The document, serialised once.
    pub document: Arc<str>,
}

/// What [`build`] needs besides the providers and rules.
pub struct Settings<'a> {
    /// `resource`, already checked.
    pub resource: &'a str,
    /// The resource's origin, normalised (`https://api.example.com`).
    pub origin: &'a str,
    /// The resource's path (`""` or `/…`, without a trailing `/` unless it is `/`).
    pub path: &'a str,
    /// `authorization_servers`, if written.
    pub authorization_servers: Option<Vec<String>>,
    /// `scopes_supported`, if written.
    pub scopes_supported: Option<Vec<String>>,
    /// `additional_members`, checked not to name a computed member.
    pub additional_members: Map<String, Value>,
}

/// Build the document and its URL.
pub fn build(settings: Settings<'_>, providers: &[Provider], rules: &[Rule]) -> ResourceMetadata {
    let mut doc = settings.additional_members;
    doc.insert("resource".into(), Value::from(settings.resource));
    let servers = settings.authorization_servers.unwrap_or_else(|| {
        let mut out: Vec<String> = Vec::new();
        for p in providers {
            if !out.contains(&p.issuer) {
                out.push(p.issuer.clone());
            }
        }
        out
    });
    doc.insert("authorization_servers".into(), Value::from(servers));
    let scopes = settings.scopes_supported.unwrap_or_else(|| {
        let mut all: Vec<String> = rules.iter().flat_map(|r| r.scopes.clone()).collect();
        all.sort();
        all.dedup();
        all
    });
    if !scopes.is_empty() {
        doc.insert("scopes_supported".into(), Value::from(scopes));
    }
    let mut methods: Vec<&str> = Vec::new();
    for s in providers.iter().flat_map(|p| &p.sources) {
        let method = match s {
            TokenSource::Authorization { .. } => "header",
            TokenSource::Query { .. } => "query",
            TokenSource::Header { .. } | TokenSource::Cookie { .. } => continue,
        };
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    doc.insert("bearer_methods_supported".into(), Value::from(methods));
    let mut algs: Vec<&str> = Vec::new();
    for a in providers.iter().flat_map(|p| &p.dpop.algorithms) {
        if !algs.contains(&a.name()) {
            algs.push(a.name());
        }
    }
    doc.insert(
        "dpop_signing_alg_values_supported".into(),
        Value::from(algs),
    );
    let token_rules: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.access != Access::Anonymous)
        .collect();
    let dpop_required = !token_rules.is_empty()
        && token_rules
            .iter()
            .all(|r| rule_binding_is(r, providers, Binding::Dpop));
    doc.insert(
        "dpop_bound_access_tokens_required".into(),
        Value::from(dpop_required),
    );
    let mtls = rules.iter().any(|r| r.binding == Some(Binding::Mtls))
        || providers.iter().any(|p| p.binding == Binding::Mtls);
    doc.insert(
        "tls_client_certificate_bound_access_tokens".into(),
        Value::from(mtls),
    );
    let suffix = if settings.path == "/" {
        ""
    } else {
        settings.path
    };
    let path = format!("{WELL_KNOWN}{suffix}");
    ResourceMetadata {
        resource: settings.resource.to_owned(),
        url: format!("{}{path}", settings.origin),
        path,
        document: Value::Object(doc).to_string().into(),
    }
}

/// Whether every token `rule` accepts must have `binding` (the rule's own, else that of
/// every provider it accepts).
fn rule_binding_is(rule: &Rule, providers: &[Provider], binding: Binding) -> bool {
    match rule.binding {
        Some(b) => b == binding,
        None => {
            let accepted: Vec<&Provider> = match &rule.providers {
                Some(ids) => ids.iter().filter_map(|id| providers.get(id.0)).collect(),
                None => providers.iter().collect(),
            };
            !accepted.is_empty() && accepted.iter().all(|p| p.binding == binding)
        }
    }
}

impl ResourceMetadata {
    /// Whether a request for `method` and `raw_path` (`:path` as sent, query allowed) asks
    /// for the document: `GET` or `HEAD` on exactly [`ResourceMetadata::path`].
    pub fn answers(&self, method: &str, raw_path: &str) -> bool {
        let path = raw_path.split_once('?').map_or(raw_path, |(p, _)| p);
        (method == "GET" || method == "HEAD") && path == self.path
    }

    /// The response: 200, `application/json`, cacheable for [`MAX_AGE_SECONDS`].
    pub fn response(&self) -> crate::response::LocalResponse {
        crate::response::LocalResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "cache-control".into(),
                    format!("public, max-age={MAX_AGE_SECONDS}"),
                ),
            ],
            body: self.document.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::Config;
    use crate::testkit::{self, TestKey};

    fn config(extra: serde_json::Value) -> Result<Config, crate::ConfigError> {
        let mut base = testkit::config();
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        Config::from_json(base.to_string().as_bytes())
    }

    fn provider(name: &str, issuer: &str, more: serde_json::Value) -> serde_json::Value {
        let mut p = json!({"name": name, "issuer": issuer, "audiences": ["api"],
                           "jwks": {"inline": testkit::jwks(&[TestKey::Es256])}});
        if let (Some(b), Some(e)) = (p.as_object_mut(), more.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        p
    }

    fn document(extra: serde_json::Value) -> serde_json::Value {
        let c = config(extra).unwrap();
        let m = c.resource_metadata.unwrap();
        serde_json::from_str(&m.document).unwrap()
    }

    #[test]
    fn a_minimal_configuration_publishes_what_the_rest_of_it_says() {
        let c =
            config(json!({"resource_metadata": {"resource": "https://api.example.com"}})).unwrap();
        let m = c.resource_metadata.unwrap();
        assert_eq!(m.path, "/.well-known/oauth-protected-resource");
        assert_eq!(
            m.url,
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            &*m.document,
            r#"{"authorization_servers":["https://login.example.test/oauth/v2/anonymous","https://partner.example.test"],"bearer_methods_supported":["header"],"dpop_bound_access_tokens_required":false,"dpop_signing_alg_values_supported":["ES256","EdDSA","RS256","PS256"],"resource":"https://api.example.com","scopes_supported":["exact:only","orders:admin","orders:read","orders:write"],"tls_client_certificate_bound_access_tokens":false}"#
        );
    }

    #[test]
    fn a_resource_with_a_path_is_served_after_the_well_known_segment() {
        let c =
            config(json!({"resource_metadata": {"resource": "https://API.example.com:443/v1"}}))
                .unwrap();
        let m = c.resource_metadata.unwrap();
        assert_eq!(m.path, "/.well-known/oauth-protected-resource/v1");
        assert_eq!(
            m.url,
            "https://api.example.com/.well-known/oauth-protected-resource/v1"
        );
        assert_eq!(m.resource, "https://API.example.com:443/v1");
        assert!(m.answers("GET", "/.well-known/oauth-protected-resource/v1"));
        assert!(m.answers("HEAD", "/.well-known/oauth-protected-resource/v1?x=1"));
        assert!(!m.answers("POST", "/.well-known/oauth-protected-resource/v1"));
        assert!(!m.answers("GET", "/.well-known/oauth-protected-resource"));
        assert!(!m.answers("GET", "/.well-known/oauth-protected-resource/v1/"));
    }

    #[test]
    fn several_providers_sources_and_bindings_shape_the_document() {
        let doc = document(json!({
            "providers": [
                provider("a", "https://a.example", json!({"binding": "dpop",
                    "dpop": {"algorithms": ["ES256", "EdDSA"]},
                    "sources": [{"header": "authorization"}, {"cookie": "at"}]})),
                provider("b", "https://b.example", json!({"binding": "dpop",
                    "dpop": {"algorithms": ["PS256", "ES256"]},
                    "sources": [{"query": "access_token"}, {"header": "x-token"}]})),
            ],
            "rules": [
                {"match": {"prefix": "/a"}, "scopes": ["z", "a"]},
                {"match": {"prefix": "/pub"}, "anonymous": true},
            ],
            "resource_metadata": {"resource": "http://127.0.0.1:8080"},
        }));
        assert_eq!(
            doc,
            json!({
                "resource": "http://127.0.0.1:8080",
                "authorization_servers": ["https://a.example", "https://b.example"],
                "scopes_supported": ["a", "z"],
                "bearer_methods_supported": ["header", "query"],
                "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "PS256"],
                "dpop_bound_access_tokens_required": true,
                "tls_client_certificate_bound_access_tokens": false,
            })
        );
    }

    #[test]
    fn one_rule_without_dpop_means_dpop_is_not_required_and_mtls_is_announced() {
        let doc = document(json!({
            "providers": [
                provider("a", "https://a.example", json!({"binding": "dpop"})),
            ],
            "rules": [
                {"match": {"prefix": "/a"}},
                {"match": {"prefix": "/b"}, "binding": "mtls"},
            ],
            "resource_metadata": {"resource": "https://api.example.com"},
        }));
        assert_eq!(doc["dpop_bound_access_tokens_required"], json!(false));
        assert_eq!(
            doc["tls_client_certificate_bound_access_tokens"],
            json!(true)
        );
        assert_eq!(doc.get("scopes_supported"), None);
    }

    #[test]
    fn written_members_replace_the_computed_defaults_and_extra_members_pass_as_is() {
        let doc = document(json!({"resource_metadata": {
            "resource": "https://api.example.com",
            "authorization_servers": ["https://as.example.com"],
            "scopes_supported": ["x"],
            "additional_members": {"resource_name": "Orders API",
                                   "resource_documentation": "https://docs.example.com"},
        }}));
        assert_eq!(
            doc["authorization_servers"],
            json!(["https://as.example.com"])
        );
        assert_eq!(doc["scopes_supported"], json!(["x"]));
        assert_eq!(doc["resource_name"], json!("Orders API"));
        assert_eq!(
            doc["resource_documentation"],
            json!("https://docs.example.com")
        );
    }

    #[test]
    fn the_response_is_cacheable_json() {
        let c =
            config(json!({"resource_metadata": {"resource": "https://api.example.com"}})).unwrap();
        let m = c.resource_metadata.unwrap();
        let r = m.response();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                (
                    "cache-control".to_owned(),
                    "public, max-age=3600".to_owned()
                ),
            ]
        );
        assert_eq!(r.body, &*m.document);
    }
}
