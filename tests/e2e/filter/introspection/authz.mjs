// The real oidc-provider (the npm package pinned in tests/e2e/package-lock.json) set up the way an authorization
// server that gives apps opaque access tokens is: access tokens are reference tokens (`accessTokenFormat:
// 'opaque'`), RFC 7662 introspection and RFC 9701 JWT introspection answers are on, DPoP binds tokens (the
// introspection answer then carries `cnf.jkt` and `token_type: DPoP`), and revocation is on. The gateway
// authenticates to the introspection endpoint as its own confidential client with `client_secret_basic`.
//
// This is a second, smaller harness beside tests/e2e/authz/server.mjs (JWT access tokens, rotation, the code flow):
// it shares that one's TEST ONLY signing keys and its token-request helpers (authz/flow.mjs `clientCredentials`,
// which only read `tokenUrl`, `resource`, `resourceScopes`, `clients.service` and `clientCertificateHeader`).
import { createServer } from 'node:http';
import { SIGNING_ALGS, kidFor, loadTestKeys } from '../../authz/server.mjs';

/** The API the tokens are for (`aud`), and a second resource whose tokens the API must refuse. */
export const RESOURCE = 'https://api.tollgate.test';
export const OTHER_RESOURCE = 'https://other.tollgate.test';
export const SCOPES = ['orders:read', 'orders:write'];

/** The service that asks for tokens (client_credentials; TEST ONLY secret). */
export const SERVICE_CLIENT = { clientId: 'tollgate-service', clientSecret: 'TEST-ONLY-tollgate-service-secret-0123456789' };

/**
 * The gateway's own client at the introspection endpoint. Its TEST ONLY secret holds characters that RFC 6749
 * §2.3.1 requires to be form-encoded inside HTTP Basic (`:`, space, `%`, `+`, `/`), so a gateway that skips the
 * encoding is refused by the server, and it is long and distinctive so a search of Envoy's log for it means
 * something.
 */
export const GATEWAY_CLIENT = { clientId: 'tollgate-gateway', clientSecret: 'TEST-ONLY gateway:secret/+%-4f1c9a7e2b' };

