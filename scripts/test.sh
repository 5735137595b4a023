#!/usr/bin/env bash
# Runs every check and every test. This is what CI runs (.ci/run).
# Every step prints how long it took.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_args "usage: bash scripts/test.sh   (or: make test)
Runs setup, then every check and every test: cargo fmt --check, clippy (native and both wasm targets), cargo
doc with warnings as errors, cargo deny (licences, duplicate versions, sources), the builds, cargo nextest, the
site checks, the page's wasm-bindgen tests in headless Chromium, the end-to-end suites in tests/e2e and the
benchmark and soak harnesses' tests in tests/perf." -- "$@"
cd "$ROOT"
bash scripts/setup.sh

step "cargo fmt --check (workspace and fuzz/)"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check

step "cargo clippy (native, wasm32-wasip1, wasm32-unknown-unknown)"
cargo clippy --locked --quiet --workspace --all-targets -- -D warnings
cargo clippy --locked --quiet -p tollgate-core -p tollgate-filter -p tollgate-sigbench-guest --target wasm32-wasip1 -- -D warnings
cargo clippy --locked --quiet -p tollgate-redirect-page --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy --locked --quiet --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

step "cargo doc (every workspace crate, warnings are errors: broken links, bad code spans)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --quiet --no-deps --workspace

step "cargo deny check licenses bans sources (deny.toml; advisories need the RustSec database from GitHub)"
cargo deny --locked check licenses bans sources
step_done # build.sh times its own steps

bash scripts/build.sh

step "tollgate check on the shipped examples and manifests"
"$TOLLGATE_CLI" check envoy/examples/*/envoy.yaml envoy/istio/wasmplugin.yaml envoy/istio/remote-jwks.yaml \
  envoy/gateway/envoyextensionpolicy.yaml

step "Istio / Envoy Gateway manifests pin the image this build packs"
node scripts/oci-image.mjs --check-manifests

step "unit and ABI tests (cargo nextest)"
cargo nextest run --locked --workspace --no-fail-fast

step "site: config and asset-file checks, page size, page parity vectors (Rust -> fallback.js)"
"$ROOT/target/debug/tollgate-site" check --config www/site.json --dir "$TOLLGATE_SITE_DIR"
"$ROOT/target/debug/tollgate-site" size --dir "$TOLLGATE_SITE_DIR"
"$ROOT/target/debug/tollgate-site" vectors --check tests/e2e/page/parity-vectors.json
(cd tests/e2e && node --test page/parity.test.mjs)

step "page logic in headless Chromium (wasm-bindgen-test)"
cargo test --locked -p tollgate-redirect-page --target wasm32-unknown-unknown

step "end-to-end: real Envoy, real authorization server, real Chromium (node --test)"
(cd tests/e2e && node --test --test-concurrency=1 --test-reporter=spec)

step "benchmark and soak harnesses: a short benchmark run, the floor filter, the soak's judge (node --test in tests/perf)"
(cd tests/perf && node --test --test-concurrency=1 --test-reporter=spec)

step "fuzz targets: seed corpus, regression inputs, oracles (cargo test in fuzz/)"
cargo test --locked --quiet --manifest-path fuzz/Cargo.toml

step "fuzz: every target briefly (scripts/fuzz.sh; the long run is make fuzz FUZZ_SECONDS=N)"
bash scripts/fuzz.sh

step "soak: 30 s with a misbehaving key server, then the memory phases (scripts/soak.sh)"
SOAK_SECONDS=30 bash scripts/soak.sh
