// The fixtures are generated, not pasted: re-running the generator changes nothing, the TEST-ONLY private keys
// match the published JWKS (a token signed with each verifies against it with jose), and every private key file says
// TEST/DEMO ONLY in its name and content.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { runToCompletion } from '../lib/proc.mjs';
import { mint, IDSVR_JWKS, PARTNER_JWKS, ISSUER, PARTNER_ISSUER, AUDIENCE, KID } from '../fixtures/tokens.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

describe('fixtures', () => {
  it('generate.mjs --check: the checked-in fixtures and the JWKS in envoy/** are what the generator writes', async () => {
    const { code, output } = await runToCompletion(process.execPath, [path.join(FIXTURES, 'generate.mjs'), '--check']);
    assert.equal(code, 0, output);
  });

  it('tokens minted with each TEST-ONLY key verify against the published JWKS (jose)', async () => {
    for (const [alg, kid, iss, jwks] of [
      ['ES256', KID.ES256, ISSUER, IDSVR_JWKS],
      ['EdDSA', KID.EdDSA, ISSUER, IDSVR_JWKS],
      ['RS256', KID.RS256, ISSUER, IDSVR_JWKS],
      ['ES256', KID.PARTNER, PARTNER_ISSUER, PARTNER_JWKS],
    ]) {
      const token = await mint({ alg, kid, iss, sub: `sub-${kid}` });
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: iss, audience: AUDIENCE, typ: 'at+jwt', algorithms: [alg],
      });
      assert.equal(protectedHeader.kid, kid);
      assert.equal(payload.sub, `sub-${kid}`);
    }
  });

  it('the published JWKS carry no private key material', () => {
    for (const jwks of [IDSVR_JWKS, PARTNER_JWKS]) {
      for (const k of jwks.keys) {
        for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `${k.kid}.${priv}`);
      }
    }
  });

  it('every private key file says TEST/DEMO ONLY in its name and its content', () => {
    const dir = path.join(FIXTURES, 'keys');
    const files = readdirSync(dir);
    assert.ok(files.length >= 2, files.join(', '));
    for (const f of files) {
      assert.match(f, /TEST-ONLY/, `file name ${f}`);
      assert.match(readFileSync(path.join(dir, f), 'utf8'), /TEST\/DEMO ONLY/, `content of ${f}`);
    }
  });
});
