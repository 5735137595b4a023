// Dry run must not open the refusals made before a rule is chosen (an ambiguous path, a method override, a
// lower-case HTTP/2 method, no matching rule): through the real Envoy, over HTTP/1.1 and h2c, with and without
// Envoy's hardening. They are enforced whenever any rule's effective mode (its `mode`, else the top-level `mode`) is
// `enforce` — a client must not escape an enforced rule by spelling its path so that no rule is chosen — and dry-run
// (passed unchanged, counted as would_deny) only when every rule is dry run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HARDENED_HCM } from '../lib/envoy-config.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { scenarioConfig, startTollgate } from './harness.mjs';
import { runCases } from './attacks.mjs';

const RULES = [
  { match: { prefix: '/health' }, anonymous: true },
  { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
  { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
  { match: { prefix: '/api/admin' }, scopes: ['admin'] },
];

/** Top-level dry run; only the admin rule is enforced (the usual way a policy is rolled out). */
const ONE_RULE_ENFORCED = scenarioConfig({
  mode: 'dry_run',
  rules: RULES.map((r) => (r.match.prefix === '/api/admin' ? { ...r, mode: 'enforce' } : r)),
});
/** Every rule dry run through the top-level mode. */
const ALL_DRY_TOP_LEVEL = scenarioConfig({ mode: 'dry_run', rules: RULES });
/** Every rule dry run through its own mode (the anonymous one too), the top-level mode left at enforce. */
const ALL_DRY_BY_RULE = scenarioConfig({ mode: 'enforce', rules: RULES.map((r) => ({ ...r, mode: 'dry_run' })) });

const tokens = {};
const bearer = (name) => ['authorization', `Bearer ${tokens[name]}`];
const invalidRequest = (reason) => ({ status: 400, error: 'invalid_request', reason });

const enforcedCases = () => [
  {
    name: 'GET /api/x/../admin/users (read token)', target: '/api/x/../admin/users', headers: [bearer('read')],
    want: invalidRequest('invalid_path'),
    // Envoy's normalize_path turns it into /api/admin/users first: the enforced admin rule refuses it.
    wantHardened: { status: 403, error: 'insufficient_scope', reason: 'insufficient_scope' },
  },
  {
    name: 'GET /health/..;/api/admin/users without a token', target: '/health/..;/api/admin/users', want: invalidRequest('invalid_path'),
    // Envoy's normalize_path takes `..;` for `..`: the enforced admin rule asks for a token.
    wantHardened: { status: 401, error: 'missing_token', reason: 'missing_token' },
  },
  { name: 'GET /api%2Fadmin/users (read token)', target: '/api%2Fadmin/users', headers: [bearer('read')], want: invalidRequest('invalid_path'), envoyMayRefuse: 'hardened' },
  {
    name: 'POST /api/admin/users with X-HTTP-Method-Override: GET (read token)', method: 'POST', target: '/api/admin/users',
    headers: [bearer('read'), ['x-http-method-override', 'GET']], want: invalidRequest('method_override'),
  },
  { name: 'GET /api/admin/users?_method=DELETE (read token)', target: '/api/admin/users?_method=DELETE', headers: [bearer('read')], want: invalidRequest('method_override') },
  // Envoy's HTTP/1.1 codec refuses a lower-case method itself; over HTTP/2 it reaches the filter.
  { name: 'post /api/admin/users (read token)', method: 'post', target: '/api/admin/users', headers: [bearer('read')], want: invalidRequest('invalid_method'), envoyMayRefuse: 'h1' },
  {
    name: 'GET /internal/secrets matches no rule (read token)', target: '/internal/secrets', headers: [bearer('read')],
    want: { status: 403, error: 'access_denied', reason: 'no_matching_rule' },
  },
  // harmless neighbours: the rules keep their own modes
  { name: 'GET /orders without a token: the dry-run rule lets it pass', target: '/orders', want: { upstream: '/orders', wouldDeny: 'missing_token' } },
  {
    name: 'GET /api/admin/users (read token): the enforced rule refuses', target: '/api/admin/users', headers: [bearer('read')],
    want: { status: 403, error: 'insufficient_scope', reason: 'insufficient_scope' },
  },
  { name: 'GET /health/live without a token', target: '/health/live', want: { upstream: '/health/live' } },
];

// With every rule dry run, the same refusals are dry run: passed as sent, counted as would_deny.
const allDryCases = () => [
  { name: 'GET /api/x/../admin/users (read token)', target: '/api/x/../admin/users', headers: [bearer('read')], want: { upstream: '/api/x/../admin/users', wouldDeny: 'invalid_path' } },
  {
    name: 'POST /orders with X-HTTP-Method-Override: DELETE (write token)', method: 'POST', target: '/orders',
    headers: [bearer('write'), ['x-http-method-override', 'DELETE']], want: { upstream: '/orders', method: 'POST', wouldDeny: 'method_override' },
  },
  { name: 'GET /internal/secrets matches no rule', target: '/internal/secrets', headers: [bearer('read')], want: { upstream: '/internal/secrets', wouldDeny: 'no_matching_rule' } },
  { name: 'GET /api/admin/users (read token)', target: '/api/admin/users', headers: [bearer('read')], want: { upstream: '/api/admin/users', wouldDeny: 'insufficient_scope' } },
];

before(async () => {
  tokens.read = await mint({ scope: 'orders:read' });
  tokens.write = await mint({ scope: 'orders:read orders:write' });
});

for (const hardened of [false, true]) {
  describe(`dry run with one enforced rule, ${hardened ? 'with' : 'without'} Envoy's hardening: refusals before a rule is chosen are enforced`, () => {
    let tg;
    before(async () => {
      tg = await startTollgate(ONE_RULE_ENFORCED, { hcm: hardened ? HARDENED_HCM : {}, name: `tollgate-dry-run-${hardened ? 'hardened' : 'plain'}` });
    });
    after(async () => tg && tg.stop());
    for (const proto of ['h1', 'h2']) {
      it(`${proto}: refused and counted as denied, never passed`, async (t) => tg.wrap(async () => {
        assert.deepEqual(await runCases(tg, proto, enforcedCases(), { hardened }), []);
      })(t));
    }
  });
}

for (const [title, plugin] of [['the top-level mode', ALL_DRY_TOP_LEVEL], ['each rule\'s own mode (top level enforce)', ALL_DRY_BY_RULE]]) {
  describe(`every rule dry run through ${title}: refusals before a rule is chosen are dry run too`, () => {
    let tg;
    before(async () => {
      tg = await startTollgate(plugin, { name: 'tollgate-dry-run-all' });
    });
    after(async () => tg && tg.stop());
    for (const proto of ['h1', 'h2']) {
      it(`${proto}: passed unchanged and counted as would_deny`, async (t) => tg.wrap(async () => {
        assert.deepEqual(await runCases(tg, proto, allDryCases()), []);
      })(t));
    }
  });
}
