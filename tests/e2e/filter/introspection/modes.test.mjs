// The two introspection modes whose answer is a JWT, end to end through the real Envoy:
// - `response: "jwt"` (RFC 9701) against the real oidc-provider's `features.jwtIntrospection`: the server answers
//   `Accept: application/token-introspection+jwt` with a JWT (`typ: token-introspection+jwt`, `aud` = the gateway's
//   client id) whose `token_introspection` member is the RFC 7662 answer; the filter verifies it with the provider's
//   keys (the server's published JWKS given inline; a second Envoy takes them from discovery).
// - `response: "phantom"` against a STAND-IN for Curity's Identity Server (standin.mjs says why: oidc-provider has no
//   such mode and Curity's server cannot run here): asked with `Accept: application/jwt`, it answers with a JWT
//   access token signed by its own key (made by `jose`), or 204 for an inactive token.
// Both with `forward: "jwt"`: the API gets `Authorization: Bearer <the JWT>` instead of the opaque token. One Envoy,
// two providers chosen by the rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { clientCredentials } from '../../authz/flow.mjs';
import { assertDenied, assertInvalidToken, assertNoSecret } from '../harness.mjs';
import { GATEWAY_CLIENT, RESOURCE, secretSpellings, startOpaqueTokenServer } from './authz.mjs';
import { startRecorder } from './recorder.mjs';
import { STANDIN_PATH, startPhantomStandIn } from './standin.mjs';
import {
  REALM, assertAllowed, assertGatewayAuthentication, assertUnavailable, formOf, introspectingProvider, pluginConfig, sleep, startStack,
  unknownOpaqueToken,
} from './stack.mjs';

const SERVICE = 'tollgate-service';
/** The contract's text for an inactive answer (reason token_inactive). */
const INACTIVE = 'the token is not active';

