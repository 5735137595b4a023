#!/usr/bin/env node
// A real OAuth 2.0 / OpenID Connect authorization server for tollgate's end-to-end tests and demo:
// the `oidc-provider` npm package (pinned in tests/e2e/package-lock.json), configured like a
// mobile deployment. See README.md beside this file for the configuration and why.
//
//   import { startAuthServer } from './server.mjs';
//   const as = await startAuthServer({ redirectUris: ['http://127.0.0.1:5555/app/callback'] });
//   ... as.issuer, as.rotateKeys(), as.stop(), as.restart(), as.requests.jwks ...
//   await as.close();
//
// CLI (manual use; `--help` lists the options):
//   node tests/e2e/authz/server.mjs --port 9000 --redirect-uri http://127.0.0.1:8080/app/callback

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCli, portOption, UsageError } from '../../../scripts/cli.mjs';

const KEY_FILE = fileURLToPath(new URL('./keys/TEST-ONLY-signing-keys.json', import.meta.url));

/** Algorithms whose keys are published; any of them can sign access tokens. */
export const SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256'];

/** DPoP proof algorithms the server accepts at its token endpoint (`Ed25519` is RFC 9864's name for EdDSA over
 *  Ed25519, which the `dpop` npm package puts in its proofs). */
export const DPOP_ALGS = ['ES256', 'Ed25519', 'EdDSA', 'RS256', 'PS256'];

export const DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  keepAlive: false,
  resource: 'https://api.tollgate.test',
  resourceScopes: ['orders:read', 'orders:write'],
  accessTokenAlg: 'ES256',
  accessTokenTTL: 15 * 60,
  refreshTokenTTL: 14 * 24 * 60 * 60,
  serviceClient: {
    client_id: 'tollgate-service',
    // TEST ONLY client secret.
    client_secret: 'TEST-ONLY-tollgate-service-secret-0123456789',
  },
  mobileClientId: 'tollgate-mobile',
  // A public client whose every token request must carry a DPoP proof (RFC 9449 `dpop_bound_access_tokens`).
  mobileDpopClientId: 'tollgate-mobile-dpop',
  // A confidential client whose access tokens are bound to its TLS client certificate (RFC 8705 §3).
  serviceMtlsClient: {
    client_id: 'tollgate-service-mtls',
    // TEST ONLY client secret.
    client_secret: 'TEST-ONLY-tollgate-service-mtls-secret-0123456789',
  },
  // The header a TLS-terminating proxy in front of the server sets to the client certificate it verified:
  // URL-encoded PEM, like nginx's $ssl_client_escaped_cert (and the Cert= element of Envoy's
  // x-forwarded-client-cert). The proxy must remove any value the client sent itself.
  clientCertificateHeader: 'x-ssl-client-cert',
  // The claimed-HTTPS redirect URI of a real deployment: our intermediate page.
  redirectUris: ['https://www.tollgate.test/app/callback'],
  // true: access tokens are opaque reference tokens, checked at the RFC 7662 introspection endpoint (RFC 9701
  // signed answers too), which only the gateway client may call.
  opaqueAccessTokens: false,
  gatewayClient: {
    client_id: 'tollgate-gateway',
    // TEST ONLY client secret.
    client_secret: 'TEST-ONLY-tollgate-gateway-secret-0123456789',
  },
});

// ---------------------------------------------------------------------------------------------
// oidc-provider import with its console notices captured (it warns on Node 20 at import time:
// "Unsupported runtime. Use Node.js v22.x LTS"). The notices stay available in `warnings`.

const capturedWarnings = [];

