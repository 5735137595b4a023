// The mobile-flow demo does what it prints: `stack.mjs --check` starts the whole stack, runs every printed curl
// command with the real curl and the printed browser walk-through in headless Chromium on a phone and a desktop
// (every screen fits the width, no debug text, the API's answers on the app's screen, reload and Cancel in plain
// words), and exits 0 only if all of it answered as announced. A second run, without --check, is stopped with SIGTERM and must exit cleanly. Both
// name the log of every component at start, keep them after stop and say when everything is down; the second one
// finds its preferred API port held by the test and says which port it took instead.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBrowserFlow } from '../authz/flow.mjs';

const DEMO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'stack.mjs');
const LOGS = mkdtempSync(path.join(os.tmpdir(), 'tollgate-demo-logs-'));
after(() => rmSync(LOGS, { recursive: true, force: true }));

/** The component logs a run named at start; asserts the same folder is in its last line. */
function keptLogs(out) {
  const dir = new RegExp(`^Logs of this run \\(kept after the demo stops\\): (${LOGS}/\\d{8}T\\d{6}Z(?:-\\d+)?)/$`, 'm').exec(out)?.[1];
  assert.ok(dir, `log folder printed at start:\n${out}`);
  const named = {};
  for (const [label, file] of [
    ['Envoy', 'envoy.log'], ['Envoy access log', 'envoy-access.log'], ['Envoy config', 'envoy.yaml'],
    ['authorization server', 'authorization-server.log'], ['intermediate page', 'site.log'],
    ['app-not-installed page', 'site-app-link.log'], ['app-link endpoint', 'app-endpoint.log'],
  ]) {
    assert.match(out, new RegExp(`^  ${label}: +${dir}/${file.replace('.', '\\.')}$`, 'm'), `${label} log path printed`);
    named[file] = readFileSync(path.join(dir, file), 'utf8');
  }
  assert.deepEqual(readdirSync(dir).sort(), Object.keys(named).sort(), 'nothing else in the folder');
  assert.ok(out.trimEnd().endsWith(`stopped: Envoy, echo API, authorization server, site and app endpoint are down; logs kept in ${dir}/`), out.slice(-400));
  // never a token (the printed ones; their signatures are unique) and never an authorization response
  for (const token of out.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g) ?? []) {
    for (const [file, text] of Object.entries(named)) assert.ok(!text.includes(token.split('.')[2]), `a token in ${file}`);
  }
  for (const [file, text] of Object.entries(named)) assert.doesNotMatch(text, /[?&]code=/, `an authorization code in ${file}`);
  return named;
}

/** A loopback port this test holds until close(). */
async function holdPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
}

