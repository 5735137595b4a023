// Validate a manifest against the openAPIV3Schema of its CustomResourceDefinition, as the Kubernetes API server
// does on create with `kubectl apply` (strict field validation, kubectl's default):
//   - structural checks: type, nullable, enum, required, pattern, min/max length (in characters), items and
//     properties counts, minimum/maximum, formats int32/int64/byte/date-time/ipv4/ipv6,
//     x-kubernetes-int-or-string, x-kubernetes-list-type set/map (no duplicates);
//   - unknown fields are errors unless the schema says x-kubernetes-preserve-unknown-fields;
//   - defaults are applied first (as the server does before validation), then every x-kubernetes-validations CEL
//     rule is evaluated with @marcbachmann/cel-js. Transition rules (oldSelf) do not apply on create and are
//     skipped. A rule this evaluator cannot run (a Kubernetes CEL library function it lacks) is reported in
//     `unevaluated`, never silently passed: the tests require that list to be empty.
// Messages follow the API server's field errors: `spec.wasm[0].code.type: Unsupported value: "OCI": supported
// values: "HTTP", "Image", "ConfigMap"`.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { evaluate } from '@marcbachmann/cel-js';
import { parseManifests } from './manifests.mjs';

/** Load CRD files; returns Map `${group}/${version}` + `/${kind}` -> { schema, crd }. */
export function loadCrds(files) {
  const out = new Map();
  for (const file of files) {
    for (const crd of parseManifests(readFileSync(file, 'utf8'), file)) {
      if (crd.kind !== 'CustomResourceDefinition') throw new Error(`${file}: not a CustomResourceDefinition`);
      for (const v of crd.spec.versions) {
        if (!v.served) continue;
        out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, { schema: v.schema.openAPIV3Schema, crd: crd.metadata.name, file });
      }
    }
  }
  return out;
}

