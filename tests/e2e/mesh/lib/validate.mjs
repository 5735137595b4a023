// One validator per kind we ship, each from an upstream schema:
//   Kubernetes kinds    kubernetes-models (generated from the Kubernetes OpenAPI; the ConfigMap of Istio's
//                       custom bootstrap)
//   Istio kinds         @kubernetes-models/istio (generated from Istio 1.29.2's CRDs)
//   Gateway API kinds   @kubernetes-models/gateway-api (generated from sigs.k8s.io/gateway-api)
//   Envoy Gateway kinds the released CRDs kept in tests/e2e/mesh/schemas (no npm models exist), checked by
//                       crd-schema.mjs: unknown fields are errors there, and the CEL rules run.
// The npm models check types, enums, required fields and patterns; they do not reject unknown fields.
// A kind without a validator is an error: every shipped document must be checked by something.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { WasmPlugin } from '@kubernetes-models/istio/extensions.istio.io/v1alpha1/WasmPlugin';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { loadCrds, validateAgainstSchema } from './crd-schema.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const EG_SCHEMA_DIR = path.join(HERE, '..', 'schemas', 'envoy-gateway-v1.9.0');
export const EG_CRD_FILES = [
  'gateway.envoyproxy.io_envoyextensionpolicies.yaml',
  'gateway.envoyproxy.io_backends.yaml',
  'gateway.envoyproxy.io_envoyproxies.yaml',
].map((f) => path.join(EG_SCHEMA_DIR, f));

const MODELS = new Map([ConfigMap, WasmPlugin, ServiceEntry, DestinationRule, AuthorizationPolicy, RequestAuthentication, HTTPRoute, Gateway]
  .map((M) => [`${M.apiVersion}/${M.kind}`, M]));

let crds;
const egCrds = () => (crds ??= loadCrds(EG_CRD_FILES));

/** The validator that applies to `object`, by apiVersion and kind: 'npm:<apiVersion>/<kind>' or 'crd:<name>'. */
export function validatorFor(object) {
  const key = `${object?.apiVersion}/${object?.kind}`;
  if (MODELS.has(key)) return `npm:${key}`;
  const crd = egCrds().get(key);
  if (crd) return `crd:${crd.crd}`;
  return undefined;
}

/**
 * Validate one manifest object. Returns { validator, errors: string[], unevaluated: [...] }; errors are the
 * field errors (empty = valid).
 */
export function validateManifest(object) {
  const key = `${object?.apiVersion}/${object?.kind}`;
  const Model = MODELS.get(key);
  if (Model) {
    const errors = [];
    try {
      new Model(object).validate();
    } catch (err) {
      const list = err.errors ?? [];
      if (list.length === 0) errors.push(err.message);
      for (const e of list) {
        const at = (e.instancePath || '').replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replaceAll('/', '.');
        const extra = e.params?.allowedValues ? `: supported values: ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}` : '';
        errors.push(`${at || '<root>'}: ${e.message}${extra}`);
      }
    }
    return { validator: `npm:${key}`, errors, unevaluated: [] };
  }
  const crd = egCrds().get(key);
  if (crd) {
    const { errors, unevaluated, evaluated } = validateAgainstSchema(crd.schema, object);
    return { validator: `crd:${crd.crd}`, errors, unevaluated, evaluated };
  }
  return { validator: undefined, errors: [`no schema for apiVersion ${object?.apiVersion} kind ${object?.kind}`], unevaluated: [] };
}
