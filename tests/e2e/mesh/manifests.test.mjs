// The Istio and Envoy Gateway manifests (envoy/istio, envoy/gateway): every document validated against its
// upstream schema, deliberately broken ones refused with the field and the reason, the image pinned to what this
// tree builds, the cross-references between documents consistent, and each plugin configuration run in the real
// Envoy with a cluster named exactly as Istio / Envoy Gateway name it and with the stats configuration the mesh
// gives its Envoy plus the shipped bootstrap override (the filter's metrics as labelled Prometheus series).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, requireWasm } from '../lib/paths.mjs';
import { withEnvoy } from '../lib/envoy.mjs';
import { bootstrap, toYaml, tollgateFilter } from '../lib/envoy-config.mjs';
import { STATS_TAGS } from '../lib/metrics.mjs';
import { request } from '../lib/http.mjs';
import { mint } from '../fixtures/tokens.mjs';
import { findManifest, loadShippedManifests, manifestFiles, parseManifests, pluginConfigOf } from './lib/manifests.mjs';
import { validateManifest, EG_CRD_FILES } from './lib/validate.mjs';
import { startKeyServer, ISSUER_PATH, JWKS_PATH } from './lib/key-server.mjs';
import {
  ENVOY_GATEWAY_STATS_CONFIG, ISTIO_SIDECAR_STATS_CONFIG, bootstrapOverrideAnnotationsInReadme, envoyGatewayBootstrapOverride,
  istioBootstrapOverride,
} from './lib/mesh-bootstrap.mjs';
import { buildImages, summary, syncManifests, workspaceVersion } from '../../../scripts/oci-image.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const broken = (file) => parseManifests(readFileSync(path.join(HERE, 'broken', file), 'utf8'), file);
const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** Prometheus lines of family `name` (without the `# TYPE` line), as `labels-string → value`. */
function series(prom, name) {
  const out = new Map();
  for (const line of prom.split('\n')) {
    const m = line.match(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`));
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('deployment manifests: schema validation', () => {
  it('the Envoy Gateway CRDs kept as test data are the released v1.9.0 files', () => {
    const expected = {
      'gateway.envoyproxy.io_envoyextensionpolicies.yaml': '92f4dfdd67be4b242511381d6175f517782e655233fdf5b5e28a400ea5601f79',
      'gateway.envoyproxy.io_backends.yaml': 'bb1901aea758d05458b853b07db04a96a1ea4346b177e392e5ce7398573805be',
      'gateway.envoyproxy.io_envoyproxies.yaml': '3e9ea2f348445e3798b02daf02bf024b0d944227cf5ef8a18da7f675a1afd223',
    };
    for (const file of EG_CRD_FILES) {
      const hash = crypto.createHash('sha256').update(readFileSync(file)).digest('hex');
      assert.equal(hash, expected[path.basename(file)], `${file} differs from the release (see schemas/README.md)`);
    }
  });

  it('every document under envoy/istio and envoy/gateway passes its upstream schema', () => {
    const shipped = loadShippedManifests();
    const seen = shipped.map(({ file, object }) => `${file} ${object.kind} ${validateManifest(object).validator}`);
    assert.deepEqual(seen, [
      'envoy/istio/authorization-policy.yaml AuthorizationPolicy npm:security.istio.io/v1/AuthorizationPolicy',
      'envoy/istio/remote-jwks.yaml ServiceEntry npm:networking.istio.io/v1/ServiceEntry',
      'envoy/istio/remote-jwks.yaml DestinationRule npm:networking.istio.io/v1/DestinationRule',
      'envoy/istio/remote-jwks.yaml WasmPlugin npm:extensions.istio.io/v1alpha1/WasmPlugin',
      'envoy/istio/stats-tags.yaml ConfigMap npm:v1/ConfigMap',
      'envoy/istio/wasmplugin.yaml WasmPlugin npm:extensions.istio.io/v1alpha1/WasmPlugin',
      'envoy/gateway/backend.yaml Backend crd:backends.gateway.envoyproxy.io',
      'envoy/gateway/envoyextensionpolicy.yaml EnvoyExtensionPolicy crd:envoyextensionpolicies.gateway.envoyproxy.io',
      'envoy/gateway/envoyproxy.yaml EnvoyProxy crd:envoyproxies.gateway.envoyproxy.io',
      'envoy/gateway/gateway.yaml Gateway npm:gateway.networking.k8s.io/v1/Gateway',
      'envoy/gateway/httproute.yaml HTTPRoute npm:gateway.networking.k8s.io/v1/HTTPRoute',
      'envoy/gateway/httproute.yaml HTTPRoute npm:gateway.networking.k8s.io/v1/HTTPRoute',
    ], 'a new manifest needs its schema here');
    for (const { file, index, object } of shipped) {
      const result = validateManifest(object);
      assert.deepEqual(result.errors, [], `${file} document ${index} (${object.kind})`);
      assert.deepEqual(result.unevaluated, [], `${file} document ${index}: CEL rules this validator could not run`);
      if (result.validator.startsWith('crd:')) assert.ok(result.evaluated > 0, `${file}: its CRD's CEL rules ran`);
    }
  });

  it('a broken WasmPlugin is refused with each field and reason (npm schema)', () => {
    const [plugin] = broken('wasmplugin-typos.yaml');
    assert.deepEqual(validateManifest(plugin).errors, [
      'spec.failStrategy: must be equal to one of the allowed values: supported values: "FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"',
      'spec.match[0].ports[0].number: must be >= 1',
      'spec.phase: must be equal to one of the allowed values: supported values: "UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"',
      'spec.sha256: must match pattern "(^$|^[a-f0-9]{64}$)"',
    ]);
  });

  it('a broken EnvoyExtensionPolicy is refused: unknown field, CEL rules of the CRD', () => {
    const [policy] = broken('envoyextensionpolicy-broken.yaml');
    assert.deepEqual(validateManifest(policy).errors, [
      'spec.wasm[0].code: Invalid value: "object": If type is Image, image field needs to be set.',
      'unknown field "spec.wasm[0].failopen"',
      'spec: Invalid value: "object": this policy can only have a targetRefs[*].kind of Gateway/ListenerSet/HTTPRoute/GRPCRoute/TCPRoute/UDPRoute/TLSRoute',
    ]);
  });

  it('broken variants of the shipped Backend, HTTPRoute and ServiceEntry are refused', () => {
    const backend = findManifest('envoy/gateway/backend.yaml', 'Backend');
    const twoAddresses = structuredClone(backend);
    twoAddresses.spec.endpoints[0].ip = { address: '192.0.2.10', port: 443 };
    assert.deepEqual(validateManifest(twoAddresses).errors, ['spec.endpoints[0]: Invalid value: "object": only one of fqdn, ip or unix can be specified']);
    const badPort = structuredClone(backend);
    badPort.spec.endpoints[0].fqdn.port = 70000;
    badPort.spec.tls.insecureSkipVerify = true;
    assert.deepEqual(validateManifest(badPort).errors, [
      'spec.endpoints[0].fqdn.port: Invalid value: 70000: spec.endpoints[0].fqdn.port in body should be less than or equal to 65535',
      'spec.tls: Invalid value: "object": must not contain either CACertificateRefs or WellKnownCACertificates when InsecureSkipVerify is enabled',
    ]);
    const route = findManifest('envoy/gateway/httproute.yaml', 'HTTPRoute', 'tollgate-keys');
    route.spec.rules[0].matches[0].path.type = 'Prefix';
    assert.deepEqual(validateManifest(route).errors, [
      'spec.rules[0].matches[0].path.type: must be equal to one of the allowed values: supported values: "Exact", "PathPrefix", "RegularExpression"',
    ]);
    const entry = findManifest('envoy/istio/remote-jwks.yaml', 'ServiceEntry');
    entry.spec.resolution = 'DNS_LOOKUP';
    delete entry.spec.hosts;
    assert.deepEqual(validateManifest(entry).errors, [
      'spec: must have required property hosts',
      'spec.resolution: must be equal to one of the allowed values: supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"',
    ]);
  });

  it('broken variants of the shipped EnvoyProxy and ConfigMap are refused: CEL rule, enums, unknown field, types', () => {
    const proxy = findManifest('envoy/gateway/envoyproxy.yaml', 'EnvoyProxy');
    const mismatch = 'spec.bootstrap: Invalid value: "object": provided bootstrap patch doesn\'t match the configured patch type';
    const mergeWithoutValue = structuredClone(proxy);
    delete mergeWithoutValue.spec.bootstrap.value;
    assert.deepEqual(validateManifest(mergeWithoutValue).errors, [mismatch]);
    const patchWithoutPatches = structuredClone(proxy);
    patchWithoutPatches.spec.bootstrap.type = 'JSONPatch';
    patchWithoutPatches.spec.bootstrap.jsonPatches = [];
    assert.deepEqual(validateManifest(patchWithoutPatches).errors, [mismatch]);
    const typos = structuredClone(proxy);
    typos.spec.bootstrap.type = 'merge';
    typos.spec.mergeType = 'Strategic';
    typos.spec.bootstrap.values = typos.spec.bootstrap.value;
    assert.deepEqual(validateManifest(typos).errors, [
      'spec.mergeType: Unsupported value: "Strategic": supported values: "Replace", "StrategicMerge", "JSONMerge"',
      'spec.bootstrap.type: Unsupported value: "merge": supported values: "Merge", "Replace", "JSONPatch"',
      'unknown field "spec.bootstrap.values"',
    ]);
    const configMap = findManifest('envoy/istio/stats-tags.yaml', 'ConfigMap');
    configMap.data['custom_bootstrap.json'] = { stats_config: {} };
    assert.deepEqual(validateManifest(configMap).errors, ['data.custom_bootstrap.json: must be string']);
  });

  it('a kind without a schema and a YAML file with a duplicate key are errors, not passes', () => {
    assert.deepEqual(validateManifest({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'x' } }).errors,
      ['no schema for apiVersion networking.istio.io/v1alpha3 kind EnvoyFilter']);
    assert.throws(() => broken('duplicate-key.yaml'), /^Error: duplicate-key\.yaml: Map keys must be unique at line 8, column 3/);
  });
});

