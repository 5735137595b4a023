// HTTPS clients for the TLS listeners of the end-to-end tests: HTTP/1.1 (node:https, no connection reuse) and
// HTTP/2 (node:http2 over TLS, ALPN h2), each optionally presenting a client certificate. The server is checked
// against the given CA with the name `servername` (default localhost).
//   tlsRequest(port, { method, path, headers, ca, cert, key })    -> { status, headers, body, json, tls }
//   tlsH2Request(port, { method, path, headers, ca, cert, key })  -> { status, headers, body, json, tls }
// A refused handshake or a reset resolves { status: 0, reset: <code or message> } instead of throwing, so tests can
// assert it; tls is { protocol, alpnProtocol } of the connection.
import https from 'node:https';
import { LOOPBACK } from './net.mjs';
import { parseJson } from './http.mjs';
import { h2Request } from './h2.mjs';

/** One HTTP/1.1 request over TLS on its own connection. Array header values send the header once per element. */
export function tlsRequest(port, {
  method = 'GET', path = '/', headers = {}, body, ca, cert, key, servername = 'localhost', timeoutMs = 10_000,
} = {}) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const req = https.request({
      host: LOOPBACK, port, method, path, agent: false, ca, cert, key, servername, ALPNProtocols: ['http/1.1'],
    }, (res) => {
      const chunks = [];
      const tls = { protocol: res.socket.getProtocol?.(), alpnProtocol: res.socket.alpnProtocol };
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        done({ status: res.statusCode, headers: res.headers, body: text, json: parseJson(text), tls });
      });
      res.on('error', (err) => done({ status: 0, reset: err.code ?? err.message, headers: {}, body: '' }));
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      if (!settled) {
        settled = true;
        reject(new Error(`TLS ${method} ${path} timed out after ${timeoutMs} ms`));
      }
    });
    req.on('error', (err) => done({ status: 0, reset: err.code ?? err.message, headers: {}, body: '' }));
    req.end(body);
  });
}

/** One HTTP/2 stream over TLS (ALPN h2) on its own connection, by lib/h2.mjs. Array header values send the field
 *  once each. */
export function tlsH2Request(port, {
  method = 'GET', path = '/', headers = {}, ca, cert, key, servername = 'localhost', timeoutMs = 10_000,
} = {}) {
  return h2Request(port, { method, path, headers, tls: { ca, cert, key, servername }, timeoutMs });
}
