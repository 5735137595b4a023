// One demo at a time per log folder: the running demo records itself in <log base>/running.json (its pid, when it
// started, its start URL and log folder) and removes the record when it stops. A second start finds the record,
// says where the running one is and stops there instead of starting a second stack on other ports; a record whose
// process is gone (killed with SIGKILL, a crash), or is no longer the demo (a reused pid), is stale and replaced.
// `stack.mjs --stop` stops the running one as Ctrl-C does.
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { logBase, shown } from './common.mjs';

/** The record of the demo running with log base `base`. */
export function recordPath(base) {
  return path.join(base, 'running.json');
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Whether `pid` runs the demo (Linux: its command line names stack.mjs), so that a reused pid is not taken for it;
 *  true where /proc is not there to tell. */
function isDemo(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith('stack.mjs'));
  } catch (err) {
    return err.code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

/** The running demo's record { pid, startedAt, startUrl, logDir }, or undefined (none, or a stale one). */
export function runningDemo(base) {
  let record;
  try {
    record = JSON.parse(readFileSync(recordPath(base), 'utf8'));
  } catch {
    return undefined;
  }
  return Number.isInteger(record?.pid) && record.pid !== process.pid && alive(record.pid) && isDemo(record.pid) ? record : undefined;
}

/** The lines that say a demo is running and how to reach or stop it; `command` is how the user started the demo
 *  ('make demo', 'bash scripts/demo.sh', ...). */
export function alreadyRunningLines(record, command) {
  return [
    `a demo is already running (pid ${record.pid}, started ${record.startedAt}): open ${record.startUrl}`,
    `  its logs: ${shown(record.logDir)}/`,
    `  stop it with Ctrl-C in its terminal, or: ${command === 'make demo' ? 'make demo ARGS=--stop' : `${command} --stop`}`,
  ];
}

/**
 * Record this process as the running demo (exclusively: a live record of another process wins and this returns it
 * instead). Returns { ok: true, clear() } or { ok: false, running }.
 */
export function claim(base, { startUrl, logDir }) {
  const file = recordPath(base);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let fd;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const running = runningDemo(base);
      if (running) return { ok: false, running };
      rmSync(file, { force: true }); // stale: its process is gone
      continue;
    }
    writeSync(fd, `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), startUrl, logDir })}\n`);
    closeSync(fd);
    return {
      ok: true,
      clear() {
        try {
          if (JSON.parse(readFileSync(file, 'utf8')).pid === process.pid) rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new Error(`could not record the running demo in ${file}`);
}

/** Stop the running demo with SIGTERM and wait (at most `timeoutMs`) until its record is gone. */
export async function stopRunning(base, { timeoutMs = 30_000 } = {}) {
  const running = runningDemo(base);
  if (!running) return undefined;
  process.kill(running.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(running.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(running.pid)) throw new Error(`the demo (pid ${running.pid}) did not stop within ${timeoutMs / 1000} s`);
  return running;
}
