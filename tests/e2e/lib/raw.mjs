// Clients that send exactly the bytes a test names, for requests ordinary clients refuse to make: paths with dot
// segments, `;` parameters and odd escapes, lower-case methods, header names with underscores.
//   rawHttp1(port, { method, target, headers: [[name, value], ...] })   one request per connection, over a TCP socket
//   http2Request(port, { method, target, headers: [[name, value], ...] }) one stream over h2c (prior knowledge)
// Both resolve { status, headers, body, json } and never throw for an HTTP error status; a connection or stream
// reset resolves { status: 0, reset: <reason> } (Envoy answers some malformed requests that way).
import net from 'node:net';
import { LOOPBACK } from './net.mjs';
import { parseJson } from './http.mjs';
import { h2Request } from './h2.mjs';

/** HTTP/1.1 request written byte for byte; `Connection: close`, the response is read until the server closes. */
export function rawHttp1(port, { method = 'GET', target = '/', headers = [], body = '', timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, LOOPBACK);
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw HTTP/1.1 ${method} ${target} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      // A `host` among `headers` replaces the default one (a request for another virtual host).
      const ownHost = headers.some(([n]) => n.toLowerCase() === 'host');
      const lines = [`${method} ${target} HTTP/1.1`, ...(ownHost ? [] : [`host: 127.0.0.1:${port}`]), 'connection: close'];
      for (const [n, v] of headers) lines.push(`${n}: ${v}`);
      if (body) lines.push(`content-length: ${Buffer.byteLength(body)}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length === 0) resolve({ status: 0, reset: err.code ?? err.message, headers: {}, body: '' });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        resolve({ status: 0, reset: 'closed without a response', headers: {}, body: '' });
        return;
      }
      const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      const headersOut = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        headersOut[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let bodyText = text.slice(end + 4);
      if (/chunked/i.test(headersOut['transfer-encoding'] ?? '')) bodyText = dechunk(bodyText);
      resolve({ status, headers: headersOut, body: bodyText, json: parseJson(bodyText) });
    });
  });
}

function dechunk(text) {
  let out = '';
  let rest = text;
  for (;;) {
    const i = rest.indexOf('\r\n');
    if (i < 0) return out;
    const size = parseInt(rest.slice(0, i), 16);
    if (!size) return out;
    out += rest.slice(i + 2, i + 2 + size);
    rest = rest.slice(i + 2 + size + 2);
  }
}

/**
 * One HTTP/2 stream (h2c with prior knowledge) by lib/h2.mjs. Header names and `:method` go out as given; `scheme`
 * and `authority` set `:scheme` (default `http`) and `:authority` (default `127.0.0.1:<port>`).
 */
export function http2Request(port, { method = 'GET', target = '/', headers = [], scheme, authority, timeoutMs = 10_000 } = {}) {
  const pairs = Array.isArray(headers) ? [...headers] : Object.entries(headers);
  if (scheme !== undefined) pairs.unshift([':scheme', scheme]);
  if (authority !== undefined) pairs.unshift([':authority', authority]);
  return h2Request(port, { method, path: target, headers: pairs, timeoutMs });
}