describe('deployment manifests: what they say', () => {
  it('every image reference names the workspace version and pins the digest of the image this tree builds', () => {
    const s = summary(buildImages(readFileSync(requireWasm())));
    assert.equal(s.version, workspaceVersion());
    assert.deepEqual(syncManifests(s), [], 'run: node scripts/oci-image.mjs --update-manifests');
    const plugins = ['envoy/istio/wasmplugin.yaml', 'envoy/istio/remote-jwks.yaml'].map((f) => findManifest(f, 'WasmPlugin'));
    for (const p of plugins) {
      assert.equal(p.spec.url, `oci://registry.example.com/tollgate/tollgate-filter:${s.version}`);
      assert.equal(p.spec.sha256, s.sha256ForOciUrl);
    }
    const image = findManifest('envoy/gateway/envoyextensionpolicy.yaml', 'EnvoyExtensionPolicy').spec.wasm[0].code.image;
    assert.deepEqual(image, { url: `registry.example.com/tollgate/tollgate-filter:${s.version}`, sha256: s.sha256ForOciUrl });
    assert.deepEqual(manifestFiles().filter((f) => !loadShippedManifests().some((m) => m.file === f)), [], 'no empty manifest files');
  });

  it('Istio: the two WasmPlugins differ only in the keys; inbound API port, AUTHN, FAIL_CLOSE', () => {
    const inline = findManifest('envoy/istio/wasmplugin.yaml', 'WasmPlugin');
    const remote = findManifest('envoy/istio/remote-jwks.yaml', 'WasmPlugin');
    const { pluginConfig: a, ...specA } = inline.spec;
    const { pluginConfig: b, ...specB } = remote.spec;
    assert.deepEqual(specA, specB);
    assert.deepEqual(inline.metadata, remote.metadata);
    assert.equal(specA.phase, 'AUTHN');
    assert.equal(specA.failStrategy, 'FAIL_CLOSE');
    assert.equal(specA.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(specA.match, [{ mode: 'SERVER', ports: [{ number: 8080 }] }]);
    const strip = ({ providers, ...rest }) => ({ ...rest, providers: providers.map(({ jwks: _keys, ...p }) => p) });
    assert.deepEqual(strip(a), strip(b));
  });

  it('Istio: the plugin names the cluster Istio builds for the ServiceEntry, and the DestinationRule gives it TLS', () => {
    const entry = findManifest('envoy/istio/remote-jwks.yaml', 'ServiceEntry');
    const rule = findManifest('envoy/istio/remote-jwks.yaml', 'DestinationRule');
    const plugin = findManifest('envoy/istio/remote-jwks.yaml', 'WasmPlugin');
    const [host] = entry.spec.hosts;
    const [port] = entry.spec.ports;
    const { cluster } = plugin.spec.pluginConfig.providers[0].jwks.discovery;
    assert.equal(cluster, `outbound|${port.number}||${host}`);
    assert.equal(new URL(plugin.spec.pluginConfig.providers[0].issuer).host, host);
    assert.equal(rule.spec.host, host);
    assert.deepEqual(rule.spec.workloadSelector, plugin.spec.selector);
    assert.deepEqual(rule.spec.trafficPolicy.portLevelSettings, [{ port: { number: port.number }, tls: { mode: 'SIMPLE', sni: host } }]);
  });

  it('the bootstrap overrides add exactly the stats_tags of the standalone configs, and are referenced', () => {
    const istio = istioBootstrapOverride();
    assert.deepEqual(istio.value, { stats_config: { stats_tags: STATS_TAGS } }, 'envoy/istio/stats-tags.yaml custom_bootstrap.json');
    assert.deepEqual(Object.keys(istio.configMap.data), ['custom_bootstrap.json'], 'the key the injected ISTIO_BOOTSTRAP_OVERRIDE names');
    const plugin = findManifest('envoy/istio/wasmplugin.yaml', 'WasmPlugin');
    assert.equal(istio.configMap.metadata.namespace, plugin.metadata.namespace, 'a ConfigMap volume is read from the pod\'s namespace');
    assert.deepEqual(bootstrapOverrideAnnotationsInReadme(), [istio.configMap.metadata.name, istio.configMap.metadata.name], 'envoy/istio/README.md deploy step');

    const eg = envoyGatewayBootstrapOverride();
    assert.deepEqual(eg.value, { stats_config: { stats_tags: STATS_TAGS } }, 'envoy/gateway/envoyproxy.yaml bootstrap value');
    assert.equal(eg.proxy.spec.mergeType, 'StrategicMerge', 'adds to the GatewayClass\'s EnvoyProxy instead of replacing it');
    const gateway = findManifest('envoy/gateway/gateway.yaml', 'Gateway');
    assert.equal(eg.proxy.metadata.namespace, gateway.metadata.namespace, 'a Gateway\'s parametersRef is local to its namespace');
    assert.deepEqual(gateway.spec.infrastructure.parametersRef, { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: eg.proxy.metadata.name });
  });

  it('Envoy Gateway: the policy targets the API route, its cluster is the keys route rule that leads to the Backend', () => {
    const policy = findManifest('envoy/gateway/envoyextensionpolicy.yaml', 'EnvoyExtensionPolicy');
    const backend = findManifest('envoy/gateway/backend.yaml', 'Backend');
    const gateway = findManifest('envoy/gateway/gateway.yaml', 'Gateway');
    const routes = loadShippedManifests().filter((m) => m.object.kind === 'HTTPRoute').map((m) => m.object);
    assert.deepEqual(policy.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'orders-api' }]);
    assert.ok(routes.some((r) => r.metadata.name === 'orders-api' && r.metadata.namespace === policy.metadata.namespace));
    for (const r of routes) assert.deepEqual(r.spec.parentRefs, [{ name: gateway.metadata.name }]);
    assert.equal(policy.spec.wasm[0].failOpen, false);
    const { remote } = pluginConfigOf(policy).providers[0].jwks;
    const [, ns, name, index] = /^httproute\/([^/]+)\/([^/]+)\/rule\/(\d+)$/.exec(remote.cluster) ?? [];
    const route = routes.find((r) => r.metadata.namespace === ns && r.metadata.name === name);
    assert.ok(route, `no HTTPRoute ${ns}/${name} for cluster ${remote.cluster}`);
    const rule = route.spec.rules[Number(index)];
    assert.deepEqual(rule.backendRefs, [{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: backend.metadata.name, port: 443 }]);
    assert.deepEqual(rule.matches, [{ path: { type: 'Exact', value: new URL(remote.url).pathname }, method: 'GET' }]);
    assert.deepEqual(backend.spec.endpoints, [{ fqdn: { hostname: new URL(remote.url).hostname, port: 443 } }]);
    assert.equal(backend.spec.tls.sni, new URL(remote.url).hostname);
  });
});

