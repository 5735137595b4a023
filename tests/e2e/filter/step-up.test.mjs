// Step-up authentication (RFC 9470) end to end: the shipped example envoy/examples/nonce in the real Envoy, whose
// /payments route needs acr "urn:tollgate:mfa" and a login no older than 300 s. A token from the real oidc-provider
// (client credentials: no user, so no acr and no auth_time) gets 401 insufficient_user_authentication with the
// route's acr_values and max_age. The server cannot be made to put acr / auth_time into its JWT access tokens (its
// JWT access token format has no such claims), so the tokens WITH them are signed with jose by the test server's
// own TEST ONLY key (`as.signToken`), exactly as the server would sign them. Over HTTP/1.1 and h2c.
import { describe } from 'node:test';
import assert from 'node:assert/strict';

import { request } from '../lib/http.mjs';
import { h2Request } from '../lib/h2.mjs';
import { counterDelta } from './harness.mjs';
import { API_BODY, REALM, serviceToken, oneReplicaPerFile } from './nonce-example.mjs';

let as;
let envoy;
let port;
const test = oneReplicaPerFile('example-nonce-step-up', (s) => ({ as, envoy, port } = s));

const now = () => Math.floor(Date.now() / 1000);
const LEVEL = 'a different authentication level is required';
const RECENT = 'a more recent authentication is required';

/** A user's access token as the server signs them, with `acr` / `auth_time` when given. */
function userToken({ acr, authTime, scope = 'orders:write' } = {}) {
  const t = now();
  return as.signToken({
    iss: as.issuer,
    aud: 'https://api.tollgate.test',
    sub: 'user-1',
    client_id: as.clients.mobile.clientId,
    scope,
    iat: t - 5,
    exp: t + 300,
    jti: `step-up-${Math.random()}`,
    ...(acr === undefined ? {} : { acr }),
    ...(authTime === undefined ? {} : { auth_time: authTime }),
  });
}

const pay = (token) => request(port, { path: '/payments', headers: { authorization: `Bearer ${token}` } });

function assertStepUp(res, description) {
  assert.equal(res.status, 401, res.body);
  assert.notEqual(res.body, API_BODY);
  assert.equal(
    res.headers['www-authenticate'],
    `Bearer realm="${REALM}", error="insufficient_user_authentication", error_description="${description}", acr_values="urn:tollgate:mfa", max_age="300", resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource"`,
  );
  assert.deepEqual(res.json, { error: 'insufficient_user_authentication', error_description: description });
}

describe('step-up authentication', () => {
  test('a token from the real server without acr is told which acr and max_age to ask for', async () => {
    const token = await serviceToken(as, { scope: 'orders:write' });
    const { delta, result } = await counterDelta(envoy, () => pay(token));
    assertStepUp(result, LEVEL);
    assert.equal(delta['denied.step_up_missing_acr'], 1, JSON.stringify(delta));
  });

  test('the required acr and a recent login pass; another acr or an old login do not', async () => {
    const ok = await pay(await userToken({ acr: 'urn:tollgate:mfa', authTime: now() - 60 }));
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, API_BODY);
    const { delta, result } = await counterDelta(envoy, async () => pay(await userToken({ acr: 'urn:tollgate:pwd', authTime: now() - 60 })));
    assertStepUp(result, LEVEL);
    assert.equal(delta['denied.step_up_acr_not_accepted'], 1, JSON.stringify(delta));
    // 300 s + the provider's 30 s clock skew ago, and more.
    const old = await counterDelta(envoy, async () => pay(await userToken({ acr: 'urn:tollgate:mfa', authTime: now() - 400 })));
    assertStepUp(old.result, RECENT);
    assert.equal(old.delta['denied.step_up_authentication_too_old'], 1, JSON.stringify(old.delta));
    assertStepUp(await pay(await userToken({ acr: 'urn:tollgate:mfa' })), RECENT);
  });

  test('step-up is decided before the scopes: the login first (401), then the scope (403)', async () => {
    assertStepUp(await pay(await userToken({ acr: 'urn:tollgate:pwd', authTime: now(), scope: 'orders:read' })), LEVEL);
    const res = await pay(await userToken({ acr: 'urn:tollgate:mfa', authTime: now(), scope: 'orders:read' }));
    assert.equal(res.status, 403);
    assert.equal(res.json.error, 'insufficient_scope');
  });

  test('over h2c the challenge is the same', async () => {
    const token = await userToken({ acr: 'urn:tollgate:pwd', authTime: now() });
    const res = await h2Request(port, { path: '/payments', headers: { authorization: `Bearer ${token}` } });
    assertStepUp(res, LEVEL);
  });
});
