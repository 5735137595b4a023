#!/usr/bin/env bash
# The signature micro-benchmark (figures, never pass/fail on timing): every algorithm tollgate verifies, timed on
# tollgate-core's pure-Rust path natively and in Wasm under wasmtime at the release profile's opt-level and at the
# other one, and on the host path (Envoy's verify_signature semantics on ring) with the filter's in-VM share of
# it (tests/perf/sigbench writes target/bench/signatures.{md,json}); then the verified-token cache's memory per entry
# in the built filter (tests/abi/examples/cache_memory.rs writes target/bench/cache-memory.{md,json}).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage="usage: bash scripts/bench-signatures.sh [--quick | --smoke] [--out DIR]
       (or: make bench-signatures BENCH_ARGS=--quick)
Times every signature algorithm on every path (about 2 minutes after the builds; --quick about 20 s,
--smoke checks every path once) and measures the token cache's memory per entry. Reports go to
target/bench/ (or DIR): signatures.md, signatures.json, cache-memory.md, cache-memory.json."
harness=()
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) printf '%s\n' "$usage"; exit 0 ;;
    --version) printf '%s (tollgate %s)\n' "$(basename "$0")" "$(workspace_version)"; exit 0 ;;
    --quick | --smoke) harness+=("$1") ;;
    --out)
      [ $# -ge 2 ] || { printf '%s: --out needs a directory (see --help)\n' "$(basename "$0")" >&2; exit 2; }
      out="$2"; harness+=("--out" "$2"); shift ;;
    *) printf '%s: unknown option %s (see %s --help)\n' "$(basename "$0")" "$1" "$(basename "$0")" >&2; exit 2 ;;
  esac
  shift
done
cd "$ROOT"

step "load average (1, 5, 15 min; running/total tasks) on $(nproc) CPUs"
cat /proc/loadavg
step_done

bash scripts/setup.sh

# The opt-level the release profile (the shipped filter) uses, and the other one of "s" and 3.
level="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-$(awk '/^\[/ { in_rel = ($0 == "[profile.release]") }
  in_rel && /^opt-level *=/ { gsub(/^opt-level *= *|"| /, ""); print; exit }' Cargo.toml)}"
[ -n "$level" ] || die "no opt-level in Cargo.toml's [profile.release]"
if [ "$level" = "3" ]; then alt="s"; else alt="3"; fi

timed "build the filter and the benchmark guest for wasm32-wasip1 at opt-level $level (the release profile)" \
  cargo build --locked --quiet -p tollgate-filter -p tollgate-sigbench-guest --target wasm32-wasip1 --release
timed "build them again at opt-level $alt (profile sigbench: the release profile with CARGO_PROFILE_SIGBENCH_OPT_LEVEL=$alt)" \
  env CARGO_PROFILE_SIGBENCH_OPT_LEVEL="$alt" \
  cargo build --locked --quiet -p tollgate-filter -p tollgate-sigbench-guest --target wasm32-wasip1 --profile sigbench
timed "build the benchmark guest for the host (release profile) and the harness" \
  bash -c 'cargo build --locked --quiet -p tollgate-sigbench-guest --release &&
           cargo build --locked --quiet -p tollgate-sigbench &&
           cargo build --locked --quiet -p tollgate-abi-tests --example cache_memory'

step "signature checks per algorithm and path"
"$ROOT/target/debug/tollgate-sigbench" --level "$level" --alt-level "$alt" "${harness[@]}"

step "verified-token cache: memory per entry"
"$ROOT/target/debug/examples/cache_memory" ${out:+--out "$out"}
