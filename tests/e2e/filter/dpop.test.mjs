// DPoP (RFC 9449) end to end: the shipped example envoy/examples/dpop/envoy.yaml in the real Envoy (two workers),
// access tokens from the real oidc-provider (tests/e2e/authz; a token request with a DPoP proof gets a token with
// cnf.jkt), proofs made by the `dpop` npm package and, for the broken ones, by `jose` (lib/dpop.mjs) — never by
// tollgate's own code. Every refusal is checked to the exact WWW-Authenticate value, JSON body and metric reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { exportJWK } from 'jose';

import { keepLogOnFailure, startEnvoy } from '../lib/envoy.mjs';
import { exampleConfig, runReadmeBlock } from '../lib/examples.mjs';
import { request } from '../lib/http.mjs';
import { http2Request } from '../lib/raw.mjs';
import { freePort, waitFor } from '../lib/net.mjs';
import {
  algOf, craftProof, dpopKeyPair, proof, proofClaims, publicJwk, thumbprint, unsignedProof,
} from '../lib/dpop.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { clientCredentials, jwtPayload } from '../authz/flow.mjs';
import { counterDelta } from './harness.mjs';

const EXAMPLE = 'envoy/examples/dpop/envoy.yaml';
const REALM = 'tollgate';
/** The example's dpop.algorithms, as the challenge's algs attribute lists them. */
const ALGS = 'ES256 EdDSA RS256 PS256';
const API_BODY = 'hello from the API\n';

/** error_description of each proof problem (the contract's table). */
const PROOF_ERRORS = {
  dpop_missing_proof: 'the DPoP scheme needs a DPoP proof header',
  dpop_multiple_proofs: 'the request carries more than one DPoP proof',
  dpop_too_large: 'the DPoP proof is too large',
  dpop_malformed: 'the DPoP proof is not a compact JWT',
  dpop_bad_header: 'the DPoP proof header is malformed',
  dpop_wrong_type: 'the DPoP proof typ is not dpop+jwt',
  dpop_algorithm_not_allowed: 'the DPoP proof algorithm is not allowed',
  dpop_private_key: 'the DPoP proof key contains private key material',
  dpop_bad_key: 'the DPoP proof key is missing, unusable or does not fit its algorithm',
  dpop_bad_signature: 'the DPoP proof signature is invalid',
  dpop_bad_payload: 'the DPoP proof claims are malformed or incomplete',
  dpop_wrong_method: 'the DPoP proof is for another method',
  dpop_wrong_uri: 'the DPoP proof is for another URI',
  dpop_stale: 'the DPoP proof is too old',
  dpop_issued_in_future: 'the DPoP proof was issued in the future',
  dpop_wrong_ath: 'the DPoP proof does not carry the hash of this access token',
  dpop_key_mismatch: 'the access token is bound to another DPoP key',
  dpop_replayed: 'the DPoP proof was used before',
};

/** error_description of each token binding problem (the contract's table). */
const TOKEN_ERRORS = {
  dpop_bound_token_as_bearer: 'the token is bound to a DPoP key and must be sent with the DPoP scheme',
  dpop_required: 'this resource requires a DPoP-bound token',
  not_dpop_bound: 'the token is not bound to a DPoP key',
  bad_confirmation: 'the token confirmation claim (cnf) is malformed',
};

const now = () => Math.floor(Date.now() / 1000);

let as;
let envoy;
let port;