async function captureNotices(fn) {
  const original = { warn: console.warn, info: console.info };
  const verbose = process.env.TOLLGATE_AUTHZ_VERBOSE === '1';
  const filter = (orig) => (...args) => {
    const text = args.map(String).join(' ');
    if (text.includes('oidc-provider ')) {
      capturedWarnings.push(text.replace(/\x1b\[[0-9;]*m/g, ''));
      if (verbose) orig(...args);
      return;
    }
    orig(...args);
  };
  console.warn = filter(original.warn);
  console.info = filter(original.info);
  try {
    return await fn();
  } finally {
    console.warn = original.warn;
    console.info = original.info;
  }
}

let oidcModule;
async function loadOidcProvider() {
  if (!oidcModule) {
    oidcModule = await captureNotices(() => import('oidc-provider'));
  }
  return oidcModule;
}

// ---------------------------------------------------------------------------------------------
// Keys

let keyFixture;
/** All TEST ONLY private JWKs from the checked-in fixture (see keys/generate.mjs). */
export function loadTestKeys() {
  if (!keyFixture) keyFixture = JSON.parse(readFileSync(KEY_FILE, 'utf8'));
  return keyFixture;
}

/** kid of the key of `alg` in key generation `gen` (stable across runs). */
export function kidFor(alg, gen) {
  return `tg-test-${alg.toLowerCase()}-g${gen}`;
}

function keysOfGeneration(gen) {
  const { keys } = loadTestKeys();
  return SIGNING_ALGS.map((alg) => {
    const key = keys.find((k) => k.kid === kidFor(alg, gen));
    if (!key) throw new Error(`no test key for ${alg} generation ${gen} in ${KEY_FILE}`);
    return key;
  });
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
function publicJwk(jwk) {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k)));
}

// ---------------------------------------------------------------------------------------------
// Storage that outlives a provider instance, so stop()/restart()/rotateKeys() keep sessions,
// grants and refresh tokens, like a real server with a database.

