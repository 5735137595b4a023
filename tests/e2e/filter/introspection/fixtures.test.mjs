// The introspection tests' fixtures answer as the tests assume, checked without Envoy: the real oidc-provider
// issues opaque tokens and introspects them (RFC 7662 JSON, RFC 9701 JWT with aud = the gateway, cnf.jkt and
// token_type DPoP for a DPoP-bound token, active: false once revoked, only for the gateway client); the phantom
// stand-in answers `application/jwt` with a JWT access token that verifies with its published key and 204 otherwise;
// the recorder passes requests on, counts them, and plays a slow, broken or stopped server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { clientCredentials } from '../../authz/flow.mjs';
import { dpopKeyPair, thumbprint } from '../../lib/dpop.mjs';
import {
  GATEWAY_CLIENT, OTHER_RESOURCE, RESOURCE, SERVICE_CLIENT, basicAuthorization, decodeBasic, startOpaqueTokenServer,
} from './authz.mjs';
import { startRecorder } from './recorder.mjs';
import { STANDIN_PATH, startPhantomStandIn } from './standin.mjs';

let as;
before(async () => {
  as = await startOpaqueTokenServer();
});
after(async () => {
  await as?.close();
});

async function opaque(opts = {}) {
  const res = await clientCredentials(as, { scope: 'orders:read', ...opts });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.body.access_token, /^[A-Za-z0-9_-]{43}$/, 'an opaque reference token');
  return res.body;
}

describe('oidc-provider with opaque access tokens', () => {
  test('RFC 7662 answer of an active token: iss, aud (the resource), exp, scope, client_id, Cache-Control no-store', async () => {
    const { access_token: t } = await opaque();
    const res = await as.introspect(t);
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^application\/json\b/);
    const answer = JSON.parse(res.body);
    assert.equal(answer.active, true);
    assert.equal(answer.iss, as.issuer);
    assert.equal(answer.aud, RESOURCE);
    assert.equal(answer.client_id, SERVICE_CLIENT.clientId);
    assert.equal(answer.scope, 'orders:read');
    assert.equal(answer.token_type, 'Bearer');
    assert.ok(answer.exp > Date.now() / 1000);
  });

  test('RFC 9701 answer: a JWT typ token-introspection+jwt, aud = the gateway client, signed with a published key', async () => {
    const { access_token: t } = await opaque();
    const res = await as.introspect(t, { accept: 'application/token-introspection+jwt' });
    assert.match(res.contentType, /^application\/token-introspection\+jwt\b/);
    const jwks = createLocalJWKSet(await (await fetch(as.jwksUrl)).json());
    const { payload } = await jwtVerify(res.body, jwks, { issuer: as.issuer, audience: GATEWAY_CLIENT.clientId, typ: 'token-introspection+jwt' });
    assert.equal(payload.token_introspection.active, true);
    assert.equal(payload.token_introspection.aud, RESOURCE);
  });

  test('a DPoP-bound token: token_type DPoP and cnf.jkt = the proof key\'s thumbprint', async () => {
    const key = await dpopKeyPair();
    const { access_token: t, token_type: type } = await opaque({ dpop: key });
    assert.equal(type, 'DPoP');
    const answer = JSON.parse((await as.introspect(t)).body);
    assert.equal(answer.token_type, 'DPoP');
    assert.deepEqual(answer.cnf, { jkt: await thumbprint(key) });
  });

  test('another resource, revocation, an unknown token; only the gateway may introspect', async () => {
    const other = await opaque({ resource: OTHER_RESOURCE });
    assert.equal(JSON.parse((await as.introspect(other.access_token)).body).aud, OTHER_RESOURCE);
    const { access_token: t } = await opaque();
    await as.revoke(t);
    assert.equal((await as.introspect(t)).body, '{"active":false}');
    assert.equal((await as.introspect('not-a-token-anyone-issued')).body, '{"active":false}');
    const { access_token: live } = await opaque();
    const asService = await fetch(as.introspectionUrl, {
      method: 'POST',
      headers: { authorization: basicAuthorization(SERVICE_CLIENT), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: live }),
    });
    assert.equal(await asService.text(), '{"active":false}');
  });

  test('the gateway secret is form-encoded in Basic; both spellings of a space are read back', () => {
    const decoded = decodeBasic(basicAuthorization(GATEWAY_CLIENT));
    assert.equal(decoded.clientSecret, GATEWAY_CLIENT.clientSecret);
    assert.doesNotMatch(decoded.rawSecret, /[: /]/);
    const percent = `Basic ${Buffer.from(`${GATEWAY_CLIENT.clientId}:${encodeURIComponent(GATEWAY_CLIENT.clientSecret)}`).toString('base64')}`;
    assert.equal(decodeBasic(percent).clientSecret, GATEWAY_CLIENT.clientSecret);
  });
});

