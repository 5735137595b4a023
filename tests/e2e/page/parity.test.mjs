// Parity of the two page implementations, in a second and without a browser: the Rust page logic wrote
// parity-vectors.json (`tollgate-site vectors`: a hostile-input table plus a fixed-seed random set, each input with
// the screen, forwarded link, message and error code the Wasm page produces). This test loads the real
// www/assets/fallback.js next to the fallback-data.js recorded in the vectors and expects the same result for every
// input. A Rust unit test (and `tollgate-site vectors --check`) fails when the vectors are stale.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..', '..');
const vectors = JSON.parse(readFileSync(path.join(HERE, 'parity-vectors.json'), 'utf8'));

let fallback;
before(async () => {
  // fallback.js imports './fallback-data.js': put the real module beside the data the vectors were made with.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-parity-'));
  try {
    copyFileSync(path.join(REPO, 'www', 'assets', 'fallback.js'), path.join(dir, 'fallback.js'));
    writeFileSync(path.join(dir, 'fallback-data.js'), vectors.fallback_data);
    fallback = await import(pathToFileURL(path.join(dir, 'fallback.js')).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const show = (c) => JSON.stringify({ page: c.page, app_link: c.app_link?.slice(0, 80), query: c.query.slice(0, 200), fragment: c.fragment.slice(0, 200) });

describe('fallback.js decides exactly like the Rust page (parity vectors)', () => {
  it(`every one of the ${vectors.cases.length} inputs gets the same screen, link, message and code`, () => {
    const mismatches = [];
    for (const c of vectors.cases) {
      const r = fallback.decide(c.page, c.app_link, c.query, c.fragment);
      const got = { screen: r.screen, link: r.link ?? null, message: r.message ?? null, code: r.code ?? null };
      const want = { screen: c.screen, link: c.link, message: c.message, code: c.code };
      try {
        assert.deepEqual(got, want);
      } catch {
        mismatches.push(`${show(c)}\n    rust: ${JSON.stringify(want)}\n    js:   ${JSON.stringify(got)}`);
      }
    }
    assert.equal(mismatches.length, 0, `${mismatches.length} input(s) differ:\n${mismatches.slice(0, 10).join('\n')}`);
  });

  it('the vectors reach every screen, every error message and a forwarded https error_uri', () => {
    const screens = new Set(vectors.cases.map((c) => c.screen));
    assert.deepEqual([...screens].sort(), ['continue', 'error', 'logout', 'malformed', 'misconfigured', 'no-response']);
    const messages = new Set(vectors.cases.map((c) => c.message).filter(Boolean));
    assert.equal(messages.size, 6, [...messages].join(' '));
    assert.ok(vectors.cases.some((c) => c.link?.includes('error_uri=https%3A%2F%2F')));
    assert.ok(vectors.cases.some((c) => /error_uri=javascript/i.test(c.query) && c.screen === 'error' && !c.link.includes('error_uri')));
  });

  it('the language choice is the same', () => {
    for (const { preferences, lang } of vectors.languages) {
      assert.equal(fallback.chooseLanguage(preferences), lang, JSON.stringify(preferences));
    }
  });

  it('an error screen never carries request text: the shown code is a known one or nothing', () => {
    const known = new Set(Object.keys(JSON.parse(/export const ERRORS = (.*);/.exec(vectors.fallback_data)[1])));
    for (const c of vectors.cases.filter((x) => x.screen === 'error')) {
      assert.ok(c.code === null || known.has(c.code), c.code);
    }
    const spoof = vectors.cases.find((c) => c.query.includes('error=account_locked'));
    assert.equal(spoof.screen, 'error');
    assert.equal(spoof.code, null);
    assert.equal(spoof.message, 'error_body');
    assert.match(spoof.link, /error=account_locked&error_description=Your%20account%20is%20locked/);
  });
});
