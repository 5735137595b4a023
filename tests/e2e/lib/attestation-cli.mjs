#!/usr/bin/env node
// Client attestations (OAuth 2.0 Attestation-Based Client Authentication) on the command line, for the curl
// commands of envoy/examples/attestation/README.md: a TEST ONLY stand-in for the vendor-run client attester, and
// the app instance's proof of possession. Every JWT is signed by the `jose` npm package. Usage:
//   node tests/e2e/lib/attestation-cli.mjs attest --attester ATTESTER.json --key INSTANCE.json --sub CLIENT_ID
//        [--iss URL] [--lifetime SECONDS] [--iat=SECONDS]
//   node tests/e2e/lib/attestation-cli.mjs pop --key INSTANCE.json --aud AUDIENCE [--challenge C] [--iat=SECONDS]
//   node tests/e2e/lib/attestation-cli.mjs public --key FILE      (the public JWK, e.g. for an attester's jwks)
// Keys are private JWK files with `alg` (make one with `node tests/e2e/lib/dpop-cli.mjs keygen`).
// --iat is an offset from now in seconds (write negative values with "=").
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCli, UsageError } from '../../../scripts/cli.mjs';

const USAGE = `usage: node tests/e2e/lib/attestation-cli.mjs COMMAND [options]
Client attestations and their proofs of possession, signed by the jose npm package (TEST ONLY keys).

Commands:
  attest --attester FILE --key FILE --sub CLIENT_ID   an attestation of the instance key (cnf.jwk) for CLIENT_ID
         [--iss URL] [--lifetime SECONDS] [--iat=SECONDS] [--kid KID]
  pop --key FILE --aud AUDIENCE [--challenge C] [--iat=SECONDS]
                                                      a proof of possession of the instance key
  public --key FILE                                   the public JWK of a private JWK file
  --help, --version`;

const COMMANDS = ['attest', 'pop', 'public'];
const { values, positionals } = parseCli({
  name: 'attestation-cli.mjs',
  usage: USAGE,
  allowPositionals: true,
  options: {
    attester: { type: 'string' },
    key: { type: 'string' },
    sub: { type: 'string' },
    iss: { type: 'string' },
    kid: { type: 'string' },
    lifetime: { type: 'string', default: '3600' },
    aud: { type: 'string' },
    challenge: { type: 'string' },
    iat: { type: 'string' },
  },
  check(v, pos) {
    if (pos.length !== 1 || !COMMANDS.includes(pos[0])) throw new UsageError(`one command: ${COMMANDS.join(', ')}`);
    const need = { attest: ['attester', 'key', 'sub'], pop: ['key', 'aud'], public: ['key'] }[pos[0]];
    for (const name of need) if (v[name] === undefined) throw new UsageError(`${pos[0]}: --${name} is required`);
    for (const name of ['iat', 'lifetime']) {
      if (v[name] !== undefined && !/^-?\d+$/.test(v[name])) throw new UsageError(`--${name}: not a whole number of seconds`);
    }
  },
});
// Loaded after the command line is checked, so --help works before `npm ci`.
const { SignJWT, importJWK } = await import('jose');

const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

function readJwk(file) {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof jwk.alg !== 'string' || typeof jwk.d !== 'string') throw new Error(`${file}: not a private JWK with alg`);
  return jwk;
}

function publicJwk(jwk) {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k) && !['alg', 'kid', 'use', 'key_ops', 'ext'].includes(k)));
}

function issuedAt() {
  const now = Math.floor(Date.now() / 1000);
  return values.iat === undefined ? now : now + Number(values.iat);
}

async function main() {
  const command = positionals[0];
  switch (command) {
    case 'attest': {
      const attester = readJwk(values.attester);
      const instance = readJwk(values.key);
      const iat = issuedAt();
      const claims = { sub: values.sub, cnf: { jwk: publicJwk(instance) } };
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ typ: 'oauth-client-attestation+jwt', alg: attester.alg, kid: values.kid ?? attester.kid })
        .setIssuedAt(iat)
        .setExpirationTime(iat + Number(values.lifetime));
      if (values.iss !== undefined) jwt = jwt.setIssuer(values.iss);
      process.stdout.write(`${await jwt.sign(await importJWK(attester, attester.alg))}\n`);
      break;
    }
    case 'pop': {
      const instance = readJwk(values.key);
      const claims = values.challenge === undefined ? {} : { challenge: values.challenge };
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ typ: 'oauth-client-attestation-pop+jwt', alg: instance.alg })
        .setAudience(values.aud)
        .setJti(randomUUID())
        .setIssuedAt(issuedAt());
      process.stdout.write(`${await jwt.sign(await importJWK(instance, instance.alg))}\n`);
      break;
    }
    case 'public':
      process.stdout.write(`${JSON.stringify(publicJwk(readJwk(values.key)))}\n`);
      break;
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((err) => {
  process.stderr.write(`attestation-cli.mjs: ${err.message}\n`);
  process.exit(1);
});
