#!/usr/bin/env bash
# Coverage-guided fuzzing of the pure cores on the stable toolchain (fuzz/README.md).
#
#   scripts/fuzz.sh                 every target for $FUZZ_SECONDS seconds (default 8: under a minute in all)
#   scripts/fuzz.sh token path      only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh   the long run (make fuzz FUZZ_SECONDS=600)
#
# Builds fuzz/ with libFuzzer (libfuzzer-sys) and the SanitizerCoverage flags stable rustc accepts, into
# target/fuzz/build; each target then runs for FUZZ_SECONDS on its checked-in seeds (fuzz/corpus/<target>),
# the regression inputs (fuzz/regressions/<target>) and what earlier runs found (target/fuzz/corpus/<target>,
# kept between runs). Prints, per target, the inputs tried and the crashes; exits 1 if any target crashed,
# with the input and the command that replays it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_args "usage: bash scripts/fuzz.sh [TARGET...]   (or: make fuzz [FUZZ_SECONDS=N])
Builds fuzz/ with libFuzzer on the stable toolchain and runs each target (all of them, or the ones named:
token jwks config path signature attestation page) for FUZZ_SECONDS seconds (default 8). Prints the inputs tried and the
crashes per target; exits 1 if any target crashed, with the input and the command that replays it." \
  --positional 7 -- "$@"
cd "$ROOT"

seconds="${FUZZ_SECONDS:-8}"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || die "FUZZ_SECONDS must be a whole number of seconds, got '$seconds'"
mapfile -t all < <(grep -o 'name: "[a-z0-9_]*"' fuzz/src/lib.rs | cut -d'"' -f2)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || die "unknown fuzz target '$t' (targets: ${all[*]})"
done

host="$(rustc -vV | sed -n 's/^host: //p')"
work="$ROOT/target/fuzz"
step "build fuzz/ with libFuzzer coverage instrumentation ($host)"
# The flags cargo-fuzz passes, minus the sanitizer (-Zsanitizer needs a nightly compiler); the crypto
# crates are left uninstrumented (fuzz/rustc-coverage.sh). --target makes RUSTFLAGS apply to the fuzzed
# code only, not to build scripts.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing" RUSTC_WRAPPER="$ROOT/fuzz/rustc-coverage.sh" \
  cargo build --locked --quiet --release --manifest-path fuzz/Cargo.toml --features libfuzzer \
  --target "$host" --target-dir "$work/build"
bin="$work/build/$host/release/tollgate-fuzz"

total_runs=0
crashed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/crashes/$t"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  seeds=("fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
  log="$work/$t.log"
  before=$(find "$work/crashes/$t" -type f | wc -l)
  set +e
  TOLLGATE_FUZZ_TARGET="$t" "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
    -rss_limit_mb=4096 -artifact_prefix="$work/crashes/$t/" "${dict[@]}" \
    "$work/corpus/$t" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{ print $2 }')
  corpus=$(find "$work/corpus/$t" -type f | wc -l)
  after=$(find "$work/crashes/$t" -type f | wc -l)
  crashes=$((after - before))
  total_runs=$((total_runs + ${runs:-0}))
  printf 'fuzz: %-9s %9s inputs in %ss (%s/s), %d crashes, coverage %s, corpus %s\n' \
    "$t" "${runs:-?}" "$seconds" "$(( ${runs:-0} / seconds ))" "$crashes" "${cov:-?}" "$corpus"
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    crashed+=("$t")
    grep -E "panicked at|^SUMMARY|Test unit written" -A3 "$log" | head -20 | sed 's/^/    /'
    newest=$(ls -t "$work/crashes/$t" 2>/dev/null | head -1)
    [ -n "$newest" ] && echo "    replay: cargo run --release --manifest-path fuzz/Cargo.toml -- $t $work/crashes/$t/$newest"
    echo "    full log: $log"
  fi
done
echo "fuzz: ${#targets[@]} targets, $total_runs inputs, ${#crashed[@]} crashed${crashed:+ (${crashed[*]})}"
[ ${#crashed[@]} -eq 0 ]
