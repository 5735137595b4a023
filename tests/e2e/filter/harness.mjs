// Shared set-up of the tollgate end-to-end tests: the real echo upstream + the real Envoy with the built filter,
// the plugin configuration the scenarios run against, and the assertions every denial must satisfy.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { keepLogOnFailure, startEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { parseMetric } from '../lib/metrics.mjs';
import { requireWasm } from '../lib/paths.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { AUDIENCE, IDSVR_JWKS, ISSUER, PARTNER_ISSUER, PARTNER_JWKS } from '../fixtures/tokens.mjs';

export const REALM = 'orders-api';

/** error_description per reason: fixed texts of the contract (filter/core token.rs, request.rs, response.rs). */
export const DESCRIPTIONS = {
  missing_token: 'the request carries no bearer token',
  insufficient_scope: 'the token lacks a scope this resource requires',
  no_matching_rule: 'no access rule covers this request',
  malformed_authorization: 'the Authorization header is malformed',
  multiple_authorization_headers: 'the request carries more than one Authorization header',
  token_too_large: 'the token is too large',
  malformed_token: 'the token is not a compact JWT',
  wrong_token_type: 'the token is not an access token of an accepted type',
  algorithm_not_allowed: 'the token algorithm is not allowed',
  unknown_issuer: 'the token issuer is not trusted',
  unknown_kid: 'the token signing key is unknown',
  bad_signature: 'the token signature is invalid',
  bad_header: 'the token header is malformed',
  missing_exp: 'the token has no expiry',
  missing_iat: 'the token has no issue time',
  invalid_date: 'a date in the token is not a number',
  critical_header: 'the token uses an unsupported critical header',
  invalid_path: 'the request path contains a dot segment',
  invalid_method: 'the request method is not an upper-case HTTP token',
  method_override: 'method overrides are not accepted',
  wrong_audience: 'the token is not meant for this audience',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  issued_in_future: 'the token was issued in the future',
  lifetime_too_long: 'the token lifetime is too long',
};

/** The plugin configuration of the scenario tests (the README's configuration, two providers). */
export function scenarioConfig(overrides = {}) {
  return {
    realm: REALM,
    providers: [
      {
        name: 'idsvr',
        issuer: ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: IDSVR_JWKS },
        algorithms: ['ES256', 'EdDSA', 'RS256'],
        token_types: ['at+jwt', 'application/at+jwt'],
        max_lifetime_seconds: 900,
        clock_skew_seconds: 30,
      },
      {
        name: 'partner',
        issuer: PARTNER_ISSUER,
        audiences: [AUDIENCE],
        jwks: { inline: PARTNER_JWKS },
      },
    ],
    rules: [
      { match: { prefix: '/health' }, anonymous: true },
      { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
      { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
      { match: { prefix: '/admin' }, scopes: ['orders:read', 'orders:admin'] },
      { match: { prefix: '/' } },
    ],
    claims_to_headers: { sub: 'x-user-id', client_id: 'x-client-id', scope: 'x-token-scope', scp: 'x-token-scp' },
    ...overrides,
  };
}

/**
 * Start the echo upstream and Envoy with tollgate configured by `plugin`. Returns
 *   { envoy, upstream, port, send(opts), wrap(fn), stop() }
 * send() tags each request with a unique x-test-id and resolves the response plus `reachedUpstream`.
 */
export async function startTollgate(plugin = scenarioConfig(), { hcm, name = 'tollgate', concurrency = 1 } = {}) {
  const wasm = requireWasm();
  const upstream = await startEchoUpstream();
  let envoy;
  try {
    envoy = await startEnvoy(toYaml(bootstrap({ upstreamPort: upstream.port, httpFilters: [tollgateFilter(plugin, { wasm })], hcm })), { name, concurrency });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  const port = envoy.listenerPort('ingress');
  return {
    envoy,
    upstream,
    port,
    async send({ method = 'GET', path = '/orders', headers = {}, token } = {}) {
      const id = crypto.randomUUID();
      const all = { 'x-test-id': id, ...headers };
      if (token !== undefined) all.authorization = `Bearer ${token}`;
      const res = await request(port, { method, path, headers: all });
      res.reachedUpstream = upstream.requestsWith('x-test-id', id);
      return res;
    },
    /** Wrap a test body so that a failure prints the Envoy log when the suite stops Envoy (keepLogOnFailure). */
    wrap(fn) {
      return keepLogOnFailure(envoy, fn);
    },
    async stop() {
      await envoy.stop();
      await upstream.close();
    },
  };
}

/** Every denial: exact status, exact error code, JSON body, no-store, never forwarded, never echoing the token. */
export function assertDenied(res, { status, error, wwwAuthenticate, description, token }) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.equal(res.reachedUpstream?.length ?? 0, 0, 'a denied request must never reach the upstream');
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'content-type');
  assert.equal(res.headers['cache-control'], 'no-store', 'cache-control');
  assert.ok(res.json && typeof res.json === 'object', `JSON body, got ${res.body}`);
  assert.equal(res.json.error, error, 'JSON error');
  assert.equal(typeof res.json.error_description, 'string', 'JSON error_description');
  if (typeof description === 'string') assert.equal(res.json.error_description, description, 'JSON error_description');
  else if (description) assert.match(res.json.error_description, description, 'JSON error_description');
  if (wwwAuthenticate instanceof RegExp) assert.match(res.headers['www-authenticate'] ?? '', wwwAuthenticate, 'WWW-Authenticate');
  else if (wwwAuthenticate !== undefined) assert.equal(res.headers['www-authenticate'], wwwAuthenticate, 'WWW-Authenticate');
  if (token) assertNoSecret(JSON.stringify({ headers: res.headers, body: res.body }), token, 'response');
}

