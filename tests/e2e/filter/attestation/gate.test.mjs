// The token-endpoint gate end to end: the real Envoy with the built filter in front of the real oidc-provider
// (tests/e2e/authz), which is configured WITHOUT attestation: the public client `tollgate-mobile-dpop`
// (token_endpoint_auth_method none) whose refresh tokens are bound to the app's DPoP key. The gate alone decides
// whether a refresh grant carries a valid client attestation and proof; the server's token counter shows what
// reached it. Attestations come from the TEST ONLY attester, PoPs and DPoP proofs from `jose` and `dpop`
// (lib/attestation.mjs, lib/dpop.mjs), never from tollgate's code. Over HTTP/1.1 and h2c.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { keepLogOnFailure } from '../../lib/envoy.mjs';
import {
  craftProof, proofClaims, publicJwk, thumbprint,
} from '../../lib/dpop.mjs';
import {
  HEADERS, attestationPop, instanceKeyPair, privateJwkOf, publicJwkOf, signJwt, startTestAttester, unsignedJwt,
  ATTESTATION_TYP, POP_TYP,
} from '../../lib/attestation.mjs';
import { startAuthServer } from '../../authz/server.mjs';
import { jwtPayload } from '../../authz/flow.mjs';
import { decisionDelta, decisionStats } from '../harness.mjs';
import {
  FORM, PROTOCOLS, assertTokenRefusal, dpopProof, form, send,
} from './client.mjs';
import {
  CHALLENGE_ENDPOINT, CHALLENGE_SECRET, MAX_AGE_SECONDS, REDIRECT_URI, asTokenRequests, attestationConfig, dpopSession, startGate, tokenUrl,
} from './stack.mjs';

const now = () => Math.floor(Date.now() / 1000);

let as;
let attester;
let gate; // challenges off
let challenged; // challenges on
let twin; // challenges on, the same secret from the VM's environment
/** Every attestation and PoP sent, to check that none of them reaches a log line. */
const sent = [];

/** The challenge secret of the twin Envoy, read from its VM's environment (TEST ONLY: the same value as inline). */
const SECRET_VARIABLE = 'TOLLGATE_TEST_ATTESTATION_CHALLENGE_SECRET';

function pluginConfig({ challenges, secretFromEnv = false, lifetime }) {
  const attestation = attestationConfig(attester, { challenges });
  if (secretFromEnv) attestation.challenges.secret = { env: SECRET_VARIABLE };
  if (lifetime !== undefined) attestation.challenges.lifetime_seconds = lifetime;
  return {
    realm: 'authz',
    providers: [{ name: 'authz', issuer: as.issuer, audiences: [as.resource], jwks: { inline: as.publicJwks() } }],
    client_attestation: attestation,
    rules: [
      {
        match: { path: '/token', methods: ['POST'] },
        anonymous: true,
        client_attestation: { audience: as.issuer, grant_types: ['refresh_token'] },
      },
      { match: { prefix: '/' }, anonymous: true },
    ],
  };
}

before(async () => {
  as = await startAuthServer({ redirectUris: [REDIRECT_URI] });
  try {
    attester = await startTestAttester();
    // two workers: a replayed PoP must be caught whichever worker gets it (the replay store is shared)
    gate = await startGate(pluginConfig({ challenges: false }), { upstreamPort: as.port, name: 'attestation-gate', concurrency: 2 });
    challenged = await startGate(pluginConfig({ challenges: true }), { upstreamPort: as.port, name: 'attestation-gate-challenges' });
    // Another Envoy with the same secret, read from its VM's environment: a challenge from one is good at the other.
    // (`tollgate check`, run on every configuration the suite loads, reads the variable from its own environment.)
    process.env[SECRET_VARIABLE] = CHALLENGE_SECRET;
    twin = await startGate(pluginConfig({ challenges: true, secretFromEnv: true }), {
      upstreamPort: as.port, name: 'attestation-gate-twin', vmEnvironment: { [SECRET_VARIABLE]: CHALLENGE_SECRET },
    });
  } catch (err) {
    await gate?.stop();
    await challenged?.stop();
    await as.close();
    throw err;
  }
});

