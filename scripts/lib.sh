# Shared helpers for the task scripts. Sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export ENVOY_BIN="${ENVOY_BIN:-$ROOT/.venv/bin/envoy}"
export WASM_BINDGEN="${WASM_BINDGEN:-$ROOT/.tools/bin/wasm-bindgen}"
export PATH="$ROOT/.tools/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
export TOLLGATE_FILTER_WASM="${TOLLGATE_FILTER_WASM:-$ROOT/target/wasm32-wasip1/release/tollgate_filter.wasm}"
export TOLLGATE_SITE_DIR="${TOLLGATE_SITE_DIR:-$ROOT/target/www}"
export TOLLGATE_CLI="${TOLLGATE_CLI:-$ROOT/target/x86_64-unknown-linux-gnu/release/tollgate}"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The workspace version (`[workspace.package] version` in Cargo.toml), the version of every tool here.
workspace_version() {
  awk '/^\[/ { in_ws = ($0 == "[workspace.package]") } in_ws && /^version *= *"/ { gsub(/^version *= *"|".*$/, ""); print; exit }' \
    "$ROOT/Cargo.toml"
}

# cli_args USAGE [--positional N] -- "$@": answers --help (USAGE on stdout) and --version, both with exit 0;
# an unknown option, or more than N arguments (default 0), exits 2 with a one-line error on stderr.
cli_args() {
  local usage="$1" max=0 name
  shift
  if [ "${1:-}" = "--positional" ]; then max="$2"; shift 2; fi
  [ "${1:-}" = "--" ] && shift
  name="$(basename "$0")"
  local n=0 a
  for a in "$@"; do
    case "$a" in
      -h | --help) printf '%s\n' "$usage"; exit 0 ;;
      --version) printf '%s (tollgate %s)\n' "$name" "$(workspace_version)"; exit 0 ;;
      -*) printf '%s: unknown option %s (see %s --help)\n' "$name" "$a" "$name" >&2; exit 2 ;;
      *) n=$((n + 1)) ;;
    esac
  done
  if [ "$n" -gt "$max" ]; then
    printf '%s: takes %s, got %d (see %s --help)\n' "$name" \
      "$([ "$max" -eq 0 ] && echo 'no arguments' || echo "at most $max argument(s)")" "$n" "$name" >&2
    exit 2
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Progress lines. `step WHAT` starts a step and prints "==> WHAT …"; the step ends at the next `step`, at
# `step_done`, or when the script exits, with "    done in 2m 31s", or "    failed after 12s (exit 1): WHAT" on
# stderr when the script exits with an error (set -e stops it at the failing command). A step still running
# after a minute prints "    … still running (1m 00s)" once a minute, so a quiet install or build is never
# mistaken for a hung one. `timed WHAT CMD...` is `step WHAT`, CMD, `step_done`.
# TOLLGATE_PROGRESS_EVERY (seconds, default 60) sets how often "still running" is printed.

_step_name=""
_step_start=""
_step_ticker=""

