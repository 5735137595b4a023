// filter/tollgate.schema.json, checked with an independent validator (ajv, draft 2020-12): every plugin
// configuration we ship satisfies it (the Envoy examples, the demo and benchmark templates, the Istio and Envoy
// Gateway manifests), and what the filter refuses for an unknown field or a wrong type, the schema refuses too.
// Every configuration the rest of the suite loads is checked where it is built (lib/envoy-config.mjs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../lib/paths.mjs';
import { runToCompletion } from '../lib/proc.mjs';
import { requireCli, SCHEMA, schemaErrors } from '../lib/schema.mjs';
import { loadShippedManifests, pluginConfigOf } from '../mesh/lib/manifests.mjs';
import { scenarioConfig } from './harness.mjs';

const WASM = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';

function envoyFiles(dir = path.join(REPO, 'envoy'), out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) envoyFiles(p, out);
    else if (/\.ya?ml$/.test(name) && !/^envoy\/(istio|gateway)\//.test(path.relative(REPO, p))) out.push(path.relative(REPO, p));
  }
  return out;
}

/** The plugin configurations of the tollgate filters in an Envoy configuration (templates rendered with 0s). */
function envoyPluginConfigs(rel) {
  const text = readFileSync(path.join(REPO, rel), 'utf8').replace(/\{\{\w+\}\}/g, '0');
  const found = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (v['@type'] === WASM && v.config?.configuration?.value) found.push(JSON.parse(v.config.configuration.value));
      else Object.values(v).forEach(walk);
    }
  };
  for (const doc of parseAllDocuments(text)) walk(doc.toJS({ maxAliasCount: 0 }));
  return found;
}

describe('the configuration schema (filter/tollgate.schema.json) with an independent validator', () => {
  it('is draft 2020-12', () => {
    assert.equal(SCHEMA.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(SCHEMA.required, ['providers', 'rules']);
    assert.equal(SCHEMA.additionalProperties, false);
  });

  it('every shipped Envoy configuration and template with the filter satisfies it', () => {
    let n = 0;
    for (const rel of envoyFiles()) {
      for (const config of envoyPluginConfigs(rel)) {
        assert.equal(schemaErrors(config), null, rel);
        n += 1;
      }
    }
    assert.ok(n >= 10, `only ${n} plugin configurations found under envoy/`);
  });

  it('every Istio and Envoy Gateway manifest\'s plugin configuration satisfies it', () => {
    const plugins = loadShippedManifests().filter((m) => ['WasmPlugin', 'EnvoyExtensionPolicy'].includes(m.object.kind));
    assert.ok(plugins.length >= 3, `${plugins.length} plugin manifests`);
    for (const m of plugins) assert.equal(schemaErrors(pluginConfigOf(m.object)), null, m.file);
  });

  it('the suite\'s base configuration satisfies it', () => {
    assert.equal(schemaErrors(scenarioConfig()), null);
  });

  // Refused by the filter's parser for an unknown member or a wrong type: the schema must refuse each one too.
  const REFUSED = [
    ['an unknown top-level field', (c) => ({ ...c, claims_to_header: {} }), 'claims_to_header'],
    ['an unknown provider field', (c) => ({ ...c, providers: [{ ...c.providers[0], audience: 'x' }] }), 'providers[0]'],
    ['an unknown rule field', (c) => ({ ...c, rules: [{ ...c.rules[0], scope: ['a'] }] }), 'rules[0]'],
    ['an unknown match field', (c) => ({ ...c, rules: [{ match: { prefixes: '/' } }] }), 'rules[0].match'],
    ['a string for a number', (c) => ({ ...c, cache_size: '5000' }), 'cache_size'],
    ['a negative number', (c) => ({ ...c, max_token_bytes: -1 }), 'max_token_bytes'],
    ['a number for a boolean', (c) => ({ ...c, forward_token: 0 }), 'forward_token'],
    ['a string for a list', (c) => ({ ...c, providers: [{ ...c.providers[0], audiences: 'api.example.com' }] }), 'providers[0].audiences'],
    ['an unknown mode', (c) => ({ ...c, mode: 'dryrun' }), 'mode'],
    ['an unknown binding', (c) => ({ ...c, providers: [{ ...c.providers[0], binding: 'DPoP' }] }), 'providers[0].binding'],
    ['two key sources', (c) => ({ ...c, providers: [{ ...c.providers[0], jwks: { ...c.providers[0].jwks, discovery: { cluster: 'x' } } }] }), 'providers[0].jwks'],
    ['no rules', (c) => { const { rules, ...rest } = c; return rest; }, 'rules'],
  ];
  for (const [name, change, field] of REFUSED) {
    it(`refuses what the filter refuses: ${name}`, async () => {
      const config = change(scenarioConfig());
      assert.notEqual(schemaErrors(config), null, 'the schema refuses it');
      const file = path.join(REPO, 'target', `schema-test-${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(config));
      const { code, output } = await runToCompletion(requireCli(), ['check', file]);
      assert.equal(code, 1, output);
      assert.ok(output.includes(`invalid configuration: ${field}`), output);
    });
  }
});