/** The 401 invalid_token shape: WWW-Authenticate carries the same description as the JSON body. */
export function assertInvalidToken(res, { description, token } = {}) {
  assertDenied(res, { status: 401, error: 'invalid_token', description, token });
  assert.equal(
    res.headers['www-authenticate'],
    `Bearer realm="${REALM}", error="invalid_token", error_description="${res.json.error_description}"`,
    'WWW-Authenticate',
  );
}

/** `text` contains neither the token nor its signature (the part that makes it usable). Strings too short to be a
 *  token (the hostile "a", "..", …) are skipped: they occur anywhere. */
export function assertNoSecret(text, token, where) {
  if (token.length < 24) return;
  assert.ok(!text.includes(token), `${where} contains the token`);
  const sig = token.split('.')[2];
  if (sig && sig.length > 16) assert.ok(!text.includes(sig), `${where} contains the token's signature`);
}

/**
 * Decision counters caused by `fn`, summed the way a dashboard sums the labelled families (README "Metrics"):
 * `allowed`, `denied`, `would_deny`, `denied.<reason>`, `would_deny.<reason>`, `provider.<name>.allowed|denied`.
 * Only non-zero changes are listed.
 */
export async function counterDelta(envoy, fn) {
  const before = await decisionStats(envoy);
  const result = await fn();
  return { delta: decisionDelta(before, await decisionStats(envoy)), result };
}

/** The filter's stats, for {@link decisionDelta}. */
export function decisionStats(envoy) {
  return envoy.stats('^wasmcustom\\.tollgate\\.');
}

/** The decision counters that changed from `before` to `after` (two {@link decisionStats}), as counterDelta sums them. */
export function decisionDelta(before, after) {
  const delta = {};
  const add = (key, d) => { delta[key] = (delta[key] ?? 0) + d; };
  for (const [name, value] of after) {
    const d = value - (before.get(name) ?? 0);
    const m = parseMetric(name);
    if (d === 0 || !m || !['allowed', 'denied', 'would_deny'].includes(m.family)) continue;
    add(m.family, d);
    if (m.labels.reason) add(`${m.family}.${m.labels.reason}`, d);
    if (m.family !== 'would_deny' && m.labels.provider && m.labels.provider !== 'none') {
      add(`provider.${m.labels.provider}.${m.family}`, d);
    }
  }
  return delta;
}
