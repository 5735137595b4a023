// Every token row through the REAL Envoy with the built filter and a real echo upstream, twice: with the default
// signature path (Envoy's verify_signature for ES256/ES384/RS*, proven by the filter's gauge and counters) and with
// `signature_path: "wasm"` (everything checked in the VM) — the answers must be the same.
// Expected answers are the contract in filter/core/src/response.rs:
//   401 Bearer realm (no error attr) | 401 invalid_token + description | 403 insufficient_scope + scope | 400 invalid_request
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, scenarioConfig, assertDenied, assertInvalidToken, assertNoSecret, counterDelta, REALM, DESCRIPTIONS } from './harness.mjs';
import { DOCUMENTED_FAMILIES, parseMetric, sumFamily } from '../lib/metrics.mjs';
import {
  mint, unsignedToken, hmacToken, tamper, foreignKeyToken, claims, publicKeyPem, publicKeyDer,
  IDSVR_JWKS, PARTNER_ISSUER, KID, AUDIENCE,
} from '../fixtures/tokens.mjs';

for (const signaturePath of ['auto', 'wasm']) describe(`tollgate in the real Envoy: token rows (signature_path ${signaturePath})`, () => {
  let tg;
  const tokensUsed = [];
  const use = (t) => {
    tokensUsed.push(t);
    return t;
  };
  const test = (name, fn) => it(name, async (t) => tg.wrap(fn)(t));

  before(async () => {
    tg = await startTollgate(scenarioConfig({ signature_path: signaturePath }), { name: `tollgate-tokens-${signaturePath}` });
  });
  after(async () => {
    if (!tg) return;
    try {
      await tg.wrap(async () => {
        // Which path checked the signatures: Envoy's verify_signature for the algorithms it serves, or the VM.
        const stats = await tg.envoy.stats('^wasmcustom\\.tollgate\\.prefix\\.tollgate\\.signature');
        const stat = (n) => stats.get(`wasmcustom.tollgate.prefix.tollgate.${n}`);
        const checks = (path) => stat(`signature_path.${path}.signatures`);
        if (signaturePath === 'auto') {
          assert.equal(stat('signature_host_algorithms'), 5, 'ES256, ES384, RS256, RS384, RS512 on the host');
          assert.ok(checks('host') > 10, `host checks: ${checks('host')}`);
          assert.match(tg.envoy.log(), /signatures: host verify_signature for ES256, ES384, RS256, RS384, RS512; pure Rust for ES512, EdDSA, PS256, PS384, PS512/);
        } else {
          assert.equal(stat('signature_host_algorithms'), 0);
          assert.equal(checks('host'), 0);
        }
        assert.ok(checks('wasm') > 0, `VM checks: ${checks('wasm')}`);
        // No Envoy log line may contain a token (the glue logs the reason, never the token).
        const log = tg.envoy.log();
        for (const t of tokensUsed) assertNoSecret(log, t, 'the Envoy log');
      })();
    } finally {
      await tg.stop();
    }
  });

  /**
   * Send, expect a 401 invalid_token with exactly `reason` counted and its fixed description.
   * provider: 'auto' = the provider named by the token's iss is counted; null = none is (rejected before the
   * payload is read); 'any' = not asserted (the contract does not fix whether the iss is read before this check).
   */
  async function expectInvalid(token, reason, { path = '/orders', method = 'GET', provider = 'auto' } = {}) {
    use(token);
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ token, path, method }));
    assertInvalidToken(res, { description: DESCRIPTIONS[reason], token });
    if (provider === 'any') for (const k of Object.keys(delta)) if (k.startsWith('provider.')) delete delta[k];
    const expectedProvider = provider === 'auto' ? providerDelta(token, 'denied') : {};
    assert.deepEqual(delta, { denied: 1, [`denied.${reason}`]: 1, ...expectedProvider }, 'counters');
    return res;
  }

  // The provider a token is attributed to is the one whose issuer equals its (unverified) iss.
  function providerDelta(token, what) {
    let iss;
    try {
      iss = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).iss;
    } catch {
      return {};
    }
    const name = { 'https://login.example.com/oauth/v2/oauth-anonymous': 'idsvr', [PARTNER_ISSUER]: 'partner' }[iss];
    return name ? { [`provider.${name}.${what}`]: 1 } : {};
  }

  async function expectAllowed(token, { path = '/orders', method = 'GET', headers = {} } = {}) {
    use(token);
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ token, path, method, headers }));
    assert.equal(res.status, 200, `status (body: ${res.body})`);
    assert.equal(res.reachedUpstream.length, 1, 'the upstream received the request exactly once');
    assert.deepEqual(delta, { allowed: 1, ...providerDelta(token, 'allowed') }, 'counters');
    return res;
  }

  test('valid ES256 token: 200 and the claim headers arrive upstream', async () => {
    const token = await mint({ alg: 'ES256', sub: 'user-es', scope: 'orders:read profile' });
    const res = await expectAllowed(token);
    const seen = res.reachedUpstream[0].headers;
    assert.equal(seen['x-user-id'], 'user-es');
    assert.equal(seen['x-client-id'], 'mobile-app');
    assert.equal(seen['x-token-scope'], 'orders:read profile');
    assert.equal(res.json.upstream, 'echo');
  });

  test('valid EdDSA token: 200', async () => {
    const res = await expectAllowed(await mint({ alg: 'EdDSA', sub: 'user-ed' }));
    assert.equal(res.reachedUpstream[0].headers['x-user-id'], 'user-ed');
  });

  test('valid RS256 token: 200', async () => {
    const res = await expectAllowed(await mint({ alg: 'RS256', sub: 'user-rs' }));
    assert.equal(res.reachedUpstream[0].headers['x-user-id'], 'user-rs');
  });

  test('token of the second provider (partner): 200, counted for that provider', async () => {
    const res = await expectAllowed(await mint({ iss: PARTNER_ISSUER, kid: KID.PARTNER, sub: 'partner-user' }));
    assert.equal(res.reachedUpstream[0].headers['x-user-id'], 'partner-user');
  });

  test('scheme is case-insensitive: lower-case "bearer" and "BEARER" are accepted', async () => {
    for (const scheme of ['bearer', 'BEARER']) {
      const token = use(await mint());
      const res = await tg.send({ headers: { authorization: `${scheme} ${token}` } });
      assert.equal(res.status, 200, `${scheme}: ${res.body}`);
      assert.equal(res.reachedUpstream.length, 1);
    }
  });

  test('typ application/at+jwt is accepted too', async () => {
    await expectAllowed(await mint({ typ: 'application/at+jwt' }));
  });

  test('audience in an array containing the configured audience: 200', async () => {
    await expectAllowed(await mint({ aud: ['other-api.example.com', AUDIENCE] }));
  });

  test('exp a little in the past but within clock_skew_seconds (30): 200', async () => {
    await expectAllowed(await mint({ iat: -300, exp: -10 }));
  });

  test('scopes from scp (array, as Entra/Okta send): 200 and joined with spaces upstream', async () => {
    const res = await expectAllowed(await mint({ scope: null, claims: { scp: ['orders:read', 'profile'] } }));
    assert.equal(res.reachedUpstream[0].headers['x-token-scp'], 'orders:read profile');
  });

  test('expired token: 401 invalid_token "expired"', async () => {
    await expectInvalid(await mint({ iat: -400, exp: -60 }), 'expired');
  });

  test('nbf in the future: 401 invalid_token', async () => {
    await expectInvalid(await mint({ nbf: 120, exp: 300 }), 'not_yet_valid');
  });

  test('iat in the future: 401 invalid_token', async () => {
    await expectInvalid(await mint({ iat: 120, exp: 400 }), 'issued_in_future');
  });

  test('wrong iss (no provider has it): 401 invalid_token', async () => {
    // Issuers compare exactly: a trailing slash or another case is another issuer.
    for (const iss of ['https://evil.example.com', 'https://login.example.com/oauth/v2/oauth-anonymous/', 'https://LOGIN.example.com/oauth/v2/oauth-anonymous']) {
      await expectInvalid(await mint({ iss }), 'unknown_issuer');
    }
  });

  test('wrong aud: 401 invalid_token', async () => {
    await expectInvalid(await mint({ aud: 'other-api.example.com' }), 'wrong_audience');
  });

  test('audience array without the configured audience: 401 invalid_token', async () => {
    await expectInvalid(await mint({ aud: ['a.example.com', 'b.example.com'] }), 'wrong_audience');
  });

  test('alg none, empty signature: 401 invalid_token (an empty segment fails the three-segment check first)', async () => {
    await expectInvalid(unsignedToken(), 'malformed_token', { provider: null });
  });

  test('alg none with a non-empty signature and the kid of a real key: 401 invalid_token, algorithm not allowed', async () => {
    const forged = `${unsignedToken(claims(), { alg: 'none', typ: 'at+jwt', kid: KID.ES256 })}c2lnbmF0dXJl`;
    await expectInvalid(forged, 'algorithm_not_allowed', { provider: 'any' });
  });

  test('alg "None" / "NONE" spelled otherwise: 401 invalid_token, algorithm not allowed', async () => {
    for (const alg of ['None', 'NONE']) {
      await expectInvalid(`${unsignedToken(claims(), { alg, typ: 'at+jwt' })}c2ln`, 'algorithm_not_allowed', { provider: 'any' });
    }
  });

  test('HMAC key confusion: HS256 signed with the public key (PEM, JWK, DER, raw point bytes) as secret: 401 invalid_token', async () => {
    const esJwk = IDSVR_JWKS.keys.find((k) => k.kid === KID.ES256);
    for (const [kid, secret] of [
      [KID.ES256, publicKeyPem(KID.ES256)],
      [KID.RS256, publicKeyPem(KID.RS256)],
      [KID.ES256, JSON.stringify(esJwk)],
      [KID.ES256, publicKeyDer(KID.ES256)],
      [KID.ES256, Buffer.concat([Buffer.from([4]), Buffer.from(esJwk.x, 'base64url'), Buffer.from(esJwk.y, 'base64url')])],
      [KID.EdDSA, Buffer.from(IDSVR_JWKS.keys.find((k) => k.kid === KID.EdDSA).x, 'base64url')],
    ]) {
      await expectInvalid(hmacToken(secret, { kid }), 'algorithm_not_allowed', { provider: 'any' });
    }
  });

  test('unknown kid (signed by a key no JWKS has): 401 invalid_token', async () => {
    await expectInvalid(foreignKeyToken(), 'unknown_kid');
  });

  test('right kid, wrong key (foreign key claiming a known kid): 401 invalid_token', async () => {
    await expectInvalid(foreignKeyToken({ kid: KID.ES256 }), 'bad_signature');
  });

  test('tampered payload (scope widened after signing): 401 invalid_token', async () => {
    const token = await mint({ scope: 'orders:read' });
    await expectInvalid(tamper(token, { scope: 'orders:read orders:write orders:admin' }), 'bad_signature', { method: 'POST' });
  });

  test('lifetime too long (exp - iat > 900): 401 invalid_token', async () => {
    await expectInvalid(await mint({ iat: -5, exp: 1800 }), 'lifetime_too_long');
  });

  test('wrong typ (JWT, as an ID token would have): 401 invalid_token', async () => {
    await expectInvalid(await mint({ typ: 'JWT' }), 'wrong_token_type', { provider: 'any' });
  });

  test('no typ header: 401 invalid_token (RFC 9068 at+jwt required by default)', async () => {
    await expectInvalid(await mint({ typ: null }), 'wrong_token_type', { provider: 'any' });
  });

  test('missing scope: 403 insufficient_scope with scope="orders:write"', async () => {
    const token = use(await mint({ scope: 'orders:read' }));
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ token, method: 'POST' }));
    assertDenied(res, { status: 403, error: 'insufficient_scope', description: DESCRIPTIONS.insufficient_scope, token });
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${DESCRIPTIONS.insufficient_scope}", scope="orders:write"`,
    );
    assert.deepEqual(delta, { denied: 1, 'denied.insufficient_scope': 1, 'provider.idsvr.denied': 1 });
  });

  test('all scopes of a rule are required: scope="orders:read orders:admin" lists every required scope', async () => {
    const token = use(await mint({ scope: 'orders:read' }));
    const res = await tg.send({ token, path: '/admin/users' });
    assertDenied(res, { status: 403, error: 'insufficient_scope', token });
    assert.match(res.headers['www-authenticate'], /, scope="orders:read orders:admin"$/);
  });

  test('scopes are matched whole: "orders:readonly" does not grant "orders:read"', async () => {
    const token = use(await mint({ scope: 'orders:readonly xorders:read' }));
    const res = await tg.send({ token });
    assertDenied(res, { status: 403, error: 'insufficient_scope', token });
  });

  test('token only in the query string: 401 with no error attribute (never read from there)', async () => {
    const token = use(await mint());
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ path: `/orders?access_token=${token}` }));
    assertDenied(res, { status: 401, error: 'missing_token', description: DESCRIPTIONS.missing_token, wwwAuthenticate: `Bearer realm="${REALM}"`, token });
    assert.deepEqual(delta, { denied: 1, 'denied.missing_token': 1 });
  });

  test('no token at all: 401 Bearer realm, no error attribute', async () => {
    const res = await tg.send({});
    assertDenied(res, { status: 401, error: 'missing_token', description: DESCRIPTIONS.missing_token, wwwAuthenticate: `Bearer realm="${REALM}"` });
  });

  test('another scheme (Basic) counts as no bearer token: 401 Bearer realm', async () => {
    const res = await tg.send({ headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assertDenied(res, { status: 401, error: 'missing_token', description: DESCRIPTIONS.missing_token, wwwAuthenticate: `Bearer realm="${REALM}"` });
  });

  test('malformed segments: 401 invalid_token for each', async () => {
    const real = await mint();
    const [h, p] = real.split('.');
    const cases = ['a', 'a.b', 'a.b.c.d', '..', 'e30.e30.', 'e30.e30.e30', `${h}.${p}`, `${real}.${p}`, `${h}..`, `.${p}.`,
      'bm90LWpzb24.bm90LWpzb24.c2ln', `${h}.${p}.!!`.replace('!!', 'zz')];
    for (const token of cases) {
      use(token);
      const res = await tg.send({ token });
      assertInvalidToken(res, { token });
      assert.ok(res.status < 500);
    }
  });

  test('Authorization: "Bearer" with nothing or a non-token68 value: 400 invalid_request', async () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer {"alg":"none"}']) {
      const res = await tg.send({ headers: { authorization: value } });
      assertDenied(res, {
        status: 400,
        error: 'invalid_request',
        description: DESCRIPTIONS.malformed_authorization,
        wwwAuthenticate: `Bearer realm="${REALM}", error="invalid_request", error_description="${DESCRIPTIONS.malformed_authorization}"`,
      });
    }
  });

  test('oversize token (~40 KB, validly signed): 401 invalid_token before any crypto', async () => {
    const token = await mint({ claims: { padding: 'x'.repeat(30_000) } });
    assert.ok(token.length > 40_000 && token.length < 50_000, `token length ${token.length}`);
    await expectInvalid(token, 'token_too_large', { provider: null });
  });

  test('token over Envoy\'s own header limit (~100 KB): Envoy answers 431 itself, the filter never sees it', async () => {
    const token = use(`${'e'.repeat(50_000)}.${'e'.repeat(50_000)}.sig`);
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ token }));
    assert.equal(res.status, 431);
    assert.equal(res.reachedUpstream.length, 0);
    assert.deepEqual(delta, {}, 'the filter did not run');
    assertNoSecret(res.body, token, 'response');
  });

  test('two Authorization headers: 400 invalid_request', async () => {
    const a = use(await mint());
    const b = use(await mint({ alg: 'EdDSA' }));
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ headers: { authorization: [`Bearer ${a}`, `Bearer ${b}`] } }));
    assertDenied(res, { status: 400, error: 'invalid_request', token: a });
    assertNoSecret(JSON.stringify(res.headers) + res.body, b, 'response');
    assert.equal(res.headers['www-authenticate'], `Bearer realm="${REALM}", error="invalid_request", error_description="${res.json.error_description}"`);
    // Envoy folds repeated Authorization headers into one value joined by "," before any filter runs; the
    // filter recognises the joined form ("Bearer a,Bearer b") and names it.
    assert.equal(res.json.error_description, DESCRIPTIONS.multiple_authorization_headers);
    assert.deepEqual(delta, { denied: 1, 'denied.multiple_authorization_headers': 1 });
  });

  test('spoofed claim headers are stripped and replaced by the verified claims', async () => {
    const token = use(await mint({ sub: 'real-user', scope: 'orders:read', clientId: undefined, claims: { client_id: undefined } }));
    const res = await tg.send({ token, headers: { 'x-user-id': 'admin', 'X-Token-Scope': 'orders:admin', 'x-client-id': 'spoofed-client' } });
    assert.equal(res.status, 200, res.body);
    const seen = res.reachedUpstream[0].headers;
    assert.equal(seen['x-user-id'], 'real-user');
    assert.equal(seen['x-token-scope'], 'orders:read');
    // The token has no client_id claim: the spoofed header must be gone, not passed through.
    assert.equal(seen['x-client-id'], undefined);
  });

  test('anonymous route: no token → 200, spoofed claim headers stripped', async () => {
    const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ path: '/health', headers: { 'x-user-id': 'admin', 'x-token-scope': 'orders:admin' } }));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.reachedUpstream.length, 1);
    assert.equal(res.reachedUpstream[0].headers['x-user-id'], undefined);
    assert.equal(res.reachedUpstream[0].headers['x-token-scope'], undefined);
    assert.deepEqual(delta, { allowed: 1 });
  });

  test('dot segments cannot borrow the anonymous /health rule: 400 invalid_request, never forwarded', async () => {
    // Envoy (normalize_path unset) passes these paths through as sent; an upstream that normalises would see /orders.
    for (const path of ['/health/../orders', '/health/%2e%2e/orders', '/health/%2E%2E/orders', '/health/./../orders']) {
      const { delta, result: res } = await counterDelta(tg.envoy, () => tg.send({ path }));
      assertDenied(res, { status: 400, error: 'invalid_request', description: DESCRIPTIONS.invalid_path });
      assert.deepEqual(delta, { denied: 1, 'denied.invalid_path': 1 }, path);
    }
  });

  test('decisions are counted per provider and reason: allowed at zero from the start, each denial under its reason', async () => {
    const stats = await tg.envoy.stats('^wasmcustom\\.tollgate\\.');
    for (const provider of ['idsvr', 'partner', 'none']) {
      const name = `wasmcustom.tollgate.prefix.tollgate.provider.${provider}.allowed`;
      assert.ok(stats.has(name), `${name} on /stats`);
    }
    // The table above refused tokens for these reasons, each counted under the token's provider.
    for (const reason of ['expired', 'wrong_audience', 'insufficient_scope', 'bad_signature']) {
      assert.ok(sumFamily(stats, 'denied', { provider: 'idsvr', reason }) >= 1, `denied{provider=idsvr,reason=${reason}}`);
    }
    assert.ok(sumFamily(stats, 'denied', { provider: 'none', reason: 'missing_token' }) >= 1);
    assert.ok(sumFamily(stats, 'allowed', { provider: 'partner' }) >= 1);
    // Every filter metric is one of the documented families.
    for (const name of stats.keys()) {
      assert.ok(DOCUMENTED_FAMILIES.includes(parseMetric(name)?.family), name);
    }
  });

  test('a partner-issued token signed with an idsvr key is refused (keys are per provider)', async () => {
    await expectInvalid(await mint({ iss: PARTNER_ISSUER, kid: KID.ES256 }), 'unknown_kid');
  });
});
