//! The host side of a fresh DPoP server nonce on the response of an allowed request (RFC 9449
//! §9). The decisions are the core's ([`tollgate_core::Engine`]); this only turns them into
//! host calls. (The metadata document is one of the local answers of `flow::arrived`.)

use proxy_wasm::types::LogLevel;

use crate::host;
use crate::shared::Shared;

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
