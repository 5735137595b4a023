//! proxy-wasm glue for tollgate: host calls in, core decision out.
//!
//! All logic lives in `tollgate-core`. This crate only:
//! - reads the plugin configuration and builds a [`tollgate_core::Engine`] (root context);
//! - per request, strips client-sent claim headers, evaluates the request with the host
//!   clock, and turns the [`tollgate_core::Outcome`] into header writes or a local
//!   response (HTTP context);
//! - counts every decision and logs denials (reason and provider, never the token).
//!
//! Layout (private modules): `flow` is the per-request path, top to bottom; `root` and `http`
//! are thin adapters from the proxy-wasm callbacks to it; `shared` is what they share (one VM
//! is single-threaded: `Rc<RefCell<…>>`); `keys` is the host side of remote key fetching
//! (every decision is `tollgate_core::remote::Outbound`'s); `signatures` wires Envoy's
//! `verify_signature` in; `host` wraps every host call so that none can panic.

mod attestation;
mod environment;
mod flow;
mod guidance;
mod host;
mod http;
mod introspection;
mod keys;
mod metrics;
mod root;
mod shared;
mod signatures;

use proxy_wasm::types::LogLevel;

/// Log panics at critical level before the VM aborts (`panic = "abort"`): a panic kills
/// the VM for every later request, so it must never pass silently.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        host::log(LogLevel::Critical, &format!("panic: {info}"));
    }));
}

proxy_wasm::main! {{
    install_panic_hook();
    proxy_wasm::set_root_context(|context_id| Box::new(root::TollgateRoot::new(context_id)));
}}
