// The whole mobile flow, end to end, with real components only — oidc-provider (authorization server,
// public client, PKCE S256 required, RFC 9207 iss, JWT access tokens, rotating refresh tokens), our intermediate
// page served by `tollgate-site serve`, headless Debian Chromium as the phone's system browser, a loopback endpoint
// standing in for the app link, and the real Envoy with the tollgate filter in front of an echo API.
// The test code plays the app through flow/app.mjs (the same code the demo's app endpoint runs).
//
//   browser ── authorization request (PKCE S256, state) ──▶ authorization server: sign in, consent
//   browser ◀── 303 redirect_uri?code&state&iss ── (our page) ── tap Continue ──▶ app link ?code&state&iss
//   app: check state + iss ── code + verifier ──▶ token endpoint ── access token ──▶ Envoy + tollgate ──▶ API
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';

import { AppError, AppErrorKind, MobileApp, jwtClaims } from './app.mjs';
import { launchMobileBrowser, signInAndContinue } from './browser.mjs';
import { APP_LINK_PATH, REALM, startFlowStack } from './flow-stack.mjs';
import { artifactPath } from '../page/site.mjs';

const SHORT_TTL = 5; // seconds: the access token of the main scenario expires during the test (slack for a slow CI)
const SKEW = 1; // the filter's clock_skew_seconds in this stack

let stack;
let browser;

before(async () => {
  stack = await startFlowStack({ clockSkewSeconds: SKEW });
  try {
    browser = await launchMobileBrowser();
  } catch (err) {
    await stack.stop();
    throw err;
  }
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await stack?.stop();
  }
});

/** node:test's test(), printing the Envoy log when the step fails (stack.stop() prints it for a marked run). */
function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      stack?.envoy?.markFailed();
      throw err;
    }
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Never put a token or code in an assertion message: summarise a response instead. */
const summary = (res) => `${res.status} ${res.wwwAuthenticate ?? ''} ${res.json?.error ?? ''}`;

function assertSecretFree(text, secrets, where) {
  for (const s of secrets) if (s) assert.ok(!text.includes(s), `${where} contains a secret`);
}

/** The browser leg (sign in or cancel at the server, our page, Continue) in a fresh tab; see browser.mjs. */
async function browserLeg(authorizationUrl, { login = 'alice', cancel = false, page } = {}) {
  page ??= await browser.freshPage();
  try {
    return await signInAndContinue(page, {
      authorizationUrl, pageOrigin: new URL(stack.pageUrl).origin, appEndpoint: stack.appEndpoint, login, cancel,
    });
  } catch (err) {
    // where the browser got stuck, as a test artifact (tests/e2e/artifacts/, gitignored)
    const file = artifactPath(`flow-failure-${Date.now()}.png`);
    await page.screenshot({ path: file }).then(() => { err.message += `\n(screenshot: ${file})`; }, () => {});
    throw err;
  }
}

