// A bad plugin configuration never yields a running but unprotected API: Envoy refuses to load the plugin (so the
// listener never comes up) and its log names the wrong field: "tollgate: invalid configuration: <field>: <message>".
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEnvoyExpectingFailure, startEnvoy, validateConfigText } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { requireWasm } from '../lib/paths.mjs';
import { scenarioConfig } from './harness.mjs';
import { IDSVR_JWKS } from '../fixtures/tokens.mjs';
import { cliCheck, schemaErrors } from '../lib/schema.mjs';

function withProvider(change) {
  const cfg = scenarioConfig();
  cfg.providers[0] = { ...cfg.providers[0], ...change };
  return cfg;
}

// `schema`: what filter/tollgate.schema.json says. It describes types and members, so it refuses what the filter
// refuses for an unknown field or a wrong type, and accepts what only the filter's own checks refuse.
const CASES = [
  { name: 'empty issuer', plugin: () => withProvider({ issuer: '' }), field: 'providers[0].issuer', schema: 'accepts' },
  { name: 'unsupported algorithm', plugin: () => withProvider({ algorithms: ['HS256'] }), field: 'providers[0].algorithms', schema: 'accepts' },
  {
    name: 'a JWKS key that cannot be imported',
    plugin: () => withProvider({ jwks: { inline: { keys: [{ kty: 'EC', crv: 'P-256', kid: 'broken', alg: 'ES256', x: 'AAAA', y: 'AAAA' }] } } }),
    field: 'providers[0].jwks.inline.keys[0]',
    schema: 'accepts',
  },
  { name: 'an unknown field', plugin: () => ({ ...scenarioConfig(), claims_to_header: {} }), field: 'claims_to_header', schema: 'refuses' },
  { name: 'an unknown field inside a provider', plugin: () => withProvider({ audience: 'api.example.com' }), field: 'providers[0]', schema: 'refuses' },
  { name: 'a wrong type', plugin: () => ({ ...scenarioConfig(), cache_size: '5000' }), field: 'cache_size', schema: 'refuses' },
  { name: 'no providers', plugin: () => ({ ...scenarioConfig(), providers: [] }), field: 'providers', schema: 'accepts' },
  { name: 'not JSON at all', plugin: () => '{"providers": [', field: '' },
];

describe('bad plugin configuration: Envoy refuses the plugin and the log names the field', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const plugin = c.plugin();
      if (c.schema) assert.equal(schemaErrors(plugin) === null ? 'accepts' : 'refuses', c.schema, 'the schema\'s verdict');
      // tollgate check refuses it with the line the filter logs (compared below with Envoy's).
      const checked = cliCheck(plugin);
      assert.equal(checked.code, 1, checked.stdout);
      const cliLine = checked.stderr.trim().replace(/^-: /, '');
      const config = toYaml(bootstrap({ upstreamPort: 9, httpFilters: [tollgateFilter(plugin, { wasm: requireWasm(), schema: false })] }));
      const { code, log } = await startEnvoyExpectingFailure(config, { name: 'bad-config' });
      assert.notEqual(code, 0, 'envoy exits non-zero');
      const line = log.split('\n').find((l) => l.includes('tollgate: invalid configuration:'));
      assert.ok(line, `no "tollgate: invalid configuration:" line in the Envoy log:\n${log}`);
      assert.match(line, /\[critical\]/, 'logged at critical level');
      if (c.field) assert.ok(line.includes(`invalid configuration: ${c.field}`), `the log line names ${c.field}: ${line}`);
      assert.ok(line.endsWith(`tollgate: ${cliLine}`), `tollgate check says what the filter logs:\n${cliLine}\n${line}`);
      // `envoy --mode validate` runs the plugin's on_configure too, so CI's validate step catches it as well.
      const validated = await validateConfigText(config);
      assert.equal(validated.ok, false, 'envoy --mode validate rejects it');
      assert.ok(validated.output.includes(line.slice(line.indexOf('tollgate: invalid configuration:'))), `validate names the field:\n${validated.output}`);
    });
  }

  it('the same configuration with the field fixed starts (the failures above are about the field)', async () => {
    const config = toYaml(bootstrap({ upstreamPort: 9, httpFilters: [tollgateFilter(withProvider({ jwks: { inline: IDSVR_JWKS } }), { wasm: requireWasm() })] }));
    const envoy = await startEnvoy(config, { name: 'good-config' });
    await envoy.stop();
  });
});