# Milliseconds since the epoch, into the variable named $1 (no command substitution: the EXIT trap uses it too).
_now_ms() {
  local t="${EPOCHREALTIME/[.,]/}"
  printf -v "$1" '%d' $((10#$t / 1000))
}

# human_duration VAR MS: a duration in milliseconds for people (0.4s, 12s, 2m 31s, 1h 02m 03s) into VAR.
human_duration() {
  local ms="$2" s=$(($2 / 1000))
  if [ "$s" -lt 10 ]; then
    printf -v "$1" '%d.%ds' "$s" $(((ms % 1000) / 100))
  elif [ "$s" -lt 60 ]; then
    printf -v "$1" '%ds' "$s"
  elif [ "$s" -lt 3600 ]; then
    printf -v "$1" '%dm %02ds' $((s / 60)) $((s % 60))
  else
    printf -v "$1" '%dh %02dm %02ds' $((s / 3600)) $((s % 3600 / 60)) $((s % 60))
  fi
}

_stop_ticker() {
  if [ -n "$_step_ticker" ]; then
    # procps' kill, not the builtin: bash 5.2's builtin kill in an EXIT trap that follows `set -e` complains
    # "wait_for: No record of process …" about an earlier child.
    env kill "$_step_ticker" 2>/dev/null || kill "$_step_ticker" 2>/dev/null || true
    _step_ticker=""
  fi
}

# Ends the running step (if any) with "    done in …", or with "    failed after … (exit N): WHAT" on stderr when
# given a non-zero status.
step_done() {
  local code="${1:-0}" now took
  [ -n "$_step_name" ] || return 0
  _stop_ticker
  _now_ms now
  human_duration took $((now - _step_start))
  if [ "$code" -eq 0 ]; then
    printf '    done in %s\n' "$took"
  else
    printf '    failed after %s (exit %d): %s\n' "$took" "$code" "$_step_name" >&2
  fi
  _step_name=""
}

step() {
  step_done
  _step_name="$*"
  _now_ms _step_start
  printf '==> %s …\n' "$_step_name"
  local every="${TOLLGATE_PROGRESS_EVERY:-60}" start="$_step_start"
  # The ticker's sleep does not hold stdout (a pipe reader sees the end of the output when the script ends).
  (
    local now took
    while sleep "$every" >/dev/null 2>&1; do
      _now_ms now
      human_duration took $((now - start))
      printf '    … still running (%s)\n' "$took"
    done
  ) &
  _step_ticker=$!
}

timed() {
  local what="$1"
  shift
  if [ -n "${TOLLGATE_STEP_LOG:-}" ]; then
    _timed_one_line "$what" "$@"
    return
  fi
  step "$what"
  "$@"
  step_done
}

# With TOLLGATE_STEP_LOG set (a file), `timed` keeps each step on one line, "==> WHAT … done in 1.2s", and appends
# the command's output to that file instead of the terminal. On a terminal the line shows what cargo is compiling
# and, after a minute, how long the step has run; elsewhere a step still running after TOLLGATE_PROGRESS_EVERY
# seconds says so on a line of its own. A failing step prints the end of the file on stderr and exits with its
# status.
_timed_one_line() {
  local what="$1" start now took pid code=0 last shown="" every="${TOLLGATE_PROGRESS_EVERY:-60}" broken=false
  shift
  local log="$TOLLGATE_STEP_LOG" tty=false next_tick every_ms
  [ -t 1 ] && tty=true
  every_ms="$(awk -v e="$every" 'BEGIN { printf "%d", e * 1000 }')"
  _now_ms start
  next_tick=$((start + every_ms))
  printf '==> %s … ' "$what"
  printf -- '--- %s\n' "$what" >>"$log"
  "$@" >>"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5
    _now_ms now
    if $tty; then
      last="$(grep -o 'Compiling [^ ]*' "$log" | tail -n 1 || true)"
      human_duration took $((now - start))
      [ $((now - start)) -ge 60000 ] && last="${last:+${last,}, }still running ($took)"
      if [ -n "$last" ] && [ "$last" != "$shown" ]; then
        printf '\r\033[K==> %s … %s' "$what" "${last,}"
        shown="$last"
      fi
    elif [ "$now" -ge "$next_tick" ]; then
      human_duration took $((now - start))
      printf '\n    … still running (%s)' "$took"
      broken=true
      next_tick=$((next_tick + every_ms))
    fi
  done
  wait "$pid" || code=$?
  _now_ms now
  human_duration took $((now - start))
  if [ -n "$shown" ]; then
    printf '\r\033[K==> %s … ' "$what"
  elif $broken; then
    printf '\n    '
  fi
  if [ "$code" -ne 0 ]; then
    printf 'failed\n'
    printf '    failed after %s (exit %d): %s; the end of %s:\n' "$took" "$code" "$what" "$log" >&2
    tail -n 30 "$log" >&2
    exit "$code"
  fi
  printf 'done in %s\n' "$took"
}

trap 'step_done $?' EXIT
