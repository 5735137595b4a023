// Envoy bootstrap configs for tests, built as objects and written as JSON (valid YAML).
// Every listener and the admin bind 127.0.0.1 port 0: the kernel picks free ports, the runner reads them back.
import { STATS_TAGS } from './metrics.mjs';
import { wasmPath } from './paths.mjs';
import { cliCheck, schemaErrors, SCHEMA_PATH } from './schema.mjs';

/**
 * The tollgate HTTP filter entry: envoy.filters.http.wasm, V8, local .wasm, plugin config as StringValue JSON. As in
 * the shipped configs, `vm_id` is `tollgate` and `name` names the instance: Envoy starts the filter's lines with
 * `wasm log <name> tollgate:` on requests and `wasm log tollgate:` for the plugin's own (configuration, keys).
 *
 * Every plugin configuration given as an object must satisfy the configuration's JSON Schema and pass `tollgate
 * check`, so each one the suite loads holds the schema and the command line to what the filter accepts; `schema:
 * false` skips both for a configuration a test makes wrong on purpose (tests/e2e/filter/bad-config.test.mjs checks
 * their answers on those itself).
 */
export function tollgateFilter(pluginConfig, { wasm = wasmPath(), name = 'api', vmId = 'tollgate', schema = true } = {}) {
  if (schema && typeof pluginConfig !== 'string') {
    const errors = schemaErrors(pluginConfig);
    if (errors) throw new Error(`the plugin configuration does not satisfy ${SCHEMA_PATH}: ${errors}`);
    const checked = cliCheck(pluginConfig);
    if (checked.code !== 0) throw new Error(`tollgate check refuses the plugin configuration: ${checked.stderr}${checked.stdout}`);
  }
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name,
        vm_config: {
          vm_id: vmId,
          runtime: 'envoy.wasm.runtime.v8',
          code: { local: { filename: wasm } },
        },
        configuration: {
          '@type': 'type.googleapis.com/google.protobuf.StringValue',
          value: typeof pluginConfig === 'string' ? pluginConfig : JSON.stringify(pluginConfig),
        },
        fail_open: false,
      },
    },
  };
}

export const routerFilter = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

/**
 * A bootstrap with one listener `ingress` in front of the `upstream` cluster (127.0.0.1:upstreamPort).
 * `httpFilters` run before the router. `hcm` adds/overrides HttpConnectionManager fields.
 */
export function bootstrap({ upstreamPort, httpFilters = [], hcm = {}, routeConfig } = {}) {
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    stats_config: { stats_tags: STATS_TAGS },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    codec_type: 'AUTO',
                    route_config: routeConfig ?? {
                      name: 'local',
                      virtual_hosts: [
                        { name: 'api', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] },
                      ],
                    },
                    http_filters: [...httpFilters, routerFilter],
                    ...hcm,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'upstream',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'upstream',
            endpoints: [
              { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] },
            ],
          },
        },
      ],
    },
  };
}

/** Serialise a bootstrap object for Envoy (JSON is YAML). */
export function toYaml(obj) {
  return `${JSON.stringify(obj, null, 2)}\n`;
}

/**
 * The HttpConnectionManager hardening every shipped config sets (README "Hardening"): Envoy normalises the path
 * (RFC 3986 dot segments, merged slashes) before any filter and routing, refuses escaped slashes, and refuses
 * header names with underscores. tollgate's own checks hold without them; the tests run both ways.
 */
export const HARDENED_HCM = {
  normalize_path: true,
  merge_slashes: true,
  path_with_escaped_slashes_action: 'REJECT_REQUEST',
  common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
};
