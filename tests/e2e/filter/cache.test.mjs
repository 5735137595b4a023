// The verified-token cache never outlives a token: a token accepted (and cached) a moment ago is refused once it
// expires. clock_skew_seconds 0 keeps the wait short. Real Envoy, real clock. The second request with the same token
// is a cache hit (read from the filter's metrics: no signature check), so these tests fail if the cache is off.
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

  /** What `fn` changed in the cache look-ups and signature checks (metric families jwt_cache_hit, jwt_cache_miss,
   *  signatures), and what it returned. */
  async function lookups(fn) {
    const read = async () => ({
      hit: await tg.envoy.family('jwt_cache_hit'),
      miss: await tg.envoy.family('jwt_cache_miss'),
      signatures: await tg.envoy.family('signatures'),
    });
    const before = await read();
    const result = await fn();
    const after = await read();
    return { result, change: { hit: after.hit - before.hit, miss: after.miss - before.miss, signatures: after.signatures - before.signatures } };
  }

  it('a cached token is refused as expired once exp has passed', async () => {
    await tg.wrap(async () => {
      // Long enough for the two first requests and the reads of the filter's counters, each waiting for their
      // once-a-second flush (lib/envoy.mjs FILTER_FLUSH_WAIT_MS), on a loaded machine.
      const token = await mint({ iat: -5, exp: 12 });
      const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).exp;
      const { result: first, change: verified } = await lookups(() => tg.send({ token }));
      assert.equal(first.status, 200, first.body);
      assert.deepEqual(verified, { hit: 0, miss: 1, signatures: 1 }, 'the first request verifies the token');
      const { result: again, change: cached } = await lookups(() => tg.send({ token }));
      assert.equal(again.status, 200, again.body);
      assert.deepEqual(cached, { hit: 1, miss: 0, signatures: 0 }, 'the second request is a cache hit');
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
      const { result: res, change } = await lookups(() => tg.send({ token, method: 'POST' }));
      assert.equal(res.status, 403, res.body);
      assert.deepEqual(change, { hit: 1, miss: 0, signatures: 0 }, 'the token came from the cache');
      assert.equal(res.reachedUpstream.length, 0);
    })();
  });
});
