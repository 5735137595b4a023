// Benchmark DPoP proofs (RFC 9449): the TEST-ONLY proof keys, the access token bound to each, and pools of proofs,
// one per line, each with its own `jti`.
//
// The `dpop` npm package (../lib/dpop.mjs) is the reference for what a proof looks like; this module makes the same
// proofs (the same header fields and claims, in the same order) with node:crypto's synchronous `sign`, because a case
// needs about a hundred thousand of them made right before it (≈ 40 µs each here, against ≈ 200 µs through the
// package's WebCrypto calls). bench-smoke.test.mjs checks both make the same shape, the thumbprint against the
// package's and the signatures with `jose`.
//
// The keys are derived from fixed seeds, like the fixture keys (../fixtures/generate.mjs), so no private key is
// stored: TEST ONLY, public by construction.
import crypto from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { minter } from './tokens.mjs';

const seed = (label) => crypto.createHash('sha256').update(`tollgate TEST-ONLY ${label}`).digest();

function es256Key() {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.setPrivateKey(seed('bench dpop es256'));
  const pub = ecdh.getPublicKey(); // 0x04 || X || Y
  const b64u = (b) => Buffer.from(b).toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) };
  return { jwk, privateKey: crypto.createPrivateKey({ key: { ...jwk, d: b64u(ecdh.getPrivateKey()) }, format: 'jwk' }) };
}

function ed25519Key() {
  // PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410): fixed 16-byte prefix, then the 32-byte seed.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed('bench dpop ed25519')]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const { x } = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  return { jwk: { kty: 'OKP', crv: 'Ed25519', x }, privateKey };
}

/**
 * The proof algorithms of the benchmark: `header` is the JWS `alg` the `dpop` package writes for such a key (RFC 9864
 * names EdDSA with Ed25519 "Ed25519"; the filter takes it for EdDSA), `hash` and `options` node:crypto's signing
 * arguments. ES256 proofs are verified through Envoy's verify_signature where Envoy has it, EdDSA ones in Wasm.
 */
export const PROOF_ALGORITHMS = {
  ES256: { header: 'ES256', key: es256Key, hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { header: 'Ed25519', key: ed25519Key, hash: null, options: {} },
};

/** RFC 7638 thumbprint (raw SHA-256) of a public JWK: its required members, in lexicographic order. */
export function thumbprintBytes(jwk) {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'OKP' ? ['crv', 'kty', 'x'] : null;
  if (!members) throw new Error(`no thumbprint for kty ${jwk.kty}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return crypto.createHash('sha256').update(canonical).digest();
}

/** The TEST-ONLY proof key of `alg`: { alg, header, jwk (public), privateKey (KeyObject), jkt (base64url thumbprint) }. */
export function proofKey(alg) {
  const spec = PROOF_ALGORITHMS[alg];
  if (!spec) throw new Error(`no DPoP proof key for ${alg}: choose one of ${Object.keys(PROOF_ALGORITHMS).join(', ')}`);
  const { jwk, privateKey } = spec.key();
  const thumbprint = thumbprintBytes(jwk);
  return { alg, header: spec.header, jwk, privateKey, thumbprint, jkt: thumbprint.toString('base64url') };
}

/**
 * An access token from the benchmark minter (`tokAlg`, signed with the fixture issuer key, the usual claims) bound to
 * `key` by `cnf.jkt`: { token, exp }.
 */
export function boundToken(tokAlg, key) {
  const { mint, exp } = minter(tokAlg, { prefix: `user-dpop-${key.alg.toLowerCase()}`, claims: { cnf: { jkt: key.jkt } } });
  return { token: mint(0), exp };
}

const b64uJson = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** base64url SHA-256 of an access token: the proof's `ath`. */
export const ath = (accessToken) => crypto.createHash('sha256').update(accessToken).digest('base64url');

/**
 * A proof minter for `key`, `htm` + `htu` and the hash of `accessToken`: `mint()` returns { proof, jti } with `iat`
 * now (or `iat` when given) and a new random `jti`.
 */
export function proofMinter(key, { htm, htu, accessToken, nonce }) {
  const spec = PROOF_ALGORITHMS[key.alg];
  const header = b64uJson({ alg: key.header, typ: 'dpop+jwt', jwk: key.jwk });
  const hash = ath(accessToken);
  const mint = (iat = Math.floor(Date.now() / 1000)) => {
    const jti = crypto.randomUUID();
    const claims = nonce === undefined ? { iat, jti, htm, htu, ath: hash } : { iat, jti, htm, htu, ath: hash, nonce };
    const input = `${header}.${b64uJson(claims)}`;
    const signature = crypto.sign(spec.hash, Buffer.from(input), { key: key.privateKey, ...spec.options });
    return { proof: `${input}.${signature.toString('base64url')}`, jti };
  };
  return { mint };
}

/**
 * Write `count` proofs of `key` for `htm` + `htu` + `accessToken` to `file`, one per line, each with `iat` the time
 * it was made. Resolves { count, iat (of the first, the oldest) }. Yields to the event loop between chunks so progress can be printed.
 */
export async function writeProofs(file, count, key, { htm, htu, accessToken, nonce, onProgress } = {}) {
  const { mint } = proofMinter(key, { htm, htu, accessToken, nonce });
  const iat = Math.floor(Date.now() / 1000);
  const fd = openSync(file, 'w');
  try {
    const CHUNK = 5000;
    for (let start = 0; start < count; start += CHUNK) {
      const lines = [];
      for (let i = start; i < Math.min(count, start + CHUNK); i++) {
        lines.push(mint().proof);
      }
      writeSync(fd, `${lines.join('\n')}\n`);
      onProgress?.(Math.min(count, start + CHUNK));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
  return { count, iat };
}
