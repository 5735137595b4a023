// The demo runs the authorization server as a process: check the CLI starts, prints what the
// demo needs, obeys its stdin commands and exits cleanly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));

/** Resolve with stdout once `pattern` appears in it (bounded by `ms`). */
function waitFor(child, read, pattern, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${read()}`)), ms);
    const check = () => {
      if (pattern.test(read())) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(read());
      }
    };
    child.stdout.on('data', check);
    check();
  });
}

test('CLI: prints issuer and clients, rotates on command, quits', async () => {
  const redirect = 'http://127.0.0.1:8080/app/callback';
  const child = spawn(process.execPath, [SERVER, '--port', '0', '--redirect-uri', redirect, '--alg', 'EdDSA'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(child, () => out, /^ready/m);
    const info = JSON.parse(out.slice(0, out.indexOf('\nready')));
    assert.match(info.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.kid, 'tg-test-eddsa-g1');
    assert.deepEqual(info.clients.mobile.redirectUris, [redirect]);

    const doc = await (await fetch(info.discovery)).json();
    assert.equal(doc.issuer, info.issuer);

    child.stdin.write('rotate\n');
    await waitFor(child, () => out, /new kid tg-test-eddsa-g2/);
    const kids = (await (await fetch(info.jwks)).json()).keys.map((k) => k.kid);
    assert.ok(kids.includes('tg-test-eddsa-g2') && kids.includes('tg-test-eddsa-g1'));

    child.stdin.write('quit\n');
    assert.equal(await exited, 0);
    assert.equal(err, '', 'no warnings or errors on stderr');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
});
