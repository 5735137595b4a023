#!/usr/bin/env bash
# The demo: installs what the demo needs and is missing (setup.sh --demo: no test tooling), builds the filter and
# the site, then runs the whole stack on loopback (authorization server, Envoy with the filter in front of an echo
# API, the redirect page's site, a tiny "app" endpoint) and prints what to open and what to curl. Ctrl-C, SIGTERM
# and SIGHUP stop everything. The options are those of tests/e2e/demo/stack.mjs (bash scripts/demo.sh --help;
# make demo ARGS="--help").
#
# Quiet on purpose: one line per step ("==> build the token filter … done in 0.4s"); on a terminal the line shows
# what cargo is compiling while it runs. The build's own output goes to .demo/build.log and is shown only when a
# step fails. A warm run prints three lines before the demo's own output.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# How the user started the demo: its --help and messages name it (the Makefile sets `make demo`).
export TOLLGATE_DEMO_COMMAND="${TOLLGATE_DEMO_COMMAND:-bash scripts/demo.sh}"
STACK=tests/e2e/demo/stack.mjs
for a in "$@"; do
  case "$a" in
    -h | --help | --version | --stop) exec node "$STACK" "$@" ;;
  esac
done
# Before setup and build: stack.mjs checks the options (a mistake exits 2 with one line) and whether a demo already
# runs (exit 1, saying where it is and how to stop it).
TOLLGATE_DEMO_PREFLIGHT=1 node "$STACK" "$@"

BUILD_LOG="$ROOT/.demo/build.log"
mkdir -p "$ROOT/.demo"
: >"$BUILD_LOG"

# quiet_step WHAT CMD...: "==> WHAT … done in 1.2s" on one line, CMD's output appended to the build log (its last
# "Compiling x" shown on the line while it runs, on a terminal). On failure: the end of the log, and exit.
quiet_step() {
  local what="$1" start now took pid code=0 last shown=""
  shift
  _now_ms start
  printf '==> %s … ' "$what"
  printf '\n--- %s\n' "$what" >>"$BUILD_LOG"
  "$@" >>"$BUILD_LOG" 2>&1 &
  pid=$!
  if [ -t 1 ]; then
    while kill -0 "$pid" 2>/dev/null; do
      last="$(grep -o 'Compiling [^ ]*' "$BUILD_LOG" | tail -n 1 || true)"
      if [ -n "$last" ] && [ "$last" != "$shown" ]; then
        printf '\r\033[K==> %s … %s' "$what" "${last,}"
        shown="$last"
      fi
      sleep 0.5
    done
  fi
  wait "$pid" || code=$?
  _now_ms now
  human_duration took $((now - start))
  [ -t 1 ] && [ -n "$shown" ] && printf '\r\033[K==> %s … ' "$what"
  if [ "$code" -ne 0 ]; then
    printf 'failed after %s (exit %d); the end of %s:\n' "$took" "$code" "${BUILD_LOG#"$ROOT"/}"
    tail -n 30 "$BUILD_LOG"
    exit "$code"
  fi
  printf 'done in %s\n' "$took"
}

bash scripts/setup.sh --demo

# A first build compiles the dependencies for several minutes; a warm one only checks them.
first() { [ -e "$1" ] || printf ' (first build: several minutes)'; }
quiet_step "build the token filter$(first "$TOLLGATE_FILTER_WASM")" \
  cargo build --locked -p tollgate-filter --target wasm32-wasip1 --release
quiet_step "build the redirect page and its site$(first "$TOLLGATE_SITE_DIR/page/assets/tollgate_redirect_page_bg.wasm")" \
  bash redirect-page/build.sh "$TOLLGATE_SITE_DIR"
exec node "$STACK" "$@"
