// Child processes that are always stopped: by the caller, and as a safety net when Node exits.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';

const live = new Set();

function killAllSync() {
  for (const child of live) {
    try {
      // Each child leads its own process group (detached), so its own children go too.
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.once('exit', killAllSync);
// A signal (Ctrl-C, a runner's timeout) ends Node without 'exit' handlers: stop the children first, unless the
// program installed its own handler for that signal (e.g. the demo's graceful stop).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, function onSignal() {
    if (process.listeners(sig).some((l) => l !== onSignal)) return;
    killAllSync();
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig]));
  });
}

/**
 * Start `cmd args` with stdout and stderr appended to `logFile`.
 * Returns { child, logFile, exited (Promise<{code, signal}>), log() }.
 */
export function startProcess(cmd, args, { logFile, env, cwd } = {}) {
  if (!logFile) throw new Error('startProcess: logFile is required');
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      live.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return {
    child,
    logFile,
    exited,
    get running() {
      return live.has(child);
    },
    log() {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    },
  };
}

/** Stop a process started by startProcess: SIGTERM, then SIGKILL after `graceMs`. Never throws. */
export async function stopProcess(proc, { graceMs = 3000 } = {}) {
  if (!proc || !proc.running) return proc ? proc.exited : undefined;
  const signal = (sig) => {
    try {
      process.kill(-proc.child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  let timer;
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([proc.exited, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') {
    signal('SIGKILL');
  }
  return proc.exited;
}

/** Run a command to completion (bounded); resolves { code, signal, output } with stdout+stderr merged. */
export function runToCompletion(cmd, args, { timeoutMs = 60_000, cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${output}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}
