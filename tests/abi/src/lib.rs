//! A small proxy-wasm host (ABI 0.2.1) on wasmtime, for ABI tests of the built filter.
//!
//! The host loads the real `tollgate_filter.wasm` (see [`filter_wasm_path`]), provides
//! the WASI preview1 imports through `wasmtime-wasi` and the `env.proxy_*` host calls
//! itself (the private `imports` module), and records what the filter did: logs, header mutations, local
//! responses, metrics, shared data, callouts, timers and foreign-function calls
//! (`verify_signature`, see [`foreign`]). Time is a parameter: the clock
//! only moves when a test moves it.
//!
//! Strict by default: a host call the filter imports but this host does not model traps
//! with its name; a trap kills the VM (as in Envoy) and every later call fails.

pub mod abi;
pub mod foreign;
mod imports;
pub mod process;
pub mod state;
pub mod vm;

pub use abi::{Action, Header, LogLevel, MapType, MetricType};
pub use process::{Metric, Process};
pub use state::{HeaderMutation, HttpCall, LocalResponse, LogRecord};
pub use vm::{filter_wasm_path, FilterModule, FilterVm, BUILD_COMMAND};
