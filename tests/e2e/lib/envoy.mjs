// Run the real Envoy: validate a config, or start it on loopback with an admin port chosen by the kernel,
// wait for /ready, read the ports its listeners got, read /stats, and always stop it. `withEnvoy` is the usual way
// in a test (start, run, stop, keep the log on failure); `keepLogOnFailure` is the same failure rule for a test body
// whose Envoy a `before` hook started.
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireEnvoy, REPO } from './paths.mjs';
import { startProcess, stopProcess, runToCompletion } from './proc.mjs';
import { request } from './http.mjs';
import { waitFor } from './net.mjs';
import { sumFamily } from './metrics.mjs';
import { startEchoUpstream } from './upstream.mjs';

/** Replace every `{{NAME}}` in `text` with vars.NAME; throws on a placeholder without a value. */
export function render(text, vars) {
  const out = text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name) => {
    if (!(name in vars)) throw new Error(`render: no value for placeholder {{${name}}}`);
    return String(vars[name]);
  });
  return out;
}

/**
 * The filter counts requests in its VM and adds the counts to Envoy's counters on its timer, once a second (README
 * "Metrics"). A read of the filter's metrics waits this long after the last request Envoy served, so it sees that
 * request's counts (a loaded machine runs Envoy's timers late: the margin is for that). TOLLGATE_FLUSH_WAIT_MS
 * changes it.
 */
export const FILTER_FLUSH_WAIT_MS = Number(process.env.TOLLGATE_FLUSH_WAIT_MS ?? 2000);

/** Does this admin path read the filter's metrics (all stats, the Prometheus page, or a filter naming them)? */
function readsFilterMetrics(pathAndQuery) {
  if (!pathAndQuery.startsWith('/stats')) return false;
  const filter = new URL(pathAndQuery, 'http://admin').searchParams.get('filter');
  return filter === null || /wasmcustom|tollgate/.test(filter);
}

function tempDir(prefix) {
  return mkdtempSync(path.join(os.tmpdir(), `tollgate-${prefix}-`));
}

/**
 * `envoy --mode validate -c <file>`; resolves { ok, output }. `cwd` defaults to the repo root so relative
 * paths in shipped configs (the .wasm) resolve as they do for a user running from a clone.
 */
export async function validateConfig(file, { cwd = REPO, timeoutMs = 60_000 } = {}) {
  const bin = requireEnvoy();
  const { code, output } = await runToCompletion(
    bin,
    ['--mode', 'validate', '-c', file, '--use-dynamic-base-id', '-l', 'info', '--component-log-level', 'wasm:debug'],
    { cwd, timeoutMs },
  );
  return { ok: code === 0, code, output };
}

