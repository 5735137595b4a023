// Every Envoy config shipped under envoy/ is loaded by the real Envoy: `envoy --mode validate` first, then started
// for real on free loopback ports and asked the questions its README / comments promise answers to.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO, requireWasm } from '../lib/paths.mjs';
import { render, validateConfigText, withEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { makeTestPki } from '../lib/certs.mjs';
import { runReadmeBlock } from '../lib/examples.mjs';
import { mint, PARTNER_ISSUER, KID } from '../fixtures/tokens.mjs';
import { dpopKeyPair, proof as dpopProof, thumbprint } from '../lib/dpop.mjs';
import { buildFloorSync } from '../../perf/bench/floor.mjs';

const ENVOY_DIR = path.join(REPO, 'envoy');
const SHIPPED_WASM_PATH = 'target/wasm32-wasip1/release/tollgate_filter.wasm';

function listConfigs(dir = ENVOY_DIR, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) listConfigs(p, out);
    // a JWK file next to an example is a TEST ONLY key its README signs with, not a config
    else if (/\.(ya?ml|json)$/.test(name) && !/\.jwk\.json$/.test(name)) out.push(path.relative(REPO, p));
  }
  return out;
}

const read = (rel) => readFileSync(path.join(REPO, rel), 'utf8');
const isExample = (rel) => /^envoy\/examples\/[^/]+\/envoy\.yaml$/.test(rel);
const isBench = (rel) => /^envoy\/bench\/[^/]+\.yaml$/.test(rel);
const usesWasm = (text) => text.includes('envoy.filters.http.wasm');
/** Examples run for real by their own suites (with the real authorization server): dpop.test.mjs, mtls.test.mjs,
 *  nonce*.test.mjs / metadata.test.mjs / step-up.test.mjs; the attestation example by attestation/example.test.mjs. */
const SENDER_CONSTRAINED_EXAMPLES = [
  'envoy/examples/dpop/envoy.yaml', 'envoy/examples/mtls/envoy.yaml', 'envoy/examples/nonce/envoy.yaml',
  'envoy/examples/attestation/envoy.yaml',
];
/** Examples whose TEST ONLY certificates are made at run time (make-certs.sh next to them), not shipped. */
const CERTS_AT_RUN_TIME = new Map([['envoy/examples/mtls/envoy.yaml', 'envoy/examples/mtls/certs/']]);
// Kubernetes manifests for Istio and Envoy Gateway, not Envoy configs: tests/e2e/mesh validates them against
// their schemas and runs their plugin configurations in the real Envoy.
const isMeshManifest = (rel) => /^envoy\/(istio|gateway)\/[^/]+\.ya?ml$/.test(rel);

/** Templates (demo, bench): every placeholder rendered; ports 0 so the kernel picks free ones. The benchmark's floor
 *  filter is built when a template needs it (it is not a shipped artefact, so scripts/build.sh does not build it). */
function renderTemplate(rel, vars = {}) {
  const text = read(rel);
  const floor = text.includes('{{FLOOR_WASM_PATH}}') ? buildFloorSync() : 'unused';
  return render(text, {
    LISTEN_PORT: 0, ADMIN_PORT: 0, UPSTREAM_PORT: 9, WASM_PATH: usesWasm(text) ? requireWasm() : 'unused', FLOOR_WASM_PATH: floor,
    INTROSPECTION_PORT: 9, ...vars,
  });
}

/** Examples are runnable as they are (fixed ports 10000 / 9901, .wasm path relative to the repo root);
 *  for a real run in tests the ports become 0 and the .wasm path the one under test. */
function exampleForRealRun(rel) {
  const text = read(rel);
  assert.match(text, /port_value: 10000\b/);
  assert.match(text, /port_value: 9901\b/);
  return text.replace(/port_value: 10000\b/g, 'port_value: 0').replace(/port_value: 9901\b/g, 'port_value: 0')
    .replaceAll(SHIPPED_WASM_PATH, requireWasm());
}

/** Examples are validated as shipped (cwd = repo root, relative .wasm path); only when the filter was built
 *  elsewhere ($TOLLGATE_FILTER_WASM) the relative path is pointed at it. */