after(async () => {
  await gate?.stop();
  await challenged?.stop();
  await twin?.stop();
  await as?.close();
});

const wrap = (fn) => keepLogOnFailure(() => [gate, challenged, twin], fn);

/**
 * A refresh grant for `session` through `envoy` over `protocol`. `attestation` / `pop` go into their headers when
 * given (an array sends the header once per element); `dpop` is the DPoP proof (default: a fresh one by the
 * session's key, which the refresh token is bound to; null: none). Resolves the answer plus `reachedAs`: how many token
 * requests the authorization server received meanwhile.
 */
async function refresh(envoy, protocol, session, { attestation, pop, dpop, body, extraHeaders = {} } = {}) {
  const headers = { 'content-type': FORM, ...extraHeaders };
  if (dpop !== null) headers.dpop = dpop ?? await dpopProof(session.key, { htu: tokenUrl(envoy) });
  if (attestation !== undefined) headers[HEADERS.attestation] = attestation;
  if (pop !== undefined) headers[HEADERS.pop] = pop;
  for (const value of [attestation, pop].flat()) if (value) sent.push(value);
  const before = asTokenRequests(as);
  const res = await send(protocol, envoy.port, {
    path: '/token',
    headers,
    body: body ?? form({ grant_type: 'refresh_token', client_id: session.clientId, refresh_token: session.refreshToken }),
  });
  res.reachedAs = asTokenRequests(as) - before;
  return res;
}

/** The server issued new tokens bound to the session's key; the session moves on to the rotated refresh token. */
function assertRefreshed(res, session) {
  assert.equal(res.status, 200, `the authorization server issued tokens: ${res.body}`);
  assert.equal(res.reachedAs, 1, 'the refresh reached the authorization server once');
  assert.equal(res.json.token_type, 'DPoP');
  assert.ok(res.json.refresh_token && res.json.refresh_token !== session.refreshToken, 'a rotated refresh token');
  session.refreshToken = res.json.refresh_token;
  return res.json;
}

/** A refusal by the gate, before the authorization server. */
function assertGateRefused(res, expected) {
  assert.equal(res.reachedAs, 0, 'a refused request never reaches the authorization server');
  return assertTokenRefusal(res, expected);
}

/** A valid attestation for the session's client and a fresh instance key, and a PoP for the server's issuer. */
async function attestedPop(session, { challenge } = {}) {
  const instance = await instanceKeyPair();
  const attestation = await attester.issue({ clientId: session.clientId, instanceKey: instance });
  const pop = await attestationPop(instance, { audience: as.issuer, challenge });
  return { instance, attestation, pop };
}

describe('the replay store in combined mode', () => {
  it('a combined-mode DPoP proof used twice is refused the second time (attestation_dpop_proof_invalid)', wrap(async () => {
    const session = await dpopSession(as, gate);
    const attestation = await attester.issue({ clientId: session.clientId, instanceKey: session.key });
    const dpop = await dpopProof(session.key, { htu: tokenUrl(gate) });
    assertRefreshed(await refresh(gate, 'http1', session, { attestation, dpop }), session);
    const before = await decisionStats(gate);
    assertGateRefused(await refresh(gate, 'h2c', session, { attestation, dpop }), { status: 401, error: 'invalid_client' });
    const delta = decisionDelta(before, await decisionStats(gate));
    assert.equal(delta['denied.attestation_dpop_proof_invalid'], 1, JSON.stringify(delta));
  }));

  it('a PoP jti equal to a DPoP proof jti seen before is not a replay (separate key spaces)', wrap(async () => {
    const session = await dpopSession(as, gate);
    const jti = randomUUID();
    const attestation = await attester.issue({ clientId: session.clientId, instanceKey: session.key });
    // combined mode: a DPoP proof (crafted by jose, the dpop package picks its own jti) with this jti is stored
    const dpop = await craftProof({
      header: { typ: 'dpop+jwt', alg: 'ES256', jwk: await publicJwk(session.key) },
      claims: { ...proofClaims({ htm: 'POST', htu: tokenUrl(gate) }), jti },
      signer: session.key,
    });
    assertRefreshed(await refresh(gate, 'http1', session, { attestation, dpop }), session);
    // PoP mode with a PoP of the same jti
    const instance = await instanceKeyPair();
    assertRefreshed(await refresh(gate, 'http1', session, {
      attestation: await attester.issue({ clientId: session.clientId, instanceKey: instance }),
      pop: await attestationPop(instance, { audience: as.issuer, jti }),
    }), session);
  }));
});

