// The demo does what it prints: start it, run every printed curl command with the real curl, compare each status
// with the "# expect NNN" line above it, then stop it with SIGTERM and check it exits cleanly, says it stopped and
// keeps the log it named at start. A preferred port held by the test is reported as busy, with the port taken.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToCompletion } from '../lib/proc.mjs';
import { requireWasm } from '../lib/paths.mjs';

const DEMO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'filter-demo.mjs');

/** A loopback port this test holds until close(). */
async function holdPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
}

describe('filter demo', () => {
  it('prints curl commands that get the answers it announces, names a busy port, keeps its log and says when it stopped', async () => {
    requireWasm();
    const logs = mkdtempSync(path.join(os.tmpdir(), 'tollgate-filter-demo-logs-'));
    const held = await holdPort();
    const child = spawn(process.execPath, [DEMO, '--any-ports', '--api-port', String(held.port), '--logs', logs], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      const taken = new RegExp(`^port ${held.port} \\(API through Envoy\\) is busy: it took (\\d+) instead$`, 'm').exec(out)?.[1];
      assert.ok(taken && Number(taken) !== held.port, `busy port reported:\n${out}`);
      assert.match(out, new RegExp(`^  API through Envoy \\+ tollgate: http://127\\.0\\.0\\.1:${taken}$`, 'm'));
      const lines = out.split('\n');
      const cases = [];
      lines.forEach((line, i) => {
        const m = /^# expect (\d{3}): /.exec(line);
        if (m) cases.push({ status: Number(m[1]), cmd: lines[i + 1] });
      });
      assert.ok(cases.length >= 6, `at least 6 cases printed, got ${cases.length}`);
      for (const want of [200, 401, 403]) assert.ok(cases.some((c) => c.status === want), `a case answering ${want}`);
      for (const { status, cmd } of cases) {
        assert.match(cmd, new RegExp(`^curl -i .*http://127\\.0\\.0\\.1:${taken}/`));
        const { code, output } = await runToCompletion('bash', ['-c', `${cmd.replace(/^curl -i /, 'curl -s -o /dev/null -w "%{http_code}" ')}`], { timeoutMs: 15_000 });
        assert.equal(code, 0, output);
        assert.equal(Number(output.trim()), status, `${cmd.slice(0, 40)}... answered ${output}`);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await held.close();
    }
    try {
      const { code, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 10_000).unref())]);
      if (code === 'timeout') child.kill('SIGKILL');
      assert.equal(signal, null, `demo exited by signal ${signal}`);
      assert.equal(code, 0, `demo exit code\n${out}`);
      assert.match(out, /stopping the demo/);
      // the log folder named at start, the same one in the last line, with Envoy's log and config in it
      const dir = new RegExp(`^Logs of this run \\(kept after the demo stops\\): (${logs}/\\d{8}T\\d{6}Z)/$`, 'm').exec(out)?.[1];
      assert.ok(dir, `log folder printed at start:\n${out}`);
      assert.match(out, new RegExp(`^  Envoy: +${dir}/envoy\\.log$`, 'm'));
      assert.ok(out.trimEnd().endsWith(`stopped: Envoy and the echo API are down; logs kept in ${dir}/`), out.slice(-300));
      const envoyLog = readFileSync(path.join(dir, 'envoy.log'), 'utf8');
      assert.match(envoyLog, /\[wasm\].*tollgate/, 'the filter writes to the kept Envoy log');
      assert.match(envoyLog, /exiting/, 'the log runs to the end of Envoy');
      assert.ok(existsSync(path.join(dir, 'envoy.yaml')));
      for (const token of out.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g) ?? []) {
        assert.ok(!envoyLog.includes(token.split('.')[2]), 'no token in the kept log');
      }
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  });
});
