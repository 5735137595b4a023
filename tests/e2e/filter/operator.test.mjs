// What an operator sees and uses, through the real Envoy: labelled Prometheus series (two filter instances counted
// apart), dry-run rules, the accepted claims in Envoy's filter state (an access log line and an RBAC rule on a
// claim), token sources and allow_missing, and the log lines of a denial (request id, rule, the debug explanation,
// never the token).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { keepLogOnFailure, startEnvoy, withEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter, routerFilter } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { REPO, requireWasm } from '../lib/paths.mjs';
import { STATS_TAGS } from '../lib/metrics.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { scenarioConfig, assertNoSecret } from './harness.mjs';
import { mint } from '../fixtures/tokens.mjs';

const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** Prometheus lines of family `name` (without the `# TYPE` line), as `labels-string → value`. */
function series(prom, name) {
  const out = new Map();
  for (const line of prom.split('\n')) {
    const m = line.match(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`));
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Envoy with the debug logs of the filter and of RBAC, which these tests read. */
const LOGS = 'wasm:debug,rbac:debug';

describe('metrics: one labelled family per decision, in Envoy\'s /stats/prometheus', () => {
  it('two filter instances (stat_prefix orders and billing) are counted apart, by provider and reason; dry-run counts would_deny', async () => {
    const wasm = requireWasm();
    const build = (upstreamPort) => {
      const b = bootstrap({
        upstreamPort,
        httpFilters: [tollgateFilter(scenarioConfig({ stat_prefix: 'orders' }), { wasm, name: 'orders' })],
      });
      const second = structuredClone(b.static_resources.listeners[0]);
      second.name = 'billing';
      const billing = scenarioConfig({ stat_prefix: 'billing' });
      billing.rules.find((r) => r.match.prefix === '/admin').mode = 'dry_run';
      second.filter_chains[0].filters[0].typed_config.http_filters = [tollgateFilter(billing, { wasm, name: 'billing' }), routerFilter];
      b.static_resources.listeners.push(second);
      return b;
    };
    await withEnvoy((port) => toYaml(build(port)), { name: 'operator-prometheus', componentLogLevel: LOGS }, async (envoy, upstream) => {
      const orders = envoy.listenerPort('ingress');
      const billing = envoy.listenerPort('billing');
      const token = await mint();
      assert.equal((await request(orders, { path: '/orders', headers: bearer(token) })).status, 200);
      assert.equal((await request(orders, { path: '/orders' })).status, 401);
      assert.equal((await request(orders, { path: '/orders' })).status, 401);
      assert.equal((await request(orders, { path: '/admin', headers: bearer(token) })).status, 403);
      assert.equal((await request(billing, { path: '/orders' })).status, 401);
      // Dry run on billing's /admin: the decision is counted, the request reaches the API.
      const seen = upstream.seen.length;
      assert.equal((await request(billing, { path: '/admin', headers: bearer(token) })).status, 200);
      assert.equal(upstream.seen.length, seen + 1);

      const prom = await envoy.admin('/stats/prometheus');
      for (const family of ['allowed', 'denied', 'would_deny']) {
        assert.equal(prom.split('\n').filter((l) => l === `# TYPE tollgate_${family} counter`).length, 1, family);
      }
      const denied = series(prom, 'tollgate_denied');
      assert.equal(denied.get('stat_prefix="orders",provider="none",reason="missing_token"'), 2);
      assert.equal(denied.get('stat_prefix="orders",provider="idsvr",reason="insufficient_scope"'), 1);
      assert.equal(denied.get('stat_prefix="billing",provider="none",reason="missing_token"'), 1);
      assert.equal(denied.get('stat_prefix="billing",provider="idsvr",reason="insufficient_scope"'), undefined);
      const allowed = series(prom, 'tollgate_allowed');
      assert.equal(allowed.get('stat_prefix="orders",provider="idsvr"'), 1);
      assert.equal(allowed.get('stat_prefix="billing",provider="idsvr"'), 0);
      assert.equal(allowed.get('stat_prefix="billing",provider="partner"'), 0);
      const wouldDeny = series(prom, 'tollgate_would_deny');
      assert.deepEqual([...wouldDeny], [['stat_prefix="billing",provider="idsvr",reason="insufficient_scope"', 1]]);
      // The other families carry their labels too.
      assert.ok(series(prom, 'tollgate_jwt_cache_miss').has('stat_prefix="orders"'));
      assert.ok(series(prom, 'tollgate_signatures').has('stat_prefix="orders",signature_path="host"'));
      assert.equal(series(prom, 'tollgate_signature_host_algorithms').get('stat_prefix="billing"'), 5);
      // No name escaped the tags (e.g. a reason left inside the name).
      for (const line of prom.split('\n').filter((l) => l.startsWith('tollgate_'))) {
        assert.match(line, /^tollgate_(allowed|denied|would_deny|jwt_cache_hit|jwt_cache_miss|signatures|signature_host_algorithms|vm_memory_bytes)\{stat_prefix="(orders|billing)"/, line);
      }
      // The dry-run decision is logged as such.
      assert.match(envoy.log(), /wasm log billing tollgate: would deny \(dry run\): status=403 reason=insufficient_scope provider=idsvr rule=3 match=prefix:\/admin request_id="[^"]+"/);
    });
  });

  it('every shipped Envoy config with the filter carries the README\'s stats_tags', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const block = readme.split('```yaml\n').map((b) => b.split('```')[0]).find((b) => b.includes('stats_tags'));
    assert.ok(block, 'README has a yaml block with stats_tags');
    assert.deepEqual(YAML.parse(block).stats_config.stats_tags, STATS_TAGS);
    const files = [];
    const walk = (dir) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.yaml')) files.push(p);
      }
    };
    walk(path.join(REPO, 'envoy'));
    const withFilter = files.filter((f) => /vm_id: tollgate\b/.test(readFileSync(f, 'utf8')));
    assert.ok(withFilter.length >= 10, withFilter.join(', ')); // the demo, five examples, four bench setups
    for (const f of withFilter) {
      const doc = YAML.parse(readFileSync(f, 'utf8'));
      assert.deepEqual(doc.stats_config?.stats_tags, STATS_TAGS, path.relative(REPO, f));
    }
  });
});

