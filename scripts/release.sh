#!/usr/bin/env bash
# Release artefacts, from what scripts/build.sh built (`make release` runs setup and build first):
#
#   target/dist/                       (or the directory given as $1)
#     tollgate_filter.wasm             the filter, exactly the built $TOLLGATE_FILTER_WASM
#     tollgate-linux-x86_64            the operator command line, exactly the built $TOLLGATE_CLI
#     oci/                             OCI image layout: tollgate-filter:<version> and :<version>-compat
#     tollgate-site-www.tar.gz         the built site ($TOLLGATE_SITE_DIR) under www/
#     SHA256SUMS                       sha256sum of every file above (check: cd target/dist && sha256sum -c SHA256SUMS)
#
# The version is the workspace version in Cargo.toml. Every artefact is reproducible: the same inputs give the
# same bytes (no timestamps, sorted archive members, owner 0:0, gzip without name or time).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_args "usage: bash scripts/release.sh [OUT_DIR]   (or: make release, which runs setup and build first)
Writes the release artefacts of what scripts/build.sh built into OUT_DIR (default target/dist):
tollgate_filter.wasm, tollgate-linux-x86_64, oci/, tollgate-site-www.tar.gz, SHA256SUMS." --positional 1 -- "$@"
cd "$ROOT"

OUT="${1:-$ROOT/target/dist}"
[ -f "$TOLLGATE_FILTER_WASM" ] || die "$TOLLGATE_FILTER_WASM is missing: run bash scripts/build.sh (or make release)"
[ -f "$TOLLGATE_CLI" ] || die "$TOLLGATE_CLI is missing: run bash scripts/build.sh (or make release)"
[ -f "$TOLLGATE_SITE_DIR/.tollgate-site" ] || die "$TOLLGATE_SITE_DIR has no built site: run bash scripts/build.sh (or make release)"

step "release artefacts in $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$TOLLGATE_FILTER_WASM" "$OUT/tollgate_filter.wasm"
cp "$TOLLGATE_CLI" "$OUT/tollgate-linux-x86_64"

node scripts/oci-image.mjs --wasm "$OUT/tollgate_filter.wasm" --out "$OUT/oci"

(cd "$TOLLGATE_SITE_DIR" && find . -type f -printf '%P\n' | LC_ALL=C sort) \
  | tar -C "$TOLLGATE_SITE_DIR" --create --file=- --no-recursion --verbatim-files-from --files-from=- \
      --transform 's,^,www/,' --owner=0 --group=0 --numeric-owner --mode='u=rwX,go=rX' --mtime='@0' --format=ustar \
  | gzip -n -9 > "$OUT/tollgate-site-www.tar.gz"

(cd "$OUT" && { echo tollgate_filter.wasm; echo tollgate-linux-x86_64; echo tollgate-site-www.tar.gz; find oci -type f | LC_ALL=C sort; } \
  | xargs sha256sum > SHA256SUMS)

echo
(cd "$OUT" && ls -l tollgate_filter.wasm tollgate-linux-x86_64 tollgate-site-www.tar.gz SHA256SUMS | awk '{print "  " $NF ": " $5 " bytes"}')
echo "  oci/: $(find "$OUT/oci" -type f | wc -l) files; SHA256SUMS covers $(wc -l < "$OUT/SHA256SUMS") files"
