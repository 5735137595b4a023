// The whole mobile-flow stack on loopback, shared by the scenario test (mobile-flow.test.mjs) and the demo
// (tests/e2e/demo/stack.mjs): the app-link endpoint, our site (the intermediate page) served by `tollgate-site
// serve`, the real oidc-provider whose mobile client redirects to the page (with our sign-in and consent screens,
// interaction.mjs), the echo API, and the real Envoy with
// the tollgate filter trusting that authorization server. Everything started is stopped by stop(), also when a
// later step fails to start. With `logDir`, every component writes its log there and the logs stay after stop().
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { LOOPBACK, waitFor } from '../lib/net.mjs';
import { requireWasm } from '../lib/paths.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { MobileApp } from './app.mjs';
import { startAppEndpoint } from './app-endpoint.mjs';
import { interactionScreens } from './interaction.mjs';
import { startSite } from './site.mjs';

export const REALM = 'orders-api';
/** Path of the intermediate page (the redirect URI registered at the server) and of the app link. */
export const PAGE_PATH = '/app/callback';
export const APP_LINK_PATH = '/app/oauth';
/** Envoy cluster of the authorization server (discovery / JWKS fetches). */
export const AUTHZ_CLUSTER = 'authz';
/** How the filter gets the server's keys: $TOLLGATE_FLOW_JWKS = discovery (default, as deployed: Envoy fetches them
 *  through the `authz` cluster) | inline. */
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
  // 'discovery': the filter fetches <issuer>/.well-known/openid-configuration, then jwks_uri, through Envoy's `authz`
  // cluster; anything else: the keys the server publishes, inline.
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

/** The files a stack started with `logDir` writes, by component. */
export function flowLogFiles(logDir) {
  return {
    envoy: path.join(logDir, 'envoy.log'),
    envoyAccess: path.join(logDir, 'envoy-access.log'),
    envoyConfig: path.join(logDir, 'envoy.yaml'),
    authz: path.join(logDir, 'authorization-server.log'),
    site: path.join(logDir, 'site.log'),
    siteAppLink: path.join(logDir, 'site-app-link.log'),
    app: path.join(logDir, 'app-endpoint.log'),
  };
}

/** One access log line per request through Envoy: no query string, no Authorization header. */
const ACCESS_LOG_FORMAT = '[%START_TIME%] "%REQ(:METHOD)% %PATH(NQ)% %PROTOCOL%" '
  + '%RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%ms request_id=%REQ(X-REQUEST-ID)%\n';

const stamp = (ms = Date.now()) => new Date(ms).toISOString();

/**
 * Follows the authorization server's request log (method, path without the query, status) and its error events
 * into `file`: polled, since the harness keeps the log in memory. Returns stop(), which writes what is left.
 */
function followAuthServer(as, file) {
  writeFileSync(file, `${stamp()} authorization server ${as.issuer} (TEST ONLY)\n`);
  const written = new WeakSet();
  const flush = (final) => {
    const lines = [];
    for (const e of as.requestLog) {
      if (written.has(e)) continue;
      // in order: wait for a request still being answered, unless it has taken longer than 30 s
      if (e.status === undefined && !final && Date.now() - e.time < 30_000) break;
      written.add(e);
      lines.push(`${stamp(e.time)} ${e.method} ${e.path} ${e.status ?? '-'}${e.fault ? ' (injected fault)' : ''}`);
    }
    if (lines.length) appendFileSync(file, `${lines.join('\n')}\n`);
  };
  const onError = (event) => (_ctx, err) => appendFileSync(file, `${stamp()} ${event} ${err?.error ?? err?.name ?? 'error'}: ${err?.error_description ?? err?.message ?? ''}\n`);
  for (const event of ['authorization.error', 'grant.error', 'server_error']) as.provider?.on(event, onError(event));
  const timer = setInterval(() => flush(false), 250);
  timer.unref();
  return () => {
    clearInterval(timer);
    flush(true);
  };
}

