// The DPoP replay store and the DPoP scheme under attack, through the real Envoy over HTTP/1.1 and h2c. Access tokens
// are minted with the TEST-ONLY fixture keys and bound to a key of the `dpop` package (cnf.jkt = its RFC 7638
// thumbprint, computed by the `dpop` package); proofs are made by the `dpop` package — never by tollgate's code.
// - A request refused anyway (403, scope) writes nothing to the store: its proof is refused for its scope again,
//   not as a replay.
// - The DPoP scheme with a token that has no cnf.jkt is refused (not_dpop_bound), also where bearer tokens pass.
// - A full store refuses the NEW proof with 503 temporarily_unavailable (dpop_replay_store_full, Retry-After) and keeps
//   every proof it accepted: each is still refused as a replay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dpopKeyPair, proof, thumbprint } from '../lib/dpop.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { REALM, counterDelta, scenarioConfig, startTollgate } from './harness.mjs';
import { REQUEST_ERRORS, checkOutcome, sendRaw } from './attacks.mjs';

/** The default `dpop.algorithms`, as the challenge's algs attribute lists them. */
const ALGS = 'ES256 EdDSA RS256 PS256';
/** The smallest store: 1024 buckets of max(4, ceil(2 × 64 / 1024)) = 4 proofs. */
const REPLAY_SIZE = 64;
const CAPACITY = 1024 * 4;

