// `make demo` as a user meets it in the terminal, on a tree that is already set up and built: the warm start prints
// three step lines before the demo's own output (no test tooling, no site-builder notes, no minutes promised), a
// second `make demo` says where the running one is instead of starting a second stack, and SIGTERM or SIGHUP to
// make, SIGHUP to the demo (a closed terminal) and `--stop` clean up like Ctrl-C: temporary folders removed, Envoy's log to its end, the
// running record gone.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';

const LOGS = mkdtempSync(path.join(os.tmpdir(), 'tollgate-demo-terminal-'));
after(() => rmSync(LOGS, { recursive: true, force: true }));
const RECORD = path.join(LOGS, 'running.json');

/** Start `cmd args` in the repository with its own TMPDIR (to see what it leaves behind). */
function start(cmd, args) {
  const tmp = mkdtempSync(path.join(LOGS, 'tmp-'));
  const env = { ...process.env, TMPDIR: tmp };
  for (const k of ['TOLLGATE_DEMO_CHECK', 'TOLLGATE_DEMO_COMMAND', 'TOLLGATE_DEMO_PREFLIGHT', 'MAKEFLAGS', 'MAKELEVEL']) delete env[k];
  const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, tmp, out: '', err: '' };
  child.stdout.on('data', (d) => (run.out += d));
  child.stderr.on('data', (d) => (run.err += d));
  run.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return run;
}

async function until(what, fn, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ARGS = `ARGS=--any-ports --logs ${LOGS}`;

/** After a stop: the demo process is gone, its record removed, its TMPDIR empty, Envoy's log ends with its exit. */
async function assertCleanedUp(run, pid) {
  await until('the demo to exit', () => !alive(pid), 30_000);
  assert.equal(existsSync(RECORD), false, 'the running record is removed');
  assert.deepEqual(readdirSync(run.tmp), [], 'no temporary folder left behind');
  const logDir = /^Logs of this run \(kept after the demo stops\): (\S+)\/$/m.exec(run.out)?.[1];
  assert.ok(logDir, run.out);
  const envoyLog = readFileSync(path.resolve(REPO, logDir, 'envoy.log'), 'utf8');
  assert.match(envoyLog.trimEnd().split('\n').at(-1), /exiting/, "Envoy's log runs to its end");
  assert.match(run.out, /^stopped: Envoy, echo API, authorization server, site and app endpoint are down; logs kept in /m);
}

describe('make demo in the terminal', { timeout: 600_000 }, () => {
  it('a warm start prints three lines before its own; a second make demo points at the running one; SIGTERM to make stops it cleanly', async () => {
    const first = start('make', ['--no-print-directory', 'demo', ARGS]);
    try {
      await until('the demo to run', () => first.out.includes('Press Ctrl-C to stop.') || first.child.exitCode !== null);
      assert.ok(first.out.includes('Press Ctrl-C to stop.'), `${first.out}\n${first.err}`);
      const before = first.out.slice(0, first.out.indexOf('Logs of this run')).trimEnd().split('\n');
      assert.equal(before.length, 3, before.join('\n'));
      assert.match(before[0], /^==> setup: everything the demo needs is in place \(envoy 1\.\d+\.\d+\)$/);
      assert.match(before[1], /^==> build the token filter … done in \d+(\.\d)?s$/);
      assert.match(before[2], /^==> build the redirect page and its site … done in \d+(\.\d)?s$/);
      assert.equal(first.err, '', 'nothing on stderr');
      assert.doesNotMatch(first.out, /example\.com|nginx|entitlements|several minutes|sigbench|benchmark/i);

      const { pid, startUrl, logDir } = JSON.parse(readFileSync(RECORD, 'utf8'));
      assert.ok(first.out.includes(`1. Open ${startUrl}`), 'the record names the printed start URL');

      const second = start('make', ['--no-print-directory', 'demo', ARGS]);
      const { code } = await second.exited;
      assert.notEqual(code, 0);
      assert.equal(second.out, '', 'nothing set up, built or started');
      const lines = second.err.trimEnd().split('\n');
      assert.match(lines[0], new RegExp(`^a demo is already running \\(pid ${pid}, started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\): open ${startUrl.replace(/[.]/g, '\\.')}$`));
      assert.equal(lines[1], `  its logs: ${logDir}/`);
      assert.equal(lines[2], '  stop it with Ctrl-C in its terminal, or: make demo ARGS=--stop');
      assert.match(lines[3] ?? '', /^make: \*\*\* \[Makefile:\d+: demo\] Error 1$/);
      assert.ok(alive(pid), 'the running demo is left alone');

      first.child.kill('SIGTERM'); // make alone: it does not pass the signal on
      await assertCleanedUp(first, pid);
    } finally {
      first.child.kill('SIGKILL');
    }
  });

  it('SIGHUP sent to make alone (make waits for its children then) stops the demo like Ctrl-C', async () => {
    const run = start('make', ['--no-print-directory', 'demo', ARGS]);
    try {
      await until('the demo to run', () => run.out.includes('Press Ctrl-C to stop.') || run.child.exitCode !== null);
      assert.ok(run.out.includes('Press Ctrl-C to stop.'), `${run.out}\n${run.err}`);
      const { pid } = JSON.parse(readFileSync(RECORD, 'utf8'));
      run.child.kill('SIGHUP');
      await assertCleanedUp(run, pid);
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGHUP' }, 'make ends by the signal once the demo is down');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('SIGHUP (the terminal closed) stops it like Ctrl-C; --stop stops a running one from another terminal', async () => {
    const hup = start('bash', ['scripts/demo.sh', '--any-ports', '--logs', LOGS]);
    await until('the demo to run', () => hup.out.includes('Press Ctrl-C to stop.') || hup.child.exitCode !== null);
    assert.ok(hup.out.includes('Press Ctrl-C to stop.'), `${hup.out}\n${hup.err}`);
    const { pid } = JSON.parse(readFileSync(RECORD, 'utf8'));
    assert.equal(pid, hup.child.pid, 'demo.sh became the demo (exec)');
    hup.child.kill('SIGHUP');
    assert.deepEqual(await hup.exited, { code: 0, signal: null });
    await assertCleanedUp(hup, pid);

    const running = start('bash', ['scripts/demo.sh', '--any-ports', '--logs', LOGS]);
    await until('the demo to run', () => running.out.includes('Press Ctrl-C to stop.') || running.child.exitCode !== null);
    const stopper = start('make', ['--no-print-directory', 'demo', `ARGS=--stop --logs ${LOGS}`]);
    assert.deepEqual(await stopper.exited, { code: 0, signal: null });
    assert.equal(stopper.out, `stopped the demo that was running (pid ${running.child.pid})\n`);
    assert.deepEqual(await running.exited, { code: 0, signal: null });
    await assertCleanedUp(running, running.child.pid);
  });
});
