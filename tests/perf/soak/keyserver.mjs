// The soak's key server: a JWKS endpoint on loopback that the soak controls, so it can misbehave on cue.
// A real authorization server cannot be told to hang, send garbage or vanish at a given second; this one can,
// and it records exactly when it last served a complete, valid JWKS containing each key (the soak's judge
// needs that to tell a legitimate 401 for a key the filter could not know yet from a wrong one).
//
// Modes: `normal` (200 + the JWKS), `down` (the port is closed: connections are refused), `slow` (the answer
// comes after `slowMs`, past the filter's fetch timeout), `garbage` (a different broken answer each time, see
// GARBAGE). `publish(keys)` replaces the key set (a rotation).
import http from 'node:http';
import { LOOPBACK } from '../../e2e/lib/net.mjs';

/** The broken answers of `garbage` mode, in turn: each must leave the filter on its last good keys. */
export const GARBAGE = [
  { status: 200, type: 'application/json', body: () => '{"keys": [' },
  { status: 200, type: 'text/html', body: () => '<html><body>502 Bad Gateway</body></html>' },
  { status: 200, type: 'application/json', body: () => '{"keys": []}' },
  { status: 200, type: 'application/json', body: () => JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }] }) },
  { status: 500, type: 'application/json', body: () => '{"error": "internal"}' },
  { status: 200, type: 'application/json', body: () => `{"keys": [${'{"kty":"EC"},'.repeat(30_000)}{}]}` },
  { status: 200, type: 'application/octet-stream', body: () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 255)) },
];

/**
 * Start the key server on `port` (0: any). Returns { port, setMode(mode), publish(jwks), servedAt(kid),
 * requests, close() }.
 */
export async function startKeyServer({ port = 0, slowMs = 2500, jwks = { keys: [] } } = {}) {
  let mode = 'normal';
  let current = jwks;
  let garbageTurn = 0;
  /** kid → first time (ms) a complete JWKS with that kid was delivered. */
  const served = new Map();
  const counts = { normal: 0, slow: 0, garbage: 0 };
  const sockets = new Set();

  function answer(req, res) {
    if (mode === 'slow') {
      counts.slow += 1;
      const timer = setTimeout(() => { if (!res.destroyed) res.end(JSON.stringify(current)); }, slowMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (mode === 'garbage') {
      counts.garbage += 1;
      const g = GARBAGE[garbageTurn++ % GARBAGE.length];
      const body = g.body();
      res.writeHead(g.status, { 'content-type': g.type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    counts.normal += 1;
    const keys = current;
    const body = JSON.stringify(keys);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body, () => {
      const now = Date.now();
      for (const k of keys.keys) if (!served.has(k.kid)) served.set(k.kid, now);
    });
  }

  let server;
  function listen(p) {
    server = http.createServer(answer);
    server.keepAliveTimeout = 500;
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, LOOPBACK, () => resolve(server.address().port));
    });
  }
  function shut() {
    if (!server) return Promise.resolve();
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    return new Promise((r) => s.close(() => r()));
  }

  const boundPort = await listen(port);
  return {
    port: boundPort,
    counts,
    get mode() {
      return mode;
    },
    /** Switch mode; `down` closes the port, any other mode opens it again. */
    async setMode(next) {
      if (next === mode) return;
      if (next === 'down') await shut();
      if (mode === 'down') await listen(boundPort);
      mode = next;
    },
    publish(next) {
      current = next;
    },
    /** When a complete JWKS with `kid` was first delivered (ms), or undefined. */
    servedAt(kid) {
      return served.get(kid);
    },
    close: shut,
  };
}