describe('claims for the rest of Envoy: filter state read by an access log and by RBAC', () => {
  it('the access log prints sub; an RBAC rule after the filter admits only the tenant it names', async () => {
    const wasm = requireWasm();
    const logDir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-access-log-'));
    const accessLog = path.join(logDir, 'access.log');
    const plugin = scenarioConfig({ claims_to_filter_state: ['sub', 'tenant.id'] });
    const rbac = {
      name: 'envoy.filters.http.rbac',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        rules: {
          action: 'ALLOW',
          policies: {
            'tenant-acme-or-public': {
              permissions: [{ any: true }],
              principals: [
                { filter_state: { key: 'wasm.tollgate.claims.tenant.id', string_match: { exact: 'acme' } } },
                { url_path: { path: { prefix: '/health' } } },
              ],
            },
          },
        },
      },
    };
    const build = (upstreamPort) => bootstrap({
      upstreamPort,
      httpFilters: [tollgateFilter(plugin, { wasm }), rbac],
      hcm: {
        access_log: [{
          name: 'envoy.access_loggers.file',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
            path: accessLog,
            log_format: { text_format_source: { inline_string: '%REQ(:PATH)% %RESPONSE_CODE% sub=%FILTER_STATE(wasm.tollgate.claims.sub:PLAIN)% tenant=%FILTER_STATE(wasm.tollgate.claims.tenant.id:PLAIN)%\n' } },
          },
        }],
      },
    });
    await withEnvoy((port) => toYaml(build(port)), { name: 'operator-filter-state', componentLogLevel: LOGS }, async (envoy, upstream) => {
      const port = envoy.listenerPort('ingress');
      const acme = await mint({ sub: 'alice', claims: { tenant: { id: 'acme' } } });
      const other = await mint({ sub: 'bob', claims: { tenant: { id: 'globex' } } });
      const ok = await request(port, { path: '/orders?n=1', headers: bearer(acme) });
      assert.equal(ok.status, 200, ok.body);
      const refused = await request(port, { path: '/orders?n=2', headers: bearer(other) });
      assert.equal(refused.status, 403, 'RBAC refuses the other tenant');
      assert.equal(refused.body, 'RBAC: access denied');
      // A client cannot put the claim there itself: without a token the filter answers first, and on an
      // anonymous route nothing is written.
      assert.equal((await request(port, { path: '/health', headers: { 'x-tenant': 'acme' } })).status, 200);
      assert.equal(upstream.seen.length, 2);

      assert.match(envoy.log(), /enforced denied, matched policy none/);
    });
    // Envoy writes access logs in the background; all of them are on disk once it stopped.
    const lines = readFileSync(accessLog, 'utf8').trim().split('\n');
    rmSync(logDir, { recursive: true, force: true });
    assert.deepEqual(lines, [
      '/orders?n=1 200 sub=alice tenant=acme',
      '/orders?n=2 403 sub=bob tenant=globex',
      '/health 200 sub=- tenant=-',
    ]);
  });
});

