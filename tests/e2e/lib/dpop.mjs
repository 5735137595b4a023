// DPoP (RFC 9449) proofs for the end-to-end tests, made by independent libraries, never by tollgate's code:
// valid proofs by the `dpop` npm package (panva), keys by it or `jose`, and the deliberately broken proofs the
// negative tests need (alg none, HMAC, a private key in the header, a signature by another key, odd claims) by
// `jose`'s JWS signer with exactly the header and claims a test names.
import { createHash, randomUUID } from 'node:crypto';
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { CompactSign, calculateJwkThumbprint, exportJWK } from 'jose';

/**
 * A DPoP key pair (WebCrypto CryptoKeys) from the `dpop` package: alg ES256 (default), RS256, PS256 or Ed25519.
 * The private key is extractable so that negative tests can put it where it must never be (the proof header).
 */
export function dpopKeyPair(alg = 'ES256') {
  return generateKeyPair(alg, { extractable: true });
}

/** RFC 7638 thumbprint of the key pair's public key (what cnf.jkt of a token bound to it holds), by `dpop`. */
export function thumbprint(keyPair) {
  return calculateThumbprint(keyPair.publicKey);
}

/** The same thumbprint computed by `jose` from the public JWK (a second, independent implementation). */
export async function joseThumbprint(keyPair) {
  return calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');
}

/** base64url SHA-256 of an access token: the proof's `ath`. */
export function ath(accessToken) {
  return createHash('sha256').update(accessToken).digest('base64url');
}

/**
 * A valid proof by the `dpop` package for `htm` + `htu` (and `ath` of `accessToken` when given). `iat` (seconds
 * since the epoch) makes the package stamp another time: it reads the clock once, synchronously, when called, so
 * the clock is moved for exactly that call. `additional` claims are added (the package sets iat, jti, htm, htu, ath
 * itself; they cannot be overridden that way). `nonce` is a server nonce (RFC 9449 §8), put in the `nonce` claim by the
 * package.
 */
export function proof(keyPair, { htm, htu, accessToken, iat, additional, nonce } = {}) {
  if (iat === undefined) return generateProof(keyPair, htu, htm, nonce, accessToken, additional);
  const realNow = Date.now;
  Date.now = () => iat * 1000;
  try {
    return generateProof(keyPair, htu, htm, nonce, accessToken, additional);
  } finally {
    Date.now = realNow;
  }
}

/** The public JWK of a key pair, as a proof header carries it (by `jose`). */
export async function publicJwk(keyPair) {
  const { kty, crv, x, y, n, e } = await exportJWK(keyPair.publicKey);
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
}

/** The JWS alg the `dpop` package uses for a key pair (as a crafted proof must name it). */
export function algOf(keyPair) {
  const a = keyPair.privateKey.algorithm;
  if (a.name === 'ECDSA') return 'ES256';
  if (a.name === 'RSASSA-PKCS1-v1_5') return 'RS256';
  if (a.name === 'RSA-PSS') return 'PS256';
  if (a.name === 'Ed25519') return 'Ed25519';
  throw new Error(`no JWS alg for ${a.name}`);
}

const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The claims a valid proof has, for crafted proofs: iat now, fresh jti, htm, htu, ath when a token is given. */
export function proofClaims({ htm, htu, accessToken, iat = Math.floor(Date.now() / 1000) } = {}) {
  return {
    iat, jti: randomUUID(), htm, htu, ...(accessToken === undefined ? {} : { ath: ath(accessToken) }),
  };
}

/**
 * A proof with exactly `header` and `claims`, signed by `signer` through `jose` (`signer`: a key pair — its private
 * key signs — or a Uint8Array secret for HMAC). header.alg must fit the signing key; jose refuses otherwise.
 */
export async function craftProof({ header, claims, signer }) {
  const key = signer instanceof Uint8Array ? signer : signer.privateKey;
  return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

/** An unsigned proof (`alg: none`): header.payload. with an empty signature. */
export function unsignedProof({ header, claims }) {
  return `${b64json({ ...header, alg: 'none' })}.${b64json(claims)}.`;
}
