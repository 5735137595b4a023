//! The built module is a proxy-wasm ABI 0.2.1 filter this host can run: it exports the
//! ABI marker and the callbacks, imports only host calls and WASI, and starts cleanly.

use crate::common::{module, new_vm};

#[test]
fn exports_the_abi_0_2_1_entry_points() {
    let exports = module().exports();
    for name in [
        "proxy_abi_version_0_2_1",
        "_initialize",
        "memory",
        "proxy_on_memory_allocate",
        "proxy_on_context_create",
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_request_headers",
        "proxy_on_response_headers",
        "proxy_on_done",
        "proxy_on_delete",
        "proxy_on_tick",
        "proxy_on_http_call_response",
    ] {
        assert!(exports.iter().any(|e| e == name), "missing export {name}");
    }
}

#[test]
fn instantiates_and_initialises_without_calling_unmodelled_host_functions() {
    let vm = new_vm();
    assert_eq!(vm.crashed(), None);
    // Imported but never expected to be called; listed so a reader sees what is strict.
    let strict = vm.unimplemented_imports();
    assert!(
        !strict
            .iter()
            .any(|n| n == "proxy_log" || n == "proxy_send_local_response"),
        "core host calls must be modelled, got {strict:?}"
    );
}

#[test]
fn host_calls_are_all_proxy_abi_functions() {
    for name in module().host_imports() {
        assert!(name.starts_with("proxy_"), "unexpected env import {name}");
    }
}
