#!/usr/bin/env node
// DPoP proofs on the command line, for the curl commands of envoy/examples/dpop/README.md. The proof is made by
// the `dpop` npm package (lib/dpop.mjs), the key kept in a TEST ONLY JWK file. Usage:
//   node tests/e2e/lib/dpop-cli.mjs keygen [--alg ES256|RS256|PS256]        > key.json   (private JWK, TEST ONLY)
//   node tests/e2e/lib/dpop-cli.mjs proof --key key.json --htm GET --htu URL [--token ACCESS_TOKEN] [--iat=-400] [--nonce NONCE]
//   node tests/e2e/lib/dpop-cli.mjs thumbprint --key key.json                           (RFC 7638, = cnf.jkt)
// --iat is an offset from now in seconds (write negative values with "=").
import { readFileSync } from 'node:fs';
import { parseCli, UsageError } from '../../../scripts/cli.mjs';

const USAGE = `usage: node tests/e2e/lib/dpop-cli.mjs COMMAND [options]
DPoP proofs made by the dpop npm package, for the curl commands of envoy/examples/dpop/README.md.

Commands:
  keygen [--alg ES256|RS256|PS256|Ed25519]    a new key pair as a private JWK on stdout (TEST ONLY)
  proof --key FILE --htm METHOD --htu URL     a proof for one request
        [--token ACCESS_TOKEN]                  binds it to the token (ath)
        [--iat=SECONDS]                         issued-at as an offset from now (negative values with "=")
        [--nonce NONCE]                         the server nonce (a DPoP-Nonce header's value)
  thumbprint --key FILE                       the key's RFC 7638 thumbprint (the token's cnf.jkt)
  --help, --version`;

const COMMANDS = ['keygen', 'proof', 'thumbprint'];
const { values, positionals } = parseCli({
  name: 'dpop-cli.mjs',
  usage: USAGE,
  allowPositionals: true,
  options: {
    alg: { type: 'string', default: 'ES256' },
    key: { type: 'string' },
    htm: { type: 'string' },
    htu: { type: 'string' },
    token: { type: 'string' },
    iat: { type: 'string' },
    nonce: { type: 'string' },
  },
  check(v, pos) {
    if (pos.length !== 1 || !COMMANDS.includes(pos[0])) throw new UsageError(`one command: ${COMMANDS.join(', ')}`);
    const need = { keygen: [], proof: ['key', 'htm', 'htu'], thumbprint: ['key'] }[pos[0]];
    for (const name of need) if (v[name] === undefined) throw new UsageError(`${pos[0]}: --${name} is required`);
    if (v.iat !== undefined && !/^-?\d+$/.test(v.iat)) throw new UsageError(`--iat: not a whole number of seconds: ${JSON.stringify(v.iat)}`);
  },
});
// Loaded after the command line is checked, so --help works before `npm ci`.
const { exportJWK, importJWK } = await import('jose');
const { dpopKeyPair, proof, thumbprint } = await import('./dpop.mjs');

const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

async function loadKeyPair(file) {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof jwk.alg !== 'string' || typeof jwk.d !== 'string') throw new Error(`${file}: not a private JWK with alg`);
  const pub = Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k)));
  return {
    privateKey: await importJWK(jwk, jwk.alg, { extractable: false }),
    publicKey: await importJWK(pub, jwk.alg, { extractable: true }),
  };
}

async function main() {
  const command = positionals[0];
  const need = (name) => values[name];
  switch (command) {
    case 'keygen': {
      const pair = await dpopKeyPair(values.alg);
      const jwk = { ...(await exportJWK(pair.privateKey)), alg: values.alg };
      process.stdout.write(`${JSON.stringify(jwk)}\n`);
      break;
    }
    case 'proof': {
      const pair = await loadKeyPair(need('key'));
      const iat = values.iat === undefined ? undefined : Math.floor(Date.now() / 1000) + Number(values.iat);
      process.stdout.write(`${await proof(pair, { htm: need('htm'), htu: need('htu'), accessToken: values.token, iat, nonce: values.nonce })}\n`);
      break;
    }
    case 'thumbprint':
      process.stdout.write(`${await thumbprint(await loadKeyPair(need('key')))}\n`);
      break;
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((err) => {
  process.stderr.write(`dpop-cli.mjs: ${err.message}\n`);
  process.exit(1);
});
