// Benchmark tokens: many valid access tokens, fast, signed with the TEST-ONLY fixture keys.
//
// The fixture minter (../fixtures/tokens.mjs, `jose`) is the reference for what a token looks like; this module
// makes the same tokens (same header fields, claims and lifetimes) with node:crypto's synchronous `sign`, because
// the "every token new" mix needs a few hundred thousand of them (ES256: ≈ 40 µs each; RS256/PS256: ≈ 0.3 ms).
import crypto from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { AUDIENCE, ISSUER, KID, IDSVR_JWKS, privateKeyObject } from '../../e2e/fixtures/tokens.mjs';

/** The algorithms the benchmark can mint, with the fixture key and the node:crypto signing options. */
export const ALGORITHMS = {
  ES256: { kid: KID.ES256, signingKid: KID.ES256, hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  RS256: { kid: KID.RS256, signingKid: KID.RS256, hash: 'sha256', options: {} },
  // The fixture JWKS has the RSA key only as RS256 (tollgate and jwt_authn both take the algorithm from the key), so
  // PS256 tokens name a second entry for the same key, which the benchmark adds to its configs (PS256_JWK).
  PS256: {
    kid: 'tg-ps256-1',
    signingKid: KID.RS256,
    hash: 'sha256',
    options: { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  },
  EdDSA: { kid: KID.EdDSA, signingKid: KID.EdDSA, hash: null, options: {} },
};

/** The public JWK of the PS256 entry: the fixture RSA key with kid `tg-ps256-1` and `alg: PS256`. */
export function ps256Jwk() {
  const rsa = IDSVR_JWKS.keys.find((k) => k.kid === KID.RS256);
  if (!rsa) throw new Error(`the fixture JWKS has no key ${KID.RS256}`);
  return { kty: 'RSA', kid: ALGORITHMS.PS256.kid, alg: 'PS256', use: 'sig', n: rsa.n, e: rsa.e };
}

/**
 * Lifetime of benchmark tokens: tollgate accepts at most 900 s between `iat` and `exp` by default
 * (max_lifetime_seconds), so tokens are minted 5 s in the past and live 840 s; callers re-mint before they run out.
 */
export const TOKEN_LIFETIME_SECONDS = 840;

const b64uJson = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A minter for `alg`: `mint(i)` returns a token whose `sub` is `<prefix>-<i>` (unique `jti` per token); `claims` are
 * added to every token's (e.g. `cnf` for a DPoP-bound token).
 */
export function minter(alg, { prefix = 'user', claims = {} } = {}) {
  const spec = ALGORITHMS[alg];
  if (!spec) throw new Error(`cannot mint ${alg} tokens: choose one of ${Object.keys(ALGORITHMS).join(', ')}`);
  const key = privateKeyObject(spec.signingKid);
  const header = b64uJson({ alg, typ: 'at+jwt', kid: spec.kid });
  const iat = Math.floor(Date.now() / 1000) - 5;
  const exp = iat + 5 + TOKEN_LIFETIME_SECONDS;
  const mint = (i) => {
    const payload = b64uJson({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: `${prefix}-${i}`,
      client_id: 'mobile-app',
      scope: 'orders:read',
      iat,
      exp,
      jti: crypto.randomUUID(),
      ...claims,
    });
    const input = `${header}.${payload}`;
    const signature = crypto.sign(spec.hash, Buffer.from(input), { key, ...spec.options });
    return `${input}.${signature.toString('base64url')}`;
  };
  return { mint, exp };
}

/**
 * Write `count` distinct tokens to `file`, one per line. Resolves { count, exp } (`exp`: unix seconds when the
 * first of them expires). Yields to the event loop between chunks so progress can be printed.
 */
export async function writeTokens(file, count, alg, { prefix, onProgress } = {}) {
  const { mint, exp } = minter(alg, { prefix });
  const fd = openSync(file, 'w');
  try {
    const CHUNK = 5000;
    for (let start = 0; start < count; start += CHUNK) {
      const lines = [];
      for (let i = start; i < Math.min(count, start + CHUNK); i++) lines.push(mint(i));
      writeSync(fd, `${lines.join('\n')}\n`);
      onProgress?.(Math.min(count, start + CHUNK));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
  return { count, exp };
}
