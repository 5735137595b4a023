// One demo per log folder (running.mjs): a live demo's record blocks a second claim and is named in plain words; a
// record whose process is gone or is not the demo (a reused pid) is stale and replaced; --stop ends the live one.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alreadyRunningLines, claim, recordPath, runningDemo, stopRunning } from './running.mjs';

const DIR = mkdtempSync(path.join(os.tmpdir(), 'tollgate-demo-running-'));
after(() => rmSync(DIR, { recursive: true, force: true }));
let n = 0;
const freshBase = () => mkdtempSync(path.join(DIR, `base-${(n += 1)}-`));

/** A process whose command line names a stack.mjs, as the demo's does; it runs until SIGTERM. */
function fakeDemo() {
  const file = path.join(mkdtempSync(path.join(DIR, 'fake-')), 'stack.mjs');
  writeFileSync(file, "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000); console.log('ready');\n");
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'ignore'] });
  return {
    child,
    ready: new Promise((r) => child.stdout.once('data', r)),
    exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))),
  };
}

describe('one demo per log folder', () => {
  it('claims a free folder, records pid, start URL and logs, and clears only its own record', () => {
    const base = freshBase();
    const c = claim(base, { startUrl: 'http://127.0.0.1:8081/app/start', logDir: path.join(base, 'run') });
    assert.equal(c.ok, true);
    const record = JSON.parse(readFileSync(recordPath(base), 'utf8'));
    assert.equal(record.pid, process.pid);
    assert.equal(record.startUrl, 'http://127.0.0.1:8081/app/start');
    assert.match(record.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(runningDemo(base), undefined, 'this process is not "another" demo');
    c.clear();
    assert.equal(existsSync(recordPath(base)), false);
  });

  it('replaces a stale record: a process that is gone, or a live one that is not the demo', () => {
    const base = freshBase();
    for (const pid of [2 ** 22 + 12345, process.ppid]) {
      writeFileSync(recordPath(base), JSON.stringify({ pid, startedAt: 'x', startUrl: 'u', logDir: base }));
      assert.equal(runningDemo(base), undefined, `pid ${pid}`);
      const c = claim(base, { startUrl: 'u2', logDir: base });
      assert.equal(c.ok, true);
      c.clear();
    }
  });

  it('a live demo blocks the claim, is named in plain words, and --stop ends it', async () => {
    const base = freshBase();
    const demo = fakeDemo();
    try {
      const record = { pid: demo.child.pid, startedAt: '2026-12-07T21:48:12Z', startUrl: 'http://127.0.0.1:8081/app/start', logDir: path.join(base, 'run') };
      writeFileSync(recordPath(base), JSON.stringify(record));
      await demo.ready;
      assert.deepEqual(runningDemo(base), record);
      const c = claim(base, { startUrl: 'u', logDir: base });
      assert.deepEqual(c, { ok: false, running: record });
      assert.deepEqual(alreadyRunningLines(record, 'make demo'), [
        `a demo is already running (pid ${record.pid}, started 2026-12-07T21:48:12Z): open http://127.0.0.1:8081/app/start`,
        `  its logs: ${record.logDir}/`,
        '  stop it with Ctrl-C in its terminal, or: make demo ARGS=--stop',
      ]);
      assert.equal(alreadyRunningLines(record, 'bash scripts/demo.sh')[2], '  stop it with Ctrl-C in its terminal, or: bash scripts/demo.sh --stop');
      assert.deepEqual(await stopRunning(base), record);
      assert.deepEqual(await demo.exited, { code: 0, signal: null });
      assert.equal(await stopRunning(base), undefined, 'nothing left to stop');
    } finally {
      demo.child.kill('SIGKILL');
    }
  });
});
