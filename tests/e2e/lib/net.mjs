// Loopback ports and bounded waiting.
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A port that was free on loopback a moment ago (bind 0, read, close). Prefer binding 0 directly where possible. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True if `port` can be bound on loopback right now. */
export function isPortFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, LOOPBACK, () => srv.close(() => resolve(true)));
  });
}

/** `preferred` if it is free, else a free one. */
export async function preferredOrFreePort(preferred) {
  return (await isPortFree(preferred)) ? preferred : freePort();
}

/**
 * Poll `probe` (async, returns a truthy value when ready) every `intervalMs` until `timeoutMs`.
 * `abort` (optional, async) returns a string to give up early, e.g. "process exited".
 */
export async function waitFor(what, probe, { timeoutMs = 15_000, intervalMs = 50, abort } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (abort) {
      const reason = await abort();
      if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    }
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}
