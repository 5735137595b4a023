// The mobile-flow demo does what it prints: `stack.mjs --check` starts the whole stack, runs every printed curl
// command with the real curl and the printed browser walk-through in headless Chromium, and exits 0 only if all of
// it answered as announced. A second run, without --check, is stopped with SIGTERM and must exit cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBrowserFlow } from '../authz/flow.mjs';

const DEMO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'demo', 'stack.mjs');

function runDemo(args, { timeoutMs = 45_000 } = {}) {
  // free ports only: other suites may run next to this one
  const env = { ...process.env, TOLLGATE_DEMO_ANY_PORTS: '1' };
  delete env.TOLLGATE_DEMO_CHECK;
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
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
    assert.match(out, /stopping the demo/);
  });

  it('runs until SIGTERM, its start URL begins a PKCE authorization request that signs in to the printed page, and it stops cleanly', async () => {
    const demo = runDemo([]);
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
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGTERM');
    }
    const { code, signal } = await demo.finish();
    assert.equal(signal, null);
    assert.equal(code, 0, demo.output());
    assert.match(demo.output(), /stopping the demo/);
  });
});
