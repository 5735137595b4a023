#!/usr/bin/env node
// DPoP proofs on the command line, for the curl commands of envoy/examples/dpop/README.md. The proof is made by
// the `dpop` npm package (lib/dpop.mjs), the key kept in a TEST ONLY JWK file. Usage:
//   node tests/e2e/lib/dpop-cli.mjs keygen [--alg ES256|RS256|PS256]        > key.json   (private JWK, TEST ONLY)
//   node tests/e2e/lib/dpop-cli.mjs proof --key key.json --htm GET --htu URL [--token ACCESS_TOKEN] [--iat=-400]
//   node tests/e2e/lib/dpop-cli.mjs thumbprint --key key.json                           (RFC 7638, = cnf.jkt)
// --iat is an offset from now in seconds (write negative values with "=").
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { exportJWK, importJWK } from 'jose';
import { dpopKeyPair, proof, thumbprint } from './dpop.mjs';

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
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      alg: { type: 'string', default: 'ES256' },
      key: { type: 'string' },
      htm: { type: 'string' },
      htu: { type: 'string' },
      token: { type: 'string' },
      iat: { type: 'string' },
    },
  });
  const need = (name) => {
    if (values[name] === undefined) throw new Error(`${command}: --${name} is required`);
    return values[name];
  };
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
      process.stdout.write(`${await proof(pair, { htm: need('htm'), htu: need('htu'), accessToken: values.token, iat })}\n`);
      break;
    }
    case 'thumbprint':
      process.stdout.write(`${await thumbprint(await loadKeyPair(need('key')))}\n`);
      break;
    default:
      throw new Error('usage: dpop-cli.mjs keygen [--alg ES256] | proof --key FILE --htm METHOD --htu URL [--token AT] [--iat=SECONDS] | thumbprint --key FILE');
  }
}

main().catch((err) => {
  process.stderr.write(`dpop-cli: ${err.message}\n`);
  process.exit(2);
});
