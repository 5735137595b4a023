// Attacks on how tollgate reads a request, through the real Envoy over HTTP/1.1 and h2c, with and without Envoy's
// path and header hardening (as bypass.test.mjs): header names compared once (case-insensitive, `_` equal to `-`) for
// method and path overrides and token-source headers; format suffixes (`/orders.json`) under the rule they name;
// token sources read the way upstreams read them (query names percent-decoded and PHP-folded, cookie names decoded,
// odd Authorization values). Each case is refused with its exact status, error and reason, or reaches the upstream
// with the path the rules matched — never under a weaker rule. Harmless neighbours keep working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HARDENED_HCM } from '../lib/envoy-config.mjs';
import { mint, tamper } from '../fixtures/tokens.mjs';
import { REALM, scenarioConfig, startTollgate } from './harness.mjs';
import { runCases } from './attacks.mjs';

const base = scenarioConfig();
const PLUGIN = scenarioConfig({
  providers: [
    {
      ...base.providers[0],
      sources: [{ header: 'authorization', scheme: 'Bearer' }, { header: 'x-api-token' }, { cookie: 'at' }, { query: 'access_token' }],
    },
    base.providers[1],
  ],
  rules: [
    { match: { prefix: '/health' }, anonymous: true },
    { match: { prefix: '/catalog' }, allow_missing: true },
    { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
    { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
    { match: { prefix: '/api/admin' }, scopes: ['admin'] },
    { match: { path: '/reports/summary' }, scopes: ['reports:read'] },
    { match: { prefix: '/' } },
  ],
});

const tokens = {};
const bearer = (name) => ['authorization', `Bearer ${tokens[name]}`];

const invalidRequest = (reason) => ({ status: 400, error: 'invalid_request', reason });
const scope403 = { status: 403, error: 'insufficient_scope', reason: 'insufficient_scope' };
// A token whose payload was changed after signing: read as the token, it is refused for its signature.
const forged401 = { status: 401, error: 'invalid_token', reason: 'bad_signature' };

// 3. One header-name comparison: overrides and token-source headers, in any case, with `_` for `-`.
const headerNameCases = () => [
  ...['x_http_method_override', 'X_HTTP_METHOD', 'x_Method_Override'].map((name) => ({
    name: `${name}: DELETE on POST /orders`, method: 'POST', target: '/orders', headers: [bearer('write'), [name, 'DELETE']],
    want: invalidRequest('method_override'), envoyMayRefuse: 'hardened',
  })),
  ...['X-Original-URL', 'x-rewrite-url', 'X-REWRITE-URL'].map((name) => ({
    name: `${name}: /api/admin/users on GET /orders`, target: '/orders', headers: [bearer('read'), [name, '/api/admin/users']],
    want: invalidRequest('path_override'),
  })),
  ...['x_original_url', 'X_Rewrite_URL'].map((name) => ({
    name: `${name}: /api/admin/users on GET /orders`, target: '/orders', headers: [bearer('read'), [name, '/api/admin/users']],
    want: invalidRequest('path_override'), envoyMayRefuse: 'hardened',
  })),
  {
    name: 'x_api_token (the x-api-token source) with a forged token on the allow_missing /catalog',
    target: '/catalog', headers: [['x_api_token', tokens.forged]], want: forged401, envoyMayRefuse: 'hardened',
  },
  // harmless neighbours
  { name: 'GET /orders without any override header', target: '/orders', headers: [bearer('read')], want: { upstream: '/orders', method: 'GET' } },
  {
    name: 'x-original-url-hint is not X-Original-URL', target: '/orders', headers: [bearer('read'), ['x-original-url-hint', '/api/admin']],
    want: { upstream: '/orders', headers: { 'x-original-url-hint': '/api/admin' } },
  },
  {
    name: 'x-api-token with a valid token on /orders', target: '/orders', headers: [['x-api-token', tokens.read]],
    want: { upstream: '/orders', headers: { 'x-token-scope': 'orders:read' } },
  },
];

// 4. Format suffixes: the last segment plus `.<anything>` is under the rule of the last segment.
const suffixCases = () => [
  { name: 'GET /orders.json (profile token) is the GET /orders rule', target: '/orders.json', headers: [bearer('profile')], want: scope403 },
  { name: 'GET /orders.tar.gz (profile token)', target: '/orders.tar.gz', headers: [bearer('profile')], want: scope403 },
  { name: 'GET /ORDERS.JSON (profile token)', target: '/ORDERS.JSON', headers: [bearer('profile')], want: scope403 },
  { name: 'GET /orders%2Ejson (profile token)', target: '/orders%2Ejson', headers: [bearer('profile')], want: scope403 },
  { name: 'POST /orders.json (read token) is the POST /orders rule', method: 'POST', target: '/orders.json', headers: [bearer('read')], want: scope403 },
  { name: 'GET /api/admin.json (read token)', target: '/api/admin.json', headers: [bearer('read')], want: scope403 },
  { name: 'GET /reports/summary.csv (read token) is the exact /reports/summary rule', target: '/reports/summary.csv', headers: [bearer('read')], want: scope403 },
  { name: 'GET /health.json without a token is the anonymous /health rule', target: '/health.json', want: { upstream: '/health.json', method: 'GET' } },
  { name: 'GET /orders.json with a read token reaches the upstream as /orders.json', target: '/orders.json?page=2', headers: [bearer('read')], want: { upstream: '/orders.json?page=2', method: 'GET' } },
  // harmless neighbours: not the rule's last segment plus a suffix
  { name: '/orders-json is not under /orders', target: '/orders-json', headers: [bearer('profile')], want: { upstream: '/orders-json' } },
  { name: '/ordersjson is not under /orders', target: '/ordersjson', headers: [bearer('profile')], want: { upstream: '/ordersjson' } },
  { name: '/orders.json/x: a suffix only on the last segment', target: '/orders.json/x', headers: [bearer('profile')], want: { upstream: '/orders.json/x' } },
  { name: '/reports/summary.csv/x is not the exact rule', target: '/reports/summary.csv/x', headers: [bearer('profile')], want: { upstream: '/reports/summary.csv/x' } },
];

// 5. Token sources read the way upstreams read them.
const sourceCases = () => [
  ...['access%5Ftoken', 'access.token', 'ACCESS_TOKEN', 'access+token', 'access%5btoken', 'Access%2Etoken'].map((name) => ({
    name: `?${name}=<forged> on the allow_missing /catalog is the token`, target: `/catalog?${name}=${tokens.forged}`, want: forged401,
  })),
  { name: '?x=1;access_token=<forged> (`;` separates parameters)', target: `/catalog?x=1;access_token=${tokens.forged}`, want: forged401 },
  {
    name: 'a valid access_token and a forged access%5Ftoken', target: `/orders?access_token=${tokens.read}&access%5Ftoken=${tokens.forged}`,
    want: invalidRequest('multiple_tokens'),
  },
  ...['a%74', 'AT', 'At'].map((name) => ({
    name: `cookie ${name}=<forged> is cookie at`, target: '/catalog', headers: [['cookie', `${name}=${tokens.forged}`]], want: forged401,
  })),
  {
    name: 'cookies at=<valid> and AT=<forged>', target: '/orders', headers: [['cookie', `at=${tokens.read}; AT=${tokens.forged}`]],
    want: invalidRequest('multiple_tokens'),
  },
  {
    name: 'cookies at=<valid> and a%74=<forged>', target: '/orders', headers: [['cookie', `at=${tokens.read}; a%74=${tokens.forged}`]],
    want: invalidRequest('multiple_tokens'),
  },
  ...[
    ['Bearer<U+00A0><token>', `Bearer\u00a0${tokens.read}`],
    ['Bearer:<token>', `Bearer:${tokens.read}`],
    ['a bare JWT without a scheme', tokens.read],
  ].flatMap(([what, value]) => [
    { name: `Authorization: ${what} on the allow_missing /catalog`, target: '/catalog', headers: [['authorization', value]], want: invalidRequest('malformed_authorization') },
    { name: `Authorization: ${what} on /orders`, target: '/orders', headers: [['authorization', value]], want: invalidRequest('malformed_authorization') },
  ]),
  // harmless neighbours
  { name: 'Authorization: Basic on the allow_missing /catalog passes as no token', target: '/catalog', headers: [['authorization', 'Basic dXNlcjpwYXNz']], want: { upstream: '/catalog' } },
  {
    name: 'Authorization: Basic on /orders is no token', target: '/orders', headers: [['authorization', 'Basic dXNlcjpwYXNz']],
    want: { status: 401, error: 'missing_token', reason: 'missing_token', wwwAuthenticate: `Bearer realm="${REALM}"` },
  },
  { name: '?access_token_x=<forged> is another parameter', target: `/catalog?access_token_x=${tokens.forged}`, want: { upstream: `/catalog?access_token_x=${tokens.forged}` } },
  { name: '?xaccess_token=<forged> is another parameter', target: `/catalog?xaccess_token=${tokens.forged}`, want: { upstream: `/catalog?xaccess_token=${tokens.forged}` } },
  { name: 'cookie att=<forged> is another cookie', target: '/catalog', headers: [['cookie', `att=${tokens.forged}`]], want: { upstream: '/catalog' } },
  {
    name: '?access_token=<valid> on /orders', target: `/orders?access_token=${tokens.read}`,
    want: { upstream: `/orders?access_token=${tokens.read}`, headers: { 'x-token-scope': 'orders:read' } },
  },
  {
    name: 'cookie at=<valid> on /orders', target: '/orders', headers: [['cookie', `at=${tokens.read}`]],
    want: { upstream: '/orders', headers: { 'x-token-scope': 'orders:read' } },
  },
];

for (const hardened of [false, true]) {
  describe(`request attacks, ${hardened ? 'with' : 'without'} Envoy's path and header hardening`, () => {
    let tg;
    before(async () => {
      tokens.read = await mint({ scope: 'orders:read' });
      tokens.write = await mint({ scope: 'orders:read orders:write' });
      tokens.profile = await mint({ scope: 'profile' });
      tokens.forged = tamper(await mint({ scope: 'orders:read' }), { scope: 'orders:read orders:write admin' });
      tg = await startTollgate(PLUGIN, { hcm: hardened ? HARDENED_HCM : {}, name: `tollgate-attacks-${hardened ? 'hardened' : 'plain'}` });
    });
    after(async () => tg && tg.stop());

    const classes = [
      ['header names: overrides and token-source headers compared ignoring case, `_` equal to `-`', headerNameCases],
      ['format suffixes: /orders.json is under the /orders rule', suffixCases],
      ['token sources read the way upstreams read them', sourceCases],
    ];
    for (const [title, cases] of classes) {
      describe(title, () => {
        for (const proto of ['h1', 'h2']) {
          it(`${proto}: every case is refused exactly or lands under the rule it names`, async (t) => tg.wrap(async () => {
            assert.deepEqual(await runCases(tg, proto, cases(), { hardened }), []);
          })(t));
        }
      });
    }
  });
}

describe('format suffixes: a rule may opt out', () => {
  let tg;
  before(async () => {
    tokens.profile ??= await mint({ scope: 'profile' });
    tokens.read ??= await mint({ scope: 'orders:read' });
    tg = await startTollgate(scenarioConfig({
      rules: [
        { match: { prefix: '/orders', format_suffixes: false }, scopes: ['orders:read'] },
        { match: { prefix: '/' } },
      ],
    }), { name: 'tollgate-attacks-no-suffixes' });
  });
  after(async () => tg && tg.stop());

  for (const proto of ['h1', 'h2']) {
    it(`${proto}: with "format_suffixes": false, /orders.json falls to the next rule`, async (t) => tg.wrap(async () => {
      const cases = [
        { name: '/orders.json (profile token) falls to /', target: '/orders.json', headers: [bearer('profile')], want: { upstream: '/orders.json' } },
        { name: '/orders (profile token) is still the /orders rule', target: '/orders', headers: [bearer('profile')], want: scope403 },
        { name: '/orders/1 (read token)', target: '/orders/1', headers: [bearer('read')], want: { upstream: '/orders/1' } },
      ];
      assert.deepEqual(await runCases(tg, proto, cases), []);
    })(t));
  }
});