describe('a stale challenge', () => {
  // Its own Envoy with the shortest challenge lifetime the configuration allows (10 s): a challenge is fetched, the
  // test waits past its lifetime (a loaded machine only makes it staler), then uses it.
  const LIFETIME = 10;
  it(`a challenge older than lifetime_seconds: 400 use_attestation_challenge with a fresh one, which works`, async () => {
    const shortLived = await startGate(pluginConfig({ challenges: true, lifetime: LIFETIME }), { upstreamPort: as.port, name: 'attestation-gate-short-challenges' });
    try {
      await keepLogOnFailure(shortLived, async () => {
        const session = await dpopSession(as, shortLived);
        const issued = await send('http1', shortLived.port, { path: CHALLENGE_ENDPOINT });
        assert.equal(issued.status, 200, issued.body);
        await new Promise((r) => { setTimeout(r, (LIFETIME + 1.5) * 1000); });
        const stale = issued.json.attestation_challenge;
        const fresh = assertGateRefused(await refresh(shortLived, 'http1', session, await attestedPop(session, { challenge: stale })), { status: 400, error: 'use_attestation_challenge' });
        assert.notEqual(fresh, stale);
        assertRefreshed(await refresh(shortLived, 'h2c', session, await attestedPop(session, { challenge: fresh })), session);
      })();
    } finally {
      await shortLived.stop();
    }
  });
});

