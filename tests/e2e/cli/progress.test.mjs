// The progress lines of the task scripts (scripts/lib.sh): a line before every slow step, its elapsed time after
// it, "still running" while it lasts, the failing step named on stderr, and a set-up run with nothing to do
// that prints a single line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';

const LIB = path.join(REPO, 'scripts', 'lib.sh');

/** Run a bash snippet after sourcing lib.sh; resolves { code, out, err, ms }. */
function bash(snippet, env = {}) {
  const start = Date.now();
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(LIB)}\n${snippet}`], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - start };
}

describe('progress lines (scripts/lib.sh)', () => {
  it('a step prints what it does, "still running" while it lasts and how long it took', () => {
    const r = bash('timed "wait for a while (takes about a second)" sleep 1.3\necho next', { TOLLGATE_PROGRESS_EVERY: '0.5' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines[0], '==> wait for a while (takes about a second) …');
    const ticks = lines.slice(1, -2);
    assert.ok(ticks.length >= 1, `at least one "still running" line:\n${r.out}`);
    for (const t of ticks) assert.match(t, /^ {4}… still running \(\d\.\ds\)$/);
    assert.match(lines.at(-2), /^ {4}done in 1\.[3-9]s$/);
    assert.equal(lines.at(-1), 'next');
  });

  it('a failing step stops the script and is named on stderr with its exit status', () => {
    const r = bash('timed "a step that fails" bash -c "exit 3"\necho never');
    assert.equal(r.code, 3);
    assert.equal(r.out, '==> a step that fails …\n');
    assert.match(r.err, /^ {4}failed after 0\.\ds \(exit 3\): a step that fails\n$/);
  });

  it('an open step ends at the next one or at the end of the script', () => {
    const r = bash('step "one"\nstep "two"\necho inside');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^==> one …\n {4}done in 0\.\ds\n==> two …\ninside\n {4}done in 0\.\ds\n$/);
  });

  it('the output ends with the script: nothing keeps it open', () => {
    // a "still running" ticker due only in 30 s; the pipe closes as soon as bash exits
    const r = bash('timed "short" sleep 0.1', { TOLLGATE_PROGRESS_EVERY: '30' });
    assert.equal(r.code, 0, r.err);
    assert.ok(r.ms < 5_000, `took ${r.ms} ms`);
  });

  it('with TOLLGATE_STEP_LOG a step is one line and its output goes to that file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-progress-'));
    try {
      const log = path.join(dir, 'steps.log');
      const ok = bash('timed "a noisy step" bash -c "echo noisy; echo also >&2"\necho next', { TOLLGATE_STEP_LOG: log });
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, /^==> a noisy step … done in 0\.\ds\nnext\n$/);
      assert.equal(ok.err, '');
      assert.equal(readFileSync(log, 'utf8'), '--- a noisy step\nnoisy\nalso\n');

      const slow = bash('timed "a slow step" sleep 1.3', { TOLLGATE_STEP_LOG: log, TOLLGATE_PROGRESS_EVERY: '0.5' });
      assert.equal(slow.code, 0, slow.err);
      assert.match(slow.out, /^==> a slow step … (\n {4}… still running \(\d\.\ds\))+\n {4}done in 1\.[3-9]s\n$/);

      const bad = bash('timed "a step that fails" bash -c "echo why; exit 3"\necho never', { TOLLGATE_STEP_LOG: log });
      assert.equal(bad.code, 3);
      assert.equal(bad.out, '==> a step that fails … failed\n');
      assert.match(bad.err, new RegExp(`^ {4}failed after 0\\.\\ds \\(exit 3\\): a step that fails; the end of ${log.replace(/[.]/g, '\\.')}:\n`));
      assert.ok(bad.err.endsWith('--- a step that fails\nwhy\n'), bad.err);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('durations read like 0.4s, 12s, 2m 31s, 1h 02m 03s', () => {
    const r = bash('for ms in 400 9999 12000 59999 151000 3723000; do human_duration d $ms; echo "$d"; done');
    assert.equal(r.out, '0.4s\n9.9s\n12s\n59s\n2m 31s\n1h 02m 03s\n');
  });

  it('setup.sh with everything in place prints one line; with --demo too', () => {
    const r = spawnSync('bash', [path.join(REPO, 'scripts', 'setup.sh')], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^setup: everything is in place \(envoy: 1\.\d+\.\d+\)\n$/);
    assert.equal(r.stderr, '');
    const demo = spawnSync('bash', [path.join(REPO, 'scripts', 'setup.sh'), '--demo'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /^==> setup: everything the demo needs is in place \(envoy 1\.\d+\.\d+\)\n$/);
    assert.equal(demo.stderr, '');
  });
});
