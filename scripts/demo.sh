#!/usr/bin/env bash
# The demo: installs what the demo needs and is missing (setup.sh --demo: no test tooling; Chromium only for
# --check), builds the filter and the site, then runs the whole stack on loopback (authorization server, Envoy with
# the filter in front of an echo API, the redirect page's site, a tiny "app" endpoint) and prints what to open and
# what to curl. Ctrl-C, SIGTERM and SIGHUP stop everything. The options are those of tests/e2e/demo/stack.mjs
# (bash scripts/demo.sh --help; make demo ARGS="--help").
#
# Quiet on purpose: one line per step ("==> build the token filter … done in 0.4s"); on a terminal the line shows
# what cargo is compiling while it runs. The output of setup's installs and of the build goes to .demo/build.log
# and is shown only when a step fails. A warm run prints three lines before the demo's own output.
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

# One line per step (lib.sh's `timed` with TOLLGATE_STEP_LOG): the output of setup and build goes to this file.
mkdir -p .demo
export TOLLGATE_STEP_LOG=.demo/build.log
: >"$TOLLGATE_STEP_LOG"

# Chromium only for a run that drives it (--check, or TOLLGATE_DEMO_CHECK=1).
setup_args=(--demo)
[ "${TOLLGATE_DEMO_CHECK:-}" != 1 ] || setup_args+=(--browser)
for a in "$@"; do
  [ "$a" != "--check" ] || setup_args+=(--browser)
done
bash scripts/setup.sh "${setup_args[@]}"

# A first build compiles the dependencies for several minutes; a warm one only checks them.
first() { [ -e "$1" ] || printf ' (first build: several minutes)'; }
timed "build the token filter$(first "$TOLLGATE_FILTER_WASM")" \
  cargo build --locked -p tollgate-filter --target wasm32-wasip1 --release
timed "build the redirect page and its site$(first "$TOLLGATE_SITE_DIR/page/assets/tollgate_redirect_page_bg.wasm")" \
  bash redirect-page/build.sh "$TOLLGATE_SITE_DIR"
exec node "$STACK" "$@"