const PLUGIN = scenarioConfig({
  dpop_replay_cache_size: REPLAY_SIZE,
  rules: [
    { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
    { match: { prefix: '/api/admin' }, scopes: ['admin'] },
    { match: { prefix: '/' } },
  ],
});
// Proofs stay fresh for the whole test (the store-full case sends several hundred; on a loaded machine that can take
// minutes), so every refusal below is about the store, never about a proof's age.
PLUGIN.providers[0].dpop = { max_age_seconds: 3600 };

describe('DPoP replay store and scheme attacks (one Envoy, a replay store of 64)', () => {
  let tg;
  let key;
  let bound;
  let unbound;
  before(async () => {
    key = await dpopKeyPair('ES256');
    bound = await mint({ scope: 'orders:read', claims: { cnf: { jkt: await thumbprint(key) } } });
    unbound = await mint({ scope: 'orders:read' });
    tg = await startTollgate(PLUGIN, { name: 'tollgate-attacks-replay' });
  });
  after(async () => tg && tg.stop());

  /** GET `path` with `Authorization: DPoP <token>` and a fresh proof by `key` (or the given one) over `proto`. */
  async function dpopGet(proto, path, token, p) {
    const htu = `http://127.0.0.1:${tg.port}${path}`;
    const dpop = p ?? await proof(key, { htm: 'GET', htu, accessToken: token });
    const { delta, result } = await counterDelta(tg.envoy, () => sendRaw(proto, tg.port, {
      target: path, headers: [['authorization', `DPoP ${token}`], ['dpop', dpop]],
    }));
    return { res: result, delta, proof: dpop };
  }

  for (const proto of ['h1', 'h2']) {
    it(`${proto}: a valid proof passes once; its replay is dpop_replayed (harmless neighbour)`, async (t) => tg.wrap(async () => {
      const first = await dpopGet(proto, '/orders', bound);
      checkOutcome('first use', first.res, first.delta, { upstream: '/orders', headers: { 'x-token-scope': 'orders:read' } });
      const again = await dpopGet(proto, '/orders', bound, first.proof);
      checkOutcome('replay', again.res, again.delta, {
        status: 401, error: 'invalid_dpop_proof', reason: 'dpop_replayed',
        wwwAuthenticate: `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="${REQUEST_ERRORS.dpop_replayed}", algs="${ALGS}"`,
      });
    })(t));

    it(`${proto}: a proof refused for its scope (403) is not remembered: the same proof is refused for its scope again`, async (t) => tg.wrap(async () => {
      const want = { status: 403, error: 'insufficient_scope', reason: 'insufficient_scope' };
      const first = await dpopGet(proto, '/api/admin/users', bound);
      checkOutcome('first use', first.res, first.delta, want);
      const again = await dpopGet(proto, '/api/admin/users', bound, first.proof);
      checkOutcome('the same proof again', again.res, again.delta, want);
    })(t));

    it(`${proto}: the DPoP scheme with a token without cnf.jkt is not_dpop_bound, where the token passes as Bearer`, async (t) => tg.wrap(async () => {
      const { res, delta } = await dpopGet(proto, '/orders', unbound);
      checkOutcome('DPoP scheme, unbound token', res, delta, {
        status: 401, error: 'invalid_token', reason: 'not_dpop_bound',
        wwwAuthenticate: `DPoP realm="${REALM}", error="invalid_token", error_description="${REQUEST_ERRORS.not_dpop_bound}", algs="${ALGS}"`,
      });
      const bearer = await sendRaw(proto, tg.port, { target: '/orders', headers: [['authorization', `Bearer ${unbound}`]] });
      checkOutcome('the same token as Bearer', bearer, {}, { upstream: '/orders' });
    })(t));
  }

  // Last: it fills the store.
  it(`h1: a full store answers 503 dpop_replay_store_full for the new proof (by proof #${CAPACITY + 1}) and keeps every accepted one`, async (t) => tg.wrap(async () => {
    // Proofs go in batches of 16 at a time (the store is shared state: order does not matter), until a batch
    // brings the first refusals.
    const accepted = [];
    const refusals = [];
    const htu = `http://127.0.0.1:${tg.port}/orders`;
    const send = (p) => sendRaw('h1', tg.port, { target: '/orders', headers: [['authorization', `DPoP ${bound}`], ['dpop', p]] });
    let checked = 0;
    while (refusals.length === 0 && accepted.length <= CAPACITY) {
      const batch = await Promise.all(Array.from({ length: 16 }, () => proof(key, { htm: 'GET', htu, accessToken: bound })));
      const answers = await Promise.all(batch.map(send));
      answers.forEach((res, i) => {
        if (res.status === 200 && res.json?.upstream === 'echo') accepted.push(batch[i]);
        else refusals.push(res);
      });
      if (accepted.length - checked >= 256) {
        // On the way: the first accepted proof is still remembered (a store that drops old proofs fails here).
        checked = accepted.length;
        const replay = await send(accepted[0]);
        assert.equal(replay.status, 401, `the first proof after ${accepted.length} more: ${replay.body.slice(0, 200)}`);
        assert.equal(replay.json?.error_description, REQUEST_ERRORS.dpop_replayed);
      }
    }
    assert.ok(refusals.length > 0, `${accepted.length} proofs accepted by a store of ${CAPACITY}: a full bucket dropped a proof instead of refusing the new one`);
    for (const refusal of refusals) {
      assert.equal(refusal.status, 503, refusal.body);
      assert.equal(refusal.json?.error, 'temporarily_unavailable', refusal.body);
      assert.equal(typeof refusal.json.error_description, 'string');
      assert.match(refusal.headers['retry-after'] ?? '', /^[1-9][0-9]*$/, 'Retry-After');
      assert.equal(refusal.headers['cache-control'], 'no-store');
    }
    assert.equal(await tg.envoy.family('denied', { reason: 'dpop_replay_store_full' }), refusals.length);

    // Every proof the store took is still refused as a replay (a sample: every 8th, and the last 16).
    const sample = [...accepted.entries()].filter(([i]) => i % 8 === 0 || i >= accepted.length - 16);
    const { delta } = await counterDelta(tg.envoy, async () => {
      for (const [i, p] of sample) {
        const res = await sendRaw('h1', tg.port, { target: '/orders', headers: [['authorization', `DPoP ${bound}`], ['dpop', p]] });
        assert.equal(res.status, 401, `accepted proof #${i}: ${res.body.slice(0, 200)}`);
        assert.equal(res.json?.error_description, REQUEST_ERRORS.dpop_replayed, `accepted proof #${i}`);
      }
    });
    assert.equal(delta['denied.dpop_replayed'], sample.length, JSON.stringify(delta));
  })(t));
});
