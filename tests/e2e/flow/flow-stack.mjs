// The whole mobile-flow stack on loopback, shared by the scenario test (mobile-flow.test.mjs) and the demo
// (tests/e2e/demo/stack.mjs): the app-link endpoint, our site (the intermediate page) served by `tollgate-site
// serve`, the real oidc-provider whose mobile client redirects to the page, the echo API, and the real Envoy with
// the tollgate filter trusting that authorization server. Everything started is stopped by stop(), also when a
// later step fails to start.
import { startEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { LOOPBACK, waitFor } from '../lib/net.mjs';
import { requireWasm } from '../lib/paths.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { MobileApp } from './app.mjs';
import { startAppEndpoint } from './app-endpoint.mjs';
import { startSite } from './site.mjs';

export const REALM = 'orders-api';
/** Path of the intermediate page (the redirect URI registered at the server) and of the app link. */
export const PAGE_PATH = '/app/callback';
export const APP_LINK_PATH = '/app/oauth';
/** Envoy cluster of the authorization server (discovery / JWKS fetches). */
export const AUTHZ_CLUSTER = 'authz';
/** How the filter gets the server's keys: $TOLLGATE_FLOW_JWKS = discovery (default, as deployed: Envoy fetches them, issue 3) | inline. */
export const JWKS_MODE = process.env.TOLLGATE_FLOW_JWKS === 'inline' ? 'inline' : 'discovery';

/** An access token of the server's confidential service client (client credentials, RFC 8707 resource). */
export async function serviceToken(as, scope) {
  const { clientId, clientSecret } = as.clients.service;
  const res = await fetch(as.tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: as.resource }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`client_credentials: ${res.status} ${body.error}`);
  return body.access_token;
}

/** The filter configuration for the authorization server `as` (inline JWKS from its published keys). */
export function flowFilterConfig(as, { clockSkewSeconds = 1, jwks } = {}) {
  // 'discovery': Envoy fetches <issuer>/.well-known/openid-configuration, then jwks_uri, through the `authz` cluster
  // (issue 3); anything else: the keys the server publishes, inline.
  return {
    realm: REALM,
    providers: [
      {
        name: 'authz',
        issuer: as.issuer,
        audiences: [as.resource],
        jwks: jwks === 'discovery' ? { discovery: { cluster: AUTHZ_CLUSTER } } : { inline: as.publicJwks() },
        algorithms: ['ES256', 'EdDSA', 'RS256'],
        token_types: ['at+jwt', 'application/at+jwt'],
        max_lifetime_seconds: 900,
        clock_skew_seconds: clockSkewSeconds,
      },
    ],
    rules: [
      { match: { prefix: '/health' }, anonymous: true },
      { match: { prefix: '/orders', methods: ['GET'] }, scopes: ['orders:read'] },
      { match: { prefix: '/orders', methods: ['POST'] }, scopes: ['orders:write'] },
      { match: { prefix: '/' } },
    ],
    claims_to_headers: { sub: 'x-user-id', client_id: 'x-client-id', scope: 'x-token-scope' },
  };
}

/**
 * Start the stack. Options: `ports` { app, site, as, api, admin } (0 / undefined = free port; the demo passes
 * preferred ones), `accessTokenTTL` (seconds), `clockSkewSeconds` (filter), `jwks` ('inline' | 'discovery', default
 * $TOLLGATE_FLOW_JWKS or inline), `onLink(record, stack)` (the app's
 * handling of a received app link; default: just record it), `appRoutes` ({ path: (url, stack) => ... } more GET
 * routes of the app endpoint, see app-endpoint.mjs), `log` (progress lines, default silent).
 * Resolves { app, appEndpoint, site, as, upstream, envoy, apiUrl, pageUrl, filterConfig, stop() }.
 */
export async function startFlowStack({
  ports = {},
  accessTokenTTL = 900,
  clockSkewSeconds = 1,
  jwks = JWKS_MODE,
  onLink,
  appRoutes = {},
  log = () => {},
} = {}) {
  const wasm = requireWasm();
  const stack = { stopped: false };
  const stoppers = [];
  stack.stop = async () => {
    if (stack.stopped) return;
    stack.stopped = true;
    for (const stop of stoppers.reverse()) {
      try {
        await stop();
      } catch (err) {
        process.stderr.write(`flow stack: stopping failed: ${err.message}\n`);
      }
    }
  };
  try {
    stack.appEndpoint = await startAppEndpoint({
      port: ports.app ?? 0,
      linkPath: APP_LINK_PATH,
      onLink: onLink ? (record) => onLink(record, stack) : undefined,
      routes: Object.fromEntries(Object.entries(appRoutes).map(([p, fn]) => [p, (url) => fn(url, stack)])),
    });
    stoppers.push(() => stack.appEndpoint.close());
    log(`app-link endpoint on ${stack.appEndpoint.url}`);

    stack.site = await startSite({ port: ports.site ?? 0, pagePath: PAGE_PATH, appLink: stack.appEndpoint.url });
    stoppers.push(() => stack.site.stop());
    stack.pageUrl = stack.site.pageUrl;
    log(`site (intermediate page) on ${stack.pageUrl}`);

    stack.as = await startAuthServer({ port: ports.as ?? 0, redirectUris: [stack.pageUrl], accessTokenTTL });
    stoppers.push(() => stack.as.close());
    log(`authorization server on ${stack.as.issuer}`);

    stack.upstream = await startEchoUpstream({ port: ports.upstream ?? 0, name: 'orders-api' });
    stoppers.push(() => stack.upstream.close());

    stack.filterConfig = flowFilterConfig(stack.as, { clockSkewSeconds, jwks });
    const boot = bootstrap({ upstreamPort: stack.upstream.port, httpFilters: [tollgateFilter(stack.filterConfig, { wasm })] });
    boot.static_resources.clusters.push({
      name: AUTHZ_CLUSTER,
      type: 'STATIC',
      connect_timeout: '1s',
      load_assignment: {
        cluster_name: AUTHZ_CLUSTER,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: LOOPBACK, port_value: stack.as.port } } } }] }],
      },
    });
    if (ports.api) boot.static_resources.listeners[0].address.socket_address.port_value = ports.api;
    if (ports.admin) boot.admin.address.socket_address.port_value = ports.admin;
    stack.envoy = await startEnvoy(toYaml(boot), { name: 'flow' });
    stoppers.push(() => stack.envoy.stop());
    stack.apiUrl = `http://${LOOPBACK}:${stack.envoy.listenerPort('ingress')}`;
    log(`API through Envoy + tollgate on ${stack.apiUrl}`);

    if (jwks === 'discovery') {
      // The filter fetches discovery + JWKS through Envoy after start; wait until a real token from the server is
      // accepted (a service token, client credentials) instead of racing the first fetch.
      const token = await serviceToken(stack.as, 'orders:read');
      await waitFor('the filter to fetch the server keys through discovery', async () => {
        const res = await fetch(`${stack.apiUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        return res.status === 200;
      }, { timeoutMs: 20_000, intervalMs: 200 });
      log('the filter has the server keys (discovery)');
    }

    stack.app = await MobileApp.discover(stack.as.issuer, {
      clientId: stack.as.clients.mobile.clientId,
      redirectUri: stack.pageUrl,
      apiBase: stack.apiUrl,
    });
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}
