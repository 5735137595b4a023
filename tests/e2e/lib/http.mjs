// Raw HTTP/1.1 client (node:http, no connection reuse) so tests control every request header exactly,
// including duplicated ones, and see every response header.
import http from 'node:http';
import { LOOPBACK } from './net.mjs';

/** The body as JSON, or undefined when it is empty or not JSON. */
export function parseJson(text) {
  try {
    return text.length ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Send one request. `headers` is an object; an array value sends the header once per element.
 * Resolves { status, headers, rawHeaders, body, json } (json is undefined when the body is not JSON).
 */
export function request(port, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: LOOPBACK, port, method, path, agent: false, setHost: true }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: text, json: parseJson(text) });
      });
      res.on('error', reject);
    });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request ${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** GET http://127.0.0.1:port/path and return the body text; throws on a non-2xx status. */
export async function getText(port, path) {
  const res = await request(port, { path });
  if (res.status < 200 || res.status > 299) throw new Error(`GET ${path}: ${res.status} ${res.body}`);
  return res.body;
}
