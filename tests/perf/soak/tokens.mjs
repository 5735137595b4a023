// Keys and tokens of the soak, made fresh for each run with node:crypto (TEST ONLY: the private keys live in
// this process and are never written anywhere; the token files are deleted with the run's directory).
import crypto from 'node:crypto';

const b64 = (b) => Buffer.from(b).toString('base64url');

/** A signing key: { kid, alg, jwk (public), sign(input) → signature bytes }. */
export function makeKey(alg, kid) {
  let pair;
  let sign;
  if (alg === 'ES256') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    sign = (input) => crypto.sign('sha256', input, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
  } else if (alg === 'EdDSA') {
    pair = crypto.generateKeyPairSync('ed25519');
    sign = (input) => crypto.sign(null, input, pair.privateKey);
  } else if (alg === 'RS256' || alg === 'PS256') {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    sign = alg === 'RS256'
      ? (input) => crypto.sign('sha256', input, pair.privateKey)
      : (input) => crypto.sign('sha256', input, { key: pair.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  } else {
    throw new Error(`makeKey: ${alg}`);
  }
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, jwk, sign };
}

/** Compact JWS of `claims` with `key` (header `typ: at+jwt`, `kid`), or with `header` as given. */
export function mint(key, claims, header = { alg: key.alg, typ: 'at+jwt', kid: key.kid }) {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(key.sign(Buffer.from(input)))}`;
}

/** Unsigned or HMAC-signed tokens (never accepted). */
export function mintUnsigned(header, claims, secret) {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  if (secret === undefined) return `${input}.`;
  return `${input}.${b64(crypto.createHmac('sha256', secret).update(input).digest())}`;
}

/** Flip one character in the middle of the signature segment. */
export function corruptSignature(token) {
  const i = token.lastIndexOf('.') + 10;
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}
