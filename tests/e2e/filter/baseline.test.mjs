// Controls for the tollgate tests, with the same harness, Envoy and echo upstream:
//  - without any auth filter everything reaches the upstream, spoofed claim headers included (so the denials and
//    stripping seen in tokens.test.mjs are the filter's doing, not Envoy's);
//  - Envoy's native jwt_authn (envoy/bench/jwt-authn.yaml's provider) verifies the same fixture tokens, but has no
//    scope check and no typ check: what tollgate adds;
//  - the runner fails fast with Envoy's log when Envoy cannot start.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml } from '../lib/envoy-config.mjs';
import { request } from '../lib/http.mjs';
import { startEchoUpstream } from '../lib/upstream.mjs';
import { mint, ISSUER, AUDIENCE, IDSVR_JWKS } from '../fixtures/tokens.mjs';

describe('baseline: Envoy without an auth filter', () => {
  let upstream;
  let envoy;
  before(async () => {
    upstream = await startEchoUpstream();
    envoy = await startEnvoy(toYaml(bootstrap({ upstreamPort: upstream.port })), { name: 'baseline' });
  });
  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  it('forwards anything, expired tokens and spoofed x-user-id included', async () => {
    const token = await mint({ iat: -400, exp: -100 });
    const res = await request(envoy.listenerPort('ingress'), { path: '/orders', headers: { authorization: `Bearer ${token}`, 'x-user-id': 'admin' } });
    assert.equal(res.status, 200);
    assert.equal(res.json.headers['x-user-id'], 'admin');
    assert.equal(res.json.headers.authorization, `Bearer ${token}`);
    assert.equal(upstream.seen.length, 1);
  });
});

describe('comparison: native jwt_authn with the same provider', () => {
  let upstream;
  let envoy;
  before(async () => {
    upstream = await startEchoUpstream();
    const jwtAuthn = {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
        providers: {
          idsvr: {
            issuer: ISSUER,
            audiences: [AUDIENCE],
            local_jwks: { inline_string: JSON.stringify(IDSVR_JWKS) },
            claim_to_headers: [{ header_name: 'x-user-id', claim_name: 'sub' }],
          },
        },
        rules: [{ match: { prefix: '/' }, requires: { provider_name: 'idsvr' } }],
      },
    };
    envoy = await startEnvoy(toYaml(bootstrap({ upstreamPort: upstream.port, httpFilters: [jwtAuthn] })), { name: 'jwt-authn' });
  });
  after(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  const send = (token, path = '/orders') =>
    request(envoy.listenerPort('ingress'), { method: 'POST', path, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('verifies the fixture tokens (ES256, EdDSA, RS256) and refuses a missing or expired one', async () => {
    for (const alg of ['ES256', 'EdDSA', 'RS256']) assert.equal((await send(await mint({ alg }))).status, 200, alg);
    assert.equal((await send()).status, 401);
    assert.equal((await send(await mint({ iat: -400, exp: -100 }))).status, 401);
  });

  it('has no scope check and no typ check: a read-only ID-token-typed token may POST (tollgate answers 403 / 401)', async () => {
    const res = await send(await mint({ typ: 'JWT', scope: 'orders:read' }));
    assert.equal(res.status, 200);
    assert.equal(res.json.method, 'POST');
  });
});

describe('the Envoy runner', () => {
  it('rejects with Envoy\'s own error when the config is invalid', async () => {
    await assert.rejects(
      startEnvoy('static_resources: { listeners: [ { name: x } ] }\n', { name: 'broken', readyTimeoutMs: 15_000 }),
      /envoy exited early/,
    );
  });
});
