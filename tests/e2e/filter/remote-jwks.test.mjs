// Remote keys end to end: remote JWKS through OpenID Connect discovery, with the real Envoy running the
// shipped example envoy/examples/remote-jwks/envoy.yaml and the real authorization server (oidc-provider
// from npm, tests/e2e/authz) on loopback. Scenarios: a token accepted through discovery; key rotation
// without restarting Envoy; an outage (known keys keep working, then recovery); forged kids cause at
// most one JWKS refetch per interval (counted by the server); no keys at all → 503 with Retry-After.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { keepLogOnFailure, startEnvoy, withEnvoy } from '../lib/envoy.mjs';
import { exampleConfig as shippedExample, runReadmeBlock } from '../lib/examples.mjs';
import { request } from '../lib/http.mjs';
import { waitFor } from '../lib/net.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { clientCredentials, jwtHeader } from '../authz/flow.mjs';

const EXAMPLE = 'envoy/examples/remote-jwks/envoy.yaml';
/** The tests shorten the example's 30 s unknown-kid refetch interval so they run in seconds. */
const REFETCH_INTERVAL_S = 3;

/** The shipped example, made runnable here (lib/examples.mjs), with the shorter refetch interval. */
function exampleConfig(authPort, { refetchIntervalS = REFETCH_INTERVAL_S } = {}) {
  const text = shippedExample(EXAMPLE, { authPort });
  assert.match(text, /"refetch_interval_seconds": 30\b/, `${EXAMPLE} changed: update this test`);
  return text.replace('"refetch_interval_seconds": 30', `"refetch_interval_seconds": ${refetchIntervalS}`);
}

