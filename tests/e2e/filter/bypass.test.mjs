// Trying the filter as an attacker would, through the real Envoy, over HTTP/1.1 and HTTP/2 (h2c), once with the
// hardened HttpConnectionManager settings the shipped configs use and once without them: every spelling of a path,
// method or claim header is either refused, or lands under the rule it names for the upstream (the echo upstream
// records the method and path it received) — never under a weaker one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, scenarioConfig } from './harness.mjs';
import { rawHttp1, http2Request } from '../lib/raw.mjs';
import { HARDENED_HCM } from '../lib/envoy-config.mjs';
import { mint } from '../fixtures/tokens.mjs';

// The rules of the shipped examples, plus an admin area whose scope no test token has.
const PLUGIN = scenarioConfig({
  rules: [
    { match: { prefix: '/health' }, anonymous: true },
    { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
    { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
    { match: { prefix: '/api/admin' }, scopes: ['admin'] },
    { match: { prefix: '/' } },
  ],
});

// Outcomes: 'refused' = a 4xx from tollgate or from Envoy (or, for HTTP/2, a stream reset by Envoy) that never
// reached the upstream; a number = exactly that status from tollgate; 'upstream' = forwarded, with `path`/`method`
// as the upstream must have received them.
const CASES = [
  // 1. prefixes match whole segments
  { name: '/health-admin is not under the anonymous /health rule', method: 'GET', target: '/health-admin/secrets', token: 'none', want: [401] },
  { name: '/healthz is not under /health', method: 'GET', target: '/healthz', token: 'none', want: [401] },
  { name: '/orders-admin is not governed by the /orders rules', method: 'GET', target: '/orders-admin', token: 'profile', want: ['upstream'], path: '/orders-admin' },
  { name: '/health and below stay anonymous', method: 'GET', target: '/health/live', token: 'none', want: ['upstream'], path: '/health/live' },
  // 2. encoded unreserved characters name the same rule, and the canonical path goes upstream
  { name: 'POST /%6frders is the POST /orders rule', method: 'POST', target: '/%6frders', token: 'read', want: [403] },
  { name: 'GET /api/%61dmin/x is the admin rule', method: 'GET', target: '/api/%61dmin/x', token: 'read', want: [403] },
  { name: 'GET /%6frders/1 reaches the upstream as /orders/1', method: 'GET', target: '/%6frders/1?q=1', token: 'read', want: ['upstream'], path: '/orders/1?q=1' },
  // 3. path parameters on dot segments
  { name: '/health/..;/orders/1 without a token', method: 'GET', target: '/health/..;/orders/1', token: 'none', want: ['refused', 401] },
  { name: '/health/%2e%2e;/orders/1 without a token', method: 'GET', target: '/health/%2e%2e;/orders/1', token: 'none', want: ['refused', 401] },
  { name: '/health/..;jsessionid=x/orders/1 without a token', method: 'GET', target: '/health/..;jsessionid=x/orders/1', token: 'none', want: ['refused', 401] },
  { name: 'POST /orders;jsessionid=x with a read token', method: 'POST', target: '/orders;jsessionid=x', token: 'read', want: ['refused', 403] },
  // 4. encoded slashes and empty segments
  { name: '/api%2Fadmin/x', method: 'GET', target: '/api%2Fadmin/x', token: 'read', want: ['refused', 403] },
  { name: '/api//admin/x', method: 'GET', target: '/api//admin/x', token: 'read', want: ['refused', 403] },
  { name: '//orders without a token', method: 'GET', target: '//orders', token: 'none', want: ['refused', 401] },
  { name: '/api\\admin/x', method: 'GET', target: '/api\\admin/x', token: 'read', want: ['refused', 403] },
  { name: '/api/x/../admin/y', method: 'GET', target: '/api/x/../admin/y', token: 'read', want: ['refused', 403] },
  // double encoding, also with the hex digits escaped (%32 is 2, %65 is e: %25%32%65 decodes to %252e)
  { name: '/health/%252e%252e/orders/1 without a token', method: 'GET', target: '/health/%252e%252e/orders/1', token: 'none', want: ['refused', 401] },
  { name: '/health/%25%32%65%25%32%65/orders/1 without a token', method: 'GET', target: '/health/%25%32%65%25%32%65/orders/1', token: 'none', want: ['refused', 401] },
  // letter case: /API/ADMIN is the admin rule (Express and ASP.NET Core route it there)
  { name: '/API/ADMIN/x is the admin rule', method: 'GET', target: '/API/ADMIN/x', token: 'read', want: [403] },
  // 5. method case, HEAD, overrides
  { name: 'post /orders with a read token', method: 'post', target: '/orders', token: 'read', want: ['refused', 403] },
  { name: 'Post /orders with a read token', method: 'Post', target: '/orders', token: 'read', want: ['refused', 403] },
  { name: 'HEAD /orders is held to the GET rule', method: 'HEAD', target: '/orders', token: 'profile', want: [403] },
  { name: 'X-HTTP-Method-Override on POST', method: 'POST', target: '/orders', token: 'write', headers: [['x-http-method-override', 'DELETE']], want: ['refused'] },
  { name: '_method in the query on POST', method: 'POST', target: '/orders?_method=DELETE', token: 'write', want: ['refused'] },
  { name: '_%6Dethod (PHP decodes the name to _method) on POST', method: 'POST', target: '/orders?_%6Dethod=DELETE', token: 'write', want: ['refused'] },
  { name: '.method (PHP reads . as _) on POST', method: 'POST', target: '/orders?.method=DELETE', token: 'write', want: ['refused'] },
  // harmless neighbours keep working
  { name: 'GET /orders/ with a read token', method: 'GET', target: '/orders/', token: 'read', want: ['upstream'], path: '/orders/' },
  { name: 'GET /orders?x=/../admin keeps its query', method: 'GET', target: '/orders?x=/../admin', token: 'read', want: ['upstream'], path: '/orders?x=/../admin' },
  { name: 'POST /orders with a write token', method: 'POST', target: '/orders', token: 'write', want: ['upstream'], path: '/orders' },
];

const send = (proto, port, req) => (proto === 'h2' ? http2Request(port, req) : rawHttp1(port, req));

// Envoy's own codecs refuse a few spellings before any filter runs; everything else must be refused by tollgate
// itself when Envoy's hardening is off (a 400 from anywhere else could be the upstream's, which proves nothing).
const ENVOY_CODEC_REFUSES = new Set(['h1 post /orders', 'h1 Post /orders']);

function check(c, res, label, { hardened, proto }) {
  const reached = res.json?.upstream === 'echo';
  if (reached) {
    assert.ok(c.want.includes('upstream'), `${label}: reached the upstream (${res.json.method} ${res.json.url}) but must be ${c.want}`);
    assert.equal(res.json.url, c.path, `${label}: path the upstream received`);
    assert.equal(res.json.method, c.method.toUpperCase(), `${label}: method the upstream received`);
    return;
  }
  if (c.method === 'HEAD' && res.status === 403) return; // no body on HEAD answers
  const byTollgate = res.status === 400 && res.json?.error === 'invalid_request';
  const refused = hardened || ENVOY_CODEC_REFUSES.has(`${proto} ${c.method} ${c.target}`)
    ? res.status === 0 || res.status === 400
    : byTollgate;
  const ok = c.want.some((w) => (w === 'refused' ? refused : w === res.status));
  assert.ok(ok, `${label}: got ${res.status}${res.reset ? ` (${res.reset})` : ''} ${res.body?.slice(0, 200)}; want one of ${c.want}`);
  if (res.status === 403 && c.want.includes(403)) {
    assert.equal(res.json?.error, 'insufficient_scope', `${label}: 403 must be the rule's scope check`);
  }
}

for (const hardened of [false, true]) {
  describe(`bypass attempts, ${hardened ? 'with' : 'without'} Envoy's path and header hardening`, () => {
    let tg;
    const tokens = {};
    before(async () => {
      tg = await startTollgate(PLUGIN, { hcm: hardened ? HARDENED_HCM : {}, name: `tollgate-bypass-${hardened ? 'hardened' : 'plain'}` });
      tokens.read = await mint({ scope: 'orders:read' });
      tokens.write = await mint({ scope: 'orders:read orders:write' });
      tokens.profile = await mint({ scope: 'profile' });
    });
    after(async () => tg && tg.stop());

    for (const proto of ['h1', 'h2']) {
      it(`${proto}: every spelling is refused or lands under the rule it names`, async (t) => tg.wrap(async () => {
        // Every case runs; the failures are reported together, so one run shows every class that breaks.
        const failures = [];
        for (const c of CASES) {
          const headers = [...(c.headers ?? [])];
          if (c.token !== 'none') headers.push(['authorization', `Bearer ${tokens[c.token]}`]);
          const res = await send(proto, tg.port, { method: c.method, target: c.target, headers });
          try {
            check(c, res, `${proto} ${c.name}`, { hardened, proto });
          } catch (err) {
            failures.push(err.message);
          }
        }
        assert.deepEqual(failures, []);
      })(t));

      it(`${proto}: claim headers with underscores never reach the upstream`, async (t) => tg.wrap(async () => {
        for (const [target, token] of [['/orders', tokens.read], ['/health', undefined]]) {
          const headers = [['x_user_id', 'admin'], ['X_Token-Scope', 'orders:admin']];
          if (token) headers.push(['authorization', `Bearer ${token}`]);
          const res = await send(proto, tg.port, { method: 'GET', target, headers });
          if (hardened) {
            // headers_with_underscores_action: REJECT_REQUEST — Envoy refuses before the filter runs.
            assert.ok(res.status === 400 || res.status === 0, `${proto} ${target}: ${res.status}`);
            assert.notEqual(res.json?.upstream, 'echo');
            continue;
          }
          assert.equal(res.status, 200, `${proto} ${target}: ${res.body}`);
          const seen = Object.keys(res.json.headers);
          assert.deepEqual(seen.filter((n) => n.includes('_')), [], `${proto} ${target}: upstream saw ${seen}`);
          assert.equal(res.json.headers['x-user-id'], token ? 'user-1234' : undefined);
        }
      })(t));
    }
  });
}