/** Same as validateConfig, for config text (written to a temp file first). */
export async function validateConfigText(text, opts = {}) {
  const dir = tempDir('validate');
  try {
    const file = path.join(dir, 'envoy.yaml');
    writeFileSync(file, text);
    return await validateConfig(file, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Start Envoy with `config` (YAML/JSON text; `{{ADMIN_PORT}}` is rendered to 0 if present, or pass a
 * config whose admin port is 0). Resolves a handle:
 *   adminPort, listenerPort(name?), stats(), counter(name), log(), stop(), dir, markFailed().
 * Rejects (after stopping Envoy and attaching its log) when Envoy exits or is not ready in time.
 */
export async function startEnvoy(config, {
  name = 'envoy',
  cwd = REPO,
  logLevel = 'info',
  componentLogLevel = 'wasm:debug',
  readyTimeoutMs = 30_000,
  concurrency = 1,
  extraArgs = [],
} = {}) {
  const bin = requireEnvoy();
  const dir = tempDir(name);
  const configFile = path.join(dir, 'envoy.yaml');
  const adminFile = path.join(dir, 'admin-address.txt');
  const logFile = path.join(dir, 'envoy.log');
  writeFileSync(configFile, config);
  const args = [
    '-c', configFile,
    '--concurrency', String(concurrency),
    '--use-dynamic-base-id',
    '--admin-address-path', adminFile,
    '-l', logLevel,
    ...(componentLogLevel ? ['--component-log-level', componentLogLevel] : []),
    ...extraArgs,
  ];
  const proc = startProcess(bin, args, { logFile, cwd });
  let failed = false;

  const handle = {
    dir,
    logFile,
    proc,
    adminPort: undefined,
    listeners: {},
    log: () => proc.log(),
    markFailed() {
      failed = true;
    },
    /** The port of listener `listenerName` (or of the only listener). */
    listenerPort(listenerName) {
      const names = Object.keys(handle.listeners);
      if (listenerName === undefined) {
        if (names.length !== 1) throw new Error(`listenerPort(): ${names.length} listeners, name one of ${names}`);
        return handle.listeners[names[0]];
      }
      if (!(listenerName in handle.listeners)) throw new Error(`no listener ${listenerName}; have ${names}`);
      return handle.listeners[listenerName];
    },
    /**
     * Wait until the filter's counters include every request Envoy has served: FILTER_FLUSH_WAIT_MS, unless no
     * request came in since the last wait (Envoy's own request counters, admin requests left out, say so; where a
     * stats matcher removed them, it always waits).
     */
    async flushed() {
      const res = await request(handle.adminPort, { path: '/stats?format=json&filter=downstream_rq_total$' });
      let served = 0;
      if (res.status === 200) {
        for (const s of JSON.parse(res.body).stats ?? []) {
          if (typeof s.value === 'number' && !s.name.startsWith('http.admin.')) served += s.value;
        }
      }
      if (served > 0 && served === handle.servedAtFlush) return;
      await new Promise((resolve) => setTimeout(resolve, FILTER_FLUSH_WAIT_MS));
      handle.servedAtFlush = served;
    },
    servedAtFlush: undefined,
    async admin(pathAndQuery) {
      if (readsFilterMetrics(pathAndQuery)) await handle.flushed();
      const res = await request(handle.adminPort, { path: pathAndQuery });
      if (res.status !== 200) throw new Error(`admin ${pathAndQuery}: ${res.status} ${res.body}`);
      return res.body;
    },
    /** All stats as a Map name -> number (counters and gauges), from /stats?format=json. */
    async stats(filter) {
      const body = await handle.admin(`/stats?format=json${filter ? `&filter=${encodeURIComponent(filter)}` : ''}`);
      const map = new Map();
      for (const s of JSON.parse(body).stats ?? []) {
        if (typeof s.value === 'number') map.set(s.name, s.value);
      }
      return map;
    },
    /** Sum of the filter metric family `family` over the series whose labels include `labels` (lib/metrics.mjs). */
    async family(family, labels = {}) {
      return sumFamily(await handle.stats('^wasmcustom\\.tollgate\\.'), family, labels);
    },
    /** Value of one counter, undefined when Envoy does not have it. */
    async counter(statName) {
      const m = await handle.stats(`^${statName.replace(/[.]/g, '\\.')}$`);
      return m.get(statName);
    },
    async stop() {
      await stopProcess(proc);
      if (failed) {
        process.stderr.write(`\n----- ${name} log (${logFile}) -----\n${proc.log()}\n----- end of ${name} log -----\n`);
      } else {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };

  try {
    const exitedReason = async () => (proc.running ? undefined : `envoy exited early`);
    const addr = await waitFor('envoy admin address file', () => existsSync(adminFile) && readFileSync(adminFile, 'utf8').trim(), {
      timeoutMs: readyTimeoutMs,
      abort: exitedReason,
    });
    handle.adminPort = Number(addr.split(':').pop());
    await waitFor('envoy /ready', async () => (await request(handle.adminPort, { path: '/ready' })).status === 200, {
      timeoutMs: readyTimeoutMs,
      abort: exitedReason,
    });
    const listeners = JSON.parse(await handle.admin('/listeners?format=json'));
    for (const l of listeners.listener_statuses ?? []) {
      handle.listeners[l.name] = l.local_address?.socket_address?.port_value;
    }
  } catch (err) {
    handle.markFailed();
    await handle.stop();
    err.message += `\n(envoy log was printed above; config: ${configFile})`;
    throw err;
  }
  return handle;
}

/**
 * `fn` wrapped so that, when it throws, the Envoy handles `handles` names are marked failed (their log is printed
 * when they stop, and kept on disk, instead of deleted). `handles` is a handle, a list of them, or a function
 * returning either (for a handle a `before` hook sets later); an undefined handle is skipped. The wrapper passes
 * its arguments (node:test's context) to `fn` and resolves what `fn` resolves.
 */
export function keepLogOnFailure(handles, fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      for (const handle of [].concat(typeof handles === 'function' ? handles() : handles)) handle?.markFailed();
      throw err;
    }
  };
}

/**
 * Start Envoy with `config`, run `fn(envoy, upstream)`, and always stop Envoy afterwards; when `fn` throws, Envoy's
 * log is printed (keepLogOnFailure). `config` is the config text, or a function of a port: then an echo upstream
 * (lib/upstream.mjs) is started first, `config(upstream.port)` is the config, `fn` gets the upstream as its second
 * argument, and it is closed after Envoy. `options` (may be left out) go to startEnvoy. Resolves what `fn` resolves.
 */
export async function withEnvoy(config, options, fn) {
  const [opts, body] = typeof options === 'function' ? [{}, options] : [options ?? {}, fn];
  const upstream = typeof config === 'function' ? await startEchoUpstream() : undefined;
  try {
    const envoy = await startEnvoy(upstream ? config(upstream.port) : config, opts);
    try {
      return await keepLogOnFailure(envoy, () => body(envoy, upstream))();
    } finally {
      await envoy.stop();
    }
  } finally {
    await upstream?.close();
  }
}

/**
 * Start Envoy expecting it to FAIL to start (bad config). Resolves { code, log } once it exited;
 * throws if it became ready instead (after stopping it).
 */
export async function startEnvoyExpectingFailure(config, { name = 'envoy-bad', cwd = REPO, timeoutMs = 30_000 } = {}) {
  const bin = requireEnvoy();
  const dir = tempDir(name);
  try {
    const configFile = path.join(dir, 'envoy.yaml');
    const adminFile = path.join(dir, 'admin-address.txt');
    const logFile = path.join(dir, 'envoy.log');
    writeFileSync(configFile, config);
    const proc = startProcess(bin, [
      '-c', configFile, '--concurrency', '1', '--use-dynamic-base-id', '--admin-address-path', adminFile,
      '-l', 'info', '--component-log-level', 'wasm:debug',
    ], { logFile, cwd });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && proc.running) {
      if (existsSync(adminFile)) {
        const port = Number(readFileSync(adminFile, 'utf8').trim().split(':').pop());
        const ready = await request(port, { path: '/ready' }).catch(() => undefined);
        if (ready?.status === 200) {
          await stopProcess(proc);
          throw new Error(`envoy became ready although its config is bad:\n${proc.log()}`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (proc.running) {
      await stopProcess(proc);
      throw new Error(`envoy neither failed nor became ready within ${timeoutMs} ms:\n${proc.log()}`);
    }
    const { code } = await proc.exited;
    return { code, log: proc.log() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
