#!/usr/bin/env node
// TEST ONLY key generator for the tollgate end-to-end authorization server.
//
// Writes keys/TEST-ONLY-signing-keys.json: private JWKs (ES256 / P-256, EdDSA / Ed25519,
// RS256 / RSA-2048) in several "generations" so that key rotation has somewhere to go.
// Every key is derived deterministically from a fixed, public seed string, so the output is
// reproducible and `--check` can prove the checked-in file came from this generator.
// These keys are PUBLIC KNOWLEDGE: never use them for anything but local tests.
//
//   node tests/e2e/authz/keys/generate.mjs          # (re)write the fixture
//   node tests/e2e/authz/keys/generate.mjs --check  # exit 1 if the fixture differs

import { createHash, createECDH, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../../../../scripts/cli.mjs';

export const GENERATIONS = 4;
export const ALGS = ['ES256', 'EdDSA', 'RS256'];
const SEED = 'tollgate TEST ONLY signing key';
const OUT = fileURLToPath(new URL('./TEST-ONLY-signing-keys.json', import.meta.url));

/** Deterministic byte stream: SHA-256(seed || counter). */
function stream(label) {
  let counter = 0;
  let buf = Buffer.alloc(0);
  return (n) => {
    while (buf.length < n) {
      const block = createHash('sha256').update(`${SEED}/${label}/${counter}`).digest();
      counter += 1;
      buf = Buffer.concat([buf, block]);
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return Buffer.from(out);
  };
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const toBig = (buf) => BigInt(`0x${Buffer.from(buf).toString('hex')}`);
function fromBig(x, len) {
  let hex = x.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const raw = Buffer.from(hex, 'hex');
  return len ? Buffer.concat([Buffer.alloc(len - raw.length), raw]) : raw;
}

function modPow(base, exp, mod) {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function modInverse(a, m) {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

const SMALL_PRIMES = (() => {
  const out = [];
  for (let n = 3; out.length < 300; n += 2) {
    if (out.every((p) => n % p !== 0)) out.push(n);
  }
  return out.map(BigInt);
})();

function isProbablePrime(n, rand) {
  for (const p of SMALL_PRIMES) if (n % p === 0n) return n === p;
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) { d >>= 1n; s += 1; }
  for (let i = 0; i < 40; i += 1) {
    const a = 2n + (toBig(rand(128)) % (n - 4n));
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let composite = true;
    for (let r = 1; r < s; r += 1) {
      x = (x * x) % n;
      if (x === n - 1n) { composite = false; break; }
    }
    if (composite) return false;
  }
  return true;
}

function prime(bits, rand, e) {
  for (;;) {
    const bytes = rand(bits / 8);
    bytes[0] |= 0xc0; // top two bits: p*q has exactly 2*bits bits
    bytes[bytes.length - 1] |= 0x01;
    const candidate = toBig(bytes);
    if ((candidate - 1n) % e !== 0n && isProbablePrime(candidate, rand)) return candidate;
  }
}

function rsaJwk(label) {
  const rand = stream(label);
  const e = 65537n;
  let p = prime(1024, rand, e);
  let q = prime(1024, rand, e);
  if (p < q) [p, q] = [q, p];
  const n = p * q;
  const d = modInverse(e, (p - 1n) * (q - 1n));
  return {
    kty: 'RSA',
    n: b64u(fromBig(n)),
    e: b64u(fromBig(e)),
    d: b64u(fromBig(d)),
    p: b64u(fromBig(p)),
    q: b64u(fromBig(q)),
    dp: b64u(fromBig(d % (p - 1n))),
    dq: b64u(fromBig(d % (q - 1n))),
    qi: b64u(fromBig(modInverse(q, p))),
  };
}

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function ecJwk(label) {
  const rand = stream(label);
  const d = (toBig(rand(48)) % (P256_N - 1n)) + 1n; // uniform enough for a test key
  const dBuf = fromBig(d, 32);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(dBuf);
  const pub = ecdh.getPublicKey(); // 0x04 || x || y
  return {
    kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)), d: b64u(dBuf),
  };
}

function okpJwk(label) {
  const seed = stream(label)(32);
  // PKCS#8 wrapper for a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const jwk = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d };
}

/** Sign and verify once so a broken key can never be written. */
function selfTest(jwk, alg) {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const pub = createPublicKey(key);
  const data = Buffer.from('tollgate self-test');
  const hash = alg === 'EdDSA' ? null : 'sha256';
  const sig = sign(hash, data, key);
  if (!verify(hash, data, pub, sig)) throw new Error(`self-test failed for ${jwk.kid}`);
}

export function generate() {
  const keys = [];
  for (let gen = 1; gen <= GENERATIONS; gen += 1) {
    for (const alg of ALGS) {
      const kid = `tg-test-${alg.toLowerCase()}-g${gen}`;
      const material = { ES256: ecJwk, EdDSA: okpJwk, RS256: rsaJwk }[alg](kid);
      const jwk = { ...material, kid, alg, use: 'sig' };
      selfTest(jwk, alg);
      keys.push(jwk);
    }
  }
  return {
    WARNING: 'TEST ONLY. These private keys are derived from a public seed and are known to everyone. Never use them outside local tests.',
    generator: 'tests/e2e/authz/keys/generate.mjs',
    generations: GENERATIONS,
    keys,
  };
}

const USAGE = `usage: node tests/e2e/authz/keys/generate.mjs [--check]
Writes keys/TEST-ONLY-signing-keys.json: the TEST ONLY signing keys of the end-to-end authorization server
(${ALGS.join(', ')}; ${GENERATIONS} generations), derived from a fixed public seed.
  --check   write nothing; exit 1 if the file differs from what the generator makes
  --help, --version`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseCli({ name: 'generate.mjs', usage: USAGE, options: { check: { type: 'boolean', default: false } } });
  const text = `${JSON.stringify(generate(), null, 2)}\n`;
  if (values.check) {
    const current = readFileSync(OUT, 'utf8');
    if (current !== text) {
      console.error(`${OUT} does not match the generator output; re-run without --check`);
      process.exit(1);
    }
    console.log('test keys match the generator');
  } else {
    writeFileSync(OUT, text);
    console.log(`wrote ${OUT}`);
  }
}
