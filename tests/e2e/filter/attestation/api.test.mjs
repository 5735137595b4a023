// Client attestation at the API (the draft's "additional security signal" at a resource server), end to end: the
// real Envoy with the built filter in front of the echo recorder, access tokens from the real oidc-provider
// (tests/e2e/authz; client_credentials with a DPoP proof gives a token with cnf.jkt and client_id), attestations by
// the TEST ONLY attester, PoPs and DPoP proofs by `jose` and `dpop`. The attestation's `sub` must be the token's
// client_id; in combined mode the DPoP proof's key (bound to the token) must be the attested key. Token problems
// keep their own answers and come first. Over HTTP/1.1 and h2c.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { keepLogOnFailure } from '../../lib/envoy.mjs';
import { startEchoUpstream } from '../../lib/upstream.mjs';
import { dpopKeyPair } from '../../lib/dpop.mjs';
import { HEADERS, attestationPop, instanceKeyPair, startTestAttester } from '../../lib/attestation.mjs';
import { startAuthServer } from '../../authz/server.mjs';
import { clientCredentials, jwtPayload } from '../../authz/flow.mjs';
import { PROTOCOLS, assertApiRefusal, dpopProof, send } from './client.mjs';
import { CHALLENGE_ENDPOINT, MAX_AGE_SECONDS, attestationConfig, startGate } from './stack.mjs';

const REALM = 'attested-api';
const now = () => Math.floor(Date.now() / 1000);

let as;
let attester;
let upstream;
let gate; // challenges off
let challenged; // challenges on
let dpopKey;
let dpopToken; // bound to dpopKey, client_id tollgate-service
let bearerToken; // unbound, client_id tollgate-service

before(async () => {
  as = await startAuthServer();
  upstream = await startEchoUpstream();
  try {
    attester = await startTestAttester();
    const plugin = (challenges) => ({
      realm: REALM,
      providers: [{
        name: 'authz', issuer: as.issuer, audiences: [as.resource], jwks: { inline: as.publicJwks() }, algorithms: ['ES256'],
      }],
      client_attestation: attestationConfig(attester, { challenges }),
      rules: [
        { match: { prefix: '/orders' }, scopes: ['orders:read'], binding: 'dpop', client_attestation: { audience: as.resource } },
        { match: { prefix: '/bearer-orders' }, scopes: ['orders:read'], client_attestation: { audience: as.resource } },
        { match: { prefix: '/' } },
      ],
    });
    gate = await startGate(plugin(false), { upstreamPort: upstream.port, name: 'attestation-api' });
    challenged = await startGate(plugin(true), { upstreamPort: upstream.port, name: 'attestation-api-challenges' });
    dpopKey = await dpopKeyPair('ES256');
    const bound = await clientCredentials(as, { dpop: dpopKey });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    dpopToken = bound.body.access_token;
    assert.ok(jwtPayload(dpopToken).cnf?.jkt, 'a DPoP-bound token');
    const plain = await clientCredentials(as);
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    bearerToken = plain.body.access_token;
  } catch (err) {
    await gate?.stop();
    await challenged?.stop();
    await upstream.close();
    await as.close();
    throw err;
  }
});

after(async () => {
  await gate?.stop();
  await challenged?.stop();
  await upstream?.close();
  await as?.close();
});

const wrap = (fn) => keepLogOnFailure(() => [gate, challenged], fn);
const CLIENT_ID = () => as.clients.service.clientId;

/**
 * GET `path` with `token` (DPoP scheme and a fresh proof by `dpopKey` on /orders, Bearer elsewhere) and the
 * attestation headers given. `reached` = what the upstream recorded.
 */
async function call(protocol, {
  path = '/orders', token = dpopToken, scheme = 'DPoP', attestation, pop, proofKey = dpopKey, envoy = gate,
} = {}) {
  const id = randomUUID();
  const headers = { 'x-test-id': id, authorization: `${scheme} ${token}` };
  if (scheme === 'DPoP') headers.dpop = await dpopProof(proofKey, { htm: 'GET', htu: `http://127.0.0.1:${envoy.port}${path}`, accessToken: token });
  if (attestation !== undefined) headers[HEADERS.attestation] = attestation;
  if (pop !== undefined) headers[HEADERS.pop] = pop;
  const res = await send(protocol, envoy.port, { method: 'GET', path, headers });
  res.reached = upstream.requestsWith('x-test-id', id);
  return res;
}

