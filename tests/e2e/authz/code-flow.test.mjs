// The mobile client's authorization code flow against the real oidc-provider, driven over plain
// HTTP through its own login and consent screens (devInteractions): PKCE S256, RFC 9207 `iss`,
// code replay, refresh token rotation, and the user cancelling at the server (what the mobile flow relies on).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';

import { startAuthServer, kidFor } from './server.mjs';
import {
  authorizationRequestUrl, exchangeCode, jwtHeader, pkcePair, randomState, refresh, runBrowserFlow,
} from './flow.mjs';

// The intermediate page as served on loopback in the tests (nothing needs to listen here: the
// flow stops at the redirect, as the browser would hand it to the page).
const PAGE_PORT = 45999;
const REDIRECT_URI = `http://127.0.0.1:${PAGE_PORT}/app/callback`;

let as;
before(async () => { as = await startAuthServer({ redirectUris: [REDIRECT_URI] }); });
after(async () => { await as?.close(); });

/** Browser part: authorization request, login, consent, redirect. Returns what the app needs. */
async function authorize({ scope = 'openid orders:read', login = 'alice', cancel = false, pkce = true } = {}) {
  const { verifier, challenge } = pkcePair();
  const state = randomState();
  const url = authorizationRequestUrl(as, {
    state, scope, codeChallenge: pkce ? challenge : undefined,
  });
  const {
    redirect, screens, pages,
  } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI, login, cancel });
  return {
    verifier, state, redirect, screens, pages, params: Object.fromEntries(redirect.searchParams),
  };
}

async function verifyAccessToken(token) {
  const res = await fetch(as.jwksUrl);
  return jwtVerify(token, createLocalJWKSet(await res.json()), {
    issuer: as.issuer, audience: as.resource, typ: 'at+jwt',
  });
}

