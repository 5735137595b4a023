#!/usr/bin/env node
// tollgate mobile-flow demo (`make demo`): the whole mobile flow on loopback — the authorization server
// (oidc-provider), our intermediate page (tollgate-site serve), a tiny app-link endpoint that plays the mobile app
// (state + iss checks, PKCE code exchange, API calls), and the real Envoy with the tollgate filter in front of an
// echo API. Prints the steps to try it in a desktop browser and ready-to-paste curl commands with freshly minted
// tokens; keeps every component's log in a folder of its own (.demo/logs/<UTC time>/, git-ignored); says which
// preferred port was busy and which one it took instead; stops everything on Ctrl-C / SIGTERM / SIGHUP and says so.
// The app's and the authorization server's screens are ../flow/app-page.mjs and ../flow/interaction.mjs. One demo
// runs per log folder (running.mjs). `--help` lists the options. Everything here is TEST/DEMO ONLY.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCli, portOption, UsageError } from '../../../scripts/cli.mjs';

/** The screenshot file of each screen of the flow (--screenshots). */
const SHOTS = { login: '1-sign-in.png', consent: '2-consent.png', page: '3-our-page.png', app: '4-app.png' };

/** Text that marks a screen as unfinished: a development UI's debug block or placeholder controls. */
const DEBUG_TEXT = /debug|click to expand|\[ ?cancel ?\]|undefined|\[object /i;

/** The title of each screen of the flow in the other languages (the browser's first language picks it). */
const LOCALISED = {
  'de-DE': { login: 'Anmelden', consent: 'Zugriff erlauben', page: 'Zurück zur App', app: 'Sie sind angemeldet' },
  'fr-FR': { login: 'Se connecter', consent: 'Autoriser l’accès', page: 'Retour à l’application', app: 'Vous êtes connecté' },
};

const PREFERRED = { as: 9000, site: 8080, app: 8081, api: 10100, admin: 9902 };
// How the user started the demo, for --help and the messages: scripts/demo.sh and the Makefile set it.
const COMMAND = process.env.TOLLGATE_DEMO_COMMAND || 'node tests/e2e/demo/stack.mjs';
const USAGE = `usage: ${COMMAND === 'make demo' ? 'make demo ARGS="[options]"' : `${COMMAND} [options]`}${COMMAND.startsWith('node') ? '     (make demo builds first, then runs this)' : ''}
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
  --logs DIR          keep this run's logs in a new folder under DIR (default .demo/logs, or $TOLLGATE_DEMO_LOGS);
                      one demo runs per DIR: a second start says where the running one is
  --screenshots DIR   with --check: save the phone screens of the flow there (1-sign-in.png, 2-consent.png,
                      3-our-page.png, 4-app.png; the README's strip: --check --screenshots docs/demo)
  --stop              stop the demo that is running (as Ctrl-C in its terminal does) and wait until it is down
  --help, --version`;

const { values } = parseCli({
  name: COMMAND === 'make demo' ? 'make demo' : COMMAND.split(' ').at(-1).replace(/^.*\//, ''),
  // make passes options in ARGS: its mistakes point at `make demo ARGS=--help`
  write: {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t.replace('(see make demo --help)', '(see make demo ARGS=--help)')),
  },
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
    stop: { type: 'boolean', default: false },
    screenshots: { type: 'string' },
  },
  check(v) {
    for (const key of Object.keys(PREFERRED)) portOption(v, `${key}-port`);
    if (v.screenshots !== undefined && !(v.check || process.env.TOLLGATE_DEMO_CHECK === '1')) throw new UsageError('--screenshots needs --check');
  },
});
const CHECK = values.check || process.env.TOLLGATE_DEMO_CHECK === '1';
const SCREENSHOTS = values.screenshots;
const ANY_PORTS = values['any-ports'] || process.env.TOLLGATE_DEMO_ANY_PORTS === '1';

