// Opaque access tokens by RFC 7662 introspection, end to end: the real Envoy running the built filter, the real
// oidc-provider (tests/e2e/filter/introspection/authz.mjs: opaque access tokens, introspection, DPoP, revocation)
// behind an Envoy cluster on loopback, tokens asked for by client_credentials, DPoP proofs by the `dpop` package.
// Introspection calls are counted where the server sees them, at a recorder in front of it (recorder.mjs), which
// also plays the server's outages: stopped, slow, answering 5xx or garbage.
//
// Two Envoys share one server: one caches answers (a short `cache_seconds` so revocation shows within the test), one
// has `cache_seconds: 0` (revocation shows at once) and a short `timeout_ms`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { clientCredentials } from '../../authz/flow.mjs';
import { dpopKeyPair, proof } from '../../lib/dpop.mjs';
import { DOCUMENTED_FAMILIES, parseMetric } from '../../lib/metrics.mjs';
import { assertDenied, assertInvalidToken, assertNoSecret } from '../harness.mjs';
import { GATEWAY_CLIENT, OTHER_RESOURCE, secretSpellings, startOpaqueTokenServer } from './authz.mjs';
import { startRecorder } from './recorder.mjs';
import {
  REALM, assertAllowed, assertGatewayAuthentication, assertUnavailable, formOf, introspectingProvider, pluginConfig, sleep,
  startStack, unknownOpaqueToken,
} from './stack.mjs';

/** Seconds an active answer is cached by the first Envoy: short, so revocation shows within the test. */
const CACHE_S = 8;
/** Seconds an inactive answer is cached by the first Envoy: long enough for the flood test on a loaded machine. */
const NEGATIVE_CACHE_S = 60;
/** The second Envoy's bound on the wait for an answer. */
const TIMEOUT_MS = 1000;
/** The VM environment variable the first Envoy reads the gateway's secret from (`{"env": NAME}`). */
const SECRET_ENV = 'TOLLGATE_TEST_INTROSPECTION_SECRET';
const SERVICE = 'tollgate-service';

/** Descriptions of the JWT path's binding and proof tables (filter/dpop.test.mjs): an introspected token's `cnf`
 *  is enforced the same way. */
const BOUND_AS_BEARER = 'the token is bound to a DPoP key and must be sent with the DPoP scheme';
const KEY_MISMATCH = 'the access token is bound to another DPoP key';
const MISSING_PROOF = 'the DPoP scheme needs a DPoP proof header';
/** The contract's texts for an inactive answer (reason token_inactive) and a wrong `aud` (as for a JWT). */
const INACTIVE = 'the token is not active';
const WRONG_AUDIENCE = 'the token is not meant for this audience';

let as;
before(async () => {
  as = await startOpaqueTokenServer();
});
after(async () => {
  await as?.close();
  assert.deepEqual(as?.serverErrors ?? [], [], 'the authorization server reported no server_error');
});

async function token({ scope = 'orders:read', resource, dpop } = {}) {
  const res = await clientCredentials(as, { scope, resource, dpop });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.token_type, dpop ? 'DPoP' : 'Bearer');
  assert.doesNotMatch(res.body.access_token, /\./, 'an opaque token, not a JWS');
  return res.body.access_token;
}

/** The log of `stack`'s Envoy holds none of the gateway's secret spellings and none of `tokens`. */
function assertLogClean(stack, tokens) {
  const log = stack.envoy.log();
  assert.ok(log.length > 0, 'Envoy wrote a log');
  for (const spelling of secretSpellings()) assert.ok(!log.includes(spelling), 'the gateway client secret is not in the log');
  for (const t of tokens) assertNoSecret(log, t, 'Envoy log');
}

