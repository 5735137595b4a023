//! Pure token-validation core of tollgate (no proxy-wasm dependency).
