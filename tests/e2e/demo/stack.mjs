#!/usr/bin/env node
// tollgate mobile-flow demo (`make demo`): the whole mobile flow on loopback — the authorization server
// (oidc-provider), our intermediate page (tollgate-site serve), a tiny app-link endpoint that plays the mobile app
// (state + iss checks, PKCE code exchange, API calls), and the real Envoy with the tollgate filter in front of an
// echo API. Prints the steps to try it in a desktop browser and ready-to-paste curl commands with freshly minted
// tokens; keeps every component's log in a folder of its own (.demo/logs/<UTC time>/, git-ignored); says which
// preferred port was busy and which one it took instead; stops everything on Ctrl-C / SIGTERM and says so.
// `--help` lists the options. Everything here is TEST/DEMO ONLY.
import { existsSync, readFileSync } from 'node:fs';
import { parseCli, portOption } from '../../../scripts/cli.mjs';

const PREFERRED = { as: 9000, site: 8080, app: 8081, api: 10100, admin: 9902 };
const USAGE = `usage: node tests/e2e/demo/stack.mjs [options]     (make demo / bash scripts/demo.sh build first, then run this)
Runs the mobile-flow demo on 127.0.0.1 until Ctrl-C: authorization server, intermediate page, app-link endpoint,
Envoy with the tollgate filter in front of an echo API. Every key and token is TEST/DEMO ONLY.
  --check             start, run one automated pass (every printed curl command with curl, the browser
                      walk-through in headless Chromium), print the result and stop; exit 0 only if all passed
                      (also TOLLGATE_DEMO_CHECK=1)
  --as-port N         authorization server (default ${PREFERRED.as})
  --site-port N       intermediate page (default ${PREFERRED.site})
  --app-port N        app-link endpoint (default ${PREFERRED.app})
  --api-port N        API through Envoy (default ${PREFERRED.api})
  --admin-port N      Envoy admin (default ${PREFERRED.admin})
                      a busy port is replaced by a free one, and the demo says so; 0 = any free port
  --any-ports         every port chosen by the kernel (also TOLLGATE_DEMO_ANY_PORTS=1)
  --logs DIR          keep this run's logs in a new folder under DIR (default .demo/logs, or $TOLLGATE_DEMO_LOGS)
  --help, --version`;

const { values } = parseCli({
  name: 'stack.mjs',
  usage: USAGE,
  options: {
    check: { type: 'boolean', default: false },
    'as-port': { type: 'string' },
    'site-port': { type: 'string' },
    'app-port': { type: 'string' },
    'api-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'any-ports': { type: 'boolean', default: false },
    logs: { type: 'string' },
  },
  check(v) {
    for (const key of Object.keys(PREFERRED)) portOption(v, `${key}-port`);
  },
});
const CHECK = values.check || process.env.TOLLGATE_DEMO_CHECK === '1';
const ANY_PORTS = values['any-ports'] || process.env.TOLLGATE_DEMO_ANY_PORTS === '1';

// Loaded after the arguments are checked: --help needs neither the npm packages nor a build.
const [
  { startFlowStack, flowLogFiles, serviceToken, REALM, APP_LINK_PATH },
  { AppError, jwtClaims },
  { requireEnvoy, requireWasm },
  { runToCompletion },
  { busyPortLines, choosePorts, logBase, logLines, newLogDir, shown },
] = await Promise.all([
  import('../flow/flow-stack.mjs'),
  import('../flow/app.mjs'),
  import('../lib/paths.mjs'),
  import('../lib/proc.mjs'),
  import('./common.mjs'),
]);

const out = (line = '') => process.stdout.write(`${line}\n`);

requireEnvoy();
requireWasm();

const WHAT = { as: 'authorization server', site: 'intermediate page', app: 'app-link endpoint', api: 'API through Envoy', admin: 'Envoy admin' };
// An explicit --<key>-port wins; --any-ports: every other port chosen by the kernel (tests run the demo next to
// other suites).
const wanted = Object.fromEntries(Object.entries(PREFERRED).map(([key, port]) => [
  key, { port: portOption(values, `${key}-port`) ?? (ANY_PORTS ? 0 : port), what: WHAT[key] },
]));
const ports = await choosePorts(wanted);