/** `Authorization: Basic …` as RFC 6749 §2.3.1 writes it: base64(urlencode(id) ":" urlencode(secret)). */
export function basicAuthorization({ clientId, clientSecret }) {
  const form = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString('base64')}`;
}

/**
 * The client credentials of an `Authorization: Basic …` value, form-decoded as RFC 6749 §2.3.1 says a server does
 * (`+` and `%20` both a space), with the raw encoded parts; undefined when the value is not Basic credentials.
 */
export function decodeBasic(value) {
  const m = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(value ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const rawId = text.slice(0, colon);
  const rawSecret = text.slice(colon + 1);
  const form = (s) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
  };
  return { clientId: form(rawId), clientSecret: form(rawSecret), rawId, rawSecret };
}

/** Every spelling of the gateway's secret that must never appear in a log: raw, form-encoded, and inside Basic. */
export function secretSpellings(client = GATEWAY_CLIENT) {
  const basic = (id, secret) => Buffer.from(`${id}:${secret}`).toString('base64');
  const form = (v) => encodeURIComponent(v).replace(/%20/g, '+');
  return [
    client.clientSecret,
    encodeURIComponent(client.clientSecret),
    form(client.clientSecret),
    basic(form(client.clientId), form(client.clientSecret)),
    basic(encodeURIComponent(client.clientId), encodeURIComponent(client.clientSecret)),
    basic(client.clientId, client.clientSecret),
  ];
}

/** The smallest storage oidc-provider needs, in memory, per server (no sessions or grants here). */
function memoryAdapter(store) {
  const now = () => Math.floor(Date.now() / 1000);
  return class MemoryAdapter {
    constructor(model) { this.model = model; }
    key(id) { return `${this.model}:${id}`; }
    async upsert(id, payload, expiresIn) { store.set(this.key(id), { payload, expiresAt: expiresIn ? now() + expiresIn : undefined }); }
    async find(id) {
      const entry = store.get(this.key(id));
      if (!entry) return undefined;
      if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
        store.delete(this.key(id));
        return undefined;
      }
      return entry.payload;
    }
    async findByUid() { return undefined; }
    async findByUserCode() { return undefined; }
    async consume(id) { const entry = store.get(this.key(id)); if (entry) entry.payload.consumed = now(); }
    async destroy(id) { store.delete(this.key(id)); }
    async revokeByGrantId() {}
  };
}

/** oidc-provider prints notices on import and on start (Node version, development defaults); keep them out. */
async function quietly(fn) {
  const original = { warn: console.warn, info: console.info };
  const keep = process.env.TOLLGATE_AUTHZ_VERBOSE === '1';
  const filter = (orig) => (...args) => {
    if (!keep && args.map(String).join(' ').includes('oidc-provider')) return;
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

/**
 * Start the opaque-token server on 127.0.0.1 (a free port). `accessTokenTTL` (seconds) can be changed later with
 * `setAccessTokenTTL`. Resolves { issuer, port, tokenUrl, introspectionUrl, revocationUrl, jwksUrl, discoveryUrl,
 * resource, resourceScopes, clients: { service, gateway }, revoke(token), setAccessTokenTTL(s), introspect(token,
 * { accept }), serverErrors, close() }.
 */
export async function startOpaqueTokenServer({ accessTokenTTL = 300 } = {}) {
  const { default: Provider, errors } = await quietly(() => import('oidc-provider'));
  const state = { accessTokenTTL };
  const serverErrors = [];
  const sockets = new Set();
  const server = createServer();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  // The first generation of the TEST ONLY keys (ES256 first: it signs the RFC 9701 answers).
  const kids = SIGNING_ALGS.map((alg) => kidFor(alg, 1));
  const keys = kids.map((kid) => loadTestKeys().keys.find((k) => k.kid === kid));

  const provider = await quietly(() => new Provider(issuer, {
    adapter: memoryAdapter(new Map()),
    jwks: { keys },
    cookies: { keys: ['TEST-ONLY-tollgate-introspection-cookie-key'] },
    clients: [
      {
        client_id: SERVICE_CLIENT.clientId,
        client_secret: SERVICE_CLIENT.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        // The gateway only introspects. `introspection_signed_response_alg` makes the server answer
        // `Accept: application/token-introspection+jwt` with an RFC 9701 JWT (aud = this client id); with
        // `Accept: application/json` it still answers plain JSON.
        client_id: GATEWAY_CLIENT.clientId,
        client_secret: GATEWAY_CLIENT.clientSecret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        introspection_signed_response_alg: 'ES256',
      },
    ],
    scopes: SCOPES,
    responseTypes: [],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Only the gateway may introspect; a token may be revoked by the client it was issued to.
      introspection: { enabled: true, allowedPolicy: (_ctx, client) => client.clientId === GATEWAY_CLIENT.clientId },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => client.clientId === token.clientId },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (indicator !== RESOURCE && indicator !== OTHER_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: SCOPES.join(' '),
            audience: indicator,
            accessTokenTTL: state.accessTokenTTL,
            // Reference tokens: the app and the gateway learn nothing from the token itself.
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA', 'RS256', 'PS256'] },
    ttl: {
      AccessToken: () => state.accessTokenTTL,
      ClientCredentials: () => state.accessTokenTTL,
    },
  }));
  provider.on('server_error', (_ctx, err) => {
    serverErrors.push(err);
    console.error('introspection test server error:', err);
  });
  const callback = provider.callback();
  server.on('request', callback);

  const basic = basicAuthorization(SERVICE_CLIENT);
  const harness = {
    issuer,
    port,
    tokenUrl: `${issuer}/token`,
    introspectionUrl: `${issuer}/token/introspection`,
    revocationUrl: `${issuer}/token/revocation`,
    jwksUrl: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    resource: RESOURCE,
    resourceScopes: [...SCOPES],
    clientCertificateHeader: 'x-ssl-client-cert',
    clients: { service: SERVICE_CLIENT, gateway: GATEWAY_CLIENT },
    serverErrors,
    /** Lifetime in seconds of the access tokens issued from now on. */
    setAccessTokenTTL(seconds) { state.accessTokenTTL = seconds; },
    /** RFC 7009 revocation by the client the token was issued to. */
    async revoke(token) {
      const res = await fetch(harness.revocationUrl, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (res.status !== 200) throw new Error(`revocation answered ${res.status}: ${await res.text()}`);
    },
    /** Introspect directly (not through Envoy), as the gateway client: the test's view of what the server says. */
    async introspect(token, { accept = 'application/json' } = {}) {
      const res = await fetch(harness.introspectionUrl, {
        method: 'POST',
        headers: { authorization: basicAuthorization(GATEWAY_CLIENT), accept, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return harness;
}