describe('authorization code + PKCE S256 for the public mobile client', () => {
  test('login and consent screens lead to the redirect URI with code, state and iss', async () => {
    const { redirect, params, state, screens } = await authorize();
    assert.deepEqual(screens, ['login', 'consent']);
    assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT_URI);
    assert.deepEqual(Object.keys(params).sort(), ['code', 'iss', 'state']);
    assert.equal(params.state, state);
    assert.equal(params.iss, as.issuer); // RFC 9207
    assert.ok(params.code.length >= 20);
  });

  test('the login screens load nothing from outside loopback', async () => {
    const { pages } = await authorize();
    assert.equal(pages.length, 2);
    for (const { html } of pages) {
      assert.match(html, /<form/);
      // No stylesheet, font, script, image or link pointing off loopback (the resource
      // indicator shown as text on the consent screen is fine).
      const external = /(?:src|href|action)=["']?https?:\/\/(?!127\.0\.0\.1)|url\(\s*["']?https?:\/\/(?!127\.0\.0\.1)/;
      assert.doesNotMatch(html, external);
      assert.doesNotMatch(html, /googleapis/);
    }
  });

  test('the code exchanges once with the verifier for a 15-minute JWT, id_token and refresh token', async () => {
    const { params, verifier } = await authorize({ scope: 'openid orders:read orders:write', login: 'bob' });
    const { status, body } = await exchangeCode(as, { code: params.code, verifier });
    assert.equal(status, 200, JSON.stringify(body.error_description));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 15 * 60);
    assert.equal(body.scope, 'orders:read orders:write');
    assert.equal(typeof body.refresh_token, 'string');
    assert.equal(typeof body.id_token, 'string');

    const { payload, protectedHeader } = await verifyAccessToken(body.access_token);
    assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'at+jwt', kid: kidFor('ES256', 1) });
    assert.equal(payload.sub, 'bob');
    assert.equal(payload.client_id, as.clients.mobile.clientId);
    assert.equal(payload.aud, as.resource);
    assert.equal(payload.scope, 'orders:read orders:write');
    assert.equal(payload.exp - payload.iat, 900);
    assert.ok(payload.jti);

    // A replayed code fails (and, per RFC 6749 §4.1.2, revokes what the code gave out).
    const replay = await exchangeCode(as, { code: params.code, verifier });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const afterReplay = await refresh(as, body.refresh_token);
    assert.equal(afterReplay.status, 400);
    assert.equal(afterReplay.body.error, 'invalid_grant');
  });

  test('the exchange fails without the verifier or with a wrong one', async () => {
    const missing = await authorize();
    const noVerifier = await exchangeCode(as, { code: missing.params.code });
    assert.equal(noVerifier.status, 400);
    assert.equal(noVerifier.body.error, 'invalid_grant');

    const wrong = await authorize();
    const wrongVerifier = await exchangeCode(as, { code: wrong.params.code, verifier: pkcePair().verifier });
    assert.equal(wrongVerifier.status, 400);
    assert.equal(wrongVerifier.body.error, 'invalid_grant');
  });

  test('an authorization request without a code_challenge is refused at the redirect URI', async () => {
    const { params, state, screens } = await authorize({ pkce: false });
    assert.deepEqual(screens, []);
    assert.equal(params.error, 'invalid_request');
    assert.match(params.error_description, /PKCE/);
    assert.equal(params.state, state);
    assert.equal(params.iss, as.issuer);
    assert.equal(params.code, undefined);
  });

  test('PKCE method plain is refused', async () => {
    const state = randomState();
    const url = authorizationRequestUrl(as, {
      state, codeChallenge: pkcePair().verifier, codeChallengeMethod: 'plain',
    });
    const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
    assert.equal(redirect.searchParams.get('error'), 'invalid_request');
    assert.equal(redirect.searchParams.get('iss'), as.issuer);
  });

  test('refresh rotates: the new refresh token works, the old one is rejected', async () => {
    const { params, verifier } = await authorize({ login: 'carol' });
    const first = await exchangeCode(as, { code: params.code, verifier });
    assert.equal(first.status, 200);

    const second = await refresh(as, first.body.refresh_token);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.notEqual(second.body.access_token, first.body.access_token);
    const { payload } = await verifyAccessToken(second.body.access_token);
    assert.equal(payload.sub, 'carol');
    assert.equal(payload.aud, as.resource);
    assert.equal(payload.scope, 'orders:read');

    const third = await refresh(as, second.body.refresh_token);
    assert.equal(third.status, 200);

    const old = await refresh(as, first.body.refresh_token);
    assert.equal(old.status, 400);
    assert.equal(old.body.error, 'invalid_grant');
    // Reuse of a rotated refresh token revokes the whole grant (RFC 9700 §4.14.2).
    const latest = await refresh(as, third.body.refresh_token);
    assert.equal(latest.status, 400);
    assert.equal(latest.body.error, 'invalid_grant');
  });

  test('the access token lifetime can be shortened for the expiry test', async () => {
    try {
      as.setAccessTokenTTL(3);
      const { params, verifier } = await authorize();
      const { body } = await exchangeCode(as, { code: params.code, verifier });
      assert.equal(body.expires_in, 3);
      const { payload } = await verifyAccessToken(body.access_token);
      assert.equal(payload.exp - payload.iat, 3);
      const refreshed = await refresh(as, body.refresh_token);
      assert.equal(refreshed.body.expires_in, 3);
    } finally {
      as.setAccessTokenTTL(15 * 60);
    }
  });

  test('tokens signed after a rotation carry the new kid; refresh tokens survive the restart', async () => {
    const { params, verifier } = await authorize();
    const before = await exchangeCode(as, { code: params.code, verifier });
    assert.equal(jwtHeader(before.body.access_token).kid, kidFor('ES256', 1));
    await as.rotateKeys();
    try {
      const after = await refresh(as, before.body.refresh_token);
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assert.equal(jwtHeader(after.body.access_token).kid, kidFor('ES256', 2));
      await verifyAccessToken(after.body.access_token);
      await verifyAccessToken(before.body.access_token);
    } finally {
      await as.dropOldKeys();
    }
  });
});

describe('cancel and redirect URI rules', () => {
  test('the user cancels at the login screen: access_denied with state and iss', async () => {
    const { params, state, screens } = await authorize({ cancel: true });
    assert.deepEqual(screens, ['login']);
    assert.equal(params.error, 'access_denied');
    assert.equal(params.error_description, 'End-User aborted interaction');
    assert.equal(params.state, state);
    assert.equal(params.iss, as.issuer);
    assert.equal(params.code, undefined);
    assert.ok(as.requests.abort >= 1);
  });

  test('an unregistered redirect URI is never redirected to', async () => {
    const url = authorizationRequestUrl(as, {
      redirectUri: `http://127.0.0.1:${PAGE_PORT}/elsewhere`, state: randomState(), codeChallenge: pkcePair().challenge,
    });
    await assert.rejects(
      runBrowserFlow(url, { redirectUri: 'http://127.0.0.1' }),
      /HTTP 400.*redirect_uri did not match/s,
    );
  });

  test('native client on loopback: the port is not part of the match (RFC 8252 §7.3)', async () => {
    const otherPort = `http://127.0.0.1:${PAGE_PORT + 1}/app/callback`;
    const { challenge } = pkcePair();
    const url = authorizationRequestUrl(as, { redirectUri: otherPort, state: 'x', codeChallenge: challenge });
    const { redirect } = await runBrowserFlow(url, { redirectUri: otherPort });
    assert.ok(redirect.searchParams.get('code'));
  });

  test('no server errors were reported', () => {
    assert.deepEqual(as.serverErrors, []);
  });
});
