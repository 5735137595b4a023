#!/usr/bin/env node
// tollgate filter demo: the echo API + the real Envoy with the built filter (envoy/demo/envoy.yaml) on loopback,
// freshly minted TEST/DEMO tokens, and ready-to-paste curl commands with the answer each one gets.
// Ports: 10000 (API through Envoy), 9901 (Envoy admin), 10080 (the echo API itself); a port in use is replaced by a
// free one. Stops everything on Ctrl-C / SIGTERM.
//
//   node tests/e2e/demo/filter-demo.mjs          (scripts/demo.sh builds the filter and calls this)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, requireEnvoy, requireWasm } from '../lib/paths.mjs';
import { render, startEnvoy } from '../lib/envoy.mjs';
import { preferredOrFreePort } from '../lib/net.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { mint } from '../fixtures/tokens.mjs';

requireEnvoy();
const wasm = requireWasm();

const upstream = await startEchoUpstream({ port: await preferredOrFreePort(10080), name: 'demo-api' });
const listenPort = await preferredOrFreePort(10000);
const adminPort = await preferredOrFreePort(9901);
const config = render(readFileSync(path.join(REPO, 'envoy', 'demo', 'envoy.yaml'), 'utf8'), {
  LISTEN_PORT: listenPort,
  ADMIN_PORT: adminPort,
  UPSTREAM_PORT: upstream.port,
  WASM_PATH: wasm,
});

let envoy;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the demo (Envoy, echo API)...\n');
  if (envoy) await envoy.stop();
  await upstream.close();
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

try {
  envoy = await startEnvoy(config, { name: 'demo' });
} catch (err) {
  process.stderr.write(`the demo could not start Envoy: ${err.message}\n`);
  await upstream.close();
  process.exit(1);
}

// Demo tokens live 14 minutes (the filter caps exp - iat at 900 s by default).
const long = { iat: -5, exp: 14 * 60 };
const tokens = {
  read: await mint({ ...long, sub: 'alice', scope: 'orders:read' }),
  readWrite: await mint({ ...long, alg: 'EdDSA', sub: 'bob', scope: 'orders:read orders:write' }),
  expired: await mint({ iat: -600, exp: -120, sub: 'alice' }),
  wrongAudience: await mint({ ...long, aud: 'billing.example.com', sub: 'alice' }),
};
const api = `http://127.0.0.1:${envoy.listenerPort('demo')}`;
const auth = (t) => `-H 'Authorization: Bearer ${t}' `;
const cases = [
  [200, 'valid token with orders:read: the API answers and shows the x-user-id / x-token-scope headers it received', `curl -i ${auth(tokens.read)}${api}/orders`],
  [200, 'orders:write (EdDSA-signed token) may POST', `curl -i -X POST ${auth(tokens.readWrite)}${api}/orders`],
  [200, 'anonymous /health; the spoofed x-user-id is stripped before the API sees it', `curl -i -H 'x-user-id: admin' ${api}/health`],
  [401, 'no token: WWW-Authenticate: Bearer realm="demo-api" (no error attribute)', `curl -i ${api}/orders`],
  [401, 'expired token: error="invalid_token", error_description about expiry', `curl -i ${auth(tokens.expired)}${api}/orders`],
  [401, 'token for another audience: error="invalid_token", error_description about the audience', `curl -i ${auth(tokens.wrongAudience)}${api}/orders`],
  [403, 'orders:read only, but POST needs orders:write: error="insufficient_scope", scope="orders:write"', `curl -i -X POST ${auth(tokens.read)}${api}/orders`],
];

const out = [
  '',
  'tollgate filter demo is running',
  `  API through Envoy + tollgate: ${api}`,
  `  Envoy admin:                  http://127.0.0.1:${adminPort}   (counters: curl -s http://127.0.0.1:${adminPort}/stats | grep wasmcustom.tollgate)`,
  `  echo API (behind Envoy):      http://127.0.0.1:${upstream.port}`,
  `  Envoy log:                    ${envoy.logFile}`,
  '  Tokens are TEST/DEMO ONLY (fixture keys in tests/e2e/fixtures/keys), valid for 14 minutes.',
  '',
];
for (const [status, what, cmd] of cases) out.push(`# expect ${status}: ${what}`, cmd, '');
out.push('Press Ctrl-C to stop.', '');
process.stdout.write(out.join('\n'));

// Keep running until a signal arrives; if Envoy dies, say so and stop.
envoy.proc.exited.then(() => {
  if (!stopping) {
    process.stderr.write(`Envoy exited unexpectedly; its log:\n${envoy.log()}\n`);
    stop(1);
  }
});