// scripts/demo.sh asks first, before setup and build, whether the options are right (exit 2 if not) and whether a
// demo already runs with this log base (exit 1, saying where); --stop is answered here too.
const running = await import('./running.mjs');
const { logBase: baseOf } = await import('./common.mjs');
const BASE = baseOf(values.logs);
if (values.stop) {
  const stopped = await running.stopRunning(BASE);
  process.stdout.write(stopped ? `stopped the demo that was running (pid ${stopped.pid})\n` : 'no demo is running\n');
  process.exit(0);
}
const other = running.runningDemo(BASE);
if (other) {
  process.stderr.write(`${running.alreadyRunningLines(other, COMMAND).join('\n')}\n`);
  process.exit(1);
}
if (process.env.TOLLGATE_DEMO_PREFLIGHT === '1') process.exit(0);

// Loaded after the arguments are checked: --help needs neither the npm packages nor a build.
const [
  { startFlowStack, flowLogFiles, serviceToken, REALM, APP_LINK_PATH },
  { AppError, AppErrorKind, jwtClaims },
  { Problem, chooseLang, problemScreen, resultScreen },
  { requireEnvoy, requireWasm },
  { runToCompletion },
  { busyPortLines, choosePorts, logBase, logLines, newLogDir, shown },
] = await Promise.all([
  import('../flow/flow-stack.mjs'),
  import('../flow/app.mjs'),
  import('../flow/app-page.mjs'),
  import('../lib/paths.mjs'),
  import('../lib/proc.mjs'),
  import('./common.mjs'),
]);

const out = (line = '') => process.stdout.write(`${line}\n`);
// A closed terminal (SIGHUP) makes writes fail: the demo still stops cleanly.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

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
let claimed; // this run's record as the running demo (running.mjs)
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

// States whose response the app already handled: a reload of the app link, or going back to it, is told apart from
// a response that answers no request at all.
const handledStates = new Set();

