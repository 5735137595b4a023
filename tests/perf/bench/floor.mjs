// The benchmark's floor filter (tests/perf/bench/floor): built on demand, as the benchmark and its config tests are its
// only users (scripts/build.sh builds what ships; this does not ship). Cargo decides whether anything changed: about
// a second when nothing did.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { REPO } from '../../e2e/lib/paths.mjs';
import { runToCompletion } from '../../e2e/lib/proc.mjs';

export const FLOOR_PACKAGE = 'tollgate-bench-floor';
const BUILD_ARGS = ['build', '--locked', '--quiet', '-p', FLOOR_PACKAGE, '--target', 'wasm32-wasip1', '--release'];
const BUILD_TIMEOUT_MS = 600_000;

/** Where cargo puts the floor's .wasm ($CARGO_TARGET_DIR, else the workspace's target/). */
export function floorWasmPath() {
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  return path.join(target, 'wasm32-wasip1', 'release', 'tollgate_bench_floor.wasm');
}

function checked(code, output) {
  const command = `cargo ${BUILD_ARGS.join(' ')}`;
  if (code !== 0) throw new Error(`building the floor filter failed: ${command} exited ${code}\n${output}`);
  const wasm = floorWasmPath();
  if (!existsSync(wasm)) throw new Error(`${command} succeeded but ${wasm} is missing`);
  return wasm;
}

/** Build the floor and resolve its path; rejects with cargo's output when the build fails. */
export async function buildFloor() {
  const { code, output } = await runToCompletion('cargo', BUILD_ARGS, { cwd: REPO, timeoutMs: BUILD_TIMEOUT_MS });
  return checked(code, output);
}

/** The same, synchronously (for code that renders configs synchronously). */
export function buildFloorSync() {
  const r = spawnSync('cargo', BUILD_ARGS, { cwd: REPO, timeout: BUILD_TIMEOUT_MS, encoding: 'utf8' });
  if (r.error) throw new Error(`building the floor filter failed: ${r.error.message}`);
  return checked(r.status, `${r.stdout}${r.stderr}`);
}
