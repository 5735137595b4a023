// The same filter over HTTP/2 (h2c, as gRPC and many mobile stacks speak it) and with two Envoy workers (one Wasm VM
// each, each with its own configuration and cache; counters are shared).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, REALM, DESCRIPTIONS } from './harness.mjs';
import { request } from '../lib/http.mjs';
import { h2Request } from '../lib/h2.mjs';
import { mint } from '../fixtures/tokens.mjs';

describe('HTTP/2 and two workers', () => {
  let tg;
  before(async () => {
    tg = await startTollgate(undefined, { name: 'tollgate-2workers', concurrency: 2 });
  });
  after(async () => tg && tg.stop());
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  test('h2c: a valid token passes with the claim headers, none gets 401 with the RFC 6750 answer', async () => {
    const ok = await h2Request(tg.port, { path: '/orders', headers: { authorization: `Bearer ${await mint({ sub: 'h2-user' })}`, 'x-user-id': 'spoofed' } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).headers['x-user-id'], 'h2-user');
    const no = await h2Request(tg.port, { path: '/orders', headers: {} });
    assert.equal(no.status, 401);
    assert.equal(no.headers['www-authenticate'], `Bearer realm="${REALM}"`);
    assert.equal(JSON.parse(no.body).error_description, DESCRIPTIONS.missing_token);
  });

  test('two workers: every connection gets the same answers and the shared counters add up', async () => {
    const before = { allowed: await tg.envoy.family('allowed'), denied: await tg.envoy.family('denied') };
    const token = await mint();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      request(tg.port, { path: '/orders', headers: i % 2 ? { authorization: `Bearer ${token}` } : {} })));
    assert.deepEqual(results.map((r) => r.status), Array.from({ length: 20 }, (_, i) => (i % 2 ? 200 : 401)));
    assert.equal((await tg.envoy.family('allowed')) - before.allowed, 10);
    assert.equal((await tg.envoy.family('denied')) - before.denied, 10);
  });
});
