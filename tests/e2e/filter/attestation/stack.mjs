// The stack the client-attestation tests share: the real oidc-provider (tests/e2e/authz, which knows nothing of
// attestation), the TEST ONLY client attester (lib/attestation.mjs), and real Envoys with the built filter in front
// of the server's token endpoint. Plus the app: a DPoP-bound session from the real code flow.
import assert from 'node:assert/strict';
import { startEnvoy } from '../../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../../lib/envoy-config.mjs';
import { dpopKeyPair } from '../../lib/dpop.mjs';
import { authorizationRequestUrl, pkcePair, randomState, runBrowserFlow } from '../../authz/flow.mjs';
import { FORM, dpopProof, form, send } from './client.mjs';

export const REDIRECT_URI = 'http://127.0.0.1:45997/app/callback';
export const CHALLENGE_ENDPOINT = '/attestation/challenge';
/** TEST ONLY challenge secret: 32 random-looking bytes, base64url. */
export const CHALLENGE_SECRET = 'VEVTVC1PTkxZLWF0dGVzdGF0aW9uLWNoYWxsZW5nZS0wMDAx';
export const MAX_AGE_SECONDS = 3600;

/** The top-level `client_attestation` trusting `attester`; `challenges` on when true. */
export function attestationConfig(attester, { challenges = false, ...rest } = {}) {
  return {
    attesters: [{ name: 'test-attester', issuer: attester.issuer, jwks: { inline: attester.jwks }, algorithms: ['ES256'] }],
    max_age_seconds: MAX_AGE_SECONDS,
    pop_max_age_seconds: 300,
    clock_skew_seconds: 30,
    ...(challenges ? { challenges: { secret: CHALLENGE_SECRET, endpoint: CHALLENGE_ENDPOINT, lifetime_seconds: 300 } } : {}),
    ...rest,
  };
}

/**
 * Envoy's buffer filter, placed after tollgate in front of a token endpoint. tollgate lets a gated request's headers
 * go on and holds back its body until the decision (a Wasm filter that paused its header callback would never get
 * the body); without a filter after it, the router may already have sent the headers upstream, so the server sees
 * the start of a refused request before it is reset. The buffer filter holds the headers until the whole body has
 * passed tollgate: the server then sees nothing at all of a refused request. Its bound is above every
 * `max_body_bytes` tollgate allows, so tollgate's own bound answers first.
 */
export const BUFFER_FILTER = {
  name: 'envoy.filters.http.buffer',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer', max_request_bytes: 2 * 1048576 },
};

/**
 * Envoy (`concurrency` workers, default one) with tollgate in front of `upstreamPort`: `plugin` is the whole plugin
 * configuration. Resolves the Envoy handle with `port` (the listener's).
 *
 * `vmEnvironment`: variables of the filter's Wasm VM (`vm_config.environment_variables.key_values`).
 * `buffer` (default true): Envoy's buffer filter after tollgate (BUFFER_FILTER).
 */
export async function startGate(plugin, {
  upstreamPort, name = 'attestation-gate', concurrency = 1, vmEnvironment, buffer = true,
}) {
  const filter = tollgateFilter(plugin);
  // the Wasm VM's environment, where a secret written { "env": NAME } is read
  if (vmEnvironment) filter.typed_config.config.vm_config.environment_variables = { key_values: vmEnvironment };
  const envoy = await startEnvoy(toYaml(bootstrap({ upstreamPort, httpFilters: buffer ? [filter, BUFFER_FILTER] : [filter] })), { name, concurrency });
  envoy.port = envoy.listenerPort('ingress');
  return envoy;
}

/**
 * A session of the public DPoP client `tollgate-mobile-dpop` of `as`: the code flow by plain HTTP against the
 * server, the code exchanged through `envoy` (authorization_code is not gated) over `protocol`, with a DPoP proof by
 * the app's key, so the refresh token is bound to that key (RFC 9449 §5). Resolves { key, refreshToken, accessToken,
 * clientId, exchange } (`exchange`: the code exchange's answer).
 */
export async function dpopSession(as, envoy, { protocol = 'http1' } = {}) {
  const clientId = as.clients.mobileDpop.clientId;
  const key = await dpopKeyPair('ES256');
  const { verifier, challenge } = pkcePair();
  const url = authorizationRequestUrl(as, {
    clientId, redirectUri: REDIRECT_URI, state: randomState(), codeChallenge: challenge,
  });
  const { redirect } = await runBrowserFlow(url, { redirectUri: REDIRECT_URI });
  const code = redirect.searchParams.get('code');
  assert.ok(code, 'the authorization server redirected with a code');
  const exchange = await send(protocol, envoy.port, {
    path: '/token',
    headers: { 'content-type': FORM, dpop: await dpopProof(key, { htu: tokenUrl(envoy) }) },
    body: form({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  assert.equal(exchange.status, 200, `code exchange through the gate: ${exchange.body}`);
  assert.equal(exchange.json.token_type, 'DPoP');
  return {
    key, clientId, exchange, refreshToken: exchange.json.refresh_token, accessToken: exchange.json.access_token,
  };
}

/** The token endpoint as the app sees it through `envoy` (the DPoP proof's htu). */
export function tokenUrl(envoy) {
  return `http://127.0.0.1:${envoy.port}/token`;
}

/** Number of token requests that reached the authorization server so far. */
export function asTokenRequests(as) {
  return as.requests.token;
}
