// Introspection settings a bad configuration gets wrong: the real Envoy refuses to load the plugin, its log names
// the field (as for every other bad field, tests/e2e/filter/bad-config.test.mjs), `tollgate check` says the same,
// and neither ever prints the gateway's client secret.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvoyExpectingFailure } from '../../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../../lib/envoy-config.mjs';
import { requireWasm } from '../../lib/paths.mjs';
import { cliCheck } from '../../lib/schema.mjs';
import { secretSpellings } from './authz.mjs';
import { introspectingProvider, pluginConfig } from './stack.mjs';

const ISSUER = 'http://127.0.0.1:9';
const URL_ = `${ISSUER}/token/introspection`;
const JWKS = { keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', alg: 'ES256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] };

function plugin(introspection, provider = {}) {
  return pluginConfig({ providers: [introspectingProvider({ name: 'opaque', issuer: ISSUER, url: URL_, cluster: 'idsvr', introspection, provider })] });
}

const CASES = [
  { name: 'forward "jwt" with JSON answers (there is no JWT to forward)', plugin: () => plugin({ response: 'json', forward: 'jwt' }), field: 'providers[0].introspection.forward' },
  { name: 'RFC 9701 answers without keys to verify them', plugin: () => plugin({ response: 'jwt' }), field: 'providers[0].jwks' },
  { name: 'phantom answers without keys to verify them', plugin: () => plugin({ response: 'phantom' }), field: 'providers[0].jwks' },
  { name: 'an unknown answer kind', plugin: () => plugin({ response: 'xml' }, { jwks: { inline: JWKS } }), field: 'providers[0]' },
  {
    name: 'a secret named by a VM environment variable that is not set',
    plugin: () => plugin({ client_secret: { env: 'TOLLGATE_TEST_UNSET_INTROSPECTION_SECRET' } }),
    field: 'providers[0].introspection.client_secret',
  },
];

describe('bad introspection settings: Envoy refuses the plugin, the log names the field and never the secret', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const config = c.plugin();
      const checked = cliCheck(config);
      assert.equal(checked.code, 1, `tollgate check refuses it: ${checked.stdout}${checked.stderr}`);
      const envoyConfig = toYaml(bootstrap({ upstreamPort: 9, httpFilters: [tollgateFilter(config, { wasm: requireWasm(), schema: false })] }));
      const { code, log } = await startEnvoyExpectingFailure(envoyConfig, { name: 'introspection-bad-config' });
      assert.notEqual(code, 0, 'envoy exits non-zero');
      const line = log.split('\n').find((l) => l.includes('tollgate: invalid configuration:'));
      assert.ok(line, `no "tollgate: invalid configuration:" line in the Envoy log:\n${log}`);
      assert.ok(line.includes(`invalid configuration: ${c.field}`), `the log line names ${c.field}: ${line}`);
      for (const spelling of secretSpellings()) {
        assert.ok(!log.includes(spelling), 'the secret is not in the Envoy log');
        assert.ok(!`${checked.stdout}${checked.stderr}`.includes(spelling), 'the secret is not in tollgate check\'s output');
      }
    });
  }
});
