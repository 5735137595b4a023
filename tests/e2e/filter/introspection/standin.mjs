// A STAND-IN, not a real authorization server: a small HTTP server that answers introspection the way Curity's
// Identity Server does for gateways that implement the phantom-token pattern, asked with `Accept: application/jwt`:
// an active token's answer is 200 with `Content-Type: application/jwt` and a body that is itself a signed JWT access
// token (`typ: at+jwt`, the same claims as the opaque token); an inactive or unknown token's answer is 204 with no
// body. It exists because oidc-provider, the real server of the other tests, has no such mode (it answers
// `application/jwt` with plain JSON), and Curity's server cannot run here. Its signing key is made by `jose` when it
// starts; the tests give the filter its public key inline.
//
// It issues its own opaque tokens (`issue(claims)`), can revoke them, authenticates the gateway with
// `client_secret_basic`, refuses anything else the way a strict endpoint does (405, 401, 406, 400), and publishes
// its public key at STANDIN_JWKS_PATH.
import { createServer } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { GATEWAY_CLIENT, decodeBasic } from './authz.mjs';

export const STANDIN_PATH = '/oauth/v2/oauth-introspect';
/** Where it publishes its public key (for a provider with remote keys). */
export const STANDIN_JWKS_PATH = '/oauth/v2/oauth-anonymous/jwks';

/**
 * Start the stand-in on 127.0.0.1 (a free port). `issuer` is its issuer name (the `iss` of its JWTs; the host need
 * not resolve: the filter reaches it through an Envoy cluster). Resolves { port, issuer, url, jwks, issue(claims,
 * { ttl }), revoke(token), answers, cacheControl, close() }; `answers` lists the JWTs it handed out, newest last.
 */
export async function startPhantomStandIn({ issuer = 'https://login.standin.test', audience = 'https://api.tollgate.test' } = {}) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = `standin-${randomUUID().slice(0, 8)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const tokens = new Map(); // opaque token -> { claims, exp, revoked }
  const answers = [];
  const now = () => Math.floor(Date.now() / 1000);

  async function answer(req, res, body) {
    if (req.method !== 'POST') return end(res, 405);
    const credentials = decodeBasic(req.headers.authorization);
    if (credentials?.clientId !== GATEWAY_CLIENT.clientId || credentials.clientSecret !== GATEWAY_CLIENT.clientSecret) {
      return end(res, 401, 'application/json', '{"error":"invalid_client"}');
    }
    if (!/^application\/jwt\b/.test(req.headers.accept ?? '')) return end(res, 406);
    const form = new URLSearchParams(body);
    const token = form.get('token');
    if (!token) return end(res, 400, 'application/json', '{"error":"invalid_request"}');
    const entry = tokens.get(token);
    if (!entry || entry.revoked || entry.exp <= now()) return end(res, 204);
    const jwt = await new SignJWT({ ...entry.claims, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(entry.iat)
      .setExpirationTime(entry.exp)
      .sign(privateKey);
    answers.push(jwt);
    return end(res, 200, 'application/jwt', jwt);
  }

  function end(res, status, contentType, text = '') {
    const cacheControl = handle.cacheControl === undefined ? {} : { 'cache-control': handle.cacheControl };
    res.writeHead(status, { ...(contentType ? { 'content-type': contentType } : {}), 'content-length': Buffer.byteLength(text), ...cacheControl });
    res.end(status === 204 ? undefined : text);
  }

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === STANDIN_JWKS_PATH) return end(res, 200, 'application/json', JSON.stringify({ keys: [jwk] }));
      if (req.url !== STANDIN_PATH) return end(res, 404);
      answer(req, res, Buffer.concat(chunks).toString('utf8')).catch((err) => {
        console.error('phantom stand-in:', err);
        end(res, 500);
      });
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const handle = {
    /** The `Cache-Control` of its answers (none by default), e.g. `max-age=2`. */
    cacheControl: undefined,
    port,
    issuer,
    audience,
    url: `${issuer}${STANDIN_PATH}`,
    jwksUrl: `${issuer}${STANDIN_JWKS_PATH}`,
    jwks: { keys: [jwk] },
    answers,
    /** A new opaque token for `claims` (sub, client_id, scope, cnf, …), valid `ttl` seconds. */
    issue(claims, { ttl = 300 } = {}) {
      const token = randomBytes(32).toString('base64url');
      const iat = now();
      tokens.set(token, { claims, iat, exp: iat + ttl, revoked: false });
      return token;
    },
    revoke(token) {
      const entry = tokens.get(token);
      if (entry) entry.revoked = true;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return handle;
}