describe('token sources, allow_missing and the log lines of a denial', () => {
  let envoy;
  let upstream;
  let port;
  before(async () => {
    const plugin = scenarioConfig({ forward_token: false });
    plugin.providers[0].sources = [
      { header: 'authorization', scheme: 'Bearer' },
      { header: 'x-api-token', prefix: 'Token ' },
      { cookie: 'at' },
      { query: 'access_token' },
    ];
    plugin.rules.splice(1, 0, { match: { prefix: '/catalog' }, allow_missing: true, scopes: ['orders:read'] });
    upstream = await startEchoUpstream();
    envoy = await startEnvoy(toYaml(bootstrap({ upstreamPort: upstream.port, httpFilters: [tollgateFilter(plugin, { wasm: requireWasm() })] })), { name: 'operator-sources' });
    port = envoy.listenerPort('ingress');
  });
  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });
  const test = (name, fn) => it(name, keepLogOnFailure(() => envoy, fn));

  test('a token from another header, a cookie or the query is accepted and taken out before the API', async () => {
    const token = await mint();
    const viaHeader = await request(port, { path: '/orders', headers: { 'x-api-token': `Token ${token}` } });
    assert.equal(viaHeader.status, 200, viaHeader.body);
    assert.equal(viaHeader.json.headers['x-api-token'], undefined);
    assert.equal(viaHeader.json.headers['x-user-id'], 'user-1234');
    const viaCookie = await request(port, { path: '/orders', headers: { cookie: `theme=dark; at=${token}; lang=de` } });
    assert.equal(viaCookie.status, 200, viaCookie.body);
    assert.equal(viaCookie.json.headers.cookie, 'theme=dark; lang=de');
    const viaQuery = await request(port, { path: `/orders?page=2&access_token=${token}&sort=asc` });
    assert.equal(viaQuery.status, 200, viaQuery.body);
    assert.equal(viaQuery.json.url, '/orders?page=2&sort=asc');
    // A token in two sources is ambiguous (RFC 6750 §3.1: one method only): refused.
    const both = await request(port, { path: `/orders?access_token=${token}`, headers: bearer(token) });
    assert.equal(both.status, 400, both.body);
    assert.equal(both.json.error, 'invalid_request');
  });

  test('allow_missing: no token passes without claims; a bad token is still refused', async () => {
    const none = await request(port, { path: '/catalog/1', headers: { 'x-user-id': 'spoofed' } });
    assert.equal(none.status, 200, none.body);
    assert.equal(none.json.headers['x-user-id'], undefined, 'claim headers are never the client\'s');
    const good = await request(port, { path: '/catalog/1', headers: bearer(await mint()) });
    assert.equal(good.json.headers['x-user-id'], 'user-1234');
    const expired = await request(port, { path: '/catalog/1', headers: bearer(await mint({ iat: -1000, exp: -600 })) });
    assert.equal(expired.status, 401, expired.body);
    assert.equal(expired.json.error, 'invalid_token');
  });

  test('a denial is one info line with status, reason, provider, rule and request id, and a debug line saying why; never the token', async () => {
    const token = await mint({ scope: 'orders:read' });
    const res = await request(port, { path: '/admin/users', headers: { ...bearer(token), 'x-request-id': 'req-operator-1' } });
    assert.equal(res.status, 403);
    const log = envoy.log();
    const lines = log.split('\n').filter((l) => l.includes('req-operator-1'));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0], /\[info\]\[wasm\].*wasm log api tollgate: denied: status=403 reason=insufficient_scope provider=idsvr rule=4 match=prefix:\/admin request_id="req-operator-1"$/);
    assert.match(lines[1], /\[debug\]\[wasm\].*wasm log api tollgate: request "req-operator-1" refused because .*orders:admin/);
    assertNoSecret(log, token, 'the Envoy log');
  });
});
