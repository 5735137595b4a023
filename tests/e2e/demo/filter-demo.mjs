#!/usr/bin/env node
// tollgate filter demo, the filter alone: the echo API + the real Envoy with the built filter on loopback, its
// config rendered from the template envoy/demo/envoy.yaml, freshly minted TEST/DEMO tokens, and ready-to-paste curl
// commands with the answer each one gets. (`make demo` runs the whole mobile flow instead: stack.mjs beside this
// file.) Keeps Envoy's log and config in a folder of its own (.demo/logs/<UTC time>/, git-ignored); says which
// preferred port was busy and which one it took instead; stops on Ctrl-C / SIGTERM and says so. `--help` lists
// the options.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCli, portOption } from '../../../scripts/cli.mjs';

const PREFERRED = { api: 10000, admin: 9901, echo: 10080 };
const USAGE = `usage: node tests/e2e/demo/filter-demo.mjs [options]     (build the filter first: bash scripts/build.sh)
Runs Envoy with the tollgate filter (envoy/demo/envoy.yaml) in front of an echo API on 127.0.0.1 until Ctrl-C, and
prints curl commands with TEST/DEMO tokens and the answer each gets.
  --api-port N      API through Envoy (default ${PREFERRED.api})
  --admin-port N    Envoy admin (default ${PREFERRED.admin})
  --echo-port N     the echo API behind Envoy (default ${PREFERRED.echo})
                    a busy port is replaced by a free one, and the demo says so; 0 = any free port
  --any-ports       every port chosen by the kernel
  --logs DIR        keep this run's logs in a new folder under DIR (default .demo/logs, or $TOLLGATE_DEMO_LOGS)
  --help, --version`;

const { values } = parseCli({
  name: 'filter-demo.mjs',
  usage: USAGE,
  options: {
    'api-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'echo-port': { type: 'string' },
    'any-ports': { type: 'boolean', default: false },
    logs: { type: 'string' },
  },
  check(v) {
    for (const key of Object.keys(PREFERRED)) portOption(v, `${key}-port`);
  },
});

// Loaded after the arguments are checked: --help needs neither the npm packages nor a build.
const [{ REPO, requireEnvoy, requireWasm }, { render, startEnvoy }, { startEchoUpstream }, { mint }, common] = await Promise.all([
  import('../lib/paths.mjs'),
  import('../lib/envoy.mjs'),
  import('../lib/upstream.mjs'),
  import('../fixtures/tokens.mjs'),
  import('./common.mjs'),
]);
const { busyPortLines, choosePorts, logBase, logLines, newLogDir, shown } = common;

requireEnvoy();
const wasm = requireWasm();

const WHAT = { api: 'API through Envoy', admin: 'Envoy admin', echo: 'echo API' };
const wanted = Object.fromEntries(Object.entries(PREFERRED).map(([key, port]) => [
  key, { port: portOption(values, `${key}-port`) ?? (values['any-ports'] ? 0 : port), what: WHAT[key] },
]));
const ports = await choosePorts(wanted);
const logDir = newLogDir(logBase(values.logs));
const files = { envoy: path.join(logDir, 'envoy.log'), config: path.join(logDir, 'envoy.yaml') };
process.stdout.write(`${logLines(logDir, { Envoy: files.envoy, 'Envoy config': files.config }).join('\n')}\n`);

const upstream = await startEchoUpstream({ port: ports.echo, name: 'demo-api' });
const config = render(readFileSync(path.join(REPO, 'envoy', 'demo', 'envoy.yaml'), 'utf8'), {
  LISTEN_PORT: ports.api,
  ADMIN_PORT: ports.admin,
  UPSTREAM_PORT: upstream.port,
  WASM_PATH: wasm,
});
writeFileSync(files.config, config);

let envoy;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the demo (Envoy, echo API)...\n');
  if (envoy) await envoy.stop();
  await upstream.close();
  process.stdout.write(`stopped: Envoy and the echo API are down; logs kept in ${shown(logDir)}/\n`);
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

try {
  // --log-path: Envoy writes its own log (the filter's lines included) where it is kept.
  envoy = await startEnvoy(config, { name: 'demo', extraArgs: ['--log-path', files.envoy] });
} catch (err) {
  process.stderr.write(`the demo could not start Envoy: ${err.message}\nits log: ${shown(files.envoy)}\n`);
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
  ...busyPortLines(wanted, { api: envoy.listenerPort('demo'), admin: envoy.adminPort, echo: upstream.port }),
  'tollgate filter demo is running',
  `  API through Envoy + tollgate: ${api}`,
  `  Envoy admin:                  http://127.0.0.1:${envoy.adminPort}   (counters: curl -s http://127.0.0.1:${envoy.adminPort}/stats | grep wasmcustom.tollgate)`,
  `  echo API (behind Envoy):      http://127.0.0.1:${upstream.port}`,
  `  Envoy log:                    ${shown(files.envoy)}`,
  '  Tokens are TEST/DEMO ONLY (fixture keys in tests/e2e/fixtures/keys), valid for 14 minutes.',
  '',
];
for (const [status, what, cmd] of cases) out.push(`# expect ${status}: ${what}`, cmd, '');
out.push('Press Ctrl-C to stop.', '');
process.stdout.write(out.join('\n'));

// Keep running until a signal arrives; if Envoy dies, say so and stop.
envoy.proc.exited.then(() => {
  if (!stopping) {
    const tail = readFileSync(files.envoy, 'utf8').split('\n').slice(-40).join('\n');
    process.stderr.write(`Envoy exited unexpectedly; the end of its log (${shown(files.envoy)}):\n${tail}${envoy.log()}\n`);
    stop(1);
  }
});
