// The filter's metric names and how Envoy turns them into Prometheus labels.
//
// A name carries its labels as `<label>.<value>` pairs between `wasmcustom.tollgate.` and the family:
// `wasmcustom.tollgate.prefix.<stat_prefix>.provider.<provider>.reason.<reason>.denied`. The `stats_tags` below (the
// same block as in the README and in every shipped Envoy config) make Envoy cut each pair out of the name and keep
// it as a tag, so `/stats/prometheus` shows one family `tollgate_denied{stat_prefix,provider,reason}`.

/** Envoy bootstrap `stats_config.stats_tags` for the filter's metrics. */
export const STATS_TAGS = [
  { tag_name: 'stat_prefix', regex: '^wasmcustom\\.tollgate\\.(prefix\\.([^.]+)\\.)' },
  { tag_name: 'provider', regex: '^wasmcustom\\.tollgate\\..*?(provider\\.([^.]+)\\.)' },
  { tag_name: 'reason', regex: '^wasmcustom\\.tollgate\\..*?(reason\\.([^.]+)\\.)' },
  { tag_name: 'signature_path', regex: '^wasmcustom\\.tollgate\\..*?(signature_path\\.([^.]+)\\.)' },
];

const LABELS = { prefix: 'stat_prefix', provider: 'provider', reason: 'reason', signature_path: 'signature_path' };

/**
 * `{ family, labels }` of a filter metric name as Envoy reports it in `/stats` (`wasmcustom.tollgate.…`), read the
 * way the `stats_tags` read it; undefined for other names.
 */
export function parseMetric(name) {
  if (!name.startsWith('wasmcustom.tollgate.')) return undefined;
  const parts = name.slice('wasmcustom.tollgate.'.length).split('.');
  const labels = {};
  const family = [];
  for (let i = 0; i < parts.length; i += 1) {
    const label = LABELS[parts[i]];
    // A label needs its value and, after it, the family.
    if (label && i + 2 < parts.length) {
      labels[label] = parts[i + 1];
      i += 1;
    } else {
      family.push(parts[i]);
    }
  }
  return { family: family.join('.'), labels };
}

/** Sum of the values in `stats` (a Map name → value) of `family` whose labels include `labels`. */
export function sumFamily(stats, family, labels = {}) {
  let sum = 0;
  for (const [name, value] of stats) {
    const m = parseMetric(name);
    if (!m || m.family !== family) continue;
    if (Object.entries(labels).every(([k, v]) => m.labels[k] === v)) sum += value;
  }
  return sum;
}

/** Every family the filter reports (README "Metrics"). */
export const DOCUMENTED_FAMILIES = [
  'allowed', 'denied', 'would_deny', 'jwt_cache_hit', 'jwt_cache_miss', 'signatures', 'signature_host_algorithms',
  'vm_memory_bytes', 'jwks_fetch_success', 'jwks_fetch_failed', 'jwks_refetch_triggered', 'jwks_keys', 'jwks_age_seconds',
  'introspection_calls', 'introspection_cache_hit', 'introspection_cache_miss', 'introspection_inactive',
  'introspection_latency_ms', 'introspection_failed',
];
