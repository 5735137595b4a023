//! A small proxy-wasm host on wasmtime, for ABI tests of the built filter.
