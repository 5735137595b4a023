#!/usr/bin/env bash
# Benchmarks that print figures (never pass/fail on timing): filter throughput
# against Envoy without auth and with native jwt_authn, measured in one run,
# and the redirect page's transfer size.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/build.sh
step "redirect page size (gzipped transfer)"
"$ROOT/target/debug/tollgate-site" size --dir "$TOLLGATE_SITE_DIR"
step "filter throughput (wrk, loopback, one Envoy worker)"
node tests/e2e/bench/filter-bench.mjs "$@"
