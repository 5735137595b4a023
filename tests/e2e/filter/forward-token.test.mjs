// `forward_token` through the real Envoy with the built filter and a real echo upstream: does the upstream see the
// client's Authorization header? Default (true): yes, unchanged. false: not once the token was accepted (verified or a
// cache hit), like jwt_authn's default `forward: false`; anonymous routes keep it; denials never reach the upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, scenarioConfig, assertInvalidToken, DESCRIPTIONS } from './harness.mjs';
import { mint } from '../fixtures/tokens.mjs';

describe('forward_token: true (default)', () => {
  let tg;
  before(async () => {
    tg = await startTollgate(scenarioConfig(), { name: 'tollgate-forward-default' });
  });
  after(async () => tg && tg.stop());
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  test('the upstream receives the Authorization header as sent, next to the claim headers', async () => {
    const token = await mint({ sub: 'user-fwd' });
    const res = await tg.send({ token });
    assert.equal(res.status, 200, res.body);
    const seen = res.reachedUpstream[0].headers;
    assert.equal(seen.authorization, `Bearer ${token}`);
    assert.equal(seen['x-user-id'], 'user-fwd');
  });
});

describe('forward_token: false', () => {
  let tg;
  before(async () => {
    tg = await startTollgate(scenarioConfig({ forward_token: false }), { name: 'tollgate-forward-false' });
  });
  after(async () => tg && tg.stop());
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  test('an accepted token is removed before the request goes upstream, verified and from the cache alike', async () => {
    const token = await mint({ sub: 'user-nofwd' });
    for (const [round, family] of [['verified', 'jwt_cache_miss'], ['cached', 'jwt_cache_hit']]) {
      const lookupsBefore = await tg.envoy.family(family);
      const res = await tg.send({ token });
      assert.equal(res.status, 200, `${round}: ${res.body}`);
      assert.equal(res.reachedUpstream.length, 1, round);
      const seen = res.reachedUpstream[0].headers;
      assert.equal(seen.authorization, undefined, `${round}: the upstream must not see the token`);
      assert.equal(seen['x-user-id'], 'user-nofwd', `${round}: the claims still arrive`);
      assert.equal((await tg.envoy.family(family)) - lookupsBefore, 1, `${round}: ${family}`);
    }
  });

  test('an anonymous route leaves the Authorization header alone (no token work there)', async () => {
    const token = await mint();
    const res = await tg.send({ token, path: '/health' });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.reachedUpstream[0].headers.authorization, `Bearer ${token}`);
  });

  test('a refused token is still answered by the filter and never reaches the upstream', async () => {
    const expired = await mint({ iat: -400, exp: -100 });
    const res = await tg.send({ token: expired });
    assertInvalidToken(res, { description: DESCRIPTIONS.expired, token: expired });
    assert.equal(res.reachedUpstream.length, 0);
  });
});
