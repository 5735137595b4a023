#!/usr/bin/env bash
# Builds the redirect page and the static site.
#
#   redirect-page/build.sh [OUT_DIR]        (default OUT_DIR: target/www; OUT_DIR/page and OUT_DIR/app-link are the two document roots)
#
# 1. cargo build the page crate for wasm32-unknown-unknown (release profile);
# 2. wasm-bindgen --target web --no-typescript (must be exactly the version in
#    Cargo.lock: $REPO/.tools/bin/wasm-bindgen if present, else PATH);
# 3. wasm-opt -Oz when wasm-opt is installed;
# 4. tollgate-site build --config www/site.json --pkg target/redirect-page-pkg --out OUT_DIR.
# Env: SITE_CONFIG overrides the config (default www/site.json; it may live anywhere, the
# hand-written assets are built into tollgate-site from www/assets).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/target/www}"
CONFIG="${SITE_CONFIG:-$REPO/www/site.json}"
PKG="$REPO/target/redirect-page-pkg"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
cd "$REPO"

if [[ -x "$REPO/.tools/bin/wasm-bindgen" ]]; then
  WASM_BINDGEN="$REPO/.tools/bin/wasm-bindgen"
elif command -v wasm-bindgen >/dev/null; then
  WASM_BINDGEN="$(command -v wasm-bindgen)"
else
  echo "wasm-bindgen not found: run scripts/setup.sh (or: cargo install --locked --root $REPO/.tools wasm-bindgen-cli --version <Cargo.lock version>)" >&2
  exit 1
fi

# The CLI and the crate must be the same version, or the glue does not match the module.
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
have="$("$WASM_BINDGEN" --version | awk '{ print $2 }')"
if [[ "$want" != "$have" ]]; then
  echo "wasm-bindgen-cli is $have but Cargo.lock has wasm-bindgen $want: cargo install --locked --root $REPO/.tools wasm-bindgen-cli --version $want" >&2
  exit 1
fi

cargo build --locked -p tollgate-redirect-page --target wasm32-unknown-unknown --release
# Generate into a private directory and swap it in, so parallel builds never mix files.
STAGE="$PKG.tmp.$$"
trap 'rm -rf "$STAGE" "$PKG.old.$$"' EXIT
rm -rf "$STAGE"
"$WASM_BINDGEN" --target web --no-typescript --out-dir "$STAGE" \
  "$TARGET_DIR/wasm32-unknown-unknown/release/tollgate_redirect_page.wasm"

if command -v wasm-opt >/dev/null; then
  # Rust's wasm32 target emits these post-MVP features; older binaryen needs them named.
  wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$STAGE/tollgate_redirect_page_bg.wasm" -o "$STAGE/tollgate_redirect_page_bg.opt.wasm"
  mv "$STAGE/tollgate_redirect_page_bg.opt.wasm" "$STAGE/tollgate_redirect_page_bg.wasm"
else
  echo "note: wasm-opt not found, the page's wasm is not size-optimised" >&2
fi
if [[ -d "$PKG" ]]; then mv "$PKG" "$PKG.old.$$"; fi
mv "$STAGE" "$PKG"

cargo build --locked -p tollgate-site
"$TARGET_DIR/debug/tollgate-site" build --config "$CONFIG" --pkg "$PKG" --out "$OUT"
echo "site built in $OUT"
