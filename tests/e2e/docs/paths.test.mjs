// The docs cannot go stale silently: every repository path a Markdown file names (a link, with its #anchor, or
// inline code such as `scripts/setup.sh`) must exist. See paths.mjs for what counts as a path.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';
import { gitIgnored, markdownFiles, missingPaths } from './paths.mjs';

describe('paths named in the docs', () => {
  it('every repository path a README or other .md file names exists', () => {
    const ignored = gitIgnored(REPO);
    const files = markdownFiles(REPO);
    assert.ok(files.includes('README.md') && files.includes('envoy/README.md') && files.length >= 10, files.join(' '));
    const problems = files.flatMap((f) => missingPaths(readFileSync(path.join(REPO, f), 'utf8'), f, { root: REPO, ignored })
      .map((m) => `${f}:${m.line}: ${m.path} (${m.why})`));
    assert.deepEqual(problems, []);
  });

  it('reports a made-up path, a missing link target and a missing anchor, and nothing else', () => {
    const doc = [
      '# Guide',
      'Run `scripts/setup.sh`, then `cd tests/e2e && node --test flow/demo.test.mjs`; keys in `tests/e2e/fixtures/keys/`.',
      'The filter lives in `filter/no-such-file.rs`; see [the envoy notes](envoy/README.md#envoy-configurations).',
      'Broken: [old notes](docs/OLD.md), [a section](#no-such-heading), [ok section](#guide), `envoy/examples/*/envoy.yaml`.',
      'Not paths: `application/json`, `x-user-id / x-client-id`, `https://example.com/a/b`, `/etc/envoy/x.wasm`, `<dir>/x`.',
      'Build output is not checked: `target/www/page`, [the wasm](target/wasm32-wasip1/release/tollgate_filter.wasm).',
      'Outside: [elsewhere](../../outside.md). `tests/e2e/made-up/`.',
      '```sh',
      'cat filter/also-made-up-but-in-a-code-block.rs',
      '```',
    ].join('\n');
    const found = missingPaths(doc, 'GUIDE.md', { root: REPO, ignored: gitIgnored(REPO) });
    assert.deepEqual(found, [
      { line: 3, path: 'filter/no-such-file.rs', why: 'no such file' },
      { line: 4, path: 'docs/OLD.md', why: 'no such file' },
      { line: 4, path: '#no-such-heading', why: 'no heading for #no-such-heading' },
      { line: 7, path: '../../outside.md', why: 'outside the repository' },
      { line: 7, path: 'tests/e2e/made-up/', why: 'no such file' },
    ]);
  });

  it('checks an anchor in another file against that file\'s headings', () => {
    const found = missingPaths('[x](envoy/README.md#no-such-part) [y](README.md#the-two-commands)', 'X.md', { root: REPO });
    assert.deepEqual(found, [{ line: 1, path: 'envoy/README.md#no-such-part', why: 'no heading for #no-such-part' }]);
  });
});

describe('the README flow diagram', () => {
  it('names the page and the app link of www/site.json', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const diagram = /^## How the pieces fit\n+```text\n([\s\S]*?)\n```/m.exec(readme)?.[1];
    assert.ok(diagram, 'the diagram under "How the pieces fit"');
    const site = JSON.parse(readFileSync(path.join(REPO, 'www', 'site.json'), 'utf8'));
    const app = site.apps[0];
    const page = `${site.page_origin}${app.login_path}`;
    const appLink = `${site.app_link_origin}${app.app_link_login_path}`;
    const urls = [...diagram.matchAll(/https:\/\/[^\s?…]+/g)].map((m) => m[0]);
    assert.deepEqual(urls, [page, appLink]);
  });
});
