//! The host side of what the filter tells clients: the protected resource metadata document
//! answered locally (RFC 9728), and a fresh DPoP server nonce on the response of an allowed
//! request (RFC 9449 §9). The decisions are the core's ([`tollgate_core::Engine`]); this only
//! turns them into host calls.

use proxy_wasm::types::{Action, LogLevel};

use crate::host;
use crate::shared::Shared;

/// Answer a request for the metadata document without reaching the upstream. `None`: the
/// request asks for something else (or no document is configured).
pub(crate) fn answer_metadata(shared: &Shared, headers: &[(String, String)]) -> Option<Action> {
    let response = shared.engine.metadata_response(headers)?;
    if let Err(status) =
        host::send_response(response.status, &response.headers, response.body.as_bytes())
    {
        host::log(
            LogLevel::Critical,
            &format!("cannot send the resource metadata: {status:?}"),
        );
    }
    Some(Action::Pause)
}

/// Remember the fresh nonce an allowed request's response must carry (the response headers
/// arrive later, in the request's own context).
pub(crate) fn nonce_for_response(shared: &mut Shared, context_id: u32, nonce: Option<&String>) {
    if let Some(nonce) = nonce {
        shared.response_nonces.insert(context_id, nonce.clone());
    }
}

/// Add the remembered nonce (if any) to the response headers of `context_id`.
pub(crate) fn add_nonce_to_response(shared: &mut Shared, context_id: u32) {
    let Some(nonce) = shared.response_nonces.remove(&context_id) else {
        return;
    };
    for (name, value) in shared.engine.nonce_response_headers(&nonce) {
        if let Err(status) = host::add_response_header(&name, &value) {
            host::log(
                LogLevel::Warn,
                &format!("cannot add {name} to the response: {status:?}"),
            );
        }
    }
}

/// Forget the nonce of a request that ended without response headers.
pub(crate) fn forget(shared: &mut Shared, context_id: u32) {
    shared.response_nonces.remove(&context_id);
}