function assertAccepted(res) {
  assert.equal(res.status, 200, `accepted: ${res.body}`);
  assert.equal(res.reached.length, 1, 'the upstream received the request');
}

function assertRefused(res, expected) {
  assert.equal(res.reached.length, 0, 'a refused request never reaches the upstream');
  assertApiRefusal(res, { realm: REALM, ...expected });
}

/** An attestation for `clientId` and `instance` (default: a new key) and its PoP for the API. */
async function attestedPop({ clientId = CLIENT_ID(), instance, audience = as.resource, iat, challenge } = {}) {
  const key = instance ?? await instanceKeyPair();
  return {
    attestation: await attester.issue({ clientId, instanceKey: key, ...(iat === undefined ? {} : { iat, lifetime: 3 * MAX_AGE_SECONDS }) }),
    pop: await attestationPop(key, { audience, challenge }),
  };
}

for (const protocol of PROTOCOLS) {
  describe(`attestation at the API over ${protocol}`, () => {
    it('combined mode: an attestation of the token\'s DPoP key for the token\'s client is accepted', wrap(async () => {
      const attestation = await attester.issue({ clientId: CLIENT_ID(), instanceKey: dpopKey });
      assertAccepted(await call(protocol, { attestation }));
    }));

    it('attestation + PoP next to a DPoP-bound token is accepted', wrap(async () => {
      assertAccepted(await call(protocol, await attestedPop()));
    }));

    it('attestation + PoP next to a bearer token is accepted on a bearer route', wrap(async () => {
      assertAccepted(await call(protocol, { path: '/bearer-orders', token: bearerToken, scheme: 'Bearer', ...(await attestedPop()) }));
    }));

    const DPOP_REFUSAL = { scheme: 'DPoP', error: 'invalid_client_attestation' };
    const cases = [
      ['no attestation', async () => ({}), DPOP_REFUSAL],
      ['an attestation for another client than the token\'s', async () => attestedPop({ clientId: 'another-app' }), DPOP_REFUSAL],
      ['combined mode, the attested key is not the token\'s DPoP key', async () => ({
        attestation: await attester.issue({ clientId: CLIENT_ID(), instanceKey: await instanceKeyPair() }),
      }), DPOP_REFUSAL],
      ['a PoP for the token endpoint instead of the API', async () => attestedPop({ audience: as.issuer }), DPOP_REFUSAL],
      ['a stale attestation', async () => attestedPop({ iat: now() - MAX_AGE_SECONDS - 120 }), { scheme: 'DPoP', error: 'use_fresh_attestation' }],
      ['on a bearer route, an attestation for another client', async () => ({
        path: '/bearer-orders', token: bearerToken, scheme: 'Bearer', ...(await attestedPop({ clientId: 'another-app' })),
      }), { scheme: 'Bearer', error: 'invalid_client_attestation' }],
    ];
    for (const [name, make, expected] of cases) {
      it(`${name}: 401 ${expected.scheme} error="${expected.error}"`, wrap(async () => {
        assertRefused(await call(protocol, await make()), expected);
      }));
    }

    it('with challenges on: a PoP without one gets 401 use_attestation_challenge and a fresh one, which works', wrap(async () => {
      const refused = await call(protocol, { envoy: challenged, ...(await attestedPop()) });
      assertRefused(refused, { scheme: 'DPoP', error: 'use_attestation_challenge' });
      const challenge = refused.headers[HEADERS.challenge];
      assertAccepted(await call(protocol, { envoy: challenged, ...(await attestedPop({ challenge })) }));
      const issued = await send(protocol, challenged.port, { path: CHALLENGE_ENDPOINT });
      assert.equal(issued.status, 200, issued.body);
      assertAccepted(await call(protocol, { envoy: challenged, ...(await attestedPop({ challenge: issued.json.attestation_challenge })) }));
    }));

    it('a bad token with a good attestation gets the token\'s answer', wrap(async () => {
      const forged = `${dpopToken.split('.').slice(0, 2).join('.')}.${Buffer.alloc(64).toString('base64url')}`;
      const res = await call(protocol, { token: forged, ...(await attestedPop()) });
      assert.equal(res.status, 401, res.body);
      assert.equal(res.reached.length, 0);
      assert.match(res.headers['www-authenticate'] ?? '', new RegExp(`^DPoP realm="${REALM}", error="invalid_token"`));
    }));
  });
}
