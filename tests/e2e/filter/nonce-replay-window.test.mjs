// How long a captured DPoP proof can be replayed at another replica, measured through the real Envoy. Replay
// stores are per Envoy process, so without server nonces a proof seen by replica W1 is accepted once by replica W2
// for as long as its iat is fresh (the example's dpop.max_age_seconds, 300 s, plus 5 s of clock skew). With nonces
// the window is the nonce's lifetime: here the example runs with "lifetime_seconds": 4 on two replicas sharing the
// secret. Proofs carrying the nonce W1 handed out are captured at W1 (each accepted there), then replayed one at a
// time at W2 every 250 ms: the first replays pass (the window that remains), and every replay is refused once the
// nonce is stale, which must happen no later than the lifetime after the nonce was handed out (plus the slack a
// loaded machine needs). Also: a fresh nonce rides on the 200 of a request whose nonce is near its end.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';

import { keepLogOnFailure } from '../lib/envoy.mjs';
import { request } from '../lib/http.mjs';
import { freePort } from '../lib/net.mjs';
import { dpopKeyPair, proof } from '../lib/dpop.mjs';
import { startAuthServer } from '../authz/server.mjs';
import { NONCE_STALE, serviceToken, startReplica } from './nonce-example.mjs';

const LIFETIME = 4;
/** A loaded machine (load 10+) may deliver a request a while after it was sent: the bound's allowance for that. */
const SLACK_SECONDS = 2;

let as;
let w1;
let w2;
let port;

before(async () => {
  as = await startAuthServer();
  try {
    port = await freePort();
    w1 = await startReplica(as, { port, lifetime: LIFETIME, name: 'example-nonce-w1' });
    w2 = await startReplica(as, { port: await freePort(), originPort: port, lifetime: LIFETIME, name: 'example-nonce-w2' });
  } catch (err) {
    for (const e of [w1, w2]) await e?.stop();
    await as.close();
    throw err;
  }
});

after(async () => {
  for (const e of [w1, w2]) await e?.stop();
  await as?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function send(envoy, token, proofValue) {
  return request(envoy.listenerPort('api'), { path: '/orders', headers: { authorization: `DPoP ${token}`, dpop: proofValue } });
}

it('a proof captured at one replica is refused at another once its nonce is stale', keepLogOnFailure(() => [w1, w2], async (t) => {
  const key = await dpopKeyPair('ES256');
  const token = await serviceToken(as, { key });
  const make = (nonce) => proof(key, { htm: 'GET', htu: `http://127.0.0.1:${port}/orders`, accessToken: token, nonce });
  const first = await send(w1, token, await make());
  assert.equal(first.status, 401);
  const nonce = first.headers['dpop-nonce'];
  const handedOut = Date.now();
  // Capture proofs with that nonce at W1 (each one accepted there, as the client's real requests would be).
  const captured = [];
  for (let i = 0; i < (LIFETIME + SLACK_SECONDS + 2) * 4; i += 1) captured.push(await make(nonce));
  for (const p of captured.slice(0, 4)) assert.equal((await send(w1, token, p)).status, 200);
  let lastAccepted;
  let firstRefused;
  for (const p of captured) {
    const res = await send(w2, token, p);
    const at = (Date.now() - handedOut) / 1000;
    if (res.status === 200) {
      assert.equal(firstRefused, undefined, `a replay passed at ${at} s after one was refused at ${firstRefused} s`);
      lastAccepted = at;
    } else {
      assert.equal(res.status, 401, res.body);
      assert.deepEqual(res.json, { error: 'use_dpop_nonce', error_description: NONCE_STALE });
      firstRefused ??= at;
      break;
    }
    await sleep(250);
  }
  t.diagnostic(`replays at the other replica accepted until ${lastAccepted} s, refused from ${firstRefused} s after the nonce was handed out (lifetime ${LIFETIME} s; without nonces: dpop.max_age_seconds 300 + 5 s skew)`);
  assert.notEqual(lastAccepted, undefined, 'the first replay, right after capture, is within the window');
  assert.notEqual(firstRefused, undefined, 'the replays stopped passing');
  assert.ok(firstRefused <= LIFETIME + SLACK_SECONDS, `refused only ${firstRefused} s after the nonce was handed out`);
}));

it('a fresh nonce rides on the 200 when the nonce is near its end, and is accepted at the other replica', keepLogOnFailure(() => [w1, w2], async () => {
  const key = await dpopKeyPair('ES256');
  const token = await serviceToken(as, { key });
  const make = (nonce) => proof(key, { htm: 'GET', htu: `http://127.0.0.1:${port}/orders`, accessToken: token, nonce });
  // With a 4 s lifetime the steps are 1 s long: a nonce handed out in second s lives until s + 4 and is replaced
  // on responses once less than 2 s are left, from second s + 3.
  let fresh;
  for (let attempt = 0; attempt < 3 && fresh === undefined; attempt += 1) {
    const nonce = (await send(w1, token, await make())).headers['dpop-nonce'];
    const second = Math.floor(Date.now() / 1000);
    await sleep((second + 3) * 1000 + 100 - Date.now());
    const res = await send(w1, token, await make(nonce));
    if (res.status !== 200) continue; // the machine was too slow: the nonce expired on the way; try again
    assert.notEqual(res.headers['dpop-nonce'], undefined, 'a nonce with less than 2 s left is replaced');
    assert.notEqual(res.headers['dpop-nonce'], nonce);
    fresh = res.headers['dpop-nonce'];
  }
  assert.ok(fresh, 'a 200 carried a fresh nonce');
  const atW2 = await send(w2, token, await make(fresh));
  assert.equal(atW2.status, 200, atW2.body);
}));
