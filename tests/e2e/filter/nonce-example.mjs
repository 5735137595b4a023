// The shipped example envoy/examples/nonce (DPoP server nonces, protected resource metadata, step-up) started in the
// real Envoy against the real oidc-provider (tests/e2e/authz), as one replica or several: each replica listens on
// its own port while its dpop.origins and resource name the first replica's origin, as replicas behind one public
// origin do. Shared by nonce*.test.mjs, metadata*.test.mjs and step-up*.test.mjs.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { keepLogOnFailure, startEnvoy } from '../lib/envoy.mjs';
import { exampleConfig } from '../lib/examples.mjs';
import { request } from '../lib/http.mjs';
import { freePort, waitFor } from '../lib/net.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { clientCredentials } from '../authz/flow.mjs';

export const EXAMPLE = 'envoy/examples/nonce/envoy.yaml';
/** The example's TEST ONLY nonce secret (vm_config.environment_variables). */
export const EXAMPLE_SECRET = 'VEVTVC1PTkxZLWRwb3Atbm9uY2Utc2VjcmV0LTAwMDE';
/** Another TEST ONLY secret (base64url of 32 bytes), for a replica that must not accept the example's nonces. */
export const OTHER_SECRET = 'VEVTVC1PTkxZLW90aGVyLW5vbmNlLXNlY3JldC0wMDI';
export const REALM = 'tollgate';
export const ALGS = 'ES256 EdDSA RS256 PS256';
export const API_BODY = 'hello from the API\n';
export const NONCE_MISSING = 'the DPoP proof must carry the nonce sent in DPoP-Nonce';
export const NONCE_STALE = 'the DPoP proof nonce is not current; use the nonce sent in DPoP-Nonce';

/**
 * One authorization server and one replica of the example for the whole test file: started in `before` (then
 * `started({ as, envoy, port })` hands them to the file), stopped in `after`. Returns `test(name, fn)`: a test that
 * keeps Envoy's log when it fails.
 */
export function oneReplicaPerFile(name, started) {
  let as;
  let envoy;
  before(async () => {
    as = await startAuthServer();
    try {
      const port = await freePort();
      envoy = await startReplica(as, { port, name });
      started({ as, envoy, port });
    } catch (err) {
      await as.close();
      throw err;
    }
  });
  after(async () => {
    await envoy?.stop();
    await as?.close();
  });
  return (testName, fn) => it(testName, keepLogOnFailure(() => envoy, fn));
}

/**
 * Start one replica of the example listening on `port`, whose origin (dpop.origins, resource) is `origin`'s port
 * (default: its own). `secret` / `lifetime` replace the example's nonce secret / lifetime_seconds.
 */
export async function startReplica(as, { port, originPort = port, secret, lifetime, name = 'example-nonce' }) {
  let text = exampleConfig(EXAMPLE, { authPort: as.port, apiPort: originPort });
  if (port !== originPort) {
    assert.match(text, new RegExp(`port_value: ${originPort}\\b`));
    text = text.replace(new RegExp(`port_value: ${originPort}\\b`), `port_value: ${port}`);
  }
  if (secret !== undefined) {
    assert.ok(text.includes(EXAMPLE_SECRET), `${EXAMPLE} changed: update nonce-example.mjs`);
    text = text.replaceAll(EXAMPLE_SECRET, secret);
  }
  if (lifetime !== undefined) {
    assert.ok(text.includes('"lifetime_seconds": 60'), `${EXAMPLE} changed: update nonce-example.mjs`);
    text = text.replace('"lifetime_seconds": 60', `"lifetime_seconds": ${lifetime}`);
  }
  const envoy = await startEnvoy(text, { name, concurrency: 2 });
  try {
    // The filter fetches the server's keys through discovery after start: wait until a token is judged (an unbound
    // token on a DPoP route: 401 dpop_required) instead of racing the first fetch.
    const token = await serviceToken(as, {});
    await waitFor('the filter to fetch the server keys through discovery', async () => {
      const res = await request(port, { path: '/orders', headers: { authorization: `Bearer ${token}` } });
      return res.status === 401 && /dpop_required|DPoP-bound/.test(res.body);
    }, { timeoutMs: 20_000, intervalMs: 200 });
  } catch (err) {
    await envoy.stop();
    throw err;
  }
  return envoy;
}

/** An access token of the service client from the real server: DPoP-bound to `key` when given. */
export async function serviceToken(as, { key, scope = 'orders:read' }) {
  const res = await clientCredentials(as, { scope, dpop: key });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.token_type, key ? 'DPoP' : 'Bearer');
  return res.body.access_token;
}
