// Agreement with the reference implementation: the gate (challenges off: the server issues its own) in front of
// oidc-provider 9.13 with `features.attestClientAuth` (reference-as.mjs), which verifies every attestation and
// proof again. For a set of good and bad variants of a refresh grant: every request the gate forwards is one the
// server accepts, the good ones are forwarded, and every bad one the gate refuses is refused by the server too when
// sent to it directly (so the gate is not stricter than the reference where the draft leaves no choice). PoPs carry
// the server's challenge and combined-mode DPoP proofs its nonce, as a client of that server must. Attestations by
// the TEST ONLY attester, PoPs and proofs by `jose` and `dpop`. HTTP/1.1 to the gate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keepLogOnFailure } from '../../lib/envoy.mjs';
import { dpopKeyPair } from '../../lib/dpop.mjs';
import {
  ATTESTATION_TYP, HEADERS, attestationPop, instanceKeyPair, privateJwkOf, publicJwkOf, startTestAttester, unsignedJwt,
} from '../../lib/attestation.mjs';
import { authorizationRequestUrl, pkcePair, randomState, runBrowserFlow } from '../../authz/flow.mjs';
import { FORM, dpopProof, form, send } from './client.mjs';
import { REDIRECT_URI, attestationConfig, startGate } from './stack.mjs';
import { CLIENTS, startReferenceServer } from './reference-as.mjs';

const now = () => Math.floor(Date.now() / 1000);

let attester;
let ref;
let gate;

before(async () => {
  attester = await startTestAttester();
  ref = await startReferenceServer({ attester, redirectUri: REDIRECT_URI });
  try {
    gate = await startGate({
      providers: [{ name: 'reference', issuer: ref.issuer, audiences: ['https://api.tollgate.test'], jwks: { inline: attester.jwks } }],
      client_attestation: attestationConfig(attester),
      rules: [
        // this server verifies the attestation again: the gate passes the headers on
        {
          match: { path: '/token', methods: ['POST'] },
          anonymous: true,
          client_attestation: { audience: ref.issuer, grant_types: ['refresh_token'], forward_attestation: true },
        },
        { match: { prefix: '/' }, anonymous: true },
      ],
    }, { upstreamPort: ref.port, name: 'attestation-reference' });
  } catch (err) {
    await ref.close();
    throw err;
  }
});

after(async () => {
  await gate?.stop();
  await ref?.close();
});

const wrap = (fn) => keepLogOnFailure(() => gate, fn);

/** Where a request goes: through the gate, or straight to the reference server. */
const TARGETS = {
  gate: () => gate.port,
  direct: () => ref.port,
};
const tokenUrlOf = (target) => `http://127.0.0.1:${TARGETS[target]()}/token`;

/** The server's current attestation challenge and DPoP nonce (POST /challenge, through `target`). */
async function serverChallenge(target) {
  const res = await send('http1', TARGETS[target](), { path: '/challenge', headers: { 'content-type': FORM }, body: '' });
  assert.equal(res.status, 200, res.body);
  return { challenge: res.json.attestation_challenge, nonce: res.headers['dpop-nonce'] };
}

/**
 * The headers of a token request by `session` to `target`: attestation of the session's instance key for its client,
 * a PoP with the server's challenge (PoP mode) or a DPoP proof with the server's nonce (combined mode). `change`
 * alters one part: { attestation: {...issue options}, pop: {...attestationPop options}, attestationText, noPop }.
 */
async function attestedHeaders(session, target, change = {}) {
  const { challenge, nonce } = await serverChallenge(target);
  const headers = { 'content-type': FORM };
  headers[HEADERS.attestation] = change.attestationText
    ?? await attester.issue({ clientId: session.clientId, instanceKey: session.key, ...change.attestation });
  if (session.combined) {
    headers.dpop = await dpopProof(change.proofKey ?? session.key, { htu: tokenUrlOf(target), nonce });
  } else if (!change.noPop) {
    headers[HEADERS.pop] = change.popText
      ?? await attestationPop(session.key, { audience: ref.issuer, challenge, clientId: session.clientId, ...change.pop });
  }
  if (change.noAttestation) delete headers[HEADERS.attestation];
  return headers;
}

