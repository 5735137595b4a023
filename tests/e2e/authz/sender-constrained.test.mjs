// Sender-constrained access tokens from the real oidc-provider: DPoP-bound (RFC 9449, cnf.jkt) for client
// credentials, the code flow and refresh, and certificate-bound (RFC 8705 §3, cnf.x5t#S256) with the client
// certificate handed over by a TLS-terminating proxy, which the test plays. Proofs by the `dpop` npm package,
// certificates by openssl (lib/certs.mjs); nothing of tollgate's own code is involved.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';

import { DPOP_ALGS, startAuthServer } from './server.mjs';
import {
  authorizationRequestUrl, clientCredentials, exchangeCode, jwtHeader, jwtPayload, pkcePair, randomState, refresh,
  runBrowserFlow,
} from './flow.mjs';
import { dpopKeyPair, joseThumbprint, proof, thumbprint } from '../lib/dpop.mjs';
import { certThumbprints, makeTestPki } from '../lib/certs.mjs';

const REDIRECT_URI = 'http://127.0.0.1:45998/app/callback';

let as;
let pki;
before(async () => {
  as = await startAuthServer({ redirectUris: [REDIRECT_URI] });
  pki = await makeTestPki();
});
after(async () => {
  await as?.close();
  pki?.cleanup();
});

async function verify(token) {
  const jwks = createLocalJWKSet(await (await fetch(as.jwksUrl)).json());
  return (await jwtVerify(token, jwks, { issuer: as.issuer, audience: as.resource, typ: 'at+jwt' })).payload;
}

/** 400 invalid_grant with oidc-provider's generic description; the specific reason is its error_detail. */
function assertGrantRefused(res, detail) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.deepEqual(res.body, { error: 'invalid_grant', error_description: 'grant request is invalid' });
  assert.deepEqual(as.lastGrantError(), { error: 'invalid_grant', detail });
}

