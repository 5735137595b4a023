// Stands in for the authorization server at https://login.example.com/oauth/v2/oauth-anonymous, the issuer the
// shipped manifests name: serves its OpenID Connect discovery document and its JWKS (the TEST-ONLY fixture keys
// of tests/e2e/fixtures) on loopback over plain HTTP, and records every request. The real oidc-provider harness
// cannot take that issuer (its issuer is its own loopback URL); what the mesh tests check here is the cluster
// name and the plugin configuration, not the authorization server.
import http from 'node:http';
import { LOOPBACK } from '../../lib/net.mjs';
import { ISSUER, IDSVR_JWKS } from '../../fixtures/tokens.mjs';

export const ISSUER_PATH = new URL(ISSUER).pathname;
export const JWKS_PATH = `${ISSUER_PATH}/jwks`;

export function startKeyServer() {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, host: req.headers.host });
    let body;
    if (req.method === 'GET' && req.url === `${ISSUER_PATH}/.well-known/openid-configuration`) {
      body = { issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` };
    } else if (req.method === 'GET' && req.url === JWKS_PATH) {
      body = IDSVR_JWKS;
    }
    const text = body ? JSON.stringify(body) : 'not found\n';
    res.writeHead(body ? 200 : 404, { 'content-type': body ? 'application/json' : 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve({
      port: server.address().port,
      seen,
      close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
    }));
  });
}
