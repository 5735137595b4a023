// The reference implementation of attestation-based client authentication for the agreement test: the real
// oidc-provider (9.13, pinned in tests/e2e/package-lock.json) with `features.attestClientAuth` (draft-12), on
// loopback. Two public clients authenticate by attestation: `tollgate-attested` with a PoP JWT
// (`attest_jwt_client_auth`) and `tollgate-attested-dpop` in DPoP combined mode (`attest_jwt_client_auth_dpop`).
// The server trusts exactly the TEST ONLY attester's key (lib/attestation.mjs), issues its own attestation
// challenges and DPoP nonces (POST /challenge) and requires them, checks PoP replay and binds refresh tokens to the
// attested key. tests/e2e/authz/server.mjs is the server WITHOUT attestation the other tests use.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { importJWK } from 'jose';
import { kidFor, loadTestKeys } from '../../authz/server.mjs';

export const CLIENTS = Object.freeze({ pop: 'tollgate-attested', combined: 'tollgate-attested-dpop' });

/** oidc-provider warns at import on Node 20 ("Unsupported runtime"); keep that notice out of the test output. */
async function importProvider() {
  const warn = console.warn;
  console.warn = (...args) => { if (!args.map(String).join(' ').includes('oidc-provider')) warn(...args); };
  try {
    return (await import('oidc-provider')).default;
  } finally {
    console.warn = warn;
  }
}

/**
 * Start the reference server trusting `attester` (startTestAttester) for clients whose redirect URI is
 * `redirectUri`. Resolves { issuer, port, authorizationUrl, tokenUrl, requests: { token }, grantErrors, close() }.
 */
export async function startReferenceServer({ attester, redirectUri }) {
  const Provider = await importProvider();
  const server = createServer();
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const signingKey = loadTestKeys().keys.find((k) => k.kid === kidFor('ES256', 1));
  const attesterKey = await importJWK(attester.jwks.keys[0], 'ES256');
  const client = (clientId, method) => ({
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: method,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    id_token_signed_response_alg: 'ES256',
  });
  const provider = new Provider(issuer, {
    clients: [client(CLIENTS.pop, 'attest_jwt_client_auth'), client(CLIENTS.combined, 'attest_jwt_client_auth_dpop')],
    jwks: { keys: [signingKey] },
    // TEST ONLY cookie key
    cookies: { keys: ['TEST-ONLY-tollgate-reference-cookie-key'] },
    async findAccount(_ctx, sub) {
      return { accountId: sub, async claims() { return { sub }; } };
    },
    pkce: { required: () => true },
    clientAuthMethods: ['none', 'attest_jwt_client_auth', 'attest_jwt_client_auth_dpop'],
    features: {
      devInteractions: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32) },
      attestClientAuth: {
        enabled: true,
        ack: 'draft-12',
        challengeSecret: randomBytes(32),
        async getAttestationSignaturePublicKey(_ctx, header, payload) {
          if (payload.iss !== attester.issuer || header.kid !== attester.kid) throw new Error('not the trusted attester');
          return attesterKey;
        },
      },
    },
    enabledJWA: { attestSigningAlgValues: ['ES256'], dPoPSigningAlgValues: ['ES256'] },
    issueRefreshToken: async () => true,
    rotateRefreshToken: true,
  });
  const requests = { token: 0 };
  const grantErrors = [];
  provider.use(async (ctx, next) => {
    if (ctx.path === '/token') requests.token += 1;
    await next();
  });
  provider.on('grant.error', (_ctx, err) => { grantErrors.push({ error: err.error, detail: err.error_detail ?? err.error_description }); });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    res.shouldKeepAlive = false;
    callback(req, res);
  });
  return {
    issuer,
    port: server.address().port,
    authorizationUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    challengeUrl: `${issuer}/challenge`,
    requests,
    grantErrors,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