for (const protocol of PROTOCOLS) {
  describe(`token-endpoint gate over ${protocol}`, () => {
    it('the authorization_code grant passes without any attestation and the server issues DPoP-bound tokens', wrap(async () => {
      const session = await dpopSession(as, gate, { protocol });
      assert.equal(jwtPayload(session.accessToken).cnf?.jkt, await thumbprint(session.key));
      assert.ok(session.refreshToken, 'a refresh token');
    }));

    it('a refresh grant without attestation is refused with invalid_client before the server', wrap(async () => {
      const session = await dpopSession(as, gate, { protocol });
      const before = await decisionStats(gate);
      const res = await refresh(gate, protocol, session);
      assertGateRefused(res, { status: 401, error: 'invalid_client' });
      const delta = decisionDelta(before, await decisionStats(gate));
      assert.equal(delta.denied, 1, JSON.stringify(delta));
      assert.equal(delta['denied.attestation_missing'], 1, JSON.stringify(delta));
      // the same session still refreshes once it is attested: the refused request consumed nothing
      assertRefreshed(await refresh(gate, protocol, session, await attestedPop(session)), session);
    }));

    it('attestation + PoP: the server issues new tokens, bound to the refresh token\'s DPoP key', wrap(async () => {
      const session = await dpopSession(as, gate, { protocol });
      const tokens = assertRefreshed(await refresh(gate, protocol, session, await attestedPop(session)), session);
      assert.equal(jwtPayload(tokens.access_token).cnf?.jkt, await thumbprint(session.key));
      // and again, with a new PoP: each refresh needs its own proof
      assertRefreshed(await refresh(gate, protocol, session, await attestedPop(session)), session);
    }));

    it('combined mode: the attested key is the refresh token\'s DPoP key and the DPoP proof is the PoP', wrap(async () => {
      const session = await dpopSession(as, gate, { protocol });
      const attestation = await attester.issue({ clientId: session.clientId, instanceKey: session.key });
      const tokens = assertRefreshed(await refresh(gate, protocol, session, { attestation }), session);
      assert.equal(jwtPayload(tokens.access_token).cnf?.jkt, await thumbprint(session.key));
    }));

    it('a replayed PoP is refused every later time, over either protocol, by either worker', wrap(async () => {
      const session = await dpopSession(as, gate, { protocol });
      const first = await attestedPop(session);
      assertRefreshed(await refresh(gate, protocol, session, first), session);
      const before = await decisionStats(gate);
      // each request on a new connection: the two workers share them out
      const replays = [...PROTOCOLS, ...PROTOCOLS, ...PROTOCOLS];
      for (const replay of replays) {
        assertGateRefused(await refresh(gate, replay, session, first), { status: 401, error: 'invalid_client' });
      }
      const delta = decisionDelta(before, await decisionStats(gate));
      assert.equal(delta['denied.attestation_pop_replayed'], replays.length, JSON.stringify(delta));
    }));

    describe('refused and never forwarded', () => {
      let session;
      before(async () => {
        session = await dpopSession(as, gate, { protocol });
      });

      /** name, the headers for the session (attestation, pop, dpop), the answer the contract gives, the metric reason. */
      const INVALID_CLIENT = { status: 401, error: 'invalid_client' };
      const cases = [
        ['an attestation without a proof (no PoP, no DPoP proof)', async (s) => ({
          attestation: (await attestedPop(s)).attestation, dpop: null,
        }), INVALID_CLIENT, 'attestation_pop_missing'],
        ['a PoP without an attestation', async (s) => ({ pop: (await attestedPop(s)).pop }), INVALID_CLIENT, 'attestation_missing'],
        ['an attestation for another key than the one that signed the PoP', async (s) => {
          const { pop } = await attestedPop(s);
          const attestation = await attester.issue({ clientId: s.clientId, instanceKey: await instanceKeyPair() });
          return { attestation, pop };
        }, INVALID_CLIENT, 'attestation_pop_invalid_signature'],
        ['an attestation for another client', async () => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: 'another-app', instanceKey: instance }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_client_mismatch'],
        ['an expired attestation', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance, iat: now() - 600, exp: now() - 120 }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_expired'],
        ['a stale attestation (iat older than max_age_seconds)', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance, iat: now() - MAX_AGE_SECONDS - 120, lifetime: 3 * MAX_AGE_SECONDS }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, { status: 400, error: 'use_fresh_attestation' }, 'attestation_stale'],
        ['a PoP for another audience', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance }),
            pop: await attestationPop(instance, { audience: 'https://login.other.test' }),
          };
        }, INVALID_CLIENT, 'attestation_pop_wrong_audience'],
        ['a PoP older than pop_max_age_seconds', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance }),
            pop: await attestationPop(instance, { audience: as.issuer, iat: now() - 900 }),
          };
        }, INVALID_CLIENT, 'attestation_pop_stale'],
        // `alg: none` with its empty signature is not a compact JWS at all: refused as malformed, before its alg
        ['an attestation with alg none', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: unsignedJwt({
              header: { typ: ATTESTATION_TYP, kid: attester.kid },
              claims: { iss: attester.issuer, sub: s.clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(instance) } },
            }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_malformed'],
        ['an HMAC attestation', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await signJwt({
              header: { alg: 'HS256', typ: ATTESTATION_TYP, kid: attester.kid },
              claims: { iss: attester.issuer, sub: s.clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(instance) } },
              signer: new Uint8Array(randomBytes(32)),
            }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_algorithm_not_allowed'],
        ['an attestation signed by a key that is no attester\'s, under the attester\'s kid', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await signJwt({
              header: { alg: 'ES256', typ: ATTESTATION_TYP, kid: attester.kid },
              claims: { iss: attester.issuer, sub: s.clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(instance) } },
              signer: await instanceKeyPair(),
            }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_invalid_signature'],
        ['an attestation from another issuer than the attester\'s', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance, claims: { iss: 'https://attester.other.test' } }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_wrong_issuer'],
        ['a private key in cnf.jwk', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance, cnf: { jwk: await privateJwkOf(instance) } }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_private_key'],
        ['an attestation whose typ is not oauth-client-attestation+jwt', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance, header: { typ: 'JWT' } }),
            pop: await attestationPop(instance, { audience: as.issuer }),
          };
        }, INVALID_CLIENT, 'attestation_wrong_type'],
        ['a PoP whose typ is not oauth-client-attestation-pop+jwt', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance }),
            pop: await attestationPop(instance, { audience: as.issuer, header: { typ: 'dpop+jwt' } }),
          };
        }, INVALID_CLIENT, 'attestation_pop_wrong_type'],
        ['a PoP with alg none', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance }),
            pop: unsignedJwt({ header: { typ: POP_TYP }, claims: { aud: as.issuer, jti: randomBytes(12).toString('hex'), iat: now() } }),
          };
        }, INVALID_CLIENT, 'attestation_pop_malformed'],
        ['an HMAC PoP', async (s) => {
          const instance = await instanceKeyPair();
          return {
            attestation: await attester.issue({ clientId: s.clientId, instanceKey: instance }),
            pop: await attestationPop(instance, { audience: as.issuer, signer: new Uint8Array(randomBytes(32)) }),
          };
        }, INVALID_CLIENT, 'attestation_pop_algorithm_not_allowed'],
        ['two attestations', async (s) => {
          const { attestation, pop } = await attestedPop(s);
          return { attestation: [attestation, attestation], pop };
        }, INVALID_CLIENT, 'attestation_multiple'],
        ['combined mode with a DPoP key that is not the attested key', async (s) => ({
          attestation: await attester.issue({ clientId: s.clientId, instanceKey: await instanceKeyPair() }),
        }), INVALID_CLIENT, 'attestation_pop_key_mismatch'],
        ['a body client_id that is not the attestation\'s sub', async (s) => ({
          ...(await attestedPop(s)),
          body: form({ grant_type: 'refresh_token', client_id: 'another-app', refresh_token: s.refreshToken }),
        }), INVALID_CLIENT, 'attestation_client_mismatch'],
      ];

      for (const [name, make, expected, reason] of cases) {
        it(`${name}: ${expected.status} ${expected.error} (${reason})`, wrap(async () => {
          const before = await decisionStats(gate);
          const res = await refresh(gate, protocol, session, await make(session));
          assertGateRefused(res, expected);
          const delta = decisionDelta(before, await decisionStats(gate));
          assert.equal(delta.denied, 1, `counted as one denial: ${JSON.stringify(delta)}`);
          assert.equal(delta[`denied.${reason}`], 1, `the reason: ${JSON.stringify(delta)}`);
        }));
      }

      it('the attestation signed by another key is counted as attestation_invalid_signature', wrap(async () => {
        const instance = await instanceKeyPair();
        const attestation = await signJwt({
          header: { alg: 'ES256', typ: ATTESTATION_TYP, kid: attester.kid },
          claims: { iss: attester.issuer, sub: session.clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(instance) } },
          signer: await instanceKeyPair(),
        });
        const before = await decisionStats(gate);
        const res = await refresh(gate, protocol, session, { attestation, pop: await attestationPop(instance, { audience: as.issuer }) });
        assertGateRefused(res, INVALID_CLIENT);
        const delta = decisionDelta(before, await decisionStats(gate));
        assert.equal(delta['denied.attestation_invalid_signature'], 1, JSON.stringify(delta));
      }));

      it('after all those refusals the session\'s refresh token is still unused and refreshes', wrap(async () => {
        assertRefreshed(await refresh(gate, protocol, session, await attestedPop(session)), session);
      }));
    });

    describe('with challenges on', () => {
      it(`POST ${CHALLENGE_ENDPOINT} is answered by the filter; other methods get 405`, wrap(async () => {
        const before = as.requests.total;
        const res = await send(protocol, challenged.port, { path: CHALLENGE_ENDPOINT });
        assert.equal(res.status, 200, res.body);
        assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.match(res.json?.attestation_challenge ?? '', /^[A-Za-z0-9_-]{32}$/, res.body);
        const get = await send(protocol, challenged.port, { method: 'GET', path: CHALLENGE_ENDPOINT });
        assert.equal(get.status, 405, get.body);
        assert.equal(get.headers.allow, 'POST');
        assert.equal(as.requests.total, before, 'the challenge endpoint never reaches the upstream');
      }));

      it('a PoP without a challenge: 400 use_attestation_challenge with a fresh one, which works on retry', wrap(async () => {
        const session = await dpopSession(as, challenged, { protocol });
        const challenge = assertGateRefused(await refresh(challenged, protocol, session, await attestedPop(session)), { status: 400, error: 'use_attestation_challenge' });
        assertRefreshed(await refresh(challenged, protocol, session, await attestedPop(session, { challenge })), session);
      }));

      it('a challenge this filter did not issue: refused with a fresh one, which works on retry', wrap(async () => {
        const session = await dpopSession(as, challenged, { protocol });
        const foreign = randomBytes(24).toString('base64url');
        const challenge = assertGateRefused(await refresh(challenged, protocol, session, await attestedPop(session, { challenge: foreign })), { status: 400, error: 'use_attestation_challenge' });
        assert.notEqual(challenge, foreign);
        assertRefreshed(await refresh(challenged, protocol, session, await attestedPop(session, { challenge })), session);
      }));

      it('a challenge from one Envoy is accepted by another with the same secret (there from the VM\'s environment)', wrap(async () => {
        const session = await dpopSession(as, twin, { protocol });
        const issued = await send(protocol, challenged.port, { path: CHALLENGE_ENDPOINT });
        assert.equal(issued.status, 200, issued.body);
        assertRefreshed(await refresh(twin, protocol, session, await attestedPop(session, { challenge: issued.json.attestation_challenge })), session);
        const back = await send(protocol, twin.port, { path: CHALLENGE_ENDPOINT });
        assertRefreshed(await refresh(challenged, protocol, session, await attestedPop(session, { challenge: back.json.attestation_challenge })), session);
      }));

      it('a challenge from the endpoint is accepted in the PoP', wrap(async () => {
        const session = await dpopSession(as, challenged, { protocol });
        const issued = await send(protocol, challenged.port, { path: CHALLENGE_ENDPOINT });
        assert.equal(issued.status, 200, issued.body);
        assertRefreshed(await refresh(challenged, protocol, session, await attestedPop(session, { challenge: issued.json.attestation_challenge })), session);
      }));

      it('combined mode: a DPoP proof without nonce is refused; with the challenge as its nonce the gate forwards it', wrap(async () => {
        const session = await dpopSession(as, challenged, { protocol });
        const attestation = await attester.issue({ clientId: session.clientId, instanceKey: session.key });
        const challenge = assertGateRefused(await refresh(challenged, protocol, session, { attestation }), { status: 400, error: 'use_attestation_challenge' });
        const dpop = await dpopProof(session.key, { htu: tokenUrl(challenged), nonce: challenge });
        const res = await refresh(challenged, protocol, session, { attestation, dpop });
        assert.equal(res.reachedAs, 1, `the gate forwarded the attested refresh: ${res.body}`);
        // The DPoP proof travels on to the server with the gate's challenge as its `nonce`. A server without DPoP
        // nonces of its own refuses such a proof (RFC 9449 §8: a nonce it did not issue), as oidc-provider does:
        // combined mode with the gate's challenges fits only a server that does not check the proof's nonce.
        assert.equal(res.status, 400, res.body);
        assert.deepEqual(res.json, { error: 'invalid_dpop_proof', error_description: 'DPoP nonces are not supported' });
      }));
    });
  });
}

it('no attestation and no PoP appears in a log line of any Envoy', () => {
  assert.ok(sent.length > 20, 'the tests above sent attestations and PoPs');
  const logs = gate.log() + challenged.log() + twin.log();
  for (const value of sent) {
    const signature = value.split('.')[2];
    assert.ok(!logs.includes(value), 'an attestation or PoP in the log');
    if (signature && signature.length > 16) assert.ok(!logs.includes(signature), 'a signature in the log');
  }
});
