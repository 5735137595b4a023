// Certificate-bound access tokens (RFC 8705 §3) end to end: the shipped example envoy/examples/mtls/envoy.yaml in
// the real Envoy (TLS, client certificates required), plus a second listener built from it where the client
// certificate is optional so that requests without one reach the filter. TEST ONLY certificates made by openssl at
// run time (envoy/examples/mtls/make-certs.sh via lib/certs.mjs); tokens from the real oidc-provider, bound to a
// certificate that the test hands to it the way a TLS-terminating proxy does (x-ssl-client-cert).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';

import { keepLogOnFailure, startEnvoy } from '../lib/envoy.mjs';
import { exampleConfig, runReadmeBlock } from '../lib/examples.mjs';
import { makeTestPki } from '../lib/certs.mjs';
import { tlsH2Request, tlsRequest } from '../lib/tls.mjs';
import { waitFor } from '../lib/net.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { clientCredentials, jwtPayload } from '../authz/flow.mjs';
import { counterDelta } from './harness.mjs';

const EXAMPLE = 'envoy/examples/mtls/envoy.yaml';
const REALM = 'tollgate';
const API_BODY = 'hello from the API\n';
const OPTIONAL = 'api-optional-cert';

const TOKEN_ERRORS = {
  no_client_certificate: 'the token is bound to a client certificate the connection did not present',
  certificate_mismatch: 'the token is bound to another client certificate',
  not_certificate_bound: 'the token is not bound to a client certificate',
  bad_confirmation: 'the token confirmation claim (cnf) is malformed',
};

let pki;
let as;
let envoy;
let ports;

/** The example with its certificates from `dir`, and a copy of its listener named OPTIONAL where the client
 *  certificate is optional (require_client_certificate: false), everything else identical. */
function configWithOptionalListener(dir) {
  const doc = YAML.parse(exampleConfig(EXAMPLE, { authPort: as.port, certsDir: dir }));
  const [api] = doc.static_resources.listeners;
  const tls = api.filter_chains[0].transport_socket.typed_config;
  assert.equal(tls.require_client_certificate, true, `${EXAMPLE} requires client certificates`);
  const optional = structuredClone(api);
  optional.name = OPTIONAL;
  optional.filter_chains[0].transport_socket.typed_config.require_client_certificate = false;
  doc.static_resources.listeners.push(optional);
  return JSON.stringify(doc, null, 2);
}

before(async () => {
  pki = await makeTestPki();
  as = await startAuthServer();
  try {
    envoy = await startEnvoy(configWithOptionalListener(pki.dir), { name: 'example-mtls' });
    ports = { api: envoy.listenerPort('api'), optional: envoy.listenerPort(OPTIONAL) };
    // Wait for the keys (discovery) with an unbound token on the route that takes bearer tokens.
    const token = await serviceToken();
    await waitFor('the filter to fetch the server keys through discovery', async () => {
      const res = await call({ token, cert: pki.a, path: '/legacy' });
      return res.status === 200;
    }, { timeoutMs: 20_000, intervalMs: 200 });
  } catch (err) {
    await envoy?.stop();
    await as.close();
    pki.cleanup();
    throw err;
  }
});

after(async () => {
  await envoy?.stop();
  await as?.close();
  pki?.cleanup();
});

function test(name, fn) {
  return it(name, keepLogOnFailure(() => envoy, fn));
}

/** A service token: certificate-bound to `cert` (client tollgate-service-mtls) when given, else unbound. */
async function serviceToken({ cert, scope = 'orders:read' } = {}) {
  const res = cert
    ? await clientCredentials(as, { client: as.clients.serviceMtls, certificate: cert.pem, scope })
    : await clientCredentials(as, { scope });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.access_token;
}

/** One request over TLS to `listener` ('api' | 'optional'), presenting `cert` (or none), over h1 or h2. */
function call({ token, cert, path = '/orders', listener = 'api', h2 = false, method = 'GET' }) {
  const opts = {
    method, path, ca: pki.ca.pem, headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(cert ? { cert: cert.pem, key: cert.key } : {}),
  };
  return (h2 ? tlsH2Request : tlsRequest)(ports[listener], opts);
}

function assertAllowed(res, clientId = as.clients.serviceMtls.clientId) {
  assert.equal(res.status, 200, `${res.status} ${res.reset ?? ''} ${res.headers['www-authenticate'] ?? ''} ${res.body}`);
  assert.equal(res.body, API_BODY);
  assert.equal(res.headers['x-seen-client-id'], clientId);
  assert.equal(res.headers['x-seen-token-scope'], 'orders:read');
}

function assertTokenRefused(res, reason) {
  const description = TOKEN_ERRORS[reason];
  assert.equal(res.status, 401, `status (body: ${res.body}, reset: ${res.reset})`);
  assert.notEqual(res.body, API_BODY, 'a refused request must not reach the API');
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(res.json, { error: 'invalid_token', error_description: description });
  assert.equal(res.headers['www-authenticate'], `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`);
}

async function expectRefused(reason, opts) {
  const { delta, result } = await counterDelta(envoy, () => call(opts));
  assertTokenRefused(result, reason);
  assert.equal(delta[`denied.${reason}`], 1, `counter denied.${reason}: ${JSON.stringify(delta)}`);
  assert.equal(delta.allowed, undefined, JSON.stringify(delta));
}

