#!/usr/bin/env bash
# Builds the two artefacts: the filter (.wasm for Envoy) and the static site
# with the redirect page. Assumes setup.sh has run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

step "build the token filter (wasm32-wasip1, release)"
cargo build --locked --quiet -p tollgate-filter --target wasm32-wasip1 --release
ls -l "$TOLLGATE_FILTER_WASM" | awk '{print "  " $NF ": " $5 " bytes"}'

step "build the redirect page and the site"
bash redirect-page/build.sh "$TOLLGATE_SITE_DIR"
