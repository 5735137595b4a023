// Every command-line tool of the repository (each executable script under scripts/ and tests/) answers --help
// with its usage on stdout and --version with the workspace version, both with exit 0 and without side effects,
// and refuses an unknown option with exit 2 and one line on stderr. tollgate-site's own CLI is tested in
// redirect-page/site/tests/cli.rs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';
import { workspaceVersion } from '../../../scripts/cli.mjs';

// Not yet: the benchmark runs on any argument.
const NOT_YET = new Set();
// bench.sh hands its options to the tool it runs (demo.sh too, which speaks as itself).
const SPEAKS_AS = { 'scripts/bench.sh': 'filter-bench.mjs' };

const git = (...args) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' });

/** Tracked files under scripts/ and tests/ that start with "#!". */
function executableScripts() {
  return git('ls-files', '-z', 'scripts', 'tests').split('\0').filter(Boolean)
    .filter((f) => readFileSync(path.join(REPO, f), 'utf8').startsWith('#!'));
}

function run(file, args) {
  const runner = file.endsWith('.sh') ? 'bash' : process.execPath;
  const r = spawnSync(runner, [file, ...args], { cwd: REPO, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('every command-line tool answers --help and --version', () => {
  const scripts = executableScripts();
  const version = workspaceVersion();

  it('finds the scripts, including the ones named in the docs', () => {
    for (const f of ['scripts/setup.sh', 'scripts/build.sh', 'scripts/demo.sh', 'scripts/oci-image.mjs', 'tests/e2e/fixtures/mint.mjs',
      'tests/e2e/authz/server.mjs', 'tests/e2e/demo/stack.mjs', 'tests/e2e/demo/filter-demo.mjs', 'tests/e2e/fixtures/generate.mjs',
      'tests/e2e/authz/keys/generate.mjs']) {
      assert.ok(scripts.includes(f), f);
    }
  });

  for (const file of executableScripts().filter((f) => !NOT_YET.has(f))) {
    it(file, () => {
      const name = SPEAKS_AS[file] ?? path.basename(file);
      const before = git('status', '--porcelain');

      const help = run(file, ['--help']);
      assert.equal(help.code, 0, `--help: ${help.err}`);
      assert.equal(help.err, '', '--help writes nothing on stderr');
      assert.match(help.out, /^usage: /, '--help prints the usage on stdout');

      const v = run(file, ['--version']);
      assert.deepEqual([v.code, v.out, v.err], [0, `${name} (tollgate ${version})\n`, '']);

      const bad = run(file, ['--no-such-option']);
      assert.deepEqual([bad.code, bad.out, bad.err], [2, '', `${name}: unknown option --no-such-option (see ${name} --help)\n`]);

      assert.equal(git('status', '--porcelain'), before, '--help and --version change no file');
    });
  }
});
