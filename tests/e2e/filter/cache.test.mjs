// The verified-token cache never outlives a token: a token accepted (and cached) a moment ago is refused once it
// expires. clock_skew_seconds 0 keeps the wait short. Real Envoy, real clock.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, scenarioConfig, assertInvalidToken, counterDelta, DESCRIPTIONS } from './harness.mjs';
import { mint } from '../fixtures/tokens.mjs';

describe('verified-token cache and expiry', () => {
  let tg;
  before(async () => {
    const cfg = scenarioConfig();
    cfg.providers[0] = { ...cfg.providers[0], clock_skew_seconds: 0 };
    tg = await startTollgate(cfg, { name: 'tollgate-cache' });
  });
  after(async () => tg && tg.stop());

  it('a cached token is refused as expired once exp has passed', async () => {
    await tg.wrap(async () => {
      const token = await mint({ iat: -5, exp: 3 });
      const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).exp;
      const first = await tg.send({ token });
      assert.equal(first.status, 200, first.body);
      const again = await tg.send({ token });
      assert.equal(again.status, 200, again.body);
      // Wait until the clock is past exp by more than a second (skew is 0), however long the first requests took.
      await new Promise((r) => setTimeout(r, Math.max(0, (exp + 1.2) * 1000 - Date.now())));
      const { delta, result: late } = await counterDelta(tg.envoy, () => tg.send({ token }));
      assertInvalidToken(late, { description: DESCRIPTIONS.expired, token });
      assert.deepEqual(delta, { denied: 1, 'denied.expired': 1, 'provider.idsvr.denied': 1 });
    })();
  });

  it('a cached token still needs the scopes of each route', async () => {
    await tg.wrap(async () => {
      const token = await mint({ scope: 'orders:read' });
      assert.equal((await tg.send({ token })).status, 200);
      const res = await tg.send({ token, method: 'POST' });
      assert.equal(res.status, 403, res.body);
      assert.equal(res.reachedUpstream.length, 0);
    })();
  });
});
