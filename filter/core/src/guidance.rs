//! What the glue sends so that clients learn how to succeed: the local responses of denials
//! with the `resource_metadata` link (RFC 9728 §5.1), the metadata document itself, and the
//! headers that carry a DPoP server nonce on responses (RFC 9449 §9).

use crate::engine::Engine;
use crate::request;
use crate::response::{Denial, LocalResponse};

/// The DPoP server nonce header (lower case, as the glue writes headers).
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";

impl Engine {
    /// The local response for `denial`: [`Denial::response`] with the configured realm; with
    /// `resource_metadata`, a 401's `WWW-Authenticate` also carries
    /// `resource_metadata="<url>"`; with `cors_preflight`, a response carrying `DPoP-Nonce`
    /// lists it in `Access-Control-Expose-Headers` so that browser clients can read it.
    pub fn respond(&self, denial: &Denial) -> LocalResponse {
        let config = self.config();
        let mut response = denial.response(&config.realm);
        if let (401, Some(m)) = (response.status, &config.resource_metadata) {
            for (name, value) in &mut response.headers {
                if name == "www-authenticate" {
                    value.push_str(&format!(
                        ", resource_metadata=\"{}\"",
                        crate::response::quote_escape(&m.url)
                    ));
                }
            }
        }
        if config.cors_preflight && response.headers.iter().any(|(n, _)| n == DPOP_NONCE_HEADER) {
            response.headers.push(expose_nonce_header());
        }
        response
    }

    /// The response to a request for the protected resource metadata document (`GET` or
    /// `HEAD` on its path), answered without reaching the upstream; `None` for every other
    /// request, or when `resource_metadata` is not configured.
    pub fn metadata_response(&self, headers: &[(String, String)]) -> Option<LocalResponse> {
        let m = self.config().resource_metadata.as_ref()?;
        let method = request::header(headers, ":method")?;
        let path = request::header(headers, ":path")?;
        m.answers(method, path).then(|| m.response())
    }

    /// The response headers that carry a fresh nonce on an allowed request's response
    /// ([`crate::Allowed::dpop_nonce`]): `DPoP-Nonce`, and with `cors_preflight` its
    /// `Access-Control-Expose-Headers` entry.
    pub fn nonce_response_headers(&self, nonce: &str) -> Vec<(String, String)> {
        let mut out = vec![(DPOP_NONCE_HEADER.to_owned(), nonce.to_owned())];
        if self.config().cors_preflight {
            out.push(expose_nonce_header());
        }
        out
    }
}

fn expose_nonce_header() -> (String, String) {
    (
        "access-control-expose-headers".to_owned(),
        "DPoP-Nonce".to_owned(),
    )
}
