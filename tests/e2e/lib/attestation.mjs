// Client attestations (draft-ietf-oauth-attestation-based-client-auth) for the end-to-end tests, made by `jose`
// (npm), never by tollgate's code.
//
// `startTestAttester()` is a TEST ONLY stand-in for the *client attester*: the backend an app vendor runs, which
// checks Apple App Attest or Google Play Integrity / Android key attestation for an app instance and then signs an
// `oauth-client-attestation+jwt` for the client id and the instance's public key. This stand-in checks no platform
// evidence at all: that needs a genuine device, Apple's and Google's services and their roots, none of which a test
// on loopback has; what tollgate verifies starts at the signed attestation, which this stand-in issues exactly as a
// real attester would (its own ES256 key, published as a JWKS). It signs whatever a test asks for, including the
// broken attestations the negative tests need.
//
// Beside it: the app side, an instance key pair and its proof of possession (`oauth-client-attestation-pop+jwt`),
// valid or deliberately broken (alg none, HMAC, another key, another audience, a private key in `cnf`).
import { randomUUID } from 'node:crypto';
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const ATTESTATION_TYP = 'oauth-client-attestation+jwt';
export const POP_TYP = 'oauth-client-attestation-pop+jwt';
/** Request and response header names of the draft (HTTP names are case-insensitive; Node lower-cases them). */
export const HEADERS = Object.freeze({
  attestation: 'oauth-client-attestation',
  pop: 'oauth-client-attestation-pop',
  challenge: 'oauth-client-attestation-challenge',
});

const now = () => Math.floor(Date.now() / 1000);
const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'];

/** An extractable key pair by `jose` (ES256 by default): an app instance key, or another attester's key. */
export function instanceKeyPair(alg = 'ES256') {
  return generateKeyPair(alg, { extractable: true });
}

/** The public JWK of a key pair (only the public members). */
export async function publicJwkOf(keyPair) {
  const jwk = await exportJWK(keyPair.publicKey);
  return Object.fromEntries(PUBLIC_MEMBERS.filter((m) => jwk[m] !== undefined).map((m) => [m, jwk[m]]));
}

/** The whole private JWK of a key pair (for the negative test that puts it into `cnf`). */
export function privateJwkOf(keyPair) {
  return exportJWK(keyPair.privateKey);
}

/** RFC 7638 thumbprint by `jose`. */
export async function jwkThumbprint(keyPair) {
  return calculateJwkThumbprint(await publicJwkOf(keyPair), 'sha256');
}

/**
 * Start the TEST ONLY client attester (see the header comment): its own ES256 key, `kid` and issuer. Returns
 *   { issuer, kid, jwks, issue({ clientId, instanceKey, ... }), sign({ header, claims }) }.
 * `issue` signs a valid attestation unless told otherwise: `iat` now, `exp` in an hour, `cnf.jwk` the instance key's
 * public JWK; `iat` / `exp` / `lifetime` move the times, `claims` adds or replaces claims (a value `undefined`
 * removes one), `header` replaces header members, `cnf` replaces the whole `cnf`.
 */
export async function startTestAttester({ issuer = 'https://attester.tollgate.test', kid = `test-attester-${randomUUID().slice(0, 8)}` } = {}) {
  const keyPair = await instanceKeyPair('ES256');
  const jwk = { ...(await publicJwkOf(keyPair)), kid, alg: 'ES256', use: 'sig' };
  return {
    issuer,
    kid,
    keyPair,
    jwks: { keys: [jwk] },
    async issue({
      clientId, instanceKey, iat = now(), lifetime = 3600, exp, claims = {}, header = {}, cnf,
    }) {
      const body = {
        iss: issuer,
        sub: clientId,
        iat,
        exp: exp ?? iat + lifetime,
        cnf: cnf ?? { jwk: await publicJwkOf(instanceKey) },
        ...claims,
      };
      for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
      return signJwt({ header: { alg: 'ES256', typ: ATTESTATION_TYP, kid, ...header }, claims: body, signer: keyPair });
    },
  };
}

/**
 * A JWS with exactly `header` and `claims`, signed by `signer` through `jose`: a key pair (its private key signs) or
 * a Uint8Array secret (HMAC). header.alg must fit the key; jose refuses otherwise.
 */
export function signJwt({ header, claims, signer }) {
  const key = signer instanceof Uint8Array ? signer : signer.privateKey;
  return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

/** An unsigned JWT (`alg: none`): header.payload. with an empty signature. */
export function unsignedJwt({ header, claims }) {
  return `${b64json({ ...header, alg: 'none' })}.${b64json(claims)}.`;
}

/**
 * The app's proof of possession of its instance key: `typ` oauth-client-attestation-pop+jwt, `aud`, fresh `jti`,
 * `iat` now, `challenge` when given, `iss` = the client id when given (older drafts and oidc-provider send it).
 * `claims` / `header` add or replace members (a value `undefined` removes one); `signer` signs instead of the key.
 */
export async function attestationPop(instanceKey, {
  audience, challenge, clientId, iat = now(), jti = randomUUID(), claims = {}, header = {}, signer = instanceKey,
} = {}) {
  const body = {
    ...(clientId === undefined ? {} : { iss: clientId }),
    aud: audience,
    jti,
    iat,
    ...(challenge === undefined ? {} : { challenge }),
    ...claims,
  };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  const alg = signer instanceof Uint8Array ? 'HS256' : 'ES256';
  return signJwt({ header: { alg, typ: POP_TYP, ...header }, claims: body, signer });
}

