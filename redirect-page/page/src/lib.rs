//! The intermediate redirect page (wasm-bindgen).
