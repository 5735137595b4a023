// Hostile tokens with a VALID signature (signed with the fixture key, so only the claim / header checks can refuse
// them) and header tricks. Exact reasons where the README's checks name one; for the rest: a 4xx, never a 5xx. Afterwards the
// Wasm VM is still alive (a valid token gets 200) and Envoy logged no panic / critical line.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, assertInvalidToken, assertNoSecret, counterDelta, DESCRIPTIONS } from './harness.mjs';
import { mint, signRaw, claims, foreignKeyToken, now, KID } from '../fixtures/tokens.mjs';

const H = { alg: 'ES256', typ: 'at+jwt', kid: KID.ES256 };

describe('hostile tokens and headers', () => {
  let tg;
  let logStart = 0;
  before(async () => {
    tg = await startTollgate(undefined, { name: 'tollgate-hostile' });
    logStart = tg.envoy.log().length;
  });
  after(async () => tg && tg.stop());
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  /** 401 invalid_token counted under `reason` (or under one of several, where refusing earlier is just as safe). */
  async function expectReason(token, reason) {
    const reasons = [reason].flat();
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ token }));
    assertInvalidToken(res, { token });
    const counted = reasons.filter((r) => delta[`denied.${r}`] === 1);
    assert.equal(counted.length, 1, `counted as one of ${reasons}: ${JSON.stringify(delta)}`);
    assert.equal(res.json.error_description, DESCRIPTIONS[counted[0]] ?? res.json.error_description);
  }

  test('exp missing: 401 (exp is required)', async () => {
    const { exp, ...noExp } = claims();
    await expectReason(signRaw(H, noExp), 'missing_exp');
  });

  test('exp as a string: 401 (numeric dates must be JSON numbers)', async () => {
    await expectReason(signRaw(H, claims({ exp: String(now() + 300) })), 'invalid_date');
  });

  test('iat missing: 401 (the lifetime cap needs it)', async () => {
    const { iat, ...noIat } = claims();
    await expectReason(signRaw(H, noIat), 'missing_iat');
  });

  test('crit with an unknown name: 401', async () => {
    await expectReason(signRaw({ ...H, crit: ['x-unknown'], 'x-unknown': 1 }, claims()), 'critical_header');
  });

  // Refusing the header outright (bad_header) or not finding the kid (unknown_kid) are both fine: what matters is
  // that the key carried or pointed to by the token is never used.
  test('embedded jwk header (the key travels with the token): never trusted, 401', async () => {
    await expectReason(foreignKeyToken({ kid: 'attacker-key', embedJwk: true }), ['bad_header', 'unknown_kid']);
  });

  test('jku / x5u headers pointing elsewhere are never followed: 401', async () => {
    await expectReason(foreignKeyToken({ kid: 'attacker-key', header: { jku: 'http://127.0.0.1:9/jwks.json', x5u: 'http://127.0.0.1:9/c.pem' } }), ['bad_header', 'unknown_kid']);
  });

  test('fractional NumericDate (RFC 7519 allows it) is accepted', async () => {
    const res = await tg.send({ token: signRaw(H, claims({ exp: now() + 300.5 })) });
    assert.equal(res.status, 200, res.body);
  });

  test('alg of the header differs from the key (RS256 header, ES256 key\'s kid): 401', async () => {
    const token = signRaw({ ...H, alg: 'RS256' }, claims(), KID.RS256).replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: KID.ES256 })).toString('base64url'));
    const res = await tg.send({ token });
    assertInvalidToken(res, { token });
  });

  test('a table of odd but signed headers and payloads: always a 4xx with a JSON body, never a 5xx', async () => {
    const t0 = now();
    const cases = [
      [{ ...H, alg: 123 }, claims()],
      [{ ...H, alg: null }, claims()],
      [{ ...H, kid: { nested: true } }, claims()],
      [{ ...H, typ: 5 }, claims()],
      [{ ...H, crit: 'exp' }, claims()],
      [{ ...H, crit: [] }, claims()],
      [H, claims({ exp: 1e300 })],
      [H, claims({ exp: -1 })],
      [H, claims({ iat: 'yesterday' })],
      [H, claims({ nbf: [t0] })],
      [H, claims({ aud: 42 })],
      [H, claims({ aud: [] })],
      [H, claims({ aud: [null, {}] })],
      [H, claims({ iss: null })],
      [H, claims({ iss: ['https://login.example.com/oauth/v2/oauth-anonymous'] })],
      [H, claims({ scope: ['orders:read'] })],
      [H, claims({ scope: 42 })],
      [H, claims({ scp: { a: 1 } })],
      [H, claims({ sub: { id: 1 } })],
      [H, '[]'],
      [H, 'null'],
      [H, '{"iss": "x", "iss": "y"}'],
      ['{', claims()],
      ['{"alg":"ES256","kid":"tg-es256-1","typ":"at+jwt"} trailing', claims()],
      [H, `{"deep": ${'['.repeat(2000)}${']'.repeat(2000)}}`],
    ];
    for (const [header, payload] of cases) {
      const token = signRaw(header, payload);
      const res = await tg.send({ token });
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(header).slice(0, 60)} ${String(typeof payload === 'string' ? payload : JSON.stringify(payload)).slice(0, 80)} → ${res.status} ${res.body}`);
      assert.equal(res.reachedUpstream.length, 0);
      assert.ok(res.json?.error, res.body);
      assertNoSecret(res.body + JSON.stringify(res.headers), token, 'response');
    }
  });

  test('afterwards the VM still serves: a valid token gets 200, and Envoy logged no panic or critical line', async () => {
    const res = await tg.send({ token: await mint() });
    assert.equal(res.status, 200, res.body);
    const log = tg.envoy.log().slice(logStart);
    assert.doesNotMatch(log, /panick|panic|\[critical\]|wasm.*(trap|crash|unreachable)/i);
  });
});
