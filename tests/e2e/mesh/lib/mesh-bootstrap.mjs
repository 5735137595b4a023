// What a mesh puts into its Envoy's bootstrap before our override, and the override as the shipped manifests
// carry it. The mesh tests run the real Envoy with the mesh's own stats configuration and hand it the override
// with --config-yaml, so Envoy itself merges the two as protobuf messages:
//   - Istio: the agent passes the file of ISTIO_BOOTSTRAP_OVERRIDE (the ConfigMap named by the pod annotation
//     sidecar.istio.io/bootstrapOverride, mounted at /etc/istio/custom-bootstrap) to Envoy with --config-yaml
//     (pkg/envoy/proxy.go). This is exactly that.
//   - Envoy Gateway (bootstrap.type Merge): the controller merges the value into its default bootstrap with
//     protobuf merge semantics (internal/xds/bootstrap/util.go, mergeBootstrap) and hands Envoy the result; Envoy's
//     --config-yaml is the same merge (repeated fields appended, messages merged field by field, scalars
//     replaced; Envoy Gateway additionally replaces a Duration whole, which no field here uses).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { findManifest } from './manifests.mjs';
import { REPO } from '../../lib/paths.mjs';

/**
 * `stats_config` of the sidecar bootstrap Istio 1.29.2 generates with default settings (no extra stat tags, no
 * stats-matcher annotation or proxyStatsMatcher): tools/packaging/common/envoy_bootstrap.json, with the inclusion
 * list of pkg/bootstrap/config.go (getStatsOptions; "wasm" is among the prefixes it always adds). Only these
 * stats are kept, so the test also shows that the filter's metrics pass Istio's stats matcher.
 */
export const ISTIO_SIDECAR_STATS_CONFIG = {
  use_all_default_tags: false,
  stats_tags: [
    { tag_name: 'cluster_name', regex: '^cluster(\\.(.+);)' },
    { tag_name: 'http_conn_manager_prefix', regex: '^http\\.(((?:[_.[:digit:]\\w]*|[_\\[\\]aAbBcCdDeEfF[:digit:]\\w\\:]*));\\.)' },
    { tag_name: 'thread_name', regex: '^server(\\.(.+))\\.watchdog' },
    { tag_name: 'tcp_prefix', regex: '^tcp\\.((.*?)\\.)\\w+?$' },
    { tag_name: 'response_code', regex: '_rq(_(\\d{3}))$' },
    { tag_name: 'response_code_class', regex: '_rq(_(\\dxx))$' },
    { tag_name: 'http_conn_manager_listener_prefix', regex: '^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)' },
    { tag_name: 'listener_address', regex: '^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)' },
    { tag_name: 'mongo_prefix', regex: '^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$' },
    { tag_name: 'cache', regex: '(cache\\.(.+?)\\.)' },
    { tag_name: 'component', regex: '(component\\.(.+?)\\.)' },
    { tag_name: 'tag', regex: '(tag\\.(.+?);\\.)' },
    { tag_name: 'wasm_filter', regex: '(wasm_filter\\.(.+?)\\.)' },
    { tag_name: 'authz_enforce_result', regex: 'rbac(\\.(allowed|denied))' },
    { tag_name: 'authz_dry_run_action', regex: '(\\.istio_dry_run_(allow|deny)_)' },
    { tag_name: 'authz_dry_run_result', regex: '(\\.shadow_(allowed|denied))' },
  ],
  stats_matcher: {
    inclusion_list: {
      patterns: [
        { prefix: 'reporter=' },
        ...['cluster_manager', 'listener_manager', 'server', 'cluster.xds-grpc', 'wasm'].map((prefix) => ({ prefix })),
        ...['rbac.allowed', 'rbac.denied', 'shadow_allowed', 'shadow_denied'].map((suffix) => ({ suffix })),
        { safe_regex: { regex: 'vhost\\..*\\.route\\..*' } },
        { prefix: 'component' },
        { prefix: 'istio' },
      ],
    },
  },
};

/**
 * `stats_config` of Envoy Gateway v1.9.0's default proxy bootstrap (internal/xds/bootstrap/bootstrap.yaml.tpl;
 * no stats matcher unless the EnvoyProxy's telemetry sets one).
 */
export const ENVOY_GATEWAY_STATS_CONFIG = {
  use_all_default_tags: true,
  stats_tags: [
    { tag_name: 'from_zone', regex: '\\.zone(\\.(([^\\.]+)\\.))' },
    { tag_name: 'to_zone', regex: '\\.zone\\.[^\\.]+\\.(([^\\.]+)\\.)' },
    { tag_name: 'socket_match_name', regex: '^cluster(\\..+\\.(.+))\\.total_match_count$' },
    { tag_name: 'priority', regex: 'circuit_breakers\\.((.+?)\\.).+' },
  ],
};

/** The ConfigMap (envoy/istio/stats-tags.yaml) and the text of its custom_bootstrap.json, as the agent reads it. */
export function istioBootstrapOverride() {
  const configMap = findManifest('envoy/istio/stats-tags.yaml', 'ConfigMap');
  const text = configMap.data?.['custom_bootstrap.json'];
  if (typeof text !== 'string') throw new Error('envoy/istio/stats-tags.yaml: no data.custom_bootstrap.json');
  return { configMap, text, value: JSON.parse(text) };
}

/** The EnvoyProxy (envoy/gateway/envoyproxy.yaml) and its bootstrap value (YAML text) as Envoy Gateway merges it. */
export function envoyGatewayBootstrapOverride() {
  const proxy = findManifest('envoy/gateway/envoyproxy.yaml', 'EnvoyProxy');
  const { type, value } = proxy.spec.bootstrap ?? {};
  if (type !== 'Merge' || typeof value !== 'string') throw new Error('envoy/gateway/envoyproxy.yaml: expected bootstrap type Merge with a value');
  return { proxy, text: value, value: parseYaml(value, { uniqueKeys: true, strict: true }) };
}

/**
 * The ConfigMap names given to the annotation `sidecar.istio.io/bootstrapOverride` in envoy/istio/README.md (the
 * deploy step sets it in JSON, for kubectl patch, and shows it in YAML; `<ConfigMap>` placeholders are not names).
 */
export function bootstrapOverrideAnnotationsInReadme() {
  const readme = readFileSync(path.join(REPO, 'envoy/istio/README.md'), 'utf8');
  return [...readme.matchAll(/sidecar\.istio\.io\/bootstrapOverride"?:\s*"?([a-z0-9][-a-z0-9.]*)/g)].map((m) => m[1]);
}
