// The token-endpoint gate treats the token request's body as hostile, end to end through the real Envoy, over
// HTTP/1.1 and h2c: the body is gathered whole before the decision (a chunked HTTP/1.1 body and several HTTP/2 DATA
// frames, split inside the very parameter that decides), decoded as an authorization server decodes a form
// (percent-decoding, `+` as a space), and every request-shape rule (one grant_type, one client_id, neither in the
// query, form content type only, no Content-Encoding, a size bound) is checked before the attestation: a malformed
// request gets 400 invalid_request whether or not it carries one. The filter stands alone here (no buffer filter
// after it, unlike the deployment in front of a server, see stack.mjs): its own guarantee is that no byte of a
// refused request's body goes upstream; the headers of a gated request may already have gone on before the decision,
// and that stream is then reset. The upstream records every request as its headers arrive, the body bytes it got and
// whether it completed; a forwarded body must arrive byte for byte.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { keepLogOnFailure } from '../../lib/envoy.mjs';
import { HEADERS, attestationPop, instanceKeyPair, startTestAttester } from '../../lib/attestation.mjs';
import { FORM, PROTOCOLS, assertTokenRefusal, send } from './client.mjs';
import { attestationConfig, startGate } from './stack.mjs';
import { decisionDelta, decisionStats } from '../harness.mjs';
import { AUDIENCE as API_AUDIENCE, IDSVR_JWKS, ISSUER } from '../../fixtures/tokens.mjs';

const AUDIENCE = 'https://login.tollgate.test';
const CLIENT_ID = 'tollgate-app';
const MAX_BODY = 1024;
const DEFAULT_MAX_BODY = 16384;

let upstream;
let attester;
let gate;

/**
 * The upstream: records each request when its headers arrive ({ id: x-test-id, bodyBytes, completed }) and answers a
 * completed one like lib/upstream.mjs's echo (method, url, headers and body as JSON).
 */
function startRecorder() {
  const records = [];
  const server = http.createServer((req, res) => {
    const record = { id: req.headers['x-test-id'], bodyBytes: 0, completed: false };
    records.push(record);
    const chunks = [];
    req.on('data', (c) => {
      chunks.push(c);
      record.bodyBytes += c.length;
    });
    req.on('end', () => {
      record.completed = true;
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      recordsOf: (id) => records.filter((r) => r.id === id),
      close: () => new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    }));
  });
}

before(async () => {
  upstream = await startRecorder();
  try {
    attester = await startTestAttester();
    gate = await startGate({
      // no rule here takes tokens; the configuration needs a provider all the same
      providers: [{ name: 'idsvr', issuer: ISSUER, audiences: [API_AUDIENCE], jwks: { inline: IDSVR_JWKS } }],
      client_attestation: attestationConfig(attester),
      rules: [
        {
          match: { path: '/token', methods: ['POST'] },
          anonymous: true,
          client_attestation: { audience: AUDIENCE, grant_types: ['refresh_token'], max_body_bytes: MAX_BODY },
        },
        {
          match: { path: '/token-default-bound', methods: ['POST'] },
          anonymous: true,
          client_attestation: { audience: AUDIENCE, grant_types: ['refresh_token'] },
        },
        { match: { prefix: '/' }, anonymous: true },
      ],
    }, { upstreamPort: upstream.port, name: 'attestation-bodies', buffer: false });
  } catch (err) {
    await upstream.close();
    throw err;
  }
});

after(async () => {
  await gate?.stop();
  await upstream?.close();
});

const wrap = (fn) => keepLogOnFailure(() => gate, fn);

/** Attestation + fresh PoP headers for `clientId` (a new instance key each time). */
async function attested(clientId = CLIENT_ID) {
  const instance = await instanceKeyPair();
  return {
    [HEADERS.attestation]: await attester.issue({ clientId, instanceKey: instance }),
    [HEADERS.pop]: await attestationPop(instance, { audience: AUDIENCE }),
  };
}

/**
 * POST to the gate (`contentType` null: no Content-Type), tagged so the upstream's record can be found; `reached` =
 * what the upstream recorded.
 */
async function post(protocol, { path = '/token', headers = {}, body, chunks, contentType = FORM }) {
  const id = randomUUID();
  const all = { 'x-test-id': id, ...(contentType === null ? {} : { 'content-type': contentType }), ...headers };
  const res = await send(protocol, gate.port, { path, headers: all, body, chunks });
  res.reached = upstream.recordsOf(id);
  return res;
}