describe('certificate-bound tokens through the real Envoy (example envoy/examples/mtls) with tokens from oidc-provider', () => {
  let tokenA;
  before(async () => {
    tokenA = await serviceToken({ cert: pki.a });
    assert.deepEqual(jwtPayload(tokenA).cnf, { 'x5t#S256': pki.a.x5tS256 });
  });

  test('a token bound to certificate A is accepted with certificate A, over HTTP/1.1 and HTTP/2', async () => {
    const h1 = await call({ token: tokenA, cert: pki.a });
    assertAllowed(h1);
    assert.equal(h1.tls.alpnProtocol, 'http/1.1');
    // Envoy's digest of the connection's certificate (hex) and the token's cnf.x5t#S256 (base64url) are the same bytes
    assert.equal(h1.headers['x-seen-peer-sha256'], pki.a.hex);
    assert.equal(Buffer.from(jwtPayload(tokenA).cnf['x5t#S256'], 'base64url').toString('hex'), pki.a.hex);
    const h2 = await call({ token: tokenA, cert: pki.a, h2: true });
    assertAllowed(h2);
    assert.equal(h2.tls.alpnProtocol, 'h2');
    // on the listener where the certificate is optional, presenting it works the same
    assertAllowed(await call({ token: tokenA, cert: pki.a, listener: 'optional' }));
  });

  test('the same token with certificate B: certificate_mismatch (h1 and h2)', async () => {
    await expectRefused('certificate_mismatch', { token: tokenA, cert: pki.b });
    await expectRefused('certificate_mismatch', { token: tokenA, cert: pki.b, h2: true });
    // and the other way round: B's token is good with B only
    const tokenB = await serviceToken({ cert: pki.b });
    assertAllowed(await call({ token: tokenB, cert: pki.b }));
    await expectRefused('certificate_mismatch', { token: tokenB, cert: pki.a });
  });

  test('without a certificate: the TLS handshake fails on the example listener; no_client_certificate where it is optional', async () => {
    const refused = await call({ token: tokenA });
    assert.equal(refused.status, 0, `expected no HTTP answer, got ${refused.status}`);
    assert.equal(refused.reset, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    const untrusted = await call({ token: tokenA, cert: pki.other });
    assert.equal(untrusted.status, 0, `a certificate from another CA got an HTTP answer: ${untrusted.status}`);
    assert.equal(untrusted.reset, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
    await expectRefused('no_client_certificate', { token: tokenA, listener: 'optional' });
    await expectRefused('no_client_certificate', { token: tokenA, listener: 'optional', h2: true });
  });

  test('an unbound token on the binding "mtls" route: not_certificate_bound; accepted on the binding "any" route', async () => {
    const unbound = await serviceToken();
    assert.equal(jwtPayload(unbound).cnf, undefined);
    await expectRefused('not_certificate_bound', { token: unbound, cert: pki.a });
    await expectRefused('not_certificate_bound', { token: unbound, listener: 'optional' });
    assertAllowed(await call({ token: unbound, cert: pki.a, path: '/legacy' }), as.clients.service.clientId);
    assertAllowed(await call({ token: unbound, listener: 'optional', path: '/legacy' }), as.clients.service.clientId);
  });

  test('binding "any" still holds a certificate-bound token to its certificate', async () => {
    assertAllowed(await call({ token: tokenA, cert: pki.a, path: '/legacy' }));
    await expectRefused('certificate_mismatch', { token: tokenA, cert: pki.b, path: '/legacy' });
    await expectRefused('no_client_certificate', { token: tokenA, listener: 'optional', path: '/legacy' });
  });

  test('the verified-token cache never skips the certificate: A, then B, then none, then A again', async () => {
    const t = await serviceToken({ cert: pki.a });
    assertAllowed(await call({ token: t, cert: pki.a }));
    await expectRefused('certificate_mismatch', { token: t, cert: pki.b });
    await expectRefused('no_client_certificate', { token: t, listener: 'optional' });
    assertAllowed(await call({ token: t, cert: pki.a }));
  });

  test('cnf.x5t#S256 encodings: only base64url of the 32 digest bytes; hex, padded base64 or a number are malformed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: as.issuer, aud: as.resource, sub: 'x', client_id: as.clients.serviceMtls.clientId, scope: 'orders:read', iat: now, exp: now + 300,
    };
    const sign = (cnf) => as.signToken({ ...claims, cnf, jti: randomBytes(8).toString('hex') });
    // the right value, signed by the server's key: accepted (the check is the thumbprint, not who minted it)
    assertAllowed(await call({ token: await sign({ 'x5t#S256': pki.a.x5tS256 }), cert: pki.a }));
    await expectRefused('bad_confirmation', { token: await sign({ 'x5t#S256': pki.a.hex }), cert: pki.a });
    // a well-formed thumbprint of another certificate is a mismatch, not a malformed claim
    await expectRefused('certificate_mismatch', { token: await sign({ 'x5t#S256': pki.b.x5tS256 }), cert: pki.a });
    const padded = Buffer.from(pki.a.hex, 'hex').toString('base64');
    await expectRefused('bad_confirmation', { token: await sign({ 'x5t#S256': padded }), cert: pki.a });
    await expectRefused('bad_confirmation', { token: await sign({ 'x5t#S256': 42 }), cert: pki.a });
  });

  test('the shipped README block, run literally with curl', async () => {
    const statuses = await runReadmeBlock('envoy/examples/mtls/README.md', 'x-ssl-client-cert', {
      api: ports.api, admin: envoy.adminPort, authz: as.port,
    }, { replace: [['envoy/examples/mtls/certs/', `${pki.dir}/`]] });
    assert.deepEqual(statuses, [200, 401, 0, 200]);
  });
});
