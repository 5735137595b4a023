//! proxy-wasm glue for tollgate: host calls in, core decision out.
//!
//! All logic lives in `tollgate-core`. This crate only:
//! - reads the plugin configuration and builds a [`tollgate_core::Engine`] (root context);
//! - per request, strips client-sent claim headers, evaluates the request with the host
//!   clock, and turns the [`tollgate_core::Outcome`] into header writes or a local
//!   response (HTTP context);
//! - counts every decision and logs denials (reason and provider, never the token).
//!
//! The engine (with its verified-token cache) is shared by the root context and the HTTP
//! contexts of one VM through `Rc<RefCell<…>>`: a VM is single-threaded.
//! Remote key sets (issue 3) are fetched by the root context (`dispatch_http_call`, shared
//! data, a timer) and installed with `Engine::set_provider_keys`; see [`keys`].

mod host;
mod http;
mod keys;
mod metrics;
mod root;

use proxy_wasm::types::LogLevel;

/// Log panics at critical level before the VM aborts (`panic = "abort"`): a panic kills
/// the VM for every later request, so it must never pass silently.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        host::log(LogLevel::Critical, &format!("tollgate: panic: {info}"));
    }));
}

proxy_wasm::main! {{
    install_panic_hook();
    proxy_wasm::set_root_context(|context_id| Box::new(root::TollgateRoot::new(context_id)));
}}
