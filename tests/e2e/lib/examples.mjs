// The shipped examples under envoy/examples/ that talk to the test authorization server, made runnable in a
// test without editing what they mean: free ports for the listener(s) and the admin, the harness's port for
// 127.0.0.1:9000, the .wasm under test, and (for TLS examples) the certificate directory the test generated.
// Plus the runner that executes a README's shell block literally against the running stack.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, requireWasm } from './paths.mjs';
import { runToCompletion } from './proc.mjs';

export const SHIPPED_WASM_PATH = 'target/wasm32-wasip1/release/tollgate_filter.wasm';

/**
 * The text of example `rel` (e.g. 'envoy/examples/dpop/envoy.yaml') with ports 10000 / 9901 -> 0 (10000 ->
 * `apiPort` when given, also in origins the example names), the
 * authorization server 127.0.0.1:9000 -> `authPort`, the shipped .wasm path -> the one under test, and
 * `certsDir` (when given) in place of envoy/examples/<name>/certs. Fails when the example no longer has what is
 * replaced (the test must then be updated with it).
 */
export function exampleConfig(rel, { authPort, certsDir, apiPort } = {}) {
  const text = readFileSync(path.join(REPO, rel), 'utf8');
  const expected = [/port_value: 10000\b/, /port_value: 9901\b/];
  if (authPort !== undefined) expected.push(/port_value: 9000\b/, /"issuer": "http:\/\/127\.0\.0\.1:9000"/);
  const certs = `${path.dirname(rel)}/certs/`;
  if (certsDir !== undefined) expected.push(new RegExp(certs.replace(/[.]/g, '\\.')));
  for (const re of expected) assert.match(text, re, `${rel} changed (${re}): update the tests that load it`);
  // A fixed listener port (`apiPort`, chosen free by the test) where the example names its own origin
  // (dpop.origins): the origin then names the port Envoy really listens on.
  const api = apiPort ?? 0;
  let out = text.replace(/port_value: 10000\b/g, `port_value: ${api}`).replace(/port_value: 9901\b/g, 'port_value: 0')
    .replaceAll(SHIPPED_WASM_PATH, requireWasm());
  if (apiPort !== undefined) out = out.replaceAll('127.0.0.1:10000', `127.0.0.1:${apiPort}`).replaceAll('localhost:10000', `localhost:${apiPort}`);
  if (authPort !== undefined) {
    out = out.replace(/port_value: 9000\b/g, `port_value: ${authPort}`).replaceAll('http://127.0.0.1:9000', `http://127.0.0.1:${authPort}`);
  }
  if (certsDir !== undefined) out = out.replaceAll(certs, `${certsDir.replace(/\/$/, '')}/`);
  return out;
}

/**
 * Run the ```sh block of `readmeRel` that contains `marker`, literally (bash, from the repository root, `set -eo
 * pipefail`, one script so variables carry over), with 127.0.0.1:10000 / :9901 / :9000 replaced by the running
 * stack's ports (`ports` = { api, admin, authz }) and `replace` pairs applied to every line. Every `curl` after a
 * `# NNN` comment line must answer NNN; every other command must exit 0. Resolves the statuses in order.
 */
export async function runReadmeBlock(readmeRel, marker, ports, { replace = [], timeoutMs = 30_000 } = {}) {
  const readme = readFileSync(path.join(REPO, readmeRel), 'utf8');
  const block = readme.split('```sh\n').slice(1).map((b) => b.split('```')[0]).find((b) => b.includes(marker));
  assert.ok(block, `${readmeRel} has a sh block with ${marker}`);
  const sub = (line) => {
    let out = line;
    if (ports.api !== undefined) out = out.replaceAll('127.0.0.1:10000', `127.0.0.1:${ports.api}`);
    if (ports.admin !== undefined) out = out.replaceAll('127.0.0.1:9901', `127.0.0.1:${ports.admin}`);
    if (ports.authz !== undefined) out = out.replaceAll('127.0.0.1:9000', `127.0.0.1:${ports.authz}`);
    for (const [from, to] of replace) out = out.replaceAll(from, to);
    return out;
  };
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  const script = ['set -eo pipefail'];
  const expected = [];
  lines.forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const m = /^# (\d{3})\b/.exec(lines[i - 1] ?? '');
    if (m && line.startsWith('curl ')) {
      expected.push(Number(m[1]));
      const cmd = sub(line).replace(/^curl -i /, 'curl ');
      script.push(`echo "status ${expected.length - 1} $(${cmd} -s -o /dev/null -w '%{http_code}')"`);
    } else {
      // output is not part of the check; a line that redirects it itself keeps its redirection
      script.push(/(^|\s)>\s/.test(line) ? sub(line) : `${sub(line)} > /dev/null`);
    }
  });
  assert.ok(expected.length >= 2, `${readmeRel} documents curl commands with their status`);
  const { code, output } = await runToCompletion('bash', ['-c', script.join('\n')], { cwd: REPO, timeoutMs });
  assert.equal(code, 0, `${script.join('\n')}\n${output}`);
  const got = [...output.matchAll(/^status (\d+) (\d{3})$/gm)].map((m) => Number(m[2]));
  assert.deepEqual(got, expected, output);
  return got;
}