const json = (v) => JSON.stringify(v);
const typeName = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeOk(type, v) {
  switch (type) {
    case 'object': return isObject(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    default: throw new Error(`schema type ${type} is not supported by this validator`);
  }
}

const FORMATS = {
  int32: (v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31,
  int64: (v) => Number.isSafeInteger(v),
  byte: (v) => typeof v === 'string' && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v),
  'date-time': (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v),
  ipv4: (v) => typeof v === 'string' && isIPv4(v),
  ipv6: (v) => typeof v === 'string' && isIPv6(v),
};

/** A JSON value as CEL sees it: integers of `type: integer` fields are CEL ints (BigInt), guided by the schema. */
function toCel(s, v) {
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map((x) => toCel(s?.items, x));
  if (isObject(v)) {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCel(s?.properties?.[k] ?? (isObject(s?.additionalProperties) ? s.additionalProperties : undefined), x);
    return out;
  }
  if (typeof v === 'number' && (s?.type === 'integer' || s?.['x-kubernetes-int-or-string'])) return BigInt(v);
  return v;
}

function applyDefaults(s, v) {
  if (!isObject(v) || !s?.properties) return v;
  const out = { ...v };
  for (const [k, ps] of Object.entries(s.properties)) {
    if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
  }
  return out;
}

/**
 * Validate `object` against `schema`. Returns { errors: string[], unevaluated: [{path, rule, error}],
 * evaluated: number } (evaluated: how many CEL rules ran).
 */
export function validateAgainstSchema(schema, object) {
  let errors = [];
  const unevaluated = [];
  let evaluated = 0;
  const err = (p, msg) => errors.push(`${p || '<root>'}: ${msg}`);
  /** The errors `s` alone finds in `v` (for allOf / anyOf / oneOf / not). */
  const errorsOf = (s, v, p) => {
    const outer = errors;
    errors = [];
    try {
      walk(s, v, p, false, true);
      return errors;
    } finally {
      errors = outer;
    }
  };

  // valueOnly: a subschema of allOf/anyOf/oneOf/not, which constrains values but declares no fields.
  function walk(s, v, p, isRoot = false, valueOnly = false) {
    if (v === null) {
      if (!s.nullable) err(p, `Invalid value: "null": ${p} in body must be of type ${s.type ?? 'object'}: "null"`);
      return;
    }
    if (s['x-kubernetes-int-or-string']) {
      if (!(Number.isInteger(v) || typeof v === 'string')) err(p, `Invalid value: ${json(v)}: must be an integer or a string`);
    } else if (s.type && !typeOk(s.type, v)) {
      err(p, `Invalid value: "${typeName(v)}": ${p} in body must be of type ${s.type}: "${typeName(v)}"`);
      return;
    }
    if (s.enum && !s.enum.some((e) => e === v)) {
      err(p, `Unsupported value: ${json(v)}: supported values: ${s.enum.map(json).join(', ')}`);
    }
    if (typeof v === 'string') {
      const len = [...v].length;
      if (s.maxLength !== undefined && len > s.maxLength) err(p, `Too long: may not be more than ${s.maxLength} bytes`);
      if (s.minLength !== undefined && len < s.minLength) err(p, `Invalid value: ${json(v)}: ${p} in body should be at least ${s.minLength} chars long`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) err(p, `Invalid value: ${json(v)}: ${p} in body should match '${s.pattern}'`);
    }
    if (typeof v === 'number') {
      if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) err(p, `Invalid value: ${v}: ${p} in body should be less than or equal to ${s.maximum}`);
      if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) err(p, `Invalid value: ${v}: ${p} in body should be greater than or equal to ${s.minimum}`);
    }
    if (s.format && FORMATS[s.format] && !FORMATS[s.format](v)) err(p, `Invalid value: ${json(v)}: ${p} in body must be of type ${s.format}: ${json(v)}`);
    for (const sub of s.allOf ?? []) errors.push(...errorsOf(sub, v, p));
    if (s.anyOf && !s.anyOf.some((sub) => errorsOf(sub, v, p).length === 0)) {
      err(p, `Invalid value: ${json(v)}: must validate at least one schema (anyOf)`);
    }
    if (s.oneOf && s.oneOf.filter((sub) => errorsOf(sub, v, p).length === 0).length !== 1) {
      err(p, `Invalid value: ${json(v)}: must validate one and only one schema (oneOf)`);
    }
    if (s.not && errorsOf(s.not, v, p).length === 0) err(p, `Invalid value: ${json(v)}: must not validate the schema (not)`);

    let value = v;
    if (isObject(v)) {
      value = applyDefaults(s, v);
      const props = s.properties ?? {};
      for (const r of s.required ?? []) if (value[r] === undefined) err(`${p ? `${p}.` : ''}${r}`, 'Required value');
      const keys = Object.keys(value);
      if (s.maxProperties !== undefined && keys.length > s.maxProperties) err(p, `Too many: ${keys.length}: must have at most ${s.maxProperties} items`);
      if (s.minProperties !== undefined && keys.length < s.minProperties) err(p, `Invalid value: ${keys.length}: must have at least ${s.minProperties} items`);
      for (const k of keys) {
        const child = `${p ? `${p}.` : ''}${k}`;
        if (isRoot && k === 'metadata') continue; // ObjectMeta, checked below
        if (props[k]) walk(props[k], value[k], child, false, valueOnly);
        else if (isObject(s.additionalProperties)) walk(s.additionalProperties, value[k], child, false, valueOnly);
        else if (valueOnly || s.additionalProperties === true || s['x-kubernetes-preserve-unknown-fields']) continue;
        else errors.push(`unknown field "${child}"`);
      }
      if (isRoot) walk(OBJECT_META, value.metadata ?? {}, 'metadata');
    }
    if (Array.isArray(v)) {
      if (s.maxItems !== undefined && v.length > s.maxItems) err(p, `Too many: ${v.length}: must have at most ${s.maxItems} items`);
      if (s.minItems !== undefined && v.length < s.minItems) err(p, `Invalid value: ${v.length}: ${p} in body should have at least ${s.minItems} items`);
      v.forEach((x, i) => s.items && walk(s.items, x, `${p}[${i}]`, false, valueOnly));
      const listType = s['x-kubernetes-list-type'];
      if (listType === 'set' || listType === 'map') {
        const keyOf = listType === 'set' ? (x) => json(x) : (x) => json((s['x-kubernetes-list-map-keys'] ?? []).map((k) => x?.[k]));
        const seen = new Set();
        v.forEach((x, i) => {
          const key = keyOf(x);
          if (seen.has(key)) err(`${p}[${i}]`, `Duplicate value: ${listType === 'set' ? json(x) : key}`);
          seen.add(key);
        });
      }
    }
    for (const rule of s['x-kubernetes-validations'] ?? []) {
      if (/\boldSelf\b/.test(rule.rule)) continue;
      let ok;
      try {
        ok = evaluate(rule.rule, { self: toCel(s, value) });
      } catch (e) {
        unevaluated.push({ path: p, rule: rule.rule, error: e.message });
        continue;
      }
      evaluated++;
      if (ok !== true) {
        const at = rule.fieldPath ? `${p}${rule.fieldPath}` : p;
        err(at, `Invalid value: "${typeName(v)}": ${rule.message ?? `failed rule: ${rule.rule}`}`);
      }
    }
  }

  if (!isObject(object)) return { errors: ['<root>: not an object'], unevaluated, evaluated };
  walk(schema, object, '', true);
  return { errors, unevaluated, evaluated };
}

// The parts of ObjectMeta a manifest of ours may set (the API server checks the rest itself; a manifest with
// other metadata fields is refused here so that nothing unexpected ships).
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const OBJECT_META = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
    namespace: { type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 63 } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
};
