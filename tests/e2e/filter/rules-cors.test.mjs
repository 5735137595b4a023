// Rules without a catch-all, and CORS preflight (`cors_preflight`), through the real Envoy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, scenarioConfig, assertDenied, counterDelta, REALM, DESCRIPTIONS } from './harness.mjs';
import { mint } from '../fixtures/tokens.mjs';

const PREFLIGHT = { origin: 'https://app.example.com', 'access-control-request-method': 'POST' };

describe('cors_preflight: true and rules without a catch-all', () => {
  let tg;
  before(async () => {
    const cfg = scenarioConfig({ cors_preflight: true });
    cfg.rules = cfg.rules.filter((r) => r.match.prefix !== '/');
    tg = await startTollgate(cfg, { name: 'tollgate-cors' });
  });
  after(async () => tg && tg.stop());
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  test('CORS preflight (OPTIONS + Origin + Access-Control-Request-Method) passes without a token', async () => {
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ method: 'OPTIONS', headers: PREFLIGHT }));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.reachedUpstream.length, 1);
    assert.equal(res.reachedUpstream[0].method, 'OPTIONS');
    assert.deepEqual(delta, { allowed: 1 });
  });

  test('a preflight still has spoofed claim headers stripped', async () => {
    const res = await tg.send({ method: 'OPTIONS', headers: { ...PREFLIGHT, 'x-user-id': 'admin' } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.reachedUpstream[0].headers['x-user-id'], undefined);
  });

  test('OPTIONS without Access-Control-Request-Method is no preflight: 401 on a route that needs a token', async () => {
    // /admin has no method restriction (the /orders rules cover GET and POST only).
    const res = await tg.send({ method: 'OPTIONS', path: '/admin/users', headers: { origin: 'https://app.example.com' } });
    assertDenied(res, { status: 401, error: 'missing_token', description: DESCRIPTIONS.missing_token, wwwAuthenticate: `Bearer realm="${REALM}"` });
  });

  test('a request that matches no rule never reaches the API: 403 access_denied, no WWW-Authenticate', async () => {
    const token = await mint();
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ path: '/elsewhere', token }));
    assertDenied(res, { status: 403, error: 'access_denied', description: DESCRIPTIONS.no_matching_rule, token });
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(delta.denied, 1);
    assert.equal(delta['denied.no_matching_rule'], 1);
  });
});

describe('cors_preflight absent (default false)', () => {
  let tg;
  before(async () => {
    tg = await startTollgate(scenarioConfig(), { name: 'tollgate-nocors' });
  });
  after(async () => tg && tg.stop());

  it('a CORS preflight without a token is refused with 401', async () => {
    await tg.wrap(async () => {
      const res = await tg.send({ method: 'OPTIONS', headers: PREFLIGHT });
      assertDenied(res, { status: 401, error: 'missing_token', description: DESCRIPTIONS.missing_token, wwwAuthenticate: `Bearer realm="${REALM}"` });
    })();
  });
});
