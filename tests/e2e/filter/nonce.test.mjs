// DPoP server nonces (RFC 9449 §9) end to end: the shipped example envoy/examples/nonce in the real Envoy (two
// workers), DPoP-bound access tokens from the real oidc-provider, and two independent clients: oauth4webapi (its
// DPoP handle remembers the DPoP-Nonce of a 401 and the caller retries once, as the library documents for
// use_dpop_nonce) and the `dpop` npm package (proofs with a `nonce` claim we choose). Three replicas: A and B share
// the nonce secret (B accepts A's nonces), C has another one (it refuses them with a fresh nonce of its own).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';

import { keepLogOnFailure } from '../lib/envoy.mjs';
import { request } from '../lib/http.mjs';
import { h2Request } from '../lib/h2.mjs';
import { freePort } from '../lib/net.mjs';
import { dpopKeyPair, proof } from '../lib/dpop.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { counterDelta } from './harness.mjs';
import {
  ALGS, API_BODY, NONCE_MISSING, NONCE_STALE, OTHER_SECRET, REALM, serviceToken, startReplica,
} from './nonce-example.mjs';

let as;
let a;
let b;
let c;
let port;

before(async () => {
  as = await startAuthServer();
  try {
    port = await freePort();
    a = await startReplica(as, { port, name: 'example-nonce-a' });
    b = await startReplica(as, { port: await freePort(), originPort: port, name: 'example-nonce-b' });
    c = await startReplica(as, { port: await freePort(), originPort: port, secret: OTHER_SECRET, name: 'example-nonce-c' });
  } catch (err) {
    for (const e of [a, b, c]) await e?.stop();
    await as.close();
    throw err;
  }
});

after(async () => {
  for (const e of [a, b, c]) await e?.stop();
  await as?.close();
});

function test(name, fn) {
  return it(name, keepLogOnFailure(() => [a, b, c].filter(Boolean), fn));
}

const origin = () => `http://127.0.0.1:${port}`;
const metadataUrl = () => `${origin()}/.well-known/oauth-protected-resource`;

function send(envoy, { token, proofValue, path = '/orders' }) {
  return request(envoy.listenerPort('api'), { path, headers: { authorization: `DPoP ${token}`, dpop: proofValue } });
}

function proofFor(key, token, nonce) {
  return proof(key, { htm: 'GET', htu: `${origin()}/orders`, accessToken: token, nonce });
}

function assertNonceChallenge(res, description) {
  assert.equal(res.status, 401, res.body);
  assert.notEqual(res.body, API_BODY);
  assert.equal(
    res.headers['www-authenticate'],
    `DPoP realm="${REALM}", error="use_dpop_nonce", error_description="${description}", algs="${ALGS}", resource_metadata="${metadataUrl()}"`,
  );
  assert.deepEqual(res.json, { error: 'use_dpop_nonce', error_description: description });
  assert.match(res.headers['dpop-nonce'], /^[A-Za-z0-9_-]{32}$/);
  return res.headers['dpop-nonce'];
}

describe('DPoP server nonces', () => {
  test('oauth4webapi gets the use_dpop_nonce challenge, retries with the nonce and succeeds', async () => {
    const key = await dpopKeyPair('ES256');
    const token = await serviceToken(as, { key });
    const handle = oauth.DPoP({ client_id: as.clients.service.clientId }, key);
    const url = new URL(`${origin()}/orders`);
    const call = () => oauth.protectedResourceRequest(token, 'GET', url, new Headers(), null, {
      DPoP: handle, [oauth.allowInsecureRequests]: true,
    });
    let challenge;
    const { delta } = await counterDelta(a, async () => {
      try {
        await call();
        assert.fail('the first request (no nonce yet) must be challenged');
      } catch (err) {
        assert.ok(oauth.isDPoPNonceError(err), `${err.name}: ${err.message}`);
        challenge = err;
      }
    });
    assert.equal(delta['denied.dpop_nonce_missing'], 1, JSON.stringify(delta));
    assert.equal(challenge.status, 401);
    const [dpop] = challenge.cause;
    assert.equal(dpop.scheme, 'dpop');
    assert.equal(dpop.parameters.error, 'use_dpop_nonce');
    assert.equal(dpop.parameters.error_description, NONCE_MISSING);
    assert.equal(dpop.parameters.resource_metadata, metadataUrl());
    const res = await call();
    assert.equal(res.status, 200);
    assert.equal(await res.text(), API_BODY);
    // The nonce is fresh: nothing rides on this 200.
    assert.equal(res.headers.get('dpop-nonce'), null);
  });

  test('a nonce from replica A is accepted by replica B (same secret), not by C (another secret)', async () => {
    const key = await dpopKeyPair('ES256');
    const token = await serviceToken(as, { key });
    const nonce = assertNonceChallenge(await send(a, { token, proofValue: await proofFor(key, token) }), NONCE_MISSING);
    const atB = await send(b, { token, proofValue: await proofFor(key, token, nonce) });
    assert.equal(atB.status, 200, atB.body);
    assert.equal(atB.body, API_BODY);
    const { delta, result: atC } = await counterDelta(c, async () => send(c, { token, proofValue: await proofFor(key, token, nonce) }));
    const fresh = assertNonceChallenge(atC, NONCE_STALE);
    assert.notEqual(fresh, nonce);
    assert.equal(delta['denied.dpop_nonce_foreign'], 1, JSON.stringify(delta));
    // C's own nonce works at C.
    const retry = await send(c, { token, proofValue: await proofFor(key, token, fresh) });
    assert.equal(retry.status, 200, retry.body);
  });

  test('malformed and made-up nonces get the challenge with a fresh nonce; an invalid proof keeps its own answer', async () => {
    const key = await dpopKeyPair('ES256');
    const token = await serviceToken(as, { key });
    for (const [bad, reason] of [['x', 'dpop_nonce_malformed'], ['A'.repeat(32), 'dpop_nonce_foreign']]) {
      const { delta, result } = await counterDelta(a, async () => send(a, { token, proofValue: await proofFor(key, token, bad) }));
      assertNonceChallenge(result, NONCE_STALE);
      assert.equal(delta[`denied.${reason}`], 1, JSON.stringify(delta));
    }
    // A proof for another method and without nonce: the proof's own fault comes first.
    const wrong = await proof(key, { htm: 'POST', htu: `${origin()}/orders`, accessToken: token });
    const res = await send(a, { token, proofValue: wrong });
    assert.equal(res.status, 401);
    assert.equal(res.headers['dpop-nonce'], undefined);
    assert.equal(
      res.headers['www-authenticate'],
      `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="the DPoP proof is for another method", algs="${ALGS}", resource_metadata="${metadataUrl()}"`,
    );
  });

  test('over h2c the challenge and its DPoP-Nonce header arrive the same way', async () => {
    const key = await dpopKeyPair('ES256');
    const token = await serviceToken(as, { key });
    const h2 = (proofValue) => h2Request(port, {
      path: '/orders', headers: { authorization: `DPoP ${token}`, dpop: proofValue },
    });
    const first = await h2(await proofFor(key, token));
    assert.equal(first.status, 401);
    const nonce = assertNonceChallenge(first, NONCE_MISSING);
    const second = await h2(await proofFor(key, token, nonce));
    assert.equal(second.status, 200, second.body);
    assert.equal(second.body, API_BODY);
  });
});