const logDir = newLogDir(logBase(values.logs));
const files = flowLogFiles(logDir);
out(logLines(logDir, {
  'Envoy': files.envoy,
  'Envoy access log': files.envoyAccess,
  'Envoy config': files.envoyConfig,
  'authorization server': files.authz,
  'intermediate page': files.site,
  'app-not-installed page': files.siteAppLink,
  'app-link endpoint': files.app,
}).join('\n'));

const sh = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const bearer = (t) => `-H ${sh(`Authorization: Bearer ${t}`)} `;

/** The curl commands that show what a token gets through Envoy (each with the status it must get). */
function curlCases(apiUrl, accessToken, who) {
  return [
    [200, `${who}: GET /orders needs orders:read -> the API answers and shows the x-user-id / x-client-id / x-token-scope headers it received`, `curl -i ${bearer(accessToken)}${apiUrl}/orders`],
    [403, `${who}: POST /orders needs orders:write -> error="insufficient_scope", scope="orders:write"`, `curl -i -X POST ${bearer(accessToken)}${apiUrl}/orders`],
  ];
}

/** The app: what happens when the OS hands it the app link (here: the browser navigates to the endpoint). */
async function onLink(record, stack) {
  let tokens;
  try {
    tokens = await stack.app.completeAuthorization(record.params);
  } catch (err) {
    const what = err instanceof AppError ? `${err.kind}: ${err.message}` : err.message;
    record.result = { ok: false, kind: err.kind, error: err.details?.error };
    out(`\n[app] refused the authorization response (${what})`);
    return { status: 400, title: 'The app refused the response', lines: [what, err.details?.error_description ?? ''] };
  }
  const claims = jwtClaims(tokens.access_token);
  const read = await stack.app.callApi('/orders', { accessToken: tokens.access_token });
  const write = await stack.app.callApi('/orders', { method: 'POST', accessToken: tokens.access_token });
  const curl = curlCases(stack.apiUrl, tokens.access_token, claims.sub);
  record.result = { ok: true, sub: claims.sub, scope: tokens.scope, get: read.status, post: write.status, forwarded: read.json?.headers?.['x-user-id'], curl };
  const lines = [
    `state and iss checked, code exchanged with the PKCE verifier: ${claims.sub} got scope "${tokens.scope}", access token valid ${tokens.expires_in} s`,
    `GET  /orders through Envoy -> ${read.status} (the API saw x-user-id: ${read.json?.headers?.['x-user-id'] ?? '-'}, x-token-scope: ${read.json?.headers?.['x-token-scope'] ?? '-'})`,
    `POST /orders through Envoy -> ${write.status} ${write.wwwAuthenticate ?? ''}`,
    '',
    'TEST/DEMO tokens of this sign-in:',
    `access_token:  ${tokens.access_token}`,
    `refresh_token: ${tokens.refresh_token}`,
    '',
    'Try them with curl:',
  ];
  for (const [status, what, cmd] of curl) lines.push(`# expect ${status}: ${what}`, cmd);
  lines.push(
    `# refresh (rotates the refresh token; using this one twice revokes the grant):`,
    `curl -s -d grant_type=refresh_token -d client_id=${stack.app.config.clientId} -d refresh_token=${tokens.refresh_token} ${stack.as.tokenUrl}`,
  );
  out('\n[app] received the app link and finished the sign-in:');
  for (const l of lines) out(`  ${l}`);
  return { title: 'The app finished the sign-in', lines };
}

let stack;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  out('\nstopping the demo (Envoy, echo API, authorization server, site, app endpoint)...');
  await stack?.stop();
  out(`stopped: Envoy, echo API, authorization server, site and app endpoint are down; logs kept in ${shown(logDir)}/`);
  process.exit(code);
}
process.on('SIGINT', () => stop(CHECK ? 130 : 0));
process.on('SIGTERM', () => stop(CHECK ? 143 : 0));

