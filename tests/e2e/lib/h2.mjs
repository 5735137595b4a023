// The HTTP/2 client of the end-to-end tests: one stream on its own connection, over h2c (prior knowledge, as gRPC
// and many mobile stacks speak it to a sidecar) or over TLS (ALPN h2, optionally presenting a client certificate).
//   h2Request(port, { method, path, headers, tls: { ca, cert, key, servername }, timeoutMs })
//     -> { status, headers, body, json, tls }   (tls = { protocol, alpnProtocol } of a TLS connection)
// A refused connection or handshake and a reset stream resolve { status: 0, reset: <code or message>, headers: {},
// body: '' } instead of throwing, so tests can assert them; only a timeout rejects. lib/raw.mjs (`http2Request`,
// exact bytes) and lib/tls.mjs (`tlsH2Request`) call this one.
import http2 from 'node:http2';
import { LOOPBACK } from './net.mjs';
import { parseJson } from './http.mjs';

/**
 * One request on a new connection. `headers` is an object (an array value sends the field once per element) or a
 * list of [name, value] pairs (a name given twice is sent twice). Names, values and `:method` go out as given;
 * `:scheme` and `:authority` default to the connection's, and a pseudo-header in `headers` replaces its default.
 * Without `tls` the connection is h2c; with it, TLS checked against `tls.ca` for the name `tls.servername`
 * (default localhost), presenting `tls.cert` / `tls.key` when given.
 */
export function h2Request(port, { method = 'GET', path = '/', headers = {}, tls, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const authority = `${LOOPBACK}:${port}`;
    const client = tls
      ? http2.connect(`https://${authority}`, {
        ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername ?? 'localhost', ALPNProtocols: ['h2'],
      })
      : http2.connect(`http://${authority}`);
    let settled = false;
    const done = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      resolve(value);
    };
    const timer = setTimeout(() => {
      client.destroy();
      if (settled) return;
      settled = true;
      reject(new Error(`h2${tls ? ' over TLS' : 'c'} ${method} ${path} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const refused = (err) => done({ status: 0, reset: err.code ?? err.message, headers: {}, body: '' });
    client.on('error', refused);
    const out = { ':method': method, ':path': path, ':scheme': tls ? 'https' : 'http', ':authority': authority };
    const pseudo = new Set(Object.keys(out));
    const pairs = Array.isArray(headers)
      ? headers
      : Object.entries(headers).flatMap(([n, v]) => (Array.isArray(v) ? v.map((x) => [n, x]) : [[n, v]]));
    for (const [n, v] of pairs) {
      if (pseudo.has(n)) {
        out[n] = v;
        pseudo.delete(n);
      } else {
        out[n] = n in out ? [].concat(out[n], v) : v;
      }
    }
    let stream;
    try {
      stream = client.request(out, { endStream: true });
    } catch (err) {
      refused(err);
      return;
    }
    let head = {};
    let body = '';
    stream.on('response', (h) => (head = h));
    stream.on('data', (d) => (body += d));
    stream.on('end', () => done({
      status: Number(head[':status']), headers: head, body, json: parseJson(body),
      ...(tls ? { tls: { protocol: client.socket?.getProtocol?.(), alpnProtocol: client.alpnProtocol } } : {}),
    }));
    stream.on('error', refused);
    stream.on('close', () => {
      if (!head[':status']) done({ status: 0, reset: `stream closed (${stream.rstCode})`, headers: {}, body: '' });
    });
  });
}
