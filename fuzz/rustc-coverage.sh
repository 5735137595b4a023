#!/usr/bin/env bash
# RUSTC_WRAPPER of scripts/fuzz.sh: compiles the crates listed in uninstrumented-crates.txt without the
# SanitizerCoverage flags, every other crate as cargo asks. Their code still runs in the fuzz binary; the
# fuzzer just does not steer by it. New edges inside big-integer and curve arithmetic say nothing about
# tollgate's parsers and decisions, and instrumenting them (with comparison tracing) makes every signature
# several times slower. (LLVM's coverage ignore list is a clang option, not one rustc can pass on.)
set -euo pipefail
rustc="$1"
shift
name=""
prev=""
for a in "$@"; do
  [ "$prev" = "--crate-name" ] && name="$a"
  prev="$a"
done
if [ -n "$name" ] && grep -qx "$name" "$(dirname "${BASH_SOURCE[0]}")/uninstrumented-crates.txt"; then
  args=()
  for a in "$@"; do
    case "$a" in
      -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-*) ;;
      *) args+=("$a") ;;
    esac
  done
  exec "$rustc" "${args[@]}"
fi
exec "$rustc" "$@"
