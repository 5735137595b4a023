#!/usr/bin/env bash
# Benchmarks that print figures (never pass/fail on timing): the token filter against Envoy without auth, native
# jwt_authn (several ways) and the floor filter, under three token mixes, in one run (tests/perf/bench/filter-bench.mjs
# writes target/bench/filter-bench.{md,svg,json}); and the redirect page's transfer size.
# Arguments go to filter-bench.mjs, e.g. `scripts/bench.sh --quick` or `make bench BENCH_ARGS="--alg RS256"`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
for a in "$@"; do
  case "$a" in
    -h | --help | --version) exec node tests/perf/bench/filter-bench.mjs "$@" ;;
  esac
done
# Check the options before setup and build: filter-bench.mjs parses them first (a mistake exits 2 with one line)
# and, with --version appended, stops right there.
node tests/perf/bench/filter-bench.mjs "$@" --version >/dev/null
bash scripts/setup.sh
bash scripts/build.sh
step "redirect page size (gzipped transfer)"
"$ROOT/target/debug/tollgate-site" size --dir "$TOLLGATE_SITE_DIR"
step "filter benchmark (real Envoy, one worker; wrk, loopback)"
node tests/perf/bench/filter-bench.mjs "$@"