function runDemo(args, { timeoutMs = 45_000 } = {}) {
  // free ports only: other suites may run next to this one
  const env = { ...process.env, TOLLGATE_DEMO_ANY_PORTS: '1' };
  delete env.TOLLGATE_DEMO_CHECK;
  const child = spawn(process.execPath, [DEMO, '--logs', LOGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return {
    child,
    output: () => out,
    async waitFor(text) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes(text) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return out.includes(text);
    },
    async finish() {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const res = await exited;
      clearTimeout(timer);
      return res;
    },
  };
}

describe('mobile-flow demo (tests/e2e/demo/stack.mjs)', () => {
  it('--check: every printed curl command and the browser walk-through answer as announced', async () => {
    const demo = runDemo(['--check']);
    const { code, signal } = await demo.finish();
    const out = demo.output();
    assert.equal(signal, null, `demo killed by ${signal}\n${out}`);
    assert.match(out, /demo check: OK \(\d+ checks\)/, out);
    assert.equal(code, 0, out);
    // what a user follows: the numbered steps, and curl commands for 200, 401 and 403
    for (const step of ['1. Open http://127.0.0.1:', '2. Sign in', '3. The browser lands on our page', '4. The app link']) {
      assert.ok(out.includes(step), `step "${step}" printed`);
    }
    for (const status of [200, 401, 403]) assert.match(out, new RegExp(`^# expect ${status}: `, 'm'));
    assert.doesNotMatch(out, /FAIL/);
    // the browser pass on a phone and a desktop: every screen fits the width and carries no debug text; the app's
    // screen has the API's answers; a reload and a Cancel are told in plain words
    for (const device of ['phone', 'desktop']) {
      for (const screen of ['login', 'consent', 'page', 'app', 'already-used']) {
        assert.match(out, new RegExp(`^  ok   ${device}: the ${screen} screen fits the width \\(\\d+ <= ${device === 'phone' ? 412 : 1280} CSS px\\)$`, 'm'));
        assert.match(out, new RegExp(`^  ok   ${device}: the ${screen} screen carries no debug text$`, 'm'));
      }
      assert.match(out, new RegExp(`^  ok   ${device}: the app's screen shows the API's answers as cards \\(GET 200, POST 403\\)$`, 'm'));
      assert.match(out, new RegExp(`^  ok   ${device}: a reload of the result says "This sign-in was already used"$`, 'm'));
      assert.match(out, new RegExp(`^  ok   ${device}: the app says "You cancelled the sign-in" after Cancel$`, 'm'));
      assert.match(out, new RegExp(`^  ok   ${device}: back from our page, the authorization server says "This sign-in step is over"$`, 'm'));
      assert.match(out, new RegExp(`^  ok   ${device}: the expired screen fits the width`, 'm'));
    }
    assert.match(out, /^ {2}ok {3}phone de-DE: every screen in de-DE \(Anmelden \/ Zugriff erlauben \/ Zurück zur App \/ Sie sind angemeldet\)$/m);
    assert.match(out, /^ {2}ok {3}phone fr-FR: every screen in fr-FR \(Se connecter \/ Autoriser l’accès \/ Retour à l’application \/ Vous êtes connecté\)$/m);
    assert.match(out, /stopping the demo/);
    assert.doesNotMatch(out, /is busy: it took/, 'no preferred port with --any-ports');

    const logs = keptLogs(out);
    assert.match(logs['envoy.log'], /\[wasm\].*tollgate/, "the filter's lines in Envoy's log");
    assert.match(logs['envoy.log'], /exiting/, "Envoy's log runs to its end");
    for (const status of [200, 401, 403]) assert.match(logs['envoy-access.log'], new RegExp(`"(GET|POST) /orders HTTP/1\\.1" ${status} `));
    assert.match(logs['authorization-server.log'], /Z GET \/jwks 200$/m);
    assert.match(logs['authorization-server.log'], /Z POST \/token 200$/m);
    assert.match(logs['authorization-server.log'], /Z GET \/auth 303$/m);
    assert.match(logs['site.log'], /Z GET \/app\/callback 200$/m);
    assert.match(logs['site-app-link.log'], /Z GET \/app\/oauth 200$/m);
    assert.match(logs['app-endpoint.log'], /Z GET \/app\/start -> 302 to http:\/\/127\.0\.0\.1:\d+\/auth$/m);
    assert.match(logs['app-endpoint.log'], /Z GET \/app\/oauth \(code, iss, state\) -> 200 Signed in$/m);
    assert.match(logs['app-endpoint.log'], /Z GET \/app\/oauth \(error, error_description, iss, state\) -> 400 Cancelled$/m);
  });

  it('runs until SIGTERM, its start URL begins a PKCE authorization request that signs in to the printed page, and it stops cleanly', async () => {
    const held = await holdPort();
    const demo = runDemo(['--api-port', String(held.port)]);
    try {
      assert.ok(await demo.waitFor('Press Ctrl-C to stop.'), `demo not ready:\n${demo.output()}`);
      const start = /1\. Open (http:\/\/127\.0\.0\.1:\d+\/app\/start)/.exec(demo.output())?.[1];
      assert.ok(start, 'start URL printed');
      const res = await fetch(start, { redirect: 'manual' });
      assert.equal(res.status, 302);
      const authz = new URL(res.headers.get('location'));
      assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
      assert.match(authz.searchParams.get('state') ?? '', /^[A-Za-z0-9_-]{20,}$/);
      // signing in over plain HTTP (flow.mjs fills the server's screens) ends at the printed page with code, state, iss
      const page = /our page \((http:\/\/127\.0\.0\.1:\d+\/app\/callback)\)/.exec(demo.output())?.[1];
      assert.ok(page, 'page URL printed');
      const { redirect, screens } = await runBrowserFlow(authz.href, { redirectUri: page });
      assert.deepEqual(screens, ['login', 'consent']);
      assert.deepEqual([...redirect.searchParams.keys()].sort(), ['code', 'iss', 'state']);
      assert.equal(redirect.searchParams.get('state'), authz.searchParams.get('state'));
      // the held port is named, with the one Envoy's listener took; the printed API URL is that one
      const taken = new RegExp(`^port ${held.port} \\(API through Envoy\\) is busy: it took (\\d+) instead$`, 'm').exec(demo.output())?.[1];
      assert.ok(taken && Number(taken) !== held.port, `busy port reported:\n${demo.output()}`);
      assert.match(demo.output(), new RegExp(`^  API via Envoy: +http://127\\.0\\.0\\.1:${taken} `, 'm'));
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGTERM');
      await held.close();
    }
    const { code, signal } = await demo.finish();
    assert.equal(signal, null);
    assert.equal(code, 0, demo.output());
    assert.match(demo.output(), /stopping the demo/);
    const logs = keptLogs(demo.output());
    assert.match(logs['authorization-server.log'], /Z POST \/interaction\/[\w-]+ 303$/m, 'the sign-in, in the server log');
  });
});