before(async () => {
  as = await startAuthServer();
  try {
    // The example lists its own origins (dpop.origins): the listener gets a port chosen beforehand, so that the
    // origins name it.
    envoy = await startEnvoy(exampleConfig(EXAMPLE, { authPort: as.port, apiPort: await freePort() }), { name: 'example-dpop', concurrency: 2 });
    port = envoy.listenerPort('api');
    // The filter fetches the keys through discovery after start: wait until an unbound token passes on the route
    // that takes bearer tokens, instead of racing the first fetch.
    const token = await serviceToken();
    await waitFor('the filter to fetch the server keys through discovery', async () => {
      const res = await request(port, { path: '/legacy', headers: { authorization: `Bearer ${token}` } });
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

/** node:test's it(), printing the Envoy log when the step fails. */
function test(name, fn) {
  return it(name, keepLogOnFailure(() => envoy, fn));
}

/** An access token of the service client: DPoP-bound to `key` when given (token_type DPoP), else a Bearer token. */
async function serviceToken({ key, scope = 'orders:read' } = {}) {
  const res = await clientCredentials(as, { scope, dpop: key });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.token_type, key ? 'DPoP' : 'Bearer');
  return res.body.access_token;
}

const origin = () => `http://127.0.0.1:${port}`;

/**
 * GET (or `method`) `path` with `Authorization: DPoP <token>` (scheme `scheme`) and the DPoP header(s) `proofs`
 * (a string, an array for several headers, or undefined for none). Other headers in `headers`.
 */
function send({ method = 'GET', path = '/orders', token, scheme = 'DPoP', proofs, headers = {} } = {}) {
  const all = { ...headers };
  if (token !== undefined) all.authorization = `${scheme} ${token}`;
  if (proofs !== undefined) all.dpop = proofs;
  return request(port, { method, path, headers: all });
}

/** A valid proof by `key` for `method` + this listener's `path` (or `htu`), with the ath of `token`. */
function proofFor(key, { method = 'GET', path = '/orders', htu = `${origin()}${path}`, token, iat } = {}) {
  return proof(key, { htm: method, htu, accessToken: token, iat });
}

function assertAllowed(res, { clientId = as.clients.service.clientId, scope = 'orders:read' } = {}) {
  assert.equal(res.status, 200, `${res.status} ${res.headers['www-authenticate'] ?? ''} ${res.body}`);
  assert.equal(res.body, API_BODY);
  assert.equal(res.headers['x-seen-user-id'], clientId);
  assert.equal(res.headers['x-seen-client-id'], clientId);
  assert.equal(res.headers['x-seen-token-scope'], scope);
}

function assertJsonDenial(res, status, error, description) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.notEqual(res.body, API_BODY, 'a refused request must not reach the API');
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(res.json, { error, error_description: description });
}

/** 401 invalid_dpop_proof for `reason`, exactly as the contract says. */
function assertProofRefused(res, reason) {
  const description = PROOF_ERRORS[reason];
  assert.ok(description, `unknown reason ${reason}`);
  assertJsonDenial(res, 401, 'invalid_dpop_proof', description);
  assert.equal(
    res.headers['www-authenticate'],
    `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="${description}", algs="${ALGS}"`,
  );
}

/** 401 invalid_token for binding `reason`, with the DPoP challenge (`challenge` 'DPoP') or the Bearer one. */
function assertTokenRefused(res, reason, { challenge = 'DPoP' } = {}) {
  const description = TOKEN_ERRORS[reason];
  assert.ok(description, `unknown reason ${reason}`);
  assertJsonDenial(res, 401, 'invalid_token', description);
  const expected = challenge === 'DPoP'
    ? `DPoP realm="${REALM}", error="invalid_token", error_description="${description}", algs="${ALGS}"`
    : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
  assert.equal(res.headers['www-authenticate'], expected);
}

/** Run `fn` and check that it was counted as exactly one denial for `reason` (and nothing allowed). */
async function deniedFor(reason, fn) {
  const { delta, result } = await counterDelta(envoy, fn);
  assert.equal(delta[`denied.${reason}`], 1, `counter denied.${reason}: ${JSON.stringify(delta)}`);
  assert.equal(delta.denied, 1, JSON.stringify(delta));
  assert.equal(delta.allowed, undefined, JSON.stringify(delta));
  return result;
}

async function expectProofRefused(reason, requestOpts) {
  const res = await deniedFor(reason, () => send(requestOpts));
  assertProofRefused(res, reason);
  return res;
}

describe('DPoP through the real Envoy (example envoy/examples/dpop, two workers) with tokens from oidc-provider', () => {
  let key;
  let token;
  before(async () => {
    key = await dpopKeyPair('ES256');
    token = await serviceToken({ key });
    assert.deepEqual(jwtPayload(token).cnf, { jkt: await thumbprint(key) });
  });

  describe('accepted', () => {
    test('a valid proof (ES256, dpop package): 200 and the claims reach the API', async () => {
      const { delta, result } = await counterDelta(envoy, async () => send({ token, proofs: await proofFor(key, { token }) }));
      assertAllowed(result);
      assert.equal(delta.allowed, 1, JSON.stringify(delta));
      assert.equal(delta.denied, undefined, JSON.stringify(delta));
    });

    test('RS256, PS256 and Ed25519 keys of the dpop package, and EdDSA (Ed25519, crafted with jose) are accepted', async () => {
      for (const alg of ['RS256', 'PS256']) {
        const k = await dpopKeyPair(alg);
        const t = await serviceToken({ key: k });
        assertAllowed(await send({ token: t, proofs: await proofFor(k, { token: t }) }));
      }
      // The dpop package names Ed25519 proofs "Ed25519" (RFC 9864's fully-specified name);
      // the filter takes it as EdDSA with an Ed25519 key, which the allow-list names.
      const ed = await dpopKeyPair('Ed25519');
      assert.equal(algOf(ed), 'Ed25519');
      const edToken = await serviceToken({ key: ed });
      assertAllowed(await send({ token: edToken, proofs: await proofFor(ed, { token: edToken }) }));
      const eddsa = await craftProof({
        header: { typ: 'dpop+jwt', alg: 'EdDSA', jwk: await publicJwk(ed) },
        claims: proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: edToken }),
        signer: ed,
      });
      assertAllowed(await send({ token: edToken, proofs: eddsa }));
    });

    test('htu: the query is ignored; scheme and host case, default port and percent-encoding are normalised', async () => {
      assertAllowed(await send({ token, path: '/orders?page=2', proofs: await proofFor(key, { token, htu: `${origin()}/orders` }) }));
      assertAllowed(await send({ token, proofs: await proofFor(key, { token, htu: `HTTP://127.0.0.1:${port}/orders` }) }));
      assertAllowed(await send({ token, proofs: await proofFor(key, { token, htu: `http://LocalHost:${port}/orders` }) }));
      // The example lists its origins (dpop.origins): the Host the client sends does not matter, a proof for an origin
      // not listed is refused even when the client sends that origin's host name
      assertAllowed(await send({ token, headers: { host: 'api.tollgate.test' }, proofs: await proofFor(key, { token, htu: `${origin()}/orders` }) }));
      await expectProofRefused('dpop_wrong_uri', { token, headers: { host: 'api.tollgate.test' }, proofs: await proofFor(key, { token, htu: 'http://api.tollgate.test/orders' }) });
      // %7E is the unreserved "~": the same URI either way
      assertAllowed(await send({ token, path: '/orders/%7Ealice', proofs: await proofFor(key, { token, htu: `${origin()}/orders/~alice` }) }));
      assertAllowed(await send({ token, path: '/orders/~alice', proofs: await proofFor(key, { token, htu: `${origin()}/orders/%7eal%69ce` }) }));
    });

    test('iat inside the window is accepted: 200 s old (max_age 300), 3 s ahead (clock_skew 5)', async () => {
      assertAllowed(await send({ token, proofs: await proofFor(key, { token, iat: now() - 200 }) }));
      assertAllowed(await send({ token, proofs: await proofFor(key, { token, iat: now() + 3 }) }));
    });

    test('h2c: a valid proof for http://<authority><path> passes, one for another path does not', async () => {
      const ok = await http2Request(port, {
        target: '/orders', headers: [['authorization', `DPoP ${token}`], ['dpop', await proofFor(key, { token })]],
      });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.headers['x-seen-client-id'], as.clients.service.clientId);
      const wrong = await http2Request(port, {
        target: '/invoices', headers: [['authorization', `DPoP ${token}`], ['dpop', await proofFor(key, { token, path: '/orders' })]],
      });
      assert.equal(wrong.status, 401, wrong.body);
      assert.deepEqual(wrong.json, { error: 'invalid_dpop_proof', error_description: PROOF_ERRORS.dpop_wrong_uri });
      assert.equal(wrong.headers['www-authenticate'],
        `DPoP realm="${REALM}", error="invalid_dpop_proof", error_description="${PROOF_ERRORS.dpop_wrong_uri}", algs="${ALGS}"`);
    });

    test('the shipped README block, run literally with curl and the dpop CLI', async () => {
      const statuses = await runReadmeBlock('envoy/examples/dpop/README.md', 'KEY=$(mktemp', {
        api: port, admin: envoy.adminPort, authz: as.port,
      });
      assert.deepEqual(statuses, [200, 401, 401, 401, 401, 401, 401]);
    });
  });

  describe('replay', () => {
    test('the same proof twice: the second use is dpop_replayed', async () => {
      const once = await proofFor(key, { token });
      assertAllowed(await send({ token, proofs: once }));
      await expectProofRefused('dpop_replayed', { token, proofs: once });
    });

    test('replay across the two Envoy workers (the jti cache is shared): refused on the other worker too', async () => {
      const workers = async () => {
        const s = await envoy.stats('^listener\\..*\\.worker_[0-9]+\\.downstream_cx_total$');
        return new Map([...s].map(([name, v]) => [/\.worker_(\d+)\./.exec(name)[1], v]));
      };
      /** Send on a new connection; resolves [response, id of the worker that took the connection]. */
      const onWorker = async (opts) => {
        const before = await workers();
        const res = await send(opts);
        const after = await workers();
        const moved = [...after].filter(([id, v]) => v !== (before.get(id) ?? 0)).map(([id]) => id);
        assert.equal(moved.length, 1, `exactly one worker took the connection: ${JSON.stringify([...after])}`);
        return [res, moved[0]];
      };
      assert.equal((await workers()).size, 2, 'Envoy runs two workers');
      const once = await proofFor(key, { token });
      const [first, firstWorker] = await onWorker({ token, proofs: once });
      assertAllowed(first);
      // New connections until one lands on the other worker (the kernel spreads them; bounded tries).
      let replayedElsewhere;
      for (let i = 0; i < 40 && !replayedElsewhere; i += 1) {
        const [res, worker] = await onWorker({ token, proofs: once });
        assertProofRefused(res, 'dpop_replayed');
        if (worker !== firstWorker) replayedElsewhere = res;
      }
      assert.ok(replayedElsewhere, 'no connection reached the other worker in 40 tries');
    });
  });

  describe('refused proofs (each reason exactly)', () => {
    test('wrong method: a proof for POST (and for "get") sent with GET', async () => {
      await expectProofRefused('dpop_wrong_method', { token, proofs: await proofFor(key, { token, method: 'POST' }) });
      await expectProofRefused('dpop_wrong_method', { token, proofs: await proofFor(key, { token, method: 'get' }) });
    });

    test('wrong URI: another path, a host that is not one of the origins, another port, another scheme', async () => {
      await expectProofRefused('dpop_wrong_uri', { token, path: '/invoices', proofs: await proofFor(key, { token, path: '/orders' }) });
      await expectProofRefused('dpop_wrong_uri', { token, proofs: await proofFor(key, { token, htu: `http://api.tollgate.test:${port}/orders` }) });
      await expectProofRefused('dpop_wrong_uri', { token, headers: { host: `api.tollgate.test:${port}` }, proofs: await proofFor(key, { token, htu: `http://api.tollgate.test:${port}/orders` }) });
      await expectProofRefused('dpop_wrong_uri', { token, proofs: await proofFor(key, { token, htu: `http://127.0.0.1:${port + 1}/orders` }) });
      await expectProofRefused('dpop_wrong_uri', { token, proofs: await proofFor(key, { token, htu: `https://127.0.0.1:${port}/orders` }) });
    });

    test('stale iat (400 s old) and future iat (60 s ahead)', async () => {
      await expectProofRefused('dpop_stale', { token, proofs: await proofFor(key, { token, iat: now() - 400 }) });
      await expectProofRefused('dpop_issued_in_future', { token, proofs: await proofFor(key, { token, iat: now() + 60 }) });
    });

    test('wrong ath: the hash of another token; no ath at all is an incomplete proof', async () => {
      const other = await serviceToken({ key });
      await expectProofRefused('dpop_wrong_ath', { token, proofs: await proofFor(key, { token: other }) });
      await expectProofRefused('dpop_bad_payload', { token, proofs: await proofFor(key, {}) });
    });

    test('mismatched jkt: a valid proof (right ath) by a key other than the token is bound to', async () => {
      const thief = await dpopKeyPair('ES256');
      await expectProofRefused('dpop_key_mismatch', { token, proofs: await proofFor(thief, { token }) });
    });

    test('a proof whose jwk is one key but whose signature is by another', async () => {
      const other = await dpopKeyPair('ES256');
      const forged = await craftProof({
        header: { typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJwk(key) },
        claims: proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token }),
        signer: other,
      });
      await expectProofRefused('dpop_bad_signature', { token, proofs: forged });
    });

    test('alg none, as an unsecured JWS is written (header.payload. with an empty signature)', async () => {
      const header = { typ: 'dpop+jwt', jwk: await publicJwk(key) };
      const claims = proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token });
      await expectProofRefused('dpop_algorithm_not_allowed', { token, proofs: unsignedProof({ header, claims }) });
    });

    test('alg none with something in the signature segment, HMAC (HS256), and an asymmetric alg not in the allow-list (ES384)', async () => {
      const header = { typ: 'dpop+jwt', jwk: await publicJwk(key) };
      const claims = () => proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token });
      const none = `${unsignedProof({ header, claims: claims() })}${randomBytes(64).toString('base64url')}`;
      await expectProofRefused('dpop_algorithm_not_allowed', { token, proofs: none });
      const hmac = await craftProof({ header: { ...header, alg: 'HS256' }, claims: claims(), signer: randomBytes(32) });
      await expectProofRefused('dpop_algorithm_not_allowed', { token, proofs: hmac });

      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const es384 = await craftProof({
        header: { typ: 'dpop+jwt', alg: 'ES384', jwk: await exportJWK(p384.publicKey) },
        claims: claims(),
        signer: { privateKey: p384.privateKey },
      });
      await expectProofRefused('dpop_algorithm_not_allowed', { token, proofs: es384 });
    });

    test('private key members in the jwk (d), even with a valid signature', async () => {
      const privateJwk = await exportJWK(key.privateKey);
      assert.ok(privateJwk.d);
      const leaky = await craftProof({
        header: { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: privateJwk.kty, crv: privateJwk.crv, x: privateJwk.x, y: privateJwk.y, d: privateJwk.d } },
        claims: proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token }),
        signer: key,
      });
      await expectProofRefused('dpop_private_key', { token, proofs: leaky });
    });

    test('two DPoP headers (both valid proofs), over HTTP/1.1 and h2c', async () => {
      const two = [await proofFor(key, { token }), await proofFor(key, { token })];
      await expectProofRefused('dpop_multiple_proofs', { token, proofs: two });
      const h2 = await http2Request(port, {
        target: '/orders',
        headers: [['authorization', `DPoP ${token}`], ['dpop', await proofFor(key, { token })], ['dpop', await proofFor(key, { token })]],
      });
      assert.equal(h2.status, 401, h2.body);
      assert.deepEqual(h2.json, { error: 'invalid_dpop_proof', error_description: PROOF_ERRORS.dpop_multiple_proofs });
    });

    test('no proof with the DPoP scheme; not a JWT; typ JWT; a proof without jti', async () => {
      await expectProofRefused('dpop_missing_proof', { token });
      await expectProofRefused('dpop_malformed', { token, proofs: 'not-a-jwt' });
      const claims = proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token });
      const jwt = await craftProof({ header: { typ: 'JWT', alg: 'ES256', jwk: await publicJwk(key) }, claims, signer: key });
      await expectProofRefused('dpop_wrong_type', { token, proofs: jwt });
      const { jti, ...noJti } = proofClaims({ htm: 'GET', htu: `${origin()}/orders`, accessToken: token });
      assert.ok(jti);
      const incomplete = await craftProof({ header: { typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJwk(key) }, claims: noJti, signer: key });
      await expectProofRefused('dpop_bad_payload', { token, proofs: incomplete });
    });
  });

  describe('token binding', () => {
    test('a DPoP-bound token sent as Bearer on the dpop route: dpop_bound_token_as_bearer, DPoP challenge', async () => {
      const res = await deniedFor('dpop_bound_token_as_bearer', () => send({ token, scheme: 'Bearer' }));
      assertTokenRefused(res, 'dpop_bound_token_as_bearer', { challenge: 'DPoP' });
    });

    test('a DPoP-bound token sent as Bearer on the binding "any" route: refused too, with the DPoP challenge (the scheme the client must use, and its algs)', async () => {
      const legacy = await deniedFor('dpop_bound_token_as_bearer', () => send({ path: '/legacy', token, scheme: 'Bearer' }));
      assertTokenRefused(legacy, 'dpop_bound_token_as_bearer', { challenge: 'DPoP' });
    });

    test('an unbound token on the dpop route: as Bearer dpop_required, with the DPoP scheme and a proof not_dpop_bound', async () => {
      const unbound = await serviceToken();
      assert.equal(jwtPayload(unbound).cnf, undefined);
      const bearer = await deniedFor('dpop_required', () => send({ token: unbound, scheme: 'Bearer' }));
      assertTokenRefused(bearer, 'dpop_required', { challenge: 'DPoP' });
      const dpop = await deniedFor('not_dpop_bound', async () => send({ token: unbound, proofs: await proofFor(key, { token: unbound }) }));
      assertTokenRefused(dpop, 'not_dpop_bound', { challenge: 'DPoP' });
      // ... while the route with binding "any" takes it as a bearer token
      assertAllowed(await send({ path: '/legacy', token: unbound, scheme: 'Bearer' }));
    });

    test('no token: the DPoP challenge with algs on the dpop route, the Bearer one on the other', async () => {
      const res = await send({});
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], `DPoP realm="${REALM}", algs="${ALGS}"`);
      assert.notEqual(res.body, API_BODY);
      const legacy = await send({ path: '/legacy' });
      assert.equal(legacy.status, 401);
      assert.equal(legacy.headers['www-authenticate'], `Bearer realm="${REALM}"`);
    });

    test('a token whose cnf is malformed (signed by the server\'s key) is bad_confirmation', async () => {
      const t = now();
      const claims = {
        iss: as.issuer, aud: as.resource, sub: 'x', client_id: 'x', scope: 'orders:read', iat: t, exp: t + 300, jti: randomBytes(8).toString('hex'),
      };
      for (const cnf of ['not-an-object', { jkt: 42 }]) {
        const bad = await as.signToken({ ...claims, cnf, jti: randomBytes(8).toString('hex') });
        const res = await deniedFor('bad_confirmation', async () => send({ token: bad, proofs: await proofFor(key, { token: bad }) }));
        assertTokenRefused(res, 'bad_confirmation', { challenge: 'DPoP' });
      }
    });
  });

  describe('the verified-token cache never lets a bound token skip its proof', () => {
    test('after a 200, the same token with a bad proof, no proof, or as Bearer is still refused; a fresh proof passes', async () => {
      const k = await dpopKeyPair('ES256');
      const t = await serviceToken({ key: k });
      assertAllowed(await send({ token: t, proofs: await proofFor(k, { token: t }) }));
      await expectProofRefused('dpop_wrong_method', { token: t, proofs: await proofFor(k, { token: t, method: 'DELETE' }) });
      await expectProofRefused('dpop_key_mismatch', { token: t, proofs: await proofFor(await dpopKeyPair(), { token: t }) });
      await expectProofRefused('dpop_missing_proof', { token: t });
      assertTokenRefused(await send({ token: t, scheme: 'Bearer' }), 'dpop_bound_token_as_bearer');
      assertAllowed(await send({ token: t, proofs: await proofFor(k, { token: t }) }));
    });
  });
});