/** The app: what happens when the OS hands it the app link (here: the browser navigates to the endpoint). */
async function onLink(record, stack) {
  const lang = chooseLang(record.lang);
  const startUrl = '/app/start';
  const state = record.params.get('state');
  let tokens;
  try {
    tokens = await stack.app.completeAuthorization(record.params);
  } catch (err) {
    const what = err instanceof AppError ? `${err.kind}: ${err.message}` : err.message;
    record.result = { ok: false, kind: err.kind, error: err.details?.error };
    const used = err.kind === AppErrorKind.UNKNOWN_STATE && handledStates.has(state);
    const cancelled = err.kind === AppErrorKind.AUTHORIZATION_ERROR && err.details?.error === 'access_denied';
    const problem = used ? Problem.ALREADY_USED
      : cancelled ? Problem.CANCELLED
        : err.kind === AppErrorKind.AUTHORIZATION_ERROR ? Problem.DENIED : Problem.REFUSED;
    out(`\n[app] ${used ? 'this sign-in was already used (a reload or back navigation)' : cancelled ? 'the user cancelled the sign-in' : `refused the authorization response (${what})`}`);
    return {
      status: 400,
      title: { [Problem.ALREADY_USED]: 'Already used', [Problem.CANCELLED]: 'Cancelled', [Problem.DENIED]: 'Not granted', [Problem.REFUSED]: 'Refused' }[problem],
      html: problemScreen(lang, problem, { reason: used || cancelled ? undefined : (err.details?.error ?? err.kind), startUrl }),
    };
  } finally {
    // a state the app started is used up by any answer to it (the app refused a missing or unknown one)
    if (state && ![AppErrorKind.MISSING_STATE, AppErrorKind.UNKNOWN_STATE].includes(record.result?.kind)) handledStates.add(state);
  }
  const claims = jwtClaims(tokens.access_token);
  const read = await stack.app.callApi('/orders', { accessToken: tokens.access_token });
  const write = await stack.app.callApi('/orders', { method: 'POST', accessToken: tokens.access_token });
  const curl = curlCases(stack.apiUrl, tokens.access_token, claims.sub);
  const seen = read.json?.headers ?? {};
  record.result = { ok: true, sub: claims.sub, scope: tokens.scope, get: read.status, post: write.status, forwarded: seen['x-user-id'], curl };
  const lines = [
    `state and iss checked, code exchanged with the PKCE verifier: ${claims.sub} got scope "${tokens.scope}", access token valid ${tokens.expires_in} s`,
    `GET  /orders through Envoy -> ${read.status} (the API saw x-user-id: ${seen['x-user-id'] ?? '-'}, x-token-scope: ${seen['x-token-scope'] ?? '-'})`,
    `POST /orders through Envoy -> ${write.status} ${write.wwwAuthenticate ?? ''}`,
    '',
    'Try the tokens of this sign-in (TEST/DEMO ONLY) with curl:',
  ];
  for (const [status, what, cmd] of curl) lines.push(`# expect ${status}: ${what}`, cmd);
  lines.push(
    `# refresh (rotates the refresh token; using this one twice revokes the grant):`,
    `curl -s -d grant_type=refresh_token -d client_id=${stack.app.config.clientId} -d refresh_token=${tokens.refresh_token} ${stack.as.tokenUrl}`,
  );
  out('\n[app] received the app link and finished the sign-in:');
  for (const l of lines) out(`  ${l}`);
  const html = resultScreen(lang, {
    sub: claims.sub,
    issuer: stack.as.issuer,
    scope: tokens.scope,
    expiresIn: tokens.expires_in,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    calls: [
      { method: 'GET', path: '/orders', status: read.status, headers: { 'x-user-id': seen['x-user-id'], 'x-client-id': seen['x-client-id'], 'x-token-scope': seen['x-token-scope'] } },
      { method: 'POST', path: '/orders', status: write.status, wwwAuthenticate: write.wwwAuthenticate },
    ],
    startUrl,
  });
  return { title: 'Signed in', html };
}