/** Code flow against the server, code exchanged through the gate (authorization_code is not gated). */
async function newSession(combined) {
  const clientId = combined ? CLIENTS.combined : CLIENTS.pop;
  const key = combined ? await dpopKeyPair('ES256') : await instanceKeyPair();
  const session = { clientId, key, combined };
  const { verifier, challenge } = pkcePair();
  const url = authorizationRequestUrl({ authorizationUrl: ref.authorizationUrl }, {
    clientId, redirectUri: REDIRECT_URI, state: randomState(), codeChallenge: challenge, scope: 'openid',
  });
  const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
  const code = redirect.searchParams.get('code');
  assert.ok(code, 'a code');
  const res = await send('http1', gate.port, {
    path: '/token',
    headers: await attestedHeaders(session, 'gate'),
    body: form({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  assert.equal(res.status, 200, `code exchange through the gate, verified by the server: ${res.body} ${JSON.stringify(ref.grantErrors.at(-1))}`);
  session.refreshToken = res.json.refresh_token;
  assert.ok(session.refreshToken, 'a refresh token');
  return session;
}

/** A refresh grant with `headers` to `target`; resolves the answer plus `reachedServer`. */
async function refresh(session, target, headers) {
  const before = ref.requests.token;
  const res = await send('http1', TARGETS[target](), {
    path: '/token',
    headers,
    body: form({ grant_type: 'refresh_token', client_id: session.clientId, refresh_token: session.refreshToken }),
  });
  res.reachedServer = ref.requests.token - before;
  if (res.status === 200) session.refreshToken = res.json.refresh_token;
  return res;
}

/** The agreement: what the gate forwards, the server accepts. */
function assertAgreement(res) {
  if (res.reachedServer > 0) {
    assert.equal(res.status, 200, `the gate forwarded a request the reference refuses: ${res.body} ${JSON.stringify(ref.grantErrors.at(-1))}`);
  }
}

const GOOD = [
  ['PoP mode', false, {}],
  ['PoP mode, a PoP without iss', false, { pop: { clientId: undefined } }],
  ['combined mode', true, {}],
];

const BAD = [
  ['no attestation', false, { noAttestation: true }],
  ['an attestation without PoP', false, { noPop: true }],
  ['an attestation for another key', false, { attestation: { cnf: 'another key' } }],
  ['an attestation for another client', false, { attestation: { clientId: CLIENTS.combined } }],
  ['an expired attestation', false, { attestation: { iat: now() - 600, exp: now() - 120 } }],
  ['a PoP for another audience', false, { pop: { audience: 'https://login.other.test' } }],
  ['a private key in cnf', false, { attestation: { cnf: 'private' } }],
  ['an attestation with alg none', false, { attestationText: 'none' }],
  ['combined mode, the DPoP key is not the attested key', true, { proofKey: 'another key' }],
];

/** Resolve the placeholders of a variant (keys are made per request). */
async function materialise(session, change) {
  const out = { ...change };
  if (change.attestation?.cnf === 'another key') out.attestation = { cnf: { jwk: await publicJwkOf(await instanceKeyPair()) } };
  if (change.attestation?.cnf === 'private') out.attestation = { cnf: { jwk: await privateJwkOf(session.key) } };
  if (change.proofKey === 'another key') out.proofKey = await dpopKeyPair('ES256');
  if (change.attestationText === 'none') {
    out.attestationText = unsignedJwt({
      header: { typ: ATTESTATION_TYP, kid: attester.kid },
      claims: { iss: attester.issuer, sub: session.clientId, iat: now(), exp: now() + 3600, cnf: { jwk: await publicJwkOf(session.key) } },
    });
  }
  return out;
}

describe('the gate agrees with oidc-provider\'s attestClientAuth (draft-12)', () => {
  for (const [name, combined, change] of GOOD) {
    it(`${name}: forwarded, and the server issues tokens`, wrap(async () => {
      const session = await newSession(combined);
      for (let i = 0; i < 2; i += 1) {
        const res = await refresh(session, 'gate', await attestedHeaders(session, 'gate', await materialise(session, change)));
        assertAgreement(res);
        assert.equal(res.reachedServer, 1, `forwarded: ${res.body}`);
      }
    }));
  }

  for (const [name, combined, change] of BAD) {
    it(`${name}: refused by the gate, and by the server when sent to it directly`, wrap(async () => {
      const session = await newSession(combined);
      const res = await refresh(session, 'gate', await attestedHeaders(session, 'gate', await materialise(session, change)));
      assertAgreement(res);
      assert.equal(res.reachedServer, 0, `refused by the gate: ${res.status} ${res.body}`);
      const direct = await refresh(session, 'direct', await attestedHeaders(session, 'direct', await materialise(session, change)));
      assert.notEqual(direct.status, 200, 'the reference refuses it too');
      // the session is intact: a good request still refreshes through the gate
      assert.equal((await refresh(session, 'gate', await attestedHeaders(session, 'gate'))).status, 200);
    }));
  }

  // oidc-provider takes a PoP's freshness from its own challenge and accepts any `iat`; the gate also bounds it
  // (pop_max_age_seconds). Refusing more than the server is safe; this pins that the gate does.
  it('a PoP older than pop_max_age_seconds: refused by the gate (the server alone would accept it)', wrap(async () => {
    const session = await newSession(false);
    const res = await refresh(session, 'gate', await attestedHeaders(session, 'gate', { pop: { iat: now() - 900 } }));
    assert.equal(res.reachedServer, 0, `refused by the gate: ${res.status} ${res.body}`);
    assert.equal((await refresh(session, 'direct', await attestedHeaders(session, 'direct', { pop: { iat: now() - 900 } }))).status, 200);
  }));

  it('a replayed PoP: the gate refuses the second use; the server refuses it too', wrap(async () => {
    const session = await newSession(false);
    const headers = await attestedHeaders(session, 'gate');
    const first = await refresh(session, 'gate', headers);
    assertAgreement(first);
    assert.equal(first.status, 200, first.body);
    const again = await refresh(session, 'gate', headers);
    assertAgreement(again);
    assert.equal(again.reachedServer, 0, 'the replay is refused by the gate');
    assert.notEqual((await refresh(session, 'direct', headers)).status, 200, 'and by the server');
  }));

  // `iat` is optional in the draft's text and required by oidc-provider (and by the gate, whose max_age_seconds
  // needs it): the gate refuses it before the server.
  it('an attestation without iat: refused by the gate, never forwarded', wrap(async () => {
    const session = await newSession(false);
    const res = await refresh(session, 'gate', await attestedHeaders(session, 'gate', { attestation: { claims: { iat: undefined } } }));
    assert.equal(res.status, 401, res.body);
    assert.equal(JSON.parse(res.body).error, 'invalid_client');
    assert.equal(res.reachedServer, 0);
  }));
});