describe('introspection with a cache (cache_seconds 8, negative_cache_seconds 60, secret from the VM environment)', () => {
  let recorder;
  let stack;
  const used = [];
  const test = (name, fn, options = {}) => it(name, options, (...args) => stack.wrap(fn)(...args));

  before(async () => {
    recorder = await startRecorder(as.port);
    // The CLI check of the configuration (lib/envoy-config.mjs) reads the secret from its own environment.
    process.env[SECRET_ENV] = GATEWAY_CLIENT.clientSecret;
    const provider = introspectingProvider({
      name: 'opaque',
      issuer: as.issuer,
      url: as.introspectionUrl,
      cluster: 'idsvr',
      introspection: {
        client_secret: { env: SECRET_ENV },
        response: 'json',
        cache_seconds: CACHE_S,
        negative_cache_seconds: NEGATIVE_CACHE_S,
        timeout_ms: 2000,
      },
    });
    stack = await startStack(pluginConfig({ providers: [provider] }), {
      clusters: { idsvr: recorder.port }, env: { [SECRET_ENV]: GATEWAY_CLIENT.clientSecret }, name: 'introspection-cached',
    });
  });
  after(async () => {
    await stack?.stop();
    await recorder?.close();
    delete process.env[SECRET_ENV];
  });

  test('an active token passes, its answer\'s members become claim headers, and the call is RFC 7662 to the letter', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    const res = await stack.send({ token: t });
    assertAllowed(res, { clientId: SERVICE, scope: 'orders:read' });
    assert.equal(res.reachedUpstream[0].headers.authorization, `Bearer ${t}`, 'the API gets the request as the client sent it');
    const calls = recorder.since(before);
    assert.equal(calls.length, 1, 'one introspection call');
    const [call] = calls;
    assert.equal(call.method, 'POST');
    assert.match(call.headers['content-type'] ?? '', /^application\/x-www-form-urlencoded\b/);
    assert.deepEqual(formOf(call), { token: t, token_type_hint: 'access_token' });
    assertGatewayAuthentication(call);
    assert.equal(call.headers.accept, 'application/json');
    assert.equal(call.headers.host, new URL(as.introspectionUrl).host, ':authority is the URL\'s host');
    assert.equal(call.status, 200);
    assert.equal(JSON.parse(call.answer.body).active, true);
    const again = await stack.send({ token: t });
    assertAllowed(again, { clientId: SERVICE, scope: 'orders:read' });
    assert.equal(recorder.since(before).length, 1, 'the second request is answered from the cache');
  });

  test('an answer marked Cache-Control: no-store, as oidc-provider marks every one, is still cached: only max-age shortens an entry', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assert.equal(recorder.since(before)[0].answer.headers['cache-control'], 'no-store');
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assert.equal(recorder.since(before).length, 1, 'the second request is answered from the cache');
  });

  test('over h2c the same: a cached token passes, a new one is introspected once, an unknown one is refused', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    assertAllowed(await stack.sendH2({ token: t }), { clientId: SERVICE });
    assertAllowed(await stack.sendH2({ token: t }), { clientId: SERVICE });
    assert.equal(recorder.since(before).length, 1);
    const unknown = unknownOpaqueToken();
    const res = await stack.sendH2({ token: unknown });
    assert.equal(res.status, 401, res.body);
    assert.equal(res.reachedUpstream.length, 0);
    assert.equal(res.json?.error, 'invalid_token');
    assert.equal(res.json?.error_description, INACTIVE);
    assert.equal(res.headers['www-authenticate'], `Bearer realm="${REALM}", error="invalid_token", error_description="${INACTIVE}"`);
    assert.equal(recorder.since(before).length, 2);
  });

  test('a token the server never issued (active: false) is refused with 401 invalid_token, and the answer is cached', async () => {
    const unknown = unknownOpaqueToken();
    const before = recorder.seen.length;
    const res = await stack.send({ token: unknown });
    assertInvalidToken(res, { description: INACTIVE, token: unknown });
    const calls = recorder.since(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].answer.body, '{"active":false}');
    const again = await stack.send({ token: unknown });
    assertInvalidToken(again, { description: INACTIVE, token: unknown });
    assert.equal(recorder.since(before).length, 1, 'the inactive answer is cached for negative_cache_seconds');
  });

  test('a JWT never goes to introspection', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = Buffer.from(JSON.stringify({ iss: as.issuer, aud: as.resource, iat: now, exp: now + 60 })).toString('base64url');
    const jwt = `${header}.${claims}.${Buffer.alloc(64, 7).toString('base64url')}`;
    const before = recorder.seen.length;
    const res = await stack.send({ token: jwt });
    // The provider has no keys (it only introspects): the JWT's key is unknown, a 401 (no retry would help).
    assertInvalidToken(res, { description: 'the token signing key is unknown', token: jwt });
    assert.equal(recorder.seen.length, before, 'no request of any kind reached the server');
  });

  test('a token for another audience is refused with 401 invalid_token', async () => {
    const t = await token({ resource: OTHER_RESOURCE });
    const before = recorder.seen.length;
    const res = await stack.send({ token: t });
    assertInvalidToken(res, { description: WRONG_AUDIENCE, token: t });
    const calls = recorder.since(before);
    assert.equal(calls.length, 1);
    assert.equal(JSON.parse(calls[0].answer.body).active, true, 'the server says active: the filter checks aud itself');
    assert.equal(JSON.parse(calls[0].answer.body).aud, OTHER_RESOURCE);
  });

  test('a token without the rule\'s scope gets 403 insufficient_scope (answer\'s scope, space-delimited)', async () => {
    const readOnly = await token({ scope: 'orders:read' });
    const res = await stack.send({ method: 'POST', token: readOnly });
    const description = 'the token lacks a scope this resource requires';
    assertDenied(res, { status: 403, error: 'insufficient_scope', description, token: readOnly });
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${description}", scope="orders:write"`,
    );
    const both = await token({ scope: 'orders:read orders:write' });
    assertAllowed(await stack.send({ method: 'POST', token: both }), { clientId: SERVICE, scope: 'orders:read orders:write' });
  });

  test('an expired token: the cached answer ends at exp, not at cache_seconds, and the token is refused', async () => {
    as.setAccessTokenTTL(2);
    let t;
    try {
      t = await token();
    } finally {
      as.setAccessTokenTTL(300);
    }
    const before = recorder.seen.length;
    const started = Date.now();
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    const { exp } = JSON.parse(recorder.since(before)[0].answer.body);
    assert.ok(exp - Math.floor(started / 1000) <= 2, `exp ${exp} is at most 2 s away`);
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 300);
    const res = await stack.send({ token: t });
    const elapsed = Date.now() - started;
    assertInvalidToken(res, { description: INACTIVE, token: t });
    // Within cache_seconds of the first answer, a new call proves the entry did not outlive exp.
    assert.ok(elapsed < CACHE_S * 1000, `the check ran ${elapsed} ms after the first answer, within cache_seconds`);
    const calls = recorder.since(before);
    assert.equal(calls.length, 2, 'asked again after exp');
    assert.equal(calls[1].answer.body, '{"active":false}');
  });

  test('a DPoP-bound opaque token (cnf.jkt in the answer): a proof on every request, cached or not', async () => {
    const key = await dpopKeyPair('ES256');
    const t = await token({ dpop: key });
    const origin = `http://127.0.0.1:${stack.port}`;
    const withProof = async (k = key) => ({ dpop: await proof(k, { htm: 'GET', htu: `${origin}/orders`, accessToken: t }) });
    const before = recorder.seen.length;
    const ok = await stack.send({ token: t, scheme: 'DPoP', headers: await withProof() });
    assertAllowed(ok, { clientId: SERVICE });
    const [call] = recorder.since(before);
    assert.equal(JSON.parse(call.answer.body).token_type, 'DPoP');
    assert.equal(typeof JSON.parse(call.answer.body).cnf?.jkt, 'string');
    // From the cache: a fresh proof passes; no proof, the Bearer scheme, or another key's proof are refused.
    assertAllowed(await stack.send({ token: t, scheme: 'DPoP', headers: await withProof() }), { clientId: SERVICE });
    const noProof = await stack.send({ token: t, scheme: 'DPoP' });
    assertDenied(noProof, { status: 401, error: 'invalid_dpop_proof', description: MISSING_PROOF, token: t });
    const asBearer = await stack.send({ token: t });
    assertDenied(asBearer, { status: 401, error: 'invalid_token', description: BOUND_AS_BEARER, token: t });
    const otherKey = await stack.send({ token: t, scheme: 'DPoP', headers: await withProof(await dpopKeyPair('ES256')) });
    assertDenied(otherKey, { status: 401, error: 'invalid_dpop_proof', description: KEY_MISMATCH, token: t });
    assert.equal(recorder.since(before).length, 1, 'every later request was decided from the cached answer');
  });

  test('100 requests with one token cost exactly one introspection call (concurrent: single flight, then the cache)', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 100 }, () => stack.send({ token: t })));
    assert.ok(Date.now() - started < CACHE_S * 1000, 'the burst ended within cache_seconds');
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.equal(results.filter((r) => r.reachedUpstream.length === 1).length, 100);
    assert.equal(recorder.since(before).length, 1, 'exactly one introspection call');
  });

  test('a client that resets its request cannot cancel the call it started: the next request uses its answer', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    recorder.delayMs = 800;
    try {
      await new Promise((resolve, reject) => {
        const socket = net.connect(stack.port, '127.0.0.1', () => {
          socket.write(`GET /orders HTTP/1.1\r\nhost: api\r\nauthorization: Bearer ${t}\r\n\r\n`);
          setTimeout(() => { socket.resetAndDestroy(); resolve(); }, 200);
        });
        socket.on('error', reject);
      });
      assert.equal(recorder.since(before).length, 1, 'the call was under way when the client reset');
      const started = Date.now();
      assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
      assert.ok(Date.now() - started < 1500, `waited ${Date.now() - started} ms: for the call under way, not a new one`);
    } finally {
      recorder.delayMs = 0;
    }
    assert.equal(recorder.since(before).length, 1, 'one call for both requests');
  });

  test('a flood of 100 distinct unknown tokens costs at most 100 calls, and repeats within the negative window none', async () => {
    const tokens = Array.from({ length: 100 }, () => unknownOpaqueToken());
    const before = recorder.seen.length;
    const started = Date.now();
    for (let i = 0; i < tokens.length; i += 20) {
      const batch = await Promise.all(tokens.slice(i, i + 20).map((t) => stack.send({ token: t })));
      assert.deepEqual([...new Set(batch.map((r) => r.status))], [401]);
    }
    const first = recorder.since(before).length;
    assert.ok(first >= 1 && first <= 100, `${first} calls for 100 distinct tokens`);
    const middle = recorder.seen.length;
    for (let i = 0; i < tokens.length; i += 20) {
      const batch = await Promise.all(tokens.slice(i, i + 20).map((t) => stack.send({ token: t })));
      assert.deepEqual([...new Set(batch.map((r) => r.status))], [401]);
    }
    assert.ok(Date.now() - started < NEGATIVE_CACHE_S * 1000, 'both rounds ran within negative_cache_seconds');
    assert.equal(recorder.since(middle).length, 0, 'no call for a token already answered inactive');
  });

  test('revocation with the cache on shows after at most cache_seconds (the documented trade-off)', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    const answeredAt = recorder.since(before)[0].time;
    await as.revoke(t);
    assert.equal(JSON.parse((await as.introspect(t)).body).active, false, 'the server says revoked');
    // Right after the revocation the cached answer still lets the token through ...
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assert.equal(recorder.since(before).length, 1);
    // ... until the entry expires. The bound allows for the polling step and a loaded machine, not for more caching.
    let refusedAt;
    while (Date.now() - answeredAt < (CACHE_S + 3) * 1000) {
      const res = await stack.send({ token: t });
      if (res.status === 401) {
        assertInvalidToken(res, { description: INACTIVE, token: t });
        refusedAt = Date.now();
        break;
      }
      assertAllowed(res, { clientId: SERVICE });
      await sleep(250);
    }
    assert.ok(refusedAt, `still allowed ${CACHE_S + 3} s after the answer`);
    assert.ok(refusedAt - answeredAt <= CACHE_S * 1000 + 1500, `refused ${refusedAt - answeredAt} ms after the cached answer`);
    assert.equal(recorder.since(before).length, 2, 'one call before, one after the entry expired');
  });

  test('the server stopped: a cached token still passes, a new one gets 503 with Retry-After (HTTP/1.1 and h2c)', async () => {
    const cached = await token();
    const fresh = await token();
    used.push(cached, fresh);
    assertAllowed(await stack.send({ token: cached }), { clientId: SERVICE });
    await recorder.stop();
    try {
      assertAllowed(await stack.send({ token: cached }), { clientId: SERVICE });
      assertUnavailable(await stack.send({ token: fresh }));
      assertUnavailable(await stack.sendH2({ token: fresh }));
    } finally {
      await recorder.start();
    }
    assertAllowed(await stack.send({ token: fresh }), { clientId: SERVICE });
  });

  test('metrics by provider: calls (as many as the server saw), cache hits and misses, inactive answers, latency', async () => {
    const family = (name, labels = {}) => stack.envoy.family(name, { provider: 'opaque', ...labels });
    const read = async () => ({
      calls: await family('introspection_calls'),
      hit: await family('introspection_cache_hit'),
      miss: await family('introspection_cache_miss'),
      inactive: await family('introspection_inactive'),
    });
    const t = await token();
    used.push(t);
    const before = await read();
    const seenBefore = recorder.seen.length;
    for (let i = 0; i < 3; i += 1) assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assertInvalidToken(await stack.send({ token: unknownOpaqueToken() }), { description: INACTIVE });
    const after = await read();
    assert.equal(recorder.since(seenBefore).length, 2);
    assert.equal(after.calls - before.calls, 2, 'introspection_calls counts the calls the server saw');
    assert.equal(after.inactive - before.inactive, 1, 'introspection_inactive');
    // A token answered active is then found in the worker's verified-token cache (jwt_cache_hit), before the
    // shared introspection cache is looked at: the shared cache counts the look-ups that reach it.
    assert.ok(after.miss - before.miss >= 2, `introspection_cache_miss: ${after.miss - before.miss}`);
    assert.ok(after.hit - before.hit >= 0, `introspection_cache_hit: ${after.hit - before.hit}`);
    const prometheus = await stack.envoy.admin('/stats/prometheus');
    const count = new RegExp(`^tollgate_introspection_latency_ms_count\\{[^}]*provider="opaque"[^}]*\\} ([0-9]+)$`, 'm').exec(prometheus);
    assert.ok(count && Number(count[1]) >= 2, 'the latency histogram has the answers');
    assert.match(prometheus, /^tollgate_introspection_calls\{stat_prefix="tollgate",provider="opaque"\} [1-9][0-9]*$/m, 'a family with labels');
    for (const name of (await stack.envoy.stats('^wasmcustom\\.tollgate\\.')).keys()) {
      assert.ok(DOCUMENTED_FAMILIES.includes(parseMetric(name)?.family), `${name} is a documented family`);
    }
  });

  test('Envoy\'s log holds neither the gateway\'s client secret (any spelling) nor a token', async () => {
    assertLogClean(stack, used);
  });
});