let stack;
let parentWatch;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  clearInterval(parentWatch);
  out('\nstopping the demo (Envoy, echo API, authorization server, site, app endpoint)...');
  await stack?.stop();
  claimed?.clear();
  out(`stopped: Envoy, echo API, authorization server, site and app endpoint are down; logs kept in ${shown(logDir)}/`);
  process.exit(code);
}
// Ctrl-C, `kill`, a closed terminal: the same clean stop (temporary folders removed, Envoy's log to its end).
process.on('SIGINT', () => stop(CHECK ? 130 : 0));
process.on('SIGTERM', () => stop(CHECK ? 143 : 0));
process.on('SIGHUP', () => stop(CHECK ? 129 : 0));
// A bug in the demo itself still stops the stack and removes its temporary folders.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    process.stderr.write(`the demo failed: ${err?.stack ?? err}\n`);
    stop(1);
  });
}
// A signal sent to `make` alone does not reach this process: make passes SIGTERM on, but on SIGHUP or SIGINT it
// waits for its children, expecting the terminal to have signalled the whole group. So the demo also stops when
// its parent is gone, and, when the parent is make (Linux: /proc), when make stops catching SIGHUP, SIGINT or
// SIGTERM: its handler resets the signal to the default before waiting.
const parentPid = process.ppid;
const FATAL = (1n << 0n) | (1n << 1n) | (1n << 14n); // SigCgt bits of SIGHUP (1), SIGINT (2), SIGTERM (15)
const caught = (pid) => {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask === undefined ? undefined : BigInt(`0x${mask}`) & FATAL;
  } catch {
    return undefined;
  }
};
const parentIsMake = (() => {
  try {
    return readFileSync(`/proc/${parentPid}/comm`, 'utf8').trim() === 'make';
  } catch {
    return false;
  }
})();
const makeCaught = parentIsMake ? caught(parentPid) : undefined;
parentWatch = setInterval(() => {
  if (process.ppid !== parentPid) stop(CHECK ? 129 : 0);
  else if (makeCaught && caught(parentPid) !== makeCaught) stop(CHECK ? 129 : 0);
}, 500);
parentWatch.unref();

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
const claim = running.claim(BASE, { startUrl: start, logDir });
if (claim.ok) {
  claimed = claim;
} else {
  // another demo started in the meantime: it wins
  process.stderr.write(`${running.alreadyRunningLines(claim.running, COMMAND).join('\n')}\n`);
  await stop(1);
}
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
  'Try the mobile flow in a browser (a phone-sized window shows the screens as a phone does):',
  `  1. Open ${start}`,
  '     (the app starts an authorization request with PKCE S256 and a fresh state; or open this one-time URL:',
  `      ${oneTime} )`,
  '  2. Sign in on the authorization server\'s screen (any name and password), then press Allow on its consent screen.',
  `  3. The browser lands on our page (${stack.pageUrl}): press Continue.`,
  `  4. The app link (${APP_LINK_PATH}) reaches the app endpoint: it checks state and iss, exchanges the code with the`,
  '     PKCE verifier, calls the API through Envoy and shows its answers; the curl commands for its tokens are printed here.',
  '  (Press Cancel on the sign-in screen instead to see the error response travel the same way.)',
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
  const { DESKTOP, PHONE, launchMobileBrowser, signInAndContinue } = await import('../flow/browser.mjs');
  for (const device of [PHONE, DESKTOP]) {
    try {
      await browserPass(device, { check, runCurl, launchMobileBrowser, signInAndContinue });
    } catch (err) {
      check(false, `browser walk-through (${device.name}): ${err.message.split('\n')[0]}`);
    }
  }
  for (const [locale, titles] of Object.entries(LOCALISED)) {
    try {
      await languagePass({ ...PHONE, name: `phone ${locale}`, locale }, titles, { check, launchMobileBrowser, signInAndContinue });
    } catch (err) {
      check(false, `browser walk-through (${locale}): ${err.message.split('\n')[0]}`);
    }
  }
  out(failures.length === 0 ? `demo check: OK (${passed} checks)` : `demo check: FAILED (${failures.length} of ${passed + failures.length} checks)`);
  await stop(failures.length === 0 ? 0 : 1);
}

/** A walk-through in a browser whose first language is `device.locale`: every screen speaks it. */
async function languagePass(device, titles, { check, launchMobileBrowser, signInAndContinue }) {
  const browser = await launchMobileBrowser(device);
  try {
    const seen = {};
    await signInAndContinue(await browser.freshPage(), {
      authorizationUrl: `http://127.0.0.1:${stack.appEndpoint.port}/app/start`,
      pageOrigin: new URL(stack.pageUrl).origin,
      appEndpoint: stack.appEndpoint,
      onScreen: async (name, page) => {
        seen[name] = (await page.locator('h1').first().innerText()).trim();
      },
    });
    check(JSON.stringify(seen) === JSON.stringify(titles), `${device.name}: every screen in ${device.locale} (${Object.values(seen).join(' / ')})`);
  } finally {
    await browser.close();
  }
}

/**
 * One browser walk-through on `device` (browser.mjs PHONE or DESKTOP): sign in, our page, the app's result; every
 * screen must fit the width (no horizontal scroll) and carry no debug text; the result must show the API's answers;
 * a reload of the result must say the sign-in was already used; Cancel at the server must end at "you cancelled";
 * going back from our page to the server's finished step must say that step is over.
 */
