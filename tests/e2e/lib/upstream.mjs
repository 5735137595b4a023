// The real upstream for end-to-end tests: a Node HTTP server on loopback that answers every request with the
// request line and headers it received, as JSON, and remembers every request so tests can check what reached it.
import http from 'node:http';
import { LOOPBACK } from './net.mjs';

/**
 * Start the echo upstream on `port` (0 = any free port).
 * Returns { port, seen: [{method, url, headers}], sawHeader(name, value), close() }.
 */
export function startEchoUpstream({ port = 0, name = 'echo' } = {}) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = { method: req.method, url: req.url, headers: req.headers };
      seen.push(record);
      const body = JSON.stringify({ upstream: name, ...record, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => {
      resolve({
        port: server.address().port,
        seen,
        /** Requests the upstream received whose header `name` had `value`. */
        requestsWith(headerName, value) {
          return seen.filter((r) => r.headers[headerName.toLowerCase()] === value);
        },
        close() {
          return new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          });
        },
      });
    });
  });
}