function ok(res) {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

describe('discovery', () => {
  test('advertises DPoP algorithms and certificate-bound access tokens', async () => {
    const doc = await (await fetch(as.discoveryUrl)).json();
    assert.deepEqual(doc.dpop_signing_alg_values_supported, DPOP_ALGS);
    assert.equal(doc.tls_client_certificate_bound_access_tokens, true);
  });
});

describe('DPoP-bound client credentials', () => {
  test('a proof by the dpop package binds the JWT access token to its key (cnf.jkt = RFC 7638 thumbprint)', async () => {
    for (const alg of ['ES256', 'RS256', 'PS256', 'Ed25519']) {
      const key = await dpopKeyPair(alg);
      const body = ok(await clientCredentials(as, { scope: 'orders:read', dpop: key }));
      assert.equal(body.token_type, 'DPoP', alg);
      assert.deepEqual(jwtHeader(body.access_token), { alg: 'ES256', typ: 'at+jwt', kid: as.currentKid() });
      const claims = await verify(body.access_token);
      const jkt = await thumbprint(key);
      assert.equal(jkt, await joseThumbprint(key), 'dpop and jose agree on the thumbprint');
      assert.deepEqual(claims.cnf, { jkt }, alg);
      assert.equal(claims.client_id, as.clients.service.clientId);
      assert.equal(claims.scope, 'orders:read');
    }
  });

  test('without a proof the same client gets an unbound Bearer token', async () => {
    const body = ok(await clientCredentials(as, { scope: 'orders:read' }));
    assert.equal(body.token_type, 'Bearer');
    assert.equal((await verify(body.access_token)).cnf, undefined);
  });

  test('the server checks proofs: another URI, a replayed proof and a stale one are refused', async () => {
    const key = await dpopKeyPair();
    const wrongUri = await clientCredentials(as, { dpop: await proof(key, { htm: 'POST', htu: `${as.issuer}/other` }) });
    assert.equal(wrongUri.status, 400);
    assert.deepEqual(wrongUri.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof htu mismatch' });

    const once = await proof(key, { htm: 'POST', htu: as.tokenUrl });
    ok(await clientCredentials(as, { dpop: once }));
    const replay = await clientCredentials(as, { dpop: once });
    assertGrantRefused(replay, 'DPoP proof JWT Replay detected');

    const stale = await clientCredentials(as, {
      dpop: await proof(key, { htm: 'POST', htu: as.tokenUrl, iat: Math.floor(Date.now() / 1000) - 600 }),
    });
    assert.equal(stale.status, 400);
    assert.deepEqual(stale.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof iat is not recent enough' });
  });
});

describe('certificate-bound client credentials (the test plays the TLS-terminating proxy)', () => {
  const mtls = () => as.clients.serviceMtls;

  test('the token carries cnf.x5t#S256 = base64url SHA-256 of the DER certificate the proxy passed', async () => {
    const a = ok(await clientCredentials(as, { client: mtls(), scope: 'orders:read', certificate: pki.a.pem }));
    assert.equal(a.token_type, 'Bearer');
    const claims = await verify(a.access_token);
    assert.deepEqual(claims.cnf, { 'x5t#S256': pki.a.x5tS256 });
    assert.equal(claims.client_id, mtls().clientId);
    // the hex form Envoy reports for the same certificate encodes the same 32 bytes
    assert.equal(Buffer.from(pki.a.x5tS256, 'base64url').toString('hex'), pki.a.hex);
    assert.equal(certThumbprints(pki.a.pem).x5tS256, pki.a.x5tS256);

    const b = ok(await clientCredentials(as, { client: mtls(), certificate: pki.b.pem }));
    assert.deepEqual((await verify(b.access_token)).cnf, { 'x5t#S256': pki.b.x5tS256 });
    assert.notEqual(pki.a.x5tS256, pki.b.x5tS256);
  });

  test('a bound client without a certificate (or with garbage in the header) gets no token', async () => {
    for (const certificate of [undefined, 'not a certificate']) {
      const res = await clientCredentials(as, { client: mtls(), certificate });
      assertGrantRefused(res, 'mutual TLS client certificate not provided');
    }
  });

  test('the unbound service client ignores the header; a token is never bound to a certificate and a key at once', async () => {
    const plain = ok(await clientCredentials(as, { certificate: pki.a.pem }));
    assert.equal((await verify(plain.access_token)).cnf, undefined);
    const both = await clientCredentials(as, { client: mtls(), certificate: pki.a.pem, dpop: await dpopKeyPair() });
    assert.equal(both.status, 400);
    assert.deepEqual(both.body, { error: 'invalid_request', error_description: 'multiple proof-of-possession mechanisms are not allowed' });
  });
});

describe('DPoP-bound code flow and refresh (public client tollgate-mobile-dpop)', () => {
  const client = () => as.clients.mobileDpop;

  async function authorize(key) {
    const { verifier, challenge } = pkcePair();
    const url = authorizationRequestUrl(as, {
      clientId: client().clientId, redirectUri: REDIRECT_URI, state: randomState(), codeChallenge: challenge,
      // RFC 9449 §10: the authorization code is bound to the app's key too
      extra: key ? { dpop_jkt: await thumbprint(key) } : {},
    });
    const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
    const code = redirect.searchParams.get('code');
    assert.ok(code, redirect.href.replace(/code=[^&]+/, 'code=…'));
    return { code, verifier };
  }

  test('code exchange and every refresh need a proof by the same key; the tokens are bound to it', async () => {
    const key = await dpopKeyPair();
    const jkt = await thumbprint(key);
    const { code, verifier } = await authorize(key);
    const first = ok(await exchangeCode(as, { clientId: client().clientId, redirectUri: REDIRECT_URI, code, verifier, dpop: key }));
    assert.equal(first.token_type, 'DPoP');
    assert.equal(typeof first.refresh_token, 'string');
    const claims = await verify(first.access_token);
    assert.deepEqual(claims.cnf, { jkt });
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, client().clientId);

    // The refresh token is bound to the key (public client): another key, or none, is refused ...
    const thief = await dpopKeyPair();
    const stolen = await refresh(as, first.refresh_token, { clientId: client().clientId, dpop: thief });
    assertGrantRefused(stolen, 'failed jkt verification');
    const bare = await refresh(as, first.refresh_token, { clientId: client().clientId });
    assertGrantRefused(bare, 'DPoP proof JWT not provided');

    // ... and neither attempt used it up: the owner refreshes, the new access token is bound to the same key.
    const second = ok(await refresh(as, first.refresh_token, { clientId: client().clientId, dpop: key }));
    assert.equal(second.token_type, 'DPoP');
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.deepEqual((await verify(second.access_token)).cnf, { jkt });
  });

  test('the client registered for DPoP gets no token without a proof, nor with a key other than dpop_jkt', async () => {
    const key = await dpopKeyPair();
    const noProof = await authorize(key);
    const bare = await exchangeCode(as, { clientId: client().clientId, redirectUri: REDIRECT_URI, ...noProof });
    assertGrantRefused(bare, 'DPoP proof JWT not provided');

    const other = await authorize(key);
    const wrongKey = await exchangeCode(as, {
      clientId: client().clientId, redirectUri: REDIRECT_URI, ...other, dpop: await dpopKeyPair(),
    });
    assertGrantRefused(wrongKey, 'DPoP proof key thumbprint does not match dpop_jkt');
  });

  test('the plain mobile client still gets Bearer tokens without a proof, DPoP-bound ones with', async () => {
    const { verifier, challenge } = pkcePair();
    const url = authorizationRequestUrl(as, { redirectUri: REDIRECT_URI, state: randomState(), codeChallenge: challenge });
    const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
    const body = ok(await exchangeCode(as, { redirectUri: REDIRECT_URI, code: redirect.searchParams.get('code'), verifier }));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(jwtPayload(body.access_token).cnf, undefined);
    const key = await dpopKeyPair();
    const bound = ok(await refresh(as, body.refresh_token, { dpop: key }));
    assert.equal(bound.token_type, 'DPoP');
    assert.deepEqual(jwtPayload(bound.access_token).cnf, { jkt: await thumbprint(key) });
  });

  test('no server errors were reported', () => {
    assert.deepEqual(as.serverErrors, []);
  });
});
