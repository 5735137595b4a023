#!/usr/bin/env bash
# The demo: installs what is missing, builds the filter and the site, then runs
# the whole stack on loopback (authorization server, Envoy with the filter in
# front of an echo API, the redirect page's site, a tiny "app" endpoint) and
# prints what to open and what to curl. Ctrl-C stops everything. The options
# are those of tests/e2e/demo/stack.mjs (bash scripts/demo.sh --help).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
for a in "$@"; do
  case "$a" in
    -h | --help | --version) exec node tests/e2e/demo/stack.mjs "$@" ;;
  esac
done
# Check the options before setup and build: stack.mjs parses all of them first (a mistake exits 2 with one
# line) and, with --version appended, stops right there.
node tests/e2e/demo/stack.mjs "$@" --version >/dev/null
bash scripts/setup.sh
bash scripts/build.sh
echo "==> start the demo stack (Ctrl-C stops it)"
exec node tests/e2e/demo/stack.mjs "$@"
