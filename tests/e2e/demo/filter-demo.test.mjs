// The demo does what it prints: start it, run every printed curl command with the real curl, compare each status
// with the "# expect NNN" line above it, then stop it with SIGTERM and check it exits cleanly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToCompletion } from '../lib/proc.mjs';
import { requireWasm } from '../lib/paths.mjs';

const DEMO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'filter-demo.mjs');

describe('filter demo', () => {
  it('prints curl commands that get the answers it announces, and stops cleanly on SIGTERM', async () => {
    requireWasm();
    const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('Press Ctrl-C to stop.') && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(out.includes('Press Ctrl-C to stop.'), `demo not ready:\n${out}`);
      const lines = out.split('\n');
      const cases = [];
      lines.forEach((line, i) => {
        const m = /^# expect (\d{3}): /.exec(line);
        if (m) cases.push({ status: Number(m[1]), cmd: lines[i + 1] });
      });
      assert.ok(cases.length >= 6, `at least 6 cases printed, got ${cases.length}`);
      for (const want of [200, 401, 403]) assert.ok(cases.some((c) => c.status === want), `a case answering ${want}`);
      for (const { status, cmd } of cases) {
        assert.match(cmd, /^curl -i /);
        const { code, output } = await runToCompletion('bash', ['-c', `${cmd.replace(/^curl -i /, 'curl -s -o /dev/null -w "%{http_code}" ')}`], { timeoutMs: 15_000 });
        assert.equal(code, 0, output);
        assert.equal(Number(output.trim()), status, `${cmd.slice(0, 40)}... answered ${output}`);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    const { code, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 10_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    assert.equal(signal, null, `demo exited by signal ${signal}`);
    assert.equal(code, 0, `demo exit code\n${out}`);
    assert.match(out, /stopping the demo/);
  });
});
