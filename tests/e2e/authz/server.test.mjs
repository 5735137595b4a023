// Tests of the authorization server harness itself: a real oidc-provider on loopback issuing
// RFC 9068 access tokens, key rotation, outage, and request counters (what the remote-key tests rely on).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify,
} from 'jose';

import { startAuthServer, SIGNING_ALGS, kidFor } from './server.mjs';
import { clientCredentials, jwtHeader } from './flow.mjs';

async function getJson(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

async function serviceToken(as, opts) {
  const { status, body } = await clientCredentials(as, opts);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

async function verifyAgainstPublished(as, token, extra = {}) {
  const jwks = createLocalJWKSet(await getJson(as.jwksUrl));
  return jwtVerify(token, jwks, {
    issuer: as.issuer, audience: as.resource, typ: 'at+jwt', algorithms: SIGNING_ALGS, ...extra,
  });
}

describe('authorization server harness', () => {
  let as;
  before(async () => { as = await startAuthServer(); });
  after(async () => { await as?.close(); });

  test('listens on loopback with issuer = its own URL and publishes discovery', async () => {
    assert.match(as.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(as.issuer, `http://127.0.0.1:${as.port}`);
    const doc = await getJson(as.discoveryUrl);
    assert.equal(doc.issuer, as.issuer);
    assert.equal(doc.jwks_uri, `${as.issuer}/jwks`);
    assert.equal(doc.token_endpoint, `${as.issuer}/token`);
    assert.equal(doc.authorization_endpoint, `${as.issuer}/auth`);
    assert.equal(doc.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.ok(doc.grant_types_supported.includes('client_credentials'));
    assert.ok(doc.grant_types_supported.includes('refresh_token'));
  });

  test('publishes our own keys (ES256, EdDSA, RS256, stable kids), never private parts', async () => {
    const { keys } = await getJson(as.jwksUrl);
    assert.deepEqual(keys.map((k) => k.kid), SIGNING_ALGS.map((alg) => kidFor(alg, 1)));
    assert.deepEqual(keys.map((k) => [k.kty, k.crv ?? null, k.alg, k.use]), [
      ['EC', 'P-256', 'ES256', 'sig'], ['OKP', 'Ed25519', 'EdDSA', 'sig'], ['RSA', null, 'RS256', 'sig'],
    ]);
    for (const k of keys) {
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `${k.kid}.${priv}`);
    }
    assert.deepEqual(keys, as.publicJwks().keys);
  });

  test('client_credentials + resource gives an RFC 9068 JWT that verifies against the JWKS', async () => {
    const body = await serviceToken(as, { scope: 'orders:read orders:write' });
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 900);
    assert.equal(body.scope, 'orders:read orders:write');
    const { payload, protectedHeader } = await verifyAgainstPublished(as, body.access_token);
    assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'at+jwt', kid: kidFor('ES256', 1) });
    assert.equal(payload.iss, as.issuer);
    assert.equal(payload.aud, as.resource);
    assert.equal(payload.client_id, as.clients.service.clientId);
    assert.equal(payload.sub, as.clients.service.clientId);
    assert.equal(payload.scope, 'orders:read orders:write');
    assert.equal(payload.exp - payload.iat, 900);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 30);
    assert.match(payload.jti, /^[\w-]{20,}$/);

    // The same through discovery, like the filter does: jwks_uri from the discovery document.
    const remote = createRemoteJWKSet(new URL((await getJson(as.discoveryUrl)).jwks_uri));
    await jwtVerify(body.access_token, remote, { issuer: as.issuer, audience: as.resource, typ: 'at+jwt' });
  });

  test('scopes are narrowed to the resource server and unknown resources are refused', async () => {
    const narrow = await serviceToken(as, { scope: 'orders:read' });
    assert.equal((await verifyAgainstPublished(as, narrow.access_token)).payload.scope, 'orders:read');

    // oidc-provider narrows the grant to what the resource server accepts (RFC 6749 §3.3:
    // the response's `scope` says so) instead of failing: 'admin' is silently dropped.
    const unknownScope = await serviceToken(as, { scope: 'orders:read admin' });
    assert.equal(unknownScope.scope, 'orders:read');
    assert.equal((await verifyAgainstPublished(as, unknownScope.access_token)).payload.scope, 'orders:read');
    // ... and a request with only unknown scopes gets a token with no scope at all.
    const noScope = await serviceToken(as, { scope: 'admin' });
    assert.equal(noScope.scope, undefined);
    assert.equal((await verifyAgainstPublished(as, noScope.access_token)).payload.scope, undefined);

    const otherResource = await clientCredentials(as, { resource: 'https://elsewhere.test' });
    assert.equal(otherResource.status, 400);
    assert.equal(otherResource.body.error, 'invalid_target');
  });

  test('a wrong client secret is rejected', async () => {
    const res = await fetch(as.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${as.clients.service.clientId}:wrong`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: as.resource }),
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'invalid_client');
  });

  test('the access token alg is selectable: EdDSA and RS256 tokens verify with their kid', async () => {
    try {
      for (const alg of ['EdDSA', 'RS256', 'ES256']) {
        as.setAccessTokenAlg(alg);
        const { access_token: token } = await serviceToken(as);
        assert.deepEqual(jwtHeader(token), { alg, typ: 'at+jwt', kid: kidFor(alg, 1) });
        const { protectedHeader } = await verifyAgainstPublished(as, token, { algorithms: [alg] });
        assert.equal(protectedHeader.alg, alg);
      }
    } finally {
      as.setAccessTokenAlg('ES256');
    }
    assert.throws(() => as.setAccessTokenAlg('HS256'), /unsupported alg/);
  });

  test('a short access token lifetime is honoured and the token then expires', async () => {
    try {
      as.setAccessTokenTTL(2);
      const body = await serviceToken(as);
      assert.equal(body.expires_in, 2);
      const { payload } = await verifyAgainstPublished(as, body.access_token);
      assert.equal(payload.exp - payload.iat, 2);
      await assert.rejects(
        verifyAgainstPublished(as, body.access_token, { currentDate: new Date((payload.exp + 1) * 1000) }),
        joseErrors.JWTExpired,
      );
    } finally {
      as.setAccessTokenTTL(900);
    }
  });

  test('counts GETs of jwks and discovery (and token calls), across a restart', async () => {
    as.resetRequests();
    assert.equal(as.requests.jwks, 0);
    await getJson(as.jwksUrl);
    await getJson(as.jwksUrl);
    await getJson(as.discoveryUrl);
    assert.equal(as.requests.jwks, 2);
    assert.equal(as.requests.discovery, 1);
    // A non-GET does not count as a key fetch.
    await (await fetch(as.jwksUrl, { method: 'POST' })).arrayBuffer();
    assert.equal(as.requests.jwks, 2);
    await serviceToken(as);
    assert.equal(as.requests.token, 1);
    await as.restart();
    await getJson(as.jwksUrl);
    assert.equal(as.requests.jwks, 3);
    const logged = as.requestLog.filter((e) => e.route === 'jwks' && e.method === 'GET');
    assert.equal(logged.length, 3);
    assert.ok(logged.every((e) => e.status === 200 && e.path === '/jwks'));
    assert.ok(as.requestLog.every((e) => !e.path.includes('?')));
  });

  test('no server errors were reported', () => {
    assert.deepEqual(as.serverErrors, []);
  });
});

describe('key rotation', () => {
  let as;
  before(async () => { as = await startAuthServer(); });
  after(async () => { await as?.close(); });

  test('new kid signs new tokens, old key stays published until dropped', async () => {
    const port = as.port;
    const oldToken = (await serviceToken(as)).access_token;
    assert.equal(jwtHeader(oldToken).kid, 'tg-test-es256-g1');

    const { kid } = await as.rotateKeys();
    assert.equal(kid, 'tg-test-es256-g2');
    assert.equal(as.port, port);
    const published = (await getJson(as.jwksUrl)).keys.map((k) => k.kid);
    assert.deepEqual(published, [
      'tg-test-es256-g2', 'tg-test-eddsa-g2', 'tg-test-rs256-g2',
      'tg-test-es256-g1', 'tg-test-eddsa-g1', 'tg-test-rs256-g1',
    ]);

    const newToken = (await serviceToken(as)).access_token;
    assert.equal(jwtHeader(newToken).kid, 'tg-test-es256-g2');
    await verifyAgainstPublished(as, newToken);
    await verifyAgainstPublished(as, oldToken); // old key still published

    await as.dropOldKeys();
    assert.deepEqual((await getJson(as.jwksUrl)).keys.map((k) => k.kid),
      ['tg-test-es256-g2', 'tg-test-eddsa-g2', 'tg-test-rs256-g2']);
    await verifyAgainstPublished(as, newToken);
    await assert.rejects(verifyAgainstPublished(as, oldToken), joseErrors.JWKSNoMatchingKey);
  });

  test('the g1 and g2 keys really differ (a g2 token does not verify with g1 keys)', async () => {
    const token = (await serviceToken(as)).access_token;
    const g1 = createLocalJWKSet({
      keys: [{ ...(await startKeysOf(1))[0], kid: as.currentKid() }],
    });
    await assert.rejects(jwtVerify(token, g1), joseErrors.JWSSignatureVerificationFailed);
  });

  test('rotation stops with a clear error after the last fixture generation', async () => {
    await as.rotateKeys(); // g3
    await as.rotateKeys(); // g4
    await assert.rejects(as.rotateKeys(), /only 4 key generations exist/);
    assert.equal(as.currentKid(), 'tg-test-es256-g4');
  });
});

async function startKeysOf(gen) {
  // Public keys of a generation as published by a fresh server (no private parts).
  const other = await startAuthServer();
  try {
    while (other.keyGeneration < gen) await other.rotateKeys();
    return other.publicJwks().keys.filter((k) => k.kid.endsWith(`-g${gen}`));
  } finally {
    await other.close();
  }
}

describe('outage', () => {
  let as;
  before(async () => { as = await startAuthServer(); });
  after(async () => { await as?.close(); });

  test('stop() refuses connections; restart() serves the same issuer on the same port', async () => {
    const { issuer, port } = as;
    const before = await getJson(as.jwksUrl);
    const token = (await serviceToken(as)).access_token;

    await as.stop();
    assert.equal(as.running, false);
    await assert.rejects(fetch(as.jwksUrl), (err) => err.cause?.code === 'ECONNREFUSED');

    await as.restart();
    assert.equal(as.running, true);
    assert.equal(as.port, port);
    assert.equal(as.issuer, issuer);
    assert.equal((await getJson(as.discoveryUrl)).issuer, issuer);
    assert.deepEqual(await getJson(as.jwksUrl), before);
    await verifyAgainstPublished(as, token);
    await verifyAgainstPublished(as, (await serviceToken(as)).access_token);
  });

  test('stop() twice and restart() while running are harmless', async () => {
    await as.stop();
    await as.stop();
    await as.restart();
    await as.restart();
    assert.equal((await getJson(as.discoveryUrl)).issuer, as.issuer);
  });
});

describe('options', () => {
  test('a fixed port, EdDSA access tokens and another resource', async () => {
    const probe = await startAuthServer();
    const { port } = probe;
    await probe.close();
    const as = await startAuthServer({ port, accessTokenAlg: 'EdDSA', resource: 'https://api.other.test/' });
    try {
      assert.equal(as.issuer, `http://127.0.0.1:${port}`);
      const { access_token: token } = await serviceToken(as);
      const { payload, protectedHeader } = await verifyAgainstPublished(as, token);
      assert.equal(protectedHeader.kid, 'tg-test-eddsa-g1');
      assert.equal(payload.aud, 'https://api.other.test/');
    } finally {
      await as.close();
    }
  });

  test('bad options are refused before anything listens', async () => {
    await assert.rejects(startAuthServer({ host: '0.0.0.0' }), /loopback only/);
    await assert.rejects(startAuthServer({ accessTokenAlg: 'none' }), /accessTokenAlg/);
    await assert.rejects(startAuthServer({ accessTokenTTL: 0 }), /accessTokenTTL/);
    await assert.rejects(startAuthServer({ redirectUris: [] }), /redirectUris/);
  });

  test('oidc-provider notices are captured, not printed', async () => {
    const as = await startAuthServer();
    await as.close();
    assert.ok(as.warnings.some((w) => w.includes('devInteractions')));
  });

  test('the checked-in TEST ONLY keys are exactly what the generator produces', () => {
    const generator = fileURLToPath(new URL('./keys/generate.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    assert.match(out, /match the generator/);
  });
});

describe('fault injection and test tokens (for the resource server tests)', () => {
  let as;
  before(async () => { as = await startAuthServer(); });
  after(async () => { await as?.close(); });

  test('jwks and discovery can answer with an error, garbage or late, then recover', async () => {
    const good = await getJson(as.jwksUrl);
    const since = Date.now();
    try {
      as.injectFault('jwks', { status: 503 });
      assert.equal((await fetch(as.jwksUrl)).status, 503);
      as.injectFault('jwks', { body: 'this is not a JWKS' });
      const garbage = await fetch(as.jwksUrl);
      assert.equal(garbage.status, 200);
      assert.equal(await garbage.text(), 'this is not a JWKS');
      as.injectFault('discovery', { body: { issuer: 'https://evil.test', jwks_uri: 'https://evil.test/jwks' } });
      assert.equal((await getJson(as.discoveryUrl)).issuer, 'https://evil.test');
      as.injectFault('jwks', { delayMs: 300 });
      const t0 = Date.now();
      assert.deepEqual(await getJson(as.jwksUrl), good);
      assert.ok(Date.now() - t0 >= 290);
    } finally {
      as.clearFaults();
    }
    assert.deepEqual(await getJson(as.jwksUrl), good);
    assert.equal((await getJson(as.discoveryUrl)).issuer, as.issuer);
    assert.equal(as.requestsSince('jwks', since), 4);
    assert.equal(as.requestsSince('discovery', since), 2);
    assert.throws(() => as.injectFault('token', { status: 500 }), /only for jwks and discovery/);
  });

  test('signToken signs with a published key; the claims are exactly the given ones', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await as.signToken({
      iss: as.issuer, aud: 'https://wrong.test', exp: now + 60, iat: now, scope: 'orders:read',
    }, { alg: 'RS256' });
    assert.deepEqual(jwtHeader(token), { alg: 'RS256', kid: kidFor('RS256', 1), typ: 'at+jwt' });
    const jwks = createLocalJWKSet(await getJson(as.jwksUrl));
    const { payload } = await jwtVerify(token, jwks, { issuer: as.issuer, typ: 'at+jwt' });
    assert.equal(payload.aud, 'https://wrong.test');
    await assert.rejects(verifyAgainstPublished(as, token), joseErrors.JWTClaimValidationFailed);

    const forged = await as.signToken({ iss: as.issuer }, { header: { kid: 'random-kid' } });
    assert.equal(jwtHeader(forged).kid, 'random-kid');
    await assert.rejects(jwtVerify(forged, jwks), joseErrors.JWKSNoMatchingKey);
  });
});
