// The shipped example envoy/examples/attestation/ in the real Envoy (two workers) in front of the real
// oidc-provider (tests/e2e/authz): its README's curl block run literally, then the attested API route with a real
// service token, an attestation signed with the example's TEST ONLY attester key and a PoP carrying the example's
// challenge (all by `jose`, lib/attestation.mjs), and the gate's refusals never reaching the server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK } from 'jose';
import { keepLogOnFailure, startEnvoy } from '../../lib/envoy.mjs';
import { exampleConfig, runReadmeBlock } from '../../lib/examples.mjs';
import { request } from '../../lib/http.mjs';
import { waitFor } from '../../lib/net.mjs';
import { REPO } from '../../lib/paths.mjs';
import {
  ATTESTATION_TYP, HEADERS, attestationPop, instanceKeyPair, publicJwkOf, signJwt,
} from '../../lib/attestation.mjs';
import { startAuthServer } from '../../authz/server.mjs';
import { clientCredentials } from '../../authz/flow.mjs';
import { FORM, assertApiRefusal, assertTokenRefusal, form, send } from './client.mjs';

const EXAMPLE = 'envoy/examples/attestation/envoy.yaml';
const README = 'envoy/examples/attestation/README.md';
const ATTESTER_KEY = JSON.parse(readFileSync(path.join(REPO, 'envoy/examples/attestation/TEST-ONLY-attester.jwk.json'), 'utf8'));
const API_AUDIENCE = 'https://api.tollgate.test';
const now = () => Math.floor(Date.now() / 1000);

let as;
let envoy;
let port;
let serviceToken;

before(async () => {
  as = await startAuthServer();
  try {
    envoy = await startEnvoy(exampleConfig(EXAMPLE, { authPort: as.port }), { name: 'example-attestation', concurrency: 2 });
    port = envoy.listenerPort('api');
    const issued = await clientCredentials(as);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    serviceToken = issued.body.access_token;
    // the filter fetches the server's keys through discovery after start
    await waitFor('the filter to fetch the server keys through discovery', async () => {
      const res = await request(port, { path: '/orders', headers: { authorization: `Bearer ${serviceToken}` } });
      return res.status === 200;
    }, { timeoutMs: 20_000, intervalMs: 200 });
  } catch (err) {
    await envoy?.stop();
    await as.close();
    throw err;
  }
});

after(async () => {
  await envoy?.stop();
  await as?.close();
});

const wrap = (fn) => keepLogOnFailure(() => envoy, fn);

/** An attestation signed with the example's TEST ONLY attester key, for `clientId` and the instance key. */
async function exampleAttestation(clientId, instance) {
  const key = await importJWK(ATTESTER_KEY, 'ES256');
  return signJwt({
    header: { alg: 'ES256', typ: ATTESTATION_TYP, kid: ATTESTER_KEY.kid },
    claims: { sub: clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(instance) } },
    signer: { privateKey: key },
  });
}

async function challenge() {
  const res = await send('http1', port, { path: '/attestation/challenge' });
  assert.equal(res.status, 200, res.body);
  return res.json.attestation_challenge;
}

describe('the shipped attestation example', () => {
  it('its README block, run literally, answers as documented', wrap(async () => {
    await runReadmeBlock(README, 'attestation-cli.mjs attest', { api: port, admin: envoy.adminPort, authz: as.port });
  }));

  it('a refused refresh grant never reaches the authorization server (the buffer filter after tollgate)', wrap(async () => {
    const before = as.requests.token;
    for (const protocol of ['http1', 'h2c']) {
      const res = await send(protocol, port, {
        path: '/token', headers: { 'content-type': FORM }, body: form({ grant_type: 'refresh_token', refresh_token: 'made-up', client_id: 'tollgate-mobile' }),
      });
      assertTokenRefusal(res, { status: 401, error: 'invalid_client' });
    }
    assert.equal(as.requests.token, before);
  }));

  it('/attested: a service token with an attestation for its client and a PoP with the challenge passes', wrap(async () => {
    const instance = await instanceKeyPair();
    const headers = {
      authorization: `Bearer ${serviceToken}`,
      [HEADERS.attestation]: await exampleAttestation(as.clients.service.clientId, instance),
      [HEADERS.pop]: await attestationPop(instance, { audience: API_AUDIENCE, challenge: await challenge() }),
    };
    const res = await send('h2c', port, { method: 'GET', path: '/attested', headers });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, 'hello from the API\n');
    assert.equal(res.headers['x-seen-client-id'], as.clients.service.clientId);
  }));

  it('/attested: an attestation for another client is refused', wrap(async () => {
    const instance = await instanceKeyPair();
    const headers = {
      authorization: `Bearer ${serviceToken}`,
      [HEADERS.attestation]: await exampleAttestation('another-app', instance),
      [HEADERS.pop]: await attestationPop(instance, { audience: API_AUDIENCE, challenge: await challenge() }),
    };
    const res = await send('http1', port, { method: 'GET', path: '/attested', headers });
    assertApiRefusal(res, { scheme: 'Bearer', realm: 'tollgate', error: 'invalid_client_attestation' });
  }));
});