describe('introspection without a cache (cache_seconds 0, timeout_ms 1000, inline secret)', () => {
  let recorder;
  let stack;
  const used = [];
  const test = (name, fn, options = {}) => it(name, options, (...args) => stack.wrap(fn)(...args));

  before(async () => {
    recorder = await startRecorder(as.port);
    const provider = introspectingProvider({
      name: 'opaque-nocache',
      issuer: as.issuer,
      url: as.introspectionUrl,
      cluster: 'idsvr',
      introspection: { cache_seconds: 0, timeout_ms: TIMEOUT_MS },
    });
    stack = await startStack(pluginConfig({ providers: [provider] }), { clusters: { idsvr: recorder.port }, name: 'introspection-nocache' });
  });
  after(async () => {
    await stack?.stop();
    await recorder?.close();
  });

  test('revocation shows at once: every active answer is asked for again; the inactive one is cached', async () => {
    const t = await token();
    used.push(t);
    const before = recorder.seen.length;
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
    assert.equal(recorder.since(before).length, 2, 'no positive caching');
    await as.revoke(t);
    assertInvalidToken(await stack.send({ token: t }), { description: INACTIVE, token: t });
    assert.equal(recorder.since(before).length, 3);
    assertInvalidToken(await stack.send({ token: t }), { description: INACTIVE, token: t });
    assert.equal(recorder.since(before).length, 3, 'negative_cache_seconds (default 10) still applies');
  });

  test('a slow server: 503 with Retry-After after timeout_ms, never a wait for the answer (HTTP/1.1 and h2c)', async () => {
    const t = await token();
    used.push(t);
    recorder.delayMs = 3 * TIMEOUT_MS;
    try {
      for (const send of [stack.send, stack.sendH2]) {
        const started = Date.now();
        const res = await send({ token: t });
        const elapsed = Date.now() - started;
        assertUnavailable(res);
        assert.ok(elapsed >= TIMEOUT_MS - 100, `answered after ${elapsed} ms, not before timeout_ms`);
        assert.ok(elapsed < 3 * TIMEOUT_MS - 200, `answered after ${elapsed} ms, before the slow answer came`);
      }
    } finally {
      recorder.delayMs = 0;
    }
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
  });

  test('the server stopped: 503 with Retry-After (HTTP/1.1 and h2c); back, the token passes', async () => {
    const t = await token();
    used.push(t);
    await recorder.stop();
    try {
      assertUnavailable(await stack.send({ token: t }));
      assertUnavailable(await stack.sendH2({ token: t }));
    } finally {
      await recorder.start();
    }
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
  });

  test('5xx, a non-JSON answer and answers of the wrong shape: 503, never 401, never a pass', async () => {
    const t = await token();
    used.push(t);
    const faults = [
      { status: 500, body: '{"error":"server_error"}' },
      { status: 503, body: '' },
      { status: 200, body: '<html>maintenance</html>', contentType: 'text/html' },
      { status: 200, body: '{"active":"true"}' },
      { status: 200, body: '[true]' },
      { status: 200, body: '{"active":true,"exp":"soon"}' },
    ];
    try {
      for (const fault of faults) {
        recorder.fault = fault;
        const res = await stack.send({ token: t });
        assertUnavailable(res);
      }
    } finally {
      recorder.fault = undefined;
    }
    assertAllowed(await stack.send({ token: t }), { clientId: SERVICE });
  });

  test('what the answer says is held to the provider and the request: iss, nbf, cnf (certificate, DPoP), token_type DPoP', async () => {
    // Answers the server could give, written by the recorder (oidc-provider gives none of these for its tokens).
    const now = Math.floor(Date.now() / 1000);
    const base = { active: true, iss: as.issuer, aud: as.resource, exp: now + 60, iat: now, scope: 'orders:read', client_id: 'crafted' };
    const cases = [
      { answer: { ...base, iss: 'https://another.example' }, error: 'invalid_token', description: 'the token issuer does not match' },
      { answer: { ...base, nbf: now + 600 }, error: 'invalid_token', description: 'the token is not valid yet' },
      { answer: { ...base, exp: now - 600 }, error: 'invalid_token', description: 'the token has expired' },
      {
        answer: { ...base, cnf: { 'x5t#S256': Buffer.alloc(32, 9).toString('base64url') } },
        error: 'invalid_token',
        description: 'the token is bound to a client certificate the connection did not present',
      },
      { answer: { ...base, token_type: 'dpop' }, error: 'invalid_token', description: 'the token is not bound to a DPoP key' },
      { answer: { ...base, cnf: { jkt: Buffer.alloc(32, 3).toString('base64url') } }, error: 'invalid_token', description: BOUND_AS_BEARER },
    ];
    try {
      for (const c of cases) {
        const t = unknownOpaqueToken();
        recorder.fault = { status: 200, body: JSON.stringify(c.answer) };
        const res = await stack.send({ token: t });
        assertDenied(res, { status: 401, error: c.error, description: c.description, token: t });
      }
    } finally {
      recorder.fault = undefined;
    }
    // The same answer without the problem passes: the cases above are about the member they change.
    recorder.fault = { status: 200, body: JSON.stringify(base) };
    try {
      assertAllowed(await stack.send({ token: unknownOpaqueToken() }), { clientId: 'crafted', scope: 'orders:read' });
    } finally {
      recorder.fault = undefined;
    }
  });

  const failureCounts = async (reasons) => Object.fromEntries(await Promise.all(reasons.map(async (reason) => [reason, {
    failed: await stack.envoy.family('introspection_failed', { provider: 'opaque-nocache', reason }),
    denied: await stack.envoy.family('denied', { provider: 'opaque-nocache', reason }),
  }])));
  const delta = (before, after) => Object.fromEntries(Object.keys(after).map((r) => [r, {
    failed: after[r].failed - before[r].failed, denied: after[r].denied - before[r].denied,
  }]));

  test('metrics and denials by failure kind: unavailable (stopped, 5xx), bad answer', async () => {
    const reasons = ['introspection_unavailable', 'introspection_bad_answer'];
    const t = await token();
    used.push(t);
    const before = await failureCounts(reasons);
    recorder.fault = { status: 500, body: '' };
    try {
      assertUnavailable(await stack.send({ token: t }));
    } finally {
      recorder.fault = undefined;
    }
    await recorder.stop();
    try {
      assertUnavailable(await stack.send({ token: t }));
    } finally {
      await recorder.start();
    }
    recorder.fault = { status: 200, body: 'not json' };
    try {
      assertUnavailable(await stack.send({ token: t }));
    } finally {
      recorder.fault = undefined;
    }
    assert.deepEqual(delta(before, await failureCounts(reasons)), {
      introspection_unavailable: { failed: 2, denied: 2 },
      introspection_bad_answer: { failed: 1, denied: 1 },
    });
    const prometheus = await stack.envoy.admin('/stats/prometheus');
    assert.match(prometheus, /^tollgate_introspection_failed\{stat_prefix="tollgate",provider="opaque-nocache",reason="introspection_bad_answer"\} [1-9][0-9]*$/m);
  });

  test('a slow server is counted as introspection_timeout, not as unavailable', async () => {
    const reasons = ['introspection_timeout', 'introspection_unavailable'];
    const t = await token();
    used.push(t);
    const before = await failureCounts(reasons);
    recorder.delayMs = 3 * TIMEOUT_MS;
    try {
      assertUnavailable(await stack.send({ token: t }));
    } finally {
      recorder.delayMs = 0;
    }
    assert.deepEqual(delta(before, await failureCounts(reasons)), {
      introspection_timeout: { failed: 1, denied: 1 },
      introspection_unavailable: { failed: 0, denied: 0 },
    });
  });

  test('Envoy\'s log holds neither the gateway\'s client secret (any spelling) nor a token', async () => {
    assertLogClean(stack, used);
  });
});
