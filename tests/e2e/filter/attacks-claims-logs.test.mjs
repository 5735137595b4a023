// Claims and log lines a client shapes, through the real Envoy over HTTP/1.1 and h2c:
// - an array claim is forwarded (elements joined by one space) only when no element is empty or contains a space or a
//   comma — otherwise `["viewer admin"]` would reach the API as the two roles `viewer` and `admin` — and the header is
//   then not sent at all;
// - the request id a client sends is printed quoted (Rust Debug escaping) in the denial line, so
//   `x-request-id: abc reason=forged` cannot add a field to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../lib/net.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { scenarioConfig, startTollgate } from './harness.mjs';
import { checkOutcome, sendRaw } from './attacks.mjs';

const PLUGIN = scenarioConfig({
  rules: [{ match: { prefix: '/' } }],
  claims_to_headers: { sub: 'x-user-id', roles: 'x-roles', scope: 'x-token-scope' },
});

describe('claims and log lines shaped by the client', () => {
  let tg;
  before(async () => {
    tg = await startTollgate(PLUGIN, { name: 'tollgate-attacks-claims' });
  });
  after(async () => tg && tg.stop());

  for (const proto of ['h1', 'h2']) {
    it(`${proto}: an array claim with an element holding a space or a comma, or an empty one, is not forwarded`, async (t) => tg.wrap(async () => {
      const failures = [];
      const cases = [
        [['viewer admin'], undefined],
        [['viewer', 'a,b'], undefined],
        [['viewer', ''], undefined],
        [['viewer', ' admin'], undefined],
        [['viewer\tadmin'], undefined],
        // harmless neighbours
        [['viewer', 'admin'], 'viewer admin'],
        [['viewer'], 'viewer'],
        ['viewer admin', 'viewer admin'], // a string claim is forwarded as it is
      ];
      for (const [roles, header] of cases) {
        const token = await mint({ scope: 'orders:read profile', claims: { roles } });
        const res = await sendRaw(proto, tg.port, { target: '/orders', headers: [['authorization', `Bearer ${token}`]] });
        try {
          checkOutcome(`${proto} roles ${JSON.stringify(roles)}`, res, {}, {
            upstream: '/orders', headers: { 'x-roles': header, 'x-user-id': 'user-1234', 'x-token-scope': 'orders:read profile' },
          });
        } catch (err) {
          failures.push(err.message);
        }
      }
      assert.deepEqual(failures, []);
    })(t));

    it(`${proto}: the client's x-request-id is printed quoted in the denial line`, async (t) => tg.wrap(async () => {
      const tag = `${proto}-${Date.now()}`;
      // Each id starts with its own word, by which its line is found.
      for (const [word, id, shown] of [
        [`one-${tag}`, `one-${tag}`, `request_id="one-${tag}"`],
        [`two-${tag}`, `two-${tag} reason=forged`, `request_id="two-${tag} reason=forged"`],
        [`three-${tag}`, `three-${tag}" status=200`, `request_id="three-${tag}\\" status=200"`],
      ]) {
        const res = await sendRaw(proto, tg.port, { target: '/orders', headers: [['x-request-id', id]] });
        assert.equal(res.status, 401, res.body);
        const line = await waitFor(`the denial line of ${id}`, () => tg.envoy.log().split('\n').find((l) => l.includes(word)), { timeoutMs: 5_000, intervalMs: 50 });
        assert.ok(
          line.endsWith(`wasm log api tollgate: denied: status=401 reason=missing_token provider=- rule=0 match=prefix:/ ${shown}`),
          line,
        );
      }
    })(t));
  }
});