describe('the phantom stand-in (Curity-like application/jwt introspection)', () => {
  let standin;
  before(async () => {
    standin = await startPhantomStandIn();
  });
  after(async () => {
    await standin?.close();
  });

  const ask = (token, { accept = 'application/jwt', authorization = basicAuthorization(GATEWAY_CLIENT) } = {}) => fetch(`http://127.0.0.1:${standin.port}${STANDIN_PATH}`, {
    method: 'POST',
    headers: { accept, authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });

  test('an active token: 200 application/jwt, a JWT access token that verifies with the published key', async () => {
    const t = standin.issue({ sub: 'u', client_id: 'app', scope: 'orders:read' });
    const res = await ask(t);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/jwt');
    const { payload, protectedHeader } = await jwtVerify(await res.text(), createLocalJWKSet(standin.jwks), {
      issuer: standin.issuer, audience: standin.audience, typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.sub, 'u');
    const published = await (await fetch(`http://127.0.0.1:${standin.port}${new URL(standin.jwksUrl).pathname}`)).json();
    assert.deepEqual(published, standin.jwks, 'it publishes the key it signs with');
  });

  test('revoked or unknown: 204; wrong credentials 401; without Accept application/jwt 406', async () => {
    const t = standin.issue({ sub: 'u' });
    standin.revoke(t);
    assert.equal((await ask(t)).status, 204);
    assert.equal((await ask('unknown')).status, 204);
    const live = standin.issue({ sub: 'u' });
    assert.equal((await ask(live, { authorization: basicAuthorization({ clientId: GATEWAY_CLIENT.clientId, clientSecret: 'wrong' }) })).status, 401);
    assert.equal((await ask(live, { accept: 'application/json' })).status, 406);
  });
});

describe('the recorder in front of the server', () => {
  let recorder;
  before(async () => {
    recorder = await startRecorder(as.port);
  });
  after(async () => {
    await recorder?.close();
  });
  const viaRecorder = (token) => fetch(`http://127.0.0.1:${recorder.port}/token/introspection`, {
    method: 'POST',
    headers: { authorization: basicAuthorization(GATEWAY_CLIENT), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });

  test('passes requests on and records them with the answer', async () => {
    const { access_token: t } = await opaque();
    const res = await viaRecorder(t);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(await res.text()).active, true);
    assert.equal(recorder.calls(), 1);
    assert.equal(recorder.seen[0].answer.headers['cache-control'], 'no-store');
  });

  test('a fault, a delay, a stop', async () => {
    recorder.fault = { status: 500, body: 'x' };
    assert.equal((await viaRecorder('t')).status, 500);
    recorder.fault = undefined;
    recorder.delayMs = 300;
    const started = Date.now();
    await viaRecorder('t');
    assert.ok(Date.now() - started >= 290);
    recorder.delayMs = 0;
    await recorder.stop();
    await assert.rejects(viaRecorder('t'));
    await recorder.start();
    assert.equal((await viaRecorder('t')).status, 200);
    assert.equal(recorder.calls(), 4, 'the refused request never reached it');
  });
});