try {
  stack = await startFlowStack({
    ports,
    clockSkewSeconds: 30,
    onLink,
    appRoutes: {
      // A fresh authorization request (new state + PKCE pair) every time: open this in the browser.
      '/app/start': (_url, s) => ({ redirect: s.app.beginAuthorization({ scope: 'openid orders:read' }).url }),
    },
    logDir,
  });
} catch (err) {
  process.stderr.write(`the demo could not start: ${err.message}\nits logs: ${shown(logDir)}/\n`);
  process.exit(1);
}

// Freshly minted tokens for the direct curl commands: real ones from the authorization server (client credentials
// of the service client), plus one signed with the server's key but already expired.
const { as, apiUrl } = stack;
const now = Math.floor(Date.now() / 1000);
const tokens = {
  read: await serviceToken(as, 'orders:read'),
  readWrite: await serviceToken(as, 'orders:read orders:write'),
  expired: await as.signToken({
    iss: as.issuer, aud: as.resource, sub: 'alice', client_id: as.clients.mobile.clientId, scope: 'orders:read',
    iat: now - 600, exp: now - 120, jti: `demo-expired-${now}`,
  }),
};
const cases = [
  ...curlCases(apiUrl, tokens.read, 'service token with orders:read'),
  [200, 'token with orders:read orders:write may POST', `curl -i -X POST ${bearer(tokens.readWrite)}${apiUrl}/orders`],
  [200, 'anonymous /health; a spoofed x-user-id is stripped before the API sees it', `curl -i -H 'x-user-id: admin' ${apiUrl}/health`],
  [401, `no token: WWW-Authenticate: Bearer realm="${REALM}"`, `curl -i ${apiUrl}/orders`],
  [401, 'expired token (signed by the server\'s key): error="invalid_token", "the token has expired"', `curl -i ${bearer(tokens.expired)}${apiUrl}/orders`],
];

const start = `http://127.0.0.1:${stack.appEndpoint.port}/app/start`;
const oneTime = stack.app.beginAuthorization({ scope: 'openid orders:read' }).url;
const busy = busyPortLines(wanted, {
  as: as.port, site: stack.site.port, app: stack.appEndpoint.port, api: stack.envoy.listenerPort('ingress'), admin: stack.envoy.adminPort,
});
const lines = [
  '',
  ...busy,
  'tollgate mobile-flow demo is running (loopback only; every key and token is TEST/DEMO ONLY)',
  `  authorization server:  ${as.issuer}   (oidc-provider; any login name and password sign in)`,
  `  intermediate page:     ${stack.pageUrl}   (redirect URI of the public client ${as.clients.mobile.clientId})`,
  `  app-link endpoint:     ${stack.appEndpoint.url}   (plays the mobile app)`,
  `  app not installed:     ${stack.site.notInstalledUrl}   (what the app link shows on a phone without the app)`,
  `  API via Envoy:         ${apiUrl}   (Envoy + tollgate in front of the echo API)`,
  `  Envoy admin:           http://127.0.0.1:${stack.envoy.adminPort}   (curl -s http://127.0.0.1:${stack.envoy.adminPort}/stats | grep wasmcustom.tollgate)`,
  '',
  'Try the mobile flow in a desktop browser:',
  `  1. Open ${start}`,
  '     (the app starts an authorization request with PKCE S256 and a fresh state; or open this one-time URL:',
  `      ${oneTime} )`,
  '  2. Sign in on the authorization server\'s screen (any name and password), then press Continue on its consent screen.',
  `  3. The browser lands on our page (${stack.pageUrl}): press Continue.`,
  `  4. The app link (${APP_LINK_PATH}) reaches the app endpoint: it checks state and iss, exchanges the code with the`,
  '     PKCE verifier, calls the API through Envoy and shows the tokens and curl commands (they are printed here too).',
  '  (Press [ Cancel ] on the sign-in screen instead to see the error response travel the same way.)',
  '',
  'Direct curl commands against Envoy with freshly minted tokens:',
  '',
];
for (const [status, what, cmd] of cases) lines.push(`# expect ${status}: ${what}`, cmd, '');
out(lines.join('\n'));