function assertForwarded(res, body) {
  assert.equal(res.status, 200, `forwarded to the upstream: ${res.body}`);
  assert.deepEqual(res.reached.map((r) => r.completed), [true], 'the upstream received the whole request once');
  assert.equal(res.json.body, body, 'the body reached the upstream byte for byte');
  // forward_attestation is false by default: the attestation headers stop at the gate
  assert.equal(res.json.headers[HEADERS.attestation], undefined, 'no attestation upstream');
  assert.equal(res.json.headers[HEADERS.pop], undefined, 'no PoP upstream');
}

function assertRefused(res, expected) {
  assertTokenRefusal(res, expected);
  for (const r of res.reached) {
    assert.deepEqual({ bodyBytes: r.bodyBytes, completed: r.completed }, { bodyBytes: 0, completed: false }, 'no byte of a refused body reaches the upstream');
  }
}

const INVALID_REQUEST = { status: 400, error: 'invalid_request' };
const INVALID_CLIENT = { status: 401, error: 'invalid_client' };
const REFRESH = `grant_type=refresh_token&client_id=${CLIENT_ID}&refresh_token=TEST-ONLY-refresh-token`;

for (const protocol of PROTOCOLS) {
  const pieces = protocol === 'h2c' ? 'several DATA frames' : 'a chunked body';

  describe(`token request bodies over ${protocol}`, () => {
    it(`${pieces} split inside grant_type: without attestation refused, with it forwarded whole`, wrap(async () => {
      const chunks = ['grant_type=refre', 'sh_tok', `en&client_id=${CLIENT_ID}`, '&refresh_token=TEST-ONLY-refresh-token'];
      assertRefused(await post(protocol, { chunks }), INVALID_CLIENT);
      assertForwarded(await post(protocol, { chunks, headers: await attested() }), chunks.join(''));
    }));

    it(`${pieces} with a second grant_type in the last piece: 400 invalid_request`, wrap(async () => {
      const chunks = ['grant_type=authorization_code&code=TEST-ONLY-code', '&client_id=tollgate-app', '&grant_type=refresh_token'];
      assertRefused(await post(protocol, { chunks, headers: await attested() }), INVALID_REQUEST);
    }));

    it('grant_type=refresh%5Ftoken (and %5f) is a refresh grant', wrap(async () => {
      for (const spelling of ['refresh%5Ftoken', 'refresh%5ftoken', '%72efresh_token']) {
        const body = `grant_type=${spelling}&client_id=${CLIENT_ID}&refresh_token=TEST-ONLY-refresh-token`;
        assertRefused(await post(protocol, { body }), INVALID_CLIENT);
        assertForwarded(await post(protocol, { body, headers: await attested() }), body);
      }
    }));

    it('+ is a space: client_id=app+one is the attested "app one"; app-one is another client', wrap(async () => {
      for (const spelling of ['app+one', 'app%20one']) {
        const body = `grant_type=refresh_token&client_id=${spelling}&refresh_token=TEST-ONLY-refresh-token`;
        assertForwarded(await post(protocol, { body, headers: await attested('app one') }), body);
      }
      const body = 'grant_type=refresh_token&client_id=app-one&refresh_token=TEST-ONLY-refresh-token';
      assertRefused(await post(protocol, { body, headers: await attested('app one') }), INVALID_CLIENT);
    }));

    it('grant_type=refresh+token is not refresh_token (an authorization server reads "refresh token"): passed untouched', wrap(async () => {
      const body = `grant_type=refresh+token&client_id=${CLIENT_ID}&refresh_token=TEST-ONLY-refresh-token`;
      assertForwarded(await post(protocol, { body }), body);
    }));

    it('another grant passes untouched, byte for byte, without attestation', wrap(async () => {
      const body = 'grant_type=authorization_code&code=TEST-ONLY-c%2Bo+d%25e&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&client_id=tollgate-app&code_verifier=v';
      assertForwarded(await post(protocol, { body }), body);
      assertForwarded(await post(protocol, { body, contentType: `${FORM}; charset=UTF-8` }), body);
    }));

    it(`a large body on a route without a gate passes untouched, in ${pieces} too`, wrap(async () => {
      const body = `grant_type=refresh_token&data=${'x'.repeat(4 * DEFAULT_MAX_BODY)}`;
      assertForwarded(await post(protocol, { path: '/upload', body }), body);
      const chunks = [body.slice(0, 100), body.slice(100, 40_000), body.slice(40_000)];
      assertForwarded(await post(protocol, { path: '/upload', chunks, contentType: 'application/octet-stream' }), body);
    }));

    it('a form with a charset parameter is a form', wrap(async () => {
      assertForwarded(await post(protocol, { body: REFRESH, contentType: `${FORM}; charset=UTF-8`, headers: await attested() }), REFRESH);
    }));

    describe('400 invalid_request, with or without attestation, never forwarded', () => {
      const cases = [
        ['a repeated grant_type', { body: `${REFRESH}&grant_type=refresh_token` }, 'token_request_repeated_parameter'],
        ['grant_type authorization_code and refresh_token', { body: `grant_type=authorization_code&${REFRESH}` }, 'token_request_repeated_parameter'],
        ['a repeated client_id', { body: `${REFRESH}&client_id=${CLIENT_ID}` }, 'token_request_repeated_parameter'],
        ['grant_type in the query string', { path: '/token?grant_type=refresh_token', body: `client_id=${CLIENT_ID}&refresh_token=TEST-ONLY-refresh-token` }, 'token_request_parameter_in_query'],
        ['grant_type in the query and the body', { path: '/token?grant_type=authorization_code', body: REFRESH }, 'token_request_parameter_in_query'],
        ['client_id in the query string', { path: `/token?client_id=${CLIENT_ID}`, body: REFRESH }, 'token_request_parameter_in_query'],
        ['a JSON body', { contentType: 'application/json', body: JSON.stringify({ grant_type: 'refresh_token', client_id: CLIENT_ID }) }, 'token_request_content_type'],
        ['a text/plain body', { contentType: 'text/plain', body: REFRESH }, 'token_request_content_type'],
        ['a multipart body', { contentType: 'multipart/form-data; boundary=x', body: `--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nrefresh_token\r\n--x--\r\n` }, 'token_request_content_type'],
        ['no content type', { contentType: null, body: REFRESH }, 'token_request_content_type'],
        ['a Content-Encoding', { headers: { 'content-encoding': 'gzip' }, body: REFRESH }, 'token_request_content_encoding'],
        ['a raw ; (older parsers split there)', { body: `grant_type=authorization_code;grant_type=refresh_token&client_id=${CLIENT_ID}` }, 'token_request_malformed'],
        ['a value that is not UTF-8 once decoded', { body: `${REFRESH}&scope=%FF` }, 'token_request_malformed'],
        ['GRANT_TYPE beside grant_type', { body: `${REFRESH}&GRANT_TYPE=authorization_code` }, 'token_request_ambiguous_name'],
        ['grant_type[]', { body: `grant_type[]=refresh_token&client_id=${CLIENT_ID}` }, 'token_request_ambiguous_name'],
        ['no grant_type', { body: `client_id=${CLIENT_ID}&refresh_token=TEST-ONLY-refresh-token` }, 'token_request_missing_grant_type'],
      ];
      for (const [name, request, reason] of cases) {
        it(`${name} (${reason})`, wrap(async () => {
          const before = await decisionStats(gate);
          assertRefused(await post(protocol, request), INVALID_REQUEST);
          assertRefused(await post(protocol, { ...request, headers: { ...request.headers, ...(await attested()) } }), INVALID_REQUEST);
          const delta = decisionDelta(before, await decisionStats(gate));
          assert.equal(delta[`denied.${reason}`], 2, JSON.stringify(delta));
        }));
      }
    });

    it(`a body over max_body_bytes: 413, in one piece or in ${pieces}`, wrap(async () => {
      const body = `${REFRESH}&padding=${'a'.repeat(MAX_BODY)}`;
      assertRefused(await post(protocol, { body, headers: await attested() }), { status: 413, error: 'invalid_request' });
      assertRefused(await post(protocol, { body }), { status: 413, error: 'invalid_request' });
      const chunks = [REFRESH, `&padding=${'a'.repeat(MAX_BODY / 2)}`, 'a'.repeat(MAX_BODY / 2)];
      assertRefused(await post(protocol, { chunks, headers: await attested() }), { status: 413, error: 'invalid_request' });
      // at the bound exactly it is read and judged
      const fits = `${REFRESH}&padding=`;
      const exact = fits + 'a'.repeat(MAX_BODY - fits.length);
      assertForwarded(await post(protocol, { body: exact, headers: await attested() }), exact);
    }));

    it(`the default bound is ${DEFAULT_MAX_BODY} bytes`, wrap(async () => {
      const fits = `${REFRESH}&padding=`;
      const exact = fits + 'a'.repeat(DEFAULT_MAX_BODY - fits.length);
      assertForwarded(await post(protocol, { path: '/token-default-bound', body: exact, headers: await attested() }), exact);
      assertRefused(await post(protocol, { path: '/token-default-bound', chunks: [exact, 'a'], headers: await attested() }), { status: 413, error: 'invalid_request' });
    }));
  });
}
