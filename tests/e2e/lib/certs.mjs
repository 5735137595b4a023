// TEST ONLY X.509 certificates, made at run time by openssl (Debian's package) through the shipped script
// envoy/examples/mtls/make-certs.sh, so the tests exercise exactly what the example's README tells a user to run.
// Nothing here is secret: every key is fresh, lives in a temporary directory, and is removed by cleanup().
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './paths.mjs';
import { runToCompletion } from './proc.mjs';

export const MAKE_CERTS = path.join(REPO, 'envoy/examples/mtls/make-certs.sh');

/** Thumbprints of a PEM certificate: SHA-256 of its DER, hex (Envoy's connection.sha256_peer_certificate_digest)
 *  and base64url (RFC 8705 cnf.x5t#S256). */
export function certThumbprints(pem) {
  const der = new X509Certificate(pem).raw;
  const digest = createHash('sha256').update(der).digest();
  return { hex: digest.toString('hex'), x5tS256: digest.toString('base64url') };
}

/**
 * Make the example's TEST ONLY PKI in a fresh temporary directory. Resolves
 *   { dir, file(name), ca, server, a, b, other, cleanup() }
 * where ca is { pem }, and server / a / b / other are { pem, key, certFile, keyFile, hex, x5tS256 }
 * (a, b: clients of the trusted CA; other: a client of a CA Envoy does not trust).
 */
export async function makeTestPki() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-pki-'));
  const { code, output } = await runToCompletion('bash', [MAKE_CERTS, dir], { timeoutMs: 30_000 });
  if (code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${MAKE_CERTS} failed (${code}); it needs openssl (scripts/setup.sh installs it):\n${output}`);
  }
  const file = (name) => path.join(dir, name);
  const entity = (name) => {
    const pem = readFileSync(file(`${name}.pem`), 'utf8');
    return {
      pem, key: readFileSync(file(`${name}.key`), 'utf8'), certFile: file(`${name}.pem`), keyFile: file(`${name}.key`),
      ...certThumbprints(pem),
    };
  };
  return {
    dir,
    file,
    ca: { pem: readFileSync(file('ca.pem'), 'utf8'), certFile: file('ca.pem') },
    server: entity('server'),
    a: entity('client-a'),
    b: entity('client-b'),
    other: entity('client-other'),
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
