// scripts/release.sh (what `make release` runs after the build): target/dist holds the shipped filter untouched,
// the OCI image layout, the site as a tarball and SHA256SUMS over all of it; the same inputs give the same bytes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, requireWasm } from '../lib/paths.mjs';
import { runToCompletion } from '../lib/proc.mjs';
import { buildImages } from '../../../scripts/oci-image.mjs';

const SITE_DIR = process.env.TOLLGATE_SITE_DIR || path.join(REPO, 'target', 'www');
const CLI = process.env.TOLLGATE_CLI || path.join(REPO, 'target', 'x86_64-unknown-linux-gnu', 'release', 'tollgate');
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function filesUnder(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p, base) : [path.relative(base, p)];
  }).sort();
}

const release = (out, env = {}) => runToCompletion('bash', [path.join(REPO, 'scripts', 'release.sh'), out], {
  cwd: REPO, timeoutMs: 120_000, env: { ...process.env, ...env },
});

describe('release artefacts (scripts/release.sh)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tollgate-release-test-'));
  const out = path.join(tmp, 'dist');
  let run;
  before(async () => {
    if (!existsSync(path.join(SITE_DIR, '.tollgate-site'))) {
      throw new Error(`the site is not built in ${SITE_DIR}: run bash scripts/build.sh`);
    }
    run = await release(out);
    assert.equal(run.code, 0, run.output);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes exactly the filter, the command line, the OCI layout, the site tarball and SHA256SUMS', () => {
    const files = filesUnder(out);
    assert.deepEqual(files.filter((f) => !f.startsWith('oci/')),
      ['SHA256SUMS', 'tollgate-linux-x86_64', 'tollgate-site-www.tar.gz', 'tollgate_filter.wasm']);
    assert.ok(files.includes('oci/index.json') && files.includes('oci/oci-layout'));
  });

  it('the filter is the built module byte for byte (nothing re-optimised), and oci/ holds its images', () => {
    const module = readFileSync(requireWasm());
    assert.deepEqual(readFileSync(path.join(out, 'tollgate_filter.wasm')), module);
    const built = buildImages(module);
    const index = JSON.parse(readFileSync(path.join(out, 'oci', 'index.json'), 'utf8'));
    assert.deepEqual(index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest]),
      built.images.map((i) => [i.tag, i.digest]));
    assert.match(run.output, new RegExp(`image    tollgate-filter:${built.version.replaceAll('.', '\\.')} +oci +digest ${built.images[0].digest}`));
  });

  it('the command line is the built binary byte for byte, and it runs', async () => {
    assert.deepEqual(readFileSync(path.join(out, 'tollgate-linux-x86_64')), readFileSync(CLI));
    const { code, output } = await runToCompletion(path.join(out, 'tollgate-linux-x86_64'), ['--version']);
    assert.equal(code, 0, output);
    assert.match(output, /^tollgate \d+\.\d+\.\d+\n$/);
  });

  it('the tarball holds every file of the built site under www/, owner 0, time 0', async () => {
    const { code, output } = await runToCompletion('tar', ['--list', '--verbose', '--numeric-owner', '--full-time', '-zf', path.join(out, 'tollgate-site-www.tar.gz')]);
    assert.equal(code, 0, output);
    const lines = output.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/).pop()), filesUnder(SITE_DIR).map((f) => `www/${f}`));
    for (const l of lines) assert.match(l, /^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00:00 www\//);
    assert.ok(lines.some((l) => l.endsWith('www/app-link/.well-known/apple-app-site-association')), 'the deep-link files are in it');
  });

  it('SHA256SUMS covers every other file and sha256sum -c accepts it', async () => {
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split(/ {2}/));
    assert.deepEqual(sums.map(([, f]) => f).sort(), filesUnder(out).filter((f) => f !== 'SHA256SUMS'));
    for (const [hash, f] of sums) assert.equal(hash, sha256(readFileSync(path.join(out, f))), f);
    const { code, output } = await runToCompletion('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: out });
    assert.equal(code, 0, output);
  });

  it('is reproducible: a second run writes the same SHA256SUMS', async () => {
    const again = path.join(tmp, 'again');
    const second = await release(again);
    assert.equal(second.code, 0, second.output);
    assert.equal(readFileSync(path.join(again, 'SHA256SUMS'), 'utf8'), readFileSync(path.join(out, 'SHA256SUMS'), 'utf8'));
  });

  it('refuses to run without the built artefacts and says what to run', async () => {
    const missing = await release(path.join(tmp, 'none'), { TOLLGATE_FILTER_WASM: path.join(tmp, 'absent.wasm') });
    assert.equal(missing.code, 1);
    assert.match(missing.output, /^error: .*absent\.wasm is missing: run bash scripts\/build\.sh \(or make release\)$/m);
    assert.ok(!existsSync(path.join(tmp, 'none')), 'nothing half-written');
    const noCli = await release(path.join(tmp, 'none'), { TOLLGATE_CLI: path.join(tmp, 'absent-tollgate') });
    assert.equal(noCli.code, 1);
    assert.match(noCli.output, /^error: .*absent-tollgate is missing: run bash scripts\/build\.sh \(or make release\)$/m);
    assert.ok(!existsSync(path.join(tmp, 'none')), 'nothing half-written');
  });
});
