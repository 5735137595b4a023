//! proxy-wasm glue for tollgate: host calls in, core decision out.
