// Shared set-up of the introspection end-to-end tests: the plugin configuration of a provider that takes opaque
// tokens by introspection (the public names of the README's "Opaque tokens" section), an Envoy bootstrap with one
// cluster per introspection endpoint (each a recorder or stand-in on loopback), the echo upstream, and the answer
// shapes the tests assert.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { keepLogOnFailure, startEnvoy } from '../../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../../lib/envoy-config.mjs';
import { h2Request } from '../../lib/h2.mjs';
import { request } from '../../lib/http.mjs';
import { requireWasm } from '../../lib/paths.mjs';
import { startEchoUpstream } from '../../lib/upstream.mjs';
import { REALM } from '../harness.mjs';
import { GATEWAY_CLIENT, RESOURCE, SCOPES, decodeBasic } from './authz.mjs';

export { REALM };

/** The rules of every test configuration: the README's orders API. */
export const RULES = [
  { match: { prefix: '/health' }, anonymous: true },
  { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
  { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
  { match: { prefix: '/' } },
];

export const CLAIMS_TO_HEADERS = { sub: 'x-user-id', client_id: 'x-client-id', scope: 'x-token-scope' };

/**
 * A provider that introspects at `url` through Envoy cluster `cluster`. `introspection` members override the
 * defaults given here; `provider` members (e.g. `jwks`) are added to the provider.
 */
export function introspectingProvider({ name, issuer, url, cluster, introspection = {}, provider = {} }) {
  return {
    name,
    issuer,
    audiences: [RESOURCE],
    introspection: {
      cluster,
      url,
      client_id: GATEWAY_CLIENT.clientId,
      client_secret: GATEWAY_CLIENT.clientSecret,
      ...introspection,
    },
    ...provider,
  };
}

/** The plugin configuration: `providers`, the orders rules (or `rules`), claim headers. */
export function pluginConfig({ providers, rules = RULES }) {
  return { realm: REALM, providers, rules, claims_to_headers: CLAIMS_TO_HEADERS };
}

function cluster(name, port) {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

/**
 * Start the echo upstream and Envoy running the filter with `plugin`, with one STATIC cluster per entry of
 * `clusters` ({ name: port }) and the VM environment `env` ({ NAME: value }, Envoy's
 * `vm_config.environment_variables`). Resolves { envoy, upstream, port, send(opts), sendH2(opts), wrap(fn), stop() }.
 * send() tags each request with a unique x-test-id and resolves the response plus `reachedUpstream` (the requests
 * the echo upstream got with that id).
 */
export async function startStack(plugin, { clusters, env, name = 'introspection', concurrency = 1 }) {
  const wasm = requireWasm();
  const upstream = await startEchoUpstream();
  let envoy;
  try {
    const filter = tollgateFilter(plugin, { wasm });
    if (env) filter.typed_config.config.vm_config.environment_variables = { key_values: env };
    const config = bootstrap({ upstreamPort: upstream.port, httpFilters: [filter] });
    for (const [clusterName, port] of Object.entries(clusters)) config.static_resources.clusters.push(cluster(clusterName, port));
    envoy = await startEnvoy(toYaml(config), { name, concurrency });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  const port = envoy.listenerPort('ingress');
  const tag = (headers, token, scheme) => {
    const id = crypto.randomUUID();
    const all = { 'x-test-id': id, ...headers };
    if (token !== undefined) all.authorization = `${scheme} ${token}`;
    return { id, all };
  };
  return {
    envoy,
    upstream,
    port,
    async send({ method = 'GET', path = '/orders', headers = {}, token, scheme = 'Bearer' } = {}) {
      const { id, all } = tag(headers, token, scheme);
      const res = await request(port, { method, path, headers: all });
      res.reachedUpstream = upstream.requestsWith('x-test-id', id);
      return res;
    },
    /** The same request over h2c (prior knowledge). */
    async sendH2({ method = 'GET', path = '/orders', headers = {}, token, scheme = 'Bearer' } = {}) {
      const { id, all } = tag(headers, token, scheme);
      const res = await h2Request(port, { method, path, headers: all });
      res.reachedUpstream = upstream.requestsWith('x-test-id', id);
      return res;
    },
    wrap(fn) {
      return keepLogOnFailure(envoy, fn);
    },
    async stop() {
      await envoy.stop();
      await upstream.close();
    },
  };
}

/** 200, the request reached the API once, with the claim headers of the introspection answer. */
export function assertAllowed(res, { clientId, scope = 'orders:read' } = {}) {
  assert.equal(res.status, 200, `${res.status} ${res.headers['www-authenticate'] ?? ''} ${res.body}`);
  assert.equal(res.reachedUpstream.length, 1, 'the allowed request reached the API once');
  const seen = res.reachedUpstream[0].headers;
  if (clientId !== undefined) assert.equal(seen['x-client-id'], clientId, 'client_id of the answer, as a claim header');
  if (scope !== undefined) assert.equal(seen['x-token-scope'], scope, 'scope of the answer, as a claim header');
  return seen;
}

/**
 * The outage answer (the same as for a provider whose keys cannot be fetched): 503, `Retry-After` in seconds, JSON
 * `temporarily_unavailable`, no challenge (a server-side failure is never a 401), never forwarded.
 */
export function assertUnavailable(res) {
  assert.equal(res.status, 503, `status (body: ${res.body})`);
  assert.equal(res.reachedUpstream.length, 0, 'a refused request must never reach the API');
  assert.match(String(res.headers['retry-after'] ?? ''), /^[1-9][0-9]*$/, 'Retry-After in seconds');
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
  assert.equal(res.json?.error, 'temporarily_unavailable', res.body);
  assert.equal(res.headers['www-authenticate'], undefined, 'a server-side failure is never a 401 challenge');
}

/**
 * The filter authenticated as the gateway client with client_secret_basic, id and secret form-encoded first (RFC
 * 6749 §2.3.1: the secret's `:`, space, `%`, `+` and `/` are escaped, so the server reads exactly the secret).
 */
export function assertGatewayAuthentication(record) {
  const credentials = decodeBasic(record.headers.authorization);
  assert.ok(credentials, `Basic credentials, got ${record.headers.authorization === undefined ? 'none' : 'another scheme'}`);
  assert.equal(credentials.clientId, GATEWAY_CLIENT.clientId);
  assert.ok(credentials.clientSecret === GATEWAY_CLIENT.clientSecret, 'the secret reads back exactly');
  assert.doesNotMatch(credentials.rawSecret, /[: /]/, 'the secret is form-encoded inside Basic');
}

/** The form body the filter sent, as an object (token, token_type_hint, …). */
export function formOf(record) {
  return Object.fromEntries(new URLSearchParams(record.body));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A random string that is not a JWS compact serialization: an opaque token nobody issued. */
export function unknownOpaqueToken() {
  return crypto.randomBytes(32).toString('base64url');
}

export { SCOPES };
