#!/usr/bin/env bash
# Builds the artefacts: the filter (.wasm for Envoy), the operator command line `tollgate`
# (Linux x86_64) and the static site with the redirect page. Assumes setup.sh has run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_args "usage: bash scripts/build.sh   (or: make build, which runs setup first)
Builds the token filter ($TOLLGATE_FILTER_WASM),
the tollgate command line ($TOLLGATE_CLI)
and the redirect page's site ($TOLLGATE_SITE_DIR)." -- "$@"
cd "$ROOT"

timed "build the token filter (wasm32-wasip1, release; a first build compiles for several minutes)" \
  cargo build --locked --quiet -p tollgate-filter --target wasm32-wasip1 --release
ls -l "$TOLLGATE_FILTER_WASM" | awk '{print "    " $NF ": " $5 " bytes"}'

timed "build the tollgate command line (Linux x86_64, release; check and explain configurations)" \
  cargo build --locked --quiet -p tollgate-cli --target x86_64-unknown-linux-gnu --release
ls -l "$TOLLGATE_CLI" | awk '{print "    " $NF ": " $5 " bytes"}'

timed "build the signature benchmark's guest (wasm32-wasip1, release; its smoke test in cargo nextest loads it)" \
  cargo build --locked --quiet -p tollgate-sigbench-guest --target wasm32-wasip1 --release

timed "build the redirect page and the site (a first build compiles for a few minutes)" \
  bash redirect-page/build.sh "$TOLLGATE_SITE_DIR"
