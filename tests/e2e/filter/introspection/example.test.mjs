// The shipped example envoy/examples/introspection, run as its README says: the real Envoy with the example's
// configuration (two workers, the gateway's secret from the VM environment), the test authorization server with
// opaque access tokens (tests/e2e/authz/server.mjs, `opaqueAccessTokens`, the README's `--opaque`), and the README's
// curl commands run literally with their documented statuses. Then what the README says about an outage.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startAuthServer } from '../../authz/server.mjs';
import { clientCredentials } from '../../authz/flow.mjs';
import { keepLogOnFailure, startEnvoy } from '../../lib/envoy.mjs';
import { exampleConfig, runReadmeBlock } from '../../lib/examples.mjs';
import { request } from '../../lib/http.mjs';
import { REPO } from '../../lib/paths.mjs';
import { assertNoSecret } from '../harness.mjs';

const EXAMPLE = 'envoy/examples/introspection/envoy.yaml';
const README = 'envoy/examples/introspection/README.md';
const INTROSPECTION_PATH = '/token/introspection';

describe('example envoy/examples/introspection: real Envoy, the harness with opaque tokens, the README\'s commands', () => {
  let as;
  let envoy;
  let port;
  const test = (name, fn) => it(name, keepLogOnFailure(() => envoy, fn));
  const used = [];
  const introspections = () => as.requestLog.filter((e) => e.path === INTROSPECTION_PATH).length;

  before(async () => {
    as = await startAuthServer({ opaqueAccessTokens: true });
    try {
      envoy = await startEnvoy(exampleConfig(EXAMPLE, { authPort: as.port }), { name: 'example-introspection', concurrency: 2 });
    } catch (err) {
      await as.close();
      throw err;
    }
    port = envoy.listenerPort('api');
  });
  after(async () => {
    await envoy?.stop();
    await as?.close();
  });

  async function opaqueToken() {
    const res = await clientCredentials(as, { scope: 'orders:read' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.doesNotMatch(res.body.access_token, /\./, 'an opaque token');
    used.push(res.body.access_token);
    return res.body.access_token;
  }

  test('the README\'s commands answer as documented: 200, 403 from the cache, 401 not active; two calls in all', async () => {
    const before = introspections();
    const statuses = await runReadmeBlock(README, 'TOKEN=$(', { api: port, admin: envoy.adminPort, authz: as.port });
    assert.deepEqual(statuses, [200, 403, 401]);
    assert.equal(introspections() - before, 2, 'one call for the token (the 403 is answered from the cache), one for the unknown one');
    const prometheus = await envoy.admin('/stats/prometheus');
    assert.match(prometheus, /^tollgate_introspection_calls\{[^}]*provider="authz"[^}]*\} 2$/m);
  });

  test('the README\'s outage: a cached token keeps working, another gets 503 with Retry-After 5; back, it passes', async () => {
    const cached = await opaqueToken();
    const other = await opaqueToken();
    const get = (token) => request(port, { path: '/orders', headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get(cached)).status, 200);
    await as.stop();
    try {
      assert.equal((await get(cached)).status, 200, 'the cached answer is used while the server is down');
      const res = await get(other);
      assert.equal(res.status, 503, res.body);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json?.error, 'temporarily_unavailable');
      assert.equal(res.headers['www-authenticate'], undefined);
    } finally {
      await as.restart();
    }
    assert.equal((await get(other)).status, 200);
  });

  test('Envoy\'s log holds neither the gateway\'s secret nor a token it saw', async () => {
    const secret = /TOLLGATE_INTROSPECTION_SECRET: (\S+)/.exec(readFileSync(path.join(REPO, EXAMPLE), 'utf8'))?.[1];
    assert.ok(secret && secret.startsWith('TEST-ONLY-'), 'the example gives its TEST ONLY secret in key_values');
    const log = envoy.log();
    assert.ok(!log.includes(secret), 'the secret is not in the log');
    assert.ok(!log.includes(Buffer.from(`tollgate-gateway:${secret}`).toString('base64')), 'nor its Basic credentials');
    assert.equal(used.length, 2);
    for (const t of used) assertNoSecret(log, t, 'Envoy log');
  });
});
