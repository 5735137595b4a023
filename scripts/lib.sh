# Shared helpers for the task scripts. Sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export ENVOY_BIN="${ENVOY_BIN:-$ROOT/.venv/bin/envoy}"
export WASM_BINDGEN="${WASM_BINDGEN:-$ROOT/.tools/bin/wasm-bindgen}"
export PATH="$ROOT/.tools/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
export TOLLGATE_FILTER_WASM="${TOLLGATE_FILTER_WASM:-$ROOT/target/wasm32-wasip1/release/tollgate_filter.wasm}"
export TOLLGATE_SITE_DIR="${TOLLGATE_SITE_DIR:-$ROOT/target/www}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