/**
 * Start the stack. Options: `ports` { app, site, as, api, admin } (0 / undefined = free port; the demo passes
 * preferred ones), `accessTokenTTL` (seconds), `clockSkewSeconds` (filter), `jwks` ('inline' | 'discovery', default
 * $TOLLGATE_FLOW_JWKS or inline), `onLink(record, stack)` (the app's
 * handling of a received app link; default: just record it), `appRoutes` ({ path: (url, stack) => ... } more GET
 * routes of the app endpoint, see app-endpoint.mjs), `log` (progress lines, default silent), `logDir` (keep every
 * component's log there, see flowLogFiles; default: temporary, removed at stop).
 * Resolves { app, appEndpoint, site, as, upstream, envoy, apiUrl, pageUrl, filterConfig, logFiles, stop() }.
 */
export async function startFlowStack({
  ports = {},
  accessTokenTTL = 900,
  clockSkewSeconds = 1,
  jwks = JWKS_MODE,
  onLink,
  appRoutes = {},
  log = () => {},
  logDir,
} = {}) {
  const wasm = requireWasm();
  const stack = { stopped: false };
  const files = logDir ? flowLogFiles(logDir) : undefined;
  stack.logFiles = files;
  // The app endpoint's log: what it received (parameter names only, never their values) and what it answered.
  const appLog = files
    ? (line) => appendFileSync(files.app, `${stamp()} ${line}\n`)
    : () => {};
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
      onLink: onLink || files ? async (record) => {
        const names = [...new Set(record.params.keys())].sort().join(', ') || 'no parameters';
        try {
          const out = onLink ? await onLink(record, stack) : undefined;
          appLog(`GET ${record.path} (${names}) -> ${out?.status ?? 200}${out?.title ? ` ${out.title}` : ''}`);
          return out;
        } catch (err) {
          appLog(`GET ${record.path} (${names}) -> 500 ${err.message}`);
          throw err;
        }
      } : undefined,
      routes: Object.fromEntries(Object.entries(appRoutes).map(([p, fn]) => [p, async (url) => {
        const out = await fn(url, stack);
        appLog(`GET ${p} -> ${out.redirect ? `302 to ${new URL(out.redirect).origin}${new URL(out.redirect).pathname}` : (out.status ?? 200)}`);
        return out;
      }])),
    });
    stoppers.push(() => stack.appEndpoint.close());
    if (files) appendFileSync(files.app, `${stamp()} app-link endpoint ${stack.appEndpoint.url} (plays the mobile app)\n`);
    log(`app-link endpoint on ${stack.appEndpoint.url}`);

    stack.site = await startSite({
      port: ports.site ?? 0, pagePath: PAGE_PATH, appLink: stack.appEndpoint.url, logFiles: files && { page: files.site, appLink: files.siteAppLink },
    });
    stoppers.push(() => stack.site.stop());
    stack.pageUrl = stack.site.pageUrl;
    log(`site (intermediate page) on ${stack.pageUrl}`);

    stack.as = await startAuthServer({
      port: ports.as ?? 0, redirectUris: [stack.pageUrl], accessTokenTTL, interactions: interactionScreens,
    });
    stoppers.push(() => stack.as.close());
    if (files) {
      const stopFollowing = followAuthServer(stack.as, files.authz);
      stoppers.push(stopFollowing);
    }
    log(`authorization server on ${stack.as.issuer}`);

    stack.upstream = await startEchoUpstream({ port: ports.upstream ?? 0, name: 'orders-api' });
    stoppers.push(() => stack.upstream.close());

    stack.filterConfig = flowFilterConfig(stack.as, { clockSkewSeconds, jwks });
    const accessLog = files && {
      access_log: [{
        name: 'envoy.access_loggers.file',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
          path: files.envoyAccess,
          log_format: { text_format_source: { inline_string: ACCESS_LOG_FORMAT } },
        },
      }],
    };
    const boot = bootstrap({
      upstreamPort: stack.upstream.port, httpFilters: [tollgateFilter(stack.filterConfig, { wasm })], hcm: accessLog ?? {},
    });
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
    const envoyConfig = toYaml(boot);
    if (files) writeFileSync(files.envoyConfig, envoyConfig);
    // --log-path: Envoy writes its own log (the filter's lines included) where it is kept.
    stack.envoy = await startEnvoy(envoyConfig, { name: 'flow', extraArgs: files ? ['--log-path', files.envoy] : [] });
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
