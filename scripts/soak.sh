#!/usr/bin/env bash
# The soak (tests/perf/soak/README.md): the real Envoy with two workers and the built filter under a bounded
# wrk load with valid, expired, forged, garbled and missing tokens while the key server goes down, answers
# slowly, answers garbage and rotates keys; then the memory phases. Its last line is exactly
#   soak: R requests, W wrong answers, F 5xx, V vm failures, memory A -> B MiB
# and it exits non-zero unless W, F and V are 0 and memory stayed flat.
#
#   SOAK_SECONDS=30 scripts/soak.sh      (make soak; make soak SOAK_SECONDS=1800 for the long run)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_args "usage: SOAK_SECONDS=N bash scripts/soak.sh   (or: make soak [SOAK_SECONDS=N])
Runs the real Envoy (two workers) with the built filter under a bounded wrk load while the key server goes down,
hangs, answers garbage and rotates keys, for SOAK_SECONDS seconds (default 30, at least 10), then the memory
phases. Its last line is: soak: R requests, W wrong answers, F 5xx, V vm failures, memory A -> B MiB; it exits
non-zero unless W, F and V are 0 and memory stayed flat." -- "$@"
cd "$ROOT"
seconds="${SOAK_SECONDS:-30}"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 10 ] || die "SOAK_SECONDS must be a whole number of seconds, at least 10, got '$seconds'"
command -v wrk >/dev/null || die "wrk is missing: run scripts/setup.sh"
[ -x "$ENVOY_BIN" ] || die "Envoy is missing at $ENVOY_BIN: run scripts/setup.sh"
[ -f "$TOLLGATE_FILTER_WASM" ] || die "the filter is not built ($TOLLGATE_FILTER_WASM): run scripts/build.sh"
# Not a `step`: its progress ticker would outlive `exec`, and the soak's own summary must stay the last line.
echo "==> soak: ${seconds} s of chaos, then the memory phases (Envoy --concurrency 2, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) …"
exec node tests/perf/soak/soak.mjs --seconds "$seconds"