function makeAdapterClass(store) {
  const now = () => Math.floor(Date.now() / 1000);
  return class HarnessAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const expiresAt = expiresIn ? now() + expiresIn : undefined;
      store.set(this.key(id), { payload, expiresAt });
      if (payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        const list = store.get(grantKey) ?? { payload: [], expiresAt: undefined };
        list.payload.push(this.key(id));
        store.set(grantKey, list);
      }
      if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id });
      if (payload.uid) store.set(`uid:${payload.uid}`, { payload: id });
    }

    async find(id) {
      const entry = store.get(this.key(id));
      if (!entry) return undefined;
      if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
        store.delete(this.key(id));
        return undefined;
      }
      return entry.payload;
    }

    async findByUserCode(userCode) {
      const id = store.get(`userCode:${userCode}`)?.payload;
      return id === undefined ? undefined : this.find(id);
    }

    async findByUid(uid) {
      const id = store.get(`uid:${uid}`)?.payload;
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = now();
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `grant:${grantId}`;
      for (const key of store.get(grantKey)?.payload ?? []) store.delete(key);
      store.delete(grantKey);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Request counters (middleware on the provider's Koa app).

const ROUTE_NAMES = new Map([
  ['/.well-known/openid-configuration', 'discovery'],
  ['/jwks', 'jwks'],
  ['/token', 'token'],
  ['/auth', 'authorization'],
  ['/me', 'userinfo'],
]);

function routeName(path) {
  if (ROUTE_NAMES.has(path)) return ROUTE_NAMES.get(path);
  if (path.startsWith('/auth/')) return 'authorizationResume';
  if (path.startsWith('/interaction/')) return path.endsWith('/abort') ? 'abort' : 'interaction';
  return 'other';
}

function emptyCounters() {
  return {
    total: 0,
    discovery: 0,
    jwks: 0,
    token: 0,
    authorization: 0,
    authorizationResume: 0,
    interaction: 0,
    abort: 0,
    userinfo: 0,
    other: 0,
  };
}

// ---------------------------------------------------------------------------------------------

function parseOptions(options) {
  const opts = { ...DEFAULTS, ...options };
  if (opts.host !== '127.0.0.1' && opts.host !== '::1' && opts.host !== 'localhost') {
    throw new Error(`the test authorization server listens on loopback only, not ${opts.host}`);
  }
  if (!SIGNING_ALGS.includes(opts.accessTokenAlg)) {
    throw new Error(`accessTokenAlg must be one of ${SIGNING_ALGS.join(', ')}`);
  }
  if (!Number.isInteger(opts.accessTokenTTL) || opts.accessTokenTTL <= 0) {
    throw new Error('accessTokenTTL must be a positive integer number of seconds');
  }
  if (!Array.isArray(opts.redirectUris) || opts.redirectUris.length === 0) {
    throw new Error('redirectUris must be a non-empty array');
  }
  if (typeof opts.clientCertificateHeader !== 'string' || !/^[a-z0-9-]+$/.test(opts.clientCertificateHeader)) {
    throw new Error('clientCertificateHeader must be a lower-case header name');
  }
  if (opts.interactions !== undefined && typeof opts.interactions !== 'function') {
    throw new Error('interactions must be a function (provider) => Koa middleware');
  }
  return opts;
}

/**
 * Start a real oidc-provider on loopback.
 * @param {object} [options]
 * @param {number} [options.port=0] port to listen on, 0 = a free one
 * @param {string} [options.resource] resource indicator = `aud` of access tokens
 * @param {string[]} [options.resourceScopes] scopes the resource server accepts
 * @param {'ES256'|'EdDSA'|'RS256'} [options.accessTokenAlg='ES256']
 * @param {number} [options.accessTokenTTL=900] seconds
 * @param {string[]} [options.redirectUris] redirect URIs of the mobile (public) client
 * @param {function} [options.interactions] (provider) => Koa middleware that renders the sign-in and consent
 *   screens at /interaction/<uid> with oidc-provider's interaction API, instead of its development screens
 */
export async function startAuthServer(options = {}) {
  const opts = parseOptions(options);
  const { default: Provider, errors } = await loadOidcProvider();

  const store = new Map();
  const Adapter = makeAdapterClass(store);
  const requests = emptyCounters();
  const requestLog = [];
  const serverErrors = [];
  const grantErrors = []; // { time, error, detail } of refused token requests: reason only, never a token
  const faults = new Map(); // route name -> { status, body, contentType, delayMs }

  const state = {
    accessTokenAlg: opts.accessTokenAlg,
    accessTokenTTL: opts.accessTokenTTL,
    generation: 1,
    published: [1], // key generations whose keys are in the JWKS, newest first
    port: opts.port ?? 0,
    httpServer: undefined,
    provider: undefined,
    sockets: new Set(),
  };

  const resourceScope = opts.resourceScopes.join(' ');
  const serviceClient = {
    client_id: opts.serviceClient.client_id,
    client_secret: opts.serviceClient.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const mobileClient = {
    client_id: opts.mobileClientId,
    // RFC 8252: a native app. oidc-provider then accepts claimed https:// redirect URIs on
    // non-loopback hosts and http:// redirect URIs on loopback hosts only (any port).
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: opts.redirectUris,
    id_token_signed_response_alg: 'ES256',
  };
  // The same app, registered so that the server refuses every token request without a DPoP proof: the code
  // exchange and each refresh are bound to the app's key (RFC 9449 §5; for a public client the refresh token is
  // bound to it too), and its access tokens carry cnf.jkt.
  const mobileDpopClient = {
    ...mobileClient,
    client_id: opts.mobileDpopClientId,
    dpop_bound_access_tokens: true,
  };
  // A service whose tokens are certificate-bound (cnf.x5t#S256 = SHA-256 thumbprint of the client certificate
  // the TLS-terminating proxy passed in `clientCertificateHeader`). It still authenticates with its secret.
  const serviceMtlsClient = {
    ...serviceClient,
    client_id: opts.serviceMtlsClient.client_id,
    client_secret: opts.serviceMtlsClient.client_secret,
    tls_client_certificate_bound_access_tokens: true,
  };

  // The gateway at the introspection endpoint (opaque access tokens only); RFC 9701 answers signed with ES256.
  const gatewayClient = {
    ...serviceClient,
    client_id: opts.gatewayClient.client_id,
    client_secret: opts.gatewayClient.client_secret,
    introspection_signed_response_alg: 'ES256',
  };

  /** The PEM certificate the proxy verified, or undefined (oidc-provider then refuses a bound client's request). */
  function clientCertificate(ctx) {
    const value = ctx.get(opts.clientCertificateHeader);
    if (!value) return undefined;
    let pem;
    try {
      pem = decodeURIComponent(value);
    } catch {
      return undefined;
    }
    return /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$/.test(pem) ? pem : undefined;
  }

  function buildProvider(issuer) {
    const keys = state.published.flatMap(keysOfGeneration);
    const provider = new Provider(issuer, {
      adapter: Adapter,
      clients: [serviceClient, mobileClient, mobileDpopClient, serviceMtlsClient,
        ...(opts.opaqueAccessTokens ? [gatewayClient] : [])],
      jwks: { keys },
      // TEST ONLY cookie signing keys, fixed so sessions survive restarts.
      cookies: { keys: ['TEST-ONLY-tollgate-cookie-key-1'] },
      // A plain error page (the default one imports a third-party web font and logs a notice).
      renderError(ctx, out) {
        ctx.type = 'html';
        ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Error</title></head><body>
<h1 id="error">${escapeHtml(out.error)}</h1><p id="error_description">${escapeHtml(out.error_description ?? '')}</p>
</body></html>`;
      },
      async findAccount(_ctx, sub) {
        return { accountId: sub, async claims() { return { sub }; } };
      },
      scopes: ['openid', 'offline_access', ...opts.resourceScopes],
      responseTypes: ['code'],
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: opts.interactions === undefined },
        resourceIndicators: {
          enabled: true,
          // Without a `resource` parameter the request is for our API.
          defaultResource: (_ctx, _client, oneOf) => oneOf ?? opts.resource,
          // The code / refresh token exchange reuses the resource granted at authorization.
          useGrantedResource: () => true,
          getResourceServerInfo(_ctx, indicator) {
            if (indicator !== opts.resource) throw new errors.InvalidTarget();
            return {
              scope: resourceScope,
              audience: opts.resource,
              accessTokenTTL: state.accessTokenTTL,
              ...(opts.opaqueAccessTokens ? { accessTokenFormat: 'opaque' } : {
                accessTokenFormat: 'jwt',
                jwt: {
                  sign: { alg: state.accessTokenAlg, kid: kidFor(state.accessTokenAlg, state.generation) },
                },
              }),
            };
          },
        },
        clientCredentials: { enabled: true },
        revocation: { enabled: true },
        introspection: {
          enabled: opts.opaqueAccessTokens,
          allowedPolicy: async (_ctx, client) => client.clientId === gatewayClient.client_id,
        },
        jwtIntrospection: { enabled: opts.opaqueAccessTokens },
        // RFC 9449: a token request with a valid DPoP proof gets an access token bound to the proof's key
        // (JWT claim cnf.jkt, token_type DPoP). No server nonces.
        dPoP: { enabled: true },
        // RFC 8705 §3: certificate-bound access tokens (cnf.x5t#S256) for clients registered with
        // tls_client_certificate_bound_access_tokens; the certificate comes from the TLS-terminating proxy.
        mTLS: {
          enabled: true,
          certificateBoundAccessTokens: true,
          getCertificate: clientCertificate,
        },
      },
      enabledJWA: { dPoPSigningAlgValues: DPOP_ALGS },
      // Mobile apps get a refresh token without asking for offline_access (oidc-provider
      // would drop offline_access unless prompt=consent), and it is rotated on every use.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      expiresWithSession: async () => false,
      ttl: {
        AccessToken: () => state.accessTokenTTL,
        ClientCredentials: () => state.accessTokenTTL,
        AuthorizationCode: 60,
        RefreshToken: opts.refreshTokenTTL,
        Grant: opts.refreshTokenTTL,
        Session: opts.refreshTokenTTL,
        Interaction: 600,
        IdToken: 600,
      },
    });

    provider.use(async (ctx, next) => {
      const name = routeName(ctx.path);
      const counts = name !== 'jwks' && name !== 'discovery' ? true : ctx.method === 'GET';
      if (counts) {
        requests[name] += 1;
        requests.total += 1;
      }
      const entry = { time: Date.now(), method: ctx.method, path: ctx.path, route: name };
      requestLog.push(entry);
      if (requestLog.length > 1000) requestLog.shift();
      const fault = faults.get(name);
      if (fault && ctx.method === 'GET') {
        if (fault.delayMs) await new Promise((resolve) => { setTimeout(resolve, fault.delayMs); });
        if (fault.status !== undefined || fault.body !== undefined) {
          ctx.status = fault.status ?? 200;
          ctx.type = fault.contentType ?? 'application/json';
          ctx.body = fault.body ?? '';
          entry.status = ctx.status;
          entry.fault = true;
          return;
        }
      }
      await next();
      entry.status = ctx.status;
      // devInteractions' page imports a web font from a third-party host; keep the browser on
      // loopback by dropping that one line.
      if (name === 'interaction' && typeof ctx.body === 'string') {
        ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/g, '');
      }
    });

    if (opts.interactions) provider.use(opts.interactions(provider));

    // oidc-provider answers most refused grants with a generic error_description ("grant request is invalid")
    // and keeps the reason in error_detail; tests read it here to tell one refusal from another.
    provider.on('grant.error', (_ctx, err) => {
      grantErrors.push({ time: Date.now(), error: err.error, detail: err.error_detail ?? err.error_description });
      if (grantErrors.length > 100) grantErrors.shift();
    });
    provider.on('server_error', (_ctx, err) => {
      serverErrors.push(err);
      console.error('authz server error:', err);
    });
    return provider;
  }

  async function listen() {
    const issuer = `http://${opts.host === '::1' ? '[::1]' : opts.host}:${state.port || 0}`;
    // The issuer must contain the port; for port 0 bind first, then build the provider.
    const server = createServer();
    server.on('connection', (socket) => {
      state.sockets.add(socket);
      socket.on('close', () => state.sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(state.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    state.port = server.address().port;
    const realIssuer = issuer.replace(/:0$/, `:${state.port}`);
    const provider = await captureNotices(() => buildProvider(realIssuer));
    const callback = provider.callback();
    server.on('request', (req, res) => {
      // One request per connection: after stop()/restart() no client (fetch, Envoy) sits on a
      // pooled socket that the outage killed, so a test sees the server's state, not a race.
      if (!opts.keepAlive) res.shouldKeepAlive = false;
      callback(req, res);
    });
    state.httpServer = server;
    state.provider = provider;
  }

  async function stop() {
    const server = state.httpServer;
    if (!server) return;
    state.httpServer = undefined;
    state.provider = undefined;
    await new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of state.sockets) socket.destroy();
    });
  }

  async function restart() {
    await stop();
    await listen();
  }

  await listen();

  const harness = {
    get issuer() { return `http://${opts.host === '::1' ? '[::1]' : opts.host}:${state.port}`; },
    get url() { return this.issuer; },
    get port() { return state.port; },
    get running() { return state.httpServer !== undefined; },
    get provider() { return state.provider; },
    get discoveryUrl() { return `${this.issuer}/.well-known/openid-configuration`; },
    get jwksUrl() { return `${this.issuer}/jwks`; },
    get tokenUrl() { return `${this.issuer}/token`; },
    get authorizationUrl() { return `${this.issuer}/auth`; },
    resource: opts.resource,
    resourceScopes: [...opts.resourceScopes],
    clients: {
      service: { clientId: serviceClient.client_id, clientSecret: serviceClient.client_secret },
      mobile: { clientId: mobileClient.client_id, redirectUris: [...mobileClient.redirect_uris] },
      mobileDpop: { clientId: mobileDpopClient.client_id, redirectUris: [...mobileDpopClient.redirect_uris] },
      serviceMtls: { clientId: serviceMtlsClient.client_id, clientSecret: serviceMtlsClient.client_secret },
    },
    /** Name of the header through which the TLS-terminating proxy passes the client certificate (URL-encoded PEM). */
    clientCertificateHeader: opts.clientCertificateHeader,
    /** Live counters of requests by endpoint (GET only for jwks and discovery). */
    requests,
    /** Last 1000 requests: method, path (never the query), route, status. No tokens. */
    requestLog,
    /** Refused token requests, newest last: { time, error, detail } (detail: oidc-provider's error_detail, the
     *  specific reason behind a generic error_description). */
    grantErrors,
    /** The newest refused token request's { error, detail }, or undefined. */
    lastGrantError() {
      const last = grantErrors.at(-1);
      return last && { error: last.error, detail: last.detail };
    },
    /** Errors oidc-provider reported as server_error (a test should expect none). */
    serverErrors,
    /** oidc-provider's own start-up notices (kept out of the test output). */
    warnings: capturedWarnings,
    resetRequests() {
      for (const k of Object.keys(requests)) requests[k] = 0;
      requestLog.length = 0;
    },
    /** Requests to `route` (e.g. 'jwks') logged at or after `sinceMs` (Date.now() value). */
    requestsSince(route, sinceMs) {
      return requestLog.filter((e) => e.route === route && e.time >= sinceMs && (e.method === 'GET' || (route !== 'jwks' && route !== 'discovery'))).length;
    },
    /**
     * Make GETs of a route misbehave until clearFaults(): e.g. injectFault('jwks', { status: 500 }),
     * { body: 'not json' }, { body: 'x'.repeat(1e6) }, { delayMs: 3000 } (delay, then the real answer).
     */
    injectFault(route, fault) {
      if (!['jwks', 'discovery'].includes(route)) throw new Error(`faults only for jwks and discovery, not ${route}`);
      if (typeof fault !== 'object' || fault === null) throw new Error('fault must be an object');
      const body = fault.body !== undefined && typeof fault.body !== 'string' ? JSON.stringify(fault.body) : fault.body;
      faults.set(route, { ...fault, body });
    },
    clearFaults() { faults.clear(); },
    /**
     * Sign a JWT with one of the published TEST ONLY keys (default: the key that signs access
     * tokens now), for negative tests of a resource server: wrong aud, missing exp, typ JWT, ...
     * Claims are taken as given; header defaults to { alg, kid, typ: 'at+jwt' }.
     */
    async signToken(claims, { alg = state.accessTokenAlg, kid = kidFor(alg, state.generation), typ = 'at+jwt', header = {} } = {}) {
      const jwk = loadTestKeys().keys.find((k) => k.kid === kid);
      if (!jwk) throw new Error(`no TEST ONLY key with kid ${kid}`);
      const { SignJWT, importJWK } = await import('jose');
      const key = await importJWK(jwk, jwk.alg);
      const protectedHeader = { alg: jwk.alg, kid, ...(typ === undefined ? {} : { typ }), ...header };
      return new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key);
    },
    get accessTokenAlg() { return state.accessTokenAlg; },
    /** Choose the alg of new access tokens (takes effect at once, no restart). */
    setAccessTokenAlg(alg) {
      if (!SIGNING_ALGS.includes(alg)) throw new Error(`unsupported alg ${alg}`);
      state.accessTokenAlg = alg;
    },
    get accessTokenTTL() { return state.accessTokenTTL; },
    /** Lifetime in seconds of new access tokens (takes effect at once, no restart). */
    setAccessTokenTTL(seconds) {
      if (!Number.isInteger(seconds) || seconds <= 0) throw new Error('TTL must be a positive integer');
      state.accessTokenTTL = seconds;
    },
    /** Current key generation (1 at start). */
    get keyGeneration() { return state.generation; },
    /** kid that signs new access tokens (for the given alg, default: the selected one). */
    currentKid(alg = state.accessTokenAlg) { return kidFor(alg, state.generation); },
    /** kids currently published in the JWKS. */
    publishedKids() { return state.published.flatMap(keysOfGeneration).map((k) => k.kid); },
    /** The public JWKS as published. */
    publicJwks() { return { keys: state.published.flatMap(keysOfGeneration).map(publicJwk) }; },
    /**
     * Rotate: a new key generation (new kids) signs new tokens; the previous keys stay
     * published until dropOldKeys(). Restarts the provider on the same port and issuer.
     */
    async rotateKeys() {
      const next = state.generation + 1;
      if (next > loadTestKeys().generations) {
        throw new Error(`only ${loadTestKeys().generations} key generations exist; see keys/generate.mjs`);
      }
      state.generation = next;
      state.published = [next, ...state.published];
      if (state.httpServer) await restart();
      return { kid: kidFor(state.accessTokenAlg, next), generation: next };
    },
    /** Unpublish every key but the current generation (restart on the same port). */
    async dropOldKeys() {
      state.published = [state.generation];
      if (state.httpServer) await restart();
    },
    /** Outage: stop listening (port and issuer are kept for restart()). */
    stop,
    /** Listen again on the same port and issuer with the same clients, keys and stored grants. */
    async restart() {
      if (state.httpServer) await stop();
      await listen();
    },
    /** Stop for good. */
    close: stop,
  };
  return harness;
}

// ---------------------------------------------------------------------------------------------
// CLI, for trying the server by hand.

const USAGE = `usage: node tests/e2e/authz/server.mjs [--port N] [--redirect-uri URL]... [--resource URI]
       [--alg ES256|EdDSA|RS256] [--access-token-ttl SECONDS] [--opaque]
Runs the TEST ONLY authorization server on 127.0.0.1 and prints its issuer, URLs and clients as JSON.
  --port N                 port (default 0: a free one)
  --redirect-uri URL       a redirect URI of the mobile client (repeatable; default ${DEFAULTS.redirectUris[0]})
  --resource URI           the resource indicator, the aud of access tokens (default ${DEFAULTS.resource})
  --alg ALG                signing algorithm of access tokens: ${SIGNING_ALGS.join(', ')} (default ${DEFAULTS.accessTokenAlg})
  --access-token-ttl S     access token lifetime in seconds (default ${DEFAULTS.accessTokenTTL})
  --opaque                 opaque access tokens, checked at /token/introspection by the gateway client
  --help, --version
Stdin commands: rotate, drop-old-keys, stop, restart, alg <ALG>, ttl <SECONDS>, stats, quit.
Signals: SIGUSR1 rotate, SIGUSR2 drop-old-keys, SIGINT/SIGTERM stop.`;

async function main() {
  const { values } = parseCli({
    name: 'server.mjs',
    usage: USAGE,
    options: {
      port: { type: 'string', default: '0' },
      'redirect-uri': { type: 'string', multiple: true },
      resource: { type: 'string' },
      alg: { type: 'string' },
      'access-token-ttl': { type: 'string' },
      opaque: { type: 'boolean', default: false },
    },
    check(v) {
      portOption(v, 'port');
      if (v.alg !== undefined && !SIGNING_ALGS.includes(v.alg)) {
        throw new UsageError(`--alg: ${JSON.stringify(v.alg)} is not one of ${SIGNING_ALGS.join(', ')}`);
      }
      const ttl = v['access-token-ttl'];
      if (ttl !== undefined && !(/^\d+$/.test(ttl) && Number(ttl) > 0)) {
        throw new UsageError(`--access-token-ttl: not a positive number of seconds: ${JSON.stringify(ttl)}`);
      }
    },
  });
  const as = await startAuthServer({
    port: Number(values.port),
    ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
    ...(values.resource ? { resource: values.resource } : {}),
    ...(values.alg ? { accessTokenAlg: values.alg } : {}),
    ...(values['access-token-ttl'] ? { accessTokenTTL: Number(values['access-token-ttl']) } : {}),
    ...(values.opaque ? { opaqueAccessTokens: true } : {}),
  });
  console.log(JSON.stringify({
    issuer: as.issuer,
    discovery: as.discoveryUrl,
    jwks: as.jwksUrl,
    resource: as.resource,
    scopes: as.resourceScopes,
    accessTokenAlg: as.accessTokenAlg,
    kid: as.currentKid(),
    clients: as.clients,
  }, null, 2));
  console.log('ready (stdin: rotate | drop-old-keys | stop | restart | alg <ALG> | ttl <S> | stats | quit)');

  const shutdown = async () => { await as.close(); process.exit(0); };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin });
  // Commands run one after another, in the order typed.
  let queue = Promise.resolve();
  rl.on('line', (line) => { queue = queue.then(() => command(line)); });
  process.on('SIGUSR1', () => { queue = queue.then(() => command('rotate')); });
  process.on('SIGUSR2', () => { queue = queue.then(() => command('drop-old-keys')); });

  async function command(line) {
    const [cmd, arg] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case 'rotate': console.log('new kid', (await as.rotateKeys()).kid); break;
        case 'drop-old-keys': await as.dropOldKeys(); console.log('published', as.publishedKids()); break;
        case 'stop': await as.stop(); console.log('stopped'); break;
        case 'restart': await as.restart(); console.log('listening', as.issuer); break;
        case 'alg': as.setAccessTokenAlg(arg); console.log('access tokens signed with', arg, as.currentKid()); break;
        case 'ttl': as.setAccessTokenTTL(Number(arg)); console.log('access token ttl', arg); break;
        case 'stats': console.log(JSON.stringify(as.requests)); break;
        case 'quit': await shutdown(); break;
        case '': break;
        default: console.log('unknown command', cmd);
      }
    } catch (err) {
      console.log('error:', err.message);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`server.mjs: ${err.message}`);
    process.exit(1);
  });
}
