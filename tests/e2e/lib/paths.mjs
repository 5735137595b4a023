// Where things live: the repository root, the Envoy binary and the built filter.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (tests/e2e/lib/../../..). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Envoy binary: $ENVOY_BIN, else the project-local virtualenv that scripts/setup.sh creates. */
export function envoyBin() {
  return process.env.ENVOY_BIN || path.join(REPO, '.venv', 'bin', 'envoy');
}

/** Build command of the filter, printed whenever the .wasm is missing. */
export const WASM_BUILD_COMMAND = 'cargo build -p tollgate-filter --target wasm32-wasip1 --release';

/** Built filter: $TOLLGATE_FILTER_WASM, else the release artefact in the shared target dir. */
export function wasmPath() {
  return process.env.TOLLGATE_FILTER_WASM || path.join(REPO, 'target', 'wasm32-wasip1', 'release', 'tollgate_filter.wasm');
}

/** Throw (fail the test, not skip it) with the build command when the filter has not been built. */
export function requireWasm() {
  const p = wasmPath();
  if (!existsSync(p)) {
    throw new Error(`tollgate filter not built: ${p} is missing. Build it with: ${WASM_BUILD_COMMAND}`);
  }
  return p;
}

/** Throw with a hint when the Envoy binary is missing. */
export function requireEnvoy() {
  const p = envoyBin();
  if (!existsSync(p)) {
    throw new Error(`Envoy not found at ${p}: run scripts/setup.sh or set ENVOY_BIN`);
  }
  return p;
}
