// The whole mobile flow with client attestation: the flow stack of mobile-flow.test.mjs (oidc-provider, our
// intermediate page, headless Chromium, the app-link endpoint, Envoy + tollgate in front of the echo API) plus a
// second Envoy with the tollgate gate in front of the authorization server's token endpoint, and the TEST ONLY
// client attester (lib/attestation.mjs, a stand-in for the vendor's backend that would check App Attest / Play
// Integrity). The app holds a DPoP key, has the attester attest that key for its client id, and sends the
// attestation with every token request; its DPoP proof is the proof of possession (combined mode). A thief with the
// app's refresh token (and even its attestation) but not its key gets nothing: the gate refuses before the server.
import { after, before, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';

import { AppError, AppErrorKind, MobileApp, jwtClaims } from './app.mjs';
import { launchMobileBrowser, signInAndContinue } from './browser.mjs';
import { startFlowStack } from './flow-stack.mjs';
import { HEADERS, startTestAttester } from '../lib/attestation.mjs';
import { attestationConfig, startGate } from '../filter/attestation/stack.mjs';
import { decisionDelta, decisionStats } from '../filter/harness.mjs';

let stack;
let browser;
let attester;
let gate;

before(async () => {
  stack = await startFlowStack();
  try {
    attester = await startTestAttester();
    gate = await startGate({
      providers: [{ name: 'authz', issuer: stack.as.issuer, audiences: [stack.as.resource], jwks: { inline: stack.as.publicJwks() } }],
      client_attestation: attestationConfig(attester),
      rules: [
        {
          match: { path: '/token', methods: ['POST'] },
          anonymous: true,
          client_attestation: { audience: stack.as.issuer, grant_types: ['refresh_token'] },
        },
        { match: { prefix: '/' }, anonymous: true },
      ],
    }, { upstreamPort: stack.as.port, name: 'flow-attestation-gate' });
    browser = await launchMobileBrowser();
  } catch (err) {
    await gate?.stop();
    await stack.stop();
    throw err;
  }
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await gate?.stop();
    await stack?.stop();
  }
});

function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      stack?.envoy?.markFailed();
      gate?.markFailed();
      throw err;
    }
  });
}

const summary = (res) => `${res.status} ${res.wwwAuthenticate ?? ''} ${res.json?.error ?? ''}`;

/** A public DPoP client whose token requests go through the gate, with `attestation` (a function) when given. */
async function gatedApp({ dpop, attestation }) {
  const app = await MobileApp.discover(stack.as.issuer, {
    clientId: stack.as.clients.mobileDpop.clientId,
    redirectUri: stack.pageUrl,
    apiBase: stack.apiUrl,
    dpop,
  });
  // The gate stands in front of the server's token endpoint (in production, at the server's own public address).
  app.config.tokenEndpoint = `http://127.0.0.1:${gate.port}/token`;
  if (attestation) app.config.tokenRequestHeaders = async () => ({ [HEADERS.attestation]: await attestation() });
  return app;
}

describe('mobile flow with client attestation: the attester attests the app\'s key, refresh goes through the gate', () => {
  const run = {};
  let app;
  let attestation;

  before(async () => {
    const dpop = await MobileApp.dpopKey();
    // The app asks its vendor's attester for an attestation of its key (on a device, with App Attest / Play
    // Integrity evidence); the attester signs it for the app's client id.
    attestation = await attester.issue({ clientId: stack.as.clients.mobileDpop.clientId, instanceKey: dpop.keyPair });
    app = await gatedApp({ dpop, attestation: async () => attestation });
  });

  test('sign-in in the browser, code exchange through the gate (not gated), API call with the DPoP-bound token', async () => {
    const { url } = app.beginAuthorization({ scope: 'openid orders:read' });
    const page = await browser.freshPage();
    const { link } = await signInAndContinue(page, {
      authorizationUrl: url, pageOrigin: new URL(stack.pageUrl).origin, appEndpoint: stack.appEndpoint, login: 'dana',
    });
    const tokens = await app.completeAuthorization(link.params);
    assert.equal(tokens.token_type, 'DPoP');
    assert.deepEqual(jwtClaims(tokens.access_token).cnf, { jkt: app.config.dpop.jkt });
    const res = await app.callApi('/orders', { accessToken: tokens.access_token });
    assert.equal(res.status, 200, summary(res));
    run.tokens = tokens;
  });

  test('a thief with the refresh token and its own key, without attestation: 401 invalid_client at the gate', async () => {
    assert.ok(run.tokens, 'previous step');
    const thief = await gatedApp({ dpop: await MobileApp.dpopKey() });
    const before = stack.as.requests.token;
    const stats = await decisionStats(gate);
    const err = await thief.refresh(run.tokens.refresh_token).then(() => assert.fail('the thief refreshed'), (e) => e);
    assert.ok(err instanceof AppError, err.message);
    assert.equal(err.kind, AppErrorKind.TOKEN_ERROR);
    assert.deepEqual({ status: err.details.status, error: err.details.error }, { status: 401, error: 'invalid_client' });
    assert.equal(stack.as.requests.token, before, 'the server never saw the request');
    const delta = decisionDelta(stats, await decisionStats(gate));
    assert.equal(delta['denied.attestation_missing'], 1, JSON.stringify(delta));
  });

  test('a thief with the refresh token and the app\'s attestation, but not its key: 401 invalid_client at the gate', async () => {
    assert.ok(run.tokens, 'previous step');
    const thief = await gatedApp({ dpop: await MobileApp.dpopKey(), attestation: async () => attestation });
    const before = stack.as.requests.token;
    const stats = await decisionStats(gate);
    const err = await thief.refresh(run.tokens.refresh_token).then(() => assert.fail('the thief refreshed'), (e) => e);
    assert.deepEqual({ status: err.details?.status, error: err.details?.error }, { status: 401, error: 'invalid_client' });
    assert.equal(stack.as.requests.token, before, 'the server never saw the request');
    // refused for the key, not for a missing attestation
    const delta = decisionDelta(stats, await decisionStats(gate));
    assert.equal(delta.denied, 1, JSON.stringify(delta));
    assert.equal(delta['denied.attestation_missing'], undefined, JSON.stringify(delta));
  });

  test('the app refreshes through the gate with its attestation; the new token works at the API', async () => {
    assert.ok(run.tokens, 'previous step');
    const before = stack.as.requests.token;
    const fresh = await app.refresh(run.tokens.refresh_token);
    assert.equal(stack.as.requests.token, before + 1);
    assert.equal(fresh.token_type, 'DPoP');
    assert.notEqual(fresh.refresh_token, run.tokens.refresh_token, 'refresh tokens rotate');
    const res = await app.callApi('/orders', { accessToken: fresh.access_token });
    assert.equal(res.status, 200, summary(res));
    assert.equal(res.json.headers['x-user-id'], 'dana');
  });
});
