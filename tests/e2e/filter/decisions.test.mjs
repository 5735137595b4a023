// The shared decision table (tests/e2e/fixtures/decisions.json) against the real Envoy: every example request of
// envoy/examples/basic gets the status, WWW-Authenticate, body and claim headers the table says. The Rust test of the
// command line (filter/cli/tests/cli.rs) asks `tollgate explain` the same questions from the same table, so the two
// cannot drift apart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../lib/paths.mjs';
import { startEnvoy } from '../lib/envoy.mjs';
import { exampleConfig } from '../lib/examples.mjs';
import { request } from '../lib/http.mjs';
import { mint } from '../fixtures/tokens.mjs';

const TABLE = JSON.parse(readFileSync(path.join(REPO, 'tests/e2e/fixtures/decisions.json'), 'utf8'));
/** The example echoes the claim headers the API received as x-seen-<name without x->. */
const CLAIM_HEADERS = ['x-user-id', 'x-client-id', 'x-token-scope'];
const seen = (name) => `x-seen-${name.slice(2)}`;

describe(`the shared decision table on ${TABLE.config} with the real Envoy`, () => {
  let envoy;
  before(async () => {
    assert.equal(TABLE.config, 'envoy/examples/basic/envoy.yaml', 'the table is about the basic example');
    envoy = await startEnvoy(exampleConfig(TABLE.config), { name: 'decisions' });
  });
  after(async () => envoy?.stop());

  for (const row of TABLE.requests) {
    it(row.name, async () => {
      const headers = { ...(row.headers ?? {}) };
      if (row.token) headers.authorization = `Bearer ${await mint(row.token)}`;
      const res = await request(envoy.listenerPort('api'), { method: row.method, path: row.path, headers });
      const { expect } = row;
      assert.equal(res.status, expect.status, res.body);
      assert.equal(res.headers['www-authenticate'] ?? null, expect.www_authenticate);
      if (expect.body !== undefined) assert.equal(res.body, expect.body);
      if (expect.upstream_headers !== undefined) {
        for (const name of CLAIM_HEADERS) {
          assert.equal(res.headers[seen(name)], expect.upstream_headers[name], `${name} as the API received it`);
        }
      }
    });
  }
});