describe('mobile flow: browser login, intermediate page, app link, PKCE exchange, API through Envoy', () => {
  const run = {};

  test('the browser signs in at the server, lands on our page, and Continue hands code, state and iss to the app link', async () => {
    const { url, state } = stack.app.beginAuthorization({ scope: 'openid orders:read' });
    const authz = new URL(url);
    assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authz.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(authz.searchParams.get('redirect_uri'), stack.pageUrl);

    const leg = await browserLeg(url, { login: 'alice' });
    const { link } = leg;
    assert.equal(link.path, APP_LINK_PATH);
    assert.deepEqual([...link.params.keys()].sort(), ['code', 'iss', 'state'], 'the page forwards exactly the response parameters');
    assert.equal(link.params.get('state'), state);
    assert.equal(link.params.get('iss'), stack.as.issuer);
    // the page removed the response from the address bar before the user tapped Continue
    assert.equal(new URL(leg.pageUrlAfter).search, '', 'the page URL still holds the response');
    assertSecretFree(leg.pageText, [link.params.get('code')], 'the page text');
    run.link = link;
    run.state = state;
  });

  test('the app checks state and iss, then exchanges the code with the PKCE verifier', async () => {
    assert.ok(run.link, 'previous step');
    const { code, verifier } = stack.app.checkResponse(run.link.params);
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    // The access token of this grant lives SHORT_TTL seconds, so that its expiry is observable below.
    stack.as.setAccessTokenTTL(SHORT_TTL);
    let tokens;
    try {
      tokens = await stack.app.exchangeCode({ code, verifier });
    } finally {
      stack.as.setAccessTokenTTL(900);
    }
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, 'orders:read');
    assert.equal(typeof tokens.refresh_token, 'string');
    const claims = jwtClaims(tokens.access_token);
    assert.equal(claims.iss, stack.as.issuer);
    assert.equal(claims.aud, stack.as.resource);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.exp - claims.iat, SHORT_TTL);
    run.tokens = tokens;
    run.claims = claims;
    // The same app-link response delivered twice is refused by the app itself (state is single use).
    assert.throws(() => stack.app.checkResponse(run.link.params), (e) => e instanceof AppError && e.kind === AppErrorKind.UNKNOWN_STATE);
  });

  test('the scoped route answers 200 and the API receives the forwarded claims', async () => {
    assert.ok(run.tokens, 'previous step');
    const res = await stack.app.callApi('/orders', { accessToken: run.tokens.access_token });
    assert.equal(res.status, 200, summary(res));
    const seen = res.json.headers;
    assert.equal(seen['x-user-id'], 'alice');
    assert.equal(seen['x-client-id'], stack.as.clients.mobile.clientId);
    assert.equal(seen['x-token-scope'], 'orders:read');
    assert.equal(res.json.url, '/orders');
  });

  test('a route needing another scope answers 403 insufficient_scope', async () => {
    assert.ok(run.tokens, 'previous step');
    const before403 = stack.upstream.seen.length;
    const res = await stack.app.callApi('/orders', { method: 'POST', accessToken: run.tokens.access_token, body: '{}' });
    assert.equal(res.status, 403, summary(res));
    assert.equal(
      res.wwwAuthenticate,
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="the token lacks a scope this resource requires", scope="orders:write"`,
    );
    assert.equal(res.json.error, 'insufficient_scope');
    assert.equal(stack.upstream.seen.length, before403, 'a denied request must not reach the API');
  });

  test('after the access token expires the API answers 401 invalid_token', async () => {
    assert.ok(run.claims, 'previous step');
    // valid until exp + skew (the filter's clock_skew_seconds); wait just past it
    await sleep(Math.max(0, (run.claims.exp + SKEW) * 1000 - Date.now() + 300));
    const res = await stack.app.callApi('/orders', { accessToken: run.tokens.access_token });
    assert.equal(res.status, 401, summary(res));
    assert.equal(
      res.wwwAuthenticate,
      `Bearer realm="${REALM}", error="invalid_token", error_description="the token has expired"`,
    );
  });

  test('refreshing gives a new access token that works; the old refresh token is then rejected', async () => {
    assert.ok(run.tokens, 'previous step');
    const fresh = await stack.app.refresh(run.tokens.refresh_token);
    assert.notEqual(fresh.access_token, run.tokens.access_token);
    assert.notEqual(fresh.refresh_token, run.tokens.refresh_token, 'refresh tokens rotate');
    const claims = jwtClaims(fresh.access_token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.exp - claims.iat, 900);
    const res = await stack.app.callApi('/orders', { accessToken: fresh.access_token });
    assert.equal(res.status, 200, summary(res));
    assert.equal(res.json.headers['x-user-id'], 'alice');

    // The rotated refresh token is the one that works (used before the old one is replayed: a replay revokes the grant).
    const again = await stack.app.refresh(fresh.refresh_token);
    assert.equal(typeof again.access_token, 'string');

    const replay = await stack.app.refresh(run.tokens.refresh_token).then(
      () => assert.fail('the old refresh token was accepted'),
      (e) => e,
    );
    assert.ok(replay instanceof AppError, replay.message);
    assert.equal(replay.kind, AppErrorKind.TOKEN_ERROR);
    assert.equal(replay.details.status, 400);
    assert.equal(replay.details.error, 'invalid_grant');
  });
});

describe('mobile flow with DPoP: the app holds a key, the code exchange and refresh are bound to it, each API call carries a proof', () => {
  const run = {};
  let app;
  let thief;

  before(async () => {
    // The app's own key (kept in the app; on a device, in the platform key store) and the public client that the
    // server refuses to give tokens without a proof.
    const appConfig = { clientId: stack.as.clients.mobileDpop.clientId, redirectUri: stack.pageUrl, apiBase: stack.apiUrl };
    app = await MobileApp.discover(stack.as.issuer, { ...appConfig, dpop: await MobileApp.dpopKey() });
    // Someone who copied the app's tokens (not its key): the same client id, another key.
    thief = await MobileApp.discover(stack.as.issuer, { ...appConfig, dpop: await MobileApp.dpopKey() });
  });

  test('the authorization request names the key (dpop_jkt); the browser leg hands code, state and iss to the app', async () => {
    const { url, state } = app.beginAuthorization({ scope: 'openid orders:read' });
    assert.equal(new URL(url).searchParams.get('dpop_jkt'), app.config.dpop.jkt);
    assert.equal(new URL(url).searchParams.get('client_id'), stack.as.clients.mobileDpop.clientId);
    const { link } = await browserLeg(url, { login: 'carol' });
    assert.equal(link.params.get('state'), state);
    assert.equal(link.params.get('iss'), stack.as.issuer);
    run.link = link;
  });

  test('the code exchange carries a proof: the access token is DPoP-bound, and DPoP + a fresh proof per call gets 200', async () => {
    assert.ok(run.link, 'previous step');
    const tokens = await app.completeAuthorization(run.link.params);
    assert.equal(tokens.token_type, 'DPoP');
    assert.equal(typeof tokens.refresh_token, 'string');
    const claims = jwtClaims(tokens.access_token);
    assert.deepEqual(claims.cnf, { jkt: app.config.dpop.jkt });
    assert.equal(claims.sub, 'carol');
    assert.equal(claims.client_id, stack.as.clients.mobileDpop.clientId);
    run.tokens = tokens;
    // two calls, each with its own proof: the second finds the token in the filter's cache, the proof is checked anyway
    for (let i = 0; i < 2; i += 1) {
      const res = await app.callApi('/orders', { accessToken: tokens.access_token });
      assert.equal(res.status, 200, summary(res));
      assert.equal(res.json.headers['x-user-id'], 'carol');
      assert.equal(res.json.headers['x-client-id'], stack.as.clients.mobileDpop.clientId);
      assert.equal(res.json.headers['x-token-scope'], 'orders:read');
    }
  });

  test('a stolen access token sent as Bearer is refused (the route takes bearer tokens: binding "any")', async () => {
    assert.ok(run.tokens, 'previous step');
    const seen = stack.upstream.seen.length;
    const asBearer = await thief.callApi('/orders', { accessToken: run.tokens.access_token, scheme: 'Bearer' });
    assert.equal(asBearer.status, 401, summary(asBearer));
    assert.deepEqual(asBearer.json, {
      error: 'invalid_token', error_description: 'the token is bound to a DPoP key and must be sent with the DPoP scheme',
    });
    assert.equal(stack.upstream.seen.length, seen, 'a refused request must not reach the API');
    assert.equal(
      asBearer.wwwAuthenticate,
      `DPoP realm="${REALM}", error="invalid_token", error_description="the token is bound to a DPoP key and must be sent with the DPoP scheme", algs="ES256 EdDSA RS256 PS256"`,
    );
  });

  test('a stolen access token with a proof by the thief\'s key is refused', async () => {
    assert.ok(run.tokens, 'previous step');
    const seen = stack.upstream.seen.length;
    const otherKey = await thief.callApi('/orders', { accessToken: run.tokens.access_token });
    assert.equal(otherKey.status, 401, summary(otherKey));
    assert.equal(
      otherKey.wwwAuthenticate,
      `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="the access token is bound to another DPoP key", algs="ES256 EdDSA RS256 PS256"`,
    );
    assert.deepEqual(otherKey.json, { error: 'invalid_dpop_proof', error_description: 'the access token is bound to another DPoP key' });
    assert.equal(stack.upstream.seen.length, seen, 'a refused request must not reach the API');
    // the owner's next call still works
    assert.equal((await app.callApi('/orders', { accessToken: run.tokens.access_token })).status, 200);
  });

  test('refresh is bound too: the thief cannot refresh with its key; the app refreshes with a proof and the new token works', async () => {
    assert.ok(run.tokens, 'previous step');
    const stolen = await thief.refresh(run.tokens.refresh_token).then(() => assert.fail('the thief refreshed'), (e) => e);
    assert.ok(stolen instanceof AppError, stolen.message);
    assert.equal(stolen.kind, AppErrorKind.TOKEN_ERROR);
    assert.equal(stolen.details.error, 'invalid_grant');
    assert.deepEqual(stack.as.lastGrantError(), { error: 'invalid_grant', detail: 'failed jkt verification' });

    const fresh = await app.refresh(run.tokens.refresh_token);
    assert.equal(fresh.token_type, 'DPoP');
    assert.notEqual(fresh.access_token, run.tokens.access_token);
    assert.notEqual(fresh.refresh_token, run.tokens.refresh_token, 'refresh tokens rotate');
    assert.deepEqual(jwtClaims(fresh.access_token).cnf, { jkt: app.config.dpop.jkt });
    const res = await app.callApi('/orders', { accessToken: fresh.access_token });
    assert.equal(res.status, 200, summary(res));
    assert.equal(res.json.headers['x-user-id'], 'carol');
  });
});

describe('mobile flow: negative paths', () => {
  test('the user cancels at the server: the error response reaches the app through the page', async () => {
    const tokenCalls = stack.as.requests.token;
    const { url, state } = stack.app.beginAuthorization();
    const leg = await browserLeg(url, { cancel: true });
    assert.equal(leg.screen, 'error');
    assert.match(leg.pageText, /access_denied/, 'the page shows the error code');
    const { params } = leg.link;
    assert.equal(params.get('error'), 'access_denied');
    assert.equal(params.get('state'), state);
    assert.equal(params.get('iss'), stack.as.issuer);
    assert.equal(params.get('code'), null);
    assert.throws(
      () => stack.app.checkResponse(params),
      (e) => e instanceof AppError && e.kind === AppErrorKind.AUTHORIZATION_ERROR && e.details.error === 'access_denied',
    );
    assert.equal(stack.as.requests.token, tokenCalls, 'the app made no token request');
  });

  test('a wrong iss injected into the authorization response is detected by the app, which never uses the code', async () => {
    const tokenCalls = stack.as.requests.token;
    const { url, state } = stack.app.beginAuthorization();
    const page = await browser.freshPage();
    const attacker = 'https://attacker.example';
    // A mix-up attacker: the response that reaches our page names another issuer. The browser's consent POST is
    // answered by the real server (its redirects followed with the browser's cookies) except that the final
    // redirect to our page has iss replaced; everything else, including the code and state, is the real response.
    // (Playwright cannot intercept the redirected requests themselves, only the request that starts the chain.)
    await page.route(`${stack.as.issuer}/interaction/**`, async (route) => {
      const req = route.request();
      if (req.method() !== 'POST' || !/(^|&)prompt=consent(&|$)/.test(req.postData() ?? '')) return route.continue();
      const res = await route.fetch({ maxRedirects: 0 });
      let location = res.headers().location;
      for (let hop = 0; hop < 5 && location && !location.startsWith(stack.pageUrl); hop += 1) {
        const next = await page.request.get(new URL(location, stack.as.issuer).href, { maxRedirects: 0 });
        location = next.headers().location;
      }
      assert.ok(location?.startsWith(stack.pageUrl), 'the server redirects to our page');
      const tampered = new URL(location);
      assert.equal(tampered.searchParams.get('iss'), stack.as.issuer);
      tampered.searchParams.set('iss', attacker);
      return route.fulfill({ status: 303, headers: { location: tampered.href, 'cache-control': 'no-store' } });
    });
    const { link } = await browserLeg(url, { page });
    assert.equal(link.params.get('iss'), attacker, 'the page forwarded the injected iss');
    assert.equal(link.params.get('state'), state);
    assert.ok(link.params.get('code'));
    assert.throws(
      () => stack.app.checkResponse(link.params),
      (e) => e instanceof AppError && e.kind === AppErrorKind.ISSUER_MISMATCH,
    );
    assert.equal(stack.as.requests.token, tokenCalls, 'the app made no token request');
  });

  test('a replayed code fails at the token endpoint (and the grant it gave is revoked)', async () => {
    const { url } = stack.app.beginAuthorization();
    const { link } = await browserLeg(url, { login: 'bob' });
    const { code, verifier } = stack.app.checkResponse(link.params);
    const first = await stack.app.exchangeCode({ code, verifier });
    assert.equal(jwtClaims(first.access_token).sub, 'bob');
    const replay = await stack.app.exchangeCode({ code, verifier }).then(
      () => assert.fail('the replayed code was accepted'),
      (e) => e,
    );
    assert.ok(replay instanceof AppError, replay.message);
    assert.equal(replay.kind, AppErrorKind.TOKEN_ERROR);
    assert.equal(replay.details.error, 'invalid_grant');
    const refreshAfterReplay = await stack.app.refresh(first.refresh_token).then(() => undefined, (e) => e);
    assert.equal(refreshAfterReplay?.details?.error, 'invalid_grant', 'the refresh token of the replayed code is revoked');
  });

  test('a response the app never asked for (unknown state) is refused before anything else', () => {
    const params = new URLSearchParams({ code: 'x', state: 'not-ours', iss: stack.as.issuer });
    assert.throws(() => stack.app.checkResponse(params), (e) => e instanceof AppError && e.kind === AppErrorKind.UNKNOWN_STATE);
    assert.throws(
      () => stack.app.checkResponse(new URLSearchParams({ code: 'x', iss: stack.as.issuer })),
      (e) => e instanceof AppError && e.kind === AppErrorKind.MISSING_STATE,
    );
  });
});
