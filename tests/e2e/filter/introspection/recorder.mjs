// A recorder in front of the authorization server: Envoy's cluster for the introspection endpoint points here, and
// every request is passed on to the server unchanged and remembered with its answer. The tests count introspection
// calls here, where the server sees them (not by the filter's own metrics), read exactly what the filter sent
// (method, headers, form body), and make the server misbehave as seen from Envoy: slow (`delayMs` before passing
// the request on), broken (`fault`: an answer of its own), or gone (`stop()`: the port refuses connections until
// `start()`). Recorded requests hold tokens: they stay in memory and are never printed.
import http from 'node:http';
import { LOOPBACK } from '../../lib/net.mjs';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/**
 * Start a recorder on a free loopback port passing requests on to 127.0.0.1:`targetPort`. Resolves
 *   { port, seen, calls(path), since(index, path), delayMs, fault, stop(), start(), close() }
 * `seen` entries: { time, method, url, headers, body, status, answer: { headers, body } } (answer after it came).
 */
export async function startRecorder(targetPort, { name = 'recorder' } = {}) {
  const seen = [];
  const sockets = new Set();
  const handle = {
    name,
    port: 0,
    seen,
    /** Milliseconds to hold every request before passing it on (a slow server). */
    delayMs: 0,
    /** When set, `{ status, body, contentType }` is answered instead of passing the request on. */
    fault: undefined,
    /** Requests to `path` so far (default: the introspection endpoint). */
    calls(path = '/token/introspection') {
      return seen.filter((r) => r.url === path).length;
    },
    /** Requests to `path` recorded after the first `index` ones (`index` = an earlier `seen.length`). */
    since(index, path = '/token/introspection') {
      return seen.slice(index).filter((r) => r.url === path);
    },
    /** Refuse connections (the port is closed) until start(). Open connections are cut. */
    stop: () => close(),
    /** Listen again on the same port. */
    start: () => listen(handle.port),
    close: () => close(),
  };
  let server;

  function pass(req, res, record, body) {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([n]) => !HOP_BY_HOP.has(n)));
    const upstream = http.request({ host: LOOPBACK, port: targetPort, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      const chunks = [];
      answer.on('data', (c) => chunks.push(c));
      answer.on('end', () => {
        const text = Buffer.concat(chunks);
        const out = Object.fromEntries(Object.entries(answer.headers).filter(([n]) => !HOP_BY_HOP.has(n) && n !== 'content-length'));
        record.status = answer.statusCode;
        record.answer = { headers: answer.headers, body: text.toString('utf8') };
        res.writeHead(answer.statusCode, { ...out, 'content-length': text.length });
        res.end(text);
      });
    });
    upstream.on('error', (err) => {
      record.status = 502;
      record.answer = { headers: {}, body: `recorder: ${err.code ?? err.message}` };
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(record.answer.body);
    });
    upstream.end(body);
  }

  function onRequest(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const record = { time: Date.now(), method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') };
      seen.push(record);
      if (handle.delayMs > 0) await new Promise((r) => setTimeout(r, handle.delayMs));
      if (res.destroyed) return;
      const fault = handle.fault;
      if (fault) {
        record.status = fault.status ?? 200;
        record.answer = { headers: {}, body: fault.body ?? '' };
        res.writeHead(record.status, { 'content-type': fault.contentType ?? 'application/json', 'content-length': Buffer.byteLength(record.answer.body) });
        res.end(record.answer.body);
        return;
      }
      pass(req, res, record, body);
    });
  }

  function listen(port) {
    server = http.createServer(onRequest);
    server.keepAliveTimeout = 1000;
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK, () => {
        handle.port = server.address().port;
        resolve(handle);
      });
    });
  }

  function close() {
    const current = server;
    server = undefined;
    if (!current) return Promise.resolve();
    return new Promise((resolve) => {
      current.close(() => resolve());
      current.closeAllConnections?.();
      for (const socket of sockets) socket.destroy();
    });
  }

  return listen(0);
}