/** stats_config of the bootstrap Envoy runs with (after the --config-yaml merge), from its config dump. */
async function runningStatsConfig(envoy) {
  const dump = JSON.parse(await envoy.admin('/config_dump'));
  const boot = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump');
  return boot.bootstrap.stats_config;
}

/**
 * Envoy with the filter configured as a manifest says, an extra cluster named as the mesh names it, the mesh's own
 * stats configuration (`meshStatsConfig`, in place of the test helper's stats_tags) and the shipped bootstrap
 * override (`override`, text) merged into it by Envoy (--config-yaml, see lib/mesh-bootstrap.mjs).
 */
function withMeshEnvoy({ pluginConfig, clusterName, keyServerPort, name, meshStatsConfig, override }, fn) {
  const config = (upstreamPort) => {
    const boot = bootstrap({ upstreamPort, httpFilters: [tollgateFilter(pluginConfig, { wasm: requireWasm() })] });
    boot.stats_config = structuredClone(meshStatsConfig);
    boot.static_resources.clusters.push({
      name: clusterName,
      type: 'STATIC',
      connect_timeout: '1s',
      load_assignment: {
        cluster_name: clusterName,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: keyServerPort } } } }] }],
      },
    });
    return toYaml(boot);
  };
  return withEnvoy(config, { name, extraArgs: ['--config-yaml', override] }, fn);
}