function exampleAsShipped(rel) {
  const text = read(rel);
  if (!usesWasm(text)) return text;
  const wasm = requireWasm();
  return existsSync(path.join(REPO, SHIPPED_WASM_PATH)) ? text : text.replaceAll(SHIPPED_WASM_PATH, wasm);
}

/** pluginConfig of envoy/istio/wasmplugin.yaml: kept last in the file, written as JSON (YAML flow style). */
export function istioPluginConfig() {
  const text = read('envoy/istio/wasmplugin.yaml');
  const at = text.indexOf('\n  pluginConfig:');
  assert.ok(at > 0, 'wasmplugin.yaml has spec.pluginConfig');
  assert.match(text, /^kind: WasmPlugin$/m);
  assert.match(text, /^apiVersion: extensions\.istio\.io\/v1alpha1$/m);
  return JSON.parse(text.slice(at + '\n  pluginConfig:'.length));
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

describe('every Envoy config under envoy/ is loaded by a test', () => {
  const configs = listConfigs();

  it('each file is one this suite knows how to load (a new config needs a test here)', () => {
    const known = (rel) => isExample(rel) || isBench(rel) || rel === 'envoy/demo/envoy.yaml' || isMeshManifest(rel);
    assert.deepEqual(configs.filter((rel) => !known(rel)), []);
    assert.ok(configs.includes('envoy/demo/envoy.yaml'));
    assert.ok(configs.includes('envoy/istio/wasmplugin.yaml'));
    assert.ok(configs.filter(isExample).length >= 1);
    for (const rel of SENDER_CONSTRAINED_EXAMPLES) assert.ok(configs.includes(rel), rel);
    assert.deepEqual(configs.filter(isBench), [
      'envoy/bench/floor.yaml',
      'envoy/bench/jwt-authn-no-cache.yaml',
      'envoy/bench/jwt-authn-same-work.yaml',
      'envoy/bench/jwt-authn.yaml',
      'envoy/bench/no-auth.yaml',
      'envoy/bench/tollgate-anonymous.yaml',
      'envoy/bench/tollgate-cache-1000.yaml',
      'envoy/bench/tollgate-dpop.yaml',
      'envoy/bench/tollgate-introspection-no-cache.yaml',
      'envoy/bench/tollgate-introspection.yaml',
      'envoy/bench/tollgate.yaml',
    ]);
  });

  for (const rel of configs.filter((r) => !isMeshManifest(r))) {
    it(`envoy --mode validate ${rel}`, async () => {
      let text = isExample(rel) ? exampleAsShipped(rel) : renderTemplate(rel);
      const pki = CERTS_AT_RUN_TIME.has(rel) ? await makeTestPki() : undefined;
      try {
        if (pki) text = text.replaceAll(CERTS_AT_RUN_TIME.get(rel), `${pki.dir}/`);
        const { ok, output } = await validateConfigText(text);
        assert.ok(ok, output);
      } finally {
        pki?.cleanup();
      }
    });
  }

  it('envoy/examples/basic: 200 with claims echoed, 401 missing / expired / wrong audience, 403 scope, anonymous /health', async () => {
    await withEnvoy(exampleForRealRun('envoy/examples/basic/envoy.yaml'), { name: 'example-basic' }, async (envoy) => {
      const port = envoy.listenerPort('api');
      const ok = await request(port, { path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.headers['x-seen-user-id'], 'user-1234');
      assert.equal(ok.headers['x-seen-client-id'], 'mobile-app');
      assert.equal(ok.headers['x-seen-token-scope'], 'orders:read');
      const missing = await request(port, { path: '/orders' });
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="tollgate"');
      for (const token of [await mint({ iat: -400, exp: -60 }), await mint({ aud: 'other-api.example.com' })]) {
        const res = await request(port, { path: '/orders', headers: bearer(token) });
        assert.equal(res.status, 401, res.body);
        assert.match(res.headers['www-authenticate'], /^Bearer realm="tollgate", error="invalid_token", error_description="/);
      }
      const scope = await request(port, { method: 'POST', path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(scope.status, 403, scope.body);
      assert.match(scope.headers['www-authenticate'], /error="insufficient_scope".*, scope="orders:write"$/);
      const health = await request(port, { path: '/health', headers: { 'x-user-id': 'admin' } });
      assert.equal(health.status, 200, health.body);
      assert.ok(!health.headers['x-seen-user-id'], `spoofed x-user-id reached the API: ${health.headers['x-seen-user-id']}`);
      const readme = await runReadmeBlock('envoy/examples/basic/README.md', 'curl -i', { api: envoy.listenerPort('api'), admin: envoy.adminPort });
      assert.deepEqual(readme, [200, 401, 401, 401, 403, 200]);
    });
  });

  it('envoy/examples/two-providers: both issuers accepted, keys not shared, per-provider counters', async () => {
    await withEnvoy(exampleForRealRun('envoy/examples/two-providers/envoy.yaml'), { name: 'example-two-providers' }, async (envoy) => {
      const port = envoy.listenerPort('api');
      const a = await request(port, { path: '/orders', headers: bearer(await mint({ alg: 'EdDSA' })) });
      assert.equal(a.status, 200, a.body);
      assert.equal(a.headers['x-seen-issuer'], 'https://login.example.com/oauth/v2/oauth-anonymous');
      const b = await request(port, { path: '/orders', headers: bearer(await mint({ iss: PARTNER_ISSUER, kid: KID.PARTNER })) });
      assert.equal(b.status, 200, b.body);
      assert.equal(b.headers['x-seen-issuer'], PARTNER_ISSUER);
      const crossed = await request(port, { path: '/orders', headers: bearer(await mint({ iss: PARTNER_ISSUER })) });
      assert.equal(crossed.status, 401, crossed.body);
      assert.equal(await envoy.family('allowed', { provider: 'idsvr' }), 1);
      assert.equal(await envoy.family('allowed', { provider: 'partner' }), 1);
      assert.equal(await envoy.family('denied', { provider: 'partner' }), 1);
      const readme = await runReadmeBlock('envoy/examples/two-providers/README.md', 'curl -i', { api: envoy.listenerPort('api'), admin: envoy.adminPort });
      assert.deepEqual(readme, [200, 200, 401]);
    });
  });

  it('envoy/demo/envoy.yaml: runs in front of the echo API, forwards claims, refuses without a token', async () => {
    const config = (upstreamPort) => renderTemplate('envoy/demo/envoy.yaml', { UPSTREAM_PORT: upstreamPort });
    await withEnvoy(config, { name: 'demo-config' }, async (envoy, upstream) => {
      const port = envoy.listenerPort('demo');
      const ok = await request(port, { path: '/orders', headers: bearer(await mint({ sub: 'demo-user' })) });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.headers['x-user-id'], 'demo-user');
      const no = await request(port, { path: '/orders' });
      assert.equal(no.status, 401);
      assert.equal(no.headers['www-authenticate'], 'Bearer realm="demo-api"');
      assert.equal(upstream.seen.length, 1);
    });
  });

  it('envoy/bench/no-auth.yaml: 200 without a token', async () => {
    await withEnvoy(renderTemplate('envoy/bench/no-auth.yaml'), { name: 'bench-no-auth' }, async (envoy) => {
      const res = await request(envoy.listenerPort('bench'), { path: '/' });
      assert.equal(res.status, 200);
      assert.equal(res.body, 'ok\n');
    });
  });

  it('envoy/bench/jwt-authn.yaml: native jwt_authn accepts the fixture tokens (ES256, EdDSA, RS256), refuses none / expired', async () => {
    await withEnvoy(renderTemplate('envoy/bench/jwt-authn.yaml'), { name: 'bench-jwt-authn' }, async (envoy) => {
      const port = envoy.listenerPort('bench');
      for (const alg of ['ES256', 'EdDSA', 'RS256']) {
        const res = await request(port, { path: '/', headers: bearer(await mint({ alg })) });
        assert.equal(res.status, 200, `${alg}: ${res.body}`);
      }
      assert.equal((await request(port, { path: '/' })).status, 401);
      assert.equal((await request(port, { path: '/', headers: bearer(await mint({ iat: -400, exp: -100 })) })).status, 401);
    });
  });

  it('envoy/bench/tollgate.yaml: 200 with a token, 401 without', async () => {
    await withEnvoy(renderTemplate('envoy/bench/tollgate.yaml'), { name: 'bench-tollgate' }, async (envoy) => {
      const port = envoy.listenerPort('bench');
      const res = await request(port, { path: '/', headers: bearer(await mint()) });
      assert.equal(res.status, 200, res.body);
      assert.equal((await request(port, { path: '/' })).status, 401);
    });
  });

  it('envoy/bench/tollgate-dpop.yaml: a DPoP-bound token with a fresh proof (ES256, EdDSA) passes, once; bearer tokens do not', async () => {
    await withEnvoy(renderTemplate('envoy/bench/tollgate-dpop.yaml'), { name: 'bench-tollgate-dpop' }, async (envoy) => {
      const port = envoy.listenerPort('bench');
      const htu = `http://127.0.0.1:${port}/`;
      for (const alg of ['ES256', 'Ed25519']) {
        const keyPair = await dpopKeyPair(alg);
        const token = await mint({ claims: { cnf: { jkt: await thumbprint(keyPair) } } });
        const headers = { authorization: `DPoP ${token}`, dpop: await dpopProof(keyPair, { htm: 'GET', htu, accessToken: token }) };
        const ok = await request(port, { path: '/', headers });
        assert.equal(ok.status, 200, `${alg}: ${ok.body}`);
        const again = await request(port, { path: '/', headers });
        assert.equal(again.status, 401, again.body);
        assert.match(again.headers['www-authenticate'], /^DPoP realm="tollgate", error="invalid_dpop_proof", error_description="the DPoP proof was used before", algs="ES256 EdDSA"$/);
        const asBearer = await request(port, { path: '/', headers: bearer(token) });
        assert.equal(asBearer.status, 401, asBearer.body);
      }
      const unbound = await request(port, { path: '/', headers: bearer(await mint()) });
      assert.equal(unbound.status, 401, unbound.body);
      assert.match(unbound.headers['www-authenticate'], /error_description="this resource requires a DPoP-bound token"/);
      assert.equal((await request(port, { path: '/' })).status, 401);
      assert.equal(await envoy.family('denied', { reason: 'dpop_replayed' }), 2);
    });
  });

  it('envoy/bench/tollgate-anonymous.yaml: the filter runs (counts the allow) but needs no token', async () => {
    await withEnvoy(renderTemplate('envoy/bench/tollgate-anonymous.yaml'), { name: 'bench-tollgate-anonymous' }, async (envoy) => {
      const port = envoy.listenerPort('bench');
      assert.equal((await request(port, { path: '/' })).status, 200);
      assert.equal((await request(port, { path: '/', headers: { authorization: 'Bearer not-even-a-jwt' } })).status, 200);
      assert.equal(await envoy.family('allowed'), 2);
    });
  });

  it('envoy/istio/wasmplugin.yaml: its pluginConfig is accepted by the filter in the real Envoy and enforces its rules', async () => {
    const plugin = istioPluginConfig();
    const config = (upstreamPort) => toYaml(bootstrap({ upstreamPort, httpFilters: [tollgateFilter(plugin, { wasm: requireWasm() })] }));
    await withEnvoy(config, { name: 'istio-plugin-config' }, async (envoy) => {
      const port = envoy.listenerPort('ingress');
      const ok = await request(port, { path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.headers['x-user-id'], 'user-1234');
      const write = await request(port, { method: 'POST', path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(write.status, 403, write.body);
      assert.match(write.headers['www-authenticate'], /^Bearer realm="orders-api", error="insufficient_scope".*scope="orders:write"$/);
      assert.equal((await request(port, { path: '/health' })).status, 200);
      assert.equal((await request(port, { path: '/orders' })).status, 401);
    });
  });
});