async function browserPass(device, { check, runCurl, launchMobileBrowser, signInAndContinue }) {
  const browser = await launchMobileBrowser(device);
  const where = device.name;
  const layout = async (name, page) => {
    const m = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, text: document.body.innerText,
    }));
    const width = Math.min(m.innerWidth, device.viewport.width);
    check(m.scrollWidth <= width, `${where}: the ${name} screen fits the width (${m.scrollWidth} <= ${width} CSS px)`);
    const debug = DEBUG_TEXT.exec(m.text)?.[0];
    check(debug === undefined, `${where}: the ${name} screen carries no debug text${debug ? ` (found "${debug}")` : ''}`);
    if (SCREENSHOTS && device.isMobile && SHOTS[name]) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      // CSS pixels: a phone-sized picture (412 x 915) that stays small in the repository
      await page.screenshot({ path: path.join(SCREENSHOTS, SHOTS[name]), scale: 'css' });
    }
  };
  try {
    const page = await browser.freshPage();
    const flow = { authorizationUrl: `http://127.0.0.1:${stack.appEndpoint.port}/app/start`, pageOrigin: new URL(stack.pageUrl).origin, appEndpoint: stack.appEndpoint, touch: device.hasTouch };
    const leg = await signInAndContinue(page, { ...flow, login: 'alice', onScreen: layout });
    const r = leg.link.result ?? {};
    check(r.ok === true && r.sub === 'alice', `${where}: sign in, our page, Continue, the app exchanged the code (${r.kind ?? 'ok'})`);
    check(r.get === 200 && r.forwarded === 'alice', `${where}: app: GET /orders through Envoy -> ${r.get} with x-user-id ${r.forwarded}`);
    check(r.post === 403, `${where}: app: POST /orders through Envoy -> ${r.post} (insufficient_scope)`);
    const cards = await page.evaluate(() => [...document.querySelectorAll('section.api')].map((c) => `${c.dataset.method} ${c.dataset.status}`));
    check(cards.join(', ') === 'GET 200, POST 403', `${where}: the app's screen shows the API's answers as cards (${cards.join(', ') || 'none'})`);
    check(/x-user-id\s+alice/.test(leg.appPageText) && leg.appPageText.includes('insufficient_scope'),
      `${where}: the cards show what the API saw (x-user-id alice) and why Envoy refused (insufficient_scope)`);
    const copies = await page.locator('button[data-copy]').count();
    check(copies === 2, `${where}: both tokens shortened with a copy button (${copies})`);
    if (device.isMobile) await runCurl(r.curl ?? [[200, 'the curl commands the app printed', 'curl missing']]);
    await page.reload();
    const reloaded = await page.locator('html').getAttribute('data-screen');
    const title = await page.locator('#title').innerText();
    check(reloaded === 'already-used' && title === 'This sign-in was already used', `${where}: a reload of the result says "${title}"`);
    await layout('already-used', page);
    const cancel = await signInAndContinue(await browser.freshPage(), { ...flow, cancel: true });
    check(cancel.link.result?.kind === 'authorization_error', `${where}: Cancel at the server reaches the app as an error response`);
    check(/^You cancelled the sign-in\n/.test(cancel.appPageText), `${where}: the app says "${cancel.appPageText.split('\n')[0]}" after Cancel`);
    // back from our page to the authorization server's finished consent step
    const back = await browser.freshPage();
    const press = (locator) => (device.hasTouch ? locator.tap() : locator.click());
    await back.goto(flow.authorizationUrl);
    await back.locator('input[name="login"]').fill('alice');
    await press(back.locator('#submit'));
    await back.locator('html[data-screen="consent"]').waitFor({ state: 'attached' });
    await press(back.locator('#submit'));
    await back.locator('#tg-continue').waitFor({ state: 'visible' });
    await back.goBack();
    await back.locator('html[data-screen="expired"]').waitFor({ state: 'attached' });
    const expired = await back.locator('#title').innerText();
    check(expired === 'This sign-in step is over', `${where}: back from our page, the authorization server says "${expired}"`);
    await layout('expired', back);
  } finally {
    await browser.close();
  }
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