/** The filter's metrics for the example's provider `authz` (Envoy adds the prefix `wasmcustom.`). */
const METRIC = {
  fetchSuccess: 'tollgate.prefix.tollgate.provider.authz.jwks_fetch_success',
  fetchFailure: 'tollgate.prefix.tollgate.provider.authz.jwks_fetch_failed',
  refetchTriggered: 'tollgate.prefix.tollgate.provider.authz.jwks_refetch_triggered',
  keys: 'tollgate.prefix.tollgate.provider.authz.jwks_keys',
  keysUnavailable: 'tollgate.prefix.tollgate.provider.authz.reason.keys_unavailable.denied',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bearer = (token) => ({ authorization: `Bearer ${token}` });

async function serviceToken(as, scope = 'orders:read') {
  const res = await clientCredentials(as, { scope });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.access_token;
}

/** A token signed with a real key of the server but naming a kid nobody publishes. */
function forgedKidToken(as) {
  const now = Math.floor(Date.now() / 1000);
  return as.signToken(
    { iss: as.issuer, aud: as.resource, sub: 'forger', client_id: 'forger', scope: 'orders:read', iat: now, exp: now + 300, jti: crypto.randomUUID() },
    { header: { kid: `forged-${crypto.randomUUID()}` } },
  );
}

describe('remote JWKS through discovery: real Envoy + real oidc-provider', () => {
  let as;
  let envoy;
  let port;
  const stat = async (name) => (await envoy.stats(`^wasmcustom\\.tollgate\\.`)).get(`wasmcustom.${name}`) ?? 0;
  const get = (token, p = '/orders') => request(port, { path: p, headers: token ? bearer(token) : {} });

  before(async () => {
    as = await startAuthServer();
    try {
      envoy = await startEnvoy(exampleConfig(as.port), { name: 'remote-jwks' });
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

  /** Run a test body; on failure keep and print the Envoy log. */
  const wrap = (fn) => keepLogOnFailure(() => envoy, fn);

  it('1. a token from the server is accepted through discovery (one fetch for the whole process)', wrap(async () => {
    const token = await serviceToken(as);
    const started = Date.now();
    const res = await get(token);
    assert.equal(res.status, 200, res.body);
    // Waiting for the first keys takes one fetch, not a whole fetch lease (3 s here) left
    // behind by a VM Envoy configured and discarded at start-up.
    assert.ok(Date.now() - started < 1500, `first request took ${Date.now() - started} ms`);
    assert.equal(res.headers['x-seen-client-id'], 'tollgate-service');
    assert.equal(res.headers['x-seen-token-scope'], 'orders:read');
    assert.equal(as.requests.discovery, 1, 'discovery document fetched once');
    assert.equal(as.requests.jwks, 1, 'JWKS fetched once, not once per worker');
    assert.equal(await stat(METRIC.fetchSuccess), 1);
    assert.equal(await stat(METRIC.fetchFailure), 0);
    assert.equal(await stat(METRIC.keys), as.publishedKids().length);
    // Scope still enforced, anonymous route still open.
    assert.equal((await request(port, { method: 'POST', path: '/orders', headers: bearer(token) })).status, 403);
    assert.equal((await get(undefined, '/health')).status, 200);
    // The README's commands, as a user would paste them.
    await runReadmeBlock('envoy/examples/remote-jwks/README.md', 'TOKEN=$(', {
      api: envoy.listenerPort('api'), admin: envoy.adminPort, authz: as.port,
    });
  }));

  it('2. the server rotates its key: a token signed with the new key is accepted without restarting Envoy', wrap(async () => {
    const jwksBefore = as.requests.jwks;
    const { kid } = await as.rotateKeys();
    const token = await serviceToken(as);
    assert.equal(jwtHeader(token).kid, kid);
    const res = await get(token);
    assert.equal(res.status, 200, res.body);
    assert.equal(as.requests.jwks, jwksBefore + 1, 'exactly one refetch for the new kid');
    assert.equal(await stat(METRIC.refetchTriggered), 1);
    assert.equal(await stat(METRIC.keys), as.publishedKids().length);
  }));

  it('3. the server is stopped: known keys keep working; restarted, the filter recovers', wrap(async () => {
    const known = await serviceToken(as);
    await as.stop();
    try {
      assert.equal((await get(known)).status, 200, 'a known key works during the outage');
      // An unknown kid during the outage: the refetch fails (connection refused) → 401, never 5xx.
      await sleep(REFETCH_INTERVAL_S * 1000 + 200);
      const failuresBefore = await stat(METRIC.fetchFailure);
      const forged = await get(await forgedKidToken(as));
      assert.equal(forged.status, 401, forged.body);
      assert.equal(forged.json.error, 'invalid_token');
      await waitFor('a counted fetch failure', async () => (await stat(METRIC.fetchFailure)) > failuresBefore, { timeoutMs: 5000 });
      assert.equal((await get(known)).status, 200, 'the last good keys are still used');
    } finally {
      await as.restart();
    }
    // Recovery: a new key generation is picked up once the server is back.
    const { kid } = await as.rotateKeys();
    const fresh = await serviceToken(as);
    assert.equal(jwtHeader(fresh).kid, kid);
    await sleep(REFETCH_INTERVAL_S * 1000 + 200);
    const res = await get(fresh);
    assert.equal(res.status, 200, res.body);
    assert.equal((await get(known)).status, 200);
  }));

  it('4. a flood of random kids triggers at most one JWKS refetch per interval (server counters)', wrap(async () => {
    await sleep(REFETCH_INTERVAL_S * 1000 + 200);
    for (let round = 0; round < 2; round += 1) {
      const start = Date.now();
      const refetchesBefore = await stat(METRIC.refetchTriggered);
      const results = [];
      for (let i = 0; i < 20; i += 1) results.push((await get(await forgedKidToken(as))).status);
      const elapsed = Date.now() - start;
      assert.deepEqual([...new Set(results)], [401]);
      const fetched = as.requestsSince('jwks', start);
      const allowed = 1 + Math.floor(elapsed / (REFETCH_INTERVAL_S * 1000));
      assert.ok(fetched >= 1 && fetched <= allowed, `${fetched} JWKS fetches in ${elapsed} ms (at most ${allowed})`);
      assert.equal((await stat(METRIC.refetchTriggered)) - refetchesBefore, fetched);
      await sleep(REFETCH_INTERVAL_S * 1000 + 200);
    }
    // Real tokens are unaffected.
    assert.equal((await get(await serviceToken(as))).status, 200);
  }));

  it('5. a client that resets its request cannot cancel the refetch it triggered: the rotated key still arrives', wrap(async () => {
    await sleep(REFETCH_INTERVAL_S * 1000 + 200);
    const { kid } = await as.rotateKeys();
    const token = await serviceToken(as);
    assert.equal(jwtHeader(token).kid, kid);
    // The key server answers slowly, so the refetch is still in flight when the attacker resets.
    as.injectFault('jwks', { delayMs: 800 });
    const jwksBefore = as.requests.jwks;
    try {
      // The attacker sends the first token with the new kid (it triggers the refetch and spends the refetch
      // slot) and resets the connection while the request waits for the keys.
      await new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`GET /orders HTTP/1.1\r\nhost: api\r\nauthorization: Bearer ${token}\r\n\r\n`);
          setTimeout(() => { socket.resetAndDestroy(); resolve(); }, 150);
        });
        socket.on('error', reject);
      });
      // Legitimate requests with the new key, right after and within the refetch interval: they pass.
      const started = Date.now();
      const res = await get(token);
      assert.equal(res.status, 200, res.body);
      assert.ok(Date.now() - started < 2000, `waited ${Date.now() - started} ms`);
      assert.equal((await get(token)).status, 200);
      assert.equal(as.requests.jwks, jwksBefore + 1, 'the one refetch the attacker triggered was used');
    } finally {
      as.clearFaults();
    }
  }));
});

describe('remote JWKS: no keys at all', () => {
  it('5. before any successful fetch, a request waits for the fetch and then gets 503 with Retry-After', async () => {
    const as = await startAuthServer();
    const authPort = as.port;
    await as.close(); // the server is down from the start: connection refused
    await withEnvoy(exampleConfig(authPort), { name: 'remote-jwks-down' }, async (envoy) => {
      const token = await (async () => {
        // Any syntactically valid token of this issuer: its keys are unknown anyway.
        const now = Math.floor(Date.now() / 1000);
        const h = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })).toString('base64url');
        const p = Buffer.from(JSON.stringify({ iss: `http://127.0.0.1:${authPort}`, aud: 'https://api.tollgate.test', iat: now, exp: now + 60 })).toString('base64url');
        return `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`;
      })();
      const res = await request(envoy.listenerPort('api'), { path: '/orders', headers: bearer(token) });
      assert.equal(res.status, 503, res.body);
      assert.match(res.headers['retry-after'] ?? '', /^[1-9][0-9]*$/);
      assert.equal(res.json?.error, 'temporarily_unavailable');
      assert.equal(res.headers['www-authenticate'], undefined, 'a server-side failure is never a 401');
      const stats = await envoy.stats('^wasmcustom\\.tollgate\\.');
      assert.ok((stats.get(`wasmcustom.${METRIC.fetchFailure}`) ?? 0) >= 1);
      assert.equal(stats.get(`wasmcustom.${METRIC.keysUnavailable}`), 1);
    });
  });
});