describe('introspection answers that are JWTs: RFC 9701 (oidc-provider) and phantom (a Curity-like stand-in)', () => {
  let as;
  let standin;
  let asRecorder;
  let standinRecorder;
  let stack;
  const used = [];
  const test = (name, fn) => it(name, (...args) => stack.wrap(fn)(...args));

  before(async () => {
    as = await startOpaqueTokenServer();
    standin = await startPhantomStandIn({ audience: RESOURCE });
    asRecorder = await startRecorder(as.port, { name: 'oidc-provider' });
    const published = await (await fetch(as.jwksUrl)).json();
    standinRecorder = await startRecorder(standin.port, { name: 'stand-in' });
    const rfc9701 = introspectingProvider({
      name: 'oidc-jwt',
      issuer: as.issuer,
      url: as.introspectionUrl,
      cluster: 'idsvr',
      introspection: { response: 'jwt', forward: 'jwt', cache_seconds: 300 },
      provider: { jwks: { inline: published } },
    });
    const phantom = introspectingProvider({
      name: 'phantom',
      issuer: standin.issuer,
      url: standin.url,
      cluster: 'standin',
      introspection: { response: 'phantom', forward: 'jwt', cache_seconds: 300 },
      provider: { jwks: { inline: standin.jwks } },
    });
    const rules = [
      { match: { prefix: '/rfc9701' }, providers: ['oidc-jwt'], scopes: ['orders:read'] },
      { match: { prefix: '/phantom', methods: ['POST'] }, providers: ['phantom'], scopes: ['orders:write'] },
      { match: { prefix: '/phantom' }, providers: ['phantom'], scopes: ['orders:read'] },
      // Both introspect: the first in configuration order (oidc-jwt), whatever the rule's order, is the one asked.
      { match: { prefix: '/either' }, providers: ['phantom', 'oidc-jwt'] },
    ];
    stack = await startStack(pluginConfig({ providers: [rfc9701, phantom], rules }), {
      // Two workers: requests on new connections land on either, so cached answers come from the shared cache.
      clusters: { idsvr: asRecorder.port, standin: standinRecorder.port }, name: 'introspection-modes', concurrency: 2,
    });
  });
  after(async () => {
    await stack?.stop();
    await asRecorder?.close();
    await standinRecorder?.close();
    await standin?.close();
    await as?.close();
  });

  async function oidcToken(scope = 'orders:read') {
    const res = await clientCredentials(as, { scope });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    used.push(res.body.access_token);
    return res.body.access_token;
  }

  function standinToken(claims = {}) {
    const t = standin.issue({ sub: 'user-7', client_id: 'mobile-app', scope: 'orders:read', ...claims });
    used.push(t);
    return t;
  }

  test('RFC 9701: the signed answer is verified, its members become claim headers, and the API gets the JWT', async () => {
    const t = await oidcToken();
    const before = asRecorder.calls();
    const res = await stack.send({ path: '/rfc9701/orders', token: t });
    const seen = assertAllowed(res, { clientId: SERVICE, scope: 'orders:read' });
    const calls = asRecorder.seen.filter((r) => r.url === '/token/introspection').slice(before);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.headers.accept, 'application/token-introspection+jwt');
    assertGatewayAuthentication(call);
    assert.deepEqual(formOf(call), { token: t, token_type_hint: 'access_token' });
    assert.match(call.answer.headers['content-type'], /^application\/token-introspection\+jwt\b/);
    const answer = call.answer.body;
    assert.equal(decodeProtectedHeader(answer).typ, 'token-introspection+jwt');
    // forward: "jwt" — the API gets the server's signed answer, which it can verify itself.
    assert.equal(seen.authorization, `Bearer ${answer}`);
    const jwks = createLocalJWKSet(await (await fetch(as.jwksUrl)).json());
    const { payload } = await jwtVerify(answer, jwks, { issuer: as.issuer, audience: GATEWAY_CLIENT.clientId, typ: 'token-introspection+jwt' });
    assert.equal(payload.token_introspection.active, true);
    assert.equal(payload.token_introspection.client_id, SERVICE);
    // The cache: the next request costs no call and forwards the same JWT.
    const again = await stack.send({ path: '/rfc9701/orders', token: t });
    assert.equal(assertAllowed(again, { clientId: SERVICE }).authorization, `Bearer ${answer}`);
    assert.equal(asRecorder.calls(), before + 1);
  });

  test('RFC 9701: an inactive token is refused with 401 invalid_token; the JWT path never introspects', async () => {
    const unknown = unknownOpaqueToken();
    const before = asRecorder.calls();
    assertInvalidToken(await stack.send({ path: '/rfc9701/orders', token: unknown }), { description: INACTIVE, token: unknown });
    assert.equal(asRecorder.calls(), before + 1);
    const revoked = await oidcToken();
    await as.revoke(revoked);
    assertInvalidToken(await stack.send({ path: '/rfc9701/orders', token: revoked }), { description: INACTIVE, token: revoked });
    assert.equal(asRecorder.calls(), before + 2);
    // A JWT of this issuer goes to JWT validation with the provider's keys, not to the introspection endpoint.
    const jwt = await as.introspect(await oidcToken(), { accept: 'application/token-introspection+jwt' });
    const res = await stack.send({ path: '/rfc9701/orders', token: jwt.body });
    assertDenied(res, { status: 401, error: 'invalid_token', token: jwt.body });
    assert.equal(asRecorder.calls(), before + 2, 'a JWT is not introspected');
  });

  test('phantom (stand-in): the JWT answer is verified like a token of the provider, its claims become headers, the API gets it', async () => {
    const t = standinToken();
    const before = standinRecorder.seen.length;
    const res = await stack.send({ path: '/phantom/orders', token: t });
    const seen = assertAllowed(res, { clientId: 'mobile-app', scope: 'orders:read' });
    assert.equal(seen['x-user-id'], 'user-7');
    const calls = standinRecorder.since(before, STANDIN_PATH);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.headers.accept, 'application/jwt');
    assertGatewayAuthentication(call);
    assert.deepEqual(formOf(call), { token: t, token_type_hint: 'access_token' });
    assert.equal(call.status, 200);
    assert.equal(seen.authorization, `Bearer ${standin.answers.at(-1)}`, 'forward: "jwt" puts the phantom JWT in Authorization');
    assert.equal(seen.authorization, `Bearer ${call.answer.body}`);
    // Over h2c, from the cache.
    const h2 = await stack.sendH2({ path: '/phantom/orders', token: t });
    assert.equal(assertAllowed(h2, { clientId: 'mobile-app' }).authorization, `Bearer ${call.answer.body}`);
    // 20 more, each on its own connection, so both workers serve some: one shared cache, no more calls.
    const more = await Promise.all(Array.from({ length: 20 }, () => stack.send({ path: '/phantom/orders', token: t })));
    for (const r of more) assert.equal(assertAllowed(r, { clientId: 'mobile-app' }).authorization, `Bearer ${call.answer.body}`);
    assert.equal(standinRecorder.since(before, STANDIN_PATH).length, 1, 'both workers used the one answer');
  });

  test('phantom (stand-in): 204 for an inactive token is 401 invalid_token; the JWT\'s scope decides the 403', async () => {
    const unknown = unknownOpaqueToken();
    const before = standinRecorder.seen.length;
    const res = await stack.send({ path: '/phantom/orders', token: unknown });
    assertInvalidToken(res, { description: INACTIVE, token: unknown });
    const [call] = standinRecorder.since(before, STANDIN_PATH);
    assert.equal(call.status, 204);
    const revoked = standinToken();
    standin.revoke(revoked);
    assertInvalidToken(await stack.send({ path: '/phantom/orders', token: revoked }), { description: INACTIVE, token: revoked });
    const readOnly = standinToken();
    const denied = await stack.send({ method: 'POST', path: '/phantom/orders', token: readOnly });
    const description = 'the token lacks a scope this resource requires';
    assertDenied(denied, { status: 403, error: 'insufficient_scope', description, token: readOnly });
    assert.equal(
      denied.headers['www-authenticate'],
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="${description}", scope="orders:write"`,
    );
    const writer = standinToken({ scope: 'orders:read orders:write' });
    assertAllowed(await stack.send({ method: 'POST', path: '/phantom/orders', token: writer }), { clientId: 'mobile-app', scope: 'orders:read orders:write' });
  });

  test('phantom (stand-in): an answer that is not a JWT of this provider never lets the request through', async () => {
    const t = standinToken();
    try {
      standinRecorder.fault = { status: 200, body: '{"active":true,"scope":"orders:read"}', contentType: 'application/json' };
      assertUnavailable(await stack.send({ path: '/phantom/orders', token: t }));
      standinRecorder.fault = { status: 500, body: '' };
      assertUnavailable(await stack.send({ path: '/phantom/orders', token: t }));
    } finally {
      standinRecorder.fault = undefined;
    }
    assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app' });
  });

  test('phantom (stand-in): an answer\'s Cache-Control max-age shortens its entry below cache_seconds', async () => {
    const t = standinToken();
    standin.cacheControl = 'max-age=2';
    let first;
    try {
      const before = standinRecorder.seen.length;
      assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app' });
      first = standinRecorder.since(before, STANDIN_PATH)[0];
      assert.equal(first.answer.headers['cache-control'], 'max-age=2');
      assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app' });
      // Within max-age the entry may be used; whole seconds, so allow for the second it was stored in.
      if (Date.now() - first.time < 900) assert.equal(standinRecorder.since(before, STANDIN_PATH).length, 1, 'reused within max-age');
      await sleep(Math.max(0, first.time + 3100 - Date.now()));
      assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app' });
      assert.equal(standinRecorder.since(before, STANDIN_PATH).length, 2, 'asked again after max-age, long before cache_seconds');
    } finally {
      standin.cacheControl = undefined;
    }
  });

  test('the stand-in stopped: 503 with Retry-After for a token not in the cache', async () => {
    const t = standinToken();
    await standinRecorder.stop();
    try {
      assertUnavailable(await stack.send({ path: '/phantom/orders', token: t }));
    } finally {
      await standinRecorder.start();
    }
    assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app' });
  });

  test('a route that allows two introspecting providers asks exactly one: the first in configuration order', async () => {
    const fromStandIn = standinToken();
    const fromServer = await oidcToken();
    const standinBefore = standinRecorder.seen.length;
    const asBefore = asRecorder.calls();
    // The stand-in's token goes to oidc-provider, which never issued it: inactive, and the stand-in is not asked.
    assertInvalidToken(await stack.send({ path: '/either/orders', token: fromStandIn }), { description: INACTIVE, token: fromStandIn });
    assertAllowed(await stack.send({ path: '/either/orders', token: fromServer }), { clientId: SERVICE });
    assert.equal(asRecorder.calls() - asBefore, 2);
    assert.equal(standinRecorder.since(standinBefore, STANDIN_PATH).length, 0, 'the second provider is never asked');
  });

  test('Envoy\'s log holds neither the gateway\'s client secret (any spelling) nor a token nor a forwarded JWT', async () => {
    const log = stack.envoy.log();
    for (const spelling of secretSpellings()) assert.ok(!log.includes(spelling), 'the gateway client secret is not in the log');
    for (const t of [...used, ...standin.answers]) assertNoSecret(log, t, 'Envoy log');
  });
});

describe('answers verified with keys the provider fetches (discovery, remote JWKS)', () => {
  let as;
  let standin;
  let recorder;
  let standinRecorder;
  let stack;

  before(async () => {
    as = await startOpaqueTokenServer();
    standin = await startPhantomStandIn({ audience: RESOURCE });
    recorder = await startRecorder(as.port, { name: 'oidc-provider' });
    standinRecorder = await startRecorder(standin.port, { name: 'stand-in' });
    const rfc9701 = introspectingProvider({
      name: 'oidc-jwt',
      issuer: as.issuer,
      url: as.introspectionUrl,
      cluster: 'idsvr',
      introspection: { response: 'jwt', forward: 'jwt' },
      provider: { jwks: { discovery: { cluster: 'idsvr' } } },
    });
    const phantom = introspectingProvider({
      name: 'phantom',
      issuer: standin.issuer,
      url: standin.url,
      cluster: 'standin',
      introspection: { response: 'phantom' },
      provider: { jwks: { remote: { cluster: 'standin', url: standin.jwksUrl } } },
    });
    const rules = [
      { match: { prefix: '/phantom' }, providers: ['phantom'] },
      { match: { prefix: '/' }, providers: ['oidc-jwt'] },
    ];
    stack = await startStack(pluginConfig({ providers: [rfc9701, phantom], rules }), {
      clusters: { idsvr: recorder.port, standin: standinRecorder.port }, name: 'introspection-fetched-keys',
    });
  });
  after(async () => {
    await stack?.stop();
    await recorder?.close();
    await standinRecorder?.close();
    await standin?.close();
    await as?.close();
  });

  it('phantom: the first opaque token fetches the stand-in\'s keys and passes', async (...args) => stack.wrap(async () => {
    const t = standin.issue({ sub: 'user-7', client_id: 'mobile-app', scope: 'orders:read' });
    assertAllowed(await stack.send({ path: '/phantom/orders', token: t }), { clientId: 'mobile-app', scope: 'orders:read' });
    assert.equal(standinRecorder.calls('/oauth/v2/oauth-anonymous/jwks'), 1, 'keys fetched once');
    assert.equal(standinRecorder.calls(STANDIN_PATH), 1, 'one introspection call');
  })(...args));

  it('RFC 9701: the first opaque token fetches the keys through discovery and passes', async (...args) => stack.wrap(async () => {
    const res = await clientCredentials(as, { scope: 'orders:read' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const t = res.body.access_token;
    const answer = await stack.send({ token: t });
    assertAllowed(answer, { clientId: SERVICE, scope: 'orders:read' });
    assert.equal(recorder.calls('/.well-known/openid-configuration'), 1, 'discovery fetched once');
    assert.equal(recorder.calls('/jwks'), 1, 'keys fetched once');
    assert.equal(recorder.calls(), 1, 'one introspection call');
  })(...args));
});
