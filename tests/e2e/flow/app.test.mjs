// The app's checks (flow/app.mjs) on their own, each refusal asserted by its exact kind, against the real
// oidc-provider (discovery, token endpoint); the browser scenario is mobile-flow.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { startAuthServer } from '../authz/server.mjs';
import { runBrowserFlow } from '../authz/flow.mjs';
import { AppError, AppErrorKind, MobileApp, jwtClaims, pkceS256, responseParams } from './app.mjs';

const REDIRECT_URI = 'http://127.0.0.1:45997/app/callback';
let as;
let app;

before(async () => {
  as = await startAuthServer({ redirectUris: [REDIRECT_URI] });
  app = await MobileApp.discover(as.issuer, { clientId: as.clients.mobile.clientId, redirectUri: REDIRECT_URI });
});
after(async () => {
  await as?.close();
});

const isKind = (kind) => (e) => e instanceof AppError && e.kind === kind;

describe('MobileApp', () => {
  test('discovery reads the endpoints and RFC 9207 support, and refuses a document naming another issuer', async () => {
    assert.equal(app.config.authorizationEndpoint, as.authorizationUrl);
    assert.equal(app.config.tokenEndpoint, as.tokenUrl);
    assert.equal(app.config.issParameterSupported, true);
    const otherName = as.issuer.replace('127.0.0.1', 'localhost');
    await assert.rejects(
      MobileApp.discover(otherName, { clientId: 'x', redirectUri: REDIRECT_URI }),
      isKind(AppErrorKind.DISCOVERY_ISSUER_MISMATCH),
    );
  });

  test('PKCE S256: the challenge is base64url(SHA-256(verifier)), 43-character verifier', () => {
    const { verifier, challenge, method } = pkceS256();
    assert.equal(method, 'S256');
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(challenge, createHash('sha256').update(verifier).digest('base64url'));
    assert.notEqual(pkceS256().verifier, verifier);
  });

  test('the authorization request carries state, S256 challenge and the page as redirect URI', () => {
    const { url, state } = app.beginAuthorization({ scope: 'openid orders:read' });
    const u = new URL(url);
    assert.equal(`${u.origin}${u.pathname}`, as.authorizationUrl);
    assert.equal(u.searchParams.get('state'), state);
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(u.searchParams.get('redirect_uri'), REDIRECT_URI);
    assert.equal(u.searchParams.get('client_id'), as.clients.mobile.clientId);
    assert.equal(u.searchParams.get('response_type'), 'code');
    assert.notEqual(app.beginAuthorization().state, state, 'a fresh state per request');
  });

  test('response checks, in order: state, then iss, then error, then code', () => {
    const iss = as.issuer;
    assert.throws(() => app.checkResponse({ code: 'c', iss }), isKind(AppErrorKind.MISSING_STATE));
    assert.throws(() => app.checkResponse({ code: 'c', state: 'forged', iss }), isKind(AppErrorKind.UNKNOWN_STATE));
    // a wrong iss wins over an error: the app must not trust anything from another issuer
    let { state } = app.beginAuthorization();
    assert.throws(() => app.checkResponse({ error: 'access_denied', state, iss: 'https://attacker.example' }), isKind(AppErrorKind.ISSUER_MISMATCH));
    ({ state } = app.beginAuthorization());
    assert.throws(() => app.checkResponse({ code: 'c', state }), isKind(AppErrorKind.MISSING_ISSUER));
    ({ state } = app.beginAuthorization());
    assert.throws(
      () => app.checkResponse({ error: 'access_denied', error_description: 'End-User aborted interaction', state, iss }),
      (e) => isKind(AppErrorKind.AUTHORIZATION_ERROR)(e) && e.details.error === 'access_denied' && e.details.error_description === 'End-User aborted interaction',
    );
    ({ state } = app.beginAuthorization());
    assert.throws(() => app.checkResponse({ state, iss }), isKind(AppErrorKind.MISSING_CODE));
    // every answered state was consumed, whatever the outcome
    assert.throws(() => app.checkResponse({ code: 'c', state, iss }), isKind(AppErrorKind.UNKNOWN_STATE));
  });

  test('without RFC 9207 support announced, a response without iss is accepted; a wrong one never', () => {
    const legacy = new MobileApp({ ...app.config, issParameterSupported: false });
    let { state } = legacy.beginAuthorization();
    assert.equal(legacy.checkResponse({ code: 'c', state }).code, 'c');
    ({ state } = legacy.beginAuthorization());
    assert.throws(() => legacy.checkResponse({ code: 'c', state, iss: 'https://attacker.example' }), isKind(AppErrorKind.ISSUER_MISMATCH));
  });

  test('responses are read from the query, or from the fragment (response_mode=fragment)', () => {
    assert.equal(responseParams('https://app.example/cb?code=a&state=b').get('code'), 'a');
    assert.equal(responseParams('https://app.example/cb#code=a&state=b').get('state'), 'b');
  });

  test('exchange with the right verifier works once; a wrong verifier and a replay are token errors', async () => {
    const first = app.beginAuthorization();
    const { redirect } = await runBrowserFlow(first.url, { redirectUri: REDIRECT_URI });
    const { code, verifier } = app.checkResponse(redirect);
    await assert.rejects(
      app.exchangeCode({ code, verifier: pkceS256().verifier }),
      (e) => isKind(AppErrorKind.TOKEN_ERROR)(e) && e.details.error === 'invalid_grant' && e.details.status === 400,
    );

    const second = app.beginAuthorization();
    const r2 = await runBrowserFlow(second.url, { redirectUri: REDIRECT_URI });
    const tokens = await app.completeAuthorization(r2.redirect);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(typeof tokens.access_token, 'string');
    const p2 = responseParams(r2.redirect);
    await assert.rejects(
      app.exchangeCode({ code: p2.get('code'), verifier: 'x'.repeat(43) }),
      (e) => isKind(AppErrorKind.TOKEN_ERROR)(e) && e.details.error === 'invalid_grant',
    );
  });

  test('with a DPoP key: dpop_jkt in the request, a proof at the token endpoint, tokens bound to the key', async () => {
    const dpop = await MobileApp.dpopKey();
    const bound = new MobileApp({ ...app.config, clientId: as.clients.mobileDpop.clientId, dpop });
    const { url } = bound.beginAuthorization();
    assert.equal(new URL(url).searchParams.get('dpop_jkt'), dpop.jkt);
    const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
    const tokens = await bound.completeAuthorization(redirect);
    assert.equal(tokens.token_type, 'DPoP');
    assert.deepEqual(jwtClaims(tokens.access_token).cnf, { jkt: dpop.jkt });
    const refreshed = await bound.refresh(tokens.refresh_token);
    assert.deepEqual(jwtClaims(refreshed.access_token).cnf, { jkt: dpop.jkt });

    // the same client without the key gets nothing: the server requires a proof from this client
    const keyless = new MobileApp({ ...app.config, clientId: as.clients.mobileDpop.clientId });
    const r2 = await runBrowserFlow(keyless.beginAuthorization().url, { redirectUri: REDIRECT_URI });
    await assert.rejects(
      keyless.completeAuthorization(r2.redirect),
      (e) => isKind(AppErrorKind.TOKEN_ERROR)(e) && e.details.error === 'invalid_grant',
    );
    assert.deepEqual(as.lastGrantError(), { error: 'invalid_grant', detail: 'DPoP proof JWT not provided' });
  });
});
