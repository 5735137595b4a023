// The client side of the client-attestation end-to-end tests: token requests and API calls with a body, over
// HTTP/1.1 (one body with Content-Length, or a chunked body written in pieces) and over h2c (the body in one DATA
// frame or in several), plus the answers README "Client attestation" documents, as assertions.
// lib/http.mjs and lib/h2.mjs send a body in one piece or none; the gate must gather a body that arrives in
// pieces, so this file writes the pieces itself, each after a pause, so that Envoy hands them to the filter in
// separate callbacks.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { generateProof } from 'dpop';
import { LOOPBACK } from '../../lib/net.mjs';
import { parseJson } from '../../lib/http.mjs';

export const PROTOCOLS = ['http1', 'h2c'];
export const FORM = 'application/x-www-form-urlencoded';
const PAUSE_MS = 40;
const pause = (ms) => new Promise((r) => { setTimeout(r, ms); });

/**
 * Send one request to 127.0.0.1:`port` over `protocol` ('http1' | 'h2c'). `body` is a string sent in one piece;
 * `chunks` (a list of strings) sends the body in pieces, each after a pause (HTTP/1.1: chunked transfer coding, no
 * Content-Length; h2c: one DATA frame each). `headers`: an object, an array value sends the field once per element.
 * Resolves { status, headers, body, json }.
 */
export function send(protocol, port, { method = 'POST', path = '/', headers = {}, body, chunks, timeoutMs = 15_000 } = {}) {
  return protocol === 'h2c'
    ? sendH2(port, { method, path, headers, body, chunks, timeoutMs })
    : sendHttp1(port, { method, path, headers, body, chunks, timeoutMs });
}

function sendHttp1(port, { method, path, headers, body, chunks, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method, path, agent: false }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: parseJson(text) });
      });
      res.on('error', reject);
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (chunks === undefined) {
      req.end(body);
      return;
    }
    req.setHeader('transfer-encoding', 'chunked');
    (async () => {
      req.flushHeaders();
      for (const piece of chunks) {
        await pause(PAUSE_MS);
        req.write(piece);
      }
      await pause(PAUSE_MS);
      req.end();
    })().catch(reject);
  });
}

function sendH2(port, { method, path, headers, body, chunks, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://${LOOPBACK}:${port}`);
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`h2c ${method} ${path} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (value, err) => {
      clearTimeout(timer);
      client.close();
      if (err) reject(err);
      else resolve(value);
    };
    client.on('error', (err) => finish(undefined, err));
    const stream = client.request({ ':method': method, ':path': path, ...headers }, { endStream: false });
    let head = {};
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { head = h; });
    stream.on('data', (d) => { text += d; });
    stream.on('end', () => finish({
      status: Number(head[':status']), headers: head, body: text, json: parseJson(text),
    }));
    stream.on('error', (err) => finish(undefined, err));
    (async () => {
      if (chunks === undefined) {
        stream.end(body ?? '');
        return;
      }
      for (const piece of chunks) {
        await pause(PAUSE_MS);
        stream.write(piece);
      }
      await pause(PAUSE_MS);
      stream.end();
    })().catch((err) => finish(undefined, err));
  });
}

/** A form body from pairs (URLSearchParams: percent-encoding, space as `+`), in the given order. */
export function form(pairs) {
  return new URLSearchParams(Object.entries(pairs)).toString();
}

/**
 * A valid DPoP proof by the `dpop` package for `htm` + `htu`, with `nonce` (the attestation challenge in combined
 * mode, or a server's DPoP nonce) and `ath` of `accessToken` when given.
 */
export function dpopProof(keyPair, { htm = 'POST', htu, nonce, accessToken } = {}) {
  return generateProof(keyPair, htu, htm, nonce, accessToken);
}

/**
 * The token endpoint's refusal (contract): exact status and error, RFC 6749 §5.2 JSON with a description,
 * `Cache-Control: no-store`, `Content-Type: application/json`; for use_attestation_challenge a fresh challenge in
 * `OAuth-Client-Attestation-Challenge` (returned).
 */
export function assertTokenRefusal(res, { status, error }) {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'content-type');
  assert.equal(res.headers['cache-control'], 'no-store', 'cache-control');
  assert.equal(res.json?.error, error, `error (body: ${res.body})`);
  assert.equal(typeof res.json.error_description, 'string', 'error_description');
  const challenge = res.headers['oauth-client-attestation-challenge'];
  if (error === 'use_attestation_challenge') {
    assert.match(challenge ?? '', /^[A-Za-z0-9_-]{16,}$/, 'a fresh challenge rides on use_attestation_challenge');
  }
  return challenge;
}

/**
 * The API rule's refusal (contract): 401, `WWW-Authenticate: <scheme> realm="<realm>", error="<error>",
 * error_description="…"` (further attributes such as the DPoP scheme's `algs` may follow), the same error in the JSON
 * body, and a fresh challenge header with use_attestation_challenge.
 */
export function assertApiRefusal(res, { scheme, realm, error }) {
  assert.equal(res.status, 401, `status (body: ${res.body})`);
  const www = res.headers['www-authenticate'] ?? '';
  assert.match(www, new RegExp(`^${scheme} realm="${realm}", error="${error}", error_description="[^"]+"`), 'WWW-Authenticate');
  assert.equal(res.json?.error, error, `JSON error (body: ${res.body})`);
  if (error === 'use_attestation_challenge') {
    assert.match(res.headers['oauth-client-attestation-challenge'] ?? '', /^[A-Za-z0-9_-]{16,}$/, 'challenge header');
  }
}