describe('deployment manifests: the plugin configurations in the real Envoy', () => {
  let keys;
  before(async () => {
    keys = await startKeyServer();
  });
  after(async () => {
    await keys?.close();
  });

  it('Istio remote-jwks.yaml + stats-tags.yaml: discovery and JWKS through outbound|443||login.example.com; tokens accepted; labelled Prometheus series', async () => {
    const plugin = findManifest('envoy/istio/remote-jwks.yaml', 'WasmPlugin');
    const clusterName = plugin.spec.pluginConfig.providers[0].jwks.discovery.cluster;
    assert.equal(clusterName, 'outbound|443||login.example.com');
    keys.seen.length = 0;
    const mesh = { meshStatsConfig: ISTIO_SIDECAR_STATS_CONFIG, override: istioBootstrapOverride().text };
    await withMeshEnvoy({ pluginConfig: plugin.spec.pluginConfig, clusterName, keyServerPort: keys.port, name: 'mesh-istio-remote', ...mesh }, async (envoy, upstream) => {
      // The override's tags come after Istio's own; Istio's stats matcher and use_all_default_tags stay.
      const running = await runningStatsConfig(envoy);
      assert.deepEqual(running.stats_tags, [...ISTIO_SIDECAR_STATS_CONFIG.stats_tags, ...STATS_TAGS]);
      assert.equal(running.use_all_default_tags, false);
      assert.deepEqual(running.stats_matcher, ISTIO_SIDECAR_STATS_CONFIG.stats_matcher);
      const port = envoy.listenerPort('ingress');
      const ok = await request(port, { path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.json.headers['x-user-id'], 'user-1234');
      const write = await request(port, { method: 'POST', path: '/orders', headers: bearer(await mint({ scope: 'orders:read' })) });
      assert.equal(write.status, 403, write.body);
      assert.equal((await request(port, { path: '/orders' })).status, 401);
      assert.equal((await request(port, { path: '/health' })).status, 200);
      assert.deepEqual(keys.seen, [
        { method: 'GET', url: `${ISSUER_PATH}/.well-known/openid-configuration`, host: 'login.example.com' },
        { method: 'GET', url: JWKS_PATH, host: 'login.example.com' },
      ]);
      assert.equal(upstream.seen.length, 2);
      assert.equal(await envoy.counter('wasmcustom.tollgate.prefix.tollgate.provider.idsvr.jwks_fetch_success'), 1);
      // Istio's stats matcher keeps only its prefixes: the listener's own counters are gone, the filter's ("wasm") stay.
      assert.equal(await envoy.counter('http.ingress.downstream_rq_total'), undefined);
      // What a Prometheus scrape of the sidecar sees: Envoy strips the wasmcustom namespace, adds no envoy_, and the
      // labels come out of the name.
      const prom = await envoy.admin('/stats/prometheus');
      assert.deepEqual([...series(prom, 'tollgate_allowed')], [
        ['stat_prefix="tollgate",provider="idsvr"', 1],
        ['stat_prefix="tollgate",provider="none"', 1],
      ]);
      assert.deepEqual([...series(prom, 'tollgate_denied')], [
        ['stat_prefix="tollgate",provider="idsvr",reason="insufficient_scope"', 1],
        ['stat_prefix="tollgate",provider="none",reason="missing_token"', 1],
      ]);
      assert.equal(series(prom, 'tollgate_jwks_keys').get('stat_prefix="tollgate",provider="idsvr"'), 3);
      assert.equal(series(prom, 'tollgate_jwks_fetch_success').get('stat_prefix="tollgate",provider="idsvr"'), 1);
      assert.doesNotMatch(prom, /^tollgate_[a-z_]*(prefix|provider|reason|signature_path)_/m, 'a label left in a family name');
    });
  });

  it('Envoy Gateway envoyextensionpolicy.yaml + envoyproxy.yaml: JWKS through httproute/orders/tollgate-keys/rule/0; tokens accepted; labelled Prometheus series', async () => {
    const policy = findManifest('envoy/gateway/envoyextensionpolicy.yaml', 'EnvoyExtensionPolicy');
    const pluginConfig = pluginConfigOf(policy);
    const clusterName = pluginConfig.providers[0].jwks.remote.cluster;
    assert.equal(clusterName, 'httproute/orders/tollgate-keys/rule/0');
    keys.seen.length = 0;
    const mesh = { meshStatsConfig: ENVOY_GATEWAY_STATS_CONFIG, override: envoyGatewayBootstrapOverride().text };
    await withMeshEnvoy({ pluginConfig, clusterName, keyServerPort: keys.port, name: 'mesh-eg-remote', ...mesh }, async (envoy) => {
      const running = await runningStatsConfig(envoy);
      assert.deepEqual(running.stats_tags, [...ENVOY_GATEWAY_STATS_CONFIG.stats_tags, ...STATS_TAGS]);
      assert.equal(running.use_all_default_tags, true);
      const port = envoy.listenerPort('ingress');
      const ok = await request(port, { method: 'POST', path: '/orders', headers: bearer(await mint({ scope: 'orders:write', alg: 'EdDSA' })) });
      assert.equal(ok.status, 200, ok.body);
      const expired = await request(port, { path: '/orders', headers: bearer(await mint({ iat: -400, exp: -60 })) });
      assert.equal(expired.status, 401, expired.body);
      assert.match(expired.headers['www-authenticate'], /^Bearer realm="orders-api", error="invalid_token"/);
      assert.deepEqual(keys.seen, [{ method: 'GET', url: JWKS_PATH, host: 'login.example.com' }]);
      const prom = await envoy.admin('/stats/prometheus');
      assert.deepEqual([...series(prom, 'tollgate_allowed')], [
        ['stat_prefix="tollgate",provider="idsvr"', 1],
        ['stat_prefix="tollgate",provider="none"', 0],
      ]);
      assert.deepEqual([...series(prom, 'tollgate_denied')], [['stat_prefix="tollgate",provider="idsvr",reason="expired"', 1]]);
      assert.equal(series(prom, 'tollgate_jwks_keys').get('stat_prefix="tollgate",provider="idsvr"'), 3);
      assert.equal(series(prom, 'tollgate_signatures').get('stat_prefix="tollgate",signature_path="wasm"'), 1);
      assert.doesNotMatch(prom, /^tollgate_[a-z_]*(prefix|provider|reason|signature_path)_/m, 'a label left in a family name');
    });
  });
});