stack.envoy.proc.exited.then(() => {
  if (!stopping) {
    const tail = existsSync(files.envoy) ? readFileSync(files.envoy, 'utf8').split('\n').slice(-40).join('\n') : '';
    process.stderr.write(`Envoy exited unexpectedly; the end of its log (${shown(files.envoy)}):\n${tail}${stack.envoy.log()}\n`);
    stop(1);
  }
});

if (!CHECK) {
  out('Press Ctrl-C to stop.');
} else {
  const failures = [];
  let passed = 0;
  const check = (ok, what) => {
    out(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (ok) passed += 1;
    else failures.push(what);
  };
  const runCurl = async (list) => {
    for (const [status, what, cmd] of list) {
      const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...splitCurl(cmd)];
      // asynchronously: the echo API answering curl runs in this very process
      const r = await runToCompletion('curl', args, { timeoutMs: 15_000 }).catch((err) => ({ code: -1, output: err.message.split('\n')[0] }));
      check(r.code === 0 && Number(r.output.trim()) === status, `curl -> ${r.output.trim() || r.code} (expected ${status}): ${what}`);
    }
  };
  out('demo check: running every printed curl command, then the browser walk-through');
  await runCurl(cases);
  const notInstalled = await fetch(`${stack.site.notInstalledUrl}?code=demo-check-code&state=s`).then(async (r) => ({ status: r.status, body: await r.text() }));
  check(notInstalled.status === 200 && notInstalled.body.includes('play.google.com/store/apps/details?id=') && !notInstalled.body.includes('demo-check-code'),
    `app-not-installed page -> ${notInstalled.status} with the store link, without the code`);
  try {
    const { launchMobileBrowser, signInAndContinue } = await import('../flow/browser.mjs');
    const browser = await launchMobileBrowser();
    try {
      const page = await browser.freshPage();
      const leg = await signInAndContinue(page, {
        authorizationUrl: start, pageOrigin: new URL(stack.pageUrl).origin, appEndpoint: stack.appEndpoint, login: 'alice',
      });
      const r = leg.link.result ?? {};
      check(r.ok === true && r.sub === 'alice', `browser: sign in, our page, Continue, the app exchanged the code (${r.kind ?? 'ok'})`);
      check(r.get === 200 && r.forwarded === 'alice', `app: GET /orders through Envoy -> ${r.get} with x-user-id ${r.forwarded}`);
      check(r.post === 403, `app: POST /orders through Envoy -> ${r.post} (insufficient_scope)`);
      check(/GET {2}\/orders through Envoy -> 200/.test(leg.appPageText), 'the app page shows the result');
      await runCurl(r.curl ?? [[200, 'the curl commands the app printed', 'curl missing']]);
      const cancel = await signInAndContinue(await browser.freshPage(), {
        authorizationUrl: start, pageOrigin: new URL(stack.pageUrl).origin, appEndpoint: stack.appEndpoint, cancel: true,
      });
      check(cancel.link.result?.kind === 'authorization_error', 'browser: Cancel at the server reaches the app as an error response');
    } finally {
      await browser.close();
    }
  } catch (err) {
    check(false, `browser walk-through: ${err.message.split('\n')[0]}`);
  }
  out(failures.length === 0 ? `demo check: OK (${passed} checks)` : `demo check: FAILED (${failures.length} of ${passed + failures.length} checks)`);
  await stop(failures.length === 0 ? 0 : 1);
}

/** The arguments of a printed curl command (single-quoted words as printed above), without the leading curl -i. */
function splitCurl(cmd) {
  const words = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  let m;
  while ((m = re.exec(cmd))) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]);
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${cmd.slice(0, 20)}`);
  return words.slice(1).filter((w) => w !== '-i');
}
