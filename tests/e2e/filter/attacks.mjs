// Shared by the attacks-*.test.mjs files: one request per case over HTTP/1.1 (raw bytes) or h2c, through the real
// Envoy in front of the echo upstream (which answers with the method, path and headers it received), and the check
// that the case ended exactly as named — refused by tollgate with its status, error and metric reason, refused by
// Envoy itself where the hardened settings do that, or forwarded with the path the upstream must see.
import assert from 'node:assert/strict';
import { rawHttp1, http2Request } from '../lib/raw.mjs';
import { decisionDelta, decisionStats } from './harness.mjs';

/** error_description of the request-level refusals these tests name (fixed texts of the contract). */
export const REQUEST_ERRORS = {
  method_override: 'method overrides are not accepted',
  path_override: 'path overrides are not accepted',
  malformed_authorization: 'the Authorization header is malformed',
  multiple_tokens: 'the request carries its token more than once',
  no_matching_rule: 'no access rule covers this request',
  insufficient_scope: 'the token lacks a scope this resource requires',
  missing_token: 'the request carries no bearer token',
  not_dpop_bound: 'the token is not bound to a DPoP key',
  dpop_wrong_uri: 'the DPoP proof is for another URI',
  dpop_replayed: 'the DPoP proof was used before',
  bad_signature: 'the token signature is invalid',
  invalid_method: 'the request method is not an upper-case HTTP token',
};

/**
 * One request over `proto` ('h1' or 'h2'). `headers` are [name, value] pairs; values are JS strings and go out as
 * UTF-8 on both protocols (node's HTTP/2 client writes latin1, so they are re-encoded for it).
 */
export function sendRaw(proto, port, { method = 'GET', target, headers = [], scheme, authority }) {
  if (proto === 'h1') return rawHttp1(port, { method, target, headers });
  const utf8 = headers.map(([n, v]) => [n, Buffer.from(String(v), 'utf8').toString('latin1')]);
  return http2Request(port, { method, target, headers: utf8, scheme, authority });
}

/** Forwarded by Envoy to the upstream: the echo's answer, or another answer that went through the router (the echo's
 *  HTTP parser refuses what it cannot read, e.g. a lower-case method). */
export const reachedUpstream = (res) => res.json?.upstream === 'echo' || res.headers?.['x-envoy-upstream-service-time'] !== undefined;

/**
 * Check one case's response. `want` is one of
 *   { upstream: '/path?q', method?, headers?: { name: value | undefined }, wouldDeny?: reason }
 *   { status, error, reason?, description?, wwwAuthenticate? }
 * `envoyMayRefuse`: Envoy itself may refuse it first (hardened settings, or its HTTP/1.1 codec): a 400 or a reset
 * that is not tollgate's JSON answer counts as refused too. `delta` is the decision counters the case caused.
 */
export function checkOutcome(label, res, delta, want, { envoyMayRefuse = false } = {}) {
  const short = (text = '') => (text.length > 100 ? `${text.slice(0, 100)}…` : text);
  let seen = `${res.status}${res.reset ? ` (${res.reset})` : ''} ${short(res.body)}`;
  if (reachedUpstream(res)) {
    seen = res.json ? `forwarded as ${res.json.method} ${short(res.json.url)}` : `forwarded (the upstream answered ${res.status})`;
  }
  if (want.upstream !== undefined) {
    assert.ok(reachedUpstream(res), `${label}: must be forwarded as ${want.upstream}, got ${seen}`);
    assert.equal(res.json.url, want.upstream, `${label}: path the upstream received`);
    if (want.method) assert.equal(res.json.method, want.method, `${label}: method the upstream received`);
    for (const [name, value] of Object.entries(want.headers ?? {})) {
      assert.equal(res.json.headers[name], value, `${label}: upstream header ${name}`);
    }
    if (want.wouldDeny) {
      assert.equal(delta[`would_deny.${want.wouldDeny}`], 1, `${label}: counted would_deny.${want.wouldDeny}: ${JSON.stringify(delta)}`);
      assert.equal(delta.denied, undefined, `${label}: nothing denied: ${JSON.stringify(delta)}`);
    }
    return;
  }
  assert.ok(!reachedUpstream(res), `${label}: must be refused with ${want.status} ${want.reason ?? want.error}, got ${seen}`);
  if (envoyMayRefuse && (res.status === 0 || res.status === 400) && res.json?.error === undefined) return;
  assert.equal(res.status, want.status, `${label}: status, got ${seen}`);
  assert.equal(res.json?.error, want.error, `${label}: JSON error, got ${seen}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, `${label}: content-type`);
  assert.equal(res.headers['cache-control'], 'no-store', `${label}: cache-control`);
  const description = want.description ?? (want.reason && REQUEST_ERRORS[want.reason]);
  if (description) assert.equal(res.json.error_description, description, `${label}: error_description`);
  if (want.reason) {
    assert.equal(delta[`denied.${want.reason}`], 1, `${label}: counted denied.${want.reason}: ${JSON.stringify(delta)}`);
    assert.equal(delta.would_deny, undefined, `${label}: enforced, not dry run: ${JSON.stringify(delta)}`);
  }
  if (want.wwwAuthenticate !== undefined) {
    assert.equal(res.headers['www-authenticate'], want.wwwAuthenticate, `${label}: WWW-Authenticate`);
  }
}

/**
 * Run every case of `cases` over `proto` against `tg` (harness.startTollgate) and collect the failures, so one run
 * shows every case that breaks. A case: { name, method?, target, headers?: [[n, v]], want, wantHardened?,
 * envoyMayRefuse?: 'hardened' | 'h1' | 'always' }.
 */
export async function runCases(tg, proto, cases, { hardened = false } = {}) {
  const failures = [];
  // One stats read per case: what a case changed is the difference with the read after the case before.
  let before = await decisionStats(tg.envoy);
  for (const c of cases) {
    const want = (hardened && c.wantHardened) || c.want;
    const res = await sendRaw(proto, tg.port, c);
    const after = await decisionStats(tg.envoy);
    const delta = decisionDelta(before, after);
    before = after;
    const envoyMayRefuse = c.envoyMayRefuse === 'always'
      || (c.envoyMayRefuse === 'hardened' && hardened)
      || (c.envoyMayRefuse === proto);
    try {
      checkOutcome(`${proto}${hardened ? ' hardened' : ''} ${c.name}`, res, delta, want, { envoyMayRefuse });
    } catch (err) {
      failures.push(err.message);
    }
  }
  return failures;
}
